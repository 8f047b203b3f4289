// Tests for dcp/patterns/aggregator.hpp: scatter/gather with a deadline, eviction, late/duplicate parts,
// flush/close, and the exactly-once emission invariant.
#include "dcp/patterns/aggregator.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <thread>
#include <vector>

#include "dcp/core/error_report.hpp"
#include "dcp/core/shutdown.hpp"
#include "support/captured_reports.hpp"
#include "support/hang_timeout.hpp"

#ifndef DCP_STRESS_DIVISOR
#define DCP_STRESS_DIVISOR 1
#endif

namespace {

using namespace std::chrono_literals;

using dcp::test::kHangTimeout;  // only to turn a hang into a failure

using IntGather = dcp::Aggregator<int, int>;
using IntResult = dcp::Gathered<int, int>;
using Parts = std::vector<std::optional<int>>;

// Collects every emitted result (with the emitting thread) for inspection.
struct Collector {
  std::mutex mutex;
  std::vector<IntResult> results;
  std::vector<std::thread::id> threads;

  IntGather::Callback callback() {
    return [this](IntResult&& result) {
      std::lock_guard lock(mutex);
      results.push_back(std::move(result));
      threads.push_back(std::this_thread::get_id());
    };
  }
  std::size_t size() {
    std::lock_guard lock(mutex);
    return results.size();
  }
};

// A callback that hands the first result to a future.
struct FirstResult {
  std::promise<IntResult> promise;
  std::future<IntResult> future = promise.get_future();
  std::once_flag once;
  std::promise<std::thread::id> thread;
  std::future<std::thread::id> thread_future = thread.get_future();

