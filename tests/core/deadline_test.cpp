// Tests of the deadline arithmetic under every timed channel call (dcp/core/detail/deadline.hpp):
// timeouts of any duration type and time points of any clock become steady_clock deadlines without
// overflowing, huge ones mean "forever", and recv_for / recv_until behave accordingly.
#include "dcp/core/detail/deadline.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <future>
#include <ratio>

#include "dcp/core/channel.hpp"
#include "support/hang_timeout.hpp"

namespace {

using namespace std::chrono_literals;
using dcp::detail::kNoDeadline;
using dcp::test::kHangTimeout;
using SteadyClock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// Regression: timeouts whose Rep is narrower than steady_clock's (duration<int, std::milli>, ...)
// were compared against "the rest of steady_clock's range" converted to that narrow Rep, which
// overflows; depending on the uptime the timeout then counted as "forever" and the call hung.
// ---------------------------------------------------------------------------------------------

TEST(Deadline, NarrowRepTimeout_IsNeverMistakenForForever) {
  // Truncated to 16 bits, the remaining range in nanoseconds is negative for half of every 65 µs:
  // enough iterations hit that window for sure.
  for (int i = 0; i < 100'000; ++i) {
    const auto deadline = dcp::detail::deadline_after(std::chrono::duration<std::int16_t, std::nano>(1000), "test");
    ASSERT_NE(deadline, kNoDeadline) << "iteration " << i;
    ASSERT_LE(deadline, SteadyClock::now() + 1ms);
  }
  // The same defect for realistic types, at the uptimes where it shows (for int milliseconds:
  // between about 24 and 49 days after boot, and again every 49.7 days).
  EXPECT_NE(dcp::detail::deadline_after(std::chrono::duration<int, std::milli>(100), "test"), kNoDeadline);
  EXPECT_NE(dcp::detail::deadline_after(std::chrono::duration<int, std::centi>(10), "test"), kNoDeadline);
  EXPECT_NE(dcp::detail::deadline_after(std::chrono::duration<int, std::ratio<1, 10000>>(10), "test"), kNoDeadline);
  EXPECT_NE(dcp::detail::deadline_after(std::chrono::duration<int, std::micro>(10), "test"), kNoDeadline);
}

TEST(Deadline, HugeTimeouts_StillMeanForever) {
  EXPECT_EQ(dcp::detail::deadline_after(std::chrono::hours::max(), "test"), kNoDeadline);
  EXPECT_EQ(dcp::detail::deadline_after(std::chrono::nanoseconds::max(), "test"), kNoDeadline);
  EXPECT_EQ(dcp::detail::deadline_after(std::chrono::duration<double>(1e30), "test"), kNoDeadline);
  const auto before = SteadyClock::now();
  const auto deadline = dcp::detail::deadline_after(std::chrono::seconds(5), "test");
  EXPECT_GE(deadline, before + 5s);
  EXPECT_LE(deadline, SteadyClock::now() + 5s);
}

TEST(Deadline, RecvForWithNarrowRepTimeout_TimesOutInsteadOfWaitingForever) {
  // Each attempt has about even odds of hitting the overflow (the low 16 bits of the remaining
  // range in microseconds); a watchdog turns a hang into a failure.
  for (int attempt = 0; attempt < 16; ++attempt) {
    auto [tx, rx] = dcp::unbounded<int>();
    auto waiting = std::async(std::launch::async, [rx = rx]() mutable {
      return rx.recv_for(std::chrono::duration<std::int16_t, std::micro>(2000)).status();
    });
    if (waiting.wait_for(kHangTimeout) != std::future_status::ready) {
      tx.close();  // release the hung receiver before failing
      waiting.wait();
      FAIL() << "recv_for(2000 µs as duration<int16_t, micro>) did not time out (attempt " << attempt << ")";
    }
    EXPECT_EQ(waiting.get(), dcp::RecvStatus::timeout);
  }
}

// Regression: a deadline of a coarse steady_clock time_point (seconds, minutes) far in the future
// overflowed when converted to nanoseconds and came out in the past: recv_until(max) returned
// timeout at once instead of waiting. Other clocks overflowed in `deadline - now` the same way.
TEST(Deadline, CoarseTimePointMax_MeansForever) {
  using SteadySeconds = std::chrono::time_point<SteadyClock, std::chrono::seconds>;
  using SystemSeconds = std::chrono::time_point<std::chrono::system_clock, std::chrono::seconds>;
  EXPECT_EQ(dcp::detail::to_steady(SteadySeconds::max()), kNoDeadline);
  EXPECT_EQ(dcp::detail::to_steady(SystemSeconds::max()), kNoDeadline);
  EXPECT_EQ(dcp::detail::to_steady(SteadyClock::time_point::max()), kNoDeadline);
  const auto steady_past = dcp::detail::to_steady(SteadySeconds::min());
  const auto system_past = dcp::detail::to_steady(SystemSeconds::min());
  EXPECT_LE(steady_past, SteadyClock::now());
  EXPECT_LE(system_past, SteadyClock::now());
  // Ordinary steady deadlines stay exact.
  const auto soon = SteadyClock::now() + 5ms;
  EXPECT_EQ(dcp::detail::to_steady(soon), soon);
}

TEST(Deadline, RecvUntilMaxOfCoarseSteadyTimePoint_WaitsForTheValue) {
  auto [tx, rx] = dcp::unbounded<int>();
  auto waiting = std::async(std::launch::async, [rx = rx]() mutable {
    return rx.recv_until(std::chrono::time_point<SteadyClock, std::chrono::seconds>::max());
  });
  // Not a synchronisation: with the defect the receive returns `timeout` at once, which this
  // bounded wait observes; a correct receive is still blocked after it.
  EXPECT_EQ(waiting.wait_for(100ms), std::future_status::timeout) << "recv_until(max) returned early";
  tx.send(7);
  auto result = waiting.get();
  ASSERT_TRUE(result.ok()) << dcp::to_string(result.status());
  EXPECT_EQ(*result, 7);
}

}  // namespace
