// Tests of dcp::BackgroundJob and dcp::JobContext (include/dcp/patterns/background_job.hpp).
//
// Synchronisation: wait_for()/stop_for() (which return only after on_finished returned, so whatever
// the callbacks recorded on the job thread is visible afterwards), dcp::test::Gate and a dcp channel
// for progress observed while the job still runs. Timeouts (kHang = dcp::test::kHangTimeout) only
// catch hangs. Throttling is asserted on counts: with an interval of an hour exactly the first and
// the last report are delivered whatever the machine's speed.
#include "dcp/patterns/background_job.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <exception>
#include <future>
#include <iostream>
#include <latch>
#include <mutex>
#include <string_view>
#include <thread>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "dcp/core/channel.hpp"
#include "dcp/core/error_report.hpp"
#include "dcp/core/shutdown.hpp"
#include "dcp/core/detail/thread_name.hpp"
#include "support/captured_reports.hpp"
#include "support/gate.hpp"
#include "support/hang_timeout.hpp"

namespace {

using namespace std::chrono_literals;
using dcp::BackgroundJob;
using dcp::JobContext;
using dcp::JobProgress;
using dcp::JobState;

using dcp::test::Gate;
constexpr auto kHang = dcp::test::kHangTimeout;

/// What the callbacks saw, written on the job thread; read after wait_for()/stop_for() returned true.
struct Record {
  std::vector<JobProgress> progress;
  std::vector<std::string> events;  // "progress <sequence>" / "finished <state>", in order
  int finished_calls = 0;
  JobState finished_state = JobState::not_started;
  std::string error;  // what() of the exception on_finished got ("" for none)
  std::string callback_thread;

