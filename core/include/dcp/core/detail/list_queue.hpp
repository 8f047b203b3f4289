// dcp/core/detail/list_queue.hpp — the unbounded, lock-free MPMC queue behind dcp::unbounded().
//
// What it is for: storage of an unbounded channel. It is a linked list of blocks of 31 slots, in the
// form crossbeam-channel uses for its "list" flavor: producers claim a slot by advancing the tail
// index, consumers by advancing the head index; the producer that claims a block's last slot links a
// fresh block. Each slot has WRITE / READ / DESTROY bits so that the last consumer to finish with a
// block frees it, without any garbage collector or hazard pointers. One allocation per 31 values.
//
// Index layout: index = (position << 1) | flag. In the tail the flag means "closed"; in the head it
// means "the head block already has a successor" (so consumers may skip the emptiness check).
//
// Thread safety: try_push, try_pop, close, size and the readiness checks may be called concurrently
// from any number of threads. The destructor must run alone.
// Blocking: nothing here blocks for long; an operation may spin while another thread links a block or
// finishes writing the slot it is about to read.
// Requirements on T: nothrow move construction and nothrow destruction.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <new>
#include <optional>
#include <utility>

#include "dcp/core/detail/backoff.hpp"
#include "dcp/core/detail/queue_status.hpp"

namespace dcp::detail {

template <class T>
class ListQueue {
  static_assert(kIsChannelValue<T>, "dcp channels need a nothrow move constructor and a nothrow destructor");

  static constexpr std::size_t kWrite = 1;
  static constexpr std::size_t kRead = 2;
  static constexpr std::size_t kDestroy = 4;
  static constexpr std::size_t kLap = 32;            // positions per block, one of them a "next block" marker
  static constexpr std::size_t kBlockCap = kLap - 1;  // slots per block
  static constexpr std::size_t kShift = 1;
  static constexpr std::size_t kMark = 1;

  struct Slot {
    std::atomic<std::size_t> state{0};
    alignas(T) unsigned char storage[sizeof(T)];

    T* value() noexcept { return std::launder(reinterpret_cast<T*>(storage)); }
    void wait_write() const noexcept {
      Backoff backoff;
      while ((state.load(std::memory_order_acquire) & kWrite) == 0) backoff.snooze();
    }
  };

  struct Block {
    std::atomic<Block*> next{nullptr};
    Slot slots[kBlockCap];

    Block* wait_next() const noexcept {
      Backoff backoff;
      for (;;) {
        if (Block* n = next.load(std::memory_order_acquire)) return n;
        backoff.snooze();
      }
    }

    // Frees the block once every slot from `start` on has been read. A slot whose reader is still
    // busy gets the DESTROY bit instead, and that reader continues the destruction.
    static void destroy(Block* block, std::size_t start) noexcept {
      for (std::size_t i = start; i < kBlockCap - 1; ++i) {
        Slot& slot = block->slots[i];
        if ((slot.state.load(std::memory_order_acquire) & kRead) == 0 &&
            (slot.state.fetch_or(kDestroy, std::memory_order_acq_rel) & kRead) == 0) {
          return;
        }
      }
      delete block;
    }
  };

  struct alignas(kCacheLine) Position {
    std::atomic<std::size_t> index{0};
    std::atomic<Block*> block{nullptr};
  };

 public:
  ListQueue() {
    Block* first = new Block;
    head_.block.store(first, std::memory_order_relaxed);
    tail_.block.store(first, std::memory_order_relaxed);
  }

  ListQueue(const ListQueue&) = delete;
  ListQueue& operator=(const ListQueue&) = delete;

  ~ListQueue() {
    std::size_t head = head_.index.load(std::memory_order_relaxed) & ~kMark;
    const std::size_t tail = tail_.index.load(std::memory_order_relaxed) & ~kMark;
    Block* block = head_.block.load(std::memory_order_relaxed);
    while (head != tail) {
      const std::size_t offset = (head >> kShift) % kLap;
      if (offset < kBlockCap) {
        block->slots[offset].value()->~T();
      } else {
        Block* next = block->next.load(std::memory_order_relaxed);
        delete block;
        block = next;
      }
      head += std::size_t{1} << kShift;
    }
    delete block;
  }

