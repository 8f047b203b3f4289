// dcp/core/detail/waker.hpp — the list of threads blocked on one side of a channel.
//
// What it is for: every channel has two Wakers, one for blocked receivers and one for blocked
// senders. A blocked operation registers its thread's Parker; the opposite side calls notify_one()
// after each successful operation and notify_all() when the channel closes.
//
// Two kinds of entries: waiters (a blocked recv/send; notify_one() wakes one of them, oldest first)
// and observers (a blocked select; every notification wakes all of them, because a select only looks
// at readiness and does not consume the message it was woken for).
//
// Lost-wakeup freedom: register_waiter() stores `empty_ = false` (sequentially consistent) and the
// caller then re-checks the channel with sequentially consistent loads; the notifier publishes its
// change with a sequentially consistent read-modify-write and then loads `empty_`. In the single total
// order of those operations one side always sees the other.
//
// Thread safety: every member may be called from any thread.
// Blocking: members take a short internal mutex; notify_one() on an empty Waker is one atomic load.
#pragma once

#include <algorithm>
#include <atomic>
#include <mutex>
#include <vector>

#include "dcp/core/detail/parker.hpp"

namespace dcp::detail {

class Waker {
 public:
  void register_waiter(Parker* parker, bool observer) {
    std::lock_guard lock(mutex_);
    entries_.push_back(Entry{parker, observer});
    empty_.store(false, std::memory_order_seq_cst);
  }

  /// Removes every entry of `parker`; a no-op when a notification already removed it.
  void unregister(Parker* parker) noexcept {
    std::lock_guard lock(mutex_);
    std::erase_if(entries_, [parker](const Entry& e) { return e.parker == parker; });
    empty_.store(entries_.empty(), std::memory_order_seq_cst);
  }

  /// Wakes the oldest waiter and every observer.
  void notify_one() noexcept {
    if (empty_.load(std::memory_order_seq_cst)) return;
    std::lock_guard lock(mutex_);
    bool woke_waiter = false;
    std::erase_if(entries_, [&woke_waiter](const Entry& e) {
      if (!e.observer) {
        if (woke_waiter) return false;
        woke_waiter = true;
      }
      e.parker->unpark();
      return true;
    });
    empty_.store(entries_.empty(), std::memory_order_seq_cst);
  }

  /// Wakes everybody (the channel closed).
  void notify_all() noexcept {
    if (empty_.load(std::memory_order_seq_cst)) return;
    std::lock_guard lock(mutex_);
    for (const Entry& e : entries_) e.parker->unpark();
    entries_.clear();
    empty_.store(true, std::memory_order_seq_cst);
  }

 private:
  struct Entry {
    Parker* parker;
    bool observer;
  };
  std::mutex mutex_;
  std::vector<Entry> entries_;
  std::atomic<bool> empty_{true};
};

}  // namespace dcp::detail
