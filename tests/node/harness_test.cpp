// Unit tests of the node API (dcp/node/node.hpp) through the in-process backend
// (dcp/node/node_harness.hpp): event order and statuses, the end of the stream, captured outputs
// and their metadata, output-id errors, closing outputs, and the output sender on its own thread.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <latch>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "dcp/core/channel.hpp"
#include "dcp/core/error_report.hpp"
#include "dcp/core/worker_pool.hpp"
#include "dcp/node/node.hpp"
#include "dcp/node/node_harness.hpp"
#include "support/hang_timeout.hpp"
#include "support/node_events.hpp"

namespace {

using namespace std::chrono_literals;
using dcp::EventStatus;
using dcp::testing::NodeHarness;

using dcp::test::event_as;
using dcp::test::kHangTimeout;
using dcp::test::message_of;

NodeHarness make_camera() { return NodeHarness("camera", {"tick", "settings"}, {"image", "status"}); }

/// A camera node and the harness that scripts it, fresh for each test.
class CameraNode : public ::testing::Test {
 protected:
  NodeHarness harness = make_camera();
  dcp::Node node = harness.node();
};
class NodeHarnessEvents : public CameraNode {};
class NodeHarnessOutputs : public CameraNode {};


// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

TEST_F(NodeHarnessEvents, ScriptedEvents_ArriveInOrderWithTheirData) {
  EXPECT_EQ(node.id, "camera");
  EXPECT_EQ(node.events.inputs(), (std::vector<std::string>{"tick", "settings"}));
  EXPECT_EQ(node.outputs.outputs(), (std::vector<std::string>{"image", "status"}));

  dcp::Metadata metadata;
  metadata.timestamp_ns = 1234;
  metadata.parameters["frame"] = std::int64_t{7};
  metadata.parameters["encoding"] = std::string("rgb8");
  harness.push_input("tick", "first", metadata);
  harness.push_input("settings", std::vector<std::uint8_t>{1, 2, 3});
  harness.push_error("upstream hiccup");
  harness.push_input_closed("tick");
  harness.push_all_inputs_closed();

  auto first = node.events.next();
  auto& tick = event_as<dcp::InputEvent>(first);
  EXPECT_EQ(tick.id, "tick");
  EXPECT_EQ(tick.data.as_string(), "first");
  EXPECT_EQ(tick.metadata, metadata);
  EXPECT_EQ(tick.metadata.get_int("frame"), 7);
  EXPECT_EQ(tick.metadata.get_str("encoding"), "rgb8");

  auto second = node.events.next();
  EXPECT_EQ(event_as<dcp::InputEvent>(second).data.to_vector(), (std::vector<std::uint8_t>{1, 2, 3}));
  auto third = node.events.next();
  EXPECT_EQ(event_as<dcp::ErrorEvent>(third).message, "upstream hiccup");
  auto fourth = node.events.next();
  EXPECT_EQ(event_as<dcp::InputClosedEvent>(fourth).id, "tick");
  auto fifth = node.events.next();
  EXPECT_TRUE(std::holds_alternative<dcp::AllInputsClosedEvent>(*fifth));

  EXPECT_EQ(node.events.next().status(), EventStatus::ended);
  EXPECT_EQ(node.events.try_next().status(), EventStatus::ended);
  EXPECT_EQ(node.events.next_for(1ms).status(), EventStatus::ended);
}

TEST_F(NodeHarnessEvents, NextForWithNothingScripted_TimesOut) {
  EXPECT_EQ(node.events.next_for(10ms).status(), EventStatus::timeout);
  EXPECT_EQ(node.events.next_for(0ms).status(), EventStatus::timeout);
  EXPECT_EQ(node.events.next_until(std::chrono::steady_clock::now() + 5ms).status(), EventStatus::timeout);
  EXPECT_EQ(node.events.next_until(std::chrono::system_clock::now() + 5ms).status(), EventStatus::timeout);
  harness.push_input("tick", "late");
  auto result = node.events.next_for(kHangTimeout);
  EXPECT_EQ(event_as<dcp::InputEvent>(result).data.as_string(), "late");
}

TEST_F(NodeHarnessEvents, TryNextWithNothingScripted_ReportsEmpty) {
  EXPECT_EQ(node.events.try_next().status(), EventStatus::empty);
  harness.push_input("tick", "now");
  auto result = node.events.try_next();
  EXPECT_EQ(event_as<dcp::InputEvent>(result).data.as_string(), "now");
  EXPECT_EQ(node.events.try_next().status(), EventStatus::empty);
}

TEST_F(NodeHarnessEvents, PushStop_StopFirstThenTheInputsPushedBeforeIt_ThenEnded_TheScriptIsClosed) {
  harness.push_input("tick", "a");
  harness.push_input("tick", "b");
  harness.push_stop();
  EXPECT_THROW(harness.push_input("tick", "too late"), std::logic_error);
  EXPECT_THROW(harness.push_stop(), std::logic_error);

  auto stop = node.events.next();
  EXPECT_EQ(event_as<dcp::StopEvent>(stop).cause, dcp::StopCause::requested);
  auto first = node.events.next();
  EXPECT_EQ(event_as<dcp::InputEvent>(first).data.as_string(), "a");
  auto second = node.events.next();
  EXPECT_EQ(event_as<dcp::InputEvent>(second).data.as_string(), "b");
  EXPECT_EQ(node.events.next().status(), EventStatus::ended);
  EXPECT_EQ(node.events.next().status(), EventStatus::ended);
}

TEST_F(NodeHarnessEvents, End_DeliversScriptedEventsThenEnded) {
  harness.push_input("tick", "1");
  harness.push_input("tick", "2");
  harness.end();
  harness.end();  // idempotent
  EXPECT_THROW(harness.push_error("after end"), std::logic_error);

  std::vector<std::string> seen;
  for (dcp::Event& event : node.events) seen.emplace_back(std::get<dcp::InputEvent>(event).data.as_string());
  EXPECT_EQ(seen, (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(node.events.next().status(), EventStatus::ended);
}

TEST_F(NodeHarnessEvents, PushStop_ControlEventsPushedBeforeIt_AreDropped_OnlyInputsFollowStop) {
  harness.push_error("before stop");
  harness.push_input("tick", "kept");
  harness.push_input_closed("tick");
  harness.push_stop(dcp::StopCause::all_inputs_closed);
  auto stop = node.events.next();
  EXPECT_EQ(event_as<dcp::StopEvent>(stop).cause, dcp::StopCause::all_inputs_closed);
  auto input = node.events.next();
  EXPECT_EQ(event_as<dcp::InputEvent>(input).data.as_string(), "kept");
  EXPECT_EQ(node.events.next().status(), EventStatus::ended);
}

TEST_F(NodeHarnessEvents, PushStopWhileTheNodeWaits_WakesItWithStop) {
  std::jthread pusher([this] { harness.push_stop(); });
  auto stop = node.events.next_for(kHangTimeout);
  EXPECT_TRUE(stop.ok() && std::holds_alternative<dcp::StopEvent>(stop.event())) << "not an empty stream's end";
  EXPECT_EQ(node.events.next().status(), EventStatus::ended);
}

TEST_F(NodeHarnessEvents, RangeFor_EndsAfterStop) {
  harness.push_input("tick", "x");
  harness.push_stop();
  int events = 0;
  for (dcp::Event& event : node.events) {
    ++events;
    (void)event;
  }
  EXPECT_EQ(events, 2);  // the stop, then the input queued before it
}

TEST(NodeHarnessLifetime, HarnessDestroyedWhileNodeWaits_StreamEnds) {
  auto harness = std::make_unique<NodeHarness>(make_camera());
  dcp::Node node = harness->node();
  std::latch waiting(1);
  dcp::EventStatus seen = EventStatus::event;
  std::thread event_loop([&] {
    waiting.count_down();
    seen = node.events.next().status();  // blocks until the harness goes
  });
  waiting.wait();
  harness.reset();
  event_loop.join();
  EXPECT_EQ(seen, EventStatus::ended);
  EXPECT_NO_THROW(node.outputs.send("status", "nobody listens"));  // the store outlives the harness
}

TEST_F(NodeHarnessEvents, NegativeTimeout_ThrowsInvalidArgument) {
  EXPECT_THROW((void)node.events.next_for(-1ms), std::invalid_argument);
}

TEST_F(NodeHarnessEvents, EventOfAResultWithoutEvent_ThrowsLogicErrorNamingTheStatus) {
  dcp::EventResult result(EventStatus::timeout);
  EXPECT_FALSE(result);
  EXPECT_TRUE(result.is_timeout());
  EXPECT_EQ(message_of([&] { (void)result.event(); }), "dcp::EventResult::event: no event (status: timeout)");
  EXPECT_THROW(dcp::EventResult{EventStatus::event}, std::logic_error);
}

TEST_F(NodeHarnessEvents, MovedFromHalves_ThrowLogicError) {
  dcp::EventStream events = std::move(node.events);
  dcp::OutputSender outputs = std::move(node.outputs);
  EXPECT_FALSE(node.events.valid());
  EXPECT_FALSE(node.outputs.valid());
  EXPECT_THROW((void)node.events.next(), std::logic_error);
  EXPECT_THROW((void)node.events.try_next(), std::logic_error);
  EXPECT_THROW(node.outputs.send("status", "x"), std::logic_error);
  EXPECT_TRUE(events.valid());
  EXPECT_TRUE(outputs.valid());
}

// ---------------------------------------------------------------------------------------------
// Script errors
// ---------------------------------------------------------------------------------------------

TEST(NodeHarnessScript, UndeclaredInput_ThrowsInvalidArgumentNamingIt) {
  NodeHarness harness = make_camera();
  EXPECT_EQ(message_of([&] { harness.push_input("lidar", "x"); }),
            "dcp::testing::NodeHarness::push_input: input 'lidar' is not declared by node 'camera' "
            "(declared inputs: tick, settings)");
  EXPECT_THROW(harness.push_input_closed("lidar"), std::invalid_argument);
}

TEST(NodeHarnessScript, InputAfterItsInputClosed_ThrowsLogicError) {
  NodeHarness harness = make_camera();
  harness.push_input_closed("tick");
  EXPECT_THROW(harness.push_input("tick", "x"), std::logic_error);
  EXPECT_NO_THROW(harness.push_input("settings", "x"));
}

TEST(NodeHarnessScript, InputRecovered_ReopensAClosedInput_OnAnOpenOneThrowsLogicError) {
  NodeHarness harness = make_camera();
  EXPECT_THROW(harness.push_input_recovered("tick"), std::logic_error) << "tick is open";
  EXPECT_THROW(harness.push_input_recovered("lidar"), std::invalid_argument);
  harness.push_input("tick", "before");
  harness.push_input_closed("tick");
  harness.push_input_recovered("tick");
  harness.push_input("tick", "after");
  harness.end();
  dcp::Node node = harness.node();
  std::vector<std::string> seen;
  for (dcp::Event& event : node.events) {
    if (auto* input = std::get_if<dcp::InputEvent>(&event)) seen.push_back("input " + std::string(input->data.as_string()));
    if (auto* closed = std::get_if<dcp::InputClosedEvent>(&event)) seen.push_back("closed " + closed->id);
    if (auto* recovered = std::get_if<dcp::InputRecoveredEvent>(&event)) seen.push_back("recovered " + recovered->id);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"input before", "closed tick", "recovered tick", "input after"}));
}

TEST(NodeHarnessScript, NodeRestartedKeepsInputsOpen_NodeFailedIsFollowedByInputClosedOfItsInputs) {
  NodeHarness harness = make_camera();
  EXPECT_THROW(harness.push_node_failed("driver", {"lidar"}, "exit code 3"), std::invalid_argument);
  harness.push_node_restarted("driver");
  harness.push_input("tick", "still open");
  harness.push_node_failed("driver", {"tick"}, "exit code 3");
  EXPECT_THROW(harness.push_input("tick", "closed now"), std::logic_error);
  harness.end();
  dcp::Node node = harness.node();
  std::vector<std::string> seen;
  for (dcp::Event& event : node.events) {
    if (auto* input = std::get_if<dcp::InputEvent>(&event)) seen.push_back("input " + std::string(input->data.as_string()));
    if (auto* closed = std::get_if<dcp::InputClosedEvent>(&event)) seen.push_back("closed " + closed->id);
    if (auto* restarted = std::get_if<dcp::NodeRestartedEvent>(&event)) seen.push_back("restarted " + restarted->node_id);
    if (auto* failed = std::get_if<dcp::NodeFailedEvent>(&event)) {
      seen.push_back("failed " + failed->node_id + " " + failed->inputs.at(0) + " " + failed->error);
    }
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"restarted driver", "input still open", "failed driver tick exit code 3",
                                            "closed tick"}));
}

