// my_node.cpp — see my_node.hpp.
#include "my_node.hpp"

#include <charconv>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include <dcp/patterns/node_runtime.hpp>

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
  dcp::NodeRuntime runtime(std::move(node), {.outputs = {.on_error = options.on_error},
                                             .pool = {.threads = options.workers, .name = "my_node-work"},
                                             .router = {.on_error = options.on_error}});
  auto& ticks = runtime.make<std::uint64_t>(0);  // only the serial `tick` handler touches it
  auto& outputs = runtime.outputs();
  runtime.router().on_input(
      "tick",
      [&](const dcp::InputEvent&, const dcp::InputContext&) { outputs.send("result", describe("tick", ++ticks)); },
      {.execution = dcp::Execution::serial});
  runtime.router().on_input(
      "value",
      [&](const dcp::InputEvent& input, const dcp::InputContext&) {
        outputs.send("result", describe("value", parse_value(input.data.bytes())));
      },
      {.execution = dcp::Execution::parallel});
  runtime.run();  // then the runtime's destructor: queued work done, every result sent
}

}  // namespace my_node
