// dcp/patterns/background_job.hpp — a long-running, cancellable task that reports progress while it runs.
//
// What it is for: work that takes seconds or minutes in a robot node (building a map, calibrating,
// replanning a route), that the node watches while it runs and must be able to abandon quickly — on a
// StopEvent, or because a newer request replaced it. The job runs on a thread of its own (a long job
// must not occupy a worker of a dcp::WorkerPool), publishes its progress and partial results through
// callbacks, and ends within a measured time after request_stop():
//
//   dcp::BackgroundJob mapping(
//       [&](dcp::JobContext& job) {
//         for (std::size_t i = 0; i < scans.size(); ++i) {
//           if (job.stop_requested()) return;                      // or throw dcp::TaskCancelled()
//           integrate(map, scans[i]);
//           job.progress(double(i + 1) / scans.size(), "scan " + std::to_string(i), map.snapshot());
//           job.sleep_for(5ms);                                     // pace itself; returns false at stop
//         }
//       },
//       {.on_progress = [&](const dcp::JobProgress& p) { (void)results_tx.try_send(p); },
//        .on_finished = [&](dcp::JobState state, std::exception_ptr error) { (void)done_tx.try_send(state); }},
//       {.name = "mapper", .progress_interval = 100ms});
//   mapping.start();
//   ...
//   if (!mapping.stop_for(500ms)) log("mapper ignores its stop token");    // on StopEvent
//
// Progress. JobContext::progress() is throttled: at most one delivery per Options::progress_interval.
// A call made sooner is kept as pending and replaced by later calls (the latest wins); the pending one
// is delivered when its interval has passed — by the next progress() call, during sleep_for(), or
// when the job ends. The last progress reported before the job ends is always delivered, before
// on_finished. With an interval of 0 every call is delivered. JobProgress::sequence numbers the
// progress() calls (1, 2, ...), so a gap between two deliveries shows how many were replaced.
// JobProgress::snapshot carries an optional partial result (a dcp::Payload: shared, immutable bytes;
// empty when none).
//
// States: not_started -> running -> finished | failed | cancelled.
//   - finished: the body returned and no stop had been requested;
//   - failed: the body threw and no stop had been requested;
//   - cancelled: the body ended (returned or threw anything, dcp::TaskCancelled included) after a stop
//     request, or never ran because request_stop() came before start().
// state() switches to the final state before on_finished runs; wait_for() and stop_for() return true
// only after on_finished has returned. on_finished(state, error) receives whatever the body threw
// (nullptr when it returned), so an exception thrown during cancellation is not lost. It is called
// exactly once per started job.
//
// Stopping. request_stop() makes the body's std::stop_token report stop_requested() and wakes it from
// sleep_for(). A running body is never interrupted: it must look at its token. stop_for(timeout)
// requests stop and waits; stats().stop_latency reports how long the body took from the first
// request_stop() to its end — the "bounded time" is measured, not hoped.
//
// Callbacks run on the job thread, one at a time. An exception they throw is caught, counted in
// stats().callback_errors and delivered with dcp::deliver_error(Options::on_error, ...) (unset:
// dcp::report_error); it never reaches the body and never ends the job. An exception the body throws
// (other than dcp::TaskCancelled, the documented way to end on a stop request) is delivered the same
// way and counted in stats().body_errors — besides being passed to on_finished. Callbacks may call
// request_stop() and shutdown() (from the job thread it starts the shutdown and returns without
// joining); they must not destroy the job (reported with dcp::report_error, then the process aborts)
// nor call stop_for()/wait_for() (std::logic_error: the job would wait for itself).
//
// Shutdown: shutdown(ShutdownMode::drain) lets a running body end on its own and joins the thread;
// shutdown(ShutdownMode::cancel) requests stop first (as request_stop()). Idempotent, any thread;
// cancel escalates a drain in progress. The destructor calls shutdown(drain): a body that only ends
// on a stop request must be stopped first (request_stop(), stop_for() or shutdown(cancel)). A job
// shut down before it started never runs (its state becomes cancelled, on_finished is not called).
//
// After shutdown — one rule for every dcp pattern. Once shutdown() has begun:
//   - a call that submits work (here: start()) never blocks and never throws; it returns its
//     refusal (false) and is counted in stats().refused_after_shutdown;
//   - a configuration call throws std::logic_error naming the class and member (here: none);
//   - shutdown() again is a no-op (cancel may escalate a drain);
//   - stats() and read-only accessors keep working (here also request_stop(), stop_for(), wait_for()).
//
// Thread safety: every member of BackgroundJob may be called from any thread concurrently, except the
// destructor (no other call may run or start once it begins). JobContext is used only by the body, on
// the job thread.
// Blocking: stop_for()/wait_for() up to their timeout; shutdown() and the destructor until the body
// ended (unless called on the job thread). JobContext::sleep_for() until its duration passes or stop
// is requested. Everything else returns at once (start() creates the thread).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>