  IntGather::Callback callback() {
    return [this](IntResult&& result) {
      std::call_once(once, [&] {
        thread.set_value(std::this_thread::get_id());
        promise.set_value(std::move(result));
      });
    };
  }
};

using dcp::test::CapturedReports;

/// Checks that `gather` holds and emitted nothing: no key pending, flush() finds none, `collector` got none.
void expect_nothing_gathered(IntGather& gather, Collector& collector) {
  EXPECT_EQ(gather.stats().pending, 0U);
  EXPECT_EQ(gather.flush(), 0U);
  EXPECT_EQ(collector.size(), 0U);
}

IntGather::Options options(std::size_t parts, std::chrono::nanoseconds deadline = 1h, std::size_t max_pending = 64) {
  IntGather::Options o;
  o.parts = parts;
  o.deadline = deadline;
  o.max_pending = max_pending;
  o.name = "test-gather";
  return o;
}

// ---------------------------------------------------------------------------------------------------
// Complete results
// ---------------------------------------------------------------------------------------------------

TEST(Aggregator, AllPartsArrived_EmitsOneCompleteResultOnTheLastAddingThread) {
  Collector collector;
  IntGather gather(collector.callback(), options(3));
  EXPECT_EQ(gather.add(7, 0, 100), dcp::AddResult::added);
  EXPECT_EQ(gather.add(7, 2, 102), dcp::AddResult::added);
  EXPECT_EQ(collector.size(), 0U);
  EXPECT_EQ(gather.stats().pending, 1U);
  EXPECT_EQ(gather.add(7, 1, 101), dcp::AddResult::completed);
  ASSERT_EQ(collector.size(), 1U);  // emitted before add() returned
  const IntResult& result = collector.results[0];
  EXPECT_EQ(collector.threads[0], std::this_thread::get_id());
  EXPECT_EQ(result.key, 7);
  EXPECT_TRUE(result.complete());
  EXPECT_EQ(result.reason, dcp::GatherReason::complete);
  EXPECT_EQ(result.received, 3U);
  EXPECT_EQ(result.parts, (Parts{100, 101, 102}));
  EXPECT_GE(result.age, 0ns);
  const auto stats = gather.stats();
  EXPECT_EQ(stats.completed, 1U);
  EXPECT_EQ(stats.pending, 0U);
}

TEST(Aggregator, SinglePartKey_CompletesOnItsFirstAdd) {
  Collector collector;
  IntGather gather(collector.callback(), options(1));
  EXPECT_EQ(gather.add(1, 0, 5), dcp::AddResult::completed);
  ASSERT_EQ(collector.size(), 1U);
  EXPECT_TRUE(collector.results[0].complete());
}

TEST(Aggregator, KeysGatherIndependently) {
  Collector collector;
  IntGather gather(collector.callback(), options(2));
  EXPECT_EQ(gather.add(1, 0, 10), dcp::AddResult::added);
  EXPECT_EQ(gather.add(2, 1, 21), dcp::AddResult::added);
  EXPECT_EQ(gather.add(2, 0, 20), dcp::AddResult::completed);
  EXPECT_EQ(gather.add(1, 1, 11), dcp::AddResult::completed);
  ASSERT_EQ(collector.size(), 2U);
  EXPECT_EQ(collector.results[0].key, 2);
  EXPECT_EQ(collector.results[0].parts[0], 20);
  EXPECT_EQ(collector.results[1].key, 1);
  EXPECT_EQ(collector.results[1].parts[1], 11);
}

// ---------------------------------------------------------------------------------------------------
// Deadline
// ---------------------------------------------------------------------------------------------------

TEST(Aggregator, DeadlinePassed_EmitsPartialResultWithMissingSlotsEmptyFromTheTimerThread) {
  FirstResult first;
  const auto deadline = 50ms;
  IntGather gather(first.callback(), options(3, deadline));
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(gather.add(9, 0, 90), dcp::AddResult::added);
  EXPECT_EQ(gather.add(9, 2, 92), dcp::AddResult::added);
  ASSERT_EQ(first.future.wait_for(kHangTimeout), std::future_status::ready);
  const auto waited = std::chrono::steady_clock::now() - started;
  const IntResult result = first.future.get();
  EXPECT_NE(first.thread_future.get(), std::this_thread::get_id());
  EXPECT_EQ(result.key, 9);
  EXPECT_FALSE(result.complete());
  EXPECT_EQ(result.reason, dcp::GatherReason::deadline);
  EXPECT_EQ(result.received, 2U);
  EXPECT_EQ(result.parts, (Parts{90, std::nullopt, 92}));  // the missing slot stays empty
  EXPECT_GE(result.age, deadline);
  EXPECT_GE(waited, deadline);
  const auto stats = gather.stats();
  EXPECT_EQ(stats.partial, 1U);
  EXPECT_EQ(stats.pending, 0U);
  // The key is remembered: a straggler is late, not a new key.
  EXPECT_EQ(gather.add(9, 1, 91), dcp::AddResult::late);
  EXPECT_EQ(gather.stats().late, 1U);
}

TEST(Aggregator, OpenStartsTheDeadlineBeforeAnyPartArrives) {
  FirstResult first;
  IntGather gather(first.callback(), options(2, 20ms));
  EXPECT_TRUE(gather.open(4));
  EXPECT_FALSE(gather.open(4));  // already pending
  EXPECT_EQ(gather.stats().pending, 1U);
  ASSERT_EQ(first.future.wait_for(kHangTimeout), std::future_status::ready);
  const IntResult result = first.future.get();
  EXPECT_EQ(result.key, 4);
  EXPECT_EQ(result.reason, dcp::GatherReason::deadline);
  EXPECT_EQ(result.received, 0U);
  EXPECT_GE(result.age, 20ms);
  EXPECT_FALSE(gather.open(4));  // already emitted
}

TEST(Aggregator, DeadlinesExpireInOpeningOrderAndEachKeyOnce) {
  Collector collector;
  std::promise<void> all_done;
  std::atomic<int> emitted{0};
  constexpr int kKeys = 5;
  IntGather gather([&](IntResult&& result) {
    collector.callback()(std::move(result));
    if (++emitted == kKeys) all_done.set_value();
  }, options(2, 10ms));
  for (int key = 0; key < kKeys; ++key) EXPECT_TRUE(gather.open(key));
  ASSERT_EQ(all_done.get_future().wait_for(kHangTimeout), std::future_status::ready);
  ASSERT_EQ(collector.size(), static_cast<std::size_t>(kKeys));
  for (int key = 0; key < kKeys; ++key) {
    EXPECT_EQ(collector.results[key].key, key);
    EXPECT_EQ(collector.results[key].reason, dcp::GatherReason::deadline);
  }
  EXPECT_EQ(gather.stats().partial, static_cast<std::uint64_t>(kKeys));
}

TEST(Aggregator, TimerWakesForANewKeyAfterBeingIdle) {
  Collector collector;
  std::promise<void> second;
  IntGather gather([&](IntResult&& result) {
    const int key = result.key;
    collector.callback()(std::move(result));
    if (key == 2) second.set_value();
  }, options(2, 5ms));
  gather.add(1, 0, 1);
  gather.flush();  // now idle (no pending key)
  gather.add(2, 0, 2);
  ASSERT_EQ(second.get_future().wait_for(kHangTimeout), std::future_status::ready);
  EXPECT_EQ(collector.results.back().reason, dcp::GatherReason::deadline);
}

// ---------------------------------------------------------------------------------------------------
// Eviction, late, duplicate, rejected
// ---------------------------------------------------------------------------------------------------

TEST(Aggregator, OpeningAtMaxPending_EvictsTheOldestPendingKeyFlagged) {
  Collector collector;
  IntGather gather(collector.callback(), options(2, 1h, 2));
  EXPECT_EQ(gather.add(1, 0, 10), dcp::AddResult::added);
  EXPECT_EQ(gather.add(2, 1, 21), dcp::AddResult::added);
  EXPECT_EQ(gather.add(1, 1, 11), dcp::AddResult::completed);  // 1 leaves; 2 pending
  EXPECT_EQ(gather.add(3, 0, 30), dcp::AddResult::added);      // 2 pending, 3 pending: full
  EXPECT_EQ(collector.size(), 1U);
  EXPECT_TRUE(gather.open(4));  // evicts 2, the oldest, on this thread
  ASSERT_EQ(collector.size(), 2U);
  const IntResult& evicted = collector.results[1];
  EXPECT_EQ(collector.threads[1], std::this_thread::get_id());
  EXPECT_EQ(evicted.key, 2);
  EXPECT_EQ(evicted.reason, dcp::GatherReason::evicted);
  EXPECT_FALSE(evicted.complete());
  EXPECT_EQ(evicted.received, 1U);
  EXPECT_FALSE(evicted.parts[0].has_value());
  EXPECT_EQ(evicted.parts[1], 21);
  EXPECT_EQ(gather.add(5, 0, 50), dcp::AddResult::added);  // evicts 3
  ASSERT_EQ(collector.size(), 3U);
  EXPECT_EQ(collector.results[2].key, 3);
  EXPECT_EQ(collector.results[2].reason, dcp::GatherReason::evicted);
  const auto stats = gather.stats();
  EXPECT_EQ(stats.evicted, 2U);
  EXPECT_EQ(stats.pending, 2U);
  EXPECT_EQ(gather.add(2, 0, 20), dcp::AddResult::late);
}

TEST(Aggregator, LateAndDuplicatePartsAreDroppedAndCounted) {
  Collector collector;
  IntGather gather(collector.callback(), options(2));
  EXPECT_EQ(gather.add(1, 0, 10), dcp::AddResult::added);
  EXPECT_EQ(gather.add(1, 0, 99), dcp::AddResult::duplicate);
  EXPECT_EQ(gather.add(1, 1, 11), dcp::AddResult::completed);
  EXPECT_EQ(gather.add(1, 1, 98), dcp::AddResult::late);
  EXPECT_EQ(gather.add(1, 0, 97), dcp::AddResult::late);
  ASSERT_EQ(collector.size(), 1U);
  EXPECT_EQ(collector.results[0].parts[0], 10);  // the first part wins
  const auto stats = gather.stats();
  EXPECT_EQ(stats.duplicates, 1U);
  EXPECT_EQ(stats.late, 2U);
  EXPECT_EQ(stats.completed, 1U);
}

TEST(Aggregator, SlotOutOfRangeIsRejectedAndOpensNothing) {
  Collector collector;
  IntGather gather(collector.callback(), options(2));
  EXPECT_EQ(gather.add(1, 2, 0), dcp::AddResult::rejected);
  EXPECT_EQ(gather.add(1, static_cast<std::size_t>(-1), 0), dcp::AddResult::rejected);
  EXPECT_EQ(gather.stats().rejected, 2U);
  expect_nothing_gathered(gather, collector);
}

TEST(Aggregator, ForgottenKeyOpensAgain_RememberedKeyIsLate) {
  Collector collector;
  auto o = options(1, 1h, 1);
  o.remembered = 2;
  IntGather gather(collector.callback(), o);
  for (int key = 1; key <= 3; ++key) EXPECT_EQ(gather.add(key, 0, key), dcp::AddResult::completed);
  EXPECT_EQ(gather.add(3, 0, 0), dcp::AddResult::late);
  EXPECT_EQ(gather.add(2, 0, 0), dcp::AddResult::late);
  EXPECT_EQ(gather.add(1, 0, 0), dcp::AddResult::completed);  // forgotten: a new key again
  EXPECT_EQ(collector.size(), 4U);
}

TEST(Aggregator, DefaultRingRemembersFourTimesMaxPending) {
  Collector collector;
  IntGather gather(collector.callback(), options(1, 1h, 2));  // remembers 8 keys
  for (int key = 0; key < 9; ++key) gather.add(key, 0, key);
  EXPECT_EQ(gather.add(1, 0, 0), dcp::AddResult::late);
  EXPECT_EQ(gather.add(0, 0, 0), dcp::AddResult::completed);
}

// ---------------------------------------------------------------------------------------------------
// flush, close, destructor
// ---------------------------------------------------------------------------------------------------

TEST(Aggregator, FlushEmitsEveryPendingKeyNowFlagged) {
  Collector collector;
  IntGather gather(collector.callback(), options(3));
  gather.add(1, 0, 10);
  gather.add(2, 1, 21);
  gather.add(2, 2, 22);
  EXPECT_TRUE(gather.open(3));
  EXPECT_EQ(gather.flush(), 3U);
  ASSERT_EQ(collector.size(), 3U);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(collector.results[i].key, static_cast<int>(i) + 1);  // oldest first
    EXPECT_EQ(collector.results[i].reason, dcp::GatherReason::flushed);
    EXPECT_EQ(collector.threads[i], std::this_thread::get_id());
  }
  EXPECT_EQ(collector.results[1].received, 2U);
  EXPECT_EQ(gather.stats().flushed, 3U);
  EXPECT_EQ(gather.stats().pending, 0U);
  EXPECT_EQ(gather.flush(), 0U);
  EXPECT_EQ(gather.add(2, 0, 20), dcp::AddResult::late);
  EXPECT_EQ(gather.add(4, 0, 40), dcp::AddResult::added);  // still open for business
}

