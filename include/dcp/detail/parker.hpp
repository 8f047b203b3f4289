// dcp/detail/parker.hpp — a per-thread binary "wake me up" flag, used to block in channel operations.
//
// What it is for: a thread that must wait on one or more channels (recv, send on a full channel,
// select) registers its Parker with the channels' Wakers and sleeps in park()/park_until(); the
// thread that makes the channel ready calls unpark().
//
// Thread safety: reset(), park() and park_until() are called by the owning thread only; unpark() may
// be called from any thread, at any time while the Parker is registered with a Waker.
// Blocking: park() blocks until unpark(); park_until() until unpark() or the deadline.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace dcp::detail {

class Parker {
 public:
  /// Forget an earlier unpark(); call before registering with Wakers.
  void reset() noexcept {
    std::lock_guard lock(mutex_);
    notified_ = false;
  }

  /// Wake the owner (or make its next park return at once).
  void unpark() noexcept {
    std::lock_guard lock(mutex_);
    notified_ = true;
    wakeup_.notify_one();
  }

  void park() {
    std::unique_lock lock(mutex_);
    wakeup_.wait(lock, [this] { return notified_; });
  }

  /// Returns true when woken by unpark(), false when the deadline passed first.
  bool park_until(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    return wakeup_.wait_until(lock, deadline, [this] { return notified_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable wakeup_;
  bool notified_ = false;
};

/// The calling thread's Parker. It lives as long as the thread.
inline Parker& current_thread_parker() noexcept {
  thread_local Parker parker;
  return parker;
}

}  // namespace dcp::detail
