// tools/runner/payload_budget.hpp — the explicit cap on the shared-memory payload descriptors the
// runner holds at once.
//
// What it is for: every shared-memory message the runner has received and not yet passed on (queued
// for slow readers, or waiting in a connection's outbox) keeps its sealed memfd open in the runner.
// Without a cap, one slow reader with a long queue (queue_size 30000 of 8 KiB messages) fills the
// descriptor table in under a second, and the next accept, pipe or recvmsg fails for reasons that
// have nothing to do with whoever hits it. The runner adopts every payload descriptor through a
// PayloadBudget, which counts those alive (one per message, however many readers share it) until the
// last copy is released. When the budget is full the event loop (runner.cpp) applies each reading
// input's overflow rule to make room — its oldest queued shared-memory message is dropped — and, if
// that frees nothing, drops the newcomer; every such message is counted per input
// (InputAccount::dropped_descriptors), never blamed on the sender.
//
//   PayloadBudget budget(derived_payload_limit(nofile, node_count, timer_count));
//   if (budget.full()) { ...make room or drop... }
//   std::shared_ptr<const ipc::FileDescriptor> fd = budget.adopt(std::move(received));
//
// The limit: RunOptions::max_payload_descriptors, or by default the runner's RLIMIT_NOFILE less
// what the run itself needs (derived_payload_limit below). docs/runner.md, "Limits".
//
// Thread safety: one owner (the runner's event loop thread); the descriptors it hands out must be
// released on that thread too (the count is not atomic). Blocking: none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "ipc/socket.hpp"

namespace dcp::runner {

/// Descriptors the runner keeps for itself whatever the dataflow: epoll, signalfd, the listening
/// socket, the terminal and log files' spare, reading /proc and cgroups, a build step's pipes.
inline constexpr std::size_t kRunnerOwnDescriptors = 64;
/// Descriptors a node costs the runner at most at once: both ends of its connection before the
/// start, two pipes (both ends while spawning), its cgroup.procs and its log file.
inline constexpr std::size_t kDescriptorsPerNode = 8;

/// Below this many, the runner says at the start that larger messages will be dropped early.
inline constexpr std::size_t kFewPayloadDescriptors = 64;

/// The default budget for a run: `nofile` (the runner's soft RLIMIT_NOFILE, after raising it) less
/// kRunnerOwnDescriptors, kDescriptorsPerNode per node, one per timer period and `pending_connections`
/// (kMaxPendingConnections); 0 when nothing is left (then every shared-memory message is dropped).
[[nodiscard]] std::size_t derived_payload_limit(std::uint64_t nofile, std::size_t nodes, std::size_t timers,
                                                std::size_t pending_connections) noexcept;

class PayloadBudget {
 public:
  explicit PayloadBudget(std::size_t limit);

  /// Takes `fd` as one more held payload descriptor; it counts until the last copy of the returned
  /// pointer is gone. May go over the limit (the caller decides first: full()).
  [[nodiscard]] std::shared_ptr<const ipc::FileDescriptor> adopt(ipc::FileDescriptor fd);

  [[nodiscard]] bool full() const noexcept { return counts_->held >= limit_; }
  [[nodiscard]] std::size_t limit() const noexcept { return limit_; }
  /// Payload descriptors alive right now, and the most at once since construction.
  [[nodiscard]] std::size_t held() const noexcept { return counts_->held; }
  [[nodiscard]] std::size_t peak() const noexcept { return counts_->peak; }

 private:
  struct Counts {
    std::size_t held = 0;
    std::size_t peak = 0;
  };
  std::size_t limit_;
  std::shared_ptr<Counts> counts_;  // shared with each descriptor's deleter: they may outlive the budget
};

}  // namespace dcp::runner
