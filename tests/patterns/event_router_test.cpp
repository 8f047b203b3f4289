// Tests of dcp::EventRouter: execution modes (on_loop, serial, parallel), per-input queues and their
// overflow policies, failures, control events, run() through the test harness, epochs and
// cancellation, observers, shutdown, set-up rules, status metrics, and the drainer retire/enqueue race.
#include "dcp/patterns/event_router.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "dcp/patterns/status.hpp"
#include "dcp/node/node_harness.hpp"
#include "dcp/core/worker_pool.hpp"
#include "support/captured_reports.hpp"
#include "support/event_log.hpp"
#include "support/gate.hpp"
#include "support/hang_timeout.hpp"

#include "support/failing_allocation.hpp"  // this binary's operator new fails on demand

namespace {

using dcp::test::allocations_until_failure;
using dcp::test::CapturedReports;
using dcp::test::Gate;
using dcp::test::EventLog;

using namespace std::chrono_literals;

constexpr auto kHang = dcp::test::kHangTimeout;  // only catches hangs; nothing waits for it to pass

dcp::InputEvent input(std::string id, std::string text = "x") {
  return dcp::InputEvent{std::move(id), dcp::Payload::from_string(text), {}};
}

std::string text_of(const dcp::InputEvent& event) { return std::string(event.data.as_string()); }

/// Holds the worker running a handler until the test lets it go: the handler calls hold() (which
/// says it started, then waits for release()); the test waits for wait_started() (false: a hang).
class HeldWorker {
 public:
  void hold() {
    started_.open();
    EXPECT_TRUE(release_.wait()) << "never released";
  }
  [[nodiscard]] bool wait_started() const { return started_.wait(); }
  void release() { release_.open(); }

