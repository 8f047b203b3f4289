// examples/robot/invariants.hpp — the rules the robot dataflow must keep, checked from what the
// monitor saw.
//
// What it is for: the monitor node feeds every message it receives into an InvariantChecker and,
// once its inputs are closed, asks for a report; a violated rule makes the monitor (and so
// `dcp run` and the ctest) fail. The checker knows nothing about processes, so every rule is
// unit-tested with hand-made observations (invariants_test.cpp):
//
//   robot::InvariantChecker checker({.status_period = 500ms});
//   checker.observe(robot::EstopSeen{.timestamp_ns = t, .signal = robot::EstopSignal::trigger});
//   checker.observe(robot::SafetyStateSeen{.timestamp_ns = t + 2'000'000, .latched = true, .epoch = 1});
//   checker.observe(robot::CommandSeen{.timestamp_ns = t + 3'000'000, .frame = 40, .epoch = 0});
//   robot::InvariantReport report = checker.check(6s);   // report.violations: the command, twice over
//
// The rules (numbers as in Violation::invariant; 0 = a malformed message, reported by the monitor):
//   1. No command while halted: a command whose timestamp lies in [halt, next processor reset) is a
//      violation, and so is a command whose epoch is older than the epoch of a halt at or before its
//      timestamp (it was computed from data that predates the e-stop).
//   2. Every fused frame is complete (complete, parts == expected > 0) or flagged (not complete,
//      0 <= parts <= expected, partial_reason one of "deadline", "evicted", "flushed"); no frame id
//      twice.
//   3. Status keeps its rate: at least half of run_time / status_period messages, and no gap between
//      consecutive status messages longer than 3 x status_period.
//   4. Every e-stop "trigger" is followed by a processor halt within max_reaction (unless the
//      processor was already halted), every "reset" by a processor reset within max_reaction
//      (unless it was not halted). The latencies are reported.
//   5. Commands did flow: at least one before the first trigger and one after the last processor
//      reset; with require_estop_cycle, at least one trigger and one reset must have been seen — so
//      the check cannot pass vacuously.
//
// Time: every rule uses the metadata timestamps (ns since the UNIX epoch, set by the sender at send
// time), never the order in which the monitor received messages: the processor's outputs are all
// sent by one output thread, so their timestamps order them; e-stop messages come from another node
// on the same machine (same clock). Observations may therefore be fed in any order.
//
// Thread safety: none; one thread feeds and checks (the monitor's event loop). check() is const
// and may be called repeatedly. Blocking: none.
// Errors: the constructor throws std::invalid_argument for a non-positive status_period or
// max_reaction.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace robot {

// ---------------------------------------------------------------------------------------------
// Observations: what the monitor extracts from each message.
// ---------------------------------------------------------------------------------------------

/// processor/command: a velocity command (metadata `frame`, `epoch`).
struct CommandSeen {
  std::int64_t timestamp_ns = 0;
  std::int64_t frame = 0;
  std::int64_t epoch = 0;
};

/// processor/fused: one per lidar frame (metadata `frame`, `complete`, `parts`, `expected`,
/// `partial_reason`).
struct FusedSeen {
  std::int64_t timestamp_ns = 0;
  std::int64_t frame = 0;
  bool complete = false;
  std::int64_t parts = 0;
  std::int64_t expected = 0;
  std::string partial_reason;
};

/// processor/safety_state: "halt: <reason>" (latched) or "reset" (not latched), with its epoch.
struct SafetyStateSeen {
  std::int64_t timestamp_ns = 0;
  bool latched = false;
  std::int64_t epoch = 0;
  std::string text;
};

enum class EstopSignal { trigger, reset };

/// safety/estop: "trigger" or "reset".
struct EstopSeen {
  std::int64_t timestamp_ns = 0;
  EstopSignal signal = EstopSignal::trigger;
};

/// processor/status: one status message.
struct StatusSeen {
  std::int64_t timestamp_ns = 0;
};

// ---------------------------------------------------------------------------------------------
// The report.
// ---------------------------------------------------------------------------------------------

struct Violation {
  int invariant = 0;  ///< 1..5 as in the header comment; 0 = a malformed message
  std::string message;
};

struct InvariantReport {
  std::vector<Violation> violations;
  /// e-stop trigger -> processor halt, for each trigger that needed a new halt and got one.
  std::vector<std::chrono::nanoseconds> halt_latencies;
  /// e-stop reset -> processor reset, likewise.
  std::vector<std::chrono::nanoseconds> reset_latencies;

  std::size_t commands = 0;
  std::size_t commands_before_first_trigger = 0;
  std::size_t commands_while_halted = 0;
  std::size_t commands_with_stale_epoch = 0;
  std::size_t commands_after_last_reset = 0;