TEST(Aggregator, ShutdownDrain_FlushesThePendingKeys) {
  Collector collector;
  IntGather gather(collector.callback(), options(2));
  gather.add(1, 0, 10);
  gather.shutdown(dcp::ShutdownMode::drain);
  ASSERT_EQ(collector.size(), 1U);
  EXPECT_EQ(collector.results[0].reason, dcp::GatherReason::flushed);
  EXPECT_EQ(collector.results[0].received, 1U);
  EXPECT_EQ(gather.stats().flushed, 1U);
  EXPECT_EQ(gather.stats().pending, 0U);
}

TEST(Aggregator, AddAfterShutdown_IsRefusedAndCounted) {
  Collector collector;
  IntGather gather(collector.callback(), options(2));
  gather.shutdown();
  EXPECT_EQ(gather.add(2, 0, 20), dcp::AddResult::closed);   // refused: never throws, stores nothing
  EXPECT_EQ(gather.add(2, 99, 20), dcp::AddResult::closed);  // refused before the slot is checked
  EXPECT_EQ(gather.stats().refused_after_shutdown, 2U);  // stats() keeps working
  EXPECT_EQ(gather.stats().rejected, 0U);
  expect_nothing_gathered(gather, collector);
}

TEST(Aggregator, OpenAfterShutdown_IsRefusedAndCounted) {
  Collector collector;
  IntGather gather(collector.callback(), options(2));
  gather.shutdown();
  EXPECT_FALSE(gather.open(3));
  EXPECT_EQ(gather.stats().refused_after_shutdown, 1U);
  expect_nothing_gathered(gather, collector);
}

