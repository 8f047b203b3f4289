// patterns/src/item_metrics.hpp — the status-board metrics of one item a pattern counts by id (an
// input of the event router, an output of the output handler). Private to the pattern sources.
//
// What it is for: both patterns keep, per item, counters "<prefix><name>" (received, handled, ...;
// sent, dropped, ...), a latency histogram "<prefix>latency" and, for the router, a gauge
// "<prefix>queue" — or nothing at all when no StatusBoard was given. ItemMetrics looks them up once
// (StatusBoard throws there if a name is taken by another kind of metric) and turns every update
// into a no-op without a board, so the hot paths carry no null checks of their own.
//
//   enum OutputCount : std::size_t { kSent, kDropped, kOutputCounts };
//   ItemMetrics<kOutputCounts> m(board, "output.cmd.", {"sent", "dropped"}, ItemGauge::none);
//   m.add(kSent);                       // output.cmd.sent += 1
//
// Thread safety: built before the pattern's threads use it, read-only afterwards; add(), record_since()
// and set_queue() may then be called from any thread at once (the metrics are atomics).
// Blocking: none (the constructor takes the board's lock for the look-ups).
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "dcp/patterns/status.hpp"

namespace dcp::detail {

/// Whether an item has a "<prefix>queue" gauge.
enum class ItemGauge { none, queue };

template <std::size_t N>
class ItemMetrics {
 public:
  /// No board: every update does nothing.
  ItemMetrics() = default;

  /// Looks up the counters "<prefix><names[i]>", "<prefix>latency" and, with ItemGauge::queue,
  /// "<prefix>queue" on `board` (which must outlive this object).
  ItemMetrics(StatusBoard& board, const std::string& prefix, const std::array<const char*, N>& names, ItemGauge gauge) {
    for (std::size_t i = 0; i < N; ++i) counters_[i] = &board.counter(prefix + names[i]);
    if (gauge == ItemGauge::queue) queue_ = &board.gauge(prefix + "queue");
    latency_ = &board.latency(prefix + "latency");
  }

  /// Adds `n` to counter `which` (an index into the names given to the constructor).
  void add(std::size_t which, std::uint64_t n = 1) const noexcept {
    if (Counter* counter = counters_[which]) counter->add(n);
  }
  /// Records now - `start` (the clock is read only with a board).
  void record_since(std::chrono::steady_clock::time_point start) const noexcept {
    if (latency_ != nullptr) latency_->record(std::chrono::steady_clock::now() - start);
  }
  void set_queue(std::int64_t size) const noexcept {
    if (queue_ != nullptr) queue_->set(size);
  }

 private:
  std::array<Counter*, N> counters_{};
  Gauge* queue_ = nullptr;
  LatencyHistogram* latency_ = nullptr;
};

}  // namespace dcp::detail