 private:
  Gate started_;
  Gate release_;
};

/// A cyclic barrier for `parties` threads with a hang timeout: arrive_and_wait() returns true once
/// `parties` threads arrived in the current round — which proves they ran at the same time.
class Rendezvous {
 public:
  explicit Rendezvous(int parties) : parties_(parties) {}
  bool arrive_and_wait() {
    std::unique_lock lock(mutex_);
    const std::uint64_t round = round_;
    if (++arrived_ == parties_) {
      arrived_ = 0;
      ++round_;
      cv_.notify_all();
      return true;
    }
    return cv_.wait_for(lock, kHang, [&] { return round_ != round; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  const int parties_;
  int arrived_ = 0;
  std::uint64_t round_ = 0;
};

/// Tracks how many calls run at once and the most seen.
struct Concurrency {
  std::atomic<int> now{0};
  std::atomic<int> most{0};
  void enter() {
    const int n = now.fetch_add(1) + 1;
    int seen = most.load();
    while (n > seen && !most.compare_exchange_weak(seen, n)) {
    }
  }
  void leave() { now.fetch_sub(1); }
};

/// The messages reported (dcp::report_error) since the last call, "source: message" for any source
/// but "event router" (so a wrong source shows in the failure).
std::vector<std::string> router_reports() {
  std::vector<std::string> messages;
  for (auto& [source, message] : CapturedReports::take()) {
    messages.push_back(source == "event router" ? message : source + ": " + message);
  }
  return messages;
}

/// Runs `f` on another thread and reports whether it finished within kHang (a hang is a failure, not
/// a stuck test binary).
template <class F>
bool finishes(F&& f) {
  auto done = std::async(std::launch::async, std::forward<F>(f));
  return done.wait_for(kHang) == std::future_status::ready;
}

// ------------------------------------------------------------------------------------------------
// Execution modes
// ------------------------------------------------------------------------------------------------

TEST(EventRouter, SerialInput_HandledInArrivalOrderOneAtATime) {
  dcp::WorkerPool pool({.threads = 4});
  dcp::EventRouter router(pool);
  Concurrency concurrency;
  std::vector<std::uint64_t> sequences;  // written by one handler at a time (checked by concurrency)
  std::vector<std::string> texts;
  router.on_input("scan", [&](const dcp::InputEvent& in, const dcp::InputContext& context) {
    concurrency.enter();
    sequences.push_back(context.sequence);
    texts.push_back(text_of(in));
    std::this_thread::yield();  // widen the window for a second concurrent call (there must be none)
    concurrency.leave();
  }, {.execution = dcp::Execution::serial, .queue_capacity = 1000});

  constexpr int kEvents = 500;
  for (int i = 0; i < kEvents; ++i) {
    const dcp::DispatchOutcome outcome = router.dispatch(input("scan", std::to_string(i)));
    ASSERT_EQ(outcome, dcp::DispatchOutcome::queued);
  }
  ASSERT_TRUE(router.wait_idle_for(kHang));

  EXPECT_EQ(concurrency.most.load(), 1);
  ASSERT_EQ(sequences.size(), static_cast<std::size_t>(kEvents));
  for (int i = 0; i < kEvents; ++i) {
    EXPECT_EQ(sequences[static_cast<std::size_t>(i)], static_cast<std::uint64_t>(i + 1));
    EXPECT_EQ(texts[static_cast<std::size_t>(i)], std::to_string(i));
  }
  const dcp::InputStats stats = router.input_stats("scan");
  EXPECT_EQ(stats.received, static_cast<std::uint64_t>(kEvents));
  EXPECT_EQ(stats.handled, static_cast<std::uint64_t>(kEvents));
  EXPECT_EQ(stats.queued, 0u);
  EXPECT_EQ(stats.running, 0u);
}

TEST(EventRouter, SerialInputs_DifferentInputsRunInParallel) {
  dcp::WorkerPool pool({.threads = 2});
  dcp::EventRouter router(pool);
  Rendezvous both(2);  // each handler waits for the other one: only possible if they overlap
  std::atomic<int> met{0};
  auto handler = [&](const dcp::InputEvent&, const dcp::InputContext&) {
    if (both.arrive_and_wait()) met.fetch_add(1);
  };
  router.on_input("left", handler).on_input("right", handler);

  EXPECT_EQ(router.dispatch(input("left")), dcp::DispatchOutcome::queued);
  EXPECT_EQ(router.dispatch(input("right")), dcp::DispatchOutcome::queued);
  ASSERT_TRUE(router.wait_idle_for(kHang));
  EXPECT_EQ(met.load(), 2);
}

TEST(EventRouter, ParallelInput_RunsUpToMaxParallelAtOnceAndNoMore) {
  dcp::WorkerPool pool({.threads = 4});
  dcp::EventRouter router(pool);
  Concurrency concurrency;
  Rendezvous pair(2);  // handlers meet two by two: proves 2 run at once
  std::atomic<int> met{0};
  router.on_input("camera", [&](const dcp::InputEvent&, const dcp::InputContext&) {
    concurrency.enter();
    if (pair.arrive_and_wait()) met.fetch_add(1);
    concurrency.leave();
  }, {.execution = dcp::Execution::parallel, .queue_capacity = 100, .max_parallel = 2});

  constexpr int kEvents = 40;  // even: every handler has a partner
  for (int i = 0; i < kEvents; ++i) router.dispatch(input("camera"));
  ASSERT_TRUE(router.wait_idle_for(kHang));

  EXPECT_EQ(met.load(), kEvents);
  EXPECT_EQ(concurrency.most.load(), 2);  // a third one at once would show here (4 threads available)
  EXPECT_EQ(router.input_stats("camera").handled, static_cast<std::uint64_t>(kEvents));
}

TEST(EventRouter, ParallelInput_MaxParallelZero_UsesEveryPoolThread) {
  dcp::WorkerPool pool({.threads = 3});
  dcp::EventRouter router(pool);
  Concurrency concurrency;
  Rendezvous three(3);
  std::atomic<int> met{0};
  router.on_input("camera", [&](const dcp::InputEvent&, const dcp::InputContext&) {
    concurrency.enter();
    if (three.arrive_and_wait()) met.fetch_add(1);
    concurrency.leave();
  }, {.execution = dcp::Execution::parallel});

  for (int i = 0; i < 9; ++i) router.dispatch(input("camera"));
  ASSERT_TRUE(router.wait_idle_for(kHang));
  EXPECT_EQ(met.load(), 9);
  EXPECT_EQ(concurrency.most.load(), 3);
}

TEST(EventRouter, OnLoopInput_RunsInsideDispatchOnTheCallingThread) {
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  std::thread::id ran_on;
  std::uint64_t sequence = 0;
  router.on_input("estop", [&](const dcp::InputEvent&, const dcp::InputContext& context) {
    ran_on = std::this_thread::get_id();
    sequence = context.sequence;
  }, {.execution = dcp::Execution::on_loop});

  EXPECT_EQ(router.dispatch(input("estop")), dcp::DispatchOutcome::handled);
  EXPECT_EQ(ran_on, std::this_thread::get_id());  // already done when dispatch returned
  EXPECT_EQ(sequence, 1u);
  EXPECT_EQ(router.input_stats("estop").handled, 1u);
  EXPECT_EQ(pool.completed(), 0u);  // nothing went through the pool
}

TEST(EventRouter, BusyInput_YieldsItsWorkerSoAnotherInputIsNotStarved) {
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  HeldWorker worker;
  EventLog order;
  std::atomic<bool> first{true};
  router.on_input("flood", [&](const dcp::InputEvent&, const dcp::InputContext&) {
    if (first.exchange(false)) worker.hold();
    order.add("flood");
  }, {.queue_capacity = 200});
  router.on_input("rare", [&](const dcp::InputEvent&, const dcp::InputContext&) { order.add("rare"); });

  router.dispatch(input("flood"));
  ASSERT_TRUE(worker.wait_started());
  for (int i = 0; i < 150; ++i) router.dispatch(input("flood"));
  router.dispatch(input("rare"));
  worker.release();
  ASSERT_TRUE(router.wait_idle_for(kHang));

  const std::vector<std::string> entries = order.entries();
  ASSERT_EQ(entries.size(), 152u);
  const auto rare = std::find(entries.begin(), entries.end(), "rare");
  ASSERT_NE(rare, entries.end());
  // On a one-thread pool "rare" ran before the flood's backlog was done.
  EXPECT_LT(rare - entries.begin(), 151);
}

// ------------------------------------------------------------------------------------------------
// Queues and overflow: a blocked worker, a full queue, dispatch never waits
// ------------------------------------------------------------------------------------------------

struct OverflowCase {
  dcp::InputOptions options;
  std::vector<dcp::DispatchOutcome> outcomes;  // of the six dispatches behind the blocked one
  std::vector<std::string> handled;            // what ran, in order
  std::uint64_t dropped;
  std::size_t queued;                          // waiting before the worker is released
};

void check_overflow(const OverflowCase& c) {
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  HeldWorker worker;
  EventLog handled;
  router.on_input("imu", [&](const dcp::InputEvent& in, const dcp::InputContext&) {
    if (text_of(in) == "0") worker.hold();
    handled.add(text_of(in));
  }, c.options);

  ASSERT_EQ(router.dispatch(input("imu", "0")), dcp::DispatchOutcome::queued);
  ASSERT_TRUE(worker.wait_started());  // the only worker is now blocked inside the handler

  std::vector<dcp::DispatchOutcome> outcomes;
  // Dispatch on another thread, so a dispatch that waited for the blocked worker fails the test
  // instead of hanging it (the router is used by one thread at a time).
  ASSERT_TRUE(finishes([&] {
    for (int i = 1; i <= 6; ++i) outcomes.push_back(router.dispatch(input("imu", std::to_string(i))));
  }));
  EXPECT_EQ(outcomes, c.outcomes);
  dcp::InputStats before = router.input_stats("imu");
  EXPECT_EQ(before.queued, c.queued);
  EXPECT_EQ(before.running, 1u);
  EXPECT_EQ(before.dropped, c.dropped);

  worker.release();
  ASSERT_TRUE(router.wait_idle_for(kHang));
  EXPECT_EQ(handled.entries(), c.handled);
  const dcp::InputStats after = router.input_stats("imu");
  EXPECT_EQ(after.received, 7u);
  EXPECT_EQ(after.handled, c.handled.size());
  EXPECT_EQ(after.dropped, c.dropped);
  EXPECT_EQ(after.received, after.handled + after.dropped);
}

TEST(EventRouter, FullQueue_DropOldest_KeepsTheNewestN) {
  using O = dcp::DispatchOutcome;
  check_overflow({.options = {.queue_capacity = 3, .overflow = dcp::Overflow::drop_oldest},
                  .outcomes = {O::queued, O::queued, O::queued, O::queued_dropped_oldest, O::queued_dropped_oldest,
                               O::queued_dropped_oldest},
                  .handled = {"0", "4", "5", "6"},
                  .dropped = 3,
                  .queued = 3});
}

TEST(EventRouter, FullQueue_DropNewest_KeepsTheOldestN) {
  using O = dcp::DispatchOutcome;
  check_overflow({.options = {.queue_capacity = 3, .overflow = dcp::Overflow::drop_newest},
                  .outcomes = {O::queued, O::queued, O::queued, O::dropped, O::dropped, O::dropped},
                  .handled = {"0", "1", "2", "3"},
                  .dropped = 3,
                  .queued = 3});
}

TEST(EventRouter, FullQueue_KeepLatest_KeepsOnlyTheNewest) {
  using O = dcp::DispatchOutcome;
  check_overflow({.options = dcp::InputOptions::keep_latest(),
                  .outcomes = {O::queued, O::queued_dropped_oldest, O::queued_dropped_oldest, O::queued_dropped_oldest,
                               O::queued_dropped_oldest, O::queued_dropped_oldest},
                  .handled = {"0", "6"},
                  .dropped = 5,
                  .queued = 1});
}

TEST(EventRouter, FullQueueOfOneInput_DoesNotHoldBackAnotherInput) {
  dcp::WorkerPool pool({.threads = 2});
  dcp::EventRouter router(pool);
  HeldWorker worker;
  Gate other_ran;
  router.on_input("slow", [&](const dcp::InputEvent&, const dcp::InputContext&) { worker.hold(); },
                  {.queue_capacity = 1});
  router.on_input("fast", [&](const dcp::InputEvent&, const dcp::InputContext&) { other_ran.open(); });

  router.dispatch(input("slow"));
  ASSERT_TRUE(worker.wait_started());
  for (int i = 0; i < 10; ++i) router.dispatch(input("slow"));
  router.dispatch(input("fast"));
  EXPECT_TRUE(other_ran.wait());  // while "slow" is still held
  worker.release();
  ASSERT_TRUE(router.wait_idle_for(kHang));
  EXPECT_EQ(router.input_stats("slow").dropped, 9u);
}

// ------------------------------------------------------------------------------------------------
// Failures
// ------------------------------------------------------------------------------------------------

TEST(EventRouter, ThrowingHandlers_AreCountedDeliveredToOnErrorAndTheLoopGoesOn) {
  CapturedReports reports;
  dcp::WorkerPool pool({.threads = 2});
  EventLog errors;
  dcp::EventRouter router(pool, {.on_error = [&](std::string_view source, std::string_view message) {
                                   errors.add(std::string(source) + ": " + std::string(message));
                                 }});
  router.on_input("pooled", [](const dcp::InputEvent&, const dcp::InputContext& context) {
    if (context.sequence % 2 == 0) throw std::runtime_error("even");
  }, {.queue_capacity = 100});
  router.on_input("inline", [](const dcp::InputEvent&, const dcp::InputContext&) {
    throw std::runtime_error("always");
  }, {.execution = dcp::Execution::on_loop});

  for (int i = 0; i < 10; ++i) router.dispatch(input("pooled"));
  EXPECT_EQ(router.dispatch(input("inline")), dcp::DispatchOutcome::handled);
  EXPECT_EQ(router.dispatch(input("inline")), dcp::DispatchOutcome::handled);
  ASSERT_TRUE(router.wait_idle_for(kHang));

  const dcp::InputStats pooled = router.input_stats("pooled");
  EXPECT_EQ(pooled.handled, 5u);
  EXPECT_EQ(pooled.failed, 5u);
  const dcp::InputStats inline_stats = router.input_stats("inline");
  EXPECT_EQ(inline_stats.handled, 0u);
  EXPECT_EQ(inline_stats.failed, 2u);
  std::vector<std::string> reported = errors.entries();
  std::sort(reported.begin(), reported.end());
  ASSERT_EQ(reported.size(), 7u);
  EXPECT_EQ(reported.front(), "event router: input 'inline' handler threw: always");
  EXPECT_EQ(reported.back(), "event router: input 'pooled' handler threw: even");
  EXPECT_EQ(pool.failed(), 0u);  // the router caught them: no worker task failed
  EXPECT_EQ(reports.counted(), 0u);  // on_error took them all

  // The pooled input still works afterwards.
  router.dispatch(input("pooled"));
  ASSERT_TRUE(router.wait_idle_for(kHang));
  EXPECT_EQ(router.input_stats("pooled").handled, 6u);
}

TEST(EventRouter, ThrowingHandlerWithoutOnError_IsReportedNamingTheInput) {
  CapturedReports reports;
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  router.on_input("lidar", [](const dcp::InputEvent&, const dcp::InputContext&) {
    throw std::runtime_error("bad scan");
  });
  EXPECT_EQ(router.dispatch(input("lidar")), dcp::DispatchOutcome::queued);
  ASSERT_TRUE(router.wait_idle_for(kHang));
  EXPECT_EQ(router.input_stats("lidar").failed, 1u);
  EXPECT_EQ(router_reports(), (std::vector<std::string>{"input 'lidar' handler threw: bad scan"}));
  EXPECT_EQ(reports.counted(), 1u);
}

TEST(EventRouter, ThrowingOnError_TheErrorAndWhatOnErrorThrewAreReported) {
  CapturedReports reports;
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool,
                          {.on_error = [](std::string_view, std::string_view) { throw std::runtime_error("42"); }});
  router.on_input("a", [](const dcp::InputEvent&, const dcp::InputContext&) { throw std::runtime_error("x"); },
                  {.execution = dcp::Execution::on_loop});
  EXPECT_EQ(router.dispatch(input("a")), dcp::DispatchOutcome::handled);
  EXPECT_EQ(router.input_stats("a").failed, 1u);
  EXPECT_EQ(router_reports(),
            (std::vector<std::string>{"input 'a' handler threw: x", "its on_error callback threw: 42"}));
}

TEST(EventRouter, ThrowingControlHandlers_AreCountedReportedByNameAndDoNotStopTheRouterFromEnding) {
  CapturedReports reports;
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  router.on_input_closed([](std::string_view) { throw std::runtime_error("closed"); });
  router.add_input_closed_observer([](std::string_view) { throw std::runtime_error("watching"); });
  router.on_unknown_input([](const dcp::InputEvent&) { throw std::runtime_error("who"); });
  router.on_error_event([](const dcp::ErrorEvent&) { throw std::runtime_error("error"); });
  router.on_stop([] { throw std::runtime_error("stop"); });

  EXPECT_EQ(router.dispatch(dcp::InputClosedEvent{"lidar"}), dcp::DispatchOutcome::handled);
  EXPECT_EQ(router.dispatch(input("nobody")), dcp::DispatchOutcome::unknown_input);
  EXPECT_EQ(router.dispatch(dcp::ErrorEvent{"e"}), dcp::DispatchOutcome::handled);
  EXPECT_EQ(router.dispatch(dcp::StopEvent{}), dcp::DispatchOutcome::handled);
  EXPECT_TRUE(router.has_ended());
  EXPECT_EQ(router.stats().control_failures, 5u);
  EXPECT_EQ(router_reports(), (std::vector<std::string>{"an input-closed observer for input 'lidar' threw: watching",
                                                        "on_input_closed for input 'lidar' threw: closed",
                                                        "on_unknown_input for input 'nobody' threw: who",
                                                        "on_error_event threw: error", "on_stop threw: stop"}));
}

TEST(EventRouter, InputRecovered_CallsOnInputRecoveredWithTheId_ThenTheInputIsRoutedAsUsual) {
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  std::vector<std::string> calls;
  router.on_input("lidar", [&](const dcp::InputEvent& e, const dcp::InputContext&) { calls.push_back("input " + e.id); },
                  {.execution = dcp::Execution::on_loop});
  router.on_input_closed([&](std::string_view id) { calls.push_back("closed " + std::string(id)); });
  router.on_input_recovered([&](std::string_view id) { calls.push_back("recovered " + std::string(id)); });
  EXPECT_EQ(router.dispatch(dcp::InputClosedEvent{"lidar"}), dcp::DispatchOutcome::handled);
  EXPECT_EQ(router.dispatch(dcp::InputRecoveredEvent{"lidar"}), dcp::DispatchOutcome::handled);
  EXPECT_EQ(router.dispatch(input("lidar")), dcp::DispatchOutcome::handled);
  EXPECT_FALSE(router.has_ended());
  EXPECT_EQ(calls, (std::vector<std::string>{"closed lidar", "recovered lidar", "input lidar"}));
}

TEST(EventRouter, ThrowingInputRecoveredHandler_IsCountedAndReportedByName) {
  CapturedReports reports;
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  router.on_input_recovered([](std::string_view) { throw std::runtime_error("back"); });
  EXPECT_EQ(router.dispatch(dcp::InputRecoveredEvent{"lidar"}), dcp::DispatchOutcome::handled);
  EXPECT_EQ(router.stats().control_failures, 1u);
  EXPECT_EQ(router_reports(), (std::vector<std::string>{"on_input_recovered for input 'lidar' threw: back"}));
}

TEST(EventRouter, ThrowingAllInputsClosedHandler_IsReportedAndTheRouterEnds) {
  CapturedReports reports;
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  router.on_all_inputs_closed([] { throw std::runtime_error("closing"); });
  EXPECT_EQ(router.dispatch(dcp::AllInputsClosedEvent{}), dcp::DispatchOutcome::handled);
  EXPECT_TRUE(router.has_ended());
  EXPECT_EQ(router_reports(), (std::vector<std::string>{"on_all_inputs_closed threw: closing"}));
}

// ------------------------------------------------------------------------------------------------
// Control events
// ------------------------------------------------------------------------------------------------

TEST(EventRouter, Stop_CallsOnStopThenInputsStillRouted_EveryOtherLaterDispatchReturnsEnded) {
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  int stops = 0;
  int inputs = 0;
  router.on_input("a", [&](const dcp::InputEvent&, const dcp::InputContext&) { ++inputs; },
                  {.execution = dcp::Execution::on_loop});
  router.on_stop([&] { ++stops; });

  EXPECT_EQ(router.dispatch(dcp::StopEvent{}), dcp::DispatchOutcome::handled);
  EXPECT_EQ(stops, 1);
  EXPECT_EQ(router.dispatch(input("a")), dcp::DispatchOutcome::handled) << "an input queued before Stop";
  EXPECT_EQ(router.dispatch(dcp::StopEvent{}), dcp::DispatchOutcome::ended);
  EXPECT_EQ(router.dispatch(dcp::InputClosedEvent{"a"}), dcp::DispatchOutcome::ended);
  EXPECT_EQ(router.dispatch(dcp::AllInputsClosedEvent{}), dcp::DispatchOutcome::ended);
  EXPECT_EQ(stops, 1);
  EXPECT_EQ(inputs, 1);
  EXPECT_EQ(router.input_stats("a").received, 1u);
}

TEST(EventRouter, AllInputsClosed_CallsItsHandlerThenEnds) {
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  int all_closed = 0;
  router.on_all_inputs_closed([&] { ++all_closed; });
  EXPECT_EQ(router.dispatch(dcp::AllInputsClosedEvent{}), dcp::DispatchOutcome::handled);
  EXPECT_EQ(all_closed, 1);
  EXPECT_TRUE(router.has_ended());
  EXPECT_EQ(router.dispatch(dcp::ErrorEvent{"late"}), dcp::DispatchOutcome::ended);
  EXPECT_EQ(router.stats().error_events, 0u);
}

TEST(EventRouter, InputClosed_ObserversRunBeforeTheHandler) {
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  std::vector<std::string> calls;
  router.on_input_closed([&](std::string_view id) { calls.push_back("handler:" + std::string(id)); });
  router.add_input_closed_observer([&](std::string_view id) { calls.push_back("observer1:" + std::string(id)); });
  router.add_input_closed_observer([&](std::string_view id) { calls.push_back("observer2:" + std::string(id)); });

  EXPECT_EQ(router.dispatch(dcp::InputClosedEvent{"imu"}), dcp::DispatchOutcome::handled);
  EXPECT_EQ(calls, (std::vector<std::string>{"observer1:imu", "observer2:imu", "handler:imu"}));
  EXPECT_FALSE(router.has_ended());
}

TEST(EventRouter, UnknownInput_DefaultCountsAndIgnores) {
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  EXPECT_EQ(router.dispatch(input("nobody")), dcp::DispatchOutcome::unknown_input);
  EXPECT_EQ(router.dispatch(input("nobody")), dcp::DispatchOutcome::unknown_input);
  EXPECT_EQ(router.stats().unknown_inputs, 2u);
  EXPECT_THROW((void)router.input_stats("nobody"), std::invalid_argument);
}

TEST(EventRouter, UnknownInput_CustomHandlerGetsTheEvent) {
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  std::vector<std::string> seen;
  router.on_unknown_input([&](const dcp::InputEvent& in) { seen.push_back(in.id + "=" + text_of(in)); });
  EXPECT_EQ(router.dispatch(input("nobody", "hi")), dcp::DispatchOutcome::unknown_input);
  EXPECT_EQ(seen, (std::vector<std::string>{"nobody=hi"}));
  EXPECT_EQ(router.stats().unknown_inputs, 1u);
}

TEST(EventRouter, ErrorEvent_GoesToItsHandlerAndIsCounted) {
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  EXPECT_EQ(router.dispatch(dcp::ErrorEvent{"ignored by default"}), dcp::DispatchOutcome::handled);
  EXPECT_EQ(router.stats().error_events, 1u);

  dcp::EventRouter with_handler(pool);
  std::vector<std::string> messages;
  with_handler.on_error_event([&](const dcp::ErrorEvent& e) { messages.push_back(e.message); });
  EXPECT_EQ(with_handler.dispatch(dcp::ErrorEvent{"runner hiccup"}), dcp::DispatchOutcome::handled);
  EXPECT_EQ(messages, (std::vector<std::string>{"runner hiccup"}));
  EXPECT_EQ(with_handler.stats().error_events, 1u);
  EXPECT_FALSE(with_handler.has_ended());  // the stream goes on after an ErrorEvent
}

// ------------------------------------------------------------------------------------------------
// run() with the node harness
// ------------------------------------------------------------------------------------------------

TEST(EventRouter, Run_StopThenTheQueuedInputs_AllRouted_EndsWithTheStream) {
  dcp::testing::NodeHarness harness("planner", {"scan", "goal"}, {});
  dcp::Node node = harness.node();
  dcp::WorkerPool pool({.threads = 2});
  dcp::EventRouter router(pool);
  std::atomic<int> scans{0};
  std::vector<std::string> goals;
  bool stopped = false;
  router.on_input("scan", [&](const dcp::InputEvent&, const dcp::InputContext&) { scans.fetch_add(1); },
                  {.queue_capacity = 10});
  router.on_input("goal", [&](const dcp::InputEvent& in, const dcp::InputContext&) { goals.push_back(text_of(in)); },
                  {.execution = dcp::Execution::on_loop});
  std::vector<std::string> goals_at_stop;
  router.on_stop([&] {
    stopped = true;
    goals_at_stop = goals;
  });

  for (int i = 0; i < 5; ++i) harness.push_input("scan", "s");
  harness.push_input("goal", "kitchen");
  harness.push_stop();
  EXPECT_EQ(router.run(node.events), dcp::RunEnd::stop);
  EXPECT_TRUE(stopped);
  EXPECT_TRUE(goals_at_stop.empty()) << "Stop comes first";
  EXPECT_EQ(goals, (std::vector<std::string>{"kitchen"})) << "the input queued before Stop is still routed";
  router.shutdown(dcp::ShutdownMode::drain);
  EXPECT_EQ(scans.load(), 5);
  EXPECT_EQ(router.run(node.events), dcp::RunEnd::stop);  // already ended: returns at once
}

TEST(EventRouter, Run_EndsOnAllInputsClosed) {
  dcp::testing::NodeHarness harness("planner", {"scan"}, {});
  dcp::Node node = harness.node();
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  std::vector<std::string> closed;
  bool all_closed = false;
  router.on_input("scan", [](const dcp::InputEvent&, const dcp::InputContext&) {});
  router.on_input_closed([&](std::string_view id) { closed.emplace_back(id); });
  router.on_all_inputs_closed([&] { all_closed = true; });

  harness.push_input("scan", "s");
  harness.push_input_closed("scan");
  harness.push_all_inputs_closed();
  EXPECT_EQ(router.run(node.events), dcp::RunEnd::all_inputs_closed);
  EXPECT_EQ(closed, (std::vector<std::string>{"scan"}));
  EXPECT_TRUE(all_closed);
}

TEST(EventRouter, Run_StreamEndedWithoutStop_ReportsStreamEnded) {
  dcp::testing::NodeHarness harness("planner", {"scan"}, {});
  dcp::Node node = harness.node();
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  router.on_input("scan", [](const dcp::InputEvent&, const dcp::InputContext&) {});
  harness.push_input("scan", "s");
  harness.end();
  EXPECT_EQ(router.run(node.events), dcp::RunEnd::stream_ended);
  ASSERT_TRUE(router.wait_idle_for(kHang));
  EXPECT_EQ(router.input_stats("scan").handled, 1u);
}

// ------------------------------------------------------------------------------------------------
// Epochs and cancellation (the emergency stop's hooks)
// ------------------------------------------------------------------------------------------------

TEST(EventRouter, EpochSource_StampsEveryInputAtDispatch) {
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  std::atomic<std::uint64_t> epoch{7};
  router.set_epoch_source([&] { return epoch.load(); });
  std::vector<std::uint64_t> inline_epochs;
  std::atomic<std::uint64_t> pooled_epoch{0};
  router.on_input("a", [&](const dcp::InputEvent&, const dcp::InputContext& c) { inline_epochs.push_back(c.epoch); },
                  {.execution = dcp::Execution::on_loop});
  router.on_input("b", [&](const dcp::InputEvent&, const dcp::InputContext& c) { pooled_epoch = c.epoch; });

  router.dispatch(input("a"));
  epoch = 8;
  router.dispatch(input("a"));
  router.dispatch(input("b"));
  ASSERT_TRUE(router.wait_idle_for(kHang));
  EXPECT_EQ(inline_epochs, (std::vector<std::uint64_t>{7, 8}));
  EXPECT_EQ(pooled_epoch.load(), 8u);
}

TEST(EventRouter, NoEpochSource_EpochIsZero) {
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  std::uint64_t epoch = 99;
  router.on_input("a", [&](const dcp::InputEvent&, const dcp::InputContext& c) { epoch = c.epoch; },
                  {.execution = dcp::Execution::on_loop});
  router.dispatch(input("a"));
  EXPECT_EQ(epoch, 0u);
}

TEST(EventRouter, StaleQueuedEvents_AreDiscardedNotRun) {
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  std::atomic<std::uint64_t> epoch{1};
  router.set_epoch_source([&] { return epoch.load(); });
  HeldWorker worker;
  EventLog ran;
  router.on_input("work", [&](const dcp::InputEvent& in, const dcp::InputContext&) {
    if (text_of(in) == "first") worker.hold();
    ran.add(text_of(in));
  }, {.queue_capacity = 10});

  router.dispatch(input("work", "first"));
  ASSERT_TRUE(worker.wait_started());
  for (int i = 0; i < 3; ++i) router.dispatch(input("work", "stale"));
  epoch = 2;  // an e-stop: no discard_queued_and_cancel() call, the epoch alone must do it
  router.dispatch(input("work", "fresh"));
  worker.release();
  ASSERT_TRUE(router.wait_idle_for(kHang));

  EXPECT_EQ(ran.entries(), (std::vector<std::string>{"first", "fresh"}));
  const dcp::InputStats stats = router.input_stats("work");
  EXPECT_EQ(stats.discarded, 3u);
  EXPECT_EQ(stats.handled, 2u);
  EXPECT_EQ(stats.received, 5u);
}

TEST(EventRouter, DiscardQueuedAndCancel_RequestsStopOnRunningHandlerAndDropsQueued) {
  dcp::WorkerPool pool({.threads = 2});
  dcp::EventRouter router(pool);
  Gate started;
  std::atomic<bool> saw_stop{false};
  std::atomic<int> runs{0};
  std::atomic<bool> later_token_stopped{true};
  Gate later_ran;
  router.on_input("work", [&](const dcp::InputEvent& in, const dcp::InputContext& context) {
    runs.fetch_add(1);
    if (text_of(in) == "later") {
      later_token_stopped = context.stop.stop_requested();
      later_ran.open();
      return;
    }
    // Wait (no timer) until the token is requested.
    Gate stop_seen;
    std::stop_callback on_stop(context.stop, [&] { stop_seen.open(); });
    started.open();
    saw_stop = stop_seen.wait();
  }, {.queue_capacity = 10});
  std::atomic<int> other_runs{0};
  router.on_input("other", [&](const dcp::InputEvent&, const dcp::InputContext&) { other_runs.fetch_add(1); },
                  {.queue_capacity = 10});

  router.dispatch(input("work", "blocking"));
  ASSERT_TRUE(started.wait());
  for (int i = 0; i < 4; ++i) router.dispatch(input("work", "queued"));

  const std::size_t discarded = router.discard_queued_and_cancel();
  EXPECT_EQ(discarded, 4u);
  ASSERT_TRUE(router.wait_idle_for(kHang));
  EXPECT_TRUE(saw_stop.load());
  EXPECT_EQ(runs.load(), 1);

  router.dispatch(input("work", "later"));  // gets a fresh token
  ASSERT_TRUE(later_ran.wait());
  EXPECT_FALSE(later_token_stopped.load());
  ASSERT_TRUE(router.wait_idle_for(kHang));

  const dcp::InputStats stats = router.input_stats("work");
  EXPECT_EQ(stats.discarded, 4u);
  EXPECT_EQ(stats.handled, 2u);
  EXPECT_EQ(stats.received, stats.handled + stats.discarded);
  EXPECT_EQ(router.discard_queued_and_cancel(), 0u);  // nothing waiting
}

TEST(EventRouter, DiscardQueuedAndCancel_FromAHandler_DoesNotWaitForIt) {
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  std::atomic<bool> token_stopped{false};
  std::atomic<std::size_t> discarded{99};
  router.on_input("work", [&](const dcp::InputEvent&, const dcp::InputContext& context) {
    discarded = router.discard_queued_and_cancel();
    token_stopped = context.stop.stop_requested();
  });
  router.dispatch(input("work"));
  ASSERT_TRUE(router.wait_idle_for(kHang));
  EXPECT_EQ(discarded.load(), 0u);
  EXPECT_TRUE(token_stopped.load());
}

// ------------------------------------------------------------------------------------------------
// Observers
// ------------------------------------------------------------------------------------------------

TEST(EventRouter, InputObservers_SeeEveryInputKnownOrNotBeforeItsHandler) {
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  std::vector<std::string> calls;
  router.on_input("a", [&](const dcp::InputEvent& in, const dcp::InputContext&) { calls.push_back("handler:" + in.id); },
                  {.execution = dcp::Execution::on_loop});
  router.add_input_observer([&](const dcp::InputEvent& in) { calls.push_back("observer:" + in.id); });

  router.dispatch(input("a"));
  router.dispatch(input("unknown"));
  router.dispatch(dcp::InputClosedEvent{"a"});  // not an input: input observers are not called
  EXPECT_EQ(calls, (std::vector<std::string>{"observer:a", "handler:a", "observer:unknown"}));
}

TEST(EventRouter, ThrowingObserver_IsCountedReportedAndTheInputStillDispatched) {
  CapturedReports reports;
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  int handled = 0;
  router.on_input("a", [&](const dcp::InputEvent&, const dcp::InputContext&) { ++handled; },
                  {.execution = dcp::Execution::on_loop});
  router.add_input_observer([](const dcp::InputEvent&) { throw std::runtime_error("observer"); });
  EXPECT_EQ(router.dispatch(input("a")), dcp::DispatchOutcome::handled);
  EXPECT_EQ(handled, 1);
  EXPECT_EQ(router.stats().control_failures, 1u);
  EXPECT_EQ(router_reports(), (std::vector<std::string>{"an input observer for input 'a' threw: observer"}));
}

// ------------------------------------------------------------------------------------------------
// Shutdown
// ------------------------------------------------------------------------------------------------

TEST(EventRouter, ShutdownDrain_RunsQueuedWorkWaitsThenDropsNewInputs) {
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  HeldWorker worker;
  std::atomic<int> handled{0};
  router.on_input("work", [&](const dcp::InputEvent& in, const dcp::InputContext&) {
    if (text_of(in) == "first") worker.hold();
    handled.fetch_add(1);
  }, {.queue_capacity = 10});

  router.dispatch(input("work", "first"));
  ASSERT_TRUE(worker.wait_started());
  for (int i = 0; i < 5; ++i) router.dispatch(input("work"));

  std::atomic<bool> returned{false};
  auto shutting = std::async(std::launch::async, [&] {
    router.shutdown(dcp::ShutdownMode::drain);
    returned = true;
  });
  // shutdown() cannot return while "first" is blocked; release it and it must finish everything.
  EXPECT_FALSE(returned.load());
  worker.release();
  ASSERT_EQ(shutting.wait_for(kHang), std::future_status::ready);
  EXPECT_EQ(handled.load(), 6);

  // After shutdown: refused with `closed`, counted per input and router-wide, nothing runs.
  EXPECT_EQ(router.dispatch(input("work")), dcp::DispatchOutcome::closed);
  const dcp::InputStats stats = router.input_stats("work");
  EXPECT_EQ(stats.refused_after_shutdown, 1u);
  EXPECT_EQ(stats.dropped, 0u);
  EXPECT_EQ(stats.received, 7u);
  EXPECT_EQ(router.stats().refused_after_shutdown, 1u);
  EXPECT_EQ(handled.load(), 6);
  router.shutdown(dcp::ShutdownMode::drain);  // idempotent
}

TEST(EventRouter, ShutdownCancel_DiscardsQueuedAndCancelsRunning) {
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  Gate started;
  std::atomic<int> runs{0};
  router.on_input("work", [&](const dcp::InputEvent&, const dcp::InputContext& context) {
    if (runs.fetch_add(1) == 0) {
      Gate stop_seen;
      std::stop_callback on_stop(context.stop, [&] { stop_seen.open(); });
      started.open();
      (void)stop_seen.wait();
    }
  }, {.queue_capacity = 10});
  router.on_input("inline", [](const dcp::InputEvent&, const dcp::InputContext&) {},
                  {.execution = dcp::Execution::on_loop});

  router.dispatch(input("work"));
  ASSERT_TRUE(started.wait());
  for (int i = 0; i < 5; ++i) router.dispatch(input("work"));
  ASSERT_TRUE(finishes([&] { router.shutdown(dcp::ShutdownMode::cancel); }));

  EXPECT_EQ(runs.load(), 1);
  const dcp::InputStats stats = router.input_stats("work");
  EXPECT_EQ(stats.discarded, 5u);
  EXPECT_EQ(stats.handled, 1u);
  EXPECT_EQ(router.dispatch(input("inline")), dcp::DispatchOutcome::closed);
  EXPECT_EQ(router.input_stats("inline").refused_after_shutdown, 1u);
  EXPECT_EQ(router.input_stats("inline").handled, 0u);
}

TEST(EventRouter, Destructor_DrainsQueuedWork) {
  dcp::WorkerPool pool({.threads = 2});
  std::atomic<int> handled{0};
  {
    dcp::EventRouter router(pool);
    router.on_input("work", [&](const dcp::InputEvent&, const dcp::InputContext&) {
      std::this_thread::yield();
      handled.fetch_add(1);
    }, {.queue_capacity = 100});
    for (int i = 0; i < 50; ++i) router.dispatch(input("work"));
  }
  EXPECT_EQ(handled.load(), 50);
}

TEST(EventRouter, PoolShutDown_InputsAreDroppedAndNothingHangs) {
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  router.on_input("work", [](const dcp::InputEvent&, const dcp::InputContext&) {});
  pool.shutdown(dcp::ShutdownMode::drain);
  EXPECT_EQ(router.dispatch(input("work")), dcp::DispatchOutcome::dropped);
  EXPECT_TRUE(router.wait_idle_for(kHang));
  EXPECT_EQ(router.input_stats("work").dropped, 1u);
}

TEST(EventRouter, PoolCancelledWhileADrainerWaits_WaitingEventsDiscardedRouterIdle) {
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  std::atomic<int> runs{0};
  router.on_input("work", [&](const dcp::InputEvent&, const dcp::InputContext&) { runs.fetch_add(1); });
  // Occupy the only worker until the pool is cancelled, so the router's drainer stays queued.
  Gate occupied;
  pool.post([&occupied](std::stop_token stop) {
    Gate stopped;
    std::stop_callback on_stop(stop, [&] { stopped.open(); });
    occupied.open();
    (void)stopped.wait();
  });
  ASSERT_TRUE(occupied.wait());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(router.dispatch(input("work")), dcp::DispatchOutcome::queued);

  ASSERT_TRUE(finishes([&] { pool.shutdown(dcp::ShutdownMode::cancel); }));
  ASSERT_TRUE(router.wait_idle_for(kHang));
  EXPECT_EQ(runs.load(), 0);
  const dcp::InputStats stats = router.input_stats("work");
  EXPECT_EQ(stats.discarded, 3u);
  EXPECT_EQ(stats.queued, 0u);
}

TEST(EventRouter, WaitIdleFor_FalseWhileAHandlerRuns) {
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  HeldWorker worker;
  router.on_input("work", [&](const dcp::InputEvent&, const dcp::InputContext&) { worker.hold(); });
  EXPECT_TRUE(router.wait_idle_for(0ms));
  router.dispatch(input("work"));
  ASSERT_TRUE(worker.wait_started());
  EXPECT_FALSE(router.wait_idle_for(1ms));
  EXPECT_EQ(router.input_stats("work").running, 1u);
  worker.release();
  EXPECT_TRUE(router.wait_idle_for(kHang));
}

TEST(EventRouter, WaitIdleFor_HugeTimeoutWaitsForTheHandler_NegativeThrows) {
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  HeldWorker worker;
  router.on_input("work", [&](const dcp::InputEvent&, const dcp::InputContext&) { worker.hold(); });
  EXPECT_THROW((void)router.wait_idle_for(-1ns), std::invalid_argument);
  router.dispatch(input("work"));
  ASSERT_TRUE(worker.wait_started());
  // nanoseconds::max() must mean "forever", not overflow into the past and return false at once.
  std::atomic<int> result{-1};
  Gate calling;
  std::thread waiter([&] {
    calling.open();
    result = router.wait_idle_for(std::chrono::nanoseconds::max()) ? 1 : 0;
  });
  ASSERT_TRUE(calling.wait());
  worker.release();
  waiter.join();
  EXPECT_EQ(result.load(), 1);
}

// ------------------------------------------------------------------------------------------------
// Set-up rules and configuration errors
// ------------------------------------------------------------------------------------------------

TEST(EventRouter, SetUpAfterFirstDispatch_ThrowsLogicError) {
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  router.dispatch(dcp::ErrorEvent{"first"});
  auto handler = [](const dcp::InputEvent&, const dcp::InputContext&) {};
  EXPECT_THROW(router.on_input("late", handler), std::logic_error);
  EXPECT_THROW(router.on_stop([] {}), std::logic_error);
  EXPECT_THROW(router.on_input_closed([](std::string_view) {}), std::logic_error);
  EXPECT_THROW(router.on_all_inputs_closed([] {}), std::logic_error);
  EXPECT_THROW(router.on_unknown_input([](const dcp::InputEvent&) {}), std::logic_error);
  EXPECT_THROW(router.on_error_event([](const dcp::ErrorEvent&) {}), std::logic_error);
  EXPECT_THROW(router.set_epoch_source([] { return std::uint64_t{1}; }), std::logic_error);
  EXPECT_THROW(router.add_input_observer([](const dcp::InputEvent&) {}), std::logic_error);
  EXPECT_THROW(router.add_input_closed_observer([](std::string_view) {}), std::logic_error);
}

TEST(EventRouter, SetUpAfterShutdown_ThrowsLogicErrorNamingTheMember_NothingDispatchedBefore) {
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  router.shutdown();
  try {
    router.on_input("late", [](const dcp::InputEvent&, const dcp::InputContext&) {});
    FAIL() << "on_input after shutdown() did not throw";
  } catch (const std::logic_error& e) {
    EXPECT_STREQ(e.what(), "dcp::EventRouter::on_input: called after shutdown()");
  }
  EXPECT_THROW(router.on_stop([] {}), std::logic_error);
  EXPECT_THROW(router.set_epoch_source([] { return std::uint64_t{1}; }), std::logic_error);
  EXPECT_THROW(router.add_input_observer([](const dcp::InputEvent&) {}), std::logic_error);
  EXPECT_EQ(router.stats().refused_after_shutdown, 0u);  // set-up is not work: not counted
}

/// The message of the std::invalid_argument `f` throws (fails the test if it throws nothing).
template <class F>
std::string invalid_argument_message(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  ADD_FAILURE() << "no std::invalid_argument";
  return {};
}

TEST(EventRouter, BadRegistrations_ThrowInvalidArgumentNamingTheInputAndField) {
  dcp::WorkerPool pool({.threads = 2});
  dcp::EventRouter router(pool);
  auto handler = [](const dcp::InputEvent&, const dcp::InputContext&) {};
  router.on_input("lidar", handler);

  std::string message = invalid_argument_message([&] { router.on_input("lidar", handler); });
  EXPECT_NE(message.find("'lidar'"), std::string::npos) << message;
  EXPECT_NE(message.find("already registered"), std::string::npos) << message;

  message = invalid_argument_message([&] { router.on_input("imu", dcp::InputHandler{}); });
  EXPECT_NE(message.find("'imu'"), std::string::npos) << message;
  EXPECT_NE(message.find("empty"), std::string::npos) << message;

  message = invalid_argument_message([&] { router.on_input("imu", handler, {.overflow = dcp::Overflow::block}); });
  EXPECT_NE(message.find("'imu'"), std::string::npos) << message;
  EXPECT_NE(message.find("InputOptions::overflow"), std::string::npos) << message;

  message = invalid_argument_message([&] { router.on_input("imu", handler, {.queue_capacity = 0}); });
  EXPECT_NE(message.find("InputOptions::queue_capacity"), std::string::npos) << message;

  message = invalid_argument_message([&] { router.on_input("imu", handler, {.queue_capacity = dcp::kMaxCapacity + 1}); });
  EXPECT_NE(message.find("InputOptions::queue_capacity"), std::string::npos) << message;

  message = invalid_argument_message(
      [&] { router.on_input("imu", handler, {.execution = dcp::Execution::serial, .max_parallel = 2}); });
  EXPECT_NE(message.find("InputOptions::max_parallel"), std::string::npos) << message;

  // None of the failed registrations left anything behind: "imu" is still free.
  router.on_input("imu", handler, {.execution = dcp::Execution::on_loop, .overflow = dcp::Overflow::block});
  EXPECT_EQ(router.dispatch(input("imu")), dcp::DispatchOutcome::handled);
}

// ------------------------------------------------------------------------------------------------
// Status metrics
// ------------------------------------------------------------------------------------------------

TEST(EventRouter, StatusBoard_ReceivesPerInputCountersGaugeAndLatency) {
  CapturedReports reports;  // the "throw" input's report
  dcp::WorkerPool pool({.threads = 1});
  dcp::StatusBoard status("node");
  dcp::EventRouter router(pool, {.status = &status});
  HeldWorker worker;
  router.on_input("imu", [&](const dcp::InputEvent& in, const dcp::InputContext&) {
    if (text_of(in) == "block") worker.hold();
    if (text_of(in) == "throw") throw std::runtime_error("bad");
  }, {.queue_capacity = 2, .overflow = dcp::Overflow::drop_newest});

  router.dispatch(input("imu", "block"));
  ASSERT_TRUE(worker.wait_started());
  router.dispatch(input("imu", "ok"));
  router.dispatch(input("imu", "throw"));
  router.dispatch(input("imu", "dropped"));
  EXPECT_EQ(status.gauge("input.imu.queue").value(), 2);
  worker.release();
  ASSERT_TRUE(router.wait_idle_for(kHang));
  router.dispatch(input("unknown"));
  router.dispatch(dcp::ErrorEvent{"e"});

  EXPECT_EQ(status.counter("input.imu.received").value(), 4u);
  EXPECT_EQ(status.counter("input.imu.handled").value(), 2u);
  EXPECT_EQ(status.counter("input.imu.failed").value(), 1u);
  EXPECT_EQ(status.counter("input.imu.dropped").value(), 1u);
  EXPECT_EQ(status.counter("input.imu.discarded").value(), 0u);
  EXPECT_EQ(status.gauge("input.imu.queue").value(), 0);
  EXPECT_EQ(status.latency("input.imu.latency").summary().count, 3u);  // handled + failed
  EXPECT_EQ(status.counter("router.unknown_inputs").value(), 1u);
  EXPECT_EQ(status.counter("router.error_events").value(), 1u);
}

TEST(EventRouter, StatusBoard_CountsDiscarded) {
  dcp::WorkerPool pool({.threads = 1});
  dcp::StatusBoard status("node");
  dcp::EventRouter router(pool, {.status = &status});
  HeldWorker worker;
  router.on_input("imu", [&](const dcp::InputEvent&, const dcp::InputContext&) { worker.hold(); });
  router.dispatch(input("imu"));
  ASSERT_TRUE(worker.wait_started());
  router.dispatch(input("imu"));
  router.dispatch(input("imu"));
  EXPECT_EQ(router.discard_queued_and_cancel(), 2u);
  EXPECT_EQ(status.counter("input.imu.discarded").value(), 2u);
  EXPECT_EQ(status.gauge("input.imu.queue").value(), 0);
  worker.release();
  ASSERT_TRUE(router.wait_idle_for(kHang));
}

// ------------------------------------------------------------------------------------------------
// The drainer retire/enqueue race: every event handled exactly once, none stranded
// ------------------------------------------------------------------------------------------------

TEST(EventRouter, Stress_DrainerRetireRacingEnqueue_EveryEventHandledExactlyOnce) {
  constexpr int kIterations = 500 / DCP_STRESS_DIVISOR;
  constexpr int kEventsPerInput = 500;
  const std::vector<std::pair<std::string, dcp::InputOptions>> inputs = {
      {"serial", {.execution = dcp::Execution::serial, .queue_capacity = kEventsPerInput}},
      {"parallel", {.execution = dcp::Execution::parallel, .queue_capacity = kEventsPerInput, .max_parallel = 3}},
      {"tiny", {.execution = dcp::Execution::serial, .queue_capacity = kEventsPerInput}},
  };
  dcp::WorkerPool pool({.threads = 4});
  for (int iteration = 0; iteration < kIterations; ++iteration) {
    std::vector<std::unique_ptr<std::atomic<int>[]>> seen;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      seen.emplace_back(new std::atomic<int>[kEventsPerInput]{});
    }
    dcp::EventRouter router(pool);
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      std::atomic<int>* counts = seen[i].get();
      router.on_input(inputs[i].first, [counts](const dcp::InputEvent&, const dcp::InputContext& context) {
        counts[context.sequence - 1].fetch_add(1, std::memory_order_relaxed);
      }, inputs[i].second);
    }
    // Interleave inputs; handlers are trivial, so queues empty (and drainers retire) constantly while
    // new events arrive.
    for (int n = 0; n < kEventsPerInput; ++n) {
      for (const auto& [id, options] : inputs) {
        const dcp::DispatchOutcome outcome = router.dispatch(input(id));
        ASSERT_EQ(outcome, dcp::DispatchOutcome::queued) << id << " #" << n;
      }
      if (n % 64 == 0) std::this_thread::yield();  // let some queues run dry
    }
    ASSERT_TRUE(router.wait_idle_for(kHang)) << "iteration " << iteration;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const dcp::InputStats stats = router.input_stats(inputs[i].first);
      // A stranded event would leave the router idle with the event still queued.
      ASSERT_EQ(stats.queued, 0u) << inputs[i].first << " iteration " << iteration;
      ASSERT_EQ(stats.handled, static_cast<std::uint64_t>(kEventsPerInput)) << inputs[i].first;
      for (int n = 0; n < kEventsPerInput; ++n) {
        ASSERT_EQ(seen[i][n].load(), 1) << inputs[i].first << " event " << n << " iteration " << iteration;
      }
    }
  }
}