TEST(Aggregator, ShutdownTwice_IsANoOp) {
  Collector collector;
  IntGather gather(collector.callback(), options(2, 1h));
  gather.add(1, 0, 10);
  gather.shutdown();
  gather.shutdown();
  gather.shutdown(dcp::ShutdownMode::cancel);  // nothing pending any more: nothing to cancel
  ASSERT_EQ(collector.size(), 1U);  // emitted once, by the first shutdown
  const auto stats = gather.stats();
  EXPECT_EQ(stats.flushed, 1U);
  EXPECT_EQ(stats.cancelled, 0U);
  EXPECT_EQ(stats.refused_after_shutdown, 0U);
}

TEST(Aggregator, ShutdownCancel_DropsPendingKeysWithoutCallingBackAndCountsThem) {
  std::atomic<int> calls{0};
  IntGather gather([&](IntResult&&) { ++calls; }, options(2, 1h));
  gather.add(1, 0, 1);
  EXPECT_TRUE(gather.open(2));
  gather.shutdown(dcp::ShutdownMode::cancel);
  EXPECT_EQ(calls.load(), 0);
  const auto stats = gather.stats();
  EXPECT_EQ(stats.cancelled, 2U);
  EXPECT_EQ(stats.pending, 0U);
  EXPECT_EQ(gather.add(3, 0, 1), dcp::AddResult::closed);
}

