// main.cpp — the template node's process: started by `dcp run dataflow.yml` (or by Dora, when dcp
// was built with its Dora backend). The logic is in my_node.cpp.
#include <cstdio>
#include <exception>

#include <dcp/core/error_report.hpp>
#include <dcp/node/node.hpp>

#include "my_node.hpp"

int main() {
  try {
    my_node::run_my_node(dcp::init_node());  // throws dcp::NodeError when not started by a runner
    return 0;
  } catch (...) {
    std::fprintf(stderr, "my_node: %s\n", dcp::describe_exception(std::current_exception()).c_str());
    return 1;
  }
}