  std::size_t fused_frames = 0;
  std::size_t fused_complete = 0;
  std::map<std::string, std::size_t> fused_partial_by_reason;
  std::size_t fused_duplicates = 0;

  std::size_t status_messages = 0;
  double status_expected = 0;  ///< run_time / status_period
  std::chrono::nanoseconds longest_status_gap{0};

  std::size_t estop_triggers = 0;
  std::size_t estop_resets = 0;
  std::size_t halts = 0;
  std::size_t processor_resets = 0;
  std::size_t malformed_messages = 0;

  [[nodiscard]] bool passed() const noexcept { return violations.empty(); }
  /// How many violations of one rule.
  [[nodiscard]] std::size_t count(int invariant) const noexcept {
    return static_cast<std::size_t>(std::count_if(violations.begin(), violations.end(),
                                                  [&](const Violation& v) { return v.invariant == invariant; }));
  }
};

// ---------------------------------------------------------------------------------------------
// The checker.
// ---------------------------------------------------------------------------------------------

class InvariantChecker {
 public:
  struct Config {
    std::chrono::nanoseconds status_period{std::chrono::milliseconds(500)};
    /// Longest accepted delay e-stop trigger -> halt and reset -> processor reset.
    std::chrono::nanoseconds max_reaction{std::chrono::seconds(1)};
    /// Rule 5 also demands at least one e-stop trigger and one reset.
    bool require_estop_cycle = true;
    /// Times in the messages are "t=<seconds>" after this (ns since the UNIX epoch, e.g. when the
    /// monitor started); unset: after the earliest observation.
    std::optional<std::int64_t> time_origin_ns{};
  };

  explicit InvariantChecker(Config config) : config_(config) {
    if (config_.status_period.count() <= 0) {
      throw std::invalid_argument("robot::InvariantChecker: status_period must be positive");
    }
    if (config_.max_reaction.count() <= 0) {
      throw std::invalid_argument("robot::InvariantChecker: max_reaction must be positive");
    }
  }

  void observe(const CommandSeen& command) { record(commands_, command); }
  void observe(const FusedSeen& fused) { record(fused_, fused); }
  void observe(const SafetyStateSeen& state) { record(safety_states_, state); }
  void observe(const EstopSeen& estop) { record(estops_, estop); }
  void observe(const StatusSeen& status) { record(statuses_, status); }
  /// A message that could not be decoded (counts as a violation: a bad message is a bug somewhere).
  void observe_malformed(const std::string& input, const std::string& error) {
    malformed_.push_back(Violation{0, "malformed message on " + input + ": " + error});
  }

  /// The earliest timestamp seen, if any.
  [[nodiscard]] std::optional<std::int64_t> first_timestamp_ns() const noexcept { return first_ns_; }

  /// Checks every rule. `run_time`: how long the dataflow ran (for the status rate).
  [[nodiscard]] InvariantReport check(std::chrono::nanoseconds run_time) const {
    InvariantReport report;
    report.violations = malformed_;
    report.malformed_messages = malformed_.size();

    auto commands = sorted(commands_);
    auto states = sorted(safety_states_);
    auto estops = sorted(estops_);
    auto statuses = sorted(statuses_);

    std::vector<SafetyStateSeen> halts;
    std::vector<SafetyStateSeen> resets;
    for (const auto& state : states) (state.latched ? halts : resets).push_back(state);
    report.halts = halts.size();
    report.processor_resets = resets.size();

    check_commands(report, commands, halts, resets);
    check_fused(report);
    check_status(report, statuses, run_time);
    check_estop_reactions(report, estops, states);
    check_flow(report, commands, estops, resets);
    return report;
  }

 private:
  template <class T>
  static std::vector<T> sorted(std::vector<T> items) {
    std::stable_sort(items.begin(), items.end(),
                     [](const T& a, const T& b) { return a.timestamp_ns < b.timestamp_ns; });
    return items;
  }

  template <class Seen>
  void record(std::vector<Seen>& seen, const Seen& observation) {
    note_time(observation.timestamp_ns);
    seen.push_back(observation);
  }

  void note_time(std::int64_t timestamp_ns) {
    if (!first_ns_ || timestamp_ns < *first_ns_) first_ns_ = timestamp_ns;
  }

  /// "t=4.012s" after the time origin.
  [[nodiscard]] std::string at(std::int64_t timestamp_ns) const {
    const std::int64_t origin = config_.time_origin_ns.value_or(first_ns_.value_or(timestamp_ns));
    const double seconds = static_cast<double>(timestamp_ns - origin) / 1e9;
    char buffer[48];
    std::snprintf(buffer, sizeof buffer, "t=%.3fs", seconds);
    return buffer;
  }

