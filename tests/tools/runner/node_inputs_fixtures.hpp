// tests/tools/runner/node_inputs_fixtures.hpp — the node spec and input events the tests of the
// runner's per-node inputs (router.hpp) build on: one shared definition for router_test and
// input_timeout_test.
//
// Thread safety: plain values. Blocking: none.
#pragma once

#include <cstddef>

#include "dataflow/dataflow.hpp"
#include "runner/event_queue.hpp"

namespace dcp::runner::test {

/// Node "sink" with inputs `a` and `b`, reading source/a and source/b.
inline dcp::dataflow::Node sink_spec() {
  dcp::dataflow::Node spec;
  spec.id = "sink";
  for (const char* id : {"a", "b"}) {
    dcp::dataflow::Input input;
    input.id = id;
    input.source = dcp::dataflow::NodeOutput{"source", id};
    spec.inputs.push_back(input);
  }
  return spec;
}

/// An input event (no payload) on the node's input `input`.
inline QueuedEvent input_on(std::size_t input) {
  QueuedEvent event;
  event.input = input;
  return event;
}

}  // namespace dcp::runner::test