TEST(Aggregator, Destructor_DrainsPendingKeysFlaggedFlushed) {
  Collector collector;
  {
    IntGather gather(collector.callback(), options(2, 1h));
    gather.add(1, 0, 1);
    EXPECT_TRUE(gather.open(2));
  }
  ASSERT_EQ(collector.size(), 2U);
  EXPECT_EQ(collector.results[0].reason, dcp::GatherReason::flushed);
  EXPECT_EQ(collector.results[1].reason, dcp::GatherReason::flushed);
}

TEST(Aggregator, DestructorWhileTimerIsWaitingForAShortDeadline_EmitsEveryKeyOnce) {
  std::atomic<int> calls{0};
  for (int round = 0; round < 20; ++round) {
    IntGather gather([&](IntResult&&) { ++calls; }, options(2, 1ms));
    gather.add(round, 0, 1);
  }
  // Each key is emitted exactly once: by its deadline or by the destructor's drain.
  EXPECT_EQ(calls.load(), 20);
}

TEST(Aggregator, ShutdownFromOnResultOnTheTimerThread_ReturnsWithoutJoining) {
  std::promise<void> returned;
  IntGather* self = nullptr;
  IntGather gather([&](IntResult&&) {
    self->shutdown();  // on the timer thread: must not join itself
    returned.set_value();
  }, options(2, 1ms));
  self = &gather;
  gather.add(1, 0, 1);
  ASSERT_EQ(returned.get_future().wait_for(kHangTimeout), std::future_status::ready);
  EXPECT_EQ(gather.add(2, 0, 1), dcp::AddResult::closed);
}

