// A node + patterns program built with `pkg-config --cflags --libs dcp-patterns` only (see
// ../run_consumer_test.cmake, MODE=pkg_config): the template node's logic (OutputHandler,
// EventRouter, WorkerPool) under dcp::testing::NodeHarness, so that it links dcp_node and dcp_ipc
// and runs without a runner. Exits 0 when the node answered the value it was given.
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <thread>

#include <dcp/core/error_report.hpp>
#include <dcp/node/node_harness.hpp>

#include "my_node.hpp"

int main() {
  try {
    dcp::testing::NodeHarness harness("my_node", {"tick", "value"}, {"result"});
    std::exception_ptr node_error;
    std::thread node([&node_error, node = harness.node()]() mutable {
      try {
        my_node::run_my_node(std::move(node));
      } catch (...) {
        node_error = std::current_exception();
      }
    });
    harness.push_input("value", "27");
    harness.push_stop();
    node.join();
    if (node_error) std::rethrow_exception(node_error);
    const auto outputs = harness.outputs();
    if (outputs.size() != 1 || outputs[0].id != "result" || outputs[0].text() != "value 27: 111 steps") {
      std::fprintf(stderr, "patterns_consumer: expected one result 'value 27: 111 steps', got %zu outputs\n",
                   outputs.size());
      return 1;
    }
    std::printf("patterns_consumer: %s\n", std::string(outputs[0].text()).c_str());
    return 0;
  } catch (...) {
    std::fprintf(stderr, "patterns_consumer: %s\n", dcp::describe_exception(std::current_exception()).c_str());
    return 1;
  }
}