  BackgroundJob::Callbacks callbacks() {
    return {.on_progress =
                [this](const JobProgress& p) {
                  progress.push_back(p);
                  events.push_back("progress " + std::to_string(p.sequence));
                  callback_thread = dcp::detail::current_thread_name();
                },
            .on_finished =
                [this](JobState state, std::exception_ptr error_ptr) {
                  ++finished_calls;
                  finished_state = state;
                  if (error_ptr) error = dcp::describe_exception(error_ptr);  // on the job thread
                  events.push_back(std::string("finished ") + dcp::to_string(state));
                }};
  }
};

std::string text_of(const dcp::Payload& payload) {
  return std::string(payload.as_string());
}

using dcp::test::CapturedReports;

/// Starts `job`, waits for its end and checks that it ended `expected`, with on_finished called once
/// with that state.
void start_and_expect_end(BackgroundJob& job, const Record& record, JobState expected) {
  job.start();
  ASSERT_TRUE(job.wait_for(kHang));
  EXPECT_EQ(job.state(), expected);
  EXPECT_EQ(record.finished_calls, 1);
  EXPECT_EQ(record.finished_state, expected);
}

long long us(std::chrono::nanoseconds d) { return std::chrono::duration_cast<std::chrono::microseconds>(d).count(); }

// ---------------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------------

TEST(BackgroundJob, Construct_EmptyBodyOrNegativeInterval_ThrowsInvalidArgument) {
  EXPECT_THROW(BackgroundJob({}, {}), std::invalid_argument);
  try {
    BackgroundJob job([](JobContext&) {}, {}, {.progress_interval = -1ms});
    FAIL() << "a negative progress_interval must throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("progress_interval"), std::string::npos) << e.what();
  }
}

TEST(BackgroundJob, NotStarted_StateIsNotStarted_AndWaitForTimesOut) {
  bool ran = false;
  BackgroundJob job([&](JobContext&) { ran = true; }, {});
  EXPECT_EQ(job.state(), JobState::not_started);
  EXPECT_FALSE(job.wait_for(1ms));
  EXPECT_THROW((void)job.wait_for(-1ms), std::invalid_argument);
  EXPECT_FALSE(ran);
}

TEST(BackgroundJob, StartTwice_ThrowsLogicError) {
  BackgroundJob job([](JobContext&) {}, {});
  job.start();
  EXPECT_THROW(job.start(), std::logic_error);
  EXPECT_TRUE(job.wait_for(kHang));
  EXPECT_THROW(job.start(), std::logic_error);
}

// ---------------------------------------------------------------------------------------------------
// End states
// ---------------------------------------------------------------------------------------------------

TEST(BackgroundJob, BodyReturns_Finished_OnFinishedOnceWithoutError) {
  Record record;
  BackgroundJob job([](JobContext& ctx) { ctx.progress(1.0, "done"); }, record.callbacks(), {.name = "job-finish"});
  start_and_expect_end(job, record, JobState::finished);
  EXPECT_EQ(record.error, "");
  EXPECT_EQ(job.stats().stop_latency, 0ns);
  EXPECT_EQ(record.callback_thread, "job-finish");  // callbacks run on the job thread
}

TEST(BackgroundJob, BodyThrows_Failed_OnFinishedGetsTheException_AndItIsReportedAndCounted) {
  CapturedReports reports;
  Record record;
  BackgroundJob job([](JobContext&) { throw std::runtime_error("map too large"); }, record.callbacks(),
                    {.name = "job-throws"});
  start_and_expect_end(job, record, JobState::failed);
  EXPECT_EQ(record.error, "map too large");
  EXPECT_EQ(job.stats().body_errors, 1u);
  EXPECT_EQ(reports.take(), (std::vector<CapturedReports::Report>{{"background job 'job-throws'",
                                                                    "the body threw: map too large"}}));
}

TEST(BackgroundJob, BodyAndCallbackErrors_WithOnError_GoToOnErrorAlone) {
  CapturedReports reports;
  std::mutex mutex;
  std::vector<std::string> delivered;  // appended on the job thread, read after wait_for
  BackgroundJob job([](JobContext& ctx) {
    ctx.progress(0.5);
    throw std::runtime_error("disk full");
  },
                    {.on_progress = [](const JobProgress&) { throw std::runtime_error("monitor down"); }},
                    {.progress_interval = 0ns, .on_error = [&](std::string_view, std::string_view message) {
                       std::lock_guard lock(mutex);
                       delivered.emplace_back(message);
                     }});
  job.start();
  ASSERT_TRUE(job.wait_for(kHang));
  const std::vector<std::string> expected{"on_progress threw: monitor down", "the body threw: disk full"};
  EXPECT_EQ(delivered, expected);
  EXPECT_EQ(job.stats().callback_errors, 1u);
  EXPECT_EQ(job.stats().body_errors, 1u);
  EXPECT_TRUE(reports.take().empty());
}

TEST(BackgroundJob, CooperativeJob_StopForReturnsPromptly_Cancelled_LatencyMeasured) {
  Record record;
  Gate running;
  std::atomic<int> sleeps{0};
  BackgroundJob job(
      [&](JobContext& ctx) {
        running.open();
        while (ctx.sleep_for(1h)) ++sleeps;  // paces itself; wakes at once on stop
      },
      record.callbacks());
  job.start();
  EXPECT_TRUE(running.wait());
  EXPECT_EQ(job.state(), JobState::running);
  ASSERT_TRUE(job.stop_for(kHang));
  EXPECT_EQ(job.state(), JobState::cancelled);
  EXPECT_EQ(record.finished_state, JobState::cancelled);
  EXPECT_EQ(record.error, "");
  EXPECT_EQ(sleeps.load(), 0);  // the hour-long sleep never completed
  EXPECT_GT(job.stats().stop_latency, 0ns);
  EXPECT_LT(job.stats().stop_latency, 1s);
  std::cout << "[ measured ] stop latency of a job in sleep_for: " << us(job.stats().stop_latency) << " us\n";
  ::testing::Test::RecordProperty("stop_latency_us", std::to_string(us(job.stats().stop_latency)));
}

TEST(BackgroundJob, JobThrowsTaskCancelledOnStop_Cancelled_ExceptionPassedOn_NotReported) {
  CapturedReports reports;
  Record record;
  Gate running;
  BackgroundJob job(
      [&](JobContext& ctx) {
        running.open();
        if (!ctx.sleep_for(1h)) throw dcp::TaskCancelled("mapping abandoned");
      },
      record.callbacks());
  job.start();
  EXPECT_TRUE(running.wait());
  ASSERT_TRUE(job.stop_for(kHang));
  EXPECT_EQ(job.state(), JobState::cancelled);
  EXPECT_EQ(record.finished_state, JobState::cancelled);
  EXPECT_EQ(record.error, "mapping abandoned");
  EXPECT_EQ(job.stats().body_errors, 0u);  // the documented way to end on a stop
  EXPECT_TRUE(reports.take().empty());
}

TEST(BackgroundJob, StopTokenOfTheContext_ReportsTheStop) {
  Gate running;
  BackgroundJob job(
      [&](JobContext& ctx) {
        running.open();
        const std::stop_token token = ctx.stop_token();
        std::promise<void> stopped;
        std::stop_callback on_stop(token, [&] { stopped.set_value(); });
        stopped.get_future().wait();
        EXPECT_TRUE(ctx.stop_requested());
      },
      {});
  job.start();
  EXPECT_TRUE(running.wait());
  job.request_stop();
  ASSERT_TRUE(job.wait_for(kHang));
  EXPECT_EQ(job.state(), JobState::cancelled);
}

TEST(BackgroundJob, StopBeforeStart_BodyNeverRuns_EndsCancelled) {
  Record record;
  std::atomic<bool> ran{false};
  BackgroundJob job([&](JobContext&) { ran = true; }, record.callbacks());
  EXPECT_TRUE(job.stop_for(0ns));  // nothing runs
  EXPECT_EQ(job.state(), JobState::not_started);
  job.start();
  ASSERT_TRUE(job.wait_for(kHang));
  EXPECT_FALSE(ran);
  EXPECT_EQ(job.state(), JobState::cancelled);
  EXPECT_EQ(record.finished_calls, 1);
  EXPECT_EQ(record.finished_state, JobState::cancelled);
  EXPECT_EQ(job.stats().stop_latency, 0ns);  // not applicable: the body never ran
}

TEST(BackgroundJob, StopAfterTheJobFinished_StaysFinished) {
  BackgroundJob job([](JobContext&) {}, {});
  job.start();
  ASSERT_TRUE(job.wait_for(kHang));
  EXPECT_TRUE(job.stop_for(0ns));
  EXPECT_EQ(job.state(), JobState::finished);
  EXPECT_EQ(job.stats().stop_latency, 0ns);
}

TEST(BackgroundJob, Destructor_DrainsARunningJobToItsEnd_WithoutAStopRequest) {
  Record record;
  Gate running;
  Gate release;
  std::atomic<bool> saw_stop{true};
  std::thread releaser;
  {
    BackgroundJob job(
        [&](JobContext& ctx) {
          running.open();
          EXPECT_TRUE(release.wait());
          saw_stop = ctx.stop_requested();
        },
        record.callbacks());
    job.start();
    EXPECT_TRUE(running.wait());
    releaser = std::thread([&] { release.open(); });
  }  // shutdown(drain): waits for the body, which ends on its own
  releaser.join();
  EXPECT_FALSE(saw_stop);
  EXPECT_EQ(record.finished_calls, 1);  // joined: the job thread's writes are visible
  EXPECT_EQ(record.finished_state, JobState::finished);
}

TEST(BackgroundJob, ShutdownCancel_StopsARunningJobAndWaitsForIt) {
  Record record;
  Gate running;
  std::atomic<bool> saw_stop{false};
  BackgroundJob job(
      [&](JobContext& ctx) {
        running.open();
        saw_stop = !ctx.sleep_for(1h);
      },
      record.callbacks());
  job.start();
  EXPECT_TRUE(running.wait());
  job.shutdown(dcp::ShutdownMode::cancel);
  EXPECT_TRUE(saw_stop);
  EXPECT_EQ(record.finished_calls, 1);
  EXPECT_EQ(record.finished_state, JobState::cancelled);
  EXPECT_GT(job.stats().stop_latency, 0ns);
  job.shutdown(dcp::ShutdownMode::cancel);  // idempotent
}

TEST(BackgroundJob, StartAfterShutdown_IsRefusedAndCounted_TheBodyNeverRuns) {
  std::atomic<bool> ran{false};
  Record record;
  BackgroundJob job([&](JobContext&) { ran = true; }, record.callbacks());
  job.shutdown();
  EXPECT_FALSE(job.start());  // refused: never throws, does nothing
  EXPECT_FALSE(job.start());
  EXPECT_FALSE(ran.load());
  EXPECT_EQ(record.finished_calls, 0);
  const BackgroundJob::Stats stats = job.stats();
  EXPECT_EQ(stats.refused_after_shutdown, 2u);
  EXPECT_EQ(stats.state, JobState::cancelled);  // never ran
  EXPECT_TRUE(job.stop_for(0ns));
}

TEST(BackgroundJob, ShutdownTwice_IsANoOp) {
  Record record;
  BackgroundJob job([](JobContext& ctx) { ctx.progress(1.0, "done"); }, record.callbacks());
  job.start();
  job.shutdown();
  const BackgroundJob::Stats first = job.stats();
  job.shutdown();
  job.shutdown(dcp::ShutdownMode::cancel);  // the body ended: nothing left to cancel
  const BackgroundJob::Stats second = job.stats();
  EXPECT_EQ(second.state, JobState::finished);
  EXPECT_EQ(second.state, first.state);
  EXPECT_EQ(second.progress_published, first.progress_published);
  EXPECT_EQ(second.stop_latency, first.stop_latency);
  EXPECT_EQ(second.refused_after_shutdown, 0u);
  EXPECT_EQ(record.finished_calls, 1);
}

TEST(BackgroundJob, ShutdownFromTheBody_ReturnsWithoutWaitingForItself) {
  BackgroundJob* self = nullptr;
  std::atomic<bool> returned{false};
  BackgroundJob job(
      [&](JobContext&) {
        self->shutdown(dcp::ShutdownMode::cancel);
        returned = true;
      },
      {});
  self = &job;
  ASSERT_TRUE(job.start());
  ASSERT_TRUE(job.wait_for(kHang));
  EXPECT_TRUE(returned.load());
  EXPECT_EQ(job.state(), JobState::cancelled);
  EXPECT_FALSE(job.start());  // after shutdown: refused (start() twice would throw otherwise)
}

TEST(BackgroundJobDeathTest, DestroyedFromItsOwnBody_ReportsAndAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        BackgroundJob* self = nullptr;
        std::latch never(1);
        self = new BackgroundJob([&](JobContext&) { delete self; }, {}, {.name = "job-suicide"});
        self->start();
        never.wait();
      },
      "thread 'job-suicide': destroyed from its own thread");
}

