// Unit tests of dcp/core/channel.hpp: close semantics, timeouts, overflow policies, move-only and large
// values. Every rule is checked for both flavors (bounded and unbounded) where it applies.
#include "dcp/core/channel.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/counted.hpp"
#include "support/exception_message.hpp"
#include "support/hang_timeout.hpp"

namespace {

using namespace std::chrono_literals;
using dcp::RecvStatus;
using dcp::SendStatus;
using dcp::test::Counted;
using dcp::test::CountedStats;
using dcp::test::error_of;
using dcp::test::kHangTimeout;

/// The values queued now, oldest first: try_recv until it finds nothing.
std::vector<int> queued_values(dcp::Receiver<int>& rx) {
  std::vector<int> values;
  for (auto r = rx.try_recv(); r.ok(); r = rx.try_recv()) values.push_back(*r);
  return values;
}

struct BoundedFlavor {
  template <class T>
  static auto make() {
    return dcp::bounded<T>(64);
  }
};
struct UnboundedFlavor {
  template <class T>
  static auto make() {
    return dcp::unbounded<T>();
  }
};

template <class Flavor>
class ChannelFlavorTest : public ::testing::Test {};
using Flavors = ::testing::Types<BoundedFlavor, UnboundedFlavor>;
TYPED_TEST_SUITE(ChannelFlavorTest, Flavors);

TYPED_TEST(ChannelFlavorTest, SendThenRecv_ValuesArriveInFifoOrder) {
  auto [tx, rx] = TypeParam::template make<int>();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(tx.send(i).ok());
  EXPECT_EQ(rx.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    auto r = rx.recv();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, i);
  }
  EXPECT_EQ(rx.size(), 0u);
}

TYPED_TEST(ChannelFlavorTest, RecvAfterLastSenderDropped_DrainsThenReportsClosed) {
  auto [tx, rx] = TypeParam::template make<int>();
  {
    auto copy = tx;  // two senders: dropping one keeps the channel open
    ASSERT_TRUE(copy.send(1).ok());
  }
  EXPECT_FALSE(rx.is_closed());
  ASSERT_TRUE(tx.send(2).ok());
  { auto gone = std::move(tx); }
  EXPECT_TRUE(rx.is_closed());
  EXPECT_EQ(*rx.recv(), 1);
  EXPECT_EQ(*rx.recv(), 2);
  EXPECT_EQ(rx.recv().status(), RecvStatus::closed);
  EXPECT_EQ(rx.try_recv().status(), RecvStatus::closed);
  EXPECT_EQ(rx.recv_for(1ms).status(), RecvStatus::closed);
  EXPECT_EQ(rx.recv().status(), RecvStatus::closed);  // stays closed
}

TYPED_TEST(ChannelFlavorTest, RecvBlockedWhenLastSenderDropped_WakesWithClosed) {
  auto [tx, rx] = TypeParam::template make<int>();
  std::latch receiving(1);
  std::thread receiver([&, rx = rx]() mutable {
    receiving.count_down();
    EXPECT_EQ(rx.recv_for(kHangTimeout).status(), RecvStatus::closed);
  });
  receiving.wait();
  { auto gone = std::move(tx); }
  receiver.join();
}

TYPED_TEST(ChannelFlavorTest, SendAfterLastReceiverDropped_FailsAndHandsValueBack) {
  auto [tx, rx] = TypeParam::template make<std::unique_ptr<std::string>>();
  { auto gone = std::move(rx); }
  auto r = tx.send(std::make_unique<std::string>("payload"));
  EXPECT_EQ(r.status(), SendStatus::closed);
  ASSERT_TRUE(r.has_value());
  ASSERT_NE(r.value(), nullptr);
  EXPECT_EQ(*r.value(), "payload");
  EXPECT_EQ(tx.try_send(std::make_unique<std::string>("x")).status(), SendStatus::closed);
  EXPECT_TRUE(tx.is_closed());
}

