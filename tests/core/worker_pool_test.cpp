// Tests of dcp::WorkerPool and dcp::TaskHandle (include/dcp/core/worker_pool.hpp).
//
// Synchronisation: tasks are held with Gates (support/gate.hpp) and observed with
// std::latch; nothing sleeps to "let threads run". Timed waits appear only as hang detectors
// (kHangTimeout, asserted true), and as negative checks that a blocked call is still blocked (a correct pool
// never makes those fail, however long they wait).
#include "dcp/core/worker_pool.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <latch>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "dcp/core/detail/thread_name.hpp"
#include "support/gate.hpp"
#include "support/hang_timeout.hpp"
#include "dcp/core/error_report.hpp"
#include "support/captured_reports.hpp"

#ifndef DCP_STRESS_DIVISOR
#define DCP_STRESS_DIVISOR 1
#endif

namespace {

using namespace std::chrono_literals;
using dcp::Overflow;
using dcp::ShutdownMode;
using dcp::TaskState;
using dcp::WorkerPool;

using dcp::test::Gate;  // tasks capture gate.opened() by value: a destroyed Gate releases them too
using dcp::test::kHangTimeout;

// Collects what an Options::on_error callback receives; wait_for(n) blocks until n arrived.
class ErrorCollector {
 public:
  dcp::ErrorCallback callback() {
    return [this](std::string_view source, std::string_view message) {
      {
        std::lock_guard lock(mutex_);
        lines_.push_back(std::string(source) + ": " + std::string(message));
      }
      arrived_.notify_all();
    };
  }
  [[nodiscard]] bool wait_for(std::size_t count) {
    std::unique_lock lock(mutex_);
    return arrived_.wait_for(lock, kHangTimeout, [&] { return lines_.size() >= count; });
  }
  [[nodiscard]] std::vector<std::string> lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<std::string> lines_;
};

using dcp::test::CapturedReports;

constexpr auto kStillBlocked = 50ms;  // a blocked call must still be blocked after this long

/// Blocks the calling task until `token` reports stop.
void block_until_stopped(const std::stop_token& token) {
  std::promise<void> stopped;
  std::stop_callback on_stop(token, [&stopped] { stopped.set_value(); });
  stopped.get_future().wait();
}

/// Keeps every worker of `pool` busy until `gate` opens; returns once they all are.
std::vector<dcp::TaskHandle<void>> occupy_workers(WorkerPool& pool, const Gate& gate) {
  std::latch started(static_cast<std::ptrdiff_t>(pool.thread_count()));
  std::vector<dcp::TaskHandle<void>> blockers;
  for (std::size_t i = 0; i < pool.thread_count(); ++i) {
    blockers.push_back(pool.submit([&started, opened = gate.opened()] {
      started.count_down();
      opened.wait();
    }));
  }
  started.wait();
  return blockers;
}

/// Keeps every worker of `pool` busy until the pool is cancelled; returns once they all are.
std::vector<dcp::TaskHandle<void>> occupy_workers_until_cancelled(WorkerPool& pool) {
  std::latch started(static_cast<std::ptrdiff_t>(pool.thread_count()));
  std::vector<dcp::TaskHandle<void>> blockers;
  for (std::size_t i = 0; i < pool.thread_count(); ++i) {
    blockers.push_back(pool.submit([&started](std::stop_token stop) {
      started.count_down();
      block_until_stopped(stop);
    }));
  }
  started.wait();
  return blockers;
}

/// Cancels the pool on scope exit, so a failed ASSERT cannot leave the destructor waiting for tasks
/// that only end on stop.
struct CancelOnExit {
  WorkerPool& pool;
  ~CancelOnExit() { pool.shutdown(ShutdownMode::cancel); }
};

template <class Handle>
void expect_cancelled(Handle& handle) {
  ASSERT_TRUE(handle.wait_for(kHangTimeout));
  EXPECT_EQ(handle.state(), TaskState::cancelled);
  EXPECT_THROW(handle.get(), dcp::TaskCancelled);
}

// ---------------------------------------------------------------------------------------------------
// Results through handles
// ---------------------------------------------------------------------------------------------------

TEST(WorkerPool, Submit_ReturnsResultThroughHandle) {
  WorkerPool pool({.threads = 2});
  auto handle = pool.submit([] { return 6 * 7; });
  EXPECT_TRUE(handle.valid());
  EXPECT_EQ(handle.get(), 42);
  EXPECT_FALSE(handle.valid());
}

TEST(WorkerPool, Submit_VoidTask_GetReturnsAfterItRan) {
  WorkerPool pool({.threads = 2});
  bool ran = false;  // written by the worker, read after get(): get() synchronises
  auto handle = pool.submit([&ran] { ran = true; });
  static_assert(std::is_same_v<decltype(handle), dcp::TaskHandle<void>>);
  handle.get();
  EXPECT_TRUE(ran);
  EXPECT_EQ(pool.completed(), 1u);
}

TEST(WorkerPool, Submit_MoveOnlyResult_ReachesHandle) {
  WorkerPool pool({.threads = 1});
  auto handle = pool.submit([] { return std::make_unique<std::string>("lidar"); });
  std::unique_ptr<std::string> result = handle.get();
  ASSERT_NE(result, nullptr);
  EXPECT_EQ(*result, "lidar");
}

TEST(WorkerPool, Submit_MoveOnlyCallable_IsAccepted) {
  WorkerPool pool({.threads = 1});
  auto frame = std::make_unique<std::vector<int>>(std::vector<int>{1, 2, 3});
  auto handle = pool.submit([frame = std::move(frame)] { return std::accumulate(frame->begin(), frame->end(), 0); });
  EXPECT_EQ(handle.get(), 6);
}

TEST(WorkerPool, Submit_CallableCaptures_ReleasedWhenTaskFinishes) {
  WorkerPool pool({.threads = 1});
  auto resource = std::make_shared<int>(1);
  std::weak_ptr<int> watch = resource;
  auto handle = pool.submit([resource = std::move(resource)] { return *resource; });
  handle.wait();
  EXPECT_TRUE(watch.expired()) << "the callable must be destroyed once it ran, not when the handle goes";
  EXPECT_EQ(handle.get(), 1);
}

TEST(WorkerPool, Submit_TaskTakingStopToken_GetsAStoppableToken) {
  WorkerPool pool({.threads = 1});
  auto handle = pool.submit([](std::stop_token stop) { return stop.stop_possible() && !stop.stop_requested(); });
  EXPECT_TRUE(handle.get());
}

TEST(WorkerPool, Submit_FunctionPointer_IsAccepted) {
  WorkerPool pool({.threads = 1});
  int (*answer)() = [] { return 42; };
  EXPECT_EQ(pool.submit(answer).get(), 42);
}

// ---------------------------------------------------------------------------------------------------
// Exceptions
// ---------------------------------------------------------------------------------------------------

TEST(WorkerPool, Submit_ThrowingTask_ExceptionReachesHandle) {
  WorkerPool pool({.threads = 2});
  auto handle = pool.submit([]() -> int { throw std::out_of_range("sensor index 7"); });
  ASSERT_TRUE(handle.wait_for(kHangTimeout));
  EXPECT_EQ(handle.state(), TaskState::failed);
  try {
    handle.get();
    FAIL() << "get() must rethrow the task's exception";
  } catch (const std::out_of_range& e) {
    EXPECT_STREQ(e.what(), "sensor index 7");
  }
  EXPECT_EQ(pool.failed(), 1u);
  EXPECT_EQ(pool.completed(), 0u);
}

TEST(WorkerPool, Submit_ThrowingTask_WorkerSurvivesAndKeepsWorking) {
  WorkerPool pool({.threads = 1});
  const std::thread::id worker = pool.submit([] { return std::this_thread::get_id(); }).get();
  for (int i = 0; i < 100; ++i) {
    auto failing = pool.submit([] { throw 42; });  // not even a std::exception
    EXPECT_THROW(failing.get(), int);
  }
  EXPECT_EQ(pool.submit([] { return std::this_thread::get_id(); }).get(), worker)
      << "the single worker must still be the same thread";
  EXPECT_EQ(pool.failed(), 100u);
  EXPECT_EQ(pool.completed(), 2u);
}

TEST(WorkerPool, Submit_ThrowingTaskWhoseHandleWasDestroyed_ReportedToOnError) {
  ErrorCollector errors;
  WorkerPool pool({.threads = 1, .name = "detached", .on_error = errors.callback()});
  Gate gate;
  auto blockers = occupy_workers(pool, gate);
  pool.submit([] { throw std::runtime_error("nobody is waiting"); });  // handle destroyed at once
  gate.open();
  ASSERT_TRUE(errors.wait_for(1));
  EXPECT_EQ(errors.lines(), (std::vector<std::string>{"worker pool 'detached': a detached task threw: nobody is waiting"}));
}

TEST(WorkerPool, Submit_HandleDestroyedWhileTaskRuns_ThrowIsReported) {
  ErrorCollector errors;
  WorkerPool pool({.threads = 1, .name = "detached", .on_error = errors.callback()});
  Gate gate;
  std::latch started(1);
  {
    auto handle = pool.submit([&started, opened = gate.opened()] {
      started.count_down();
      opened.wait();
      throw std::runtime_error("after the handle left");
    });
    started.wait();
  }  // the handle is destroyed while its task runs
  gate.open();
  ASSERT_TRUE(errors.wait_for(1));
  EXPECT_EQ(errors.lines(),
            (std::vector<std::string>{"worker pool 'detached': a detached task threw: after the handle left"}));
}

TEST(WorkerPool, Submit_ThrowingTaskWithLiveHandle_NothingReported) {
  CapturedReports reports;
  ErrorCollector errors;
  {
    WorkerPool pool({.threads = 1, .on_error = errors.callback()});
    auto handle = pool.submit([] { throw std::runtime_error("seen by the handle"); });
    EXPECT_THROW(handle.get(), std::runtime_error);
    pool.shutdown(ShutdownMode::drain);
  }
  EXPECT_TRUE(errors.lines().empty());
  EXPECT_EQ(reports.counted(), 0u);
}

// ---------------------------------------------------------------------------------------------------
// Handle states, wait, get, validity
// ---------------------------------------------------------------------------------------------------

TEST(WorkerPool, Handle_States_QueuedThenRunningThenDone) {
  WorkerPool pool({.threads = 1});
  Gate gate;
  std::latch started(1);
  auto first = pool.submit([&started, opened = gate.opened()] {
    started.count_down();
    opened.wait();
    return 1;
  });
  auto second = pool.submit([] { return 2; });
  started.wait();
  EXPECT_EQ(first.state(), TaskState::running);
  EXPECT_EQ(second.state(), TaskState::queued);
  EXPECT_FALSE(first.ready());
  EXPECT_FALSE(second.wait_for(0ms));
  gate.open();
  ASSERT_TRUE(second.wait_for(kHangTimeout));
  EXPECT_EQ(first.state(), TaskState::done);  // one worker: first finished before second ran
  EXPECT_EQ(second.state(), TaskState::done);
  EXPECT_TRUE(second.ready());
  EXPECT_EQ(first.get() + second.get(), 3);
}

TEST(WorkerPool, Handle_WaitUntil_TrueOnceFinished) {
  WorkerPool pool({.threads = 1});
  auto handle = pool.submit([] { return 1; });
  EXPECT_TRUE(handle.wait_until(std::chrono::system_clock::now() + kHangTimeout));
  handle.wait();  // returns at once when finished
  EXPECT_TRUE(handle.ready());
}

TEST(WorkerPool, Handle_AfterGetOrMove_IsInvalidAndThrowsLogicError) {
  WorkerPool pool({.threads = 1});
  auto handle = pool.submit([] { return 1; });
  auto moved = std::move(handle);
  EXPECT_FALSE(handle.valid());  // NOLINT(bugprone-use-after-move): checking the moved-from state
  EXPECT_THROW((void)handle.state(), std::logic_error);
  EXPECT_EQ(moved.get(), 1);
  EXPECT_FALSE(moved.valid());
  EXPECT_THROW(moved.get(), std::logic_error);
  dcp::TaskHandle<int> empty;
  EXPECT_FALSE(empty.valid());
  EXPECT_THROW(empty.wait(), std::logic_error);
}

TEST(WorkerPool, Handle_NegativeTimeout_ThrowsInvalidArgument) {
  WorkerPool pool({.threads = 1});
  auto handle = pool.submit([] {});
  EXPECT_THROW((void)handle.wait_for(-1ms), std::invalid_argument);
  handle.get();
}

// ---------------------------------------------------------------------------------------------------
// Cancellation through the handle
// ---------------------------------------------------------------------------------------------------

TEST(WorkerPool, Cancel_QueuedTask_NeverRunsAndGetThrowsTaskCancelled) {
  WorkerPool pool({.threads = 1});
  Gate gate;
  auto blockers = occupy_workers(pool, gate);
  std::atomic<bool> ran{false};
  auto handle = pool.submit([&ran] { ran = true; });
  handle.cancel();
  EXPECT_EQ(handle.state(), TaskState::cancelled);  // at once, without waiting for a worker
  EXPECT_TRUE(handle.ready());
  gate.open();
  pool.shutdown(ShutdownMode::drain);
  EXPECT_FALSE(ran);
  expect_cancelled(handle);
  EXPECT_EQ(pool.cancelled(), 1u);
  EXPECT_EQ(pool.dropped(), 0u);
  EXPECT_EQ(pool.completed(), 1u);  // the blocker
}

TEST(WorkerPool, Cancel_QueuedTask_ReleasesItsCapturesAtOnce) {
  WorkerPool pool({.threads = 1});
  Gate gate;
  auto blockers = occupy_workers(pool, gate);
  auto resource = std::make_shared<int>(1);
  std::weak_ptr<int> watch = resource;
  auto handle = pool.submit([resource = std::move(resource)] { return *resource; });
  handle.cancel();
  EXPECT_TRUE(watch.expired());
  gate.open();
}

TEST(WorkerPool, Cancel_RunningTask_StopTokenSeesStop) {
  WorkerPool pool({.threads = 2});
  std::latch started(1);
  auto handle = pool.submit([&started](std::stop_token stop) {
    started.count_down();
    block_until_stopped(stop);
    return 7;
  });
  started.wait();
  EXPECT_EQ(handle.state(), TaskState::running);
  handle.cancel();
  ASSERT_TRUE(handle.wait_for(kHangTimeout));
  EXPECT_EQ(handle.state(), TaskState::done);  // it ran, noticed the stop and returned
  EXPECT_EQ(handle.get(), 7);
  EXPECT_FALSE(pool.stop_token().stop_requested()) << "cancelling one task must not stop the pool";
  EXPECT_EQ(pool.submit([] { return 1; }).get(), 1);
}

TEST(WorkerPool, Cancel_OneTask_OthersTokensUnaffected) {
  WorkerPool pool({.threads = 2});
  std::latch started(2);
  auto cancelled = pool.submit([&started](std::stop_token stop) {
    started.count_down();
    block_until_stopped(stop);
  });
  std::stop_token other_token;
  std::promise<std::stop_token> token_promise;
  auto other = pool.submit([&started, &token_promise](std::stop_token stop) {
    token_promise.set_value(stop);
    started.count_down();
    block_until_stopped(stop);
  });
  other_token = token_promise.get_future().get();
  started.wait();
  cancelled.cancel();
  cancelled.get();
  EXPECT_FALSE(other_token.stop_requested());
  other.cancel();
  other.get();
}

TEST(WorkerPool, Cancel_FinishedTask_HasNoEffect) {
  WorkerPool pool({.threads = 1});
  auto handle = pool.submit([] { return 5; });
  handle.wait();
  handle.cancel();
  EXPECT_EQ(handle.state(), TaskState::done);
  EXPECT_EQ(handle.get(), 5);
}

// ---------------------------------------------------------------------------------------------------
// Shutdown
// ---------------------------------------------------------------------------------------------------

TEST(WorkerPool, ShutdownCancel_RunningTasksSeeStopRequested) {
  WorkerPool pool({.threads = 2});
  auto blockers = occupy_workers_until_cancelled(pool);  // would never end without a stop
  const dcp::ShutdownReport report = pool.shutdown(ShutdownMode::cancel);
  EXPECT_TRUE(pool.stop_token().stop_requested());
  for (auto& blocker : blockers) {
    EXPECT_EQ(blocker.state(), TaskState::done);
    blocker.get();
  }
  EXPECT_EQ(report.dropped, 0u);
  EXPECT_EQ(report.completed_during_shutdown, 2u);
}

TEST(WorkerPool, ShutdownCancel_DropsQueuedTasksAndReportsExactCount) {
  WorkerPool pool({.threads = 2});
  auto blockers = occupy_workers_until_cancelled(pool);
  std::atomic<int> ran{0};
  std::vector<dcp::TaskHandle<int>> queued;
  for (int i = 0; i < 25; ++i) queued.push_back(pool.submit([&ran, i] { ++ran; return i; }));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(pool.post([&ran] { ++ran; }));
  EXPECT_EQ(pool.queued(), 30u);

  const dcp::ShutdownReport report = pool.shutdown(ShutdownMode::cancel);

  EXPECT_EQ(report.dropped, 30u);
  EXPECT_EQ(pool.dropped(), 30u);
  EXPECT_EQ(ran, 0) << "no queued task may run after shutdown(cancel)";
  for (auto& handle : queued) expect_cancelled(handle);
  for (auto& blocker : blockers) blocker.get();
  EXPECT_EQ(pool.completed(), 2u);
  EXPECT_EQ(pool.queued(), 0u);
}

TEST(WorkerPool, ShutdownCancel_HandleCancelledTasksAreNotCountedAsDropped) {
  WorkerPool pool({.threads = 1});
  auto blockers = occupy_workers_until_cancelled(pool);
  auto a = pool.submit([] {});
  auto b = pool.submit([] {});
  auto c = pool.submit([] {});
  b.cancel();
  const auto report = pool.shutdown(ShutdownMode::cancel);
  EXPECT_EQ(report.dropped, 2u);  // a and c; b was already cancelled by its handle
  EXPECT_EQ(pool.cancelled(), 1u);
  expect_cancelled(a);
  expect_cancelled(b);
  expect_cancelled(c);
}

TEST(WorkerPool, ShutdownDrain_FinishesEveryQueuedTask) {
  constexpr int kTasks = 200;
  WorkerPool pool({.threads = 2});
  Gate gate;
  auto blockers = occupy_workers(pool, gate);
  std::atomic<int> ran{0};
  std::vector<dcp::TaskHandle<int>> handles;
  for (int i = 0; i < kTasks; ++i) handles.push_back(pool.submit([&ran, i] { ++ran; return i; }));
  for (int i = 0; i < kTasks; ++i) ASSERT_TRUE(pool.post([&ran] { ++ran; }));

  // Open the gate only once the shutdown has begun, so it really drains a full queue.
  std::thread opener([&pool, &gate] {
    while (!pool.is_shut_down()) std::this_thread::yield();
    gate.open();
  });
  const dcp::ShutdownReport report = pool.shutdown(ShutdownMode::drain);
  opener.join();

  EXPECT_EQ(ran, 2 * kTasks);
  EXPECT_EQ(report.dropped, 0u);
  EXPECT_EQ(report.completed_during_shutdown, static_cast<std::size_t>(2 * kTasks + 2));
  EXPECT_EQ(pool.completed(), static_cast<std::uint64_t>(2 * kTasks + 2));
  EXPECT_EQ(pool.dropped(), 0u);
  int sum = 0;
  for (auto& handle : handles) {
    EXPECT_EQ(handle.state(), TaskState::done);
    sum += handle.get();
  }
  EXPECT_EQ(sum, kTasks * (kTasks - 1) / 2);
}

TEST(WorkerPool, Shutdown_IsIdempotent_LaterCallsReturnTheSameReport) {
  WorkerPool pool({.threads = 1});
  auto blockers = occupy_workers_until_cancelled(pool);
  for (int i = 0; i < 3; ++i) pool.post([] {});
  const auto first = pool.shutdown(ShutdownMode::cancel);
  const auto second = pool.shutdown(ShutdownMode::cancel);
  const auto third = pool.shutdown(ShutdownMode::drain);
  EXPECT_EQ(first.dropped, 3u);
  EXPECT_EQ(second.dropped, first.dropped);
  EXPECT_EQ(third.dropped, first.dropped);
  EXPECT_EQ(second.completed_during_shutdown, first.completed_during_shutdown);
}

TEST(WorkerPool, ShutdownCancel_DuringADrain_EscalatesIt) {
  WorkerPool pool({.threads = 2});
  auto blockers = occupy_workers_until_cancelled(pool);  // a drain alone would wait forever
  auto queued = pool.submit([] { return 1; });
  std::promise<dcp::ShutdownReport> drain_report;
  std::thread drainer([&] { drain_report.set_value(pool.shutdown(ShutdownMode::drain)); });
  while (!pool.is_shut_down()) std::this_thread::yield();

  const auto cancel_report = pool.shutdown(ShutdownMode::cancel);
  auto drained = drain_report.get_future();
  ASSERT_EQ(drained.wait_for(kHangTimeout), std::future_status::ready);
  drainer.join();
  EXPECT_EQ(cancel_report.dropped, 1u);
  EXPECT_EQ(drained.get().dropped, 1u);
  expect_cancelled(queued);
}

TEST(WorkerPool, Shutdown_FromInsideATask_StartsItWithoutDeadlock) {
  auto pool = std::make_unique<WorkerPool>(WorkerPool::Options{.threads = 1});
  Gate gate;
  auto stopper = pool->submit([&pool, opened = gate.opened()] {
    opened.wait();
    return pool->shutdown(ShutdownMode::cancel).dropped;
  });
  auto victim = pool->submit([] {});
  gate.open();
  EXPECT_EQ(stopper.get(), 1u);  // the victim was queued behind it
  expect_cancelled(victim);
  EXPECT_THROW(pool->submit([] {}), dcp::PoolClosed);
  pool.reset();  // joins from this thread
}

TEST(WorkerPool, Destructor_DrainsQueueAndJoinsEveryWorker) {
  constexpr int kTasks = 100;
  std::atomic<int> ran{0};
  std::atomic<bool> destroyed{false};
  std::atomic<bool> ran_after_destruction{false};
  {
    WorkerPool pool({.threads = 2});
    Gate gate;
    auto blockers = occupy_workers(pool, gate);
    for (int i = 0; i < kTasks; ++i) {
      pool.post([&] {
        if (destroyed) ran_after_destruction = true;
        ++ran;
      });
    }
    gate.open();
  }  // ~WorkerPool: drain + join
  destroyed = true;
  EXPECT_EQ(ran, kTasks);
  EXPECT_FALSE(ran_after_destruction);
}

TEST(WorkerPool, Destructor_HandlesOutliveThePool) {
  dcp::TaskHandle<int> done;
  dcp::TaskHandle<int> dropped;
  {
    WorkerPool pool({.threads = 1, .queue_capacity = 1, .overflow = Overflow::drop_newest});
    Gate gate;
    auto blockers = occupy_workers(pool, gate);
    done = pool.submit([] { return 3; });
    dropped = pool.submit([] { return 4; });  // queue full: dropped
    gate.open();
  }
  EXPECT_EQ(done.get(), 3);
  expect_cancelled(dropped);
}

TEST(WorkerPool, SubmitAfterShutdown_ThrowsPoolClosed) {
  WorkerPool pool({.threads = 1, .name = "closed-pool"});
  pool.shutdown(ShutdownMode::drain);
  EXPECT_TRUE(pool.is_shut_down());
  try {
    pool.submit([] { return 1; });
    FAIL() << "submit after shutdown must throw";
  } catch (const dcp::PoolClosed& e) {
    EXPECT_NE(std::string(e.what()).find("closed-pool"), std::string::npos) << e.what();
  }
  EXPECT_THROW(pool.try_submit([] { return 1; }), dcp::PoolClosed);
  EXPECT_FALSE(pool.post([] {}));
  static_assert(std::is_base_of_v<std::logic_error, dcp::PoolClosed>);
}

// ---------------------------------------------------------------------------------------------------
// Bounded queue and overflow policies
// ---------------------------------------------------------------------------------------------------

TEST(WorkerPool, BoundedBlock_SubmitBlocksUntilAWorkerFreesRoom) {
  WorkerPool pool({.threads = 1, .queue_capacity = 1, .overflow = Overflow::block});
  Gate gate;
  auto blockers = occupy_workers(pool, gate);
  std::mutex order_mutex;
  std::vector<char> order;
  auto record = [&](char c) {
    std::lock_guard lock(order_mutex);
    order.push_back(c);
  };
  auto queued = pool.submit([&] { record('q'); });  // fills the queue
  EXPECT_EQ(pool.queued(), 1u);

  std::promise<dcp::TaskHandle<void>> submitted;
  auto submitted_future = submitted.get_future();
  std::thread submitter([&] { submitted.set_value(pool.submit([&] { record('b'); })); });
  EXPECT_EQ(submitted_future.wait_for(kStillBlocked), std::future_status::timeout) << "submit must block while full";

  gate.open();  // the worker finishes the blocker, takes `queued`, which frees room
  ASSERT_EQ(submitted_future.wait_for(kHangTimeout), std::future_status::ready);
  submitter.join();
  auto blocked = submitted_future.get();
  queued.get();
  blocked.get();
  EXPECT_EQ(order, (std::vector<char>{'q', 'b'}));
  EXPECT_EQ(pool.dropped(), 0u);
}

TEST(WorkerPool, BoundedBlock_SubmitBlockedWhenShutdownBegins_ThrowsPoolClosed) {
  WorkerPool pool({.threads = 1, .queue_capacity = 1, .overflow = Overflow::block});
  auto blockers = occupy_workers_until_cancelled(pool);
  auto queued = pool.submit([] {});
  std::promise<bool> threw;
  std::thread submitter([&] {
    try {
      pool.submit([] {});
      threw.set_value(false);
    } catch (const dcp::PoolClosed&) {
      threw.set_value(true);
    }
  });
  auto threw_future = threw.get_future();
  EXPECT_EQ(threw_future.wait_for(kStillBlocked), std::future_status::timeout);
  pool.shutdown(ShutdownMode::cancel);
  ASSERT_EQ(threw_future.wait_for(kHangTimeout), std::future_status::ready);
  EXPECT_TRUE(threw_future.get());
  submitter.join();
  expect_cancelled(queued);
}

TEST(WorkerPool, TrySubmit_FullBlockingQueue_ReturnsNulloptAndNeverRunsTheTask) {
  WorkerPool pool({.threads = 1, .queue_capacity = 1, .overflow = Overflow::block});
  Gate gate;
  auto blockers = occupy_workers(pool, gate);
  std::atomic<int> ran{0};
  auto accepted = pool.try_submit([&ran] { return ++ran; });
  ASSERT_TRUE(accepted.has_value());
  auto rejected = pool.try_submit([&ran] { return ran += 100; });
  EXPECT_FALSE(rejected.has_value());
  gate.open();
  EXPECT_EQ(accepted->get(), 1);
  pool.shutdown(ShutdownMode::drain);
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(pool.dropped(), 0u) << "a rejected try_submit is not a drop";
}

TEST(WorkerPool, DropNewest_FullQueue_NewTaskIsCancelledAndCounted) {
  WorkerPool pool({.threads = 1, .queue_capacity = 2, .overflow = Overflow::drop_newest});
  Gate gate;
  auto blockers = occupy_workers(pool, gate);
  auto a = pool.submit([] { return 'a'; });
  auto b = pool.submit([] { return 'b'; });
  auto c = pool.submit([] { return 'c'; });  // queue full: c is dropped
  EXPECT_EQ(c.state(), TaskState::cancelled);
  EXPECT_EQ(pool.dropped(), 1u);
  EXPECT_FALSE(pool.post([] {}));  // also dropped
  EXPECT_EQ(pool.dropped(), 2u);
  auto d = pool.try_submit([] { return 'd'; });
  ASSERT_TRUE(d.has_value()) << "with a dropping policy try_submit never reports full";
  EXPECT_EQ(d->state(), TaskState::cancelled);
  gate.open();
  EXPECT_EQ(a.get(), 'a');
  EXPECT_EQ(b.get(), 'b');
  expect_cancelled(c);
  expect_cancelled(*d);
  EXPECT_EQ(pool.dropped(), 3u);
}

TEST(WorkerPool, DropOldest_FullQueue_OldestQueuedTaskIsCancelledAndCounted) {
  WorkerPool pool({.threads = 1, .queue_capacity = 2, .overflow = Overflow::drop_oldest});
  Gate gate;
  auto blockers = occupy_workers(pool, gate);
  auto a = pool.submit([] { return 'a'; });
  auto b = pool.submit([] { return 'b'; });
  auto c = pool.submit([] { return 'c'; });  // queue full: a is evicted
  EXPECT_EQ(a.state(), TaskState::cancelled);
  EXPECT_EQ(b.state(), TaskState::queued);
  EXPECT_EQ(c.state(), TaskState::queued);
  EXPECT_EQ(pool.dropped(), 1u);
  gate.open();
  expect_cancelled(a);
  EXPECT_EQ(b.get(), 'b');
  EXPECT_EQ(c.get(), 'c');
  EXPECT_EQ(pool.dropped(), 1u);
  EXPECT_EQ(pool.completed(), 3u);  // blocker, b, c
}

// ---------------------------------------------------------------------------------------------------
// post() and the error report
// ---------------------------------------------------------------------------------------------------

TEST(WorkerPool, Post_ThrowingTaskWithoutOnError_ReportedAndCounted) {
  CapturedReports reports;
  {
    WorkerPool pool({.threads = 1, .name = "poster"});
    ASSERT_TRUE(pool.post([] { throw std::runtime_error("camera unplugged"); }));
    pool.shutdown(ShutdownMode::drain);  // joins the worker: the report was made before
    EXPECT_EQ(pool.failed(), 1u);
  }
  EXPECT_EQ(reports.counted(), 1u);
  EXPECT_EQ(reports.lines(), (std::vector<std::string>{"worker pool 'poster': a posted task threw: camera unplugged"}));
}

TEST(WorkerPool, Post_ThrowingTaskWithOnError_CallsItInsteadOfReporting) {
  CapturedReports reports;
  ErrorCollector errors;
  WorkerPool pool({.threads = 1, .name = "poster", .on_error = errors.callback()});
  ASSERT_TRUE(pool.post([] { throw 7; }));  // not even a std::exception
  ASSERT_TRUE(errors.wait_for(1));
  EXPECT_EQ(errors.lines(), (std::vector<std::string>{
                                "worker pool 'poster': a posted task threw: unknown exception (not derived from "
                                "std::exception)"}));
  EXPECT_EQ(pool.submit([] { return 1; }).get(), 1) << "the worker keeps working";
  EXPECT_EQ(reports.counted(), 0u);
}

TEST(WorkerPool, Post_ThrowingOnError_ErrorAndThrowAreBothReported) {
  CapturedReports reports;
  {
    WorkerPool pool({.threads = 1,
                     .name = "poster",
                     .on_error = [](std::string_view, std::string_view) { throw std::runtime_error("log full"); }});
    ASSERT_TRUE(pool.post([] { throw std::runtime_error("camera unplugged"); }));
    pool.shutdown(ShutdownMode::drain);
  }
  EXPECT_EQ(reports.counted(), 2u);
  EXPECT_EQ(reports.lines(), (std::vector<std::string>{"worker pool 'poster': a posted task threw: camera unplugged",
                                                       "worker pool 'poster': its on_error callback threw: log full"}));
}

TEST(WorkerPool, Post_ManyThrowingTasks_EveryOneReported) {
  CapturedReports reports;
  {
    WorkerPool pool({.threads = 2, .name = "many"});
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(pool.post([] { throw std::runtime_error("x"); }));
  }  // the destructor drains
  EXPECT_EQ(reports.counted(), 100u) << "nothing is dropped: no channel capacity to overflow";
  EXPECT_EQ(reports.lines().size(), 100u);
}

TEST(WorkerPool, Post_Runs_AndCountsCompletion) {
  WorkerPool pool({.threads = 2});
  std::promise<int> result;
  ASSERT_TRUE(pool.post([&result] { result.set_value(9); }));
  auto future = result.get_future();
  ASSERT_EQ(future.wait_for(kHangTimeout), std::future_status::ready);
  EXPECT_EQ(future.get(), 9);
  pool.shutdown(ShutdownMode::drain);
  EXPECT_EQ(pool.completed(), 1u);
}

TEST(WorkerPool, Post_TaskTakingStopToken_GetsThePoolToken) {
  WorkerPool pool({.threads = 1});
  std::latch started(1);
  std::atomic<bool> saw_stop{false};
  ASSERT_TRUE(pool.post([&](std::stop_token stop) {
    started.count_down();
    block_until_stopped(stop);
    saw_stop = true;
  }));
  started.wait();
  pool.shutdown(ShutdownMode::cancel);
  EXPECT_TRUE(saw_stop);
}


// ---------------------------------------------------------------------------------------------------
// Options, counters, thread names
// ---------------------------------------------------------------------------------------------------

TEST(WorkerPool, Options_ZeroThreads_UsesHardwareConcurrencyAtLeastOne) {
  WorkerPool pool;
  const std::size_t expected = std::max<std::size_t>(1, std::thread::hardware_concurrency());
  EXPECT_EQ(pool.thread_count(), expected);
  EXPECT_EQ(pool.name(), "dcp-worker");
}

TEST(WorkerPool, Options_OutOfRange_ThrowInvalidArgumentNamingTheField) {
  try {
    WorkerPool pool({.threads = 1, .queue_capacity = dcp::kMaxCapacity + 1});
    FAIL() << "a queue capacity above kMaxCapacity must be rejected";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("queue_capacity"), std::string::npos) << e.what();
  }
}