TEST(BackgroundJob, JobIgnoringStop_StopForReturnsFalse_ThenEndsWhenItDecides) {
  Record record;
  Gate running;
  Gate may_end;
  BackgroundJob job(
      [&](JobContext&) {
        running.open();
        EXPECT_TRUE(may_end.wait());  // ignores its stop token
      },
      record.callbacks());
  job.start();
  EXPECT_TRUE(running.wait());
  constexpr auto kShort = 20ms;
  EXPECT_FALSE(job.stop_for(kShort));
  EXPECT_EQ(job.state(), JobState::running);
  EXPECT_FALSE(job.wait_for(0ns));
  may_end.open();
  ASSERT_TRUE(job.wait_for(kHang));
  EXPECT_EQ(job.state(), JobState::cancelled);  // it ended after a stop request
  EXPECT_GE(job.stats().stop_latency, kShort);        // measured from the request, which it outlived
  std::cout << "[ measured ] stop latency of a job ignoring its token: " << us(job.stats().stop_latency) << " us\n";
}

// ---------------------------------------------------------------------------------------------------
// Progress
// ---------------------------------------------------------------------------------------------------

TEST(BackgroundJob, ProgressWithZeroInterval_EveryReportDelivered_WithSnapshot) {
  Record record;
  BackgroundJob job(
      [](JobContext& ctx) {
        ctx.progress(0.25, "quarter");
        ctx.progress(0.5, "half", dcp::Payload::from_string("partial map"));
        ctx.progress(1.0, "done");
      },
      record.callbacks(), {.progress_interval = 0ns});
  job.start();
  ASSERT_TRUE(job.wait_for(kHang));
  ASSERT_EQ(record.progress.size(), 3u);
  EXPECT_EQ(job.stats().progress_published, 3u);
  EXPECT_DOUBLE_EQ(record.progress[0].fraction, 0.25);
  EXPECT_EQ(record.progress[0].message, "quarter");
  EXPECT_TRUE(record.progress[0].snapshot.empty());
  EXPECT_EQ(record.progress[1].message, "half");
  EXPECT_EQ(text_of(record.progress[1].snapshot), "partial map");
  EXPECT_EQ(record.progress[2].sequence, 3u);
  EXPECT_EQ(record.events.back(), "finished finished");  // progress before on_finished
}

