// A node that only uses dcp::init_node(), built against dcp configured with a "Dora build" (the fake
// Dora library): under DORA_NODE_CONFIG it must get the Dora backend, receive the scripted input
// with its metadata, and its echo must reach "Dora". Exits 0 when everything holds.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <variant>

#include "dcp/node/node.hpp"
#include "fake_dora.hpp"

namespace {
int failures = 0;
void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "dora layout probe: FAILED: %s\n", what);
    ++failures;
  }
}
}  // namespace

int main() {
  ::unsetenv("DCP_RUNNER_SOCKET");
  ::setenv("DORA_NODE_CONFIG", "node_id: probe\nrun_config:\n  inputs:\n    in: source/out\n  outputs:\n  - echo\n", 1);
  fake_dora::push_input("in", {'h', 'i'}, fake_dora::ntp64(7, 0), {{"frame", std::int64_t{5}}});
  fake_dora::push(DoraEventType::Stop);
  fake_dora::close_stream();  // the stream ends after Stop once Dora has nothing queued
  try {
    dcp::Node node = dcp::init_node();
    check(node.id == "probe", "node id from DORA_NODE_CONFIG");
    int inputs = 0;
    for (dcp::Event& event : node.events) {
      if (auto* input = std::get_if<dcp::InputEvent>(&event)) {
        ++inputs;
        check(input->id == "in" && input->data.as_string() == "hi", "input id and bytes");
        check(input->metadata.timestamp_ns == 7'000'000'000 && input->metadata.get_int("frame") == 5,
              "input metadata (the metadata API was detected)");
        node.outputs.send("echo", input->data, input->metadata);
      }
    }
    check(inputs == 1, "one input before Stop");
    const auto sent = fake_dora::sent();
    check(sent.size() == 1 && sent[0].id == "echo" && sent[0].with_metadata &&
              std::get<std::int64_t>(sent[0].parameters.at("frame")) == 5,
          "the echo reached Dora with its parameters");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dora layout probe: FAILED: %s\n", e.what());
    return 1;
  }
  if (failures == 0) std::puts("dora layout probe: OK");
  return failures == 0 ? 0 : 1;
}
