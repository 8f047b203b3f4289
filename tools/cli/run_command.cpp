// `dcp run <dataflow.yml> [--stop-after DURATION] [--grace DURATION] [--hello-timeout DURATION]
// [--start-timeout DURATION] [--no-build]` — runs a dataflow locally.
//
// Loads and validates the dataflow; refuses what Dora accepts but dcp run cannot do yet
// (Dataflow::run_limitations, e.g. "'restart_policy' is not supported by dcp run yet", each with
// file:line:col) before building or starting anything; runs the nodes' `build` commands as
// `dcp build` does (unless --no-build; `dora run` builds first too); then checks that the node
// executables exist, as `dcp check` does, and hands it to the local runner
// (tools/runner/runner.hpp): every node starts as a child process, outputs are routed to the
// inputs that read them, timers tick. Node output is shown line by line, prefixed
// with the node id: `[camera] ...` on stdout for the node's stdout, `[camera!] ...` on stderr for
// its stderr. The runner's own messages (`[dcp] ...`) and the final summary table go to stderr.
//
// Ctrl-C (SIGINT), SIGTERM or SIGHUP — or --stop-after elapsing — sends Stop to every node; nodes
// still running after the grace period (--grace, default 5s) are killed. A second Ctrl-C kills at
// once. The command returns when every node has ended. A node that is still alive but has not
// connected --start-timeout (default 60s) after its start is named, killed, and the others get Stop.
//
// Exit status (also in `dcp run --help`):
//   0  every node exited with code 0 and none reported errors;
//   1  a node failed (non-zero exit, signal, killed after the grace period, did not connect within
//      --start-timeout, could not start, broke the protocol), or the dataflow is invalid, or a build
//      command failed, or the runner could not start;
//   2  usage error (e.g. a malformed duration);
//   3  no node failed, but a node reported errors that lost work (dcp::report_error(): a posted
//      task that threw, ...; its `dcp:` lines are in its stderr, the summary names it);
//   4  no node failed and none reported errors, but nodes left processes running after they
//      ended, which the runner had to kill (the summary names each one).
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <iostream>
#include <ostream>
#include <stdexcept>
#include <string>

#include "command.hpp"
#include "dataflow/loader.hpp"
#include "runner/duration.hpp"
#include "runner/runner.hpp"

