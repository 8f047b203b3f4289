// tools/runner/build.hpp — runs the `build` commands of a dataflow's nodes (`dcp build`, and
// `dcp run` before it starts anything, as `dora run` does).
//
// What it is for: a node's `build` holds commands, one per line. run_builds() runs them node by
// node in file order, line by line, in the dataflow's folder and with the node's environment (its
// `env` over dcp's), as Dora does: each line is one program and its arguments, split as
// command_line.hpp says, without a shell (a line that needs one fails here as under Dora, with a
// hint naming the shell syntax it held; `sh -c "a && b"` is the way to write one).
// Every line the command writes is shown prefixed with the node id: `[camera] ...` on `out` for
// its stdout, `[camera!] ...` on `err` for its stderr; dcp's own lines are `[dcp] ...` on `err`.
// The first command that fails (non-zero exit, signal, cannot start) stops the builds: later lines
// and nodes are not run, and the result names the node, the command and how it ended.
//
// Thread safety: call from one thread at a time (it writes to the given streams).
// Blocking: until every build command has ended (or one failed). A command that never ends blocks
// forever. The commands run in dcp's process group: Ctrl-C in the terminal reaches the running
// one as well as dcp, and both end (as with `dora build`).
#pragma once

#include <ostream>
#include <string>

#include "dataflow/dataflow.hpp"

namespace dcp::runner {

struct BuildResult {
  std::size_t commands_run = 0;  ///< command lines started (the failed one included)
  bool ok = true;                ///< every command exited with code 0
  /// When !ok: "node 'camera': build command `make` failed: exit code 2" (no trailing newline);
  /// "... could not start: `mak` is not a program in $PATH" when there is no such program.
  std::string failure;
};

/// Runs every node's build commands, stopping at the first failure (see the header comment).
/// Never throws for a failing command; throws std::system_error if a pipe cannot be read.
[[nodiscard]] BuildResult run_builds(const dataflow::Dataflow& dataflow, std::ostream& out,
                                     std::ostream& err);

}  // namespace dcp::runner