TYPED_TEST(ChannelFlavorTest, CloseBySender_ReceiversDrainThenClosedAndSendsFail) {
  auto [tx, rx] = TypeParam::template make<int>();
  ASSERT_TRUE(tx.send(7).ok());
  tx.close();
  auto refused = tx.send(8);
  EXPECT_EQ(refused.status(), SendStatus::closed);
  EXPECT_EQ(refused.value(), 8);
  EXPECT_EQ(*rx.recv(), 7);
  EXPECT_EQ(rx.recv().status(), RecvStatus::closed);
}

TYPED_TEST(ChannelFlavorTest, CloseByReceiver_SendsFailAtOnceWhileQueuedValuesStayReadable) {
  auto [tx, rx] = TypeParam::template make<int>();
  ASSERT_TRUE(tx.send(1).ok());
  auto other = rx;
  rx.close();
  EXPECT_EQ(tx.send(2).status(), SendStatus::closed);
  EXPECT_EQ(*other.recv(), 1);
  EXPECT_EQ(other.recv().status(), RecvStatus::closed);
}

TYPED_TEST(ChannelFlavorTest, TryRecvOnEmptyOpenChannel_ReportsEmpty) {
  auto [tx, rx] = TypeParam::template make<int>();
  auto r = rx.try_recv();
  EXPECT_EQ(r.status(), RecvStatus::empty);
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(static_cast<bool>(r));
}

TYPED_TEST(ChannelFlavorTest, RecvForOnEmptyChannel_TimesOutNoEarlierThanTheTimeout) {
  auto [tx, rx] = TypeParam::template make<int>();
  const auto start = std::chrono::steady_clock::now();
  auto r = rx.recv_for(20ms);
  EXPECT_EQ(r.status(), RecvStatus::timeout);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
}

TYPED_TEST(ChannelFlavorTest, RecvUntilPastDeadline_StillTakesAQueuedValue) {
  auto [tx, rx] = TypeParam::template make<int>();
  ASSERT_TRUE(tx.send(5).ok());
  auto r = rx.recv_until(std::chrono::steady_clock::now() - 1s);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 5);
  EXPECT_EQ(rx.recv_until(std::chrono::steady_clock::now() - 1s).status(), RecvStatus::timeout);
}

TYPED_TEST(ChannelFlavorTest, RecvUntilSystemClockDeadline_TimesOut) {
  auto [tx, rx] = TypeParam::template make<int>();
  EXPECT_EQ(rx.recv_until(std::chrono::system_clock::now() + 5ms).status(), RecvStatus::timeout);
}

TYPED_TEST(ChannelFlavorTest, RecvForValueSentByAnotherThread_ReceivedBeforeTimeout) {
  auto [tx, rx] = TypeParam::template make<int>();
  std::thread sender([tx = tx]() mutable { EXPECT_TRUE(tx.send(99).ok()); });
  auto r = rx.recv_for(kHangTimeout);
  sender.join();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 99);
}

TYPED_TEST(ChannelFlavorTest, NegativeTimeout_ThrowsInvalidArgumentNamingTheOperation) {
  auto [tx, rx] = TypeParam::template make<int>();
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "recv_for: negative timeout",
                      error_of<std::invalid_argument>([&] { (void)rx.recv_for(-1ms); }));
  EXPECT_THROW((void)tx.send_for(1, -1ns), std::invalid_argument);
}

TYPED_TEST(ChannelFlavorTest, UseAfterMove_ThrowsLogicErrorNamingTheOperation) {
  auto [tx, rx] = TypeParam::template make<int>();
  auto tx2 = std::move(tx);
  auto rx2 = std::move(rx);
  EXPECT_FALSE(tx.valid());  // NOLINT(bugprone-use-after-move): the point of the test
  EXPECT_TRUE(tx2.valid());
  EXPECT_EQ(error_of<std::logic_error>([&] { (void)tx.send(1); }),  // NOLINT(bugprone-use-after-move)
            "dcp::Sender::send: used after move");
  EXPECT_THROW((void)rx.recv(), std::logic_error);  // NOLINT(bugprone-use-after-move)
  EXPECT_THROW((void)rx.size(), std::logic_error);  // NOLINT(bugprone-use-after-move)
}

