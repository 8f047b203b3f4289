// Tests of parse_dora_node_config (node/src/dora/node_config.cpp): what dcp reads from DORA_NODE_CONFIG,
// what it ignores, and the errors for a configuration it cannot use.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dcp/node/node.hpp"
#include "dora/dora_backend.hpp"

namespace {

using dcp::detail::parse_dora_node_config;
using Strings = std::vector<std::string>;

std::string error_of(const std::string& yaml) {
  try {
    (void)parse_dora_node_config(yaml);
  } catch (const dcp::NodeError& e) {
    return e.what();
  }
  return "(no dcp::NodeError)";
}

TEST(DoraNodeConfig, DaemonsConfig_IdInputKeysAndOutputsInFileOrder_OtherFieldsIgnored) {
  const auto config = parse_dora_node_config(R"(dataflow_id: 01931c8c-5f3e-7a10-9a55-3c1f3b7e2d11
node_id: processor
run_config:
  inputs:
    lidar: sensors/lidar
    imu:
      source: sensors/imu
      queue_size: 50
    tick: dora/timer/millis/500
  outputs:
  - status
  - command
daemon_communication: !Tcp
  socket_addr: 127.0.0.1:53290
dataflow_descriptor:
  nodes:
  - id: processor
    env: { A: 1 }
dynamic: false
write_events_to: null
restart_count: 0
)");
  EXPECT_EQ(config.node_id, "processor");
  EXPECT_EQ(config.inputs, (Strings{"lidar", "imu", "tick"}));
  EXPECT_EQ(config.outputs, (Strings{"status", "command"}));
}

TEST(DoraNodeConfig, DataInputs_AreTheInputsFedByNodes_NotTimersOrLogs_InEitherForm) {
  const auto config = parse_dora_node_config(R"(node_id: processor
run_config:
  inputs:
    lidar: sensors/lidar
    imu:
      source: sensors/imu
      queue_size: 50
    tick: dora/timer/millis/500
    slow:
      source: dora/timer/hz/0.5
    logs: dora/logs/warn
  outputs: []
)");
  EXPECT_EQ(config.inputs, (Strings{"lidar", "imu", "tick", "slow", "logs"}));
  EXPECT_EQ(config.data_inputs, (Strings{"lidar", "imu"}));
}

TEST(DoraNodeConfig, JsonStyleFlowMappings_AreYamlToo) {
  const auto config = parse_dora_node_config(
      R"({"node_id": "cam", "run_config": {"inputs": {"tick": "dora/timer/secs/1"}, "outputs": ["image"]}})");
  EXPECT_EQ(config.node_id, "cam");
  EXPECT_EQ(config.inputs, Strings{"tick"});
  EXPECT_EQ(config.outputs, Strings{"image"});
}

TEST(DoraNodeConfig, NoRunConfigOrNullOrEmptyParts_NoInputsNoOutputs) {
  for (const char* yaml : {"node_id: a", "node_id: a\nrun_config: null", "node_id: a\nrun_config: {}",
                           "node_id: a\nrun_config:\n  inputs: {}\n  outputs: []",
                           "node_id: a\nrun_config:\n  inputs: null\n  outputs: null"}) {
    const auto config = parse_dora_node_config(yaml);
    EXPECT_EQ(config.node_id, "a") << yaml;
    EXPECT_TRUE(config.inputs.empty()) << yaml;
    EXPECT_TRUE(config.outputs.empty()) << yaml;
  }
}

TEST(DoraNodeConfig, NotYaml_NodeErrorNamesTheVariable) {
  const std::string error = error_of("node_id: [unterminated");
  EXPECT_NE(error.find("DORA_NODE_CONFIG"), std::string::npos) << error;
  EXPECT_NE(error.find("not valid YAML"), std::string::npos) << error;
}

TEST(DoraNodeConfig, BadShapes_NodeErrorNamesTheField) {
  EXPECT_NE(error_of("- a\n- b").find("not a YAML mapping"), std::string::npos);
  EXPECT_NE(error_of("").find("not a YAML mapping"), std::string::npos);
  EXPECT_NE(error_of("dataflow_id: x").find("no 'node_id'"), std::string::npos);
  EXPECT_NE(error_of("node_id: ''").find("'node_id' is empty"), std::string::npos);
  EXPECT_NE(error_of("node_id: [a]").find("'node_id' is not a plain value"), std::string::npos);
  EXPECT_NE(error_of("node_id: a\nrun_config: [1]").find("'run_config' is not a mapping"), std::string::npos);
  EXPECT_NE(error_of("node_id: a\nrun_config:\n  inputs: [x]").find("'run_config.inputs' is not a mapping"),
            std::string::npos);
  EXPECT_NE(error_of("node_id: a\nrun_config:\n  outputs: {x: 1}").find("'run_config.outputs' is not a sequence"),
            std::string::npos);
  EXPECT_NE(error_of("node_id: a\nrun_config:\n  outputs: [[x]]").find("run_config.outputs (an entry)"),
            std::string::npos);
}

}  // namespace
