// tools/runner/pending_connections.hpp — the bookkeeping that bounds connections which have not
// said Hello yet: at most `limit` of them at a time, each for at most `timeout`.
//
// What it is for: anyone who can reach the runner's socket can connect, and a connection costs the
// runner a descriptor. The event loop (runner.cpp) asks admit() for each accepted connection (a
// refused one is closed at once), forgets() a connection once its Hello is handled (or it closed),
// and closes what expired() returns, waking up at next_deadline(). Both refusals and time-outs
// are counted. Arrival order is kept, so the oldest is always the first to expire.
//
// Thread safety: one owner (the event loop thread); no internal locking.
// Blocking: none; time comes in as an argument (tests pass their own clock readings).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

namespace dcp::runner {

/// Connections that may wait for their Hello at the same time (documented in docs/runner.md).
inline constexpr std::size_t kMaxPendingConnections = 64;
/// How long a connection has to say Hello before it is closed (documented in docs/runner.md).
inline constexpr std::chrono::milliseconds kDefaultHelloTimeout{5000};

class PendingConnections {
 public:
  using Clock = std::chrono::steady_clock;

  PendingConnections(std::size_t limit, std::chrono::milliseconds timeout) : limit_(limit), timeout_(timeout) {}

  /// True when `id` may wait for its Hello (it is tracked from `now`); false when `limit` connections
  /// already wait: the caller closes it (counted in refused()).
  [[nodiscard]] bool admit(std::uint64_t id, Clock::time_point now);
  /// `id` no longer waits (its Hello was handled, or it closed). Unknown ids are ignored.
  void forget(std::uint64_t id);
  /// The connections whose time ran out at `now`, oldest first; they are no longer tracked
  /// (counted in timed_out()). The caller closes them.
  [[nodiscard]] std::vector<std::uint64_t> expired(Clock::time_point now);
  /// When the oldest waiting connection runs out of time; nullopt when none waits.
  [[nodiscard]] std::optional<Clock::time_point> next_deadline() const;

  [[nodiscard]] std::size_t waiting() const noexcept { return entries_.size(); }
  [[nodiscard]] std::uint64_t refused() const noexcept { return refused_; }
  [[nodiscard]] std::uint64_t timed_out() const noexcept { return timed_out_; }

 private:
  struct Entry {
    std::uint64_t id;
    Clock::time_point deadline;
  };
  std::size_t limit_;
  std::chrono::milliseconds timeout_;
  std::deque<Entry> entries_;  // in arrival order = deadline order (one timeout for all)
  std::uint64_t refused_ = 0;
  std::uint64_t timed_out_ = 0;
};

}  // namespace dcp::runner
