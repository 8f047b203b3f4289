// dcp/core/detail/channel_state.hpp — the shared state of one channel: queue, wakers, counters, policy.
//
// What it is for: Sender<T> and Receiver<T> are handles to one ChannelState<T>. It combines the
// lock-free queue (ArrayQueue when bounded, ListQueue when unbounded) with the blocking protocol:
// an operation first retries with Backoff, then registers the thread's Parker with a Waker, re-checks
// readiness, and parks until notified or until its deadline. After every successful push it wakes a
// receiver; after every pop from a bounded queue it wakes a sender; on close it wakes everybody.
//
// ChannelBase is the type-erased part that select() needs (readiness and the receivers' Waker).
//
// Thread safety: every member may be called from any thread.
// Blocking: send_until (bounded, Overflow::block, full) and recv_until (empty) block until the
// operation can complete, the channel closes, or the deadline passes.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <variant>

#include "dcp/core/detail/array_queue.hpp"
#include "dcp/core/detail/backoff.hpp"
#include "dcp/core/detail/deadline.hpp"
#include "dcp/core/detail/list_queue.hpp"
#include "dcp/core/detail/parker.hpp"
#include "dcp/core/detail/waker.hpp"
#include "dcp/core/overflow.hpp"
#include "dcp/core/result.hpp"

namespace dcp::detail {

class ChannelBase {
 public:
  virtual ~ChannelBase() = default;
  /// A receive would not find the channel empty-and-open.
  [[nodiscard]] virtual bool ready_for_recv() const noexcept = 0;
  Waker& receiver_waker() noexcept { return receivers_; }

  // Handle counts: the last Sender (or the last Receiver) to go closes the channel.
  std::atomic<std::size_t> sender_handles{1};
  std::atomic<std::size_t> receiver_handles{1};

 protected:
  Waker receivers_;
  Waker senders_;
};

/// Runs the park protocol once: register, re-check `ready`, park until notified or `deadline`.
template <class Ready>
void park_on(Waker& waker, bool observer, Ready&& ready, SteadyTime deadline) {
  Parker& parker = current_thread_parker();
  parker.reset();
  waker.register_waiter(&parker, observer);
  if (!ready()) {
    if (deadline == kNoDeadline) {
      parker.park();
    } else {
      parker.park_until(deadline);
    }
  }
  waker.unregister(&parker);
}

struct UnboundedTag {};

/// The default fate of a value evicted by Overflow::drop_oldest: destroyed at once, inside send().
struct DestroyEvicted {
  template <class U>
  void operator()(U&&) const noexcept {}
};

template <class T>
class ChannelState final : public ChannelBase {
 public:
  ChannelState(std::size_t capacity, Overflow policy)
      : queue_(std::in_place_index<0>, capacity), policy_(policy) {}
  explicit ChannelState(UnboundedTag) : queue_(std::in_place_index<1>), policy_(Overflow::block) {}

  /// Never blocks. On sent/dropped `value` was consumed; otherwise it is untouched. Every value
  /// evicted to make room (drop_oldest) is counted in `evicted` and handed to `on_evicted` (rvalue),
  /// on this thread, before this returns; it is destroyed right after.
  template <class OnEvicted = DestroyEvicted>
  SendStatus try_send(T& value, std::size_t& evicted, OnEvicted&& on_evicted = {}) {
    for (;;) {
      switch (visit([&](auto& q) { return q.try_push(value); })) {
        case PushStatus::pushed:
          receivers_.notify_one();
          return SendStatus::sent;
        case PushStatus::closed:
          return SendStatus::closed;
        case PushStatus::full:
          break;
      }
      switch (policy_) {
        case Overflow::block:
          return SendStatus::full;
        case Overflow::drop_newest: {
          [[maybe_unused]] T discarded(std::move(value));
          dropped_.fetch_add(1, std::memory_order_relaxed);
          return SendStatus::dropped;
        }
        case Overflow::drop_oldest: {
          std::optional<T> oldest;
          if (visit([&](auto& q) { return q.try_pop(oldest); }) == PopStatus::popped) {
            dropped_.fetch_add(1, std::memory_order_relaxed);
            ++evicted;
            on_evicted(std::move(*oldest));
          }
          break;  // and retry the push
        }
      }
    }
  }