TEST(BackgroundJob, ProgressFraction_IsClampedToZeroOne) {
  Record record;
  BackgroundJob job(
      [](JobContext& ctx) {
        ctx.progress(-0.5);
        ctx.progress(7.0);
        ctx.progress(std::numeric_limits<double>::quiet_NaN());
        ctx.progress(0.3);
      },
      record.callbacks(), {.progress_interval = 0ns});
  job.start();
  ASSERT_TRUE(job.wait_for(kHang));
  ASSERT_EQ(record.progress.size(), 4u);
  EXPECT_EQ(record.progress[0].fraction, 0.0);
  EXPECT_EQ(record.progress[1].fraction, 1.0);
  EXPECT_EQ(record.progress[2].fraction, 0.0);
  EXPECT_DOUBLE_EQ(record.progress[3].fraction, 0.3);
}

TEST(BackgroundJob, ProgressWithHugeInterval_DeliversExactlyTheFirstAndTheLast) {
  constexpr std::uint64_t kCalls = 1000;
  Record record;
  BackgroundJob job(
      [](JobContext& ctx) {
        for (std::uint64_t i = 1; i <= kCalls; ++i) {
          ctx.progress(static_cast<double>(i) / kCalls, "step " + std::to_string(i));
        }
      },
      record.callbacks(), {.progress_interval = 1h});
  job.start();
  ASSERT_TRUE(job.wait_for(kHang));
  ASSERT_EQ(record.progress.size(), 2u);
  EXPECT_EQ(job.stats().progress_published, 2u);
  EXPECT_EQ(record.progress[0].sequence, 1u);
  EXPECT_EQ(record.progress[0].message, "step 1");
  EXPECT_EQ(record.progress[1].sequence, kCalls);  // the latest wins, delivered at the end
  EXPECT_EQ(record.progress[1].message, "step 1000");
  EXPECT_DOUBLE_EQ(record.progress[1].fraction, 1.0);
  const std::vector<std::string> expected{"progress 1", "progress 1000", "finished finished"};
  EXPECT_EQ(record.events, expected);
}