namespace dcp::cli {

namespace {
/// A node failed, or the runner could not run the dataflow.
constexpr int kExitDataflowFailed = 1;
/// Every node exited with code 0, but some reported errors (work was lost).
constexpr int kExitErrorsReported = 3;
/// Every node exited with code 0 and none reported errors, but processes they started were still
/// running after they ended and had to be killed.
constexpr int kExitLeftoverProcesses = 4;
}  // namespace

Subcommand add_run_command(CLI::App& parent) {
  struct Options {
    std::string file;
    std::string stop_after;
    std::string grace;
    std::string hello_timeout;
    std::string start_timeout;
    bool no_build = false;
    bool no_logs = false;
    std::optional<std::size_t> max_payload_fds;
  };
  auto options = std::make_shared<Options>();
  CLI::App* app = parent.add_subcommand(
      "run", "Run a dataflow locally: start every node as a process and route their messages");
  app->footer(
      "Exit status:\n"
      "  0  every node exited with code 0 and none reported errors\n"
      "  1  a node failed (non-zero exit, signal, killed, did not connect within --start-timeout,\n"
      "     could not start, protocol error),\n"
      "     the dataflow is invalid, a build command failed, or the runner could not start\n"
      "  2  usage error\n"
      "  3  no node failed, but a node reported errors that lost work (see its 'dcp:' lines)\n"
      "  4  no node failed or reported errors, but nodes left processes running that were killed");
  app->add_option("dataflow", options->file, "The dataflow YAML file")->required();
  app->add_option("--stop-after", options->stop_after,
                  "Stop the dataflow after DURATION, as Ctrl-C would (e.g. 10s, 500ms, 1.5s, 2m)")
      ->type_name("DURATION");
  app->add_option("--grace", options->grace,
                  "After Stop, how long nodes have to exit before they are killed (default " +
                      dcp::runner::format_duration(dcp::runner::kDefaultGrace) + ")")
      ->type_name("DURATION");
  app->add_option("--hello-timeout", options->hello_timeout,
                  "How long a connection to the runner has to say Hello before it is closed (default " +
                      dcp::runner::format_duration(dcp::runner::kDefaultHelloTimeout) + ")")
      ->type_name("DURATION");
  app->add_option("--start-timeout", options->start_timeout,
                  "How long a node has from its start to connect to the runner; a node still not connected "
                  "is killed and the others are stopped (default " +
                      dcp::runner::format_duration(dcp::runner::kDefaultStartTimeout) + ")")
      ->type_name("DURATION");
  app->add_option("--max-payload-fds", options->max_payload_fds,
                  "At most N shared-memory messages held by the runner at once (each holds a file descriptor); "
                  "at the limit the oldest queued for the readers are dropped, or the new one (default: the "
                  "descriptor limit less what the run needs)")
      ->type_name("N");
  app->add_flag("--no-build", options->no_build,
                "Do not run the nodes' `build` commands first (see `dcp build`)");
  app->add_flag("--no-logs", options->no_logs,
                "Do not write the nodes' output to out/<run id>/log_<node>.jsonl beside the dataflow");

  auto run = [options](std::ostream& out, std::ostream& err) {
    dcp::runner::RunOptions run_options;
    // The process's own stdout and stderr go to the runner as descriptors, so they are written
    // bounded and never blocking (terminal_output.hpp); other streams (in-process callers) directly.
    if (&out != &std::cout) run_options.out = &out;
    if (&err != &std::cerr) run_options.err = &err;
    run_options.write_logs = !options->no_logs;
    run_options.max_payload_descriptors = options->max_payload_fds;
    try {
      if (!options->stop_after.empty()) run_options.stop_after = dcp::runner::parse_duration(options->stop_after);
      if (!options->grace.empty()) run_options.grace = dcp::runner::parse_duration(options->grace);
      if (!options->hello_timeout.empty()) {
        run_options.hello_timeout = dcp::runner::parse_duration(options->hello_timeout);
      }
      if (!options->start_timeout.empty()) {
        run_options.start_timeout = dcp::runner::parse_duration(options->start_timeout);
        if (run_options.start_timeout.count() == 0) {
          throw std::invalid_argument("--start-timeout must be longer than 0s (nodes need time to connect)");
        }
      }
    } catch (const std::invalid_argument& e) {
      err << "dcp run: " << e.what() << '\n';
      return kExitUsage;
    }

    dcp::dataflow::Dataflow dataflow;
    try {
      // First without the executable check: the executables may be what the build makes.
      dcp::dataflow::LoadOptions unchecked;
      unchecked.check_executables = false;
      std::optional<dcp::dataflow::Dataflow> unbuilt;
      try {
        unbuilt = dcp::dataflow::load_dataflow(options->file, unchecked);
      } catch (const dcp::dataflow::DataflowError&) {
        // Invalid anyway: the full load below reports every problem, as `dcp check` does.
      }
      if (unbuilt && !unbuilt->run_limitations.empty()) {
        print_dataflow_error(err, "dcp run",
                             dcp::dataflow::DataflowError(unbuilt->name, unbuilt->run_limitations));
        return kExitInvalidDataflow;
      }
      if (unbuilt && !options->no_build) {
        if (const int code = build_dataflow(*unbuilt, "dcp run", out, err); code != kExitOk) {
          return code;
        }
      }
      dataflow = dcp::dataflow::load_dataflow(options->file);
    } catch (const dcp::dataflow::DataflowError& e) {
      print_dataflow_error(err, "dcp run", e);
      return kExitInvalidDataflow;
    }

    try {
      out.flush();  // what the build printed comes first: the runner writes the descriptors itself
      err.flush();
      const dcp::runner::RunReport report = dcp::runner::run_dataflow(dataflow, run_options);
      err << dcp::runner::format_summary(report);
      err.flush();
      if (report.failed_count() > 0) return kExitDataflowFailed;
      if (report.reported_errors_count() > 0) return kExitErrorsReported;
      return report.leftover_count() > 0 ? kExitLeftoverProcesses : kExitOk;
    } catch (const std::exception& e) {
      err << "dcp run: cannot run the dataflow: " << e.what() << '\n';
      return kExitDataflowFailed;
    }
  };
  return Subcommand{app, run};
}

}  // namespace dcp::cli
