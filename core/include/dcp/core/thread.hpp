// dcp/core/thread.hpp — threads whose lifetime is a scope, and whose exceptions are not lost.
//
// What it is for: a Dora node runs a few long-lived threads (a sensor reader, a control loop). They
// must stop and be joined when the node shuts down, and an exception in one of them must reach the
// node instead of calling std::terminate (what a throwing std::thread does).
//
//   dcp::ThreadGroup threads({.stop_on_error = true});
//   threads.spawn([&](std::stop_token stop) { while (!stop.stop_requested()) read_lidar(); }, "lidar");
//   threads.spawn([&](std::stop_token stop) { control_loop(stop); }, "control");
//   ...
//   threads.request_stop();
//   threads.join_all();      // rethrows the first exception any of them threw
//
// ScopedThread: one std::jthread. Its callable is f() or f(std::stop_token) (with the token when it
// accepts one, like std::jthread). The destructor requests stop and joins. join() joins and rethrows
// the thread's exception, if it threw.
//
// ThreadGroup: any number of threads sharing one stop_source. join_all() joins them all and rethrows
// the first exception (in the order the threads failed); errors() keeps every exception. With
// Options::stop_on_error the first failure requests stop on the whole group, so the siblings wind
// down instead of running on without it — what a robot node wants.
//
// Exceptions nobody collected: a destructor never throws. When a thread threw and its exception was
// never rethrown by join() / join_all(), the destructor reports each one with dcp::report_error()
// (dcp/core/error_report.hpp: counted, and by default one line on stderr):
//   dcp: scoped thread 'lidar': the thread exited with an exception that was never joined: <what()>
// (source "thread group thread 'lidar'" for a ThreadGroup's thread; "(unnamed)" when it has no name).
//
// Thread names: an optional name is applied to the thread (pthread_setname_np, truncated to 15
// characters) before the callable runs.
//
// Thread safety:
//   - ScopedThread: used by one thread at a time (like std::jthread); request_stop() and
//     get_stop_token() may also be called from other threads.
//   - ThreadGroup: spawn(), join_all(), size() and the destructor are called by the owning thread (not
//     concurrently with each other); request_stop(), get_stop_token() and errors() may be called from
//     any thread, including the group's own threads.
// Blocking: join(), join_all() and the destructors block until the threads end. A thread that never
// looks at its stop token keeps the destructor waiting.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "dcp/core/error_report.hpp"
#include "dcp/core/detail/thread_name.hpp"

namespace dcp {

namespace detail {

/// A callable a thread can run: f() or f(std::stop_token).
template <class F>
concept ThreadCallable = std::is_constructible_v<std::decay_t<F>, F> &&
                         (std::is_invocable_v<std::decay_t<F>, std::stop_token> || std::is_invocable_v<std::decay_t<F>>);

template <class Fn>
void invoke_with_optional_token(Fn& fn, std::stop_token token) {
  if constexpr (std::is_invocable_v<Fn, std::stop_token>) {
    std::invoke(std::move(fn), std::move(token));
  } else {
    std::invoke(std::move(fn));
  }
}

/// Reports an exception nobody will ever rethrow; `owner` is "scoped thread" or "thread group thread".
inline void report_never_joined(const char* owner, const std::string& name, const std::exception_ptr& error) noexcept {
  try {
    report_error(std::string(owner) + (name.empty() ? std::string(" (unnamed)") : " '" + name + "'"),
                 "the thread exited with an exception that was never joined: " + describe_exception(error));
  } catch (...) {  // the texts could not be allocated: still counted and reported
    report_error(owner, "the thread exited with an exception that was never joined");
  }
}

}  // namespace detail

/// One thread that is stopped and joined when its owner goes out of scope.
class ScopedThread {
 public:
  /// No thread (joinable() is false).
  ScopedThread() noexcept = default;

  /// Starts a thread running f(stop_token) or f(); `name` names the thread (empty: unnamed).
  template <class F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, ScopedThread> && detail::ThreadCallable<F>)
  explicit ScopedThread(F&& f, std::string name = {}) : state_(std::make_unique<State>()) {
    state_->name = std::move(name);
    thread_ = std::jthread([state = state_.get(), fn = std::decay_t<F>(std::forward<F>(f))](
                               std::stop_token token) mutable noexcept {
      detail::set_current_thread_name(state->name);
      try {
        detail::invoke_with_optional_token(fn, std::move(token));
      } catch (...) {
        state->error = std::current_exception();  // published to join() by the join itself
      }
    });
  }

  ScopedThread(ScopedThread&&) noexcept = default;

  /// Stops and joins the thread held so far (reporting an uncollected exception), then takes over.
  ScopedThread& operator=(ScopedThread&& other) noexcept {
    if (this != &other) {
      finish();
      thread_ = std::move(other.thread_);
      state_ = std::move(other.state_);
    }
    return *this;
  }

  ScopedThread(const ScopedThread&) = delete;
  ScopedThread& operator=(const ScopedThread&) = delete;

  /// Requests stop and joins. Never throws: an exception the thread threw and nobody collected with
  /// join() is reported (dcp::report_error).
  ~ScopedThread() { finish(); }

