// dcp/core/channel.hpp — multi-producer multi-consumer channels with close semantics and timeouts.
//
// What it is for: passing values between threads of a Dora node — worker results back to the thread
// that owns the output sender, sensor inputs out to workers. The API follows Rust's std::sync::mpsc
// and crossbeam-channel:
//
//   auto [tx, rx] = dcp::bounded<Frame>(16);          // or dcp::unbounded<T>(), dcp::latest<T>()
//   std::jthread producer([tx = std::move(tx)] mutable { tx.send(make_frame()); });
//   for (Frame& f : rx) process(f);                   // ends when every Sender is gone and rx drained
//
// Handles. Sender<T> and Receiver<T> are cheap, copyable handles to one shared channel. Copy a Sender
// for each producer and a Receiver for each consumer; every value goes to exactly one receiver.
//
// Close semantics.
//   - When the last Sender is destroyed, or anyone calls close(), the channel is closed: receivers
//     first drain what is queued, then every receive reports RecvStatus::closed — never a hang.
//   - When the last Receiver is destroyed, the channel closes too: every send fails at once with
//     SendStatus::closed and hands the value back (SendResult::value()). Values still queued are
//     destroyed right then, on the thread that drops the last Receiver (as Rust's channels do):
//     nobody can receive them, and one of them may hold resources — even a Sender of a reply
//     channel that someone is waiting on.
//
// Operations and what blocks.
//   - send / send_for / send_until: block only on a full bounded channel with Overflow::block, until
//     there is room, the channel closes, or the deadline passes. Unbounded channels and the dropping
//     policies never block a sender.
//   - recv / recv_for / recv_until: block while the channel is empty and open.
//   - try_send / try_recv never block (beyond a few-instruction spin while another thread finishes
//     writing or linking a slot).
//   - Blocking waits spin briefly, then yield, then park: on a futex on Linux (detail/parker.hpp),
//     elsewhere on a mutex and condition variable.
//
// Overflow (bounded channels): Overflow::block (default), Overflow::drop_oldest (the oldest queued
// value is discarded), Overflow::drop_newest (the new value is discarded). dcp::latest<T>() is a
// capacity-1 drop_oldest channel that always holds the newest value: the right thing for a sensor
// stream whose consumer only wants the current reading. Drops are counted: dropped().
//
// Values. T may be move-only (std::unique_ptr) or large; values are moved, never copied, from send to
// recv. T must be nothrow move constructible and nothrow destructible.
//
// Thread safety: any number of threads may call the operations (send*, recv*, close, size, ...) on
// the same handle object or on copies of it concurrently. Only assignment, move and destruction of a
// handle object need it to themselves. Copying a handle is cheap; moving it is cheaper.
//
// Destruction of values: a value evicted by Overflow::drop_oldest (or discarded by drop_newest) is
// destroyed on the sending thread, inside send(). The send says it evicted: SendResult::evicted()
// (status still `sent`); send(value, on_evicted) / try_send(value, on_evicted) hand each evicted
// value to the caller first, so it can account for it (nothing leaves a channel unseen).
//
// Errors: capacity 0 or above kMaxCapacity throws std::invalid_argument (dcp has no rendezvous
// channel: use capacity 1); a negative timeout throws std::invalid_argument; any operation on a
// moved-from handle throws std::logic_error.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "dcp/core/detail/channel_state.hpp"
#include "dcp/core/overflow.hpp"
#include "dcp/core/result.hpp"

namespace dcp {

template <class T>
class Sender;
template <class T>
class Receiver;

namespace detail {
struct HandleAccess;

enum class HandleSide { sender, receiver };

/// One counted reference to a channel from one side. Copies count; the last handle of a side to go
/// closes the channel (sender side) or closes it and destroys what is queued (receiver side).
/// Each end (detail::ChannelEnd below) holds one and keeps the default copy and move operations.
template <class T, HandleSide Side>
class ChannelHandle {
 public:
  explicit ChannelHandle(std::shared_ptr<ChannelState<T>> state) noexcept : state_(std::move(state)) {}
  ChannelHandle(const ChannelHandle& other) noexcept : state_(other.state_) {
    if (state_) count().fetch_add(1, std::memory_order_relaxed);
  }
  ChannelHandle(ChannelHandle&& other) noexcept = default;
  ChannelHandle& operator=(const ChannelHandle& other) noexcept {
    if (this != &other) *this = ChannelHandle(other);
    return *this;
  }
  ChannelHandle& operator=(ChannelHandle&& other) noexcept {
    if (this != &other) {
      release();
      state_ = std::move(other.state_);
    }
    return *this;
  }
  ~ChannelHandle() { release(); }

  /// The channel; throws std::logic_error naming `operation` on a moved-from handle.
  ChannelState<T>& state(const char* operation) const {
    if (!state_) {
      throw std::logic_error(std::string(Side == HandleSide::sender ? "dcp::Sender::" : "dcp::Receiver::") +
                             operation + ": used after move");
    }
    return *state_;
  }
  [[nodiscard]] bool valid() const noexcept { return state_ != nullptr; }
  [[nodiscard]] const std::shared_ptr<ChannelState<T>>& shared() const noexcept { return state_; }

