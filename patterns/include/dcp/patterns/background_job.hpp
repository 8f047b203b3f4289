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
// requests stop and waits; stop_latency() reports how long the body took from the first
// request_stop() to its end — the "bounded time" is measured, not hoped.
//
// Callbacks run on the job thread, one at a time. An exception they throw is caught, counted in
// callback_errors() and otherwise ignored: it never reaches the body and never ends the job. They
// must not destroy the job (aborts the process) nor call stop_for()/wait_for() (std::logic_error:
// the job would wait for itself); request_stop() is fine.
//
// Thread safety: every member of BackgroundJob may be called from any thread concurrently, except the
// destructor (no other call may run or start once it begins). JobContext is used only by the body, on
// the job thread.
// Blocking: stop_for()/wait_for() up to their timeout; the destructor requests stop and joins — a body
// that ignores its token keeps the destructor waiting. JobContext::sleep_for() until its duration
// passes or stop is requested. Everything else returns at once (start() creates the thread).
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
#include "dcp/node/payload.hpp"
#include "dcp/core/thread.hpp"
#include "dcp/core/worker_pool.hpp"  // dcp::TaskCancelled, which a job body may throw to end

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
  struct Options {
    /// Name of the job thread (truncated to 15 characters) and of the job in messages.
    std::string name = "dcp-job";
    /// Least time between two progress deliveries (>= 0; 0 delivers every report).
    std::chrono::nanoseconds progress_interval = std::chrono::milliseconds(100);
  };

  struct Callbacks {
    /// Each delivered progress report (job thread). May be empty.
    std::function<void(const JobProgress&)> on_progress = nullptr;
    /// Once, when the job ended: its final state and what the body threw (nullptr if it returned).
    /// Job thread. May be empty.
    std::function<void(JobState, std::exception_ptr)> on_finished = nullptr;
  };

  /// A job that runs `body` once start() is called. Throws std::invalid_argument when `body` is empty
  /// or Options::progress_interval is negative.
  BackgroundJob(std::function<void(JobContext&)> body, Callbacks callbacks)
      : BackgroundJob(std::move(body), std::move(callbacks), Options{}) {}
  BackgroundJob(std::function<void(JobContext&)> body, Callbacks callbacks, Options options)
      : body_(std::move(body)), callbacks_(std::move(callbacks)), options_(std::move(options)) {
    if (!body_) throw std::invalid_argument("dcp::BackgroundJob: the job body is empty");
    if (options_.progress_interval < std::chrono::nanoseconds::zero()) {
      throw std::invalid_argument("dcp::BackgroundJob: Options::progress_interval must be >= 0 (got " +
                                  std::to_string(options_.progress_interval.count()) + " ns)");
    }
  }

  BackgroundJob(const BackgroundJob&) = delete;
  BackgroundJob& operator=(const BackgroundJob&) = delete;

  /// Requests stop and joins the job thread: a body that ignores its token keeps the destructor
  /// waiting. Destroying the job from its own body or callbacks aborts the process.
  ~BackgroundJob() {
    if (on_job_thread()) {
      std::fprintf(stderr, "dcp::BackgroundJob '%s': destroyed from its own job thread (a thread cannot join itself)\n",
                   options_.name.c_str());
      std::abort();
    }
    request_stop();
    try {
      if (thread_.joinable()) thread_.join();  // run() never throws
    } catch (...) {
    }
  }

  /// Starts the job thread. Once only: a second call throws std::logic_error. When request_stop() came
  /// first, the body never runs: the job ends as cancelled (on_finished still runs, on the job thread).
  void start() {
    std::lock_guard lock(mutex_);
    if (started_) {
      throw std::logic_error("dcp::BackgroundJob::start: job '" + options_.name + "' was already started (start() may be called once)");
    }
    state_.store(JobState::running, std::memory_order_release);
    started_ = true;
    try {
      thread_ = ScopedThread([this] { run(); }, options_.name);
    } catch (...) {  // no thread: the job is as if never started
      started_ = false;
      state_.store(JobState::not_started, std::memory_order_release);
      throw;
    }
  }

  /// Asks the body to stop: its token reports stop_requested() and sleep_for() returns false. The
  /// first call is the start of stop_latency(). Any thread, any time (before start(): the body never
  /// runs).
  void request_stop() noexcept {
    std::int64_t expected = kNotRequested;
    (void)stop_requested_at_.compare_exchange_strong(expected, now_ns(), std::memory_order_acq_rel);
    stop_source_.request_stop();
  }

  /// request_stop(), then waits up to `timeout` for the job to end. True when it ended (on_finished has
  /// returned) or was never started; false when the body still runs after `timeout`. Throws
  /// std::invalid_argument for a negative timeout, std::logic_error from the job thread.
  bool stop_for(std::chrono::nanoseconds timeout) {
    if (on_job_thread()) {
      throw std::logic_error("dcp::BackgroundJob::stop_for: called from job '" + options_.name + "' itself (it would wait for itself)");
    }
    request_stop();
    {
      std::lock_guard lock(mutex_);
      if (!started_) return true;  // nothing runs, and start() will not run the body
    }
    return wait_for(timeout);
  }

  /// Waits up to `timeout` for the job to end. True when it ended (on_finished has returned); false
  /// after `timeout` (also when it was not started). Throws std::invalid_argument for a negative
  /// timeout, std::logic_error from the job thread.
  bool wait_for(std::chrono::nanoseconds timeout) const {
    if (on_job_thread()) {
      throw std::logic_error("dcp::BackgroundJob::wait_for: called from job '" + options_.name + "' itself (it would wait for itself)");
    }
    const detail::SteadyTime deadline = detail::deadline_after(timeout, "dcp::BackgroundJob::wait_for");
    std::unique_lock lock(mutex_);
    if (deadline == detail::kNoDeadline) {
      ended_cv_.wait(lock, [this] { return ended_; });
      return true;
    }
    return ended_cv_.wait_until(lock, deadline, [this] { return ended_; });
  }

  [[nodiscard]] JobState state() const noexcept { return state_.load(std::memory_order_acquire); }

  /// Progress reports delivered so far (with or without an on_progress callback).
  [[nodiscard]] std::uint64_t progress_published() const noexcept {
    return progress_published_.load(std::memory_order_acquire);
  }

  /// Exceptions thrown by on_progress / on_finished (caught and ignored).
  [[nodiscard]] std::uint64_t callback_errors() const noexcept {
    return callback_errors_.load(std::memory_order_acquire);
  }

  /// Time from the first request_stop() to the end of the body; 0 when not applicable (the job has not
  /// ended yet, ended without a stop request, or never ran).
  [[nodiscard]] std::chrono::nanoseconds stop_latency() const noexcept {
    return std::chrono::nanoseconds(stop_latency_ns_.load(std::memory_order_acquire));
  }

  [[nodiscard]] const std::string& name() const noexcept { return options_.name; }

 private:
  friend class JobContext;

  static constexpr std::int64_t kNotRequested = std::numeric_limits<std::int64_t>::min();

  static std::int64_t now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  bool on_job_thread() const noexcept {
    return thread_id_.load(std::memory_order_acquire) == std::this_thread::get_id();
  }

  /// Called by JobContext on the job thread.
  void publish(const JobProgress& report) noexcept {
    progress_published_.fetch_add(1, std::memory_order_release);
    if (!callbacks_.on_progress) return;
    try {
      callbacks_.on_progress(report);
    } catch (...) {
      callback_errors_.fetch_add(1, std::memory_order_release);
    }
  }

  void run() noexcept {
    thread_id_.store(std::this_thread::get_id(), std::memory_order_release);
    JobContext context(*this, stop_source_.get_token(), options_.progress_interval);
    std::exception_ptr error;
    bool ran = false;
    if (!stop_source_.stop_requested()) {
      ran = true;
      try {
        body_(context);
      } catch (...) {
        error = std::current_exception();
      }
    }
    const bool stopped = stop_source_.stop_requested();  // before the end time: latency never < 0
    const std::int64_t ended_at = now_ns();
    if (stopped && ran) {
      const std::int64_t requested_at = stop_requested_at_.load(std::memory_order_acquire);
      if (requested_at != kNotRequested) {
        stop_latency_ns_.store(std::max<std::int64_t>(0, ended_at - requested_at), std::memory_order_release);
      }
    }
    context.flush(std::chrono::steady_clock::now());  // the last report is always delivered
    const JobState final_state = stopped ? JobState::cancelled : error ? JobState::failed : JobState::finished;
    state_.store(final_state, std::memory_order_release);
    if (callbacks_.on_finished) {
      try {
        callbacks_.on_finished(final_state, error);
      } catch (...) {
        callback_errors_.fetch_add(1, std::memory_order_release);
      }
    }
    error = nullptr;  // the exception is released on the thread that threw it
    thread_id_.store(std::thread::id(), std::memory_order_release);  // a later thread may reuse the id
    {
      std::lock_guard lock(mutex_);
      ended_ = true;
    }
    ended_cv_.notify_all();
  }

  const std::function<void(JobContext&)> body_;
  const Callbacks callbacks_;
  const Options options_;
  std::stop_source stop_source_;
  std::atomic<std::int64_t> stop_requested_at_{kNotRequested};  // steady ns of the first request_stop()
  std::atomic<JobState> state_{JobState::not_started};
  std::atomic<std::uint64_t> progress_published_{0};
  std::atomic<std::uint64_t> callback_errors_{0};
  std::atomic<std::int64_t> stop_latency_ns_{0};
  std::atomic<std::thread::id> thread_id_{};
  mutable std::mutex mutex_;
  mutable std::condition_variable ended_cv_;
  bool started_ = false;  // guarded by mutex_
  bool ended_ = false;    // guarded by mutex_
  ScopedThread thread_;   // last: joined (by the destructor) before the members above go
};

