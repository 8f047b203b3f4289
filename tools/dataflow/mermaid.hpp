// dataflow/mermaid.hpp — draws a dataflow as a Mermaid flowchart, for `dcp graph`.
//
// What it is for: paste the output into a Markdown file (```mermaid fence), GitHub, or
// https://mermaid.live to see the dataflow:
//
//   flowchart TB
//     %% dataflow: robot.yml
//     n0["sensors"]
//     n1["processor"]
//     t0(["dora/timer/millis/10"])
//     t0 -->|"tick"| n0
//     n0 -->|"imu -> imu"| n1
//
// One box per node, labelled with its id; one stadium-shaped node per distinct timer, shared by
// every input that uses it; one edge per input, labelled "output -> input" (just "input" for
// timers). Mermaid ids are generated (n<index>, t<index>) so that node ids such as `end` or
// `o-ring`, which Mermaid would misread, are safe; labels are quoted, with '"' written as #quot;.
// Nodes are listed in file order, timers in (unit, value) order, edges in node then input order,
// so the output is deterministic and diff-friendly.
//
// Thread safety: a pure function of its argument. Blocking: none.
#pragma once

#include <string>

#include "dataflow/dataflow.hpp"

namespace dcp::dataflow {

/// The Mermaid flowchart source for `dataflow` (ends with a newline).
[[nodiscard]] std::string to_mermaid(const Dataflow& dataflow);

}  // namespace dcp::dataflow