TEST(EventRouter, Stress_DiscardRacingDispatch_AccountingIsExact) {
  constexpr int kIterations = 100 / DCP_STRESS_DIVISOR;
  constexpr int kEvents = 400;
  dcp::WorkerPool pool({.threads = 3});
  for (int iteration = 0; iteration < kIterations; ++iteration) {
    std::atomic<std::uint64_t> epoch{1};
    std::atomic<int> ran{0};
    dcp::EventRouter router(pool);
    router.set_epoch_source([&] { return epoch.load(); });
    router.on_input("serial", [&](const dcp::InputEvent&, const dcp::InputContext&) { ran.fetch_add(1); },
                    {.queue_capacity = 16});
    router.on_input("parallel", [&](const dcp::InputEvent&, const dcp::InputContext&) { ran.fetch_add(1); },
                    {.execution = dcp::Execution::parallel, .queue_capacity = 16, .max_parallel = 2});

    std::atomic<bool> done{false};
    std::size_t discarded_by_calls = 0;
    std::thread stopper([&] {
      while (!done.load()) {
        epoch.fetch_add(1);
        discarded_by_calls += router.discard_queued_and_cancel();
        std::this_thread::yield();
      }
    });
    for (int n = 0; n < kEvents; ++n) {
      router.dispatch(input(n % 2 == 0 ? "serial" : "parallel"));
    }
    done = true;
    stopper.join();
    ASSERT_TRUE(router.wait_idle_for(kHang));

    std::uint64_t handled = 0;
    std::uint64_t dropped = 0;
    std::uint64_t discarded = 0;
    std::uint64_t received = 0;
    for (const char* id : {"serial", "parallel"}) {
      const dcp::InputStats stats = router.input_stats(id);
      EXPECT_EQ(stats.queued, 0u);
      EXPECT_EQ(stats.running, 0u);
      EXPECT_EQ(stats.failed, 0u);
      received += stats.received;
      handled += stats.handled;
      dropped += stats.dropped;
      discarded += stats.discarded;
    }
    ASSERT_EQ(received, static_cast<std::uint64_t>(kEvents));
    ASSERT_EQ(received, handled + dropped + discarded) << "iteration " << iteration;
    ASSERT_EQ(handled, static_cast<std::uint64_t>(ran.load()));
    ASSERT_LE(discarded_by_calls, discarded);  // the rest were stale when a drainer picked them
  }
}

