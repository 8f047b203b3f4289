// `dcp check <dataflow.yml>` (also `dcp validate`, Dora's name for it: `dora check` is a health
// check of Dora's daemon) — validates a dataflow and explains what dcp understood.
//
// Prints dcp::dataflow::describe() (nodes, inputs with their sources and queue sizes, timers with
// their rates, outputs with their readers, sources, warnings) and then "ok"; exit 0. An invalid
// dataflow prints every problem the loader found, sorted by position, one
// "dcp check: file:line:col: field: reason" line each (at most kMaxReportedDiagnostics, then
// "... and N more errors"), to stderr; exit 1.
// Executables are checked unless --no-exec-check is given (useful before the nodes are built).
#include <memory>
#include <ostream>
#include <string>

#include "command.hpp"
#include "dataflow/describe.hpp"
#include "dataflow/loader.hpp"

namespace dcp::cli {

Subcommand add_check_command(CLI::App& parent) {
  struct Options {
    std::string file;
    bool no_exec_check = false;
  };
  auto options = std::make_shared<Options>();
  CLI::App* app = parent.add_subcommand(
      "check", "Validate a dataflow YAML file and explain its nodes, inputs, outputs and timers");
  app->alias("validate");
  app->add_option("dataflow", options->file, "The dataflow YAML file")->required();
  app->add_flag("--no-exec-check", options->no_exec_check,
                "Do not check that the node executables exist (e.g. before building them)");

  auto run = [options](std::ostream& out, std::ostream& err) {
    try {
      dcp::dataflow::LoadOptions load_options;
      load_options.check_executables = !options->no_exec_check;
      const auto dataflow = dcp::dataflow::load_dataflow(options->file, load_options);
      out << dcp::dataflow::describe(dataflow) << "ok\n";
      return kExitOk;
    } catch (const dcp::dataflow::DataflowError& e) {
      print_dataflow_error(err, "dcp check", e);
      return kExitInvalidDataflow;
    }
  };
  return Subcommand{app, run};
}

}  // namespace dcp::cli