TEST(NodeHarnessScript, NodeTakenTwice_ThrowsLogicError) {
  NodeHarness harness = make_camera();
  dcp::Node node = harness.node();
  EXPECT_THROW((void)harness.node(), std::logic_error);
}

// ---------------------------------------------------------------------------------------------
// Outputs
// ---------------------------------------------------------------------------------------------

TEST_F(NodeHarnessOutputs, SentOutputs_AreCapturedInOrderWithMetadata) {

  dcp::Metadata explicit_time;
  explicit_time.timestamp_ns = 42;
  explicit_time.parameters["width"] = std::int64_t{640};
  explicit_time.parameters["scale"] = 0.5;
  explicit_time.parameters["tags"] = std::vector<std::string>{"a", "b"};
  const auto before = std::chrono::system_clock::now();
  node.outputs.send("status", "ready");
  node.outputs.send("image", std::vector<std::uint8_t>{9, 8, 7}, explicit_time);
  node.outputs.send("image", dcp::Payload::from_string("payload"));
  const auto after = std::chrono::system_clock::now();

  const auto outputs = harness.outputs();
  ASSERT_EQ(outputs.size(), 3u);
  EXPECT_EQ(outputs[0].id, "status");
  EXPECT_EQ(outputs[0].text(), "ready");
  const auto ns = [](auto t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  };
  EXPECT_GE(outputs[0].metadata.timestamp_ns, ns(before));  // a zero timestamp is filled in
  EXPECT_LE(outputs[0].metadata.timestamp_ns, ns(after));
  EXPECT_TRUE(outputs[0].metadata.parameters.empty());
  EXPECT_EQ(outputs[1].id, "image");
  EXPECT_EQ(outputs[1].data, (std::vector<std::uint8_t>{9, 8, 7}));
  EXPECT_EQ(outputs[1].metadata, explicit_time);  // an explicit timestamp is kept
  EXPECT_EQ(outputs[2].text(), "payload");
}