 private:
  std::atomic<std::size_t>& count() const noexcept {
    if constexpr (Side == HandleSide::sender) {
      return state_->sender_handles;
    } else {
      return state_->receiver_handles;
    }
  }

  void release() noexcept {
    if (state_ && count().fetch_sub(1, std::memory_order_acq_rel) == 1) {
      if constexpr (Side == HandleSide::sender) {
        state_->close();
      } else {
        state_->discard_all();
      }
    }
    state_.reset();
  }

  std::shared_ptr<ChannelState<T>> state_;
};

/// What both ends of a channel offer alike: close() and the observers, on the end's counted handle.
/// Sender<T> and Receiver<T> derive from it; `Side` names the end in a use-after-move error.
template <class T, HandleSide Side>
class ChannelEnd {
 public:
  /// Closes the channel for everybody: sends fail from now on, receivers drain then see closed.
  void close() { state("close").close(); }

  [[nodiscard]] bool is_closed() const { return state("is_closed").is_closed(); }
  /// Values queued now (a snapshot).
  [[nodiscard]] std::size_t size() const { return state("size").size(); }
  /// The bound, or nullopt for an unbounded channel.
  [[nodiscard]] std::optional<std::size_t> capacity() const { return state("capacity").capacity(); }
  [[nodiscard]] Overflow policy() const { return state("policy").policy(); }
  /// Values discarded so far by the overflow policy.
  [[nodiscard]] std::uint64_t dropped() const { return state("dropped").dropped(); }
  /// False after this handle was moved from.
  [[nodiscard]] bool valid() const noexcept { return handle_.valid(); }

 protected:
  explicit ChannelEnd(std::shared_ptr<ChannelState<T>> shared) noexcept : handle_(std::move(shared)) {}

  ChannelState<T>& state(const char* operation) const { return handle_.state(operation); }

  ChannelHandle<T, Side> handle_;
};
}  // namespace detail

/// Largest capacity accepted by dcp::bounded().
inline constexpr std::size_t kMaxCapacity = detail::ArrayQueue<int>::kMaxCapacity;

/// The sending end. close(), is_closed(), size(), capacity(), policy(), dropped() and valid() come
/// from detail::ChannelEnd, alike on both ends.
template <class T>
class Sender : public detail::ChannelEnd<T, detail::HandleSide::sender> {
  using End = detail::ChannelEnd<T, detail::HandleSide::sender>;

 public:
  /// Blocks while a bounded Overflow::block channel is full.
  SendResult<T> send(T&& value) {
    std::size_t evicted = 0;
    const SendStatus status = state("send").send_until(value, detail::kNoDeadline, evicted);
    return finish(status, value, evicted);
  }
  SendResult<T> send(const T& value) { return send(T(value)); }

  /// send(), handing every value it evicts (Overflow::drop_oldest) to `on_evicted(T&&)` instead of
  /// destroying it unseen: called on this thread, inside send(), once per evicted value, oldest
  /// first. (More than one only when other senders refilled the channel between this send's eviction
  /// and its push.) `on_evicted` must be noexcept and must not use this channel.
  template <class OnEvicted>
  SendResult<T> send(T&& value, OnEvicted&& on_evicted) {
    static_assert(std::is_nothrow_invocable_v<OnEvicted&, T&&>, "dcp::Sender::send: on_evicted(T&&) must be noexcept");
    std::size_t evicted = 0;
    const SendStatus status = state("send").send_until(value, detail::kNoDeadline, evicted, on_evicted);
    return finish(status, value, evicted);
  }

  /// Never blocks: SendStatus::full when a bounded Overflow::block channel is full.
  SendResult<T> try_send(T&& value) {
    std::size_t evicted = 0;
    const SendStatus status = state("try_send").try_send(value, evicted);
    return finish(status, value, evicted);
  }
  SendResult<T> try_send(const T& value) { return try_send(T(value)); }
  /// try_send() with an eviction sink, as send(value, on_evicted).
  template <class OnEvicted>
  SendResult<T> try_send(T&& value, OnEvicted&& on_evicted) {
    static_assert(std::is_nothrow_invocable_v<OnEvicted&, T&&>,
                  "dcp::Sender::try_send: on_evicted(T&&) must be noexcept");
    std::size_t evicted = 0;
    const SendStatus status = state("try_send").try_send(value, evicted, on_evicted);
    return finish(status, value, evicted);
  }

  template <class Rep, class Period>
  SendResult<T> send_for(T&& value, std::chrono::duration<Rep, Period> timeout) {
    auto& s = state("send_for");
    std::size_t evicted = 0;
    const SendStatus status = s.send_until(value, detail::deadline_after(timeout, "dcp::Sender::send_for"), evicted);
    return finish(status, value, evicted);
  }
  template <class Rep, class Period>
  SendResult<T> send_for(const T& value, std::chrono::duration<Rep, Period> timeout) {
    return send_for(T(value), timeout);
  }

