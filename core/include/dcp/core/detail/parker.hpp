// dcp/core/detail/parker.hpp — a per-thread binary "wake me up" flag, used to block in channel operations.
//
// What it is for: a thread that must wait on one or more channels (recv, send on a full channel,
// select) registers its Parker with the channels' Wakers and sleeps in park()/park_until(); the
// thread that makes the channel ready calls unpark().
//
// On Linux the Parker is one 32-bit word and a futex: unpark() costs one atomic exchange, plus one
// FUTEX_WAKE system call only when the owner is actually asleep. Elsewhere it falls back to a mutex
// and a condition variable.
//
// Thread safety: reset(), park() and park_until() are called by the owning thread only; unpark() may
// be called from any thread, at any time while the Parker is registered with a Waker.
// Blocking: park() blocks until unpark(); park_until() until unpark() or the deadline. Once
// unparked, the Parker stays "notified" until the next reset().
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#else
#include <condition_variable>
#include <mutex>
#endif

namespace dcp::detail {

#if defined(__linux__)

class Parker {
 public:
  /// Forget an earlier unpark(); call before registering with Wakers.
  void reset() noexcept { state_.store(kEmpty, std::memory_order_relaxed); }

  /// Wake the owner (or make its next park return at once).
  void unpark() noexcept {
    if (state_.exchange(kNotified, std::memory_order_acq_rel) == kParked) {
      ::syscall(SYS_futex, word(), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    }
  }

  void park() noexcept { (void)wait(nullptr); }

  /// Returns true when woken by unpark(), false when the deadline passed first.
  bool park_until(std::chrono::steady_clock::time_point deadline) noexcept { return wait(&deadline); }

 private:
  static constexpr std::uint32_t kEmpty = 0;
  static constexpr std::uint32_t kNotified = 1;
  static constexpr std::uint32_t kParked = 2;

  std::uint32_t* word() noexcept { return reinterpret_cast<std::uint32_t*>(&state_); }

  bool wait(const std::chrono::steady_clock::time_point* deadline) noexcept {
    std::uint32_t expected = kEmpty;
    if (!state_.compare_exchange_strong(expected, kParked, std::memory_order_acq_rel, std::memory_order_acquire)) {
      return true;  // already notified
    }
    for (;;) {
      timespec timeout{};
      if (deadline != nullptr) {
        const auto left = *deadline - std::chrono::steady_clock::now();
        if (left <= left.zero()) {
          expected = kParked;
          // Back to empty unless an unpark() won the race (then report it).
          return !state_.compare_exchange_strong(expected, kEmpty, std::memory_order_acq_rel,
                                                 std::memory_order_acquire);
        }
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
        timeout.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
        timeout.tv_nsec = static_cast<long>(ns % 1'000'000'000);
      }
      // Sleeps only while the word still says "parked"; spurious returns just loop.
      ::syscall(SYS_futex, word(), FUTEX_WAIT_PRIVATE, kParked, deadline != nullptr ? &timeout : nullptr, nullptr, 0);
      if (state_.load(std::memory_order_acquire) == kNotified) return true;
    }
  }

  std::atomic<std::uint32_t> state_{kEmpty};
  static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
};

#else

class Parker {
 public:
  void reset() noexcept {
    std::lock_guard lock(mutex_);
    notified_ = false;
  }
  void unpark() noexcept {
    std::lock_guard lock(mutex_);
    notified_ = true;
    wakeup_.notify_one();
  }
  void park() {
    std::unique_lock lock(mutex_);
    wakeup_.wait(lock, [this] { return notified_; });
  }
  bool park_until(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    return wakeup_.wait_until(lock, deadline, [this] { return notified_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable wakeup_;
  bool notified_ = false;
};

#endif

/// The calling thread's Parker. It lives as long as the thread.
inline Parker& current_thread_parker() noexcept {
  thread_local Parker parker;
  return parker;
}

}  // namespace dcp::detail