TEST_F(NodeHarnessOutputs, NextOutput_ReturnsEachOutputOnceThenTimesOut) {
  EXPECT_FALSE(harness.next_output(1ms).has_value());
  node.outputs.send("status", "one");
  node.outputs.send("status", "two");
  EXPECT_EQ(harness.next_output(kHangTimeout)->text(), "one");
  EXPECT_EQ(harness.next_output(kHangTimeout)->text(), "two");
  EXPECT_FALSE(harness.next_output(1ms).has_value());
  EXPECT_EQ(harness.outputs().size(), 2u);  // the snapshot still has both
}

TEST_F(NodeHarnessOutputs, UndeclaredOutput_ThrowsNodeErrorNamingItAndTheDeclaredOutputs) {
  EXPECT_EQ(message_of([&] { node.outputs.send("imgae", "typo"); }),
            "output 'imgae' is not declared by node 'camera' (declared outputs: image, status)");
  EXPECT_THROW(node.outputs.send_with("nope", 3, [](std::span<std::uint8_t>) {}), dcp::NodeError);
  EXPECT_TRUE(harness.outputs().empty());

  NodeHarness silent("sink", {"in"}, {});
  dcp::Node sink = silent.node();
  EXPECT_EQ(message_of([&] { sink.outputs.send("out", "x"); }),
            "output 'out' is not declared by node 'sink' (declared outputs: none)");
}

