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
// nodes, and a node with `operators`/`operator`/`custom`/`ros2`/`module`/`hub` is not also told it
// lacks a `path`.
// Checks, in this order (all problems are then sorted by position), following Dora 1.0's schema:
//   1. the file: readable, at most kMaxFileSize bytes, valid YAML, exactly one document;
//   2. the top level: a map with a `nodes` list (non-empty, at most kMaxNodes maps), an optional
//      `env`, and Dora's other top-level keys;
//   3. each node: `id` and `path` present; known fields only; Dora's ids (dataflow.hpp), unique;
//      `args` splits (quotes balanced); `env` a map of scalars whose `$VAR`s are set (expand.hpp);
//      `build` a string; at most kMaxInputsPerNode inputs and kMaxOutputsPerNode outputs, no
//      duplicates; each input `node/output`, a timer `dora/timer/<secs|millis|micros|nanos>/N`
//      (N >= 1) or `dora/timer/hz/F` (F > 0), `dora/logs[/<level>[/<node>]]`, or
//      `{source, queue_size (0..kMaxQueueSize), input_timeout, queue_policy}`; the supervision and
//      logging fields (`restart_policy`, `max_restarts`, ..., `min_log_level`) of Dora's types;
//   4. references: each input names an existing node and an output that node declares;
//   5. executables (unless LoadOptions::check_executables is false): each node's path, with
//      Dora's variables expanded and resolved against the file's folder (a bare name not found
//      there: against $PATH), is an existing regular file, executable unless it is a `.py`.
//
// Three kinds of Dora feature outside what `dcp run` does:
//   - accepted with Dora's types checked, and listed in Dataflow::run_limitations ("... is not
//     supported by dcp run yet"): `input_timeout`, `queue_policy: backpressure`, `dora/logs`
//     inputs, timers faster than kMinRunnableTimerPeriod, the supervision, logging, deployment
//     and typing fields of a node (`restart_policy` but `never`, ..., `cpu_affinity`, `deploy`,
//     `output_types`, ...), the top-level keys other than `nodes` and `env`, Python nodes (a
//     `.py` path or a `pip install` build), dynamic nodes (`path: dynamic`);
//   - refused with "<field> is not supported by the dcp local runner (use Dora for it)": the other
//     kinds of node (`operators`, `operator`, `ros2`, `module`, `hub`), `shared_memory_pool_size`,
//     the path `shell` and URLs; git sources (`git`, `branch`, `tag`, `rev`) with
//     "git sources are not supported by dcp (no network)"; `params` (Dora: module nodes only);
//   - keys Dora itself rejects (`custom`, `_unstable_deploy`, `_unstable_debug`, `communication`,
//     `startup_timeout`) give "'<field>' is not a Dora field"; any other key "unknown field".
//
// Robustness: any input text, however malformed, ends in a Dataflow or a DataflowError — never a
// crash, hang or unbounded allocation (file size, counts and alias expansion are all bounded; see
// the limits in dataflow.hpp; the text of every problem found is charged to the same budget).
// parse_dataflow touches the filesystem only for the executable check, and reads the process
// environment for `$VAR` expansion.
//
// Thread safety: no shared state; call from any number of threads at once.
// Blocking: load_dataflow reads one file; the executable check stats one file per node (and the
// folders of $PATH for a bare name).
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
