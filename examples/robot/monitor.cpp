// dcp_robot_monitor — the live view and the referee of the robot example (examples/robot/dataflow.yml).
//
// Inputs (no timer: the node ends on AllInputsClosed — under Dora a Stop whose cause is
// all_inputs_closed — once the processor and the safety node ended):
//   command, fused, safety_state, status, map   from the processor
//   estop                                       from the safety node
// While the dataflow runs it prints one compact line per status message — rates computed from the
// status counters, the gauges (queue depths), the p99 latencies — plus a line for every e-stop,
// halt and reset and for map progress. At the end it prints a summary and checks the invariants of
// invariants.hpp (no command while halted, every fused frame complete or flagged, status on time,
// every e-stop answered, commands before and after the e-stop). Every violation is printed on
// stderr and makes the node exit 1; a message that does not decode is a violation too (the decoding
// of each input is monitor_inputs.hpp, shared with the Dora test of the processor).
// Any other Stop (Ctrl-C, --stop-after, `dora stop`) also exits 1 (the run was cut short), as
// does an error reported by the runner.
//
//   dcp_robot_monitor [--status-period 500ms] [--max-reaction 1s] [--allow-no-estop] [--quiet]
#include <dcp/node/node.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "invariants.hpp"
#include "monitor_inputs.hpp"
#include "node_util.hpp"
#include "options.hpp"
#include "robot_messages.hpp"

namespace {

using nlohmann::json;
using robot::Clock;
using robot::say;
using robot::warn;

std::string format(const char* pattern, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, pattern, value);
  return buffer;
}

/// 3 significant figures without scientific notation for the usual ranges.
std::string compact(double value) {
  if (std::abs(value) >= 100 || value == std::floor(value)) return format("%.0f", value);
  if (std::abs(value) >= 10) return format("%.1f", value);
  return format("%.2f", value);
}

const char* rule_name(int invariant) {
  switch (invariant) {
    case 0: return "malformed message";
    case 1: return "no command while halted";
    case 2: return "fused frames complete or flagged";
    case 3: return "status on time";
    case 4: return "every e-stop answered";
    case 5: return "commands flowed";
  }
  return "?";
}

class Monitor {
 public:
  struct Settings {
    robot::InvariantChecker::Config rules;  // time_origin_ns is set by the Monitor: its start
    bool quiet = false;
    std::size_t max_shown = 20;  // violations printed per rule
  };

  explicit Monitor(Settings settings)
      : settings_(settings), checker_(starting_now(settings.rules)), start_(Clock::now()) {}

  void on_input(const dcp::InputEvent& input) {
    ++received_[input.id];
    const robot::MonitorMessage message = robot::decode_monitor_input(input);
    robot::observe(checker_, input.id, message);
    if (const auto* bad = std::get_if<robot::MalformedMessage>(&message)) {
      ++malformed_[input.id];
      warn("malformed message on " + input.id + ": " + bad->error);
    } else if (const auto* command = std::get_if<robot::CommandMessage>(&message)) {
      last_command_ = command->command;
    } else if (const auto* state = std::get_if<robot::SafetyStateSeen>(&message)) {
      show(*state);
    } else if (const auto* estop = std::get_if<robot::EstopSeen>(&message)) {
      show(*estop);
    } else if (const auto* status = std::get_if<robot::StatusMessage>(&message)) {
      show(*status);
    } else if (const auto* map = std::get_if<robot::MapMessage>(&message)) {
      show(*map);
    } else if (std::holds_alternative<robot::UnknownInput>(message) && unknown_inputs_reported_.insert(input.id).second) {
      warn("ignoring unknown input '" + input.id + "'");
    }
  }

  void on_input_closed(const std::string& id) {
    if (!settings_.quiet) say((id.empty() ? std::string("an input (Dora does not say which)") : id) + " closed " + elapsed());
  }

