// my_node.hpp — the logic of the template node, kept out of main() so that a unit test can run it
// under dcp::testing::NodeHarness (my_node_test.cpp) exactly as `dcp run` runs it (main.cpp).
//
// What the node does: for every input `tick` (a dora/timer; the node counts them: 1, 2, 3, ...) and
// every input `value` (a decimal number as text, from any upstream node) it computes
// collatz_steps(n) on a worker pool and sends the text "<input> <n>: <steps> steps" on its output
// `result`, e.g. "value 27: 111 steps".
//
// Threads: run_my_node() runs the event loop on the calling thread. `tick` handlers run on the pool
// one at a time, in arrival order (Execution::serial: the tick counter needs no lock); `value`
// handlers run on the pool in parallel (Execution::parallel). Every handler sends through one
// dcp::OutputHandler, whose own thread owns the node's OutputSender. A dcp::NodeRuntime owns the
// output handler, the pool and the router and takes them apart in the one safe order.
// What blocks: run_my_node() until the node's stream ends (Stop, all inputs closed), then until the
// queued work is done and every result is sent.
// Errors: a handler that throws (a `value` that is not a number) is delivered to Options::on_error
// (source "event router", message "input 'value' handler threw: ..."), and the node goes on. Unset,
// it is reported with dcp::report_error: a line in the node's log, and `dcp run` says the node lost
// work and exits non-zero. A result the runner refuses is reported by the OutputHandler the same way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include <dcp/core/error_report.hpp>
#include <dcp/node/node.hpp>

namespace my_node {

struct Options {
  /// Worker threads of the pool (>= 1).
  std::size_t workers = 2;
  /// Called with (source, message) on the thread that ran a handler which threw; empty:
  /// dcp::report_error (the node's log and the run's summary).
  dcp::ErrorCallback on_error;
};

/// The work: how many Collatz steps take `n` to 1 (0 for 0 and 1). Pure; any thread.
[[nodiscard]] std::uint64_t collatz_steps(std::uint64_t n) noexcept;

/// A `value` payload as a number: decimal digits only. Throws std::invalid_argument naming the text.
[[nodiscard]] std::uint64_t parse_value(std::span<const std::uint8_t> bytes);

/// Runs the node until its stream ends (see the header comment).
void run_my_node(dcp::Node node, Options options = {});

}  // namespace my_node