TEST(BackgroundJob, ProgressThrottled_DeliveriesBoundedByElapsedIntervals) {
  // A tight loop of progress() calls with a real interval: deliveries are at most one per elapsed
  // interval, plus the first and the final one. Only an upper bound depends on time, and it is
  // computed from the time the loop really took.
  constexpr auto kInterval = 10ms;
  const std::uint64_t calls = 200000 / DCP_STRESS_DIVISOR;
  Record record;
  std::chrono::nanoseconds loop_time{};
  BackgroundJob job(
      [&](JobContext& ctx) {
        const auto begin = std::chrono::steady_clock::now();
        for (std::uint64_t i = 1; i <= calls; ++i) ctx.progress(static_cast<double>(i) / static_cast<double>(calls));
        loop_time = std::chrono::steady_clock::now() - begin;
      },
      record.callbacks(), {.progress_interval = kInterval});
  job.start();
  ASSERT_TRUE(job.wait_for(kHang));
  const auto intervals = static_cast<std::uint64_t>(loop_time / kInterval);
  std::cout << "[ measured ] " << calls << " progress calls in " << us(loop_time) << " us -> "
            << job.stats().progress_published << " deliveries\n";
  EXPECT_GE(job.stats().progress_published, 2u);
  EXPECT_LE(job.stats().progress_published, intervals + 2);
  ASSERT_FALSE(record.progress.empty());
  EXPECT_EQ(record.progress.front().sequence, 1u);
  EXPECT_EQ(record.progress.back().sequence, calls);  // the final report is always delivered
  for (std::size_t i = 1; i < record.progress.size(); ++i) {
    EXPECT_LT(record.progress[i - 1].sequence, record.progress[i].sequence);
  }
}

TEST(BackgroundJob, PendingProgress_IsDeliveredDuringSleepFor_WhenItsIntervalPasses) {
  // The second report comes too soon and waits; the job then sleeps (until stopped). The report
  // must arrive while the job is still asleep — delivered by sleep_for once the interval passed.
  auto [tx, rx] = dcp::unbounded<JobProgress>();
  BackgroundJob job(
      [](JobContext& ctx) {
        ctx.progress(0.1, "first");
        ctx.progress(0.2, "second");
        (void)ctx.sleep_for(1h);
      },
      {.on_progress = [tx = tx](const JobProgress& p) mutable { (void)tx.send(p); }}, {.progress_interval = 20ms});
  job.start();
  auto first = rx.recv_for(kHang);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first.value().message, "first");
  auto second = rx.recv_for(kHang);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second.value().message, "second");
  EXPECT_EQ(second.value().sequence, 2u);
  EXPECT_EQ(job.state(), JobState::running);  // still in its hour-long sleep
  ASSERT_TRUE(job.stop_for(kHang));
  EXPECT_EQ(job.stats().progress_published, 2u);  // nothing left over to deliver at the end
}