TEST(WorkerPool, Counters_RunningAndQueued_AreSnapshots) {
  WorkerPool pool({.threads = 2});
  Gate gate;
  auto blockers = occupy_workers(pool, gate);
  for (int i = 0; i < 4; ++i) pool.post([] {});
  EXPECT_EQ(pool.running(), 2u);
  EXPECT_EQ(pool.queued(), 4u);
  gate.open();
  pool.shutdown(ShutdownMode::drain);
  EXPECT_EQ(pool.running(), 0u);
  EXPECT_EQ(pool.queued(), 0u);
  EXPECT_EQ(pool.completed(), 6u);
}

TEST(WorkerPool, ThreadNames_WorkersCarryThePoolName) {
  WorkerPool pool({.threads = 2, .name = "planner"});
  EXPECT_EQ(pool.submit([] { return dcp::detail::current_thread_name(); }).get(), "planner");
}

TEST(WorkerPool, ThreadNames_LongNames_TruncatedTo15Characters) {
  WorkerPool pool({.threads = 1, .name = "a-very-long-pool-name"});
  EXPECT_EQ(pool.submit([] { return dcp::detail::current_thread_name(); }).get(), "a-very-long-poo");
  EXPECT_EQ(pool.name(), "a-very-long-pool-name");  // error reports name the pool in full
}