#include "dcp/core/detail/deadline.hpp"
#include "dcp/core/error_report.hpp"
#include "dcp/core/shutdown.hpp"  // dcp::ShutdownMode, and dcp::TaskCancelled, which a job body may throw to end
#include "dcp/node/payload.hpp"
#include "dcp/patterns/detail/owned_thread.hpp"

namespace dcp {

enum class JobState {
  not_started,  ///< start() not called yet
  running,      ///< the body is running (or about to)
  finished,     ///< the body returned without a stop request
  failed,       ///< the body threw without a stop request
  cancelled,    ///< the body ended after a stop request, or never ran (stopped before start)
};

constexpr const char* to_string(JobState state) noexcept {
  switch (state) {
    case JobState::not_started: return "not_started";
    case JobState::running: return "running";
    case JobState::finished: return "finished";
    case JobState::failed: return "failed";
    case JobState::cancelled: return "cancelled";
  }
  return "unknown";
}

/// One progress report of a job.
struct JobProgress {
  double fraction = 0;   ///< in [0, 1]
  std::string message;
  Payload snapshot;      ///< optional partial result; empty if none
  std::uint64_t sequence = 0;  ///< which progress() call this was (1-based; gaps = replaced by the throttle)
};

class BackgroundJob;

/// The options of a BackgroundJob (BackgroundJob::Options; declared outside the class so that
/// `Options options = {}` works as a default argument — a nested struct's member initialisers cannot
/// be used there).
struct BackgroundJobOptions {
  /// Name of the job thread (truncated to 15 characters) and of the job in messages.
  std::string name = "dcp-job";
  /// Least time between two progress deliveries (>= 0; 0 delivers every report).
  std::chrono::nanoseconds progress_interval = std::chrono::milliseconds(100);
  /// Where a throwing body (other than TaskCancelled) or callback is reported (unset:
  /// dcp::report_error).
  ErrorCallback on_error = nullptr;
};

/// What the body of a BackgroundJob gets: its stop token, progress reporting, interruptible sleep.
/// Used only on the job thread.
class JobContext {
 public:
  JobContext(const JobContext&) = delete;
  JobContext& operator=(const JobContext&) = delete;

  [[nodiscard]] std::stop_token stop_token() const noexcept { return token_; }
  [[nodiscard]] bool stop_requested() const noexcept { return token_.stop_requested(); }

  /// Reports progress (throttled, see the header comment). `fraction` is clamped to [0, 1] (NaN -> 0).
  /// Never throws because of the on_progress callback.
  void progress(double fraction, std::string message = {}, Payload snapshot = {});

  /// Sleeps for `duration` unless stop is requested: true when it slept the whole duration, false as
  /// soon as stop is requested (at once if it already was). Delivers a pending progress report when
  /// its interval passes during the sleep. Throws std::invalid_argument for a negative duration.
  bool sleep_for(std::chrono::nanoseconds duration);

 private:
  friend class BackgroundJob;
  using SteadyTime = detail::SteadyTime;

  JobContext(BackgroundJob& job, std::stop_token token, std::chrono::nanoseconds interval) noexcept
      : job_(job), token_(std::move(token)), interval_(interval) {}

  /// When the pending report may be delivered (kNoDeadline when it never may before the end).
  SteadyTime pending_due() const noexcept {
    const auto left = SteadyTime::max() - last_delivery_;
    return interval_ >= left ? detail::kNoDeadline : last_delivery_ + interval_;
  }

  void deliver(JobProgress report, SteadyTime now) noexcept;

  /// Delivers the pending report, if any (the job is ending, or its interval passed).
  void flush(SteadyTime now) noexcept {
    if (!pending_) return;
    JobProgress report = std::move(*pending_);
    pending_.reset();
    deliver(std::move(report), now);
  }

  BackgroundJob& job_;
  std::stop_token token_;
  const std::chrono::nanoseconds interval_;
  bool delivered_any_ = false;
  SteadyTime last_delivery_{};
  std::optional<JobProgress> pending_;
  std::uint64_t calls_ = 0;
};

class BackgroundJob {
 public:
  using Options = BackgroundJobOptions;

