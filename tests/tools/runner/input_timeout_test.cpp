// Tests of the per-input rules of the runner's node inputs (router.hpp) that come from the long form
// of a Dora input: `input_timeout` (armed by the first message, InputClosed when silent too long,
// InputRecovered before the next message, no AllInputsClosed while an input may still recover;
// time is passed in, never slept) and `queue_policy: backpressure` (how much an input holds).
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "dataflow/dataflow.hpp"
#include "ipc/protocol.hpp"
#include "runner/router.hpp"
#include "node_inputs_fixtures.hpp"

namespace {

using dcp::ipc::EventKind;
using namespace dcp::runner;
using namespace std::chrono_literals;
using Clock = NodeInputs::Clock;
using Seen = std::pair<EventKind, std::string>;

/// The fixtures' sink (inputs `a` and `b` from another node) with `a`'s input_timeout.
dcp::dataflow::Node sink_spec(std::optional<double> timeout_a = 1.0) {
  dcp::dataflow::Node spec = dcp::runner::test::sink_spec();
  spec.inputs[0].input_timeout = timeout_a;
  return spec;
}

using dcp::runner::test::input_on;

/// Every answer the node would get now, until none is left.
std::vector<Seen> drain(const dcp::dataflow::Node& spec, NodeLifecycle& state, NodeInputs& inputs) {
  std::vector<Seen> seen;
  while (std::optional<Answer> answer = next_answer(spec, state, inputs, [](const std::string&) {})) {
    const dcp::ipc::Message message = dcp::ipc::decode(answer->frame);
    const auto& event = std::get<dcp::ipc::Event>(message);
    seen.emplace_back(event.kind, event.id);
    if (event.kind == EventKind::end_of_stream) break;
  }
  return seen;
}

const Clock::time_point t0{};

TEST(InputTimeout, NeverArmedBeforeTheFirstMessage) {
  const auto spec = sink_spec();
  NodeInputs inputs(spec);
  EXPECT_TRUE(inputs.has_input_timeouts());
  EXPECT_TRUE(inputs.close_timed_out(t0 + 1h, true).empty());
  EXPECT_TRUE(inputs.queue().empty());
}

TEST(InputTimeout, SilentForTheTimeout_InputClosedForThatInputOnly_OnceAndCounted) {
  const auto spec = sink_spec();
  NodeLifecycle state("sink");
  NodeInputs inputs(spec);
  (void)inputs.enqueue(input_on(0), t0);
  EXPECT_TRUE(inputs.close_timed_out(t0 + 999ms, true).empty()) << "not before the timeout";
  EXPECT_EQ(inputs.close_timed_out(t0 + 1s, true), std::vector<std::size_t>{0}) << "at the timeout";
  EXPECT_TRUE(inputs.close_timed_out(t0 + 10s, true).empty()) << "a timed-out input does not time out again";
  EXPECT_TRUE(inputs.timed_out(0));
  EXPECT_EQ(inputs.timeouts(), (std::vector<std::uint64_t>{1, 0}));
  EXPECT_EQ(drain(spec, state, inputs), (std::vector<Seen>{{EventKind::input_closed, "a"}, {EventKind::input, "a"}}))
      << "a control event: first, as Dora schedules it";
}

TEST(InputTimeout, EveryMessageRefreshesTheDeadline) {
  const auto spec = sink_spec();
  NodeInputs inputs(spec);
  (void)inputs.enqueue(input_on(0), t0);
  (void)inputs.enqueue(input_on(0), t0 + 900ms);
  EXPECT_TRUE(inputs.close_timed_out(t0 + 1500ms, true).empty());
  EXPECT_EQ(inputs.close_timed_out(t0 + 1900ms, true), std::vector<std::size_t>{0});
}

TEST(InputTimeout, DataAfterATimeout_InputRecoveredThenTheData_DeadlineReArmed) {
  const auto spec = sink_spec();
  NodeLifecycle state("sink");
  NodeInputs inputs(spec);
  (void)inputs.enqueue(input_on(0), t0);
  (void)inputs.close_timed_out(t0 + 1s, true);
  (void)inputs.enqueue(input_on(0), t0 + 5s);
  EXPECT_FALSE(inputs.timed_out(0));
  EXPECT_EQ(inputs.recoveries(), (std::vector<std::uint64_t>{1, 0}));
  EXPECT_EQ(drain(spec, state, inputs),
            (std::vector<Seen>{{EventKind::input_closed, "a"},
                               {EventKind::input_recovered, "a"},
                               {EventKind::input, "a"},
                               {EventKind::input, "a"}}));
  EXPECT_TRUE(inputs.close_timed_out(t0 + 5500ms, true).empty());
  EXPECT_EQ(inputs.close_timed_out(t0 + 6s, true), std::vector<std::size_t>{0}) << "re-armed by the recovering message";
  EXPECT_EQ(inputs.timeouts(), (std::vector<std::uint64_t>{2, 0}));
}

TEST(InputTimeout, WhileTimedOut_NoAllInputsClosed_UpstreamCloseThenGivesItWithoutASecondInputClosed) {
  const auto spec = sink_spec();
  NodeLifecycle state("sink");
  NodeInputs inputs(spec);
  (void)inputs.enqueue(input_on(0), t0);
  (void)inputs.close_timed_out(t0 + 1s, true);
  ASSERT_TRUE(inputs.close(1, true));  // b closes: only a timed-out input is left
  EXPECT_EQ(drain(spec, state, inputs),
            (std::vector<Seen>{{EventKind::input_closed, "a"}, {EventKind::input_closed, "b"}, {EventKind::input, "a"}}))
      << "a may still recover: no AllInputsClosed";
  ASSERT_TRUE(inputs.close(0, true));  // a's upstream ends while it is timed out
  EXPECT_FALSE(inputs.timed_out(0));
  EXPECT_EQ(drain(spec, state, inputs),
            (std::vector<Seen>{{EventKind::all_inputs_closed, ""}, {EventKind::end_of_stream, ""}}));
  EXPECT_TRUE(inputs.close_timed_out(t0 + 1h, true).empty()) << "a closed input never times out";
}

TEST(InputTimeout, NoTimeoutSet_OrATimerInput_NeverTimesOut) {
  const auto spec = sink_spec(std::nullopt);
  NodeInputs inputs(spec);
  EXPECT_FALSE(inputs.has_input_timeouts());
  (void)inputs.enqueue(input_on(0), t0);
  EXPECT_TRUE(inputs.close_timed_out(t0 + 24h, true).empty());

  dcp::dataflow::Node ticking = sink_spec();
  ticking.inputs[0].source = dcp::dataflow::Timer{};  // Dora times only inputs from nodes
  NodeInputs timer_inputs(ticking);
  EXPECT_FALSE(timer_inputs.has_input_timeouts());
}

TEST(InputTimeout, ZeroTimeout_ClosesAtTheFirstCheckAfterAMessage_LongerThanTheClockNever) {
  const auto zero = sink_spec(0.0);
  NodeInputs inputs(zero);
  (void)inputs.enqueue(input_on(0), t0);
  EXPECT_EQ(inputs.close_timed_out(t0, true), std::vector<std::size_t>{0});

  const auto huge = sink_spec(dcp::dataflow::kMaxTimingSeconds * 2);
  NodeInputs never(huge);
  EXPECT_FALSE(never.has_input_timeouts());
  const auto at_limit = sink_spec(dcp::dataflow::kMaxTimingSeconds);
  NodeInputs limit(at_limit);
  EXPECT_TRUE(limit.has_input_timeouts());
  (void)limit.enqueue(input_on(0), t0);
  EXPECT_TRUE(limit.close_timed_out(t0 + 24h * 365 * 100, true).empty());
}

TEST(InputTimeout, NotAcceptingEvents_TimesOutAndCountsButQueuesNothing) {
  const auto spec = sink_spec();
  NodeInputs inputs(spec);
  (void)inputs.enqueue(input_on(0), t0);
  inputs.clear();
  EXPECT_EQ(inputs.close_timed_out(t0 + 1s, false), std::vector<std::size_t>{0});
  EXPECT_TRUE(inputs.queue().empty());
}

TEST(QueuePolicy, Backpressure_HoldsTenTimesQueueSizeAtLeast100_ThenDropsTheOldest) {
  dcp::dataflow::Node spec = sink_spec(std::nullopt);
  spec.inputs[0].queue_size = 5;
  spec.inputs[0].queue_policy = dcp::dataflow::QueuePolicy::backpressure;
  spec.inputs[1].queue_size = 20;
  spec.inputs[1].queue_policy = dcp::dataflow::QueuePolicy::backpressure;
  NodeInputs inputs(spec);
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(inputs.enqueue(input_on(0), t0)) << i;
  EXPECT_TRUE(inputs.enqueue(input_on(0), t0)) << "the 101st: max(10 x 5, 100) = 100";
  for (int i = 0; i < 200; ++i) EXPECT_FALSE(inputs.enqueue(input_on(1), t0)) << i;
  EXPECT_TRUE(inputs.enqueue(input_on(1), t0)) << "the 201st: 10 x 20";
  EXPECT_EQ(inputs.accounts()[0].dropped_queue_full, 1u);
  EXPECT_EQ(inputs.accounts()[1].dropped_queue_full, 1u);
  EXPECT_TRUE(inputs.accounts()[0].balanced(inputs.queue().queued(0)));
  EXPECT_TRUE(inputs.accounts()[1].balanced(inputs.queue().queued(1)));
  EXPECT_EQ(dcp::dataflow::backpressure_capacity(dcp::dataflow::kMaxQueueSize), 10 * dcp::dataflow::kMaxQueueSize);
}

}  // namespace