// ---------------------------------------------------------------------------------------------------
// JobContext
// ---------------------------------------------------------------------------------------------------

inline void JobContext::deliver(JobProgress report, SteadyTime now) noexcept {
  delivered_any_ = true;
  last_delivery_ = now;
  job_.publish(report);
}

inline void JobContext::progress(double fraction, std::string message, Payload snapshot) {
  if (!(fraction >= 0.0)) fraction = 0.0;  // negative or NaN
  if (fraction > 1.0) fraction = 1.0;
  JobProgress report{fraction, std::move(message), std::move(snapshot), ++calls_};
  const SteadyTime now = std::chrono::steady_clock::now();
  if (!delivered_any_ || now - last_delivery_ >= interval_) {
    pending_.reset();  // this report is newer
    deliver(std::move(report), now);
  } else {
    pending_ = std::move(report);  // the latest wins
  }
}

inline bool JobContext::sleep_for(std::chrono::nanoseconds duration) {
  const SteadyTime end = detail::deadline_after(duration, "dcp::JobContext::sleep_for");
  if (token_.stop_requested()) return false;
  std::mutex mutex;
  std::condition_variable wake;
  bool stopped = false;
  // Runs on the thread calling request_stop() (or right here if stop was already requested). The
  // stop_callback's destructor waits for a running invocation, so `wake` outlives the notify.
  std::stop_callback on_stop(token_, [&] {
    std::lock_guard lock(mutex);
    stopped = true;
    wake.notify_one();
  });
  std::unique_lock lock(mutex);
  for (;;) {
    if (stopped) return false;
    const SteadyTime now = std::chrono::steady_clock::now();
    if (pending_ && now >= pending_due()) {
      lock.unlock();
      flush(now);
      lock.lock();
      continue;
    }
    if (now >= end) break;
    const SteadyTime wake_at = pending_ ? std::min(end, pending_due()) : end;
    if (wake_at == detail::kNoDeadline) {
      wake.wait(lock, [&] { return stopped; });
    } else {
      wake.wait_until(lock, wake_at, [&] { return stopped; });
    }
  }
  return !token_.stop_requested();
}

}  // namespace dcp