  /// Prints the summary and the violations; returns the exit status.
  int finish(bool stopped, std::size_t runner_errors) {
    const auto run_time = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start_);
    const robot::InvariantReport report = checker_.check(run_time);
    print_summary(report, run_time);
    if (stopped) {
      warn("FAILED: stopped before the dataflow ended (Ctrl-C or --stop-after): the run was cut short");
    }
    if (runner_errors > 0) {
      warn("FAILED: the runner reported " + std::to_string(runner_errors) + " error(s) (see above)");
    }
    if (report.passed()) {
      say("all invariants hold" + std::string(stopped ? " (on a run that was cut short)" : ""));
      return stopped || runner_errors > 0 ? 1 : 0;
    }
    print_violations(report);
    return 1;
  }

 private:
  /// `rules` with times reported from now (ns since the UNIX epoch, as the message timestamps).
  static robot::InvariantChecker::Config starting_now(robot::InvariantChecker::Config rules) {
    const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
    rules.time_origin_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch).count();
    return rules;
  }

  // ---- live lines (decoding: monitor_inputs.hpp) ---------------------------------------------

  void show(const robot::SafetyStateSeen& state) {
    std::string line = std::string(state.latched ? "HALT  " : "RESET ") + "'" + state.text + "' epoch " +
                       std::to_string(state.epoch);
    // The latency to the e-stop message this answers (the first halt after a trigger, the first
    // reset after a reset); other halts (a watchdog, an input that closed) have their own reason.
    auto& cause = state.latched ? unanswered_trigger_ns_ : unanswered_reset_ns_;
    if (cause && *cause <= state.timestamp_ns) {
      line += format(", %.2f ms after the e-stop ", static_cast<double>(state.timestamp_ns - *cause) / 1e6) +
              (state.latched ? "trigger" : "reset");
      cause.reset();
    }
    say("" + line + " " + elapsed());
    halted_ = state.latched;
    epoch_ = state.epoch;
  }

  void show(const robot::EstopSeen& estop) {
    const bool trigger = estop.signal == robot::EstopSignal::trigger;
    (trigger ? unanswered_trigger_ns_ : unanswered_reset_ns_) = estop.timestamp_ns;
    say(std::string("E-STOP ") + (trigger ? "trigger" : "reset") + " from the safety node " + elapsed());
  }

  void show(const robot::MapMessage& map) {
    map_fraction_ = map.fraction;
    if (map.cells) map_cells_ = *map.cells;
    if (map.message) map_message_ = *map.message;
    const int step = static_cast<int>(std::floor(map.fraction * 4));
    if (step != map_step_printed_) {
      map_step_printed_ = step;
      if (!settings_.quiet) {
        say("map " + format("%.0f%%", map.fraction * 100) + " (" + std::to_string(map_cells_) + " cells) " +
            map_message_ + " " + elapsed());
      }
    }
  }

  // One compact line per status message. The status board's counters are grouped: per-input
  // `input.<id>.received` and per-output `output.<id>.sent` become "in/s" and "out/s" rates; counters
  // that name trouble (dropped, failed, discarded, stale, malformed, errors...) are shown as totals,
  // only when non-zero; other counters as rates when non-zero. Gauges (queue depths) are shown when
  // non-zero, queue depths as the deepest one. Latencies: p99 of each non-input/output latency, and the
  // worst p99 over the inputs and over the outputs.
  void show(const robot::StatusMessage& message) {
    const json& status = message.status;
    const double uptime_ms = status["uptime_ms"].get<double>();
    const double seconds = (uptime_ms - previous_uptime_ms_) / 1000.0;
    previous_uptime_ms_ = uptime_ms;
    std::string line = "status " + elapsed();
    std::string inputs, outputs, others, trouble;
    if (status.contains("counters") && status["counters"].is_object()) {
      for (const auto& [name, value] : status["counters"].items()) {
        if (!value.is_number()) continue;
        const double count = value.get<double>();
        const auto previous = previous_counters_.find(name);
        const double rate = seconds > 0 ? (count - (previous == previous_counters_.end() ? 0.0 : previous->second)) / seconds : 0;
        previous_counters_[name] = count;
        if (const auto id = member_of(name, "input.", ".received")) {
          inputs += " " + *id + "=" + compact(rate);
        } else if (const auto id = member_of(name, "output.", ".sent")) {
          outputs += " " + *id + "=" + compact(rate);
        } else if (names_trouble(name)) {
          if (count != 0) trouble += " " + name + "=" + compact(count);
        } else if (rate != 0 && !name.starts_with("input.") && !name.starts_with("output.")) {
          others += " " + name + "=" + compact(rate);
        }
      }
    }
    if (!inputs.empty()) line += " | in/s" + inputs;
    if (!outputs.empty()) line += " | out/s" + outputs;
    if (!others.empty()) line += " | rate/s" + others;
    if (!trouble.empty()) line += " | TROUBLE" + trouble;
    if (status.contains("gauges") && status["gauges"].is_object()) {
      std::string gauges;
      std::string deepest_name;
      double deepest = -1;
      for (const auto& [name, value] : status["gauges"].items()) {
        if (!value.is_number()) continue;
        const double level = value.get<double>();
        if (name.ends_with("queue") || name.ends_with("queued") || name.ends_with("pending")) {
          if (level > deepest) {
            deepest = level;
            deepest_name = name;
          }
        }
        else if (level != 0 && !name.starts_with("estop.")) gauges += " " + name + "=" + compact(level);
      }
      if (deepest > 0) line += " | queues<=" + compact(deepest) + " (" + deepest_name + ")";
      else if (deepest == 0) line += " | queues empty";
      if (!gauges.empty()) line += " | gauges" + gauges;
    }
    if (status.contains("latencies") && status["latencies"].is_object()) {
      std::string latencies;
      double worst_input = -1, worst_output = -1;
      for (const auto& [name, value] : status["latencies"].items()) {
        if (!robot::detail::has_number(value, "p99_us")) continue;
        const double p99_ms = value["p99_us"].get<double>() / 1000.0;
        if (name.starts_with("input.")) worst_input = std::max(worst_input, p99_ms);
        else if (name.starts_with("output.")) worst_output = std::max(worst_output, p99_ms);
        else latencies += " " + name + "=" + compact(p99_ms) + "ms";
      }
      if (worst_input >= 0) latencies += " inputs<=" + compact(worst_input) + "ms";
      if (worst_output >= 0) latencies += " outputs<=" + compact(worst_output) + "ms";
      if (!latencies.empty()) line += " | p99" + latencies;
    }
    line += std::string(" | ") + (halted_ ? "HALTED" : "running") + " epoch " + std::to_string(epoch_);
    if (map_fraction_) line += " | map " + format("%.0f%%", *map_fraction_ * 100);
    last_status_ = status;
    if (!settings_.quiet) say(line);
  }

  /// "input.imu.received" with prefix "input." and suffix ".received" -> "imu".
  static std::optional<std::string> member_of(const std::string& name, std::string_view prefix, std::string_view suffix) {
    if (name.size() <= prefix.size() + suffix.size() || !name.starts_with(prefix) || !name.ends_with(suffix)) {
      return std::nullopt;
    }
    return name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  }

  /// Counters whose growth means something went wrong somewhere.
  static bool names_trouble(const std::string& name) {
    for (const char* word : {"dropped", "failed", "discarded", "stale", "malformed", "error", "unknown", "evicted"}) {
      if (name.find(word) != std::string::npos) return true;
    }
    return false;
  }


  // ---- reporting -------------------------------------------------------------------------------

  [[nodiscard]] std::string elapsed() const {
    return format("(t=%.2fs)", std::chrono::duration<double>(Clock::now() - start_).count());
  }

  static std::string latencies_text(const std::vector<std::chrono::nanoseconds>& latencies) {
    if (latencies.empty()) return "-";
    std::string text;
    for (const auto latency : latencies) {
      text += (text.empty() ? "" : ", ") + format("%.2f ms", static_cast<double>(latency.count()) / 1e6);
    }
    return text;
  }

  void print_summary(const robot::InvariantReport& report, std::chrono::nanoseconds run_time) const {
    say(format("===== summary after %.2f s =====", std::chrono::duration<double>(run_time).count()));
    say("  input          received  malformed");
    for (const char* id : {"command", "fused", "safety_state", "status", "map", "estop"}) {
      const auto count = [&](const std::map<std::string, std::size_t>& counts) {
        const auto it = counts.find(id);
        return it == counts.end() ? std::size_t{0} : it->second;
      };
      char row[128];
      std::snprintf(row, sizeof row, "  %-13s %9zu %10zu", id, count(received_), count(malformed_));
      say(row);
    }
    say("  commands        " + std::to_string(report.commands) + " (before the first e-stop " +
        std::to_string(report.commands_before_first_trigger) + ", after the last reset " +
        std::to_string(report.commands_after_last_reset) + ", while halted " +
        std::to_string(report.commands_while_halted) + ", stale epoch " +
        std::to_string(report.commands_with_stale_epoch) + ")");
    std::string partial;
    for (const auto& [reason, count] : report.fused_partial_by_reason) {
      partial += (partial.empty() ? "" : ", ") + reason + " " + std::to_string(count);
    }
    say("  fused frames    " + std::to_string(report.fused_frames) + " (complete " +
        std::to_string(report.fused_complete) + ", partial " + (partial.empty() ? "0" : partial) + ", duplicates " +
        std::to_string(report.fused_duplicates) + ")");
    say("  status          " + std::to_string(report.status_messages) + " messages (" +
        format("%.1f expected", report.status_expected) + ", longest gap " +
        format("%.1f ms", static_cast<double>(report.longest_status_gap.count()) / 1e6) + ")");
    say("  e-stop          " + std::to_string(report.estop_triggers) + " trigger(s) -> halt latency " +
        latencies_text(report.halt_latencies) + "; " + std::to_string(report.estop_resets) +
        " reset(s) -> reset latency " + latencies_text(report.reset_latencies));
    say("  processor       " + std::to_string(report.halts) + " halt(s), " +
        std::to_string(report.processor_resets) + " reset(s), last epoch " + std::to_string(epoch_));
    if (map_fraction_) {
      say("  map             " + format("%.0f%%", *map_fraction_ * 100) + ", " + std::to_string(map_cells_) +
          " cells" + (map_message_.empty() ? "" : ", \"" + map_message_ + "\""));
    } else {
      say("  map             no progress received");
    }
    if (last_command_) {
      say("  last command    frame " + std::to_string(last_command_->frame) + ": linear " +
          compact(last_command_->linear) + " m/s, angular " + compact(last_command_->angular) + " rad/s");
    }
    if (last_status_ && last_status_->contains("latencies") && (*last_status_)["latencies"].is_object()) {
      for (const auto& [name, value] : (*last_status_)["latencies"].items()) {
        if (!value.is_object()) continue;
        const auto field = [&](const char* key) {
          return value.contains(key) && value[key].is_number() ? compact(value[key].get<double>() / 1000.0) : "?";
        };
        const std::string count = value.contains("count") ? value["count"].dump() : "?";
        char row[256];
        std::snprintf(row, sizeof row, "  latency %-16s n=%s p50 %s ms, p99 %s ms, max %s ms", name.c_str(),
                      count.c_str(), field("p50_us").c_str(), field("p99_us").c_str(), field("max_us").c_str());
        say(row);
      }
    }
  }

  void print_violations(const robot::InvariantReport& report) const {
    warn("FAILED: " + std::to_string(report.violations.size()) + " invariant violation(s)");
    std::map<int, std::size_t> shown;
    for (const robot::Violation& violation : report.violations) {
      if (++shown[violation.invariant] > settings_.max_shown) continue;
      warn("VIOLATION [" + std::to_string(violation.invariant) + " " + rule_name(violation.invariant) +
               "] " + violation.message);
    }
    for (const auto& [invariant, count] : shown) {
      if (count > settings_.max_shown) {
        warn("  ... and " + std::to_string(count - settings_.max_shown) + " more of rule " +
                 std::to_string(invariant));
      }
    }
  }

  Settings settings_;
  robot::InvariantChecker checker_;
  Clock::time_point start_;
  std::map<std::string, std::size_t> received_;
  std::map<std::string, std::size_t> malformed_;
  std::set<std::string> unknown_inputs_reported_;
  std::optional<std::int64_t> unanswered_trigger_ns_;
  std::optional<std::int64_t> unanswered_reset_ns_;
  bool halted_ = false;
  std::int64_t epoch_ = 0;
  std::optional<robot::VelocityCommand> last_command_;
  std::optional<double> map_fraction_;
  std::int64_t map_cells_ = 0;
  std::string map_message_;
  int map_step_printed_ = -1;
  std::map<std::string, double> previous_counters_;
  double previous_uptime_ms_ = 0;
  std::optional<json> last_status_;
};

}  // namespace

