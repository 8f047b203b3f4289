// Tests of the runner's NextEvent answers (router.hpp): the Stop rule of node.hpp — Stop first,
// then the inputs queued before it, then end of stream.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "dataflow/dataflow.hpp"
#include "ipc/protocol.hpp"
#include "runner/router.hpp"
#include "node_inputs_fixtures.hpp"

namespace {

using dcp::ipc::EventKind;
using namespace dcp::runner;

using dcp::runner::test::input_on;
using dcp::runner::test::sink_spec;

/// The kind and input id of the answer's frame (nullopt: no answer, the request stays outstanding).
std::optional<std::pair<EventKind, std::string>> answer_of(const dcp::dataflow::Node& spec, NodeLifecycle& state,
                                                           NodeInputs& inputs) {
  std::optional<Answer> answer = next_answer(spec, state, inputs, [](const std::string&) {});
  if (!answer) return std::nullopt;
  dcp::ipc::Message message = dcp::ipc::decode(answer->frame);
  const auto& event = std::get<dcp::ipc::Event>(message);
  return std::pair{event.kind, event.id};
}

TEST(NextAnswer, StopPending_StopFirstThenTheQueuedInputs_ClosesDropped_ThenEndOfStream) {
  const dcp::dataflow::Node spec = sink_spec();
  NodeLifecycle state("sink");
  NodeInputs inputs(spec);
  (void)inputs.enqueue(input_on(0));
  (void)inputs.enqueue(input_on(1));
  (void)inputs.close(0, true);  // InputClosed queued after a's data
  state.move_to(StreamState::stop_pending);

  using Seen = std::optional<std::pair<EventKind, std::string>>;
  EXPECT_EQ(answer_of(spec, state, inputs), (Seen{{EventKind::stop, ""}}));
  EXPECT_EQ(state.stream(), StreamState::draining);
  std::vector<std::string> drained;
  for (int i = 0; i < 2; ++i) {
    const Seen seen = answer_of(spec, state, inputs);
    ASSERT_TRUE(seen && seen->first == EventKind::input);
    drained.push_back(seen->second);
  }
  std::sort(drained.begin(), drained.end());
  EXPECT_EQ(drained, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(answer_of(spec, state, inputs), (Seen{{EventKind::end_of_stream, ""}})) << "no InputClosed after Stop";
  EXPECT_EQ(state.stream(), StreamState::ended);
  EXPECT_EQ(answer_of(spec, state, inputs), (Seen{{EventKind::end_of_stream, ""}}));
}

TEST(NextAnswer, StopPendingWithNothingQueued_StopThenEndOfStreamAtOnce) {
  const dcp::dataflow::Node spec = sink_spec();
  NodeLifecycle state("sink");
  NodeInputs inputs(spec);
  state.move_to(StreamState::stop_pending);
  using Seen = std::optional<std::pair<EventKind, std::string>>;
  EXPECT_EQ(answer_of(spec, state, inputs), (Seen{{EventKind::stop, ""}}));
  EXPECT_EQ(answer_of(spec, state, inputs), (Seen{{EventKind::end_of_stream, ""}})) << "draining never waits";
}

}  // namespace