// ------------------------------------------------------------------------------------------------
// Allocation failures keep the counting exact and the router able to go idle
// ------------------------------------------------------------------------------------------------

// received == handled + failed + dropped + discarded, even when an allocation inside dispatch()
// (growing the input's queue, posting the drainer) fails.
TEST(EventRouter, DispatchAllocationFailure_EventIsStillCountedExactlyOnce) {
  for (long failing = 0;; ++failing) {
    dcp::WorkerPool pool({.threads = 1});
    dcp::EventRouter router(pool);
    std::atomic<int> handled{0};
    router.on_input("work", [&](const dcp::InputEvent&, const dcp::InputContext&) { handled.fetch_add(1); },
                    {.queue_capacity = 8});
    dcp::InputEvent event = input("work");
    const auto [threw, injected] =
        dcp::test::with_failing_allocation(failing, [&] { (void)router.dispatch(std::move(event)); });
    ASSERT_TRUE(router.wait_idle_for(kHang)) << "allocation " << failing;
    const dcp::InputStats stats = router.input_stats("work");
    EXPECT_EQ(stats.received, 1u) << "allocation " << failing;
    EXPECT_EQ(stats.handled + stats.failed + stats.dropped + stats.discarded, 1u)
        << "allocation " << failing << (threw ? " (dispatch threw)" : "");
    EXPECT_EQ(stats.queued, 0u);
    if (!injected) break;
    ASSERT_LT(failing, 1000);
  }
}

