// examples/robot/processor.hpp — the robot example's processing node as a function: its settings,
// their command line, and run_processor(), the whole node from init_node() to its drained outputs.
//
// What it is for: processor_main.cpp is the dcp_robot_processor executable (parse, then run); the
// Dora test (tests/node/dora/robot_processor_test.cpp) compiles the same processor_node.cpp against
// the Dora backend built on the fake Dora API and calls run_processor() on a thread, so the node
// logic it checks is the one the executable runs, not a copy. processor_node.cpp's header comment
// describes how the node is built from the dcp patterns and when it ends.
//
//   bool help = false;
//   const robot::ProcessorSettings settings = robot::parse_processor_settings(argc, argv, help);
//   if (help) return 0;
//   return robot::run_processor(settings).exit_status;
//
// Thread safety: parse_processor_settings() is a pure function. run_processor() runs the node's
// event loop on the calling thread (its patterns start their own threads and join them before it
// returns); one call per process at a time, since it calls dcp::init_node() (which reads the
// environment and connects to the runner or Dora).
// Blocking: run_processor() blocks until the node has ended — its sensor and safety inputs all
// closed, or Stop and then the end of the event stream — and shut down: map job stopped (it waits
// up to 2 s), queued work done, pending fused frames flushed, every output sent.
// Errors: parse_processor_settings() throws std::invalid_argument naming the option;
// run_processor() throws what init_node() and the patterns throw (dcp::NodeError when the node was
// not started by a runner).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace robot {

/// The processor's command line (`dcp_robot_processor --help` lists it).
struct ProcessorSettings {
  std::size_t sectors = 4;                                        ///< --sectors
  std::size_t workers = 2;                                        ///< --workers
  std::chrono::nanoseconds fusion_deadline = std::chrono::milliseconds(60);  ///< --fusion-deadline
  std::string watchdog_input = "imu";                             ///< --watchdog <input>:<deadline>
  std::chrono::nanoseconds watchdog_deadline = std::chrono::milliseconds(200);
  std::chrono::nanoseconds map_interval = std::chrono::milliseconds(500);    ///< --map-interval
};

/// Parses argv[1..argc). With --help prints the usage, sets `help` and returns the defaults.
ProcessorSettings parse_processor_settings(int argc, const char* const* argv, bool& help);

/// How the processor ended, from its own counters (it also prints them as its last line).
struct ProcessorSummary {
  int exit_status = 1;          ///< 0: no output failed and the map job stopped in time
  std::string why;              ///< "its sensor and safety inputs closed", "Stop", ...
  std::uint64_t fused_complete = 0;
  std::uint64_t fused_partial = 0;  ///< emitted at their deadline
  std::uint64_t fused_evicted = 0;
  std::uint64_t fused_flushed = 0;  ///< still pending when the node ended
  std::size_t fused_pending = 0;    ///< after shutdown: 0 unless a frame was lost
  std::uint64_t commands_planned = 0;
  std::uint64_t estop_triggers = 0;
  std::uint64_t estop_resets = 0;
  std::uint64_t outputs_sent = 0;    ///< accepted by the node's output sender
  std::uint64_t outputs_dropped = 0;
  std::uint64_t outputs_failed = 0;
  std::uint64_t outputs_stale = 0;   ///< commands of an old epoch dropped at the output gate
  bool map_job_stopped = false;      ///< the map job ended within its 2 s
};

/// Runs the processor node (see the header comment); returns once it has ended and shut down.
ProcessorSummary run_processor(const ProcessorSettings& settings);

}  // namespace robot
