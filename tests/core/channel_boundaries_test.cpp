// Tests of channels and select at their boundaries: an allocation that fails inside select()'s
// registration or an unbounded send's block allocation (nothing left behind, the channel intact),
// the list queue's block boundaries (destruction, size, blocked receivers and senders across block
// ends), and wake-ups that must never be lost (ping-pong, drop_oldest with racing consumers).
//
// This executable replaces the global operator new (support/failing_allocation.hpp) so that a test
// can make one chosen allocation of the calling thread fail with std::bad_alloc.
#include "dcp/core/channel.hpp"
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

#include "support/counted.hpp"
#include "support/failing_allocation.hpp"

namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// Regression: select() registered its Parker with each channel in turn; when a registration threw
// (std::bad_alloc growing a Waker's list) the earlier registrations stayed behind. The channel then
// kept a pointer to the thread's Parker: spurious unparks while the thread lives, a use-after-free
// of its thread_local Parker after it exits.
// ---------------------------------------------------------------------------------------------

TEST(SelectAllocationFailure, RegistrationThrowsBadAlloc_LeavesNoObserverBehind) {
  auto [tx0, rx0] = dcp::unbounded<int>();
  auto [tx1, rx1] = dcp::unbounded<int>();
  // Both channels are empty, so select registers: the first registration allocates rx0's Waker
  // list, the second would allocate rx1's and fails.
  const auto failure = dcp::test::with_failing_allocation(1, [&] { (void)dcp::select(rx0, rx1); });
  EXPECT_TRUE(failure.threw);

  // A leftover observer in rx0's Waker would unpark this thread's Parker on the next send.
  auto& parker = dcp::detail::current_thread_parker();
  parker.reset();
  ASSERT_TRUE(tx0.send(1).ok());
  EXPECT_FALSE(parker.park_until(SteadyClock::now())) << "select left its Parker registered with rx0";

  // And the channels still work with select afterwards.
  EXPECT_EQ(dcp::select(rx0, rx1), 0u);
}

TEST(SelectAllocationFailure, RegistrationThrowsOnAnotherThread_ThatThreadCanExitSafely) {
  auto [tx0, rx0] = dcp::unbounded<int>();
  auto [tx1, rx1] = dcp::unbounded<int>();
  std::thread selecting([&, rx0 = rx0, rx1 = rx1] {
    const auto failure = dcp::test::with_failing_allocation(1, [&] { (void)dcp::select(rx0, rx1); });
    EXPECT_TRUE(failure.threw);
  });
  selecting.join();  // its thread_local Parker is gone now
  // A dangling observer would be unparked here (use after free; ASan/TSan may report it).
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(tx0.send(i).ok());
  EXPECT_EQ(rx0.size(), 4u);
}

// ---------------------------------------------------------------------------------------------
// Channels at their boundaries: list-queue blocks, a ring that wraps, racing wake-ups.
// ---------------------------------------------------------------------------------------------

// An unbounded send that must allocate the next block and cannot: it throws before claiming a
// slot, the value stays with the caller, and the channel is unchanged and usable.
TEST(ChannelBoundaries, UnboundedSendWhoseBlockAllocationFails_ThrowsAndLeavesTheChannelIntact) {
  auto [tx, rx] = dcp::unbounded<std::uint64_t>();
  for (std::uint64_t i = 0; i < 30; ++i) ASSERT_TRUE(tx.send(i).ok());
  // the 31st value fills the first block: its successor is allocated, and that allocation fails
  const auto failure = dcp::test::with_failing_allocation(0, [&] { (void)tx.try_send(30); });
  EXPECT_TRUE(failure.threw);
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
TEST(ChannelBoundaries, DestroyedWithHeadWrappedOrInALaterBlock_DestroysEveryValueOnceAndFreesBlocks) {
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
TEST(ChannelBoundaries, UnboundedSizeAcrossBlockBoundaries_CountsEveryQueuedValue) {
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
TEST(ChannelBoundaries, BlockedReceiversAcrossBlockEnds_EveryValueOnceAndAllEndOnClose) {
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
TEST(ChannelBoundaries, BlockedSendersAndTimedReceivers_NoValueStrandedNoThreadHung) {
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
TEST(ChannelBoundaries, PingPongThroughBlockingRecvAndSelect_EveryWakeUpArrives) {
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
TEST(ChannelBoundaries, DropOldestWithRacingConsumers_ReceivedPlusDroppedEqualsSent) {
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
