// Fuzz target for the dataflow loader: any bytes must end in a Dataflow or a DataflowError.
//
// Built two ways (tests/fuzz/CMakeLists.txt): as a libFuzzer target (scripts/fuzz.sh), and with
// replay_main.cpp as a plain program that replays a corpus in ctest.
//
// What counts as a bug: a crash, a sanitizer report (ASan, UBSan, LeakSanitizer), a hang, or any
// exception other than DataflowError escaping the loader. A loaded dataflow must also be
// describable, drawable, and consistent (every input's upstream exists and declares the output);
// a DataflowError must hold 1..kMaxReportedDiagnostics problems, sorted by position.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "dataflow/describe.hpp"
#include "dataflow/loader.hpp"
#include "dataflow/mermaid.hpp"

namespace {

void check_consistent(const dcp::dataflow::Dataflow& dataflow) {
  if (dataflow.nodes.empty() || dataflow.nodes.size() > dcp::dataflow::kMaxNodes) std::abort();
  for (const auto& node : dataflow.nodes) {
    if (!dcp::dataflow::is_valid_node_id(node.id)) std::abort();
    if (node.inputs.size() > dcp::dataflow::kMaxInputsPerNode) std::abort();
    if (node.outputs.size() > dcp::dataflow::kMaxOutputsPerNode) std::abort();
    for (const auto& input : node.inputs) {
      if (input.queue_size < 1 || input.queue_size > dcp::dataflow::kMaxQueueSize) std::abort();
      if (const auto* upstream = input.upstream()) {
        const auto* source = dataflow.find_node(upstream->node);
        if (source == nullptr || source->find_output(upstream->output) == nullptr) std::abort();
      } else if (const auto* timer = input.timer()) {
        if (timer->period.count() <= 0) std::abort();
      } else if (input.logs() == nullptr) {
        std::abort();
      }
    }
  }
}

void check_reported(const dcp::dataflow::DataflowError& error) {
  const auto& all = error.diagnostics();
  if (all.empty() || all.size() > dcp::dataflow::kMaxReportedDiagnostics) std::abort();
  if (error.omitted() > 0 && all.size() != dcp::dataflow::kMaxReportedDiagnostics) std::abort();
  for (std::size_t i = 1; i < all.size(); ++i) {
    const auto& a = all[i - 1].location;
    const auto& b = all[i].location;
    if (a.line > b.line || (a.line == b.line && a.column > b.column)) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  dcp::dataflow::LoadOptions options;
  options.check_executables = false;  // no filesystem access
  try {
    const auto dataflow = dcp::dataflow::parse_dataflow(text, "fuzz.yml", "/fuzz", options);
    check_consistent(dataflow);
    static_cast<void>(dcp::dataflow::describe(dataflow));
    static_cast<void>(dcp::dataflow::to_mermaid(dataflow));
  } catch (const dcp::dataflow::DataflowError& e) {
    if (std::string_view(e.what()).empty()) std::abort();
    check_reported(e);
  }
  return 0;
}