// ---------------------------------------------------------------------------------------------------
// Stress
// ---------------------------------------------------------------------------------------------------

TEST(WorkerPool, Stress_ManySubmittersManyTasks_EveryResultAccountedExactlyOnce) {
  constexpr int kSubmitters = 4;
  constexpr int kTasksPerSubmitter = 20000 / DCP_STRESS_DIVISOR;
  constexpr int kTotal = kSubmitters * kTasksPerSubmitter;
  WorkerPool pool({.threads = 3, .queue_capacity = 64, .overflow = Overflow::block});
  std::vector<std::atomic<int>> runs(kTotal);
  std::vector<std::uint64_t> sums(kSubmitters, 0);
  std::vector<std::thread> submitters;
  for (int s = 0; s < kSubmitters; ++s) {
    submitters.emplace_back([&, s] {
      std::vector<dcp::TaskHandle<std::uint64_t>> handles;
      handles.reserve(kTasksPerSubmitter);
      for (int i = 0; i < kTasksPerSubmitter; ++i) {
        const int id = s * kTasksPerSubmitter + i;
        if (i % 3 == 0) {
          handles.push_back(pool.submit([&runs, id](std::stop_token) {
            runs[id].fetch_add(1, std::memory_order_relaxed);
            return static_cast<std::uint64_t>(id);
          }));
        } else {
          handles.push_back(pool.submit([&runs, id] {
            runs[id].fetch_add(1, std::memory_order_relaxed);
            return static_cast<std::uint64_t>(id);
          }));
        }
      }
      for (auto& handle : handles) sums[s] += handle.get();
    });
  }
  for (auto& t : submitters) t.join();
  const std::uint64_t total = std::accumulate(sums.begin(), sums.end(), std::uint64_t{0});
  EXPECT_EQ(total, static_cast<std::uint64_t>(kTotal) * (kTotal - 1) / 2);
  int wrong = 0;
  for (auto& r : runs) wrong += r.load() != 1;
  EXPECT_EQ(wrong, 0) << "every task must run exactly once";
  EXPECT_EQ(pool.completed(), static_cast<std::uint64_t>(kTotal));
  EXPECT_EQ(pool.dropped(), 0u);
}

