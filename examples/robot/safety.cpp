// dcp_robot_safety — the scripted emergency stop of the robot example (examples/robot/dataflow.yml).
//
// A stand-in for an e-stop button: at scripted times after its first tick it sends, on output
// `estop`, the text "trigger" (press) or "reset" (release), with the metadata parameter `seq`
// (0, 1, ...). The script comes from the command line, either as a list or as repeatable pairs:
//
//   dcp_robot_safety --script 4s:estop,6s:reset [--duration 10s]
//   dcp_robot_safety --estop-at 4s --reset-at 6s --estop-at 8s --reset-at 9s
//
// ("estop" and "trigger" are the same action.) Times are checked against a timer input
// (`tick: dora/timer/millis/10`), so an action is sent on the first tick at or after its time.
// The node runs for --duration after its first tick, then exits 0 (its output closes); Stop ends
// it early. Actions scheduled at or after --duration are an error.
#include <dcp/node/node.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "node_util.hpp"
#include "options.hpp"

namespace {

struct Action {
  std::chrono::nanoseconds at{};
  std::string text;  // "trigger" or "reset"
};

std::string action_text(std::string_view name, std::string_view context) {
  if (name == "estop" || name == "trigger") return "trigger";
  if (name == "reset") return "reset";
  throw std::invalid_argument(std::string(context) + ": unknown action '" + std::string(name) +
                              "' (expected estop, trigger or reset)");
}

/// "4s:estop,6s:reset" -> actions.
std::vector<Action> parse_script(std::string_view script) {
  std::vector<Action> actions;
  while (!script.empty()) {
    const std::size_t comma = script.find(',');
    const std::string_view item = script.substr(0, comma);
    script = comma == std::string_view::npos ? std::string_view() : script.substr(comma + 1);
    if (item.empty()) continue;
    const std::size_t colon = item.find(':');
    if (colon == std::string_view::npos) {
      throw std::invalid_argument("dcp_robot_safety: --script: '" + std::string(item) +
                                  "' is not <time>:<action> (e.g. 4s:estop,6s:reset)");
    }
    actions.push_back(Action{robot::parse_duration(item.substr(0, colon), "dcp_robot_safety: --script time"),
                             action_text(item.substr(colon + 1), "dcp_robot_safety: --script")});
  }
  return actions;
}

}  // namespace

int main(int argc, char** argv) {
  const char* program = "dcp_robot_safety";
  std::chrono::nanoseconds duration{};
  std::vector<Action> actions;
  try {
    const robot::Options options(argc, argv, program,
                                 {{"duration", "how long to run, from the first tick (default 10s)"},
                                  {"script", "actions as <time>:<estop|reset>,... (e.g. 4s:estop,6s:reset)"},
                                  {"estop-at", "press the e-stop at this time (repeatable)"},
                                  {"reset-at", "release the e-stop at this time (repeatable)"}});
    if (options.print_usage_if_help()) return 0;
    duration = options.duration("duration", std::chrono::seconds(10));
    for (const std::string& script : options.values("script")) {
      for (Action& action : parse_script(script)) actions.push_back(std::move(action));
    }
    for (const std::string& at : options.values("estop-at")) {
      actions.push_back({robot::parse_duration(at, "dcp_robot_safety: --estop-at"), "trigger"});
    }
    for (const std::string& at : options.values("reset-at")) {
      actions.push_back({robot::parse_duration(at, "dcp_robot_safety: --reset-at"), "reset"});
    }
    std::stable_sort(actions.begin(), actions.end(), [](const Action& a, const Action& b) { return a.at < b.at; });
    for (const Action& action : actions) {
      if (action.at >= duration) {
        throw std::invalid_argument(std::string(program) + ": the " + action.text + " at " +
                                    robot::format_duration(action.at) + " is not before --duration " +
                                    robot::format_duration(duration));
      }
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s\n", error.what());
    return 2;
  }

  return robot::run_node("safety", [&] {
    dcp::Node node = dcp::init_node();
    std::size_t next = 0;
    std::int64_t seq = 0;
    const bool stopped = robot::for_each_tick(node.events, "safety", [&](const robot::Tick& tick) {
      if (tick.first) {
        std::string plan;
        for (const Action& action : actions) plan += " " + action.text + "@" + robot::format_duration(action.at);
        robot::say("script" + (plan.empty() ? std::string(" (empty)") : plan) + ", running for " +
                   robot::format_duration(duration));
      }
      const std::chrono::nanoseconds elapsed = tick.elapsed();
      while (next < actions.size() && actions[next].at <= elapsed) {
        dcp::Metadata metadata;
        metadata.parameters["seq"] = seq++;
        node.outputs.send("estop", actions[next].text, std::move(metadata));
        robot::say("sent " + actions[next].text + " at " + robot::format_duration(elapsed) + " (scheduled " +
                   robot::format_duration(actions[next].at) + ")");
        ++next;
      }
      return elapsed < duration;
    });
    robot::say(std::string() + (stopped ? "stopped" : "done") + ", sent " + std::to_string(next) + " of " +
               std::to_string(actions.size()) + " actions");
    return 0;
  });
}
