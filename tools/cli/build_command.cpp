// `dcp build <dataflow.yml>` — runs every node's `build` commands (as `dora build` does).
//
// Validates the dataflow like `dcp check --no-exec-check` (the executables are what the build
// makes), then runs the commands with dcp::runner::run_builds(): each line of a node's `build` in
// the dataflow's folder as one program with its arguments (no shell, as Dora), its output prefixed with the node id, stopping at the
// first failure, which names the node, the command and its exit code. Exit 0 when every command
// succeeded (or there are none), 1 when the dataflow is invalid or a command failed.
#include <exception>
#include <memory>
#include <ostream>
#include <string>

#include "command.hpp"
#include "dataflow/loader.hpp"
#include "runner/build.hpp"

namespace dcp::cli {

int build_dataflow(const dcp::dataflow::Dataflow& dataflow, std::string_view command,
                   std::ostream& out, std::ostream& err) {
  try {
    const dcp::runner::BuildResult result = dcp::runner::run_builds(dataflow, out, err);
    if (!result.ok) {
      err << command << ": " << result.failure << '\n';
      return kExitInvalidDataflow;
    }
    return kExitOk;
  } catch (const std::exception& e) {
    err << command << ": cannot run the build commands: " << e.what() << '\n';
    return kExitInvalidDataflow;
  }
}

Subcommand add_build_command(CLI::App& parent) {
  struct Options {
    std::string file;
  };
  auto options = std::make_shared<Options>();
  CLI::App* app = parent.add_subcommand(
      "build", "Run the `build` commands of a dataflow's nodes in the dataflow's folder");
  app->add_option("dataflow", options->file, "The dataflow YAML file")->required();

  auto run = [options](std::ostream& out, std::ostream& err) {
    dcp::dataflow::Dataflow dataflow;
    try {
      dcp::dataflow::LoadOptions load_options;
      load_options.check_executables = false;
      dataflow = dcp::dataflow::load_dataflow(options->file, load_options);
    } catch (const dcp::dataflow::DataflowError& e) {
      print_dataflow_error(err, "dcp build", e);
      return kExitInvalidDataflow;
    }
    return build_dataflow(dataflow, "dcp build", out, err);
  };
  return Subcommand{app, run};
}

}  // namespace dcp::cli