int main(int argc, char** argv) {
  Monitor::Settings settings;
  try {
    const robot::Options options(
        argc, argv, "dcp_robot_monitor",
        {{"status-period", "the processor's status period (default 500ms)"},
         {"max-reaction", "longest accepted e-stop -> halt and reset -> reset delay (default 1s)"},
         {"allow-no-estop", "do not require an e-stop trigger and reset in the run", true},
         {"quiet", "no live lines, only the summary", true},
         {"max-violations-shown", "violations printed per rule (default 20)"}});
    if (options.print_usage_if_help()) return 0;
    settings.rules.status_period = options.duration("status-period", std::chrono::milliseconds(500));
    settings.rules.max_reaction = options.duration("max-reaction", std::chrono::seconds(1));
    settings.rules.require_estop_cycle = !options.flag("allow-no-estop");
    settings.quiet = options.flag("quiet");
    settings.max_shown = static_cast<std::size_t>(options.integer("max-violations-shown", 20, 1, 1'000'000));
    if (settings.rules.status_period.count() <= 0 || settings.rules.max_reaction.count() <= 0) {
      throw std::invalid_argument("dcp_robot_monitor: --status-period and --max-reaction must be positive");
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s\n", error.what());
    return 2;
  }

  return robot::run_node("monitor", [&] {
    dcp::Node node = dcp::init_node();
    Monitor monitor(settings);
    bool stopped = false;
    std::size_t runner_errors = 0;
    for (dcp::Event& event : node.events) {
      if (const auto* input = std::get_if<dcp::InputEvent>(&event)) {
        monitor.on_input(*input);
      } else if (const auto* closed = std::get_if<dcp::InputClosedEvent>(&event)) {
        monitor.on_input_closed(closed->id);
      } else if (const auto* stop = std::get_if<dcp::StopEvent>(&event)) {
        // Dora tells a node whose inputs all closed with a Stop: that is the end of the run, not a cut.
        stopped = stop->cause != dcp::StopCause::all_inputs_closed;
      } else if (const auto* error = std::get_if<dcp::ErrorEvent>(&event)) {
        ++runner_errors;
        warn("error from the runner: " + error->message);
      }
    }
    return monitor.finish(stopped, runner_errors);
  });
}