  static std::string milliseconds(std::chrono::nanoseconds duration) {
    char buffer[48];
    std::snprintf(buffer, sizeof buffer, "%.1f ms", static_cast<double>(duration.count()) / 1e6);
    return buffer;
  }

  // Rule 1.
  void check_commands(InvariantReport& report, const std::vector<CommandSeen>& commands,
                      const std::vector<SafetyStateSeen>& halts, const std::vector<SafetyStateSeen>& resets) const {
    report.commands = commands.size();
    for (const CommandSeen& command : commands) {
      const std::string what = "command for frame " + std::to_string(command.frame) + " (epoch " +
                               std::to_string(command.epoch) + ") sent at " + at(command.timestamp_ns);
      bool reported = false;
      for (const SafetyStateSeen& halt : halts) {
        if (halt.timestamp_ns > command.timestamp_ns) break;
        const auto reset = std::find_if(resets.begin(), resets.end(), [&](const SafetyStateSeen& r) {
          return r.timestamp_ns > halt.timestamp_ns;
        });
        const bool before_reset = reset == resets.end() || command.timestamp_ns < reset->timestamp_ns;
        if (before_reset) {
          ++report.commands_while_halted;
          report.violations.push_back(
              {1, what + " while halted (halt '" + halt.text + "' at " + at(halt.timestamp_ns) +
                      (reset == resets.end() ? ", never reset)" : ", reset at " + at(reset->timestamp_ns) + ")")});
          reported = true;
          break;
        }
      }
      if (reported) continue;
      for (const SafetyStateSeen& halt : halts) {
        if (halt.timestamp_ns > command.timestamp_ns) break;
        if (command.epoch < halt.epoch) {
          ++report.commands_with_stale_epoch;
          report.violations.push_back({1, what + " has a stale epoch: the halt at " + at(halt.timestamp_ns) +
                                              " started epoch " + std::to_string(halt.epoch)});
          break;
        }
      }
    }
  }

  // Rule 2.
  void check_fused(InvariantReport& report) const {
    report.fused_frames = fused_.size();
    std::set<std::int64_t> seen;
    for (const FusedSeen& fused : sorted(fused_)) {
      const std::string what = "fused frame " + std::to_string(fused.frame) + " at " + at(fused.timestamp_ns);
      if (!seen.insert(fused.frame).second) {
        ++report.fused_duplicates;
        report.violations.push_back({2, what + " appears twice"});
      }
      const std::string counts =
          " (parts " + std::to_string(fused.parts) + " of " + std::to_string(fused.expected) + ")";
      if (fused.expected <= 0) {
        report.violations.push_back({2, what + " expects no parts" + counts});
      } else if (fused.complete) {
        ++report.fused_complete;
        if (fused.parts != fused.expected) {
          report.violations.push_back({2, what + " claims to be complete but is not" + counts});
        } else if (!fused.partial_reason.empty()) {
          report.violations.push_back({2, what + " is complete but has partial_reason '" + fused.partial_reason + "'"});
        }
      } else {
        ++report.fused_partial_by_reason[fused.partial_reason.empty() ? "(none)" : fused.partial_reason];
        if (fused.partial_reason.empty()) {
          report.violations.push_back({2, what + " is partial without a partial_reason" + counts});
        } else if (fused.partial_reason != "deadline" && fused.partial_reason != "evicted" &&
                   fused.partial_reason != "flushed") {
          report.violations.push_back({2, what + " has an unknown partial_reason '" + fused.partial_reason +
                                              "' (expected deadline, evicted or flushed)"});
        }
        if (fused.parts < 0 || fused.parts > fused.expected) {
          report.violations.push_back({2, what + " has an impossible part count" + counts});
        }
      }
    }
  }

  // Rule 3.
  void check_status(InvariantReport& report, const std::vector<StatusSeen>& statuses,
                    std::chrono::nanoseconds run_time) const {
    const auto period = config_.status_period;
    report.status_messages = statuses.size();
    report.status_expected = static_cast<double>(run_time.count()) / static_cast<double>(period.count());
    if (2.0 * static_cast<double>(statuses.size()) < report.status_expected) {
      char expected[32];
      std::snprintf(expected, sizeof expected, "%.1f", report.status_expected);
      report.violations.push_back({3, "only " + std::to_string(statuses.size()) + " status message(s) in " +
                                          milliseconds(run_time) + " (one per " + milliseconds(period) + " means " +
                                          expected + "; at least half are required)"});
    }
    for (std::size_t i = 1; i < statuses.size(); ++i) {
      const std::chrono::nanoseconds gap(statuses[i].timestamp_ns - statuses[i - 1].timestamp_ns);
      report.longest_status_gap = std::max(report.longest_status_gap, gap);
      if (gap > 3 * period) {
        report.violations.push_back({3, "no status between " + at(statuses[i - 1].timestamp_ns) + " and " +
                                            at(statuses[i].timestamp_ns) + ": a gap of " + milliseconds(gap) +
                                            " (more than 3 x " + milliseconds(period) + ")"});
      }
    }
  }