TEST_F(NodeHarnessOutputs, CloseOutputs_RecordsThemAndLaterSendsThrow) {
  node.outputs.close_outputs({"status"});
  EXPECT_TRUE(node.outputs.is_closed("status"));
  EXPECT_FALSE(node.outputs.is_closed("image"));
  EXPECT_EQ(harness.closed_outputs(), (std::vector<std::string>{"status"}));
  EXPECT_EQ(message_of([&] { node.outputs.send("status", "x"); }),
            "output 'status' of node 'camera' is closed (close_outputs was called for it)");
  node.outputs.send("image", "still open");

  node.outputs.close_outputs({"status"});  // closing again does nothing
  const std::vector<std::string> both{"image", "status"};
  node.outputs.close_outputs(both);
  EXPECT_EQ(harness.closed_outputs(), (std::vector<std::string>{"status", "image"}));
  EXPECT_THROW(node.outputs.send("image", "x"), dcp::NodeError);
  EXPECT_EQ(harness.outputs().size(), 1u);
}

TEST_F(NodeHarnessOutputs, CloseOutputsWithAnUndeclaredId_ThrowsAndClosesNothing) {
  EXPECT_EQ(message_of([&] {
              node.outputs.close_outputs({"image", "bogus"});
            }),
            "cannot close output 'bogus': it is not declared by node 'camera' (declared outputs: image, status)");
  EXPECT_FALSE(node.outputs.is_closed("image"));
  EXPECT_TRUE(harness.closed_outputs().empty());
}

