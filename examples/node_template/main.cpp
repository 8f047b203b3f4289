// The template node's process: `dcp run dataflow.yml` (or `dora run dataflow.yml`) starts it.
#include <dcp/node/node.hpp>

#include <cstdio>
#include <exception>

#include "squares.hpp"

int main() {
  try {
    dcp::Node node = dcp::init_node();  // the backend comes from the environment the runner sets
    const squares::Summary summary = squares::run(node);
    std::printf("squares: %llu ticks, sent %llu results\n", static_cast<unsigned long long>(summary.ticks),
                static_cast<unsigned long long>(summary.results));
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "squares: %s\n", error.what());
    return 1;
  }
}
