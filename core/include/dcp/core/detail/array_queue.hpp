// dcp/core/detail/array_queue.hpp — the bounded, lock-free MPMC ring behind dcp::bounded().
//
// What it is for: storage of a bounded channel. It is Dmitry Vyukov's bounded MPMC queue in the form
// crossbeam-channel uses for its "array" flavor: every slot carries a stamp that says whether it is
// ready to be written (stamp == tail) or read (stamp == head + 1) in the current lap, so producers and
// consumers only contend on their own index. A mark bit in the tail index records that the channel is
// closed: pushes then fail, pops drain what is left and then report closed.
//
// Thread safety: try_push, try_pop, close, size and the readiness checks may be called concurrently
// from any number of threads. The destructor must run alone.
// Blocking: nothing here blocks; a pop that finds a slot being written spins briefly for it.
// Requirements on T: nothrow move construction and nothrow destruction.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <memory>
#include <new>
#include <optional>
#include <utility>

#include "dcp/core/detail/backoff.hpp"
#include "dcp/core/detail/queue_status.hpp"

namespace dcp::detail {

template <class T>
class ArrayQueue {
  static_assert(kIsChannelValue<T>, "dcp channels need a nothrow move constructor and a nothrow destructor");

 public:
  /// Largest supported capacity (indices keep a lap counter and a mark bit above the slot index).
  static constexpr std::size_t kMaxCapacity = std::size_t{1} << 32;

  explicit ArrayQueue(std::size_t capacity)
      : capacity_(capacity), mark_bit_(std::bit_ceil(capacity + 1)), one_lap_(mark_bit_ * 2),
        slots_(std::make_unique<Slot[]>(capacity)) {
    for (std::size_t i = 0; i < capacity_; ++i) slots_[i].stamp.store(i, std::memory_order_relaxed);
  }

  ArrayQueue(const ArrayQueue&) = delete;
  ArrayQueue& operator=(const ArrayQueue&) = delete;

  ~ArrayQueue() {
    const std::size_t head = head_.load(std::memory_order_relaxed);
    const std::size_t count = size();
    const std::size_t first = head & (mark_bit_ - 1);
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t index = first + i < capacity_ ? first + i : first + i - capacity_;
      slots_[index].value()->~T();
    }
  }

  /// Moves from `value` only when it returns PushStatus::pushed.
  PushStatus try_push(T& value) noexcept {
    Backoff backoff;
    std::size_t tail = tail_.load(std::memory_order_relaxed);
    for (;;) {
      if (tail & mark_bit_) return PushStatus::closed;
      const std::size_t index = tail & (mark_bit_ - 1);
      const std::size_t lap = tail & ~(one_lap_ - 1);
      Slot& slot = slots_[index];
      const std::size_t stamp = slot.stamp.load(std::memory_order_acquire);
      if (tail == stamp) {
        // The slot is free in this lap: try to claim it.
        const std::size_t next = index + 1 < capacity_ ? tail + 1 : lap + one_lap_;
        if (tail_.compare_exchange_weak(tail, next, std::memory_order_seq_cst, std::memory_order_relaxed)) {
          ::new (static_cast<void*>(slot.storage)) T(std::move(value));
          slot.stamp.store(tail + 1, std::memory_order_release);
          return PushStatus::pushed;
        }
        backoff.spin();
      } else if (stamp + one_lap_ == tail + 1) {
        // The slot still holds last lap's value: full unless a consumer moved on meanwhile.
        const std::size_t head = head_.load(std::memory_order_seq_cst);
        if (head + one_lap_ == tail) return PushStatus::full;
        backoff.spin();
        tail = tail_.load(std::memory_order_relaxed);
      } else {
        // Another producer claimed the slot and has not finished; wait for it.
        backoff.snooze();
        tail = tail_.load(std::memory_order_relaxed);
      }
    }
  }

  /// On PopStatus::popped the value is emplaced into `out`.
  PopStatus try_pop(std::optional<T>& out) noexcept {
    Backoff backoff;
    std::size_t head = head_.load(std::memory_order_relaxed);
    for (;;) {
      const std::size_t index = head & (mark_bit_ - 1);
      const std::size_t lap = head & ~(one_lap_ - 1);
      Slot& slot = slots_[index];
      const std::size_t stamp = slot.stamp.load(std::memory_order_acquire);
      if (head + 1 == stamp) {
        const std::size_t next = index + 1 < capacity_ ? head + 1 : lap + one_lap_;
        if (head_.compare_exchange_weak(head, next, std::memory_order_seq_cst, std::memory_order_relaxed)) {
          T* value = slot.value();
          out.emplace(std::move(*value));
          value->~T();
          slot.stamp.store(head + one_lap_, std::memory_order_release);
          return PopStatus::popped;
        }
        backoff.spin();
      } else if (stamp == head) {
        // The slot is empty in this lap: the queue is empty unless a producer is mid-write.
        const std::size_t tail = tail_.load(std::memory_order_seq_cst);
        if ((tail & ~mark_bit_) == head) return (tail & mark_bit_) ? PopStatus::closed : PopStatus::empty;
        backoff.spin();
        head = head_.load(std::memory_order_relaxed);
      } else {
        backoff.snooze();
        head = head_.load(std::memory_order_relaxed);
      }
    }
  }

  /// Marks the queue closed; true for the call that closed it.
  bool close() noexcept {
    return (tail_.fetch_or(mark_bit_, std::memory_order_seq_cst) & mark_bit_) == 0;
  }

  [[nodiscard]] bool is_closed() const noexcept { return tail_.load(std::memory_order_seq_cst) & mark_bit_; }

  /// A pop would not find it empty-and-open (something is queued, or the queue is closed).
  [[nodiscard]] bool ready_for_pop() const noexcept {
    const std::size_t tail = tail_.load(std::memory_order_seq_cst);
    const std::size_t head = head_.load(std::memory_order_seq_cst);
    return (tail & mark_bit_) || (tail & ~mark_bit_) != head;
  }

  /// A push would not find it full (there is room, or the queue is closed).
  [[nodiscard]] bool ready_for_push() const noexcept {
    const std::size_t tail = tail_.load(std::memory_order_seq_cst);
    const std::size_t head = head_.load(std::memory_order_seq_cst);
    return (tail & mark_bit_) || head + one_lap_ != (tail & ~mark_bit_);
  }

  /// Number of queued values; exact when no operation runs concurrently.
  [[nodiscard]] std::size_t size() const noexcept {
    for (;;) {
      const std::size_t tail = tail_.load(std::memory_order_seq_cst);
      const std::size_t head = head_.load(std::memory_order_seq_cst);
      if (tail_.load(std::memory_order_seq_cst) != tail) continue;
      const std::size_t head_index = head & (mark_bit_ - 1);
      const std::size_t tail_index = tail & (mark_bit_ - 1);
      if (head_index < tail_index) return tail_index - head_index;
      if (head_index > tail_index) return capacity_ - head_index + tail_index;
      return (tail & ~mark_bit_) == head ? 0 : capacity_;
    }
  }

  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

 private:
  struct Slot {
    std::atomic<std::size_t> stamp{0};
    alignas(T) unsigned char storage[sizeof(T)];
    T* value() noexcept { return std::launder(reinterpret_cast<T*>(storage)); }
  };

  alignas(kCacheLine) std::atomic<std::size_t> head_{0};
  alignas(kCacheLine) std::atomic<std::size_t> tail_{0};
  alignas(kCacheLine) const std::size_t capacity_;
  const std::size_t mark_bit_;
  const std::size_t one_lap_;
  std::unique_ptr<Slot[]> slots_;
};

}  // namespace dcp::detail
