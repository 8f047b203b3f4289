// dcp/core/select.hpp — wait on several receivers at once.
//
// What it is for: a thread that serves several channels (say worker results and a stop signal)
// blocks until any of them is ready, instead of polling each with a timeout.
//
//   switch (dcp::select(results, stop)) {           // index of a ready receiver
//     case 0: if (auto r = results.try_recv()) handle(*r); break;
//     case 1: return;
//   }
//   if (auto i = dcp::select_for(10ms, a, b)) ...   // std::nullopt on timeout
//
// Ready means a receive would not block: a value is queued, or the channel is closed (try_recv then
// reports closed). select only reports readiness and consumes nothing; when other consumers share a
// channel, the value may be gone by the time the caller calls try_recv, which then reports empty:
// loop back to select.
//
// Fairness: when several receivers are ready, the scan starts one position later on every call
// (per Selector, or per thread for the free functions), so a busy channel cannot starve another.
//
// Thread safety: the free functions may be called from any thread. A Selector is used by one thread
// at a time. Blocking: select/Selector::wait block until a receiver is ready; the _for/_until forms
// also return at the deadline.
// Errors: a moved-from receiver throws std::logic_error; an empty Selector throws std::logic_error
// on wait; a negative timeout throws std::invalid_argument.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

#include "dcp/core/channel.hpp"
#include "dcp/core/detail/backoff.hpp"
#include "dcp/core/detail/channel_state.hpp"
#include "dcp/core/detail/deadline.hpp"

namespace dcp {

namespace detail {

inline std::optional<std::size_t> select_ready(ChannelBase* const* channels, std::size_t count, std::size_t start,
                                               SteadyTime deadline) {
  const auto scan = [&]() -> std::optional<std::size_t> {
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t index = (start + i) % count;
      if (channels[index]->ready_for_recv()) return index;
    }
    return std::nullopt;
  };
  Backoff backoff;
  for (;;) {
    if (auto ready = scan()) return ready;
    if (!backoff.is_completed()) {
      backoff.snooze();
      continue;
    }
    if (deadline != kNoDeadline && std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    // Register as an observer everywhere, re-check, then sleep until any channel changes.
    Parker& parker = current_thread_parker();
    parker.reset();
    for (std::size_t i = 0; i < count; ++i) {
      try {
        channels[i]->receiver_waker().register_waiter(&parker, true);
      } catch (...) {  // std::bad_alloc: leave no pointer to this thread's Parker behind
        for (std::size_t j = 0; j < i; ++j) channels[j]->receiver_waker().unregister(&parker);
        throw;
      }
    }
    std::optional<std::size_t> ready = scan();
    if (!ready) {
      if (deadline == kNoDeadline) {
        parker.park();
      } else {
        parker.park_until(deadline);
      }
    }
    for (std::size_t i = 0; i < count; ++i) channels[i]->receiver_waker().unregister(&parker);
    if (ready) return ready;
  }
}

inline std::size_t next_select_start() noexcept {
  thread_local std::size_t rotation = 0;
  return rotation++;
}

template <class... Ts>
std::optional<std::size_t> select_variadic(SteadyTime deadline, const Receiver<Ts>&... receivers) {
  static_assert(sizeof...(Ts) >= 1, "dcp::select needs at least one receiver");
  // Hold the shared states for the duration of the wait.
  const std::array<std::shared_ptr<ChannelBase>, sizeof...(Ts)> owners{
      HandleAccess::base(receivers, "select")...};
  std::array<ChannelBase*, sizeof...(Ts)> channels{};
  for (std::size_t i = 0; i < owners.size(); ++i) channels[i] = owners[i].get();
  return select_ready(channels.data(), channels.size(), next_select_start() % channels.size(), deadline);
}

}  // namespace detail

/// Blocks until one of the receivers is ready; returns its position in the argument list.
template <class... Ts>
std::size_t select(const Receiver<Ts>&... receivers) {
  return *detail::select_variadic(detail::kNoDeadline, receivers...);
}

/// Like select, but returns std::nullopt when nothing became ready within `timeout`.
template <class Rep, class Period, class... Ts>
std::optional<std::size_t> select_for(std::chrono::duration<Rep, Period> timeout, const Receiver<Ts>&... receivers) {
  return detail::select_variadic(detail::deadline_after(timeout, "dcp::select_for"), receivers...);
}

/// Like select, but returns std::nullopt when nothing became ready by `deadline`.
template <class Clock, class Duration, class... Ts>
std::optional<std::size_t> select_until(std::chrono::time_point<Clock, Duration> deadline,
                                        const Receiver<Ts>&... receivers) {
  return detail::select_variadic(detail::to_steady(deadline), receivers...);
}

/// A select over a set of receivers built at run time (for example one per input of a node).
class Selector {
 public:
  /// Adds a receiver (any value type); returns its index. The channel is kept alive by the Selector.
  template <class T>
  std::size_t add(const Receiver<T>& receiver) {
    owners_.push_back(detail::HandleAccess::base(receiver, "Selector::add"));
    channels_.push_back(owners_.back().get());
    return channels_.size() - 1;
  }

  [[nodiscard]] std::size_t size() const noexcept { return channels_.size(); }

  std::size_t wait() { return *wait_impl(detail::kNoDeadline); }

  template <class Rep, class Period>
  std::optional<std::size_t> wait_for(std::chrono::duration<Rep, Period> timeout) {
    return wait_impl(detail::deadline_after(timeout, "dcp::Selector::wait_for"));
  }

  template <class Clock, class Duration>
  std::optional<std::size_t> wait_until(std::chrono::time_point<Clock, Duration> deadline) {
    return wait_impl(detail::to_steady(deadline));
  }

  /// Index of a ready receiver right now, without blocking.
  std::optional<std::size_t> poll() {
    const std::size_t start = next_start();
    for (std::size_t i = 0; i < channels_.size(); ++i) {
      const std::size_t index = (start + i) % channels_.size();
      if (channels_[index]->ready_for_recv()) return index;
    }
    return std::nullopt;
  }

 private:
  std::size_t next_start() {
    if (channels_.empty()) throw std::logic_error("dcp::Selector: no receivers added");
    return rotation_++ % channels_.size();
  }
  std::optional<std::size_t> wait_impl(detail::SteadyTime deadline) {
    const std::size_t start = next_start();
    return detail::select_ready(channels_.data(), channels_.size(), start, deadline);
  }

  std::vector<std::shared_ptr<detail::ChannelBase>> owners_;
  std::vector<detail::ChannelBase*> channels_;
  std::size_t rotation_ = 0;
};

}  // namespace dcp
