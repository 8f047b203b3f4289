// examples/robot/monitor_inputs.hpp — what each input of the robot monitor means: one message
// decoded into the observation the InvariantChecker (invariants.hpp) takes, or into the reason it
// is malformed.
//
// What it is for: the monitor node (monitor.cpp) feeds every message it receives through here, and
// so does the Dora test of the processor (tests/node/dora/robot_processor_test.cpp), which turns
// each send the fake Dora captured into the InputEvent the monitor would have received. One
// decoding, so the test checks the processor against the monitor's rules, not against a copy:
//
//   const robot::MonitorMessage message = robot::decode_monitor_input(input);
//   robot::observe(checker, input.id, message);          // what the invariants need
//   if (const auto* command = std::get_if<robot::CommandMessage>(&message)) show(command->command);
//
// The inputs (ids as in dataflow.yml; timestamps are the metadata timestamp, ns since the UNIX
// epoch, and a message without one (timestamp_ns <= 0) is malformed):
//   command       VelocityCommand (robot_messages.hpp) with int parameters `frame` (= the payload's
//                 frame) and `epoch`                                          -> CommandMessage
//   fused         parameters frame (int), complete (bool), parts, expected (int), partial_reason
//                 (string); the payload is not read                           -> FusedSeen
//   safety_state  "halt: <reason>" with latched=true or "reset" with latched=false; epoch (int)
//                                                                             -> SafetyStateSeen
//   status        a JSON object with a number `uptime_ms` (dcp::StatusBoard) -> StatusMessage
//   map           a JSON object with `fraction` in [0, 1]; `cells` (int) and `message` (string)
//                 when present                                                -> MapMessage
//   estop         "trigger" or "reset"                                        -> EstopSeen
//   anything else (with a timestamp)                                          -> UnknownInput
//
// Thread safety: free functions; decode_monitor_input() keeps no state, observe() changes only the
// checker it is given. Blocking: none.
// Errors: nothing is thrown for a bad message (it becomes MalformedMessage); std::bad_alloc passes.
#pragma once

#include <dcp/node/node.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "invariants.hpp"
#include "robot_messages.hpp"