// ---------------------------------------------------------------------------------------------------
// Types, callback behaviour, options
// ---------------------------------------------------------------------------------------------------

TEST(Aggregator, MoveOnlyPartsAndStringKeysWork) {
  using Gather = dcp::Aggregator<std::string, std::unique_ptr<int>>;
  std::optional<dcp::Gathered<std::string, std::unique_ptr<int>>> got;
  Gather gather([&](dcp::Gathered<std::string, std::unique_ptr<int>>&& result) { got = std::move(result); }, {.parts = 2, .deadline = 1h, .max_pending = 4, .name = "move-only"});
  EXPECT_EQ(gather.add("frame-1", 1, std::make_unique<int>(11)), dcp::AddResult::added);
  EXPECT_EQ(gather.add("frame-1", 1, std::make_unique<int>(99)), dcp::AddResult::duplicate);
  EXPECT_EQ(gather.add("frame-1", 0, std::make_unique<int>(10)), dcp::AddResult::completed);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->key, "frame-1");
  EXPECT_EQ(**got->parts[0], 10);
  EXPECT_EQ(**got->parts[1], 11);
}

TEST(Aggregator, CallbackMayCallBackIntoTheAggregator) {
  std::vector<int> keys;
  std::unique_ptr<IntGather> gather;
  gather = std::make_unique<IntGather>([&](IntResult&& result) {
    keys.push_back(result.key);
    if (result.key < 3) gather->add(result.key + 1, 0, 0);  // re-entrant: no lock is held
    (void)gather->stats();
  }, options(1));
  EXPECT_EQ(gather->add(0, 0, 0), dcp::AddResult::completed);
  EXPECT_EQ(keys, (std::vector<int>{0, 1, 2, 3}));
}

TEST(AggregatorDeathTest, DestroyedFromOnResultOnTheTimerThread_ReportsAndAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        IntGather* self = nullptr;
        std::promise<void> never;
        self = new IntGather([&](IntResult&&) { delete self; }, options(2, 1ms));
        self->add(1, 0, 1);
        never.get_future().wait();
      },
      "thread 'test-gather': destroyed from its own thread");
}

TEST(Aggregator, CallbackExceptionFromAdd_IsReportedAndCounted_TheKeyStaysEmitted) {
  CapturedReports reports;
  IntGather gather([](IntResult&&) { throw std::runtime_error("consumer failed"); }, options(1));
  EXPECT_EQ(gather.add(1, 0, 1), dcp::AddResult::completed);  // never propagates
  EXPECT_EQ(gather.add(1, 0, 1), dcp::AddResult::late);
  EXPECT_EQ(gather.stats().completed, 1U);
  EXPECT_EQ(gather.stats().callback_errors, 1U);
  EXPECT_EQ(reports.take(), (std::vector<CapturedReports::Report>{{"aggregator 'test-gather'",
                                                                    "on_result threw: consumer failed"}}));
}

TEST(Aggregator, CallbackException_WithOnError_GoesToOnErrorAlone) {
  CapturedReports reports;
  std::vector<std::string> delivered;
  auto o = options(1);
  o.on_error = [&](std::string_view, std::string_view message) { delivered.emplace_back(message); };
  IntGather gather([](IntResult&&) { throw std::runtime_error("consumer failed"); }, o);
  gather.add(1, 0, 1);
  EXPECT_EQ(delivered, (std::vector<std::string>{"on_result threw: consumer failed"}));
  EXPECT_TRUE(reports.take().empty());
}