TEST_F(NodeHarnessOutputs, SendWith_CapturesWhatFillWrote) {
  constexpr std::size_t kLarge = 100'000;
  node.outputs.send_with("image", kLarge,
                         [](std::span<std::uint8_t> bytes) { std::iota(bytes.begin(), bytes.end(), std::uint8_t{0}); });
  node.outputs.send_with("status", 0, [](std::span<std::uint8_t> bytes) { EXPECT_TRUE(bytes.empty()); });
  const auto outputs = harness.outputs();
  ASSERT_EQ(outputs.size(), 2u);
  ASSERT_EQ(outputs[0].data.size(), kLarge);
  for (std::size_t i = 0; i < kLarge; ++i) ASSERT_EQ(outputs[0].data[i], static_cast<std::uint8_t>(i));
  EXPECT_TRUE(outputs[1].data.empty());
}

TEST_F(NodeHarnessOutputs, SentPayload_IsKeptAsHandedOver_BytesAndTextLeaveItEmpty) {
  const dcp::Payload made = node.outputs.make_payload(3, [](std::span<std::uint8_t> bytes) {
    std::iota(bytes.begin(), bytes.end(), std::uint8_t{1});
  });
  node.outputs.send("image", made);
  node.outputs.send("status", "text");
  const auto outputs = harness.outputs();
  ASSERT_EQ(outputs.size(), 2u);
  EXPECT_EQ(outputs[0].data, (std::vector<std::uint8_t>{1, 2, 3}));
  EXPECT_EQ(outputs[0].payload.data(), made.data());  // the same buffer: nothing copied it
  EXPECT_TRUE(outputs[1].payload.empty());
  EXPECT_EQ(outputs[1].text(), "text");
}

TEST_F(NodeHarnessOutputs, SendWithThrowingFill_SendsNothing) {
  EXPECT_THROW(node.outputs.send_with("image", 10, [](std::span<std::uint8_t>) { throw std::runtime_error("no"); }),
               std::runtime_error);
  EXPECT_TRUE(harness.outputs().empty());
}

TEST_F(NodeHarnessOutputs, UnsignedAndSignedLimitValues_ReachTheNodeAndTheCaptureUnchanged) {
  dcp::Metadata limits;
  limits.set("u_zero", std::uint64_t{0})
      .set("u_max", std::numeric_limits<std::uint64_t>::max())
      .set("i_min", std::numeric_limits<std::int64_t>::min())
      .set("size", std::size_t{640} * 480);
  harness.push_input("tick", "x", limits);
  auto result = node.events.next();
  const dcp::Metadata& received = event_as<dcp::InputEvent>(result).metadata;
  EXPECT_EQ(received, limits);
  EXPECT_EQ(received.get_uint("u_max"), std::numeric_limits<std::uint64_t>::max());

  node.outputs.send("status", "y", received);
  const auto outputs = harness.outputs();
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].metadata.parameters, limits.parameters);
  EXPECT_EQ(outputs[0].metadata.get_uint("u_zero"), 0u);
  EXPECT_EQ(outputs[0].metadata.get_int("i_min"), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(outputs[0].metadata.get_uint("size"), 640u * 480u);
}

