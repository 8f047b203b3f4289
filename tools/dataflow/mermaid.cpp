#include "dataflow/mermaid.hpp"

#include <fmt/format.h>

#include <map>
#include <string_view>

namespace dcp::dataflow {
namespace {

// A quoted Mermaid label: '"' becomes #quot; (Mermaid's entity syntax), control characters spaces.
std::string label(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"') {
      out += "#quot;";
    } else if (byte < 0x20 || byte == 0x7f) {
      out += ' ';
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

// Text for a `%%` comment: one line, nothing that could end it.
std::string comment(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    out += (byte < 0x20 || byte == 0x7f) ? '?' : c;
  }
  return out;
}

}  // namespace

std::string to_mermaid(const Dataflow& dataflow) {
  std::string out = "flowchart TB\n";
  out += fmt::format("  %% dataflow: {}\n", comment(dataflow.name));

  std::map<std::string_view, std::size_t> node_index;
  for (std::size_t i = 0; i < dataflow.nodes.size(); ++i) {
    const Node& node = dataflow.nodes[i];
    node_index.emplace(node.id, i);
    out += fmt::format("  n{}[{}]\n", i, label(node.id));
  }

  const std::vector<Timer> timers = dataflow.timers();
  std::map<Timer, std::size_t> timer_index;
  for (std::size_t i = 0; i < timers.size(); ++i) {
    timer_index.emplace(timers[i], i);
    out += fmt::format("  t{}([{}])\n", i, label(timers[i].spec()));
  }

  for (std::size_t i = 0; i < dataflow.nodes.size(); ++i) {
    for (const Input& input : dataflow.nodes[i].inputs) {
      if (const Timer* timer = input.timer()) {
        out += fmt::format("  t{} -->|{}| n{}\n", timer_index.at(*timer), label(input.id), i);
        continue;
      }
      if (input.upstream() == nullptr) continue;  // dora/logs: not drawn
      const NodeOutput& upstream = *input.upstream();
      const auto source = node_index.find(upstream.node);
      if (source == node_index.end()) continue;  // not from the loader: nothing to draw from
      out += fmt::format("  n{} -->|{}| n{}\n", source->second,
                         label(upstream.output + " -> " + input.id), i);
    }
  }
  return out;
}

}  // namespace dcp::dataflow
