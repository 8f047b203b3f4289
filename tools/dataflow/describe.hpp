// dataflow/describe.hpp — explains a loaded dataflow in words, for `dcp check`.
//
// What it is for: a reader checking a dataflow wants to see what dcp understood — which node reads
// what, through which queue, at what timer rate, and what looks like a mistake:
//
//   dataflow robot.yml: 3 nodes, 4 inputs, 1 timer
//
//   node sensors
//     path: bin/sensor (/home/me/robot/bin/sensor)
//     args: --rate 100 -> argv ["--rate", "100"]
//     inputs:
//       tick <- dora/timer/millis/10 (timer: every 10 ms, 100 Hz), queue 10 (default)
//     outputs:
//       imu -> processor/imu, safety/imu
//       temperature -> nobody reads it
//   ...
//   sources (nodes without inputs): camera
//   timers:
//     dora/timer/millis/10 (every 10 ms, 100 Hz)
//   warnings (1):
//     robot.yml:9:9: nodes[0].outputs[1]: output 'sensors/temperature' is not read by any node
//
// Warnings (find_warnings) are things Dora accepts but that are usually mistakes:
//   - an output no input reads;
//   - a node with neither inputs nor outputs (it cannot talk to the dataflow).
// A node without inputs is a *source*; that is normal (it is listed, not warned about).
//
// Free-form text from the file (paths, args, env, names) is printed with control characters
// escaped, so a file cannot inject terminal escape sequences.
//
// Thread safety: pure functions of their argument. Blocking: none.
#pragma once

#include <string>
#include <vector>

#include "dataflow/dataflow.hpp"
#include "dataflow/error.hpp"

namespace dcp::dataflow {

struct Warning {
  SourceLocation location;
  std::string field;    ///< e.g. "nodes[0].outputs[1]"
  std::string message;  ///< e.g. "output 'sensors/temperature' is not read by any node"
};

/// The warnings for `dataflow`, in node order.
[[nodiscard]] std::vector<Warning> find_warnings(const Dataflow& dataflow);

/// The human explanation of `dataflow` (multi-line, ends with a newline), warnings included.
[[nodiscard]] std::string describe(const Dataflow& dataflow);

}  // namespace dcp::dataflow