namespace robot {

/// processor/command: what the checker sees and the decoded command.
struct CommandMessage {
  CommandSeen seen;
  VelocityCommand command;
};

/// processor/status: the checker's observation and the parsed status object.
struct StatusMessage {
  StatusSeen seen;
  nlohmann::json status;
};

/// processor/map: the map job's progress (not an invariant; shown by the monitor).
struct MapMessage {
  double fraction = 0;
  std::optional<std::int64_t> cells;
  std::optional<std::string> message;
};

/// A message that does not decode; `error` says why.
struct MalformedMessage {
  std::string error;
};

/// A message on an input the monitor does not know.
struct UnknownInput {};

using MonitorMessage = std::variant<CommandMessage, FusedSeen, SafetyStateSeen, EstopSeen, StatusMessage, MapMessage,
                                    MalformedMessage, UnknownInput>;

namespace detail {

/// `value` is an object whose `field` is a number.
inline bool has_number(const nlohmann::json& value, const char* field) {
  return value.is_object() && value.contains(field) && value.at(field).is_number();
}

/// The payload parsed as a JSON object with a number `field`, or why it is not (`expected` when it
/// is JSON of another shape).
inline std::variant<nlohmann::json, MalformedMessage> parse_object(const dcp::InputEvent& input, const char* field,
                                                                   const char* expected) {
  nlohmann::json parsed;
  try {
    parsed = nlohmann::json::parse(input.data.as_string());
  } catch (const nlohmann::json::exception& error) {
    return MalformedMessage{std::string("not JSON: ") + error.what()};
  }
  if (!has_number(parsed, field)) return MalformedMessage{expected};
  return parsed;
}

/// The metadata parameter `key` of type T (bool, int64 or string); when it is missing (or of
/// another type), nothing, and `error` gets one more "missing metadata parameter ..." clause.
template <class T>
std::optional<T> parameter(const dcp::InputEvent& input, const char* key, const char* type, std::string& error) {
  std::optional<T> value;
  if constexpr (std::is_same_v<T, bool>) value = input.metadata.get_bool(key);
  else if constexpr (std::is_same_v<T, std::int64_t>) value = input.metadata.get_int(key);
  else value = input.metadata.get_str(key);
  if (!value) error += (error.empty() ? "" : "; ") + std::string("missing metadata parameter '") + key + "' (" + type + ")";
  return value;
}

inline MonitorMessage decode_command(const dcp::InputEvent& input) {
  std::string error;
  const auto frame = parameter<std::int64_t>(input, "frame", "int", error);
  const auto epoch = parameter<std::int64_t>(input, "epoch", "int", error);
  if (!frame || !epoch) return MalformedMessage{error};
  const auto command = decode_velocity_command(input.data.bytes());
  if (!command) return MalformedMessage{command.error()};
  if (command->frame != *frame) {
    return MalformedMessage{"metadata frame " + std::to_string(*frame) + " but the payload says frame " +
                            std::to_string(command->frame)};
  }
  return CommandMessage{CommandSeen{input.metadata.timestamp_ns, *frame, *epoch}, *command};
}

inline MonitorMessage decode_fused(const dcp::InputEvent& input) {
  std::string error;
  const auto frame = parameter<std::int64_t>(input, "frame", "int", error);
  const auto complete = parameter<bool>(input, "complete", "bool", error);
  const auto parts = parameter<std::int64_t>(input, "parts", "int", error);
  const auto expected = parameter<std::int64_t>(input, "expected", "int", error);
  const auto reason = parameter<std::string>(input, "partial_reason", "string", error);
  if (!frame || !complete || !parts || !expected || !reason) return MalformedMessage{error};
  return FusedSeen{input.metadata.timestamp_ns, *frame, *complete, *parts, *expected, *reason};
}

inline MonitorMessage decode_safety_state(const dcp::InputEvent& input) {
  std::string error;
  const auto latched = parameter<bool>(input, "latched", "bool", error);
  const auto epoch = parameter<std::int64_t>(input, "epoch", "int", error);
  if (!latched || !epoch) return MalformedMessage{error};
  const std::string text(input.data.as_string());
  if (*latched ? text.rfind("halt", 0) != 0 : text != "reset") {
    return MalformedMessage{"latched=" + std::string(*latched ? "true" : "false") + " with text '" + text +
                            "' (expected \"halt: <reason>\" when latched, \"reset\" otherwise)"};
  }
  return SafetyStateSeen{input.metadata.timestamp_ns, *latched, *epoch, text};
}

inline MonitorMessage decode_estop(const dcp::InputEvent& input) {
  const std::string text(input.data.as_string());
  if (text != "trigger" && text != "reset") {
    return MalformedMessage{"text '" + text + "' (expected \"trigger\" or \"reset\")"};
  }
  return EstopSeen{input.metadata.timestamp_ns, text == "trigger" ? EstopSignal::trigger : EstopSignal::reset};
}

inline MonitorMessage decode_status(const dcp::InputEvent& input) {
  auto parsed = parse_object(input, "uptime_ms",
                             "expected a status object with \"uptime_ms\", \"counters\", \"gauges\", \"latencies\"");
  if (auto* bad = std::get_if<MalformedMessage>(&parsed)) return std::move(*bad);
  return StatusMessage{StatusSeen{input.metadata.timestamp_ns}, std::move(std::get<nlohmann::json>(parsed))};
}

inline MonitorMessage decode_map(const dcp::InputEvent& input) {
  auto parsed = parse_object(input, "fraction", "expected {\"fraction\": <0..1>, \"cells\": <int>, \"message\": <text>}");
  if (auto* bad = std::get_if<MalformedMessage>(&parsed)) return std::move(*bad);
  const nlohmann::json& map = std::get<nlohmann::json>(parsed);
  MapMessage progress;
  progress.fraction = map["fraction"].get<double>();
  if (!(progress.fraction >= 0 && progress.fraction <= 1)) {
    return MalformedMessage{"fraction " + std::to_string(progress.fraction) + " not in [0, 1]"};
  }
  if (map.contains("cells") && map["cells"].is_number_integer()) progress.cells = map["cells"].get<std::int64_t>();
  if (map.contains("message") && map["message"].is_string()) progress.message = map["message"].get<std::string>();
  return progress;
}

}  // namespace detail

/// Decodes one message the monitor received (see the header comment for each input).
inline MonitorMessage decode_monitor_input(const dcp::InputEvent& input) {
  if (input.metadata.timestamp_ns <= 0) return MalformedMessage{"no metadata timestamp"};
  if (input.id == "command") return detail::decode_command(input);
  if (input.id == "fused") return detail::decode_fused(input);
  if (input.id == "safety_state") return detail::decode_safety_state(input);
  if (input.id == "status") return detail::decode_status(input);
  if (input.id == "map") return detail::decode_map(input);
  if (input.id == "estop") return detail::decode_estop(input);
  return UnknownInput{};
}

/// Gives the checker what `message` (decoded from input `input_id`) tells it: its observation, or
/// observe_malformed() for a malformed one. Map progress and unknown inputs tell it nothing.
inline void observe(InvariantChecker& checker, std::string_view input_id, const MonitorMessage& message) {
  std::visit(
      [&](const auto& decoded) {
        using T = std::decay_t<decltype(decoded)>;
        if constexpr (std::is_same_v<T, CommandMessage>) checker.observe(decoded.seen);
        else if constexpr (std::is_same_v<T, StatusMessage>) checker.observe(decoded.seen);
        else if constexpr (std::is_same_v<T, FusedSeen> || std::is_same_v<T, SafetyStateSeen> ||
                           std::is_same_v<T, EstopSeen>) checker.observe(decoded);
        else if constexpr (std::is_same_v<T, MalformedMessage>) checker.observe_malformed(std::string(input_id), decoded.error);
      },
      message);
}

}  // namespace robot
