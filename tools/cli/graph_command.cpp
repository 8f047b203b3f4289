// `dcp graph <dataflow.yml>` — prints the dataflow as a Mermaid flowchart on stdout.
//
// The dataflow is validated like `dcp check` does, except that node executables are not required
// to exist (drawing does not need them built; --exec-check turns the check on). An invalid
// dataflow prints its problems to stderr as `dcp check` does; exit 1.
#include <memory>
#include <ostream>
#include <string>

#include "command.hpp"
#include "dataflow/loader.hpp"
#include "dataflow/mermaid.hpp"

namespace dcp::cli {

Subcommand add_graph_command(CLI::App& parent) {
  struct Options {
    std::string file;
    bool exec_check = false;
  };
  auto options = std::make_shared<Options>();
  CLI::App* app = parent.add_subcommand(
      "graph", "Print a dataflow as a Mermaid flowchart (paste it into Markdown or mermaid.live)");
  app->add_option("dataflow", options->file, "The dataflow YAML file")->required();
  app->add_flag("--exec-check", options->exec_check,
                "Also check that the node executables exist, as `dcp check` does");

  auto run = [options](std::ostream& out, std::ostream& err) {
    try {
      dcp::dataflow::LoadOptions load_options;
      load_options.check_executables = options->exec_check;
      out << dcp::dataflow::to_mermaid(dcp::dataflow::load_dataflow(options->file, load_options));
      return kExitOk;
    } catch (const dcp::dataflow::DataflowError& e) {
      print_dataflow_error(err, "dcp graph", e);
      return kExitInvalidDataflow;
    }
  };
  return Subcommand{app, run};
}

}  // namespace dcp::cli
