// tools/runner/input_account.hpp — what became of every message offered to one input of a node.
//
// What it is for: the runner's summary accounts for each message per input, so a lost message is
// always named with its cause. Every message routed to an input (an output of its source node, a
// timer tick or a dora/logs line while the node reads) is counted once as offered, and ends in
// exactly one of the other counters. Once nothing is queued for the input (at the end of a run):
//
//   offered == delivered + dropped_queue_full + dropped_descriptors + dropped_too_large + discarded
//
// holds (balanced()). router.hpp's NodeInputs keeps one per input; runner.hpp's NodeReport shows it.
//
// Thread safety: plain data. Blocking: none.
#pragma once

#include <cstdint>

namespace dcp::runner {

struct InputAccount {
  std::uint64_t offered = 0;    ///< messages routed to this input
  std::uint64_t delivered = 0;  ///< written to the node's connection (the kernel took the frame)
  /// Dropped because the input's queue was full: queue_size (drop_oldest) or the backpressure limit.
  std::uint64_t dropped_queue_full = 0;
  /// Dropped because the runner could not hold its shared-memory payload: the payload descriptor
  /// budget was reached, or the runner had no descriptor free to receive or create it.
  std::uint64_t dropped_descriptors = 0;
  /// Dropped because the frame to this node would exceed the protocol's frame limit.
  std::uint64_t dropped_too_large = 0;
  /// Never delivered because the node no longer read it: queued when the node stopped reading
  /// (Stop drained, its stream ended, it went away), sent after that, or its connection failed first.
  std::uint64_t discarded = 0;

  [[nodiscard]] std::uint64_t dropped() const noexcept {
    return dropped_queue_full + dropped_descriptors + dropped_too_large;
  }
  /// Whether every offered message is accounted for, with `queued` still waiting.
  [[nodiscard]] bool balanced(std::uint64_t queued = 0) const noexcept {
    return offered == delivered + dropped() + discarded + queued;
  }
};

}  // namespace dcp::runner