  /// Joins, then rethrows the exception the thread exited with (if any; it is rethrown once).
  /// Throws std::logic_error when there is no thread to join (already joined, moved from, default).
  void join() {
    if (!thread_.joinable()) {
      throw std::logic_error("dcp::ScopedThread::join: no thread to join (already joined, moved from, or empty)");
    }
    thread_.join();
    if (std::exception_ptr error = std::exchange(state_->error, nullptr)) std::rethrow_exception(error);
  }

  /// Asks the thread to stop (its std::stop_token reports stop_requested()). False when there is no
  /// thread or stop was already requested.
  bool request_stop() noexcept { return thread_.request_stop(); }
  [[nodiscard]] std::stop_token get_stop_token() const noexcept { return thread_.get_stop_token(); }
  [[nodiscard]] bool joinable() const noexcept { return thread_.joinable(); }
  [[nodiscard]] std::thread::id get_id() const noexcept { return thread_.get_id(); }
  /// The name given at construction ("" for none).
  [[nodiscard]] const std::string& name() const noexcept {
    static const std::string none;
    return state_ ? state_->name : none;
  }

 private:
  struct State {
    std::string name;
    std::exception_ptr error;  // written by the thread before it ends; read after join
  };

  void finish() noexcept {
    if (thread_.joinable()) {
      thread_.request_stop();
      thread_.join();
    }
    if (state_ && state_->error) {
      detail::report_never_joined("scoped thread", state_->name, state_->error);
      state_->error = nullptr;
    }
  }

  std::unique_ptr<State> state_;  // stable address for the thread, even when the ScopedThread moves
  std::jthread thread_;
};

/// Threads sharing one stop_source; join_all() surfaces their exceptions.
class ThreadGroup {
 public:
  struct Options {
    /// When a thread exits with an exception, request stop on the whole group.
    bool stop_on_error = false;
  };

  ThreadGroup() : ThreadGroup(Options{}) {}
  explicit ThreadGroup(Options options) : options_(options) {
    // Assigned rather than default-member-initialised: g++ 12 -O1 with ASan reports a false
    // -Wmaybe-uninitialized inside std::stop_source's default constructor otherwise.
    stop_source_ = std::stop_source();
  }

  ThreadGroup(const ThreadGroup&) = delete;
  ThreadGroup& operator=(const ThreadGroup&) = delete;

  /// Requests stop on every thread and joins them all. Never throws: exceptions not yet rethrown by
  /// join_all() are reported (dcp::report_error).
  ~ThreadGroup() {
    stop_source_.request_stop();
    join_threads();
    std::lock_guard lock(mutex_);
    for (std::size_t i = reported_; i < failures_.size(); ++i) {
      detail::report_never_joined("thread group thread", failures_[i].thread_name, failures_[i].error);
    }
  }

  /// Starts a thread running f(stop_token) (the group's token) or f(). `name` names the thread.
  /// A thread spawned after request_stop() starts with its token already stopped.
  template <class F>
    requires detail::ThreadCallable<F>
  void spawn(F&& f, std::string name = {}) {
    threads_.emplace_back([this, fn = std::decay_t<F>(std::forward<F>(f)), name = std::move(name),
                           token = stop_source_.get_token()]() mutable noexcept {
      detail::set_current_thread_name(name);
      try {
        detail::invoke_with_optional_token(fn, std::move(token));
      } catch (...) {
        record(std::current_exception(), name);
      }
    });
  }

  /// Asks every thread of the group to stop. False when stop was already requested.
  bool request_stop() noexcept { return stop_source_.request_stop(); }

  /// The token every thread of the group receives.
  [[nodiscard]] std::stop_token get_stop_token() const noexcept { return stop_source_.get_token(); }

  /// Joins every thread spawned so far, then rethrows the first exception not yet rethrown by an
  /// earlier join_all() (the thread that failed first). Every exception stays in errors().
  void join_all() {
    join_threads();
    std::exception_ptr first;
    {
      std::lock_guard lock(mutex_);
      if (reported_ < failures_.size()) first = failures_[reported_].error;
      reported_ = failures_.size();
    }
    if (first) std::rethrow_exception(first);
  }

  /// Every exception the group's threads exited with, in the order they failed.
  [[nodiscard]] std::vector<std::exception_ptr> errors() const {
    std::lock_guard lock(mutex_);
    std::vector<std::exception_ptr> errors;
    errors.reserve(failures_.size());
    for (const Failure& f : failures_) errors.push_back(f.error);
    return errors;
  }

  /// Threads spawned and not yet joined.
  [[nodiscard]] std::size_t size() const noexcept { return threads_.size(); }

 private:
  void record(std::exception_ptr error, const std::string& name) noexcept {
    {
      std::lock_guard lock(mutex_);
      try {
        failures_.push_back(Failure{error, name});
      } catch (...) {  // out of memory: report it now rather than lose it
        detail::report_never_joined("thread group thread", name, error);
      }
    }
    if (options_.stop_on_error) stop_source_.request_stop();
  }

  void join_threads() noexcept {
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
    threads_.clear();
  }

  const Options options_;
  std::stop_source stop_source_{std::nostopstate};
  mutable std::mutex mutex_;
  struct Failure {
    std::exception_ptr error;
    std::string thread_name;
  };
  std::vector<Failure> failures_;  // guarded by mutex_; in the order the threads failed
  std::size_t reported_ = 0;       // guarded by mutex_; failures_[0, reported_) were seen by join_all
  std::vector<std::thread> threads_;
};

}  // namespace dcp
