// tools/cli/command.hpp — how the `dcp` CLI's subcommands plug into main.cpp.
//
// Each subcommand lives in its own file (check_command.cpp, build_command.cpp, graph_command.cpp,
// run_command.cpp)
// and exposes one add_*_command function. It registers a CLI11 subcommand with its options on the
// parent app and returns the action to run when the user picked that subcommand. main.cpp parses
// the command line, finds the chosen subcommand and calls its action.
//
// Exit codes shared by all subcommands:
//   0  success;
//   1  the dataflow is invalid (every problem of its DataflowError is printed to stderr, one
//      "dcp <command>: file:line:column: field: reason" line each; see print_dataflow_error);
//   2  usage error or the feature is not available (message on stderr).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>

#include "dataflow/dataflow.hpp"
#include "dataflow/error.hpp"

namespace dcp::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitInvalidDataflow = 1;
inline constexpr int kExitUsage = 2;

/// A registered subcommand: the CLI11 subcommand (owned by the parent app) and its action, which
/// writes results to `out`, diagnostics to `err`, and returns the process exit code.
struct Subcommand {
  CLI::App* app = nullptr;
  std::function<int(std::ostream& out, std::ostream& err)> run;
};

/// Writes each of error.messages() on its own line, prefixed with "<command>: " (e.g. "dcp check").
inline void print_dataflow_error(std::ostream& err, std::string_view command,
                                 const dcp::dataflow::DataflowError& error) {
  for (const std::string& line : error.messages()) err << command << ": " << line << '\n';
}

Subcommand add_check_command(CLI::App& parent);
Subcommand add_build_command(CLI::App& parent);

/// Runs the build commands of `dataflow` (runner/build.hpp); on failure prints
/// "<command>: node 'x': build command `...` failed: exit code N" to `err`. Returns kExitOk or
/// kExitInvalidDataflow.
int build_dataflow(const dcp::dataflow::Dataflow& dataflow, std::string_view command,
                   std::ostream& out, std::ostream& err);
Subcommand add_graph_command(CLI::App& parent);
Subcommand add_run_command(CLI::App& parent);

}  // namespace dcp::cli