TEST(BackgroundJob, LastProgress_IsDeliveredBeforeOnFinished_EvenWhenTheBodyThrows) {
  CapturedReports reports;  // the body's exception is reported too
  Record record;
  BackgroundJob job(
      [](JobContext& ctx) {
        ctx.progress(0.1, "first");
        ctx.progress(0.6, "last words", dcp::Payload::from_string("half a map"));
        throw std::runtime_error("lidar gone");
      },
      record.callbacks(), {.progress_interval = 1h});
  job.start();
  ASSERT_TRUE(job.wait_for(kHang));
  const std::vector<std::string> expected{"progress 1", "progress 2", "finished failed"};
  EXPECT_EQ(record.events, expected);
  ASSERT_EQ(record.progress.size(), 2u);
  EXPECT_EQ(text_of(record.progress[1].snapshot), "half a map");
  EXPECT_EQ(record.error, "lidar gone");
}

// ---------------------------------------------------------------------------------------------------
// Callback rules
// ---------------------------------------------------------------------------------------------------

TEST(BackgroundJob, ThrowingCallbacks_AreReportedCountedAndDoNotStopTheJob) {
  CapturedReports reports;
  std::atomic<int> progress_seen{0};
  std::atomic<bool> body_completed{false};
  BackgroundJob job(
      [&](JobContext& ctx) {
        for (int i = 0; i < 3; ++i) ctx.progress(0.3 * i);
        body_completed = true;
      },
      {.on_progress =
           [&](const JobProgress&) {
             ++progress_seen;
             throw std::runtime_error("monitor down");
           },
       .on_finished = [](JobState, std::exception_ptr) { throw std::runtime_error("nobody listens"); }},
      {.progress_interval = 0ns});
  job.start();
  ASSERT_TRUE(job.wait_for(kHang));
  EXPECT_TRUE(body_completed);
  EXPECT_EQ(progress_seen.load(), 3);
  EXPECT_EQ(job.stats().progress_published, 3u);
  EXPECT_EQ(job.stats().callback_errors, 4u);
  EXPECT_EQ(job.state(), JobState::finished);
  const auto captured = reports.take();
  ASSERT_EQ(captured.size(), 4u);
  EXPECT_EQ(captured[0].second, "on_progress threw: monitor down");
  EXPECT_EQ(captured[3].second, "on_finished threw: nobody listens");
}

TEST(BackgroundJob, WaitingFromTheJobThread_ThrowsLogicError) {
  std::string outcome;
  BackgroundJob* self = nullptr;
  BackgroundJob job(
      [&](JobContext&) {
        try {
          (void)self->stop_for(1s);
          outcome = "stop_for returned";
        } catch (const std::logic_error&) {
          outcome = "logic_error";
        }
        try {
          (void)self->wait_for(1s);
          outcome += ", wait_for returned";
        } catch (const std::logic_error&) {
          outcome += ", logic_error";
        }
      },
      {});
  self = &job;
  job.start();
  ASSERT_TRUE(job.wait_for(kHang));
  EXPECT_EQ(outcome, "logic_error, logic_error");
  // The misuse throws before doing anything: no stop was requested, the job finished.
  EXPECT_EQ(job.state(), JobState::finished);
}

TEST(BackgroundJob, ConcurrentStopRequestsAndWaits_AreRaceFree) {
  // Several threads request stop and wait at once while the job reports progress and sleeps in short
  // steps; every waiter sees the same end. ThreadSanitizer checks the rest.
  const int rounds = 200 / DCP_STRESS_DIVISOR;
  for (int round = 0; round < rounds; ++round) {
    std::atomic<std::uint64_t> delivered{0};
    BackgroundJob job(
        [](JobContext& ctx) {
          for (int i = 0; ctx.sleep_for(50us); ++i) ctx.progress(0.001 * i, "step");
        },
        {.on_progress = [&](const JobProgress&) { ++delivered; }}, {.progress_interval = 100us});
    job.start();
    std::vector<std::thread> stoppers;
    std::atomic<int> ended{0};
    for (int t = 0; t < 3; ++t) {
      stoppers.emplace_back([&] {
        if (job.stop_for(kHang)) ++ended;
        (void)job.state();
        (void)job.stats().stop_latency;
      });
    }
    for (auto& t : stoppers) t.join();
    ASSERT_EQ(ended.load(), 3);
    ASSERT_EQ(job.state(), JobState::cancelled);
    ASSERT_EQ(delivered.load(), job.stats().progress_published);
  }
}

}  // namespace