TYPED_TEST(ChannelFlavorTest, MoveOnlyValues_TravelWithoutCopies) {
  auto [tx, rx] = TypeParam::template make<std::unique_ptr<int>>();
  ASSERT_TRUE(tx.send(std::make_unique<int>(41)).ok());
  auto r = rx.recv();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(**r, 41);
}

TYPED_TEST(ChannelFlavorTest, SendingAnRvalue_NeverCopiesTheValue) {
  CountedStats stats;
  {
    auto [tx, rx] = TypeParam::template make<Counted>();
    for (std::uint64_t i = 0; i < 40; ++i) ASSERT_TRUE(tx.send(Counted(stats, i)).ok());
    for (std::uint64_t i = 0; i < 40; ++i) EXPECT_EQ(rx.recv()->id(), i);
  }
  EXPECT_EQ(stats.copied.load(), 0);
  EXPECT_EQ(stats.alive(), 0);
}

TYPED_TEST(ChannelFlavorTest, ChannelDestroyedWithQueuedValues_DestroysEachExactlyOnce) {
  CountedStats stats;
  {
    auto [tx, rx] = TypeParam::template make<Counted>();
    for (std::uint64_t i = 0; i < 50; ++i) ASSERT_TRUE(tx.send(Counted(stats, i)).ok());
    for (int i = 0; i < 7; ++i) ASSERT_TRUE(rx.recv().ok());
  }
  EXPECT_EQ(stats.alive(), 0);
}

TYPED_TEST(ChannelFlavorTest, RangeFor_YieldsEveryValueAndEndsWhenClosedAndDrained) {
  auto [tx, rx] = TypeParam::template make<int>();
  std::thread producer([tx = std::move(tx)]() mutable {
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(tx.send(i).ok());
  });
  int expected = 0;
  for (int v : rx) EXPECT_EQ(v, expected++);
  producer.join();
  EXPECT_EQ(expected, 1000);
}

TYPED_TEST(ChannelFlavorTest, LargeValues_ArriveIntact) {
  using Big = std::array<std::uint8_t, 64 * 1024>;
  auto [tx, rx] = TypeParam::template make<std::unique_ptr<Big>>();
  for (int n = 0; n < 8; ++n) {
    auto big = std::make_unique<Big>();
    for (std::size_t i = 0; i < big->size(); ++i) (*big)[i] = static_cast<std::uint8_t>(i * 7 + n);
    ASSERT_TRUE(tx.send(std::move(big)).ok());
  }
  for (int n = 0; n < 8; ++n) {
    auto r = rx.recv();
    ASSERT_TRUE(r.ok());
    for (std::size_t i = 0; i < (*r)->size(); i += 997) ASSERT_EQ((**r)[i], static_cast<std::uint8_t>(i * 7 + n));
  }
}

TEST(ChannelUnbounded, CapacityIsUnsetAndSendNeverReportsFull) {
  auto [tx, rx] = dcp::unbounded<int>();
  EXPECT_FALSE(tx.capacity().has_value());
  for (int i = 0; i < 10000; ++i) ASSERT_EQ(tx.try_send(i).status(), SendStatus::sent);
  EXPECT_EQ(rx.size(), 10000u);
}

TEST(ChannelBounded, CapacityZero_ThrowsInvalidArgument) {
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "capacity 0 is out of range",
                      error_of<std::invalid_argument>([&] { (void)dcp::bounded<int>(0); }));
}

TEST(ChannelBounded, CapacityAboveLimit_ThrowsInvalidArgument) {
  EXPECT_THROW((void)dcp::bounded<int>(dcp::kMaxCapacity + 1), std::invalid_argument);
}

