// dcp/detail/deadline.hpp — turning user timeouts and deadlines into steady_clock deadlines.
//
// Timeouts must not be negative: a negative duration is a programming error and throws
// std::invalid_argument naming the operation. A deadline already in the past is fine: the operation
// tries once and reports a timeout. Deadlines of other clocks are converted through their distance
// from now, so a wall-clock jump during the wait does not stretch it.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace dcp::detail {

using SteadyTime = std::chrono::steady_clock::time_point;

/// "Wait forever": the deadline of the plain blocking operations.
inline constexpr SteadyTime kNoDeadline = SteadyTime::max();

template <class Rep, class Period>
SteadyTime deadline_after(std::chrono::duration<Rep, Period> timeout, const char* operation) {
  if (timeout < std::chrono::duration<Rep, Period>::zero()) {
    throw std::invalid_argument(std::string(operation) + ": negative timeout (" +
                                std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count()) +
                                " ns)");
  }
  const auto now = std::chrono::steady_clock::now();
  // Saturate instead of overflowing for "practically forever" timeouts such as hours::max().
  if (timeout >= std::chrono::duration_cast<std::chrono::duration<Rep, Period>>(SteadyTime::max() - now)) {
    return kNoDeadline;
  }
  return now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
}

template <class Clock, class Duration>
SteadyTime to_steady(std::chrono::time_point<Clock, Duration> deadline) {
  if constexpr (std::is_same_v<Clock, std::chrono::steady_clock>) {
    return std::chrono::time_point_cast<std::chrono::steady_clock::duration>(deadline);
  } else {
    const auto remaining = deadline - Clock::now();
    if (remaining <= remaining.zero()) return std::chrono::steady_clock::now();
    return deadline_after(remaining, "dcp deadline");
  }
}

}  // namespace dcp::detail