TEST(Aggregator, FlushEmitsEveryKeyEvenWhenTheCallbackThrows) {
  CapturedReports reports;
  int calls = 0;
  IntGather gather([&](IntResult&&) {
    ++calls;
    throw std::runtime_error("consumer failed");
  }, options(2));
  gather.add(1, 0, 1);
  gather.add(2, 0, 1);
  gather.add(3, 0, 1);
  EXPECT_EQ(gather.flush(), 3U);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(gather.stats().pending, 0U);
  EXPECT_EQ(gather.stats().callback_errors, 3U);
  EXPECT_EQ(reports.take().size(), 3U);
}

TEST(Aggregator, CallbackExceptionOnTimerThreadIsReportedCountedAndTimerKeepsRunning) {
  CapturedReports reports;
  std::promise<void> second;
  IntGather gather([&](IntResult&& result) {
    if (result.key == 1) throw std::runtime_error("expected in this test");
    second.set_value();
  }, options(2, 1ms));
  gather.add(1, 0, 1);
  ASSERT_TRUE(gather.open(2));
  ASSERT_EQ(second.get_future().wait_for(kHangTimeout), std::future_status::ready);
  EXPECT_EQ(gather.stats().callback_errors, 1U);
  EXPECT_EQ(gather.stats().partial, 2U);
  EXPECT_EQ(reports.take().size(), 1U);
}