TEST(ChannelBounded, TrySendOnFullChannel_ReportsFullAndHandsValueBack) {
  auto [tx, rx] = dcp::bounded<std::unique_ptr<int>>(2);
  ASSERT_TRUE(tx.try_send(std::make_unique<int>(1)).ok());
  ASSERT_TRUE(tx.try_send(std::make_unique<int>(2)).ok());
  auto r = tx.try_send(std::make_unique<int>(3));
  EXPECT_EQ(r.status(), SendStatus::full);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r.value(), 3);
  EXPECT_EQ(tx.size(), 2u);
  EXPECT_EQ(tx.capacity(), 2u);
  EXPECT_EQ(tx.dropped(), 0u);
}

TEST(ChannelBounded, SendForOnFullChannel_TimesOutAndHandsValueBack) {
  auto [tx, rx] = dcp::bounded<int>(1);
  ASSERT_TRUE(tx.send(1).ok());
  const auto start = std::chrono::steady_clock::now();
  auto r = tx.send_for(2, 20ms);
  EXPECT_EQ(r.status(), SendStatus::timeout);
  EXPECT_EQ(r.value(), 2);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
  EXPECT_EQ(tx.send_until(3, std::chrono::system_clock::now() - 1s).status(), SendStatus::timeout);
}

TEST(ChannelBounded, BlockedSend_CompletesWhenAReceiverMakesRoom) {
  auto [tx, rx] = dcp::bounded<int>(1);
  ASSERT_TRUE(tx.send(1).ok());
  std::thread sender([tx = tx]() mutable { EXPECT_EQ(tx.send_for(2, kHangTimeout).status(), SendStatus::sent); });
  EXPECT_EQ(*rx.recv(), 1);
  sender.join();
  EXPECT_EQ(*rx.recv(), 2);
}

TEST(ChannelBounded, BlockedSendWhenLastReceiverDropped_WakesWithClosedAndTheValue) {
  auto [tx, rx] = dcp::bounded<std::string>(1);
  ASSERT_TRUE(tx.send("first").ok());
  std::latch sending(1);
  std::thread sender([&, tx = tx]() mutable {
    sending.count_down();
    auto r = tx.send_for("second", kHangTimeout);
    EXPECT_EQ(r.status(), SendStatus::closed);
    EXPECT_EQ(r.value(), "second");
  });
  sending.wait();
  { auto gone = std::move(rx); }
  sender.join();
}

TEST(ChannelBounded, DropOldest_FullChannelEvictsTheOldestAndCountsIt) {
  auto [tx, rx] = dcp::bounded<int>(3, dcp::Overflow::drop_oldest);
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(tx.send(i).status(), SendStatus::sent);
  EXPECT_EQ(tx.dropped(), 2u);
  EXPECT_EQ(rx.dropped(), 2u);
  EXPECT_EQ(queued_values(rx), (std::vector<int>{3, 4, 5}));
  EXPECT_EQ(rx.try_recv().status(), RecvStatus::empty);
}