  /// Moves from `value` only when it returns PushStatus::pushed. Never returns full.
  PushStatus try_push(T& value) {
    Backoff backoff;
    std::size_t tail = tail_.index.load(std::memory_order_acquire);
    Block* block = tail_.block.load(std::memory_order_acquire);
    std::unique_ptr<Block> next_block;
    for (;;) {
      if (tail & kMark) return PushStatus::closed;
      const std::size_t offset = (tail >> kShift) % kLap;
      if (offset == kBlockCap) {
        // Another producer is linking the next block.
        backoff.snooze();
        tail = tail_.index.load(std::memory_order_acquire);
        block = tail_.block.load(std::memory_order_acquire);
        continue;
      }
      // About to fill the block: allocate its successor before claiming (may throw, changes nothing).
      if (offset + 1 == kBlockCap && !next_block) next_block.reset(new Block);  // not make_unique: no zero-fill

      const std::size_t new_tail = tail + (std::size_t{1} << kShift);
      if (tail_.index.compare_exchange_weak(tail, new_tail, std::memory_order_seq_cst,
                                            std::memory_order_acquire)) {
        if (offset + 1 == kBlockCap) {
          Block* successor = next_block.release();
          tail_.block.store(successor, std::memory_order_release);
          // fetch_add, not store: keeps a close mark set meanwhile.
          tail_.index.fetch_add(std::size_t{1} << kShift, std::memory_order_release);
          block->next.store(successor, std::memory_order_release);
        }
        Slot& slot = block->slots[offset];
        ::new (static_cast<void*>(slot.storage)) T(std::move(value));
        slot.state.fetch_or(kWrite, std::memory_order_release);
        return PushStatus::pushed;
      }
      block = tail_.block.load(std::memory_order_acquire);
      backoff.spin();
    }
  }

  /// On PopStatus::popped the value is emplaced into `out`.
  PopStatus try_pop(std::optional<T>& out) noexcept {
    Backoff backoff;
    std::size_t head = head_.index.load(std::memory_order_acquire);
    Block* block = head_.block.load(std::memory_order_acquire);
    for (;;) {
      const std::size_t offset = (head >> kShift) % kLap;
      if (offset == kBlockCap) {
        // Another consumer is moving the head to the next block.
        backoff.snooze();
        head = head_.index.load(std::memory_order_acquire);
        block = head_.block.load(std::memory_order_acquire);
        continue;
      }
      std::size_t new_head = head + (std::size_t{1} << kShift);
      if ((new_head & kMark) == 0) {
        const std::size_t tail = tail_.index.load(std::memory_order_seq_cst);
        if ((head >> kShift) == (tail >> kShift)) return (tail & kMark) ? PopStatus::closed : PopStatus::empty;
        // Head and tail in different blocks: the head block has a successor.
        if ((head >> kShift) / kLap != (tail >> kShift) / kLap) new_head |= kMark;
      }
      if (head_.index.compare_exchange_weak(head, new_head, std::memory_order_seq_cst,
                                            std::memory_order_acquire)) {
        if (offset + 1 == kBlockCap) {
          Block* next = block->wait_next();
          std::size_t next_index = (new_head & ~kMark) + (std::size_t{1} << kShift);
          if (next->next.load(std::memory_order_relaxed) != nullptr) next_index |= kMark;
          head_.block.store(next, std::memory_order_release);
          head_.index.store(next_index, std::memory_order_release);
        }
        Slot& slot = block->slots[offset];
        slot.wait_write();
        T* value = slot.value();
        out.emplace(std::move(*value));
        value->~T();
        if (offset + 1 == kBlockCap) {
          Block::destroy(block, 0);
        } else if (slot.state.fetch_or(kRead, std::memory_order_acq_rel) & kDestroy) {
          Block::destroy(block, offset + 1);
        }
        return PopStatus::popped;
      }
      block = head_.block.load(std::memory_order_acquire);
      backoff.spin();
    }
  }

  bool close() noexcept { return (tail_.index.fetch_or(kMark, std::memory_order_seq_cst) & kMark) == 0; }

  [[nodiscard]] bool is_closed() const noexcept { return tail_.index.load(std::memory_order_seq_cst) & kMark; }

  [[nodiscard]] bool ready_for_pop() const noexcept {
    const std::size_t head = head_.index.load(std::memory_order_seq_cst);
    const std::size_t tail = tail_.index.load(std::memory_order_seq_cst);
    return (tail & kMark) || (head >> kShift) != (tail >> kShift);
  }

  [[nodiscard]] bool ready_for_push() const noexcept { return true; }

  /// Number of queued values; exact when no operation runs concurrently.
  [[nodiscard]] std::size_t size() const noexcept {
    for (;;) {
      std::size_t tail = tail_.index.load(std::memory_order_seq_cst);
      std::size_t head = head_.index.load(std::memory_order_seq_cst);
      if (tail_.index.load(std::memory_order_seq_cst) != tail) continue;
      tail = (tail >> kShift) << kShift;
      head = (head >> kShift) << kShift;
      // A position at the "next block" marker counts as the first slot of the next block.
      if (((tail >> kShift) & (kLap - 1)) == kLap - 1) tail += std::size_t{1} << kShift;
      if (((head >> kShift) & (kLap - 1)) == kLap - 1) head += std::size_t{1} << kShift;
      const std::size_t lap = (head >> kShift) / kLap;
      tail -= (lap * kLap) << kShift;
      head -= (lap * kLap) << kShift;
      tail >>= kShift;
      head >>= kShift;
      return tail - head - tail / kLap;
    }
  }

 private:
  Position head_;
  Position tail_;
};

}  // namespace dcp::detail
