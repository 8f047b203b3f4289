// dataflow/dataflow.hpp — the validated model of a Dora dataflow, as dcp's local runner sees
// it.
//
// What it is for: the loader (dataflow/loader.hpp) turns a dataflow YAML file into a Dataflow;
// `dcp check` explains it (describe.hpp), `dcp graph` draws it (mermaid.hpp) and the runner starts
// its nodes and routes their outputs. A Dataflow that came out of the loader is consistent: node
// ids are unique, every input names a declared output of an existing node, a valid timer or Dora's
// logs, queue sizes and counts are within the limits below, and (unless the check was skipped)
// every executable exists.
//
//   nodes:
//     - id: sensors                       Node{id="sensors", path="bin/sensors", ...}
//       path: bin/sensors                 executable = <yaml folder>/bin/sensors, made absolute
//       args: --rate "100 Hz"             argv = {"--rate", "100 Hz"}
//       env: { RATE: 100 }                env = {"RATE": "100"} (with the top-level env under it)
//       inputs:
//         tick: dora/timer/millis/10      Input{id="tick", source=Timer{10 ms, millis, "10"}, queue 10}
//         estop:
//           source: safety/estop          Input{id="estop", source=NodeOutput{"safety", "estop"},
//           queue_size: 1                       queue_size=1}
//       outputs: [imu]                    Output{id="imu"}
//       build: cmake --build build        build = "cmake --build build" (run by `dcp build`)
//
// dcp models these node fields (plus `name` and `description`, kept as documentation); what Dora
// accepts but `dcp run` cannot do yet is listed in Dataflow::run_limitations, other Dora features
// are rejected by name (see loader.hpp).
//
// Thread safety: plain values. Concurrent reads of one Dataflow are safe; writes need the usual
// external synchronisation. Nothing here blocks.
#pragma once

#include <chrono>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "dataflow/error.hpp"