TEST(ChannelBounded, DropOldest_EvictedValuesAreDestroyed) {
  CountedStats stats;
  {
    auto [tx, rx] = dcp::bounded<Counted>(2, dcp::Overflow::drop_oldest);
    for (std::uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(tx.send(Counted(stats, i)).ok());
    EXPECT_EQ(tx.dropped(), 8u);
    EXPECT_EQ(stats.alive(), 2);  // only the two queued values are alive
  }
  EXPECT_EQ(stats.alive(), 0);
}

TEST(ChannelBounded, DropOldest_SendReportsThatItEvictedTheOldest) {
  auto [tx, rx] = dcp::bounded<int>(2, dcp::Overflow::drop_oldest);
  for (int i = 1; i <= 2; ++i) {
    const auto r = tx.send(i);
    EXPECT_EQ(r.status(), SendStatus::sent);
    EXPECT_EQ(r.evicted(), 0u);
    EXPECT_FALSE(r.evicted_oldest());
  }
  const auto full = tx.send(3);
  EXPECT_EQ(full.status(), SendStatus::sent);  // the new value is in
  EXPECT_EQ(full.evicted(), 1u);
  EXPECT_TRUE(full.evicted_oldest());
  EXPECT_TRUE(tx.try_send(4).evicted_oldest());
  EXPECT_TRUE(tx.send_for(5, 1s).evicted_oldest());
  EXPECT_EQ(tx.dropped(), 3u);
  EXPECT_EQ(*rx.recv(), 4);
}

TEST(ChannelBounded, DropOldest_OnEvictedReceivesEachEvictedValueOnTheSendingThread) {
  CountedStats stats;
  auto [tx, rx] = dcp::bounded<Counted>(2, dcp::Overflow::drop_oldest);
  std::vector<std::uint64_t> evicted;
  const auto collect = [&evicted](Counted&& value) noexcept { evicted.push_back(value.id()); };
  for (std::uint64_t i = 0; i < 5; ++i) {
    const auto r = i % 2 == 0 ? tx.send(Counted(stats, i), collect) : tx.try_send(Counted(stats, i), collect);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.evicted(), i < 2 ? 0u : 1u) << i;
  }
  EXPECT_EQ(evicted, (std::vector<std::uint64_t>{0, 1, 2}));  // oldest first, each exactly once
  EXPECT_EQ(stats.alive(), 2);  // handed over, then destroyed: only the two queued values live
  EXPECT_EQ(tx.dropped(), 3u);
}

TEST(ChannelBounded, OtherPolicies_NeverReportAnEviction) {
  auto [block_tx, block_rx] = dcp::bounded<int>(1);
  EXPECT_EQ(block_tx.send(1).evicted(), 0u);
  EXPECT_EQ(block_tx.try_send(2).evicted(), 0u);  // full
  auto [newest_tx, newest_rx] = dcp::bounded<int>(1, dcp::Overflow::drop_newest);
  EXPECT_EQ(newest_tx.send(1).evicted(), 0u);
  const auto dropped = newest_tx.send(2);
  EXPECT_TRUE(dropped.is_dropped());
  EXPECT_FALSE(dropped.evicted_oldest());
  auto [utx, urx] = dcp::unbounded<int>();
  for (int i = 0; i < 100; ++i) EXPECT_EQ(utx.send(i).evicted(), 0u);
}

TEST(ChannelLatest, EverySendAfterTheFirst_ReportsTheEviction) {
  auto [tx, rx] = dcp::latest<int>();
  EXPECT_FALSE(tx.send(1).evicted_oldest());
  EXPECT_TRUE(tx.send(2).evicted_oldest());
  EXPECT_EQ(*rx.recv(), 2);
  EXPECT_FALSE(tx.send(3).evicted_oldest());  // it was empty again
}

TEST(ChannelBounded, DropNewest_FullChannelDiscardsTheNewValueAndCountsIt) {
  auto [tx, rx] = dcp::bounded<int>(3, dcp::Overflow::drop_newest);
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(tx.send(i).status(), SendStatus::sent);
  auto r = tx.send(4);
  EXPECT_EQ(r.status(), SendStatus::dropped);
  EXPECT_TRUE(r.is_dropped());
  EXPECT_FALSE(r.has_value());
  EXPECT_EQ(tx.try_send(5).status(), SendStatus::dropped);
  EXPECT_EQ(tx.send_for(6, 1s).status(), SendStatus::dropped);  // never waits
  EXPECT_EQ(tx.dropped(), 3u);
  EXPECT_EQ(queued_values(rx), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(rx.try_recv().status(), RecvStatus::empty);
}

TEST(ChannelBounded, SendResultValueWithoutReturnedValue_ThrowsLogicErrorNamingStatus) {
  auto [tx, rx] = dcp::bounded<int>(1);
  auto r = tx.send(1);
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "status: sent", error_of<std::logic_error>([&] { (void)r.value(); }));
}