  // Rule 4.
  void check_estop_reactions(InvariantReport& report, const std::vector<EstopSeen>& estops,
                             const std::vector<SafetyStateSeen>& states) const {
    for (const EstopSeen& estop : estops) {
      const bool trigger = estop.signal == EstopSignal::trigger;
      (trigger ? report.estop_triggers : report.estop_resets) += 1;
      // The processor's state when the signal was sent: the last safety_state at or before it.
      const SafetyStateSeen* before = nullptr;
      for (const SafetyStateSeen& state : states) {
        if (state.timestamp_ns > estop.timestamp_ns) break;
        before = &state;
      }
      const bool halted = before != nullptr && before->latched;
      if (trigger ? halted : !halted) continue;  // nothing to change: no answer needed
      const auto answer = std::find_if(states.begin(), states.end(), [&](const SafetyStateSeen& state) {
        return state.timestamp_ns >= estop.timestamp_ns && state.latched == trigger;
      });
      const std::string what = std::string("e-stop ") + (trigger ? "trigger" : "reset") + " at " + at(estop.timestamp_ns);
      if (answer == states.end()) {
        report.violations.push_back(
            {4, what + " was never followed by a processor " + (trigger ? "halt" : "reset") + " (safety_state)"});
        continue;
      }
      const std::chrono::nanoseconds latency(answer->timestamp_ns - estop.timestamp_ns);
      if (latency > config_.max_reaction) {
        report.violations.push_back({4, what + " was answered by the processor's " +
                                            (trigger ? "halt" : "reset") + " only after " + milliseconds(latency) +
                                            " (limit " + milliseconds(config_.max_reaction) + ")"});
      }
      (trigger ? report.halt_latencies : report.reset_latencies).push_back(latency);
    }
  }

  // Rule 5.
  void check_flow(InvariantReport& report, const std::vector<CommandSeen>& commands,
                  const std::vector<EstopSeen>& estops, const std::vector<SafetyStateSeen>& resets) const {
    const auto first_trigger = std::find_if(estops.begin(), estops.end(),
                                            [](const EstopSeen& e) { return e.signal == EstopSignal::trigger; });
    const bool any_reset = std::any_of(estops.begin(), estops.end(),
                                       [](const EstopSeen& e) { return e.signal == EstopSignal::reset; });
    if (config_.require_estop_cycle) {
      if (first_trigger == estops.end()) {
        report.violations.push_back({5, "no e-stop trigger was seen: the e-stop rules were not exercised"});
      }
      if (!any_reset) report.violations.push_back({5, "no e-stop reset was seen: the reset was not exercised"});
    }
    if (first_trigger == estops.end()) {
      report.commands_before_first_trigger = commands.size();
      if (commands.empty()) report.violations.push_back({5, "no command was sent at all"});
      return;
    }
    report.commands_before_first_trigger = static_cast<std::size_t>(
        std::count_if(commands.begin(), commands.end(),
                      [&](const CommandSeen& c) { return c.timestamp_ns < first_trigger->timestamp_ns; }));
    if (report.commands_before_first_trigger == 0) {
      report.violations.push_back({5, "no command before the first e-stop trigger (at " +
                                          at(first_trigger->timestamp_ns) + ")"});
    }
    if (resets.empty() || resets.back().timestamp_ns < first_trigger->timestamp_ns) {
      report.violations.push_back({5, "the processor never reset after the e-stop at " +
                                          at(first_trigger->timestamp_ns) + ", so no command could follow"});
      return;
    }
    const std::int64_t last_reset = resets.back().timestamp_ns;
    report.commands_after_last_reset = static_cast<std::size_t>(std::count_if(
        commands.begin(), commands.end(), [&](const CommandSeen& c) { return c.timestamp_ns > last_reset; }));
    if (report.commands_after_last_reset == 0) {
      report.violations.push_back({5, "no command after the processor's reset at " + at(last_reset)});
    }
  }

  Config config_;
  std::optional<std::int64_t> first_ns_;
  std::vector<CommandSeen> commands_;
  std::vector<FusedSeen> fused_;
  std::vector<SafetyStateSeen> safety_states_;
  std::vector<EstopSeen> estops_;
  std::vector<StatusSeen> statuses_;
  std::vector<Violation> malformed_;
};

}  // namespace robot
