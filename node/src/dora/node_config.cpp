// Reading DORA_NODE_CONFIG (see dora_backend.hpp): the node id and the declared inputs and outputs.
//
// Dora's daemon serializes its NodeConfig with serde_yaml, e.g.
//
//   dataflow_id: 01931c8c-...
//   node_id: processor
//   run_config:
//     inputs:
//       imu:
//         source: sensors/imu
//         queue_size: 50
//       tick: dora/timer/millis/500
//     outputs:
//     - command
//   daemon_communication: !Tcp
//     socket_addr: 127.0.0.1:53290
//   dataflow_descriptor: { ... }
//   dynamic: false
//
// Only node_id, run_config.inputs and run_config.outputs are read. An input's value is its source,
// either as a string (`node/output`, `dora/timer/millis/500`) or as a mapping with `source`; a source
// under `dora/` (timers, logs) is not another node's output, so it never closes.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "dora/dora_backend.hpp"

namespace dcp::detail {
namespace {

[[noreturn]] void fail(const std::string& what) {
  throw NodeError(std::string("dcp: cannot read ") + kDoraNodeConfigVariable + " (the node configuration Dora gives " +
                  "every node it starts): " + what);
}

std::string scalar(const YAML::Node& node, const std::string& field) {
  if (!node.IsScalar()) fail("'" + field + "' is not a plain value");
  std::string value = node.Scalar();
  if (value.empty()) fail("'" + field + "' is empty");
  return value;
}

/// An input's source: the string itself, or the `source` of a mapping; empty when neither (an input
/// of a shape this reader does not know counts as another node's output, which may close).
std::string source_of(const YAML::Node& value) {
  if (value.IsScalar()) return value.Scalar();
  if (value.IsMap()) {
    const YAML::Node source = value["source"];
    if (source.IsDefined() && source.IsScalar()) return source.Scalar();
  }
  return {};
}

/// Dora's own sources (`dora/timer/...`, `dora/logs...`): Dora parses a source `dora/...` as these,
/// never as a node called "dora".
bool is_dora_source(std::string_view source) { return source.starts_with("dora/"); }

}  // namespace

DoraNodeConfig parse_dora_node_config(std::string_view yaml) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& error) {
    fail(std::string("it is not valid YAML: ") + error.what());
  }
  if (!root.IsMap()) fail("it is not a YAML mapping");

  const YAML::Node& const_root = root;  // const lookups never insert
  DoraNodeConfig config;
  const YAML::Node node_id = const_root["node_id"];
  if (!node_id.IsDefined() || node_id.IsNull()) fail("it has no 'node_id'");
  config.node_id = scalar(node_id, "node_id");

  const YAML::Node run_config = const_root["run_config"];
  if (!run_config.IsDefined() || run_config.IsNull()) return config;  // no inputs, no outputs
  if (!run_config.IsMap()) fail("'run_config' is not a mapping");

  const YAML::Node inputs = run_config["inputs"];
  if (inputs.IsDefined() && !inputs.IsNull()) {
    if (!inputs.IsMap()) fail("'run_config.inputs' is not a mapping");
    for (const auto& entry : inputs) {
      std::string id = scalar(entry.first, "run_config.inputs (a key)");
      if (!is_dora_source(source_of(entry.second))) config.data_inputs.push_back(id);
      config.inputs.push_back(std::move(id));
    }
  }
  const YAML::Node outputs = run_config["outputs"];
  if (outputs.IsDefined() && !outputs.IsNull()) {
    if (!outputs.IsSequence()) fail("'run_config.outputs' is not a sequence");
    for (const auto& entry : outputs) config.outputs.push_back(scalar(entry, "run_config.outputs (an entry)"));
  }
  return config;
}

}  // namespace dcp::detail
