// dcp/patterns/detail/owned_thread.hpp — the one thread a pattern owns (output handler, watchdog,
// background job, aggregator's deadline thread).
//
// What it is for: a pattern that runs its own thread needs the same four things every time — start
// a named thread with a std::stop_token, ask it to stop, join it, and know whether the caller IS that
// thread (a callback running on it may call shutdown() or, by mistake, destroy the pattern). This
// helper does them once, with one rule:
//   - join() called from the owned thread itself returns at once without joining (false): a
//     pattern's shutdown() called from its own callback starts the shutdown and returns; whoever
//     destroys the pattern later joins.
//   - destroying the OwnedThread from the owned thread is a programming error (a thread cannot join
//     itself, and the pattern around it is going away under its own feet): it is reported with
//     dcp::report_error and the process aborts — never a hang, never a use-after-free.
//
//   class Pattern {
//     ...
//     detail::OwnedThread thread_;  // last member: joined before the members it uses are destroyed
//   };
//   Pattern::Pattern(...) { thread_.start(options_.name, [this](std::stop_token stop) { run(stop); }); }
//   void Pattern::shutdown(ShutdownMode) { ...; thread_.request_stop(); (void)thread_.join(); }
//
// The body: `void(std::stop_token)`. Its token reports stop_requested() after request_stop() (also
// when that came before start(): the body then starts with a stopped token). An exception escaping
// the body is reported with dcp::report_error (source "thread '<name>'"), never std::terminate.
//
// Thread safety: start() once, by the owner (usually the pattern's constructor), before or
// concurrently with the other members; request_stop(), stop_requested(), get_stop_token(),
// is_owned_thread(), started() and join() may be called from any thread concurrently, including the
// owned thread. The destructor must not run concurrently with any other member.
// Blocking: join() and the destructor wait for the body to return (a body that never looks at its
// token keeps them waiting); concurrent join() calls all wait for the same end. Everything else
// returns at once (start() creates the thread).
// Happens-before: everything the body did happens-before a join() that returned true returns.
#pragma once

#include <atomic>
#include <concepts>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>

#include "dcp/core/detail/thread_name.hpp"
#include "dcp/core/error_report.hpp"

namespace dcp::detail {

class OwnedThread {
 public:
  /// No thread yet: start() creates it. Throws std::bad_alloc (the stop state is allocated).
  OwnedThread() {
    // Assigned rather than default-member-initialised (as in dcp::ThreadGroup): g++ 12 -O1 with ASan
    // reports a false -Wmaybe-uninitialized inside std::stop_source's default constructor otherwise.
    stop_source_ = std::stop_source();
  }

  OwnedThread(const OwnedThread&) = delete;
  OwnedThread& operator=(const OwnedThread&) = delete;

  /// Requests stop and joins. From the owned thread itself: reports the error with
  /// dcp::report_error and aborts the process.
  ~OwnedThread() {
    if (is_owned_thread()) {
      report_error("thread '" + name_ + "'",
                   "destroyed from its own thread (a callback running on it destroyed its owner; a thread "
                   "cannot join itself): aborting");
      std::abort();
    }
    stop_source_.request_stop();
    (void)join();
  }

  /// Starts the thread, named `name` (truncated to 15 characters; also the name in error reports),
  /// running body(stop_token). Once only: a second call throws std::logic_error. Throws
  /// std::system_error when no thread can be created (then nothing started; start() may be retried).
  template <class Body>
    requires std::invocable<Body&, std::stop_token>
  void start(std::string name, Body body) {
    std::lock_guard lock(join_mutex_);
    if (started_.load(std::memory_order_relaxed)) {
      throw std::logic_error("dcp::detail::OwnedThread::start: thread '" + name_ + "' was already started");
    }
    name_ = std::move(name);
    thread_ = std::thread([this, body = std::move(body)]() mutable noexcept {
      // release: pairs with the acquire in is_owned_thread() (only this thread compares equal anyway).
      owned_id_.store(std::this_thread::get_id(), std::memory_order_release);
      set_current_thread_name(name_);
      try {
        body(stop_source_.get_token());
      } catch (...) {
        report_error("thread '" + name_ + "'", "its body threw: " + describe_current_exception());
      }
      // Cleared before the thread ends: the id may be reused by a later thread.
      owned_id_.store(std::thread::id(), std::memory_order_release);
    });
    started_.store(true, std::memory_order_release);
  }

  /// Asks the body to stop (its token reports stop_requested()). False when stop was already
  /// requested. Any thread; before start() too.
  bool request_stop() noexcept { return stop_source_.request_stop(); }
  [[nodiscard]] bool stop_requested() const noexcept { return stop_source_.stop_requested(); }
  [[nodiscard]] std::stop_token get_stop_token() const noexcept { return stop_source_.get_token(); }

  /// Waits for the body to return. True when the thread is not running any more (joined now or
  /// earlier, or never started); false, at once and without joining, when called from the owned
  /// thread itself. Does not request stop.
  bool join() noexcept {
    if (is_owned_thread()) return false;
    std::lock_guard lock(join_mutex_);  // std::thread::join must not run twice concurrently
    if (thread_.joinable()) thread_.join();  // cannot fail: joinable, and not this thread
    return true;
  }

  /// True when the caller is the owned thread (while its body runs).
  [[nodiscard]] bool is_owned_thread() const noexcept {
    return owned_id_.load(std::memory_order_acquire) == std::this_thread::get_id();
  }

  /// True once start() created the thread (also after it ended).
  [[nodiscard]] bool started() const noexcept { return started_.load(std::memory_order_acquire); }

  /// The name given to start() ("" before). Read it only after start() returned.
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

 private:
  std::stop_source stop_source_{std::nostopstate};
  std::atomic<std::thread::id> owned_id_{};
  std::atomic<bool> started_{false};
  std::string name_;       // written by start() before the thread exists; read-only afterwards
  std::mutex join_mutex_;  // serialises start() and join() on thread_
  std::thread thread_;
};

}  // namespace dcp::detail
