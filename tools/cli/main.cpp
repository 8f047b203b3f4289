// dcp — the Dora Concurrent Patterns command line.
//
//   dcp check <dataflow.yml> [--no-exec-check]   validate and explain a dataflow (alias: validate)
//   dcp build <dataflow.yml>                     run the nodes' `build` commands
//   dcp graph <dataflow.yml> [--exec-check]      print it as a Mermaid flowchart
//   dcp run <dataflow.yml> [--stop-after D] [--grace D] [--no-build]
//                                                build, then run it locally (docs/runner.md)
//
// Exit codes: 0 ok, 1 invalid dataflow (for run also: a node failed), 2 usage error / not available
// (see command.hpp).
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <vector>

#include "command.hpp"

#ifndef DCP_VERSION
#define DCP_VERSION "unknown"
#endif

int main(int argc, char** argv) {
  CLI::App app{"dcp — Dora Concurrent Patterns: check, draw and run Dora dataflows", "dcp"};
  app.set_version_flag("--version", "dcp " DCP_VERSION);
  app.require_subcommand(1);

  const std::vector<dcp::cli::Subcommand> subcommands = {
      dcp::cli::add_check_command(app),
      dcp::cli::add_build_command(app),
      dcp::cli::add_graph_command(app),
      dcp::cli::add_run_command(app),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version arrive here as "errors" with exit code 0.
    const int code = app.exit(e);
    return code == 0 ? dcp::cli::kExitOk : dcp::cli::kExitUsage;
  }

  try {
    for (const auto& subcommand : subcommands) {
      if (subcommand.app->parsed()) return subcommand.run(std::cout, std::cerr);
    }
  } catch (const std::exception& e) {
    std::cerr << "dcp: internal error: " << e.what() << '\n';
    return dcp::cli::kExitUsage;
  }
  return dcp::cli::kExitUsage;  // unreachable: require_subcommand(1)
}