namespace dcp::dataflow {

// ---------------------------------------------------------------------------------------------
// Defaults and limits. The limits keep a hostile or broken file from making dcp allocate without
// bound; real dataflows are far below them. Each is checked by the loader with its own message.
// ---------------------------------------------------------------------------------------------

/// Queue size of an input that does not set `queue_size` — Dora's default (the daemon uses
/// `queue_size.unwrap_or(10)`). When an input's queue is full, the oldest message is dropped.
inline constexpr std::size_t kDefaultQueueSize = 10;
/// Largest accepted `queue_size`. Dora has no limit; dcp's runner allocates per-input buffers.
inline constexpr std::size_t kMaxQueueSize = 100'000;
/// How often the runner checks `input_timeout`s when the file sets no `health_check_interval` —
/// Dora's default (its daemon checks input deadlines on that interval, 5 s).
inline constexpr double kDefaultHealthCheckInterval = 5.0;
/// Shortest check interval `dcp run` uses: a smaller `health_check_interval` (valid for Dora) is
/// honoured as this, so a typo cannot turn the runner into a busy loop.
inline constexpr double kMinHealthCheckInterval = 0.001;
/// Longest `input_timeout` or `health_check_interval` `dcp run` can time (about 292 years in
/// nanoseconds): a longer timeout never fires; a longer interval is refused (Dora accepts values up
/// to about 1.8e19 s, which no run reaches).
inline constexpr double kMaxTimingSeconds = 9.2e9;
/// At most this many nodes in one dataflow.
inline constexpr std::size_t kMaxNodes = 1024;
/// At most this many inputs per node.
inline constexpr std::size_t kMaxInputsPerNode = 256;
/// At most this many outputs per node.
inline constexpr std::size_t kMaxOutputsPerNode = 256;
/// Largest dataflow file accepted, in bytes (4 MiB).
inline constexpr std::size_t kMaxFileSize = std::size_t{4} * 1024 * 1024;
/// Longest node, input or output id, in bytes.
inline constexpr std::size_t kMaxIdLength = 256;
/// Most text (ids, paths, args, env) the model may hold, in bytes, after YAML aliases are expanded.
/// A 4 MiB file can name one large anchor a thousand times; this bounds what that costs.
inline constexpr std::size_t kMaxExpandedText = std::size_t{16} * 1024 * 1024;

/// True if `id` is a valid node id, as Dora has them: 1..kMaxIdLength characters from
/// [A-Za-z0-9_.-], not starting with '.', and not "dora" (reserved for Dora's built-in inputs).
[[nodiscard]] bool is_valid_node_id(std::string_view id) noexcept;
/// True if `id` is a valid input or output (data) id, as Dora has them: 1..kMaxIdLength
/// characters from [A-Za-z0-9_./-], without an empty '/'-separated part ("a/", "/a", "a//b").
[[nodiscard]] bool is_valid_data_id(std::string_view id) noexcept;

// ---------------------------------------------------------------------------------------------
// Inputs.
// ---------------------------------------------------------------------------------------------

/// Shortest timer period `dcp run` honours: 100 µs (10 kHz). The loader accepts shorter timers,
/// as Dora does (`dcp check` passes them), and lists each as a run limitation (see
/// Dataflow::run_limitations): the runner's event loop cannot tick faster with any accuracy.
inline constexpr std::chrono::nanoseconds kMinRunnableTimerPeriod{100'000};

/// A timer input provided by Dora: `dora/timer/<unit>/<value>` with unit secs, millis, micros or
/// nanos and an integer value >= 1, or unit hz and a number > 0 (ticks per second).
struct Timer {
  enum class Unit { secs, millis, micros, nanos, hz };

  /// The period, computed once by the loader: > 0 and at most nanoseconds::max() (292 years).
  /// hz/F is rounded to the nearest nanosecond. Timers compare by period first.
  std::chrono::nanoseconds period{};
  Unit unit = Unit::millis;
  /// The value as written after the unit, canonical for integers ("7" for "007" or "+7").
  std::string value;

  /// Ticks per second, e.g. 100.0 for millis/10, 0.5 for secs/2.
  [[nodiscard]] double rate_hz() const noexcept;
  /// The canonical source text, e.g. "dora/timer/millis/10", "dora/timer/hz/0.5".
  [[nodiscard]] std::string spec() const;

  friend auto operator<=>(const Timer&, const Timer&) = default;
};

/// An output of another node, written `node/output` in the YAML.
struct NodeOutput {
  std::string node;
  std::string output;

  /// "node/output".
  [[nodiscard]] std::string spec() const;

  friend auto operator<=>(const NodeOutput&, const NodeOutput&) = default;
};

/// Dora's log input `dora/logs[/<level>[/<node>]]`: the log lines of every node (or of `node`),
/// at `level` or above. dcp run cannot deliver them yet (a run limitation).
struct DoraLogs {
  std::string level;  ///< stdout, error, warn, info, debug or trace, lower case; "" for all
  std::string node;   ///< "" for every node

  /// "dora/logs", "dora/logs/info", "dora/logs/info/camera".
  [[nodiscard]] std::string spec() const;

  friend auto operator<=>(const DoraLogs&, const DoraLogs&) = default;
};

/// What an input does when its queue is full: Dora's `queue_policy`.
enum class QueuePolicy {
  drop_oldest,   ///< the default: the oldest queued message is dropped
  backpressure,  ///< buffer up to backpressure_capacity(queue_size), then drop the oldest with an error
};

/// How many messages an input with `queue_policy: backpressure` holds before it drops: Dora's
/// max(10 x queue_size, 100), so at most 10 x kMaxQueueSize.
[[nodiscard]] constexpr std::size_t backpressure_capacity(std::size_t queue_size) noexcept {
  return queue_size * 10 > 100 ? queue_size * 10 : 100;
}

struct Input {
  std::string id;  ///< the input id the node sees in its events
  std::variant<NodeOutput, Timer, DoraLogs> source;
  /// 1..kMaxQueueSize; Dora's `queue_size: 0` means 1, as in Dora.
  std::size_t queue_size = kDefaultQueueSize;
  bool queue_size_is_default = true;           ///< no `queue_size` in the file
  /// Dora's `input_timeout` in seconds (>= 0), if set: once the input had a message, silence that
  /// long closes it (InputClosed) until data comes again (InputRecovered). Ignored on timer inputs,
  /// as in Dora.
  std::optional<double> input_timeout;
  QueuePolicy queue_policy = QueuePolicy::drop_oldest;
  SourceLocation location;
  /// Messages the input holds before dropping: queue_size, or backpressure_capacity(queue_size).
  [[nodiscard]] std::size_t capacity() const noexcept {
    return queue_policy == QueuePolicy::backpressure ? backpressure_capacity(queue_size) : queue_size;
  }                     ///< of the input's key in the file

  [[nodiscard]] const Timer* timer() const noexcept { return std::get_if<Timer>(&source); }
  [[nodiscard]] const NodeOutput* upstream() const noexcept {
    return std::get_if<NodeOutput>(&source);
  }
  [[nodiscard]] const DoraLogs* logs() const noexcept { return std::get_if<DoraLogs>(&source); }
  /// The source as written in canonical form: "node/output", "dora/timer/millis/10", "dora/logs".
  [[nodiscard]] std::string source_spec() const;
};

struct Output {
  std::string id;
  SourceLocation location;
};

// ---------------------------------------------------------------------------------------------
// Nodes and the dataflow.
// ---------------------------------------------------------------------------------------------

struct Node {
  std::string id;
  std::string name;                        ///< optional human-readable name ("" if absent)
  std::string description;                 ///< optional description ("" if absent)
  std::string path;                        ///< as written in the file
  /// `path` with Dora's variables expanded, resolved against the file's folder, absolute (or
  /// where $PATH has a bare name that the folder has not, when executables were checked).
  std::filesystem::path executable;
  std::string args;                        ///< as written ("" if absent)
  std::vector<std::string> argv;           ///< args split like a shell would (see args.hpp)
  std::map<std::string, std::string> env;  ///< extra environment variables
  /// Dora's `build`: commands, one per line (each run without a shell, as Dora runs them), that `dcp build` (and `dcp run` before
  /// starting anything) runs in the dataflow's folder; "" if absent.
  std::string build;
  SourceLocation build_location;           ///< of the `build` value (line 0 if absent)
  std::vector<Input> inputs;               ///< in file order
  std::vector<Output> outputs;             ///< in file order
  SourceLocation location;                 ///< of the node's map in the file

  [[nodiscard]] const Input* find_input(std::string_view input_id) const noexcept;
  [[nodiscard]] const Output* find_output(std::string_view output_id) const noexcept;
};

/// One reader of an output: input `input` of node `node`.
struct Subscriber {
  std::string node;
  std::string input;

  friend auto operator<=>(const Subscriber&, const Subscriber&) = default;
};

/// For every declared output ("node/output"), the inputs that read it, in node then input order.
/// Outputs nobody reads map to an empty vector.
using Routes = std::map<NodeOutput, std::vector<Subscriber>>;

struct Dataflow {
  std::string name;                ///< display name of the file (the path as given to the loader)
  std::filesystem::path base_dir;  ///< folder that relative node paths are resolved against
  std::vector<Node> nodes;         ///< in file order
  /// Dora's top-level `health_check_interval` in seconds (> 0), if set: how often `input_timeout`s
  /// are checked (kDefaultHealthCheckInterval when unset).
  std::optional<double> health_check_interval;
  /// What Dora accepts but `dcp run` cannot do yet, one entry per use, sorted by position, e.g.
  ///   {7:5, "nodes[1].restart_policy", "'restart_policy' is not supported by dcp run yet"}.
  /// `dcp check` accepts the dataflow and lists them; `dcp run` refuses it with them, before
  /// building or starting anything.
  std::vector<Diagnostic> run_limitations;

  [[nodiscard]] const Node* find_node(std::string_view node_id) const noexcept;
  /// Who reads what; O(total inputs · log). Build it once and keep it.
  [[nodiscard]] Routes routes() const;
  /// The distinct timers used by any input, ordered by period (then unit and value).
  [[nodiscard]] std::vector<Timer> timers() const;
};

}  // namespace dcp::dataflow
