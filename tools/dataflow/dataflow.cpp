#include "dataflow/dataflow.hpp"

#include <fmt/format.h>

#include <limits>
#include <set>

namespace dcp::dataflow {

namespace {
bool is_id_character(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}
}  // namespace

bool is_valid_node_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > kMaxIdLength || id.front() == '.' || id == "dora") return false;
  for (const char c : id) {
    if (!is_id_character(c)) return false;
  }
  return true;
}

bool is_valid_data_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > kMaxIdLength || id.front() == '/' || id.back() == '/') return false;
  if (id.find("//") != std::string_view::npos) return false;
  for (const char c : id) {
    if (!is_id_character(c) && c != '/') return false;
  }
  return true;
}

double Timer::rate_hz() const noexcept {
  const auto ns = period.count();
  return ns > 0 ? 1e9 / static_cast<double>(ns) : 0.0;
}

std::string Timer::spec() const {
  const char* name = "millis";
  switch (unit) {
    case Unit::secs: name = "secs"; break;
    case Unit::millis: name = "millis"; break;
    case Unit::micros: name = "micros"; break;
    case Unit::nanos: name = "nanos"; break;
    case Unit::hz: name = "hz"; break;
  }
  return fmt::format("dora/timer/{}/{}", name, value);
}

std::string NodeOutput::spec() const { return node + "/" + output; }

std::string DoraLogs::spec() const {
  std::string out = "dora/logs";
  if (!level.empty()) out += "/" + level;
  if (!node.empty()) out += "/" + node;
  return out;
}

std::string Input::source_spec() const {
  if (const Timer* t = timer()) return t->spec();
  if (const DoraLogs* l = logs()) return l->spec();
  return std::get<NodeOutput>(source).spec();
}

const Input* Node::find_input(std::string_view input_id) const noexcept {
  for (const Input& input : inputs) {
    if (input.id == input_id) return &input;
  }
  return nullptr;
}

const Output* Node::find_output(std::string_view output_id) const noexcept {
  for (const Output& output : outputs) {
    if (output.id == output_id) return &output;
  }
  return nullptr;
}

const Node* Dataflow::find_node(std::string_view node_id) const noexcept {
  for (const Node& node : nodes) {
    if (node.id == node_id) return &node;
  }
  return nullptr;
}

Routes Dataflow::routes() const {
  Routes routes;
  for (const Node& node : nodes) {
    for (const Output& output : node.outputs) routes[NodeOutput{node.id, output.id}];
  }
  for (const Node& node : nodes) {
    for (const Input& input : node.inputs) {
      if (const NodeOutput* upstream = input.upstream()) {
        routes[*upstream].push_back(Subscriber{node.id, input.id});
      }
    }
  }
  return routes;
}

std::vector<Timer> Dataflow::timers() const {
  std::set<Timer> timers;
  for (const Node& node : nodes) {
    for (const Input& input : node.inputs) {
      if (const Timer* timer = input.timer()) timers.insert(*timer);
    }
  }
  return {timers.begin(), timers.end()};
}

}  // namespace dcp::dataflow