  template <class OnEvicted = DestroyEvicted>
  SendStatus send_until(T& value, SteadyTime deadline, std::size_t& evicted, OnEvicted&& on_evicted = {}) {
    Backoff backoff;
    for (;;) {
      const SendStatus status = try_send(value, evicted, on_evicted);
      if (status != SendStatus::full) return status;
      if (!backoff.is_completed()) {
        backoff.snooze();
        continue;
      }
      if (deadline != kNoDeadline && std::chrono::steady_clock::now() >= deadline) return SendStatus::timeout;
      park_on(senders_, false, [this] { return ready_for_send(); }, deadline);
    }
  }

  RecvStatus try_recv(std::optional<T>& out) noexcept {
    switch (visit([&](auto& q) { return q.try_pop(out); })) {
      case PopStatus::popped:
        if (queue_.index() == 0) senders_.notify_one();
        return RecvStatus::received;
      case PopStatus::closed:
        return RecvStatus::closed;
      case PopStatus::empty:
        break;
    }
    return RecvStatus::empty;
  }

  RecvStatus recv_until(std::optional<T>& out, SteadyTime deadline) {
    Backoff backoff;
    for (;;) {
      const RecvStatus status = try_recv(out);
      if (status != RecvStatus::empty) return status;
      if (!backoff.is_completed()) {
        backoff.snooze();
        continue;
      }
      if (deadline != kNoDeadline && std::chrono::steady_clock::now() >= deadline) return RecvStatus::timeout;
      park_on(receivers_, false, [this] { return ready_for_recv(); }, deadline);
    }
  }

  /// The last Receiver is gone: close, then destroy everything still queued (nobody can receive it,
  /// and a queued value may own resources, even a Sender that keeps another channel open). Pushes
  /// in flight when the close mark landed are waited for by try_pop, so nothing is left behind.
  void discard_all() noexcept {
    close();
    std::optional<T> discarded;
    while (visit([&](auto& q) { return q.try_pop(discarded); }) == PopStatus::popped) discarded.reset();
  }

  /// Closes the channel; wakes every blocked thread. True for the call that closed it.
  bool close() noexcept {
    const bool closed_now = visit([](auto& q) { return q.close(); });
    if (closed_now) {
      receivers_.notify_all();
      senders_.notify_all();
    }
    return closed_now;
  }

  [[nodiscard]] bool ready_for_recv() const noexcept override {
    return visit([](const auto& q) { return q.ready_for_pop(); });
  }
  [[nodiscard]] bool ready_for_send() const noexcept {
    return visit([](const auto& q) { return q.ready_for_push(); });
  }
  [[nodiscard]] bool is_closed() const noexcept {
    return visit([](const auto& q) { return q.is_closed(); });
  }
  [[nodiscard]] std::size_t size() const noexcept {
    return visit([](const auto& q) { return q.size(); });
  }
  [[nodiscard]] std::optional<std::size_t> capacity() const noexcept {
    if (const auto* array = std::get_if<0>(&queue_)) return array->capacity();
    return std::nullopt;
  }
  [[nodiscard]] Overflow policy() const noexcept { return policy_; }
  [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }

 private:
  // A two-way branch rather than std::visit: keeps the hot path inlinable.
  template <class F>
  decltype(auto) visit(F&& f) {
    if (auto* array = std::get_if<0>(&queue_)) return f(*array);
    return f(*std::get_if<1>(&queue_));
  }
  template <class F>
  decltype(auto) visit(F&& f) const {
    if (const auto* array = std::get_if<0>(&queue_)) return f(*array);
    return f(*std::get_if<1>(&queue_));
  }

  std::variant<ArrayQueue<T>, ListQueue<T>> queue_;
  const Overflow policy_;
  std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace dcp::detail
