// Unit tests of dcp/core/select.hpp: readiness, closed-as-ready, timeouts, wake-ups, fairness.
#include "dcp/core/select.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "support/hang_timeout.hpp"

namespace {

using namespace std::chrono_literals;
using dcp::test::kHangTimeout;

TEST(Select, OneReceiverHasAValue_ReturnsItsIndex) {
  auto [a_tx, a_rx] = dcp::bounded<int>(4);
  auto [b_tx, b_rx] = dcp::unbounded<std::string>();
  ASSERT_TRUE(b_tx.send("b").ok());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(dcp::select(a_rx, b_rx), 1u);
  EXPECT_EQ(*b_rx.try_recv(), "b");
}

TEST(Select, ClosedChannel_CountsAsReady) {
  auto [a_tx, a_rx] = dcp::bounded<int>(4);
  auto [b_tx, b_rx] = dcp::bounded<int>(4);
  a_tx.close();
  EXPECT_EQ(dcp::select(a_rx, b_rx), 0u);
  EXPECT_EQ(a_rx.try_recv().status(), dcp::RecvStatus::closed);
}

TEST(Select, NothingReady_SelectForTimesOutNoEarlierThanTheTimeout) {
  auto [a_tx, a_rx] = dcp::bounded<int>(4);
  auto [b_tx, b_rx] = dcp::unbounded<int>();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(dcp::select_for(20ms, a_rx, b_rx), std::nullopt);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
  EXPECT_EQ(dcp::select_until(std::chrono::system_clock::now() - 1s, a_rx, b_rx), std::nullopt);
}

TEST(Select, NegativeTimeout_ThrowsInvalidArgument) {
  auto [tx, rx] = dcp::bounded<int>(4);
  EXPECT_THROW((void)dcp::select_for(-1ms, rx), std::invalid_argument);
}

TEST(Select, MovedFromReceiver_ThrowsLogicError) {
  auto [tx, rx] = dcp::bounded<int>(4);
  auto moved = std::move(rx);
  EXPECT_THROW((void)dcp::select_for(1ms, rx, moved), std::logic_error);  // NOLINT(bugprone-use-after-move)
}

TEST(Select, ValueSentLaterByAnotherThread_WakesTheBlockedSelect) {
  for (int round = 0; round < 50; ++round) {
    auto [a_tx, a_rx] = dcp::bounded<int>(4);
    auto [b_tx, b_rx] = dcp::unbounded<int>();
    std::thread sender([tx = b_tx]() mutable { ASSERT_TRUE(tx.send(1).ok()); });
    auto ready = dcp::select_for(kHangTimeout, a_rx, b_rx);
    sender.join();
    ASSERT_EQ(ready, 1u);
  }
}

TEST(Select, LastSenderDroppedByAnotherThread_WakesTheBlockedSelect) {
  auto [a_tx, a_rx] = dcp::bounded<int>(4);
  auto [b_tx, b_rx] = dcp::bounded<int>(4);
  std::thread closer([tx = std::move(a_tx)]() mutable { auto gone = std::move(tx); });
  EXPECT_EQ(dcp::select_for(kHangTimeout, a_rx, b_rx), 0u);
  closer.join();
}

TEST(Select, BothAlwaysReady_NeitherStarves) {
  auto [a_tx, a_rx] = dcp::unbounded<int>();
  auto [b_tx, b_rx] = dcp::unbounded<int>();
  constexpr int kRounds = 1000;
  for (int i = 0; i < kRounds; ++i) {
    ASSERT_TRUE(a_tx.send(i).ok());
    ASSERT_TRUE(b_tx.send(i).ok());
  }
  std::array<int, 2> picked{};
  for (int i = 0; i < kRounds; ++i) {
    const std::size_t index = dcp::select(a_rx, b_rx);
    ++picked[index];
    ASSERT_TRUE((index == 0 ? a_rx.try_recv() : b_rx.try_recv()).ok());
  }
  EXPECT_EQ(picked[0], kRounds / 2);
  EXPECT_EQ(picked[1], kRounds / 2);
}

TEST(Select, ProducersAddingConcurrently_ConsumerServesBothChannelsFairly) {
  // Both channels hold a backlog larger than what the consumer takes, so both are ready at every
  // select while two producers keep adding to them concurrently (contention on both wakers).
  auto [a_tx, a_rx] = dcp::unbounded<int>();
  auto [b_tx, b_rx] = dcp::unbounded<int>();
  constexpr int kTaken = 20000 / DCP_STRESS_DIVISOR;
  for (int i = 0; i < kTaken; ++i) {
    ASSERT_TRUE(a_tx.send(i).ok());
    ASSERT_TRUE(b_tx.send(i).ok());
  }
  std::atomic<bool> stop{false};
  auto flood = [&stop](dcp::Sender<int> tx) {
    while (!stop.load(std::memory_order_relaxed)) ASSERT_TRUE(tx.send(1).ok());
  };
  std::thread fa(flood, a_tx);
  std::thread fb(flood, b_tx);
  std::array<int, 2> picked{};
  for (int taken = 0; taken < kTaken; ++taken) {
    const std::size_t index = dcp::select(a_rx, b_rx);
    ASSERT_TRUE((index == 0 ? a_rx.try_recv() : b_rx.try_recv()).ok());
    ++picked[index];
  }
  stop = true;
  fa.join();
  fb.join();
  EXPECT_GE(picked[0], kTaken * 2 / 5);
  EXPECT_GE(picked[1], kTaken * 2 / 5);
}

TEST(Selector, DynamicSetOfReceiversOfDifferentTypes_ReportsTheReadyOne) {
  auto [a_tx, a_rx] = dcp::bounded<int>(4);
  auto [b_tx, b_rx] = dcp::unbounded<std::string>();
  auto [c_tx, c_rx] = dcp::latest<double>();
  dcp::Selector selector;
  EXPECT_EQ(selector.add(a_rx), 0u);
  EXPECT_EQ(selector.add(b_rx), 1u);
  EXPECT_EQ(selector.add(c_rx), 2u);
  EXPECT_EQ(selector.size(), 3u);
  EXPECT_EQ(selector.poll(), std::nullopt);
  EXPECT_EQ(selector.wait_for(1ms), std::nullopt);
  ASSERT_TRUE(c_tx.send(2.5).ok());
  EXPECT_EQ(selector.wait(), 2u);
  EXPECT_EQ(selector.poll(), 2u);
}

TEST(Selector, NoReceivers_WaitThrowsLogicError) {
  dcp::Selector selector;
  EXPECT_THROW((void)selector.wait_for(1ms), std::logic_error);
}

TEST(Select, ManyConsumersSelectingOverSharedChannels_EveryValueTakenExactlyOnce) {
  auto [a_tx, a_rx] = dcp::bounded<int>(16);
  auto [b_tx, b_rx] = dcp::unbounded<int>();
  constexpr int kPerChannel = 50000 / DCP_STRESS_DIVISOR;
  std::vector<std::atomic<int>> seen(2 * kPerChannel);
  std::vector<std::thread> consumers;
  for (int c = 0; c < 3; ++c) {
    consumers.emplace_back([&seen, a = a_rx, b = b_rx]() mutable {
      bool a_open = true, b_open = true;
      while (a_open || b_open) {
        // Select only over channels that are still open: a closed one is permanently ready.
        std::size_t index;
        if (a_open && b_open) {
          index = dcp::select(a, b);
        } else {
          index = a_open ? 0 : 1;
        }
        auto r = index == 0 ? a.recv_for(1ms) : b.recv_for(1ms);
        if (r.ok()) {
          seen[*r].fetch_add(1);
        } else if (r.is_closed()) {
          (index == 0 ? a_open : b_open) = false;
        }
      }
    });
  }
  std::thread pa([tx = std::move(a_tx)]() mutable {
    for (int i = 0; i < kPerChannel; ++i) ASSERT_TRUE(tx.send(i).ok());
  });
  std::thread pb([tx = std::move(b_tx)]() mutable {
    for (int i = kPerChannel; i < 2 * kPerChannel; ++i) ASSERT_TRUE(tx.send(i).ok());
  });
  pa.join();
  pb.join();
  for (auto& c : consumers) c.join();
  for (int i = 0; i < 2 * kPerChannel; ++i) ASSERT_EQ(seen[i].load(), 1) << "value " << i;
}

}  // namespace