  /// What the job runs, once, on its own thread.
  using Body = std::function<void(JobContext&)>;

  struct Callbacks {
    /// Each delivered progress report (job thread). May be empty.
    std::function<void(const JobProgress&)> on_progress = nullptr;
    /// Once, when the job ended: its final state and what the body threw (nullptr if it returned).
    /// Job thread. May be empty.
    std::function<void(JobState, std::exception_ptr)> on_finished = nullptr;
  };

  /// A snapshot of the job's counters.
  struct Stats {
    JobState state = JobState::not_started;
    std::uint64_t progress_published = 0;     ///< progress reports delivered (with or without on_progress)
    std::uint64_t callback_errors = 0;        ///< exceptions on_progress / on_finished threw (each delivered)
    std::uint64_t body_errors = 0;            ///< exceptions the body threw, TaskCancelled aside (each delivered)
    std::uint64_t refused_after_shutdown = 0; ///< start() calls after shutdown() began
    /// From the first request_stop() to the end of the body; 0 when not applicable (not ended yet,
    /// ended without a stop request, or never ran).
    std::chrono::nanoseconds stop_latency{0};
  };

  /// A job that runs `body` once start() is called. Throws std::invalid_argument when `body` is empty
  /// or Options::progress_interval is negative.
  BackgroundJob(Body body, Callbacks callbacks, Options options = {});

  BackgroundJob(const BackgroundJob&) = delete;
  BackgroundJob& operator=(const BackgroundJob&) = delete;

  /// shutdown(ShutdownMode::drain): waits for the body to end on its own. From the job thread
  /// (its body or callbacks): reported, then aborts.
  ~BackgroundJob();

  /// Starts the job thread: true. False once shutdown() has begun (refused: nothing done, nothing
  /// thrown, counted in stats().refused_after_shutdown). Once only: a second call before any
  /// shutdown throws std::logic_error. When request_stop() came first, the body never runs: the job
  /// ends as cancelled (on_finished still runs, on the job thread).
  bool start();

  /// Asks the body to stop: its token reports stop_requested() and sleep_for() returns false. The
  /// first call is the start of stats().stop_latency. Any thread, any time (before start(): the body
  /// never runs). Does not refuse a later start().
  void request_stop() noexcept;

  /// request_stop(), then waits up to `timeout` for the job to end. True when it ended (on_finished has
  /// returned) or was never started; false when the body still runs after `timeout`. Throws
  /// std::invalid_argument for a negative timeout, std::logic_error from the job thread.
  bool stop_for(std::chrono::nanoseconds timeout);

  /// Waits up to `timeout` for the job to end. True when it ended (on_finished has returned); false
  /// after `timeout` (also when it was not started). Throws std::invalid_argument for a negative
  /// timeout, std::logic_error from the job thread.
  bool wait_for(std::chrono::nanoseconds timeout) const;

  /// Refuses later start() calls; cancel also requests stop; then waits for the body to end (see the
  /// header comment). From the job thread: starts the shutdown and returns without waiting.
  void shutdown(ShutdownMode mode = ShutdownMode::drain);

  [[nodiscard]] JobState state() const noexcept { return state_.load(std::memory_order_acquire); }

  [[nodiscard]] Stats stats() const noexcept;

  [[nodiscard]] const std::string& name() const noexcept { return options_.name; }

 private:
  friend class JobContext;

  static constexpr std::int64_t kNotRequested = std::numeric_limits<std::int64_t>::min();

  /// Called by JobContext on the job thread.
  void publish(const JobProgress& report) noexcept;
  void run() noexcept;
  void report_error_of(std::atomic<std::uint64_t>& counter, const char* what) noexcept;

  const Body body_;
  const Callbacks callbacks_;
  const Options options_;
  std::atomic<std::int64_t> stop_requested_at_{kNotRequested};  // steady ns of the first request_stop()
  std::atomic<JobState> state_{JobState::not_started};
  std::atomic<std::uint64_t> progress_published_{0};
  std::atomic<std::uint64_t> callback_errors_{0};
  std::atomic<std::uint64_t> body_errors_{0};
  std::atomic<std::uint64_t> refused_{0};
  std::atomic<std::int64_t> stop_latency_ns_{0};
  mutable std::mutex mutex_;
  mutable std::condition_variable ended_cv_;
  bool started_ = false;    // guarded by mutex_
  bool shut_down_ = false;  // guarded by mutex_
  bool ended_ = false;      // guarded by mutex_
  detail::OwnedThread thread_;  // last: joined (by the destructor) before the members above go
};

}  // namespace dcp
