// examples/robot/node_util.hpp — the small helpers every node of the robot example shares.
//
// What it is for: the four nodes (sensors, safety, processor, monitor) print their lines and wrap
// main() the same way, and the two timer-driven ones (sensors, safety) run the same tick loop
// (exceptions are described with dcp::describe_exception, <dcp/core/error_report.hpp>). Kept
// here so that each node's .cpp holds only what that node does:
//
//   int main(int argc, char** argv) {
//     ...parse the options...
//     return robot::run_node("sensors", [&] {
//       dcp::Node node = dcp::init_node();
//       const bool stopped = robot::for_each_tick(node.events, "sensors", [&](const robot::Tick& tick) {
//         if (tick.first) robot::say("started");
//         return tick.elapsed() < duration;  // false ends the loop
//       });
//       robot::say(stopped ? "stopped" : "done");
//       return 0;
//     });
//   }
//
// Thread safety: say() and warn() may be called from any thread; each writes its line and then the
// newline with separate stdio calls, so lines written by several threads at once may interleave.
// for_each_tick() and run_node() run on the calling thread.
// Blocking: say() and warn() block while stdio writes and flushes; for_each_tick() blocks in the
// event stream until the next event. Stop: for_each_tick() returns true as soon as it sees a
// StopEvent; it returns false when on_tick returned false or the event stream ended.
#pragma once

#include <dcp/node/node.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace robot {

using Clock = std::chrono::steady_clock;

/// Writes `line` and a newline on stdout and flushes (the dataflow's log shows it at once).
inline void say(const std::string& line) {
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

/// Writes `line` and a newline on stderr and flushes.
inline void warn(const std::string& line) {
  std::fputs(line.c_str(), stderr);
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

/// Runs a node's body and returns its exit status; a std::exception escaping it is printed on
/// stderr as "<node>: <what>" and makes the exit status 1.
template <class Body>
int run_node(const char* node, Body&& body) {
  try {
    return body();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s: %s\n", node, error.what());
    return 1;
  }
}

/// One `tick` input as for_each_tick() sees it.
struct Tick {
  Clock::time_point start;  ///< when the first tick arrived
  Clock::time_point now;    ///< when this tick arrived
  bool first = false;       ///< this is the first tick (now == start)

  [[nodiscard]] std::chrono::nanoseconds elapsed() const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(now - start);
  }
};

/// The event loop of a timer-driven node: calls on_tick(const Tick&) for every input named `tick`
/// until it returns false. Other inputs and InputClosed are ignored; an ErrorEvent is printed on
/// stderr as "<node>: error from the runner: <message>" and the loop goes on. Returns true when a
/// StopEvent ended the loop, false when on_tick did or the event stream ended.
template <class OnTick>
bool for_each_tick(dcp::EventStream& events, const char* node, OnTick&& on_tick) {
  std::optional<Clock::time_point> start;
  for (dcp::Event& event : events) {
    if (std::holds_alternative<dcp::StopEvent>(event)) return true;
    if (const auto* error = std::get_if<dcp::ErrorEvent>(&event)) {
      std::fprintf(stderr, "%s: error from the runner: %s\n", node, error->message.c_str());
      continue;
    }
    const auto* input = std::get_if<dcp::InputEvent>(&event);
    if (input == nullptr || input->id != "tick") continue;
    const Clock::time_point now = Clock::now();
    const bool first = !start;
    if (first) start = now;
    if (!on_tick(Tick{*start, now, first})) return false;
  }
  return false;
}

}  // namespace robot
