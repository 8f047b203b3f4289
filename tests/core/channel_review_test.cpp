// Review tests for dcp channels: regressions for problems found in the concurrency review, plus
// checks of the corner cases the review verified (list-queue block boundaries, allocation failure
// in an unbounded send, blocking around a block boundary).
//
// This executable replaces the global operator new (malloc-based) so that a test can make one
// chosen allocation of the calling thread fail with std::bad_alloc. Disarmed, it is plain malloc.
#include "dcp/core/channel.hpp"
#include "dcp/core/detail/deadline.hpp"
#include "dcp/core/detail/parker.hpp"
#include "dcp/core/select.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <future>
#include <new>
#include <optional>
#include <ratio>
#include <thread>
#include <vector>

#include "../support/counted.hpp"

namespace {
// -1: never fail. n >= 0: the calling thread's allocation after n more successful ones fails.
thread_local int allocations_until_failure = -1;
}  // namespace

// The replacement pair is malloc/free on purpose; GCC flags free() of a new'd pointer once inlined.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t size) {
  if (allocations_until_failure >= 0 && allocations_until_failure-- == 0) throw std::bad_alloc();
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace {

using namespace std::chrono_literals;
using dcp::detail::kNoDeadline;
using SteadyClock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// Finding: timeouts whose Rep is narrower than steady_clock's (duration<int, std::milli>, ...)
// were compared against "the rest of steady_clock's range" converted to that narrow Rep, which
// overflows; depending on the uptime the timeout then counted as "forever" and the call hung.
// ---------------------------------------------------------------------------------------------

TEST(DeadlineReview, NarrowRepTimeout_IsNeverMistakenForForever) {
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

TEST(DeadlineReview, HugeTimeouts_StillMeanForever) {
  EXPECT_EQ(dcp::detail::deadline_after(std::chrono::hours::max(), "test"), kNoDeadline);
  EXPECT_EQ(dcp::detail::deadline_after(std::chrono::nanoseconds::max(), "test"), kNoDeadline);
  EXPECT_EQ(dcp::detail::deadline_after(std::chrono::duration<double>(1e30), "test"), kNoDeadline);
  const auto before = SteadyClock::now();
  const auto deadline = dcp::detail::deadline_after(std::chrono::seconds(5), "test");
  EXPECT_GE(deadline, before + 5s);
  EXPECT_LE(deadline, SteadyClock::now() + 5s);
}

TEST(DeadlineReview, RecvForWithNarrowRepTimeout_TimesOutInsteadOfWaitingForever) {
  // Each attempt has about even odds of hitting the overflow (the low 16 bits of the remaining
  // range in microseconds); a watchdog turns a hang into a failure.
  for (int attempt = 0; attempt < 16; ++attempt) {
    auto [tx, rx] = dcp::unbounded<int>();
    auto waiting = std::async(std::launch::async, [rx = rx]() mutable {
      return rx.recv_for(std::chrono::duration<std::int16_t, std::micro>(2000)).status();
    });
    if (waiting.wait_for(10s) != std::future_status::ready) {
      tx.close();  // release the hung receiver before failing
      waiting.wait();
      FAIL() << "recv_for(2000 µs as duration<int16_t, micro>) did not time out (attempt " << attempt << ")";
    }
    EXPECT_EQ(waiting.get(), dcp::RecvStatus::timeout);
  }
}

// Finding: a deadline of a coarse steady_clock time_point (seconds, minutes) far in the future
// overflowed when converted to nanoseconds and came out in the past: recv_until(max) returned
// timeout at once instead of waiting. Other clocks overflowed in `deadline - now` the same way.
TEST(DeadlineReview, CoarseTimePointMax_MeansForever) {
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

TEST(DeadlineReview, RecvUntilMaxOfCoarseSteadyTimePoint_WaitsForTheValue) {
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

// ---------------------------------------------------------------------------------------------
// Finding: select() registered its Parker with each channel in turn; when a registration threw
// (std::bad_alloc growing a Waker's list) the earlier registrations stayed behind. The channel then
// kept a pointer to the thread's Parker: spurious unparks while the thread lives, a use-after-free
// of its thread_local Parker after it exits.
// ---------------------------------------------------------------------------------------------

TEST(SelectReview, RegistrationThrowsBadAlloc_LeavesNoObserverBehind) {
  auto [tx0, rx0] = dcp::unbounded<int>();
  auto [tx1, rx1] = dcp::unbounded<int>();
  // Both channels are empty, so select registers: the first registration allocates rx0's Waker
  // list, the second would allocate rx1's and fails.
  allocations_until_failure = 1;
  EXPECT_THROW(dcp::select(rx0, rx1), std::bad_alloc);
  allocations_until_failure = -1;

  // A leftover observer in rx0's Waker would unpark this thread's Parker on the next send.
  auto& parker = dcp::detail::current_thread_parker();
  parker.reset();
  ASSERT_TRUE(tx0.send(1).ok());
  EXPECT_FALSE(parker.park_until(SteadyClock::now())) << "select left its Parker registered with rx0";

  // And the channels still work with select afterwards.
  EXPECT_EQ(dcp::select(rx0, rx1), 0u);
}

TEST(SelectReview, RegistrationThrowsOnAnotherThread_ThatThreadCanExitSafely) {
  auto [tx0, rx0] = dcp::unbounded<int>();
  auto [tx1, rx1] = dcp::unbounded<int>();
  std::thread selecting([&, rx0 = rx0, rx1 = rx1] {
    allocations_until_failure = 1;
    EXPECT_THROW(dcp::select(rx0, rx1), std::bad_alloc);
    allocations_until_failure = -1;
  });
  selecting.join();  // its thread_local Parker is gone now
  // A dangling observer would be unparked here (use after free; ASan/TSan may report it).
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(tx0.send(i).ok());
  EXPECT_EQ(rx0.size(), 4u);
}

// ---------------------------------------------------------------------------------------------
// Verified correct (kept as regression tests).
// ---------------------------------------------------------------------------------------------

// An unbounded send that must allocate the next block and cannot: it throws before claiming a
// slot, the value stays with the caller, and the channel is unchanged and usable.
TEST(ChannelReview, UnboundedSendWhoseBlockAllocationFails_ThrowsAndLeavesTheChannelIntact) {
  auto [tx, rx] = dcp::unbounded<std::uint64_t>();
  for (std::uint64_t i = 0; i < 30; ++i) ASSERT_TRUE(tx.send(i).ok());
  allocations_until_failure = 0;  // the 31st value fills the first block: its successor is allocated
  EXPECT_THROW(tx.try_send(30), std::bad_alloc);
  allocations_until_failure = -1;
  EXPECT_EQ(tx.size(), 30u);
  for (std::uint64_t i = 30; i < 70; ++i) ASSERT_TRUE(tx.send(i).ok());
  for (std::uint64_t i = 0; i < 70; ++i) {
    auto r = rx.try_recv();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, i);
  }
  EXPECT_TRUE(rx.try_recv().is_empty());
}

// Destruction with the head deep into the structure: a bounded ring whose live values wrap around
// the end of the buffer, and an unbounded list whose head is in a later block than the first.
TEST(ChannelReview, DestroyedWithHeadWrappedOrInALaterBlock_DestroysEveryValueOnceAndFreesBlocks) {
  dcp::test::CountedStats stats;
  {
    auto [tx, rx] = dcp::bounded<dcp::test::Counted>(5);
    for (std::uint64_t i = 0; i < 13; ++i) {
      ASSERT_TRUE(tx.send(dcp::test::Counted(stats, i)).ok());
      if (i % 3 != 2) {
        ASSERT_TRUE(rx.try_recv().ok());
      }
    }
    ASSERT_EQ(rx.size(), 4u);  // values 9..12 in slots 4, 0, 1, 2 of the ring: wrapped around its end
  }
  EXPECT_EQ(stats.alive(), 0);
  {
    auto [tx, rx] = dcp::unbounded<dcp::test::Counted>();
    for (std::uint64_t i = 0; i < 150; ++i) ASSERT_TRUE(tx.send(dcp::test::Counted(stats, i)).ok());
    for (std::uint64_t i = 0; i < 70; ++i) ASSERT_EQ(rx.try_recv()->id(), i);  // head in the third block
    ASSERT_EQ(rx.size(), 80u);
  }
  EXPECT_EQ(stats.alive(), 0);  // and LeakSanitizer checks that every block was freed
}

// size() and readiness at the list queue's block ends (position 31 of each block is a marker).
TEST(ChannelReview, UnboundedSizeAcrossBlockBoundaries_CountsEveryQueuedValue) {
  auto [tx, rx] = dcp::unbounded<int>();
  for (int n = 0; n < 100; ++n) {
    ASSERT_EQ(tx.size(), static_cast<std::size_t>(n));
    ASSERT_TRUE(tx.send(n).ok());
  }
  for (int n = 0; n < 100; ++n) {
    ASSERT_EQ(rx.size(), static_cast<std::size_t>(100 - n));
    ASSERT_EQ(dcp::select_for(0ms, rx), std::optional<std::size_t>(0));
    ASSERT_EQ(*rx.try_recv(), n);
  }
  EXPECT_EQ(rx.size(), 0u);
  EXPECT_EQ(dcp::select_for(0ms, rx), std::nullopt);
  tx.close();
  EXPECT_EQ(dcp::select_for(0ms, rx), std::optional<std::size_t>(0));
}

// Receivers parked on an unbounded channel while the producer crosses many block ends, with a
// close at the end: every value arrives exactly once and every receiver ends.
TEST(ChannelReview, BlockedReceiversAcrossBlockEnds_EveryValueOnceAndAllEndOnClose) {
  const std::uint64_t kValues = 200'000 / DCP_STRESS_DIVISOR;
  constexpr int kReceivers = 4;
  for (int round = 0; round < 5; ++round) {
    auto [tx, rx] = dcp::unbounded<std::uint64_t>();
    std::vector<std::atomic<std::uint8_t>> seen(kValues);
    std::vector<std::thread> receivers;
    for (int r = 0; r < kReceivers; ++r) {
      receivers.emplace_back([&, rx = rx, r]() mutable {
        for (;;) {
          // Mix plain blocking receives, timed ones and selects.
          dcp::RecvResult<std::uint64_t> got;
          if (r == 0) {
            got = rx.recv();
          } else if (r == 1) {
            got = rx.recv_for(50us);
            if (got.is_timeout()) continue;
          } else {
            dcp::select(rx);
            got = rx.try_recv();
            if (got.is_empty()) continue;
          }
          if (got.is_closed()) return;
          ASSERT_TRUE(got.ok());
          seen[*got].fetch_add(1, std::memory_order_relaxed);
        }
      });
    }
    for (std::uint64_t v = 0; v < kValues; ++v) ASSERT_TRUE(tx.send(v).ok());
    tx.close();
    for (auto& t : receivers) t.join();
    for (std::uint64_t v = 0; v < kValues; ++v) ASSERT_EQ(seen[v].load(), 1) << "value " << v;
  }
}

// Senders blocked on a full capacity-1 channel, receivers taking with timeouts: no wake-up lost.
TEST(ChannelReview, BlockedSendersAndTimedReceivers_NoValueStrandedNoThreadHung) {
  const std::uint64_t kPerSender = 20'000 / DCP_STRESS_DIVISOR;
  constexpr int kSenders = 3;
  constexpr int kReceivers = 3;
  auto [tx, rx] = dcp::bounded<std::uint64_t>(1);
  std::atomic<std::uint64_t> received{0};
  std::vector<std::thread> threads;
  for (int s = 0; s < kSenders; ++s) {
    threads.emplace_back([&, tx = tx]() mutable {
      for (std::uint64_t i = 0; i < kPerSender; ++i) ASSERT_TRUE(tx.send(i).ok());
    });
  }
  {
    auto drop = std::move(tx);  // the last sender thread to finish closes the channel
  }
  for (int r = 0; r < kReceivers; ++r) {
    threads.emplace_back([&, rx = rx]() mutable {
      for (;;) {
        auto got = rx.recv_for(20us);
        if (got.is_closed()) return;
        if (got.ok()) received.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(received.load(), kPerSender * kSenders);
}

// Strict alternation: every step needs the other thread's wake-up (a blocked recv on one side, a
// blocked select on the other), so a single lost wake-up hangs the test.
TEST(ChannelReview, PingPongThroughBlockingRecvAndSelect_EveryWakeUpArrives) {
  const int kRounds = 20'000 / DCP_STRESS_DIVISOR;
  auto [ping_tx, ping_rx] = dcp::bounded<int>(1);
  auto [pong_tx, pong_rx] = dcp::unbounded<int>();
  std::thread echo([&, ping_rx = ping_rx, pong_tx = pong_tx]() mutable {
    for (auto r = ping_rx.recv(); r.ok(); r = ping_rx.recv()) ASSERT_TRUE(pong_tx.send(*r + 1).ok());
  });
  for (int i = 0; i < kRounds; ++i) {
    ASSERT_TRUE(ping_tx.send(i).ok());
    ASSERT_EQ(dcp::select(pong_rx), 0u);
    auto r = pong_rx.try_recv();
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(*r, i + 1);
  }
  ping_tx.close();
  echo.join();
}

// drop_oldest with consumers racing the evicting senders: nothing is counted twice or lost.
TEST(ChannelReview, DropOldestWithRacingConsumers_ReceivedPlusDroppedEqualsSent) {
  const std::uint64_t kPerSender = 100'000 / DCP_STRESS_DIVISOR;
  constexpr int kSenders = 3;
  auto [tx, rx] = dcp::bounded<std::uint64_t>(2, dcp::Overflow::drop_oldest);
  std::atomic<std::uint64_t> received{0};
  std::vector<std::thread> receivers;
  for (int r = 0; r < 2; ++r) {
    receivers.emplace_back([&, rx = rx]() mutable {
      for (auto v : rx) {
        (void)v;
        received.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  std::vector<std::thread> senders;
  for (int s = 0; s < kSenders; ++s) {
    senders.emplace_back([&, tx = tx]() mutable {
      for (std::uint64_t i = 0; i < kPerSender; ++i) ASSERT_TRUE(tx.send(i).ok());
    });
  }
  for (auto& t : senders) t.join();
  const std::uint64_t dropped = tx.dropped();
  tx.close();
  for (auto& t : receivers) t.join();
  EXPECT_EQ(received.load() + dropped, kPerSender * kSenders);
}

}  // namespace