// A drainer that finds the pool cancelling discards the waiting events; an allocation failure there
// must not strand its slot (the router would never be idle again and its destructor would hang).
TEST(EventRouter, DrainerDiscardingOnPoolCancel_AllocationFailure_StillRetires) {
  dcp::WorkerPool pool({.threads = 1});
  auto router = std::make_unique<dcp::EventRouter>(pool);
  Gate started;
  std::atomic<bool> armed{false};
  router->on_input("work", [&](const dcp::InputEvent&, const dcp::InputContext&) {
    allocations_until_failure = -1;
    if (armed.exchange(true)) return;
    started.open();
    const auto deadline = std::chrono::steady_clock::now() + kHang;
    while (!pool.is_shut_down() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    allocations_until_failure = 0;  // the drainer's next allocation on this worker fails
  }, {.queue_capacity = 8});
  router->dispatch(input("work"));
  ASSERT_TRUE(started.wait());
  for (int i = 0; i < 3; ++i) router->dispatch(input("work"));
  pool.shutdown(dcp::ShutdownMode::cancel);  // requests the pool's stop before is_shut_down() reports it
  const bool idle = router->wait_idle_for(kHang);
  const dcp::InputStats stats = router->input_stats("work");
  if (!idle) (void)router.release();  // its destructor would hang: leak it to report the failure
  ASSERT_TRUE(idle) << "the drainer's slot was never retired";
  EXPECT_EQ(stats.handled, 1u);
  EXPECT_EQ(stats.discarded, 3u);
  EXPECT_EQ(stats.received, stats.handled + stats.failed + stats.dropped + stats.discarded);
}

}  // namespace
