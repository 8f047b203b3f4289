// Tests of dataflow/describe.hpp (the `dcp check` explanation and its warnings) and
// dataflow/mermaid.hpp (the `dcp graph` flowchart).
#include "dataflow/describe.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "dataflow/loader.hpp"
#include "dataflow/mermaid.hpp"

namespace {

namespace df = dcp::dataflow;

df::Dataflow parse(std::string_view text) {
  df::LoadOptions options;
  options.check_executables = false;
  return df::parse_dataflow(text, "robot.yml", "/robot", options);
}

constexpr std::string_view kRobot =
    "nodes:\n"
    "  - id: sensors\n"                        // 2
    "    path: bin/sensors\n"                  // 3
    "    args: --rate 100 --name \"imu 1\"\n"  // 4
    "    env: {RATE: 100}\n"                   // 5
    "    inputs:\n"                            // 6
    "      tick: dora/timer/millis/3\n"        // 7
    "    outputs: [imu, temperature]\n"        // 8
    "  - id: safety\n"                         // 9
    "    name: Safety monitor\n"               // 10
    "    path: /opt/safety\n"                  // 11
    "    outputs: [estop]\n"                   // 12
    "  - id: end\n"                            // 13
    "    path: bin/end\n"                      // 14
    "    inputs:\n"                            // 15
    "      imu: sensors/imu\n"                 // 16
    "      estop: {source: safety/estop, queue_size: 1}\n"
    "      slow: dora/timer/secs/2\n"
    "      fast: dora/timer/millis/3\n"
    "  - id: idle\n"  // 20
    "    path: bin/idle\n";

TEST(Describe, ExplainsNodesInputsOutputsTimersSourcesAndWarnings) {
  EXPECT_EQ(
      df::describe(parse(kRobot)),
      "dataflow robot.yml: 4 nodes, 5 inputs, 2 timers\n"
      "\n"
      "node sensors\n"
      "  path: bin/sensors (/robot/bin/sensors)\n"
      "  args: --rate 100 --name \"imu 1\" -> argv [\"--rate\", \"100\", \"--name\", \"imu 1\"]\n"
      "  env:\n"
      "    RATE=100\n"
      "  inputs:\n"
      "    tick <- dora/timer/millis/3 (timer: every 3 ms, 333.333 Hz), queue 10 (default)\n"
      "  outputs:\n"
      "    imu -> end/imu\n"
      "    temperature -> nobody reads it\n"
      "\n"
      "node safety (Safety monitor)\n"
      "  path: /opt/safety (/opt/safety)\n"
      "  inputs: none (a source node)\n"
      "  outputs:\n"
      "    estop -> end/estop\n"
      "\n"
      "node end\n"
      "  path: bin/end (/robot/bin/end)\n"
      "  inputs:\n"
      "    imu <- sensors/imu, queue 10 (default)\n"
      "    estop <- safety/estop, queue 1\n"
      "    slow <- dora/timer/secs/2 (timer: every 2 s, 0.5 Hz), queue 10 (default)\n"
      "    fast <- dora/timer/millis/3 (timer: every 3 ms, 333.333 Hz), queue 10 (default)\n"
      "  outputs: none\n"
      "\n"
      "node idle\n"
      "  path: bin/idle (/robot/bin/idle)\n"
      "  inputs: none (a source node)\n"
      "  outputs: none\n"
      "\n"
      "sources (nodes without inputs): safety, idle\n"
      "timers:\n"
      "  dora/timer/millis/3 (every 3 ms, 333.333 Hz)\n"
      "  dora/timer/secs/2 (every 2 s, 0.5 Hz)\n"
      "warnings (2):\n"
      "  robot.yml:8:20: nodes[0].outputs[1]: output 'sensors/temperature' is not read by "
      "any node\n"
      "  robot.yml:20:5: nodes[3]: node 'idle' has neither inputs nor outputs\n");
}

TEST(Describe, CleanDataflow_SaysNoWarnings) {
  const std::string text =
      df::describe(parse("nodes:\n  - id: a\n    path: a\n    outputs: [x]\n"
                         "  - id: b\n    path: b\n    inputs: {x: a/x}\n"));
  EXPECT_NE(text.find("warnings: none\n"), std::string::npos) << text;
  EXPECT_TRUE(df::find_warnings(parse("nodes:\n  - id: a\n    path: a\n    inputs: "
                                      "{t: dora/timer/secs/1}\n"))
                  .empty());
}

TEST(Describe, ControlCharactersFromTheFile_AreEscaped) {
  const std::string text =
      df::describe(parse("nodes:\n  - id: a\n    path: a\n    description: \"\\e[2J bad\"\n"
                         "    env: {X: \"line1\\nline2\"}\n"));
  EXPECT_NE(text.find("description: \\x1b[2J bad\n"), std::string::npos) << text;
  EXPECT_NE(text.find("X=line1\\nline2\n"), std::string::npos) << text;
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
}

TEST(Mermaid, DrawsNodesTimersAndLabelledEdges) {
  EXPECT_EQ(df::to_mermaid(parse(kRobot)),
            "flowchart TB\n"
            "  %% dataflow: robot.yml\n"
            "  n0[\"sensors\"]\n"
            "  n1[\"safety\"]\n"
            "  n2[\"end\"]\n"
            "  n3[\"idle\"]\n"
            "  t0([\"dora/timer/millis/3\"])\n"
            "  t1([\"dora/timer/secs/2\"])\n"
            "  t0 -->|\"tick\"| n0\n"
            "  n0 -->|\"imu -> imu\"| n2\n"
            "  n1 -->|\"estop -> estop\"| n2\n"
            "  t1 -->|\"slow\"| n2\n"
            "  t0 -->|\"fast\"| n2\n");
}

TEST(Mermaid, QuotesAndLineBreaksInLabels_AreMadeSafe) {
  df::Dataflow flow;
  flow.name = "evil\nflowchart LR";
  df::Node node;
  node.id = "say \"hi\"";
  flow.nodes.push_back(node);
  EXPECT_EQ(df::to_mermaid(flow),
            "flowchart TB\n"
            "  %% dataflow: evil?flowchart LR\n"
            "  n0[\"say #quot;hi#quot;\"]\n");
}

}  // namespace
