// squares.hpp — the logic of the template node, apart from main() so that a unit test can run it
// under dcp::testing::NodeHarness exactly as `dcp run` / `dora run` run the real process.
//
// The node: on every `tick` input it counts the tick (n = 1, 2, ...) and computes, on a worker
// pool, the sum of the squares 1^2 + ... + (n * 1000)^2 — the stand-in for real work (a filter, a
// planner) that must not stall the event loop. The result goes out on `result` as text,
// "tick <n>: <sum>", through the OutputHandler: the one thread that owns the node's output sender.
//
// Replace compute() and the handler with your own work; keep the shape:
//   event loop (router.run) -> pool (heavy work) -> OutputHandler (the only sender).
#pragma once

#include <dcp/core/worker_pool.hpp>
#include <dcp/node/node.hpp>
#include <dcp/patterns/event_router.hpp>
#include <dcp/patterns/output_handler.hpp>

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>

namespace squares {

/// The heavy work: 1^2 + 2^2 + ... + limit^2 (wraps modulo 2^64, like any unsigned sum).
inline std::uint64_t compute(std::uint64_t limit) {
  std::uint64_t sum = 0;
  for (std::uint64_t i = 1; i <= limit; ++i) sum += i * i;
  return sum;
}

struct Summary {
  std::uint64_t ticks = 0;    ///< tick inputs received
  std::uint64_t results = 0;  ///< results handed to the output handler
};

/// Runs the node until Stop (or until all its inputs are closed); returns what it did.
inline Summary run(dcp::Node& node, unsigned threads = 2) {
  Summary summary;
  std::uint64_t tick_count = 0;  // touched on the event loop only
  std::atomic<std::uint64_t> results{0};

  dcp::OutputHandler outputs(std::move(node.outputs));         // owns the sender from here on
  dcp::WorkerPool pool(dcp::WorkerPool::Options{.threads = threads, .name = "squares"});
  dcp::EventRouter router(pool);

  router.on_input(
      "tick",
      [&](const dcp::InputEvent&, const dcp::InputContext&) {  // on the loop: cheap bookkeeping
        const std::uint64_t n = ++tick_count;
        pool.post([&outputs, &results, n] {                     // on a worker: the heavy part
          const std::uint64_t sum = compute(n * 1000);
          outputs.send("result", "tick " + std::to_string(n) + ": " + std::to_string(sum));
          results.fetch_add(1, std::memory_order_relaxed);
        });
      },
      {.execution = dcp::Execution::on_loop});

  router.run(node.events);                         // until Stop / all inputs closed
  pool.shutdown(dcp::ShutdownMode::drain);         // finish the work already started
  summary.ticks = tick_count;
  summary.results = results.load(std::memory_order_relaxed);
  return summary;                                  // `outputs` drains and joins its thread here
}

}  // namespace squares