TEST(WorkerPool, Stress_PostWithDropOldest_RanPlusDroppedEqualsPosted) {
  constexpr int kPosters = 3;
  constexpr int kPostsEach = 30000 / DCP_STRESS_DIVISOR;
  WorkerPool pool({.threads = 2, .queue_capacity = 8, .overflow = Overflow::drop_oldest});
  std::atomic<std::uint64_t> ran{0};
  std::vector<std::thread> posters;
  for (int p = 0; p < kPosters; ++p) {
    posters.emplace_back([&] {
      for (int i = 0; i < kPostsEach; ++i) EXPECT_TRUE(pool.post([&ran] { ran.fetch_add(1); }));
    });
  }
  for (auto& t : posters) t.join();
  pool.shutdown(ShutdownMode::drain);
  EXPECT_EQ(ran.load() + pool.dropped(), static_cast<std::uint64_t>(kPosters * kPostsEach));
  EXPECT_EQ(pool.completed(), ran.load());
}

TEST(WorkerPool, Stress_CancelWhileSubmitting_EveryHandleFinishesAndDropsAreExact) {
  constexpr int kSubmitters = 3;
  constexpr int kWarmup = 200 / DCP_STRESS_DIVISOR + 1;
  WorkerPool pool({.threads = 2});
  std::atomic<int> ran{0};
  std::latch warmed_up(kSubmitters);
  std::vector<std::vector<dcp::TaskHandle<int>>> handles(kSubmitters);
  std::vector<std::thread> submitters;
  for (int s = 0; s < kSubmitters; ++s) {
    submitters.emplace_back([&, s] {
      for (int i = 0;; ++i) {
        try {
          handles[s].push_back(pool.submit([&ran](std::stop_token stop) {
            ran.fetch_add(1);
            return stop.stop_requested() ? 0 : 1;
          }));
        } catch (const dcp::PoolClosed&) {
          break;
        }
        if (i + 1 == kWarmup) warmed_up.count_down();
      }
    });
  }
  warmed_up.wait();
  const auto report = pool.shutdown(ShutdownMode::cancel);
  for (auto& t : submitters) t.join();

  std::size_t done = 0;
  std::size_t cancelled = 0;
  for (auto& per_submitter : handles) {
    for (auto& handle : per_submitter) {
      ASSERT_TRUE(handle.wait_for(kHangTimeout)) << "a handle was left waiting after shutdown(cancel)";
      if (handle.state() == TaskState::done) {
        ++done;
      } else {
        EXPECT_EQ(handle.state(), TaskState::cancelled);
        ++cancelled;
      }
    }
  }
  EXPECT_EQ(done, static_cast<std::size_t>(ran.load()));
  EXPECT_EQ(cancelled, report.dropped);
  EXPECT_EQ(pool.completed(), done);
}

TEST(WorkerPool, Throughput_ManySmallTasks_AllComplete) {
  constexpr int kTasks = 100000 / DCP_STRESS_DIVISOR;
  WorkerPool pool({.threads = 2});
  std::atomic<int> ran{0};
  for (int i = 0; i < kTasks; ++i) pool.post([&ran] { ran.fetch_add(1, std::memory_order_relaxed); });
  pool.shutdown(ShutdownMode::drain);
  EXPECT_EQ(ran, kTasks);
}

}  // namespace
