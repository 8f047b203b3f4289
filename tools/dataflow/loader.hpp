// dataflow/loader.hpp — reads a Dora dataflow YAML file into a validated
// dcp::dataflow::Dataflow.
//
// What it is for: `dcp check`, `dcp graph` and the local runner all start here. Two entry points:
//
//   auto flow = dcp::dataflow::load_dataflow("robot.yml");            // reads the file
//   auto flow = dcp::dataflow::parse_dataflow(text, "robot.yml", dir); // text already in memory
//
// An invalid file throws one DataflowError holding every independent problem found, each naming
// file:line:column, the field path and the reason, sorted by position, e.g.
//   robot.yml:12:15: nodes[2].inputs.estop: unknown node 'safty' (known nodes: sensors, safety)
//   robot.yml:14:11: nodes[3].path: executable 'bin/proc' not found (looked for ...)
// At most kMaxReportedDiagnostics (100) are kept, the first by position; the rest are counted
// (DataflowError::omitted(), and a last line "... and N more errors" in what()).
// A problem that leaves nothing to check stops the walk: an unreadable or oversized file, a YAML
// syntax error, more than one document, a top level that is not a map, a `nodes` that is not a
// non-empty list of at most kMaxNodes, and the text budget (kMaxExpandedText) spent. Otherwise a
// problem skips only the piece it is in (one map member, list element, reference or executable),
// and the checks go on; so that one mistake is not reported twice, a reference into a node whose
// `outputs` has an invalid entry is not checked, nodes without a valid id are not listed as known
// nodes, and a node with `operators`/`operator`/`custom` is not also told it lacks a `path`.
// Checks, in this order (all problems are then sorted by position):
//   1. the file: readable, at most kMaxFileSize bytes, valid YAML, exactly one document;
//   2. the top level: a map whose only key is `nodes`, a non-empty list of at most kMaxNodes maps;
//   3. each node: `id` and `path` present; known fields only; valid, unique ids; `args` splits
//      (quotes balanced); `env` a map of scalars; at most kMaxInputsPerNode inputs and
//      kMaxOutputsPerNode outputs, no duplicates; each input `node/output`, a timer
//      `dora/timer/millis/N` | `dora/timer/secs/N` (N >= 1), or `{source: ..., queue_size: N}`
//      with 1 <= N <= kMaxQueueSize;
//   4. references: each input names an existing node and an output that node declares;
//   5. executables (unless LoadOptions::check_executables is false): each node's path, resolved
//      against the file's folder, is an existing executable regular file.
//
// Dora features outside dcp's subset are named, not ignored: the node fields `operators`,
// `operator`, `custom`, `build`, `git`, `branch`, `tag`, `rev`, `deploy`, `_unstable_deploy`,
// `restart_policy`, `send_stdout_as` (and Dora's other optional node fields), every top-level key
// other than `nodes` (`communication`, `deploy`, `env`, ...), and the special paths `dynamic` and
// `shell` and URLs give "<field> is not supported by the dcp local runner (use Dora for it)".
// Fields Dora does not know at all give "unknown field".
//
// Robustness: any input text, however malformed, ends in a Dataflow or a DataflowError — never a
// crash, hang or unbounded allocation (file size, counts and alias expansion are all bounded; see
// the limits in dataflow.hpp; the text of every problem found is charged to the same budget). parse_dataflow touches the filesystem only for the executable check.
//
// Thread safety: no shared state; call from any number of threads at once.
// Blocking: load_dataflow reads one file; the executable check stats one file per node.
#pragma once

#include <filesystem>
#include <string_view>

#include "dataflow/dataflow.hpp"
#include "dataflow/error.hpp"

namespace dcp::dataflow {

struct LoadOptions {
  /// Check that every node's executable exists and may be executed. `dcp graph` turns it off:
  /// drawing a dataflow does not need its nodes to be built.
  bool check_executables = true;
};

/// Reads and validates the dataflow file at `file`. The path as given becomes the display name in
/// errors; node paths are resolved against the file's folder. Throws DataflowError.
[[nodiscard]] Dataflow load_dataflow(const std::filesystem::path& file,
                                     const LoadOptions& options = {});

/// Validates dataflow YAML `text`. `display_name` names the text in errors (and becomes
/// Dataflow::name); node paths are resolved against `base_dir` (made absolute against the current
/// directory). Throws DataflowError.
[[nodiscard]] Dataflow parse_dataflow(std::string_view text, std::string_view display_name,
                                      const std::filesystem::path& base_dir,
                                      const LoadOptions& options = {});

}  // namespace dcp::dataflow
