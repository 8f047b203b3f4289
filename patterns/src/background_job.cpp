// dcp::BackgroundJob and dcp::JobContext (dcp/patterns/background_job.hpp): the bodies. The
// contract is in the header.
#include "dcp/patterns/background_job.hpp"

#include <string>
#include <utility>

namespace dcp {

namespace {

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// BackgroundJob
// ---------------------------------------------------------------------------------------------------

BackgroundJob::BackgroundJob(Body body, Callbacks callbacks, Options options)
    : body_(std::move(body)), callbacks_(std::move(callbacks)), options_(std::move(options)) {
  if (!body_) throw std::invalid_argument("dcp::BackgroundJob: the job body is empty");
  if (options_.progress_interval < std::chrono::nanoseconds::zero()) {
    throw std::invalid_argument("dcp::BackgroundJob: Options::progress_interval must be >= 0 (got " +
                                std::to_string(options_.progress_interval.count()) + " ns)");
  }
}

BackgroundJob::~BackgroundJob() { shutdown(ShutdownMode::drain); }  // thread_'s destructor aborts on the job thread

bool BackgroundJob::start() {
  std::lock_guard lock(mutex_);
  if (shut_down_) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (started_) {
    throw std::logic_error("dcp::BackgroundJob::start: job '" + options_.name +
                           "' was already started (start() may be called once)");
  }
  state_.store(JobState::running, std::memory_order_release);
  try {
    thread_.start(options_.name, [this](std::stop_token) { run(); });
  } catch (...) {  // no thread: the job is as if never started
    state_.store(JobState::not_started, std::memory_order_release);
    throw;
  }
  started_ = true;
  return true;
}

void BackgroundJob::request_stop() noexcept {
  std::int64_t expected = kNotRequested;
  (void)stop_requested_at_.compare_exchange_strong(expected, now_ns(), std::memory_order_acq_rel);
  thread_.request_stop();
}

bool BackgroundJob::stop_for(std::chrono::nanoseconds timeout) {
  if (thread_.is_owned_thread()) {
    throw std::logic_error("dcp::BackgroundJob::stop_for: called from job '" + options_.name +
                           "' itself (it would wait for itself)");
  }
  request_stop();
  {
    std::lock_guard lock(mutex_);
    if (!started_) return true;  // nothing runs, and start() will not run the body
  }
  return wait_for(timeout);
}

bool BackgroundJob::wait_for(std::chrono::nanoseconds timeout) const {
  if (thread_.is_owned_thread()) {
    throw std::logic_error("dcp::BackgroundJob::wait_for: called from job '" + options_.name +
                           "' itself (it would wait for itself)");
  }
  const detail::SteadyTime deadline = detail::deadline_after(timeout, "dcp::BackgroundJob::wait_for");
  std::unique_lock lock(mutex_);
  if (deadline == detail::kNoDeadline) {
    ended_cv_.wait(lock, [this] { return ended_; });
    return true;
  }
  return ended_cv_.wait_until(lock, deadline, [this] { return ended_; });
}

void BackgroundJob::shutdown(ShutdownMode mode) {
  {
    std::lock_guard lock(mutex_);
    shut_down_ = true;
    if (!started_) {  // never runs: as if stopped before start
      JobState expected = JobState::not_started;
      (void)state_.compare_exchange_strong(expected, JobState::cancelled, std::memory_order_acq_rel);
    }
  }
  if (mode == ShutdownMode::cancel) request_stop();
  (void)thread_.join();  // from the job thread: returns at once; run() never throws
}

BackgroundJob::Stats BackgroundJob::stats() const noexcept {
  Stats stats;
  stats.state = state_.load(std::memory_order_acquire);
  stats.progress_published = progress_published_.load(std::memory_order_acquire);
  stats.callback_errors = callback_errors_.load(std::memory_order_acquire);
  stats.body_errors = body_errors_.load(std::memory_order_acquire);
  stats.refused_after_shutdown = refused_.load(std::memory_order_relaxed);
  stats.stop_latency = std::chrono::nanoseconds(stop_latency_ns_.load(std::memory_order_acquire));
  return stats;
}

/// Counts the current exception and delivers it: `what` says who threw.
void BackgroundJob::report_error_of(std::atomic<std::uint64_t>& counter, const char* what) noexcept {
  counter.fetch_add(1, std::memory_order_release);
  try {
    deliver_error(options_.on_error, "background job '" + options_.name + "'",
                  std::string(what) + " threw: " + describe_current_exception());
  } catch (...) {  // the message could not be allocated
    deliver_error(options_.on_error, "background job", what);
  }
}

void BackgroundJob::publish(const JobProgress& report) noexcept {
  progress_published_.fetch_add(1, std::memory_order_release);
  if (!callbacks_.on_progress) return;
  try {
    callbacks_.on_progress(report);
  } catch (...) {
    report_error_of(callback_errors_, "on_progress");
  }
}

void BackgroundJob::run() noexcept {
  const std::stop_token token = thread_.get_stop_token();
  JobContext context(*this, token, options_.progress_interval);
  std::exception_ptr error;
  bool ran = false;
  if (!token.stop_requested()) {
    ran = true;
    try {
      body_(context);
    } catch (const TaskCancelled&) {
      error = std::current_exception();  // the documented way to end on a stop: not an error
    } catch (...) {
      error = std::current_exception();
      report_error_of(body_errors_, "the body");
    }
  }
  const bool stopped = token.stop_requested();  // before the end time: latency never < 0
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
      report_error_of(callback_errors_, "on_finished");
    }
  }
  error = nullptr;  // the exception is released on the thread that threw it
  {
    std::lock_guard lock(mutex_);
    ended_ = true;
  }
  ended_cv_.notify_all();
}

// ---------------------------------------------------------------------------------------------------
// JobContext
// ---------------------------------------------------------------------------------------------------

void JobContext::deliver(JobProgress report, SteadyTime now) noexcept {
  delivered_any_ = true;
  last_delivery_ = now;
  job_.publish(report);
}

void JobContext::progress(double fraction, std::string message, Payload snapshot) {
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

bool JobContext::sleep_for(std::chrono::nanoseconds duration) {
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