TEST(Aggregator, BadOptionsThrowNamingTheField) {
  auto expect_field = [](IntGather::Options o, const std::string& field, IntGather::Callback callback) {
    try {
      IntGather gather(std::move(callback), std::move(o));
      ADD_FAILURE() << "accepted bad " << field;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  };
  auto ok = [](IntResult&&) {};
  auto o = options(0);
  expect_field(o, "parts", ok);
  o = options(dcp::kMaxGatherParts + 1);
  expect_field(o, "parts", ok);
  o = options(2, 0ns);
  expect_field(o, "deadline", ok);
  o = options(2, -1ms);
  expect_field(o, "deadline", ok);
  o = options(2, 1s, 0);
  expect_field(o, "max_pending", ok);
  o = options(2, 1s, dcp::kMaxGatherPending + 1);
  expect_field(o, "max_pending", ok);
  o = options(2);
  o.remembered = dcp::kMaxGatherRemembered + 1;
  expect_field(o, "remembered", ok);
  expect_field(options(2), "on_result", nullptr);
  // The limits themselves are accepted.
  EXPECT_NO_THROW(IntGather(ok, options(dcp::kMaxGatherParts, 1s, dcp::kMaxGatherPending)));
}

TEST(Aggregator, HugeDeadlineMeansNever) {
  Collector collector;
  IntGather gather(collector.callback(), options(2, std::chrono::nanoseconds::max()));
  EXPECT_TRUE(gather.open(1));
  EXPECT_EQ(gather.flush(), 1U);
  EXPECT_EQ(collector.results.at(0).reason, dcp::GatherReason::flushed);
}

// ---------------------------------------------------------------------------------------------------
// The invariant: every key is emitted exactly once; complete results carry every part.
// ---------------------------------------------------------------------------------------------------

TEST(Aggregator, Stress_EveryKeyEmittedExactlyOnceWhileDeadlinesRaceCompletion) {
  constexpr std::size_t kParts = 4;  // one adding thread per slot
  const int keys = 20000 / DCP_STRESS_DIVISOR;
  std::vector<std::atomic<int>> emissions(static_cast<std::size_t>(keys));
  std::atomic<std::uint64_t> parts_emitted{0};
  std::atomic<int> bad_results{0};
  std::atomic<std::uint64_t> by_reason[4] = {};

  dcp::Aggregator<int, std::uint64_t>::Options o;
  o.parts = kParts;
  o.deadline = 200us;  // short enough that deadlines race the adding threads
  o.max_pending = 16;  // smaller than a batch: evictions happen too
  o.remembered = static_cast<std::size_t>(keys);  // a straggler is always late, never a new key
  dcp::Aggregator<int, std::uint64_t> gather([&](dcp::Gathered<int, std::uint64_t>&& result) {
    emissions[static_cast<std::size_t>(result.key)].fetch_add(1);
    by_reason[static_cast<int>(result.reason)].fetch_add(1);
    std::size_t filled = 0;
    for (std::size_t slot = 0; slot < result.parts.size(); ++slot) {
      if (!result.parts[slot]) continue;
      ++filled;
      if (*result.parts[slot] != static_cast<std::uint64_t>(result.key) * 10 + slot) bad_results.fetch_add(1);
    }
    const bool consistent = result.parts.size() == kParts && filled == result.received &&
                            (result.complete() ? filled == kParts : filled < kParts);
    if (!consistent) bad_results.fetch_add(1);
    parts_emitted.fetch_add(filled);
  }, o);

  // The adding threads move through the keys in batches (a barrier between batches), so each key's
  // parts arrive close together and race its deadline; slot 3 never sends the parts of every 13th
  // key, and a thread running ahead within a batch opens keys that evict older ones.
  constexpr int kBatch = 24;
  std::barrier batch_done(static_cast<std::ptrdiff_t>(kParts));
  std::atomic<std::uint64_t> stored{0};
  std::atomic<std::uint64_t> late{0};
  std::atomic<std::uint64_t> other{0};
  std::atomic<std::uint64_t> skipped{0};
  std::vector<std::jthread> threads;
  for (std::size_t slot = 0; slot < kParts; ++slot) {
    threads.emplace_back([&, slot] {
      std::minstd_rand random(static_cast<unsigned>(slot) + 1);
      for (int key = 0; key < keys; ++key) {
        if (key % kBatch == 0) batch_done.arrive_and_wait();
        if (random() % 4 == 0) std::this_thread::yield();
        if (slot == 0 && key % 7 == 0) (void)gather.open(key);
        if (slot == 3 && key % 13 == 0) {
          skipped.fetch_add(1);
          continue;
        }
        switch (gather.add(key, slot, static_cast<std::uint64_t>(key) * 10 + slot)) {
          case dcp::AddResult::added:
          case dcp::AddResult::completed: stored.fetch_add(1); break;
          case dcp::AddResult::late: late.fetch_add(1); break;
          default: other.fetch_add(1); break;
        }
      }
    });
  }
  threads.clear();
  gather.flush();

  for (int key = 0; key < keys; ++key) {
    ASSERT_EQ(emissions[static_cast<std::size_t>(key)].load(), 1) << "key " << key;
  }
  EXPECT_EQ(bad_results.load(), 0);
  EXPECT_EQ(other.load(), 0U);
  EXPECT_EQ(stored.load() + late.load() + skipped.load(), static_cast<std::uint64_t>(keys) * kParts);
  EXPECT_EQ(parts_emitted.load(), stored.load());  // every stored part was emitted, once
  const auto stats = gather.stats();
  EXPECT_EQ(stats.pending, 0U);
  EXPECT_EQ(stats.late, late.load());
  EXPECT_EQ(stats.duplicates, 0U);
  EXPECT_EQ(stats.completed, by_reason[0].load());
  EXPECT_EQ(stats.partial, by_reason[1].load());
  EXPECT_EQ(stats.evicted, by_reason[2].load());
  EXPECT_EQ(stats.flushed, by_reason[3].load());
  EXPECT_EQ(stats.completed + stats.partial + stats.evicted + stats.flushed, static_cast<std::uint64_t>(keys));
  std::printf("stress: %llu complete, %llu deadline, %llu evicted, %llu flushed, %llu late parts\n",
              static_cast<unsigned long long>(stats.completed), static_cast<unsigned long long>(stats.partial),
              static_cast<unsigned long long>(stats.evicted), static_cast<unsigned long long>(stats.flushed),
              static_cast<unsigned long long>(stats.late));
}

}  // namespace
