#include "dataflow/describe.hpp"

#include <fmt/format.h>

#include <string_view>

#include "text.hpp"

namespace dcp::dataflow {
namespace {

using detail::escape;

std::string plural(std::size_t count, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", count, count == 1 ? one : many);
}

// "every 10 ms, 100 Hz" / "every 2 s, 0.5 Hz" / "every 33.3333 ms, 30 Hz".
std::string timer_rate(const Timer& timer) {
  const auto ns = static_cast<double>(timer.period.count());
  std::string every;
  if (ns >= 1e9) {
    every = fmt::format("every {:.6g} s", ns / 1e9);
  } else if (ns >= 1e6) {
    every = fmt::format("every {:.6g} ms", ns / 1e6);
  } else if (ns >= 1e3) {
    every = fmt::format("every {:.6g} us", ns / 1e3);
  } else {
    every = fmt::format("every {} ns", timer.period.count());
  }
  return fmt::format("{}, {:.6g} Hz", every, timer.rate_hz());
}

std::string argv_list(const std::vector<std::string>& argv) {
  std::string out = "[";
  for (std::size_t i = 0; i < argv.size(); ++i) {
    if (i > 0) out += ", ";
    out += detail::quote_double(argv[i], std::string::npos);
  }
  out += "]";
  return out;
}

void describe_node(std::string& out, const Node& node, const Routes& routes) {
  out += fmt::format("node {}", node.id);
  if (!node.name.empty()) out += fmt::format(" ({})", escape(node.name));
  out += "\n";
  if (!node.description.empty())
    out += fmt::format("  description: {}\n", escape(node.description));
  if (node.executable.empty()) {
    out += fmt::format("  path: {} (not started by the runner)\n", escape(node.path));
  } else {
    out += fmt::format("  path: {} ({})\n", escape(node.path), escape(node.executable.string()));
  }
  if (!node.args.empty()) {
    out += fmt::format("  args: {} -> argv {}\n", escape(node.args), argv_list(node.argv));
  }
  if (!node.build.empty()) out += fmt::format("  build: {}\n", escape(node.build));
  if (!node.env.empty()) {
    out += "  env:\n";
    for (const auto& [name, value] : node.env) {
      out += fmt::format("    {}={}\n", escape(name), escape(value));
    }
  }

  if (node.inputs.empty()) {
    out += "  inputs: none (a source node)\n";
  } else {
    out += "  inputs:\n";
    for (const Input& input : node.inputs) {
      std::string queue = input.queue_size_is_default
                              ? fmt::format("queue {} (default)", input.queue_size)
                              : fmt::format("queue {}", input.queue_size);
      if (input.queue_policy == QueuePolicy::backpressure) queue += ", backpressure";
      if (input.input_timeout) queue += fmt::format(", input_timeout {:g} s", *input.input_timeout);
      if (const Timer* timer = input.timer()) {
        out += fmt::format("    {} <- {} (timer: {}), {}\n", input.id, timer->spec(),
                           timer_rate(*timer), queue);
      } else {
        out += fmt::format("    {} <- {}, {}\n", input.id, input.source_spec(), queue);
      }
    }
  }

  if (node.outputs.empty()) {
    out += "  outputs: none\n";
  } else {
    out += "  outputs:\n";
    for (const Output& output : node.outputs) {
      const auto found = routes.find(NodeOutput{node.id, output.id});
      if (found == routes.end() || found->second.empty()) {
        out += fmt::format("    {} -> nobody reads it\n", output.id);
        continue;
      }
      std::string readers;
      for (const Subscriber& subscriber : found->second) {
        if (!readers.empty()) readers += ", ";
        readers += subscriber.node + "/" + subscriber.input;
      }
      out += fmt::format("    {} -> {}\n", output.id, readers);
    }
  }
}

}  // namespace

std::vector<Warning> find_warnings(const Dataflow& dataflow) {
  const Routes routes = dataflow.routes();
  std::vector<Warning> warnings;
  for (std::size_t i = 0; i < dataflow.nodes.size(); ++i) {
    const Node& node = dataflow.nodes[i];
    if (node.inputs.empty() && node.outputs.empty()) {
      warnings.push_back(Warning{node.location, fmt::format("nodes[{}]", i),
                                 fmt::format("node '{}' has neither inputs nor outputs", node.id)});
    }
    for (std::size_t j = 0; j < node.outputs.size(); ++j) {
      const Output& output = node.outputs[j];
      const auto found = routes.find(NodeOutput{node.id, output.id});
      if (found == routes.end() || found->second.empty()) {
        warnings.push_back(
            Warning{output.location, fmt::format("nodes[{}].outputs[{}]", i, j),
                    fmt::format("output '{}/{}' is not read by any node", node.id, output.id)});
      }
    }
  }
  return warnings;
}

std::string describe(const Dataflow& dataflow) {
  const Routes routes = dataflow.routes();
  std::size_t inputs = 0;
  for (const Node& node : dataflow.nodes) inputs += node.inputs.size();
  const std::vector<Timer> timers = dataflow.timers();

  std::string out =
      fmt::format("dataflow {}: {}, {}, {}\n", escape(dataflow.name),
                  plural(dataflow.nodes.size(), "node", "nodes"), plural(inputs, "input", "inputs"),
                  plural(timers.size(), "timer", "timers"));
  for (const Node& node : dataflow.nodes) {
    out += "\n";
    describe_node(out, node, routes);
  }

  out += "\n";
  std::string sources;
  for (const Node& node : dataflow.nodes) {
    if (!node.inputs.empty()) continue;
    if (!sources.empty()) sources += ", ";
    sources += node.id;
  }
  out += fmt::format("sources (nodes without inputs): {}\n", sources.empty() ? "none" : sources);

  if (!timers.empty()) {
    out += "timers:\n";
    for (const Timer& timer : timers) {
      out += fmt::format("  {} ({})\n", timer.spec(), timer_rate(timer));
    }
  }

  if (!dataflow.run_limitations.empty()) {
    out += fmt::format("not supported by dcp run yet ({}; dcp check and Dora accept them):\n",
                       dataflow.run_limitations.size());
    for (const Diagnostic& limitation : dataflow.run_limitations) {
      out += "  " +
             format_diagnostic(escape(dataflow.name), limitation.location, limitation.field,
                               limitation.reason) +
             "\n";
    }
  }

  const std::vector<Warning> warnings = find_warnings(dataflow);
  if (warnings.empty()) {
    out += "warnings: none\n";
  } else {
    out += fmt::format("warnings ({}):\n", warnings.size());
    for (const Warning& warning : warnings) {
      out += "  " +
             format_diagnostic(escape(dataflow.name), warning.location, warning.field,
                               warning.message) +
             "\n";
    }
  }
  return out;
}

}  // namespace dcp::dataflow
