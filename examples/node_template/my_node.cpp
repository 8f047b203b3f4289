// my_node.cpp — see my_node.hpp.
#include "my_node.hpp"

#include <charconv>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include <dcp/core/error_report.hpp>
#include <dcp/core/worker_pool.hpp>
#include <dcp/patterns/event_router.hpp>
#include <dcp/patterns/output_handler.hpp>

namespace my_node {

std::uint64_t collatz_steps(std::uint64_t n) noexcept {
  std::uint64_t steps = 0;
  while (n > 1) {
    n = (n % 2 == 0) ? n / 2 : 3 * n + 1;  // wraps only for n near 2^64: still ends
    ++steps;
  }
  return steps;
}

std::uint64_t parse_value(std::span<const std::uint8_t> bytes) {
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    throw std::invalid_argument("'" + std::string(text) + "' is not a decimal number");
  }
  return value;
}

namespace {
std::string describe(std::string_view input, std::uint64_t n) {
  return std::string(input) + " " + std::to_string(n) + ": " + std::to_string(collatz_steps(n)) + " steps";
}
}  // namespace

void run_my_node(dcp::Node node, Options options) {
  // Declared in this order so that they are destroyed in the reverse one: the router waits for its
  // handlers, then the pool stops, then the output handler sends what is still queued.
  dcp::OutputHandler outputs(std::move(node.outputs));
  dcp::WorkerPool pool({.threads = options.workers, .name = "my_node-work"});
  dcp::EventRouter router(pool, {.on_error = options.on_error});

  std::uint64_t ticks = 0;  // only the serial `tick` handler touches it
  router.on_input(
      "tick",
      [&](const dcp::InputEvent&, const dcp::InputContext&) { outputs.send("result", describe("tick", ++ticks)); },
      {.execution = dcp::Execution::serial});
  router.on_input(
      "value",
      [&](const dcp::InputEvent& input, const dcp::InputContext&) {
        outputs.send("result", describe("value", parse_value(input.data.bytes())));
      },
      {.execution = dcp::Execution::parallel});

  router.run(node.events);
}

}  // namespace my_node
