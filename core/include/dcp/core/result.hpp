// dcp/core/result.hpp — the outcome types of channel operations: SendResult<T> and RecvResult<T>.
//
// What it is for: the hot path never throws for expected outcomes. A send tells apart "sent",
// "dropped by the overflow policy", "full" (try_send on a full blocking channel), "timeout" and
// "closed"; whenever the value was not taken, it is handed back inside the result, so nothing is lost
// silently. A send on an Overflow::drop_oldest channel that made room by evicting the oldest queued
// value says so: status `sent` (the new value is in), evicted() > 0 (evicted_oldest()). A receive tells apart "received", "empty" (try_recv), "timeout" and "closed" (every sender
// gone or the channel closed, and everything queued already drained).
//
// Thread safety: plain values; no sharing.
// Errors: value() on a result that holds no value throws std::logic_error naming the status.
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace dcp {

namespace detail {
struct ResultAccess;
}

enum class SendStatus {
  sent,     ///< the value is in the channel
  dropped,  ///< the channel was full and its policy is Overflow::drop_newest: the value was discarded
  full,     ///< try_send on a full channel with Overflow::block: the value is handed back
  timeout,  ///< the deadline passed while the channel stayed full: the value is handed back
  closed,   ///< the channel is closed or every receiver is gone: the value is handed back
};

enum class RecvStatus {
  received,  ///< a value was taken
  empty,     ///< try_recv found nothing queued (the channel is still open)
  timeout,   ///< the deadline passed with nothing queued
  closed,    ///< the channel is closed and drained: no value will ever arrive
};

constexpr const char* to_string(SendStatus s) noexcept {
  switch (s) {
    case SendStatus::sent: return "sent";
    case SendStatus::dropped: return "dropped";
    case SendStatus::full: return "full";
    case SendStatus::timeout: return "timeout";
    case SendStatus::closed: return "closed";
  }
  return "unknown";
}

constexpr const char* to_string(RecvStatus s) noexcept {
  switch (s) {
    case RecvStatus::received: return "received";
    case RecvStatus::empty: return "empty";
    case RecvStatus::timeout: return "timeout";
    case RecvStatus::closed: return "closed";
  }
  return "unknown";
}

template <class T>
class SendResult {
 public:
  explicit SendResult(SendStatus status, std::size_t evicted = 0) noexcept : status_(status), evicted_(evicted) {}
  SendResult(SendStatus status, T&& returned, std::size_t evicted = 0)
      : status_(status), evicted_(evicted), returned_(std::move(returned)) {}

  [[nodiscard]] SendStatus status() const noexcept { return status_; }
  /// True when the value was sent (not dropped, not returned).
  [[nodiscard]] bool ok() const noexcept { return status_ == SendStatus::sent; }
  explicit operator bool() const noexcept { return ok(); }

  [[nodiscard]] bool is_closed() const noexcept { return status_ == SendStatus::closed; }
  [[nodiscard]] bool is_full() const noexcept { return status_ == SendStatus::full; }
  [[nodiscard]] bool is_timeout() const noexcept { return status_ == SendStatus::timeout; }
  [[nodiscard]] bool is_dropped() const noexcept { return status_ == SendStatus::dropped; }

  /// How many of the oldest queued values this send evicted to make room (Overflow::drop_oldest,
  /// including dcp::latest): 0 otherwise. Usually 0 or 1; more only when other senders refilled the
  /// channel between this send's eviction and its push. Counted whatever the final status.
  [[nodiscard]] std::size_t evicted() const noexcept { return evicted_; }
  /// Sent, and the oldest queued value was evicted to make room for it.
  [[nodiscard]] bool evicted_oldest() const noexcept { return status_ == SendStatus::sent && evicted_ != 0; }

  /// True when the value was not taken and is held here (full, timeout, closed).
  [[nodiscard]] bool has_value() const noexcept { return returned_.has_value(); }

  /// The value handed back by a failed send.
  T& value() & {
    check();
    return *returned_;
  }
  T&& value() && {
    check();
    return std::move(*returned_);
  }

 private:
  void check() const {
    if (!returned_) {
      throw std::logic_error(std::string("dcp::SendResult::value: no value handed back (status: ") +
                             to_string(status_) + ")");
    }
  }
  SendStatus status_;
  std::size_t evicted_ = 0;
  std::optional<T> returned_;
};

template <class T>
class RecvResult {
 public:
  RecvResult() noexcept = default;
  explicit RecvResult(RecvStatus status) noexcept : status_(status) {}

  [[nodiscard]] RecvStatus status() const noexcept { return status_; }
  [[nodiscard]] bool ok() const noexcept { return status_ == RecvStatus::received; }
  explicit operator bool() const noexcept { return ok(); }

  [[nodiscard]] bool is_closed() const noexcept { return status_ == RecvStatus::closed; }
  [[nodiscard]] bool is_empty() const noexcept { return status_ == RecvStatus::empty; }
  [[nodiscard]] bool is_timeout() const noexcept { return status_ == RecvStatus::timeout; }

  /// The received value; throws std::logic_error when nothing was received.
  T& value() & {
    check();
    return *value_;
  }
  T&& value() && {
    check();
    return std::move(*value_);
  }
  /// Unchecked access: only after ok() returned true.
  T& operator*() & noexcept { return *value_; }
  T&& operator*() && noexcept { return std::move(*value_); }
  T* operator->() noexcept { return &*value_; }

 private:
  friend struct detail::ResultAccess;

  void check() const {
    if (!value_) {
      throw std::logic_error(std::string("dcp::RecvResult::value: nothing received (status: ") +
                             to_string(status_) + ")");
    }
  }

 private:
  RecvStatus status_ = RecvStatus::empty;
  std::optional<T> value_;
};

namespace detail {
// Lets the channel fill a RecvResult in place (no extra move of the value).
struct ResultAccess {
  template <class T>
  static std::optional<T>& storage(RecvResult<T>& r) noexcept { return r.value_; }
  template <class T>
  static void set_status(RecvResult<T>& r, RecvStatus s) noexcept { r.status_ = s; }
};
}  // namespace detail

}  // namespace dcp