TEST(ChannelBounded, RecvResultValueAfterClosed_ThrowsLogicErrorNamingStatus) {
  auto [tx, rx] = dcp::bounded<int>(1);
  tx.close();
  auto r = rx.recv();
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "status: closed", error_of<std::logic_error>([&] { (void)r.value(); }));
}

TEST(ChannelLatest, KeepsOnlyTheNewestValue) {
  auto [tx, rx] = dcp::latest<int>();
  EXPECT_EQ(tx.capacity(), 1u);
  EXPECT_EQ(tx.policy(), dcp::Overflow::drop_oldest);
  for (int i = 1; i <= 100; ++i) ASSERT_TRUE(tx.send(i).ok());
  EXPECT_EQ(*rx.recv(), 100);
  EXPECT_EQ(rx.dropped(), 99u);
  EXPECT_EQ(rx.try_recv().status(), RecvStatus::empty);
}

TEST(ChannelLatest, ConcurrentReaderAlwaysSeesIncreasingValuesAndEndsWithTheLast) {
  auto [tx, rx] = dcp::latest<int>();
  constexpr int kLast = 100000 / DCP_STRESS_DIVISOR;
  std::thread producer([tx = std::move(tx)]() mutable {
    for (int i = 1; i <= kLast; ++i) ASSERT_TRUE(tx.send(i).ok());
  });
  int previous = 0;
  for (int v : rx) {
    ASSERT_GT(v, previous);
    previous = v;
  }
  producer.join();
  EXPECT_EQ(previous, kLast);
}

TEST(ChannelBounded, CapacityOneWrapsAroundManyLaps) {
  auto [tx, rx] = dcp::bounded<int>(1);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(tx.try_send(i).ok());
    EXPECT_EQ(tx.try_send(-1).status(), SendStatus::full);
    EXPECT_EQ(*rx.try_recv(), i);
  }
}

TEST(ChannelHandles, CopyAndMoveAssignment_KeepTheHandleCountsRight) {
  auto [tx, rx] = dcp::bounded<int>(4);
  auto [other_tx, other_rx] = dcp::bounded<int>(4);
  dcp::Sender<int> a = tx;
  a = other_tx;  // `a` leaves the first channel, which still has `tx`
  EXPECT_FALSE(rx.is_closed());
  a = std::move(tx);  // `a` now is the only sender of the first channel
  EXPECT_FALSE(rx.is_closed());
  { auto gone = std::move(a); }
  EXPECT_TRUE(rx.is_closed());
  EXPECT_FALSE(other_rx.is_closed());
}

}  // namespace

namespace {

TYPED_TEST(ChannelFlavorTest, LastReceiverDropped_DestroysQueuedValuesAtOnce) {
  CountedStats stats;
  auto [tx, rx] = TypeParam::template make<Counted>();
  for (std::uint64_t i = 0; i < 40; ++i) ASSERT_TRUE(tx.send(Counted(stats, i)).ok());
  EXPECT_EQ(stats.alive(), 40);
  { auto gone = std::move(rx); }
  EXPECT_EQ(stats.alive(), 0) << "queued values must not wait for the last Sender";
  EXPECT_TRUE(tx.is_closed());
}

TEST(ChannelHandles, ReplySenderQueuedInADeadRequestChannel_DoesNotKeepTheReplyChannelOpen) {
  // A request carries the Sender of its reply channel. When the worker that would answer goes away
  // (its Receiver dropped), the requester must see its reply channel close instead of hanging.
  auto [reply_tx, reply_rx] = dcp::bounded<int>(1);
  auto [request_tx, request_rx] = dcp::unbounded<dcp::Sender<int>>();
  ASSERT_TRUE(request_tx.send(std::move(reply_tx)).ok());
  { auto worker_gone = std::move(request_rx); }
  EXPECT_EQ(reply_rx.recv_for(kHangTimeout).status(), RecvStatus::closed);
}

}  // namespace