  template <class Clock, class Duration>
  SendResult<T> send_until(T&& value, std::chrono::time_point<Clock, Duration> deadline) {
    auto& s = state("send_until");
    std::size_t evicted = 0;
    const SendStatus status = s.send_until(value, detail::to_steady(deadline), evicted);
    return finish(status, value, evicted);
  }
  template <class Clock, class Duration>
  SendResult<T> send_until(const T& value, std::chrono::time_point<Clock, Duration> deadline) {
    return send_until(T(value), deadline);
  }

 private:
  friend struct detail::HandleAccess;
  using End::state;
  explicit Sender(std::shared_ptr<detail::ChannelState<T>> shared) noexcept : End(std::move(shared)) {}

  // Callers read `evicted` only after the send returned (a separate statement: argument evaluation
  // order is unspecified).
  static SendResult<T> finish(SendStatus status, T& value, std::size_t evicted) {
    if (status == SendStatus::sent || status == SendStatus::dropped) return SendResult<T>(status, evicted);
    return SendResult<T>(status, std::move(value), evicted);
  }
};

/// The receiving end; close() and the observers come from detail::ChannelEnd, as on Sender.
template <class T>
class Receiver : public detail::ChannelEnd<T, detail::HandleSide::receiver> {
  using End = detail::ChannelEnd<T, detail::HandleSide::receiver>;

 public:
  /// Blocks until a value arrives or the channel is closed and drained.
  RecvResult<T> recv() { return receive(state("recv"), detail::kNoDeadline); }

  /// Never blocks: RecvStatus::empty when nothing is queued.
  RecvResult<T> try_recv() {
    RecvResult<T> result;
    auto status = state("try_recv").try_recv(detail::ResultAccess::storage(result));
    detail::ResultAccess::set_status(result, status);
    return result;
  }

  template <class Rep, class Period>
  RecvResult<T> recv_for(std::chrono::duration<Rep, Period> timeout) {
    auto& s = state("recv_for");
    return receive(s, detail::deadline_after(timeout, "dcp::Receiver::recv_for"));
  }

  template <class Clock, class Duration>
  RecvResult<T> recv_until(std::chrono::time_point<Clock, Duration> deadline) {
    auto& s = state("recv_until");
    return receive(s, detail::to_steady(deadline));
  }

  /// Input iterator for range-for: each step is a blocking recv(); the loop ends on closed.
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using reference = T&;
    using pointer = T*;

    Iterator() = default;
    explicit Iterator(Receiver* receiver) : receiver_(receiver) { advance(); }
    T& operator*() const noexcept { return *current_; }
    T* operator->() const noexcept { return &*current_; }
    Iterator& operator++() {
      advance();
      return *this;
    }
    void operator++(int) { advance(); }
    friend bool operator==(const Iterator& it, std::default_sentinel_t) noexcept { return it.receiver_ == nullptr; }

   private:
    void advance() {
      RecvResult<T> r = receiver_->recv();
      if (r.ok()) {
        current_ = std::move(*r);
      } else {
        current_.reset();
        receiver_ = nullptr;
      }
    }
    Receiver* receiver_ = nullptr;
    mutable std::optional<T> current_;
  };

  Iterator begin() { return Iterator(this); }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  friend struct detail::HandleAccess;
  using End::state;
  explicit Receiver(std::shared_ptr<detail::ChannelState<T>> shared) noexcept : End(std::move(shared)) {}

  static RecvResult<T> receive(detail::ChannelState<T>& s, detail::SteadyTime deadline) {
    RecvResult<T> result;
    auto status = s.recv_until(detail::ResultAccess::storage(result), deadline);
    detail::ResultAccess::set_status(result, status);
    return result;
  }
};

namespace detail {
struct HandleAccess {
  template <class T>
  static std::pair<Sender<T>, Receiver<T>> make(std::shared_ptr<ChannelState<T>> state) {
    return {Sender<T>(state), Receiver<T>(state)};
  }
  template <class T>
  static std::shared_ptr<ChannelBase> base(const Receiver<T>& receiver, const char* operation) {
    receiver.state(operation);  // throws on a moved-from receiver
    return receiver.handle_.shared();
  }
};
}  // namespace detail

/// A channel holding at most `capacity` values (1 .. kMaxCapacity).
template <class T>
std::pair<Sender<T>, Receiver<T>> bounded(std::size_t capacity, Overflow policy = Overflow::block) {
  if (capacity == 0 || capacity > kMaxCapacity) {
    throw std::invalid_argument("dcp::bounded: capacity " + std::to_string(capacity) + " is out of range 1.." +
                                std::to_string(kMaxCapacity) + " (there is no rendezvous channel; use 1)");
  }
  return detail::HandleAccess::make(std::make_shared<detail::ChannelState<T>>(capacity, policy));
}

/// A channel without a bound: send never blocks (memory is the limit).
template <class T>
std::pair<Sender<T>, Receiver<T>> unbounded() {
  return detail::HandleAccess::make(std::make_shared<detail::ChannelState<T>>(detail::UnboundedTag{}));
}

/// A capacity-1 channel that keeps only the newest value (older ones are dropped and counted).
template <class T>
std::pair<Sender<T>, Receiver<T>> latest() {
  return bounded<T>(1, Overflow::drop_oldest);
}

}  // namespace dcp