TEST_F(NodeHarnessOutputs, TimestampParameters_ReachTheNodeAndTheCaptureAsTimestamps) {
  dcp::Metadata stamped;
  stamped.set("captured", dcp::Timestamp{1'700'000'000'123'456'789})
      .set("min", dcp::Timestamp{std::numeric_limits<std::int64_t>::min()})
      .set("seq", std::int64_t{1'700'000'000'123'456'789});
  harness.push_input("tick", "x", stamped);
  auto result = node.events.next();
  const dcp::Metadata& received = event_as<dcp::InputEvent>(result).metadata;
  EXPECT_EQ(received, stamped);
  EXPECT_EQ(received.get_timestamp("captured"), dcp::Timestamp{1'700'000'000'123'456'789});

  node.outputs.send("status", "y", received);
  const auto outputs = harness.outputs();
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].metadata.parameters, stamped.parameters);  // value and alternative
  EXPECT_TRUE(std::holds_alternative<dcp::Timestamp>(outputs[0].metadata.parameters.at("min")));
  EXPECT_EQ(outputs[0].metadata.get_timestamp("seq"), std::nullopt);
}

TEST_F(NodeHarnessOutputs, MetadataBeyondTheLimits_ThrowsInvalidArgument) {
  dcp::Metadata many;
  for (std::size_t i = 0; i <= dcp::kMaxParameters; ++i) many.parameters["p" + std::to_string(i)] = true;
  EXPECT_THROW(node.outputs.send("status", "x", many), std::invalid_argument);
  dcp::Metadata long_key;
  long_key.parameters[std::string(dcp::kMaxParameterKeyLength + 1, 'k')] = true;
  EXPECT_THROW(node.outputs.send("status", "x", long_key), std::invalid_argument);
  EXPECT_TRUE(harness.outputs().empty());
}

// The shape of every dcp node: the event loop hands work to an output thread that owns the sender.
TEST(NodeHarnessThreads, OutputSenderOnAnotherThread_WhileTheEventLoopRuns) {
  NodeHarness harness = make_camera();
  dcp::Node node = harness.node();
  auto [work_tx, work_rx] = dcp::unbounded<std::string>();

  std::thread output_thread([out = std::move(node.outputs), rx = std::move(work_rx)]() mutable {
    for (std::string& text : rx) out.send("status", "echo:" + text);
    out.close_outputs({"status", "image"});
  });
  std::thread event_loop([events = std::move(node.events), tx = std::move(work_tx)]() mutable {
    for (dcp::Event& event : events) {
      if (auto* input = std::get_if<dcp::InputEvent>(&event)) tx.send(std::string(input->data.as_string()));
    }
    tx.close();  // the output thread drains, closes the outputs and ends
  });

  constexpr int kMessages = 200;
  for (int i = 0; i < kMessages; ++i) {
    harness.push_input("tick", std::to_string(i));
    if (i % 10 == 0) {  // sometimes wait for the answer, sometimes run ahead of the node
      auto answer = harness.next_output(kHangTimeout);
      ASSERT_TRUE(answer.has_value());
    }
  }
  harness.push_stop();
  event_loop.join();
  output_thread.join();

  const auto outputs = harness.outputs();
  ASSERT_EQ(outputs.size(), static_cast<std::size_t>(kMessages));
  for (int i = 0; i < kMessages; ++i)
    EXPECT_EQ(outputs[static_cast<std::size_t>(i)].text(), "echo:" + std::to_string(i));
  EXPECT_EQ(harness.closed_outputs(), (std::vector<std::string>{"status", "image"}));
}

TEST(NodeHarness, ReportedErrors_CountsWhatTheNodeReportedSinceTheHarnessWasMade) {
  dcp::report_error("before", "not this harness's");
  dcp::testing::NodeHarness harness("worker", {}, {});
  EXPECT_EQ(harness.reported_errors(), 0u);
  const dcp::ErrorReporter previous = dcp::set_error_reporter([](std::string_view, std::string_view) noexcept {});
  {
    dcp::WorkerPool pool({.threads = 1, .name = "lost"});
    ASSERT_TRUE(pool.post([] { throw std::runtime_error("result lost"); }));
    ASSERT_TRUE(pool.post([] { throw std::runtime_error("another"); }));
  }  // drained: both reported
  dcp::set_error_reporter(previous);
  EXPECT_EQ(harness.reported_errors(), 2u);
}

}  // namespace
