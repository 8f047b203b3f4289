// dcp_robot_processor's main(): parses the command line and runs the node (processor.hpp;
// processor_node.cpp says what the node does). Exit status: 0 when the node ended cleanly, 1 when
// an output failed, the map job did not stop in time or an exception escaped, 2 for a bad option.
#include <cstdio>
#include <exception>

#include "node_util.hpp"
#include "processor.hpp"

int main(int argc, char** argv) {
  robot::ProcessorSettings settings;
  try {
    bool help = false;
    settings = robot::parse_processor_settings(argc, argv, help);
    if (help) return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s\n", error.what());
    return 2;
  }
  return robot::run_node("processor", [&] { return robot::run_processor(settings).exit_status; });
}
