// dcp/core/detail/deadline.hpp — turning user timeouts and deadlines into steady_clock deadlines.
//
// Timeouts must not be negative: a negative duration is a programming error and throws
// std::invalid_argument naming the operation. A deadline already in the past is fine: the operation
// tries once and reports a timeout. Deadlines of other clocks are converted through their distance
// from now, so a wall-clock jump during the wait does not stretch it. A timeout or deadline 100 years
// or more away (hours::max(), time_point<steady_clock, seconds>::max(), ...) means "wait forever";
// any duration or time_point type is accepted without overflow, however narrow its Rep.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace dcp::detail {

using SteadyTime = std::chrono::steady_clock::time_point;

/// "Wait forever": the deadline of the plain blocking operations.
inline constexpr SteadyTime kNoDeadline = SteadyTime::max();

/// Timeouts and deadlines this far away mean "wait forever". steady_clock counts 64-bit nanoseconds
/// from boot (about 292 years), so everything closer converts to it without overflow.
inline constexpr std::chrono::duration<double> kForever = std::chrono::hours(24 * 365 * 100);

template <class Rep, class Period>
SteadyTime deadline_after(std::chrono::duration<Rep, Period> timeout, const char* operation) {
  if (timeout < std::chrono::duration<Rep, Period>::zero()) {
    throw std::invalid_argument(std::string(operation) + ": negative timeout (" +
                                std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count()) +
                                " ns)");
  }
  // Saturate instead of overflowing for "practically forever" timeouts such as hours::max(). The
  // comparison is in floating point: converting steady_clock's range to the caller's Rep overflows
  // a narrow one (duration<int, std::milli>), and converting a huge timeout to nanoseconds overflows.
  if (!(std::chrono::duration<double>(timeout) < kForever)) return kNoDeadline;
  return std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
}

template <class Clock, class Duration>
SteadyTime to_steady(std::chrono::time_point<Clock, Duration> deadline) {
  using Seconds = std::chrono::duration<double>;
  const auto now = Clock::now();
  // Range check in floating point first: a far deadline of a coarse type (time_point<steady_clock,
  // seconds>::max()) overflows when converted to nanoseconds or subtracted from a nanosecond `now`.
  const Seconds remaining = Seconds(deadline.time_since_epoch()) - Seconds(now.time_since_epoch());
  if (!(remaining < kForever)) return kNoDeadline;
  if (!(remaining > -kForever)) return std::chrono::steady_clock::now();
  if constexpr (std::is_same_v<Clock, std::chrono::steady_clock>) {
    return std::chrono::time_point_cast<std::chrono::steady_clock::duration>(deadline);
  } else {
    const auto left = deadline - now;
    if (left <= left.zero()) return std::chrono::steady_clock::now();
    return deadline_after(left, "dcp deadline");
  }
}

}  // namespace dcp::detail
