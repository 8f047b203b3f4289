// Tests of the Dora backend (node/src/dora/dora_backend.hpp) against the fake Dora C++ node API
// (fake_dora/): init_node()'s choice of backend, every Dora event type, timeouts and polls, sends,
// metadata both ways, closing outputs, Dora's errors as NodeError, and the two halves on two threads.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <limits>
#include <numeric>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "dcp/node/node.hpp"
#include "dora/dora_backend.hpp"
#include "fake_dora.hpp"
#include "support/hang_timeout.hpp"
#include "support/node_events.hpp"

namespace {

using namespace std::chrono_literals;
using dcp::EventStatus;

using dcp::test::error_of;
using dcp::test::event_as;
using dcp::test::kHangTimeout;
using dcp::test::message_of;
using dcp::test::node_error_of;

// What Dora's daemon puts in DORA_NODE_CONFIG (serde_yaml of NodeConfig), shortened.
constexpr const char* kProcessorConfig = R"(dataflow_id: 01931c8c-5f3e-7a10-9a55-3c1f3b7e2d11
node_id: processor
run_config:
  inputs:
    imu:
      source: sensors/imu
      queue_size: 50
    tick: dora/timer/millis/500
  outputs:
  - command
  - status
daemon_communication: !Tcp
  socket_addr: 127.0.0.1:53290
dataflow_descriptor:
  nodes:
  - id: processor
    path: ./processor
dynamic: false
write_events_to: null
)";

// Two inputs fed by nodes, and a timer.
constexpr const char* kTwoDataInputsConfig = R"(node_id: fusion
run_config:
  inputs:
    imu: sensors/imu
    lidar:
      source: sensors/lidar
    tick: dora/timer/millis/100
  outputs: []
)";

constexpr const char* kSingleInputConfig = R"(node_id: sink
run_config:
  inputs:
    data: source/out
  outputs: []
)";

std::vector<std::uint8_t> bytes(std::string_view text) { return {text.begin(), text.end()}; }

/// One parameter of every type both dcp and Dora have, as a map of either side
/// (dcp::Metadata::parameters or fake_dora::Parameters): the same values go out and come back.
template <class Parameters>
Parameters one_of_each_shared_type() {
  return {{"frame", std::int64_t{-7}},
          {"latched", false},
          {"speed", 1.25},
          {"reason", std::string("estop")},
          {"ids", std::vector<std::int64_t>{1, 2, 3}},
          {"pose", std::vector<double>{0.5, 1.5}},
          {"tags", std::vector<std::string>{"x", "", "z"}}};
}

/// The id of the next event, which must be an InputClosedEvent.
std::string closed_id(dcp::Node& node) {
  dcp::EventResult result = node.events.next();
  return event_as<dcp::InputClosedEvent>(result).id;
}

/// Each test: a fresh fake Dora, the environment of a node started by Dora's daemon.
class DoraBackend : public dcp::test::CleanNodeEnvironment {
 protected:
  void SetUp() override {
    CleanNodeEnvironment::SetUp();
    fake_dora::reset();
    ::setenv("DORA_NODE_CONFIG", kProcessorConfig, 1);
  }
};

// ---------------------------------------------------------------------------------------------
// init_node()
// ---------------------------------------------------------------------------------------------

TEST_F(DoraBackend, InitNodeUnderDora_TakesIdInputsAndOutputsFromTheNodeConfig) {
  dcp::Node node = dcp::init_node();
  EXPECT_EQ(fake_dora::calls().init, 1u);
  EXPECT_EQ(node.id, "processor");
  EXPECT_EQ(node.events.inputs(), (std::vector<std::string>{"imu", "tick"}));
  EXPECT_EQ(node.outputs.outputs(), (std::vector<std::string>{"command", "status"}));
  EXPECT_EQ(node.outputs.node_id(), "processor");
}

TEST_F(DoraBackend, InitNodeWithRunnerSocketToo_TheLocalRunnerWins) {
  ::setenv("DCP_RUNNER_SOCKET", "/nonexistent/dcp-runner.sock", 1);
  ::setenv("DCP_NODE_ID", "processor", 1);
  ::setenv("DCP_NODE_SECRET", "secret", 1);
  const std::string error = message_of([] { (void)dcp::init_node(); });
  EXPECT_NE(error.find("cannot connect to the dcp runner"), std::string::npos) << error;
  EXPECT_EQ(fake_dora::calls().init, 0u);
}

TEST_F(DoraBackend, InitNodeWhenDoraRefuses_NodeErrorCarriesDorasMessage) {
  fake_dora::fail_init("could not connect to the dora daemon at 127.0.0.1:53290");
  const std::string message = node_error_of([] { (void)dcp::init_node(); });
  EXPECT_NE(message.find("node 'processor'"), std::string::npos) << message;
  EXPECT_NE(message.find("init_dora_node"), std::string::npos) << message;
  EXPECT_NE(message.find("could not connect to the dora daemon at 127.0.0.1:53290"), std::string::npos) << message;
}

TEST_F(DoraBackend, InitNodeWithUnreadableNodeConfig_NodeErrorNamesTheVariable_DoraNotCalled) {
  ::setenv("DORA_NODE_CONFIG", "node_id: [unterminated", 1);
  const std::string message = node_error_of([] { (void)dcp::init_node(); });
  EXPECT_NE(message.find("DORA_NODE_CONFIG"), std::string::npos) << message;
  EXPECT_EQ(fake_dora::calls().init, 0u);
}

TEST(DoraTimestamp, Ntp64_ConvertsToNanosecondsSinceTheEpoch) {
  EXPECT_EQ(dcp::detail::dora_timestamp_to_ns(fake_dora::ntp64(0, 0)), 0);
  EXPECT_EQ(dcp::detail::dora_timestamp_to_ns(fake_dora::ntp64(1'700'000'000, 0x8000'0000u)),
            1'700'000'000'500'000'000);
  EXPECT_EQ(dcp::detail::dora_timestamp_to_ns(fake_dora::ntp64(1, 1)), 1'000'000'000);  // 0.23 ns: truncated
  EXPECT_EQ(dcp::detail::dora_timestamp_to_ns(fake_dora::ntp64(2, 0xFFFF'FFFFu)), 2'999'999'999);
  EXPECT_EQ(dcp::detail::dora_timestamp_to_ns(fake_dora::ntp64(0xFFFF'FFFFu, 0xFFFF'FFFFu)),
            std::int64_t{0xFFFF'FFFF} * 1'000'000'000 + 999'999'999);
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

TEST_F(DoraBackend, Input_IdBytesTimestampAndEveryParameterTypeArrive) {
  fake_dora::push_input("imu", bytes("accel"), fake_dora::ntp64(1'700'000'000, 0x4000'0000u),
                        {{"frame", std::int64_t{42}},
                         {"valid", true},
                         {"gain", 0.5},
                         {"encoding", std::string("raw")},
                         {"shape", std::vector<std::int64_t>{3, 4}},
                         {"weights", std::vector<double>{0.25, -1.5}},
                         {"labels", std::vector<std::string>{"a", "b"}},
                         {"captured", fake_dora::TimestampNs{1'699'999'999'123'456'789}}});
  dcp::Node node = dcp::init_node();
  dcp::EventResult result = node.events.next();
  auto& input = event_as<dcp::InputEvent>(result);
  EXPECT_EQ(input.id, "imu");
  EXPECT_EQ(input.data.as_string(), "accel");
  EXPECT_EQ(input.metadata.timestamp_ns, 1'700'000'000'250'000'000);
  EXPECT_EQ(input.metadata.get_int("frame"), 42);
  EXPECT_EQ(input.metadata.get_bool("valid"), true);
  EXPECT_EQ(input.metadata.get_float("gain"), 0.5);
  EXPECT_EQ(input.metadata.get_str("encoding"), "raw");
  EXPECT_EQ(std::get<std::vector<std::int64_t>>(input.metadata.parameters.at("shape")),
            (std::vector<std::int64_t>{3, 4}));
  EXPECT_EQ(std::get<std::vector<double>>(input.metadata.parameters.at("weights")), (std::vector<double>{0.25, -1.5}));
  EXPECT_EQ(std::get<std::vector<std::string>>(input.metadata.parameters.at("labels")),
            (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(input.metadata.get_timestamp("captured"), dcp::Timestamp{1'699'999'999'123'456'789});
  EXPECT_EQ(input.metadata.get_int("captured"), std::nullopt);  // a Dora timestamp is no integer
  EXPECT_EQ(input.metadata.parameters.size(), 8u);
}

TEST_F(DoraBackend, Input_PayloadAdoptsDorasVecWithoutCopying_BytesIntactAfterTheNodeIsGone) {
  std::vector<std::uint8_t> large(1 << 20);
  std::iota(large.begin(), large.end(), std::uint8_t{0});
  large[12345] = 0xAB;
  fake_dora::push_input("imu", large);
  dcp::Payload kept;
  {
    dcp::Node node = dcp::init_node();
    dcp::EventResult result = node.events.next();
    kept = event_as<dcp::InputEvent>(result).data;
    EXPECT_EQ(kept.data(), fake_dora::last_input_buffer()) << "the payload views the Vec Dora handed over";
  }
  // The node, its stream and the event are gone; the payload keeps Dora's Vec alive.
  ASSERT_EQ(kept.size(), large.size());
  EXPECT_TRUE(std::equal(large.begin(), large.end(), kept.bytes().begin()));
}

TEST_F(DoraBackend, Input_WithoutBytes_IsAnEmptyPayload) {
  fake_dora::push_input("tick", {});
  dcp::Node node = dcp::init_node();
  dcp::EventResult result = node.events.next();
  auto& input = event_as<dcp::InputEvent>(result);
  EXPECT_EQ(input.id, "tick");
  EXPECT_TRUE(input.data.empty());
}

// Dora keeps a date-time; one that i64 ns cannot hold (a Rust node may set one) makes the bridge's
// get_timestamp throw: that input becomes an ErrorEvent naming it, and the stream goes on.
TEST_F(DoraBackend, InputTimestampBeyondI64Nanoseconds_ErrorEventNamingTheInputThenTheStreamGoesOn) {
  fake_dora::push_input("imu", bytes("far"), 0, {{"captured", fake_dora::TimestampNs{0, true}}});
  fake_dora::push_input("imu", bytes("next"));
  dcp::Node node = dcp::init_node();
  dcp::EventResult first = node.events.next();
  const std::string message = event_as<dcp::ErrorEvent>(first).message;
  EXPECT_NE(message.find("metadata of input 'imu'"), std::string::npos) << message;
  EXPECT_NE(message.find("timestamp out of range"), std::string::npos) << message;
  dcp::EventResult second = node.events.next();
  EXPECT_EQ(event_as<dcp::InputEvent>(second).data.as_string(), "next");
}

TEST_F(DoraBackend, InputDoraCannotGiveAsBytes_ErrorEventThenTheStreamGoesOn) {
  fake_dora::push_input_not_bytes("imu", "unsupported input arrow type Utf8; use event_as_arrow_input");
  fake_dora::push_input("imu", bytes("next"));
  dcp::Node node = dcp::init_node();
  dcp::EventResult first = node.events.next();
  const std::string message = event_as<dcp::ErrorEvent>(first).message;
  EXPECT_NE(message.find("unsupported input arrow type Utf8"), std::string::npos) << message;
  dcp::EventResult second = node.events.next();
  EXPECT_EQ(event_as<dcp::InputEvent>(second).data.as_string(), "next");
}

TEST_F(DoraBackend, InputClosedWithSeveralDataInputs_IdIsEmpty_DoraDoesNotSayWhich) {
  ::setenv("DORA_NODE_CONFIG", kTwoDataInputsConfig, 1);
  fake_dora::push(DoraEventType::InputClosed);
  dcp::Node node = dcp::init_node();
  dcp::EventResult result = node.events.next();
  EXPECT_EQ(event_as<dcp::InputClosedEvent>(result).id, "");
  fake_dora::push(DoraEventType::Stop);
  EXPECT_TRUE(std::holds_alternative<dcp::StopEvent>(node.events.next().event())) << "the stream goes on";
}

TEST_F(DoraBackend, InputClosedWithOneDataInputBesidesATimer_IdIsTheDataInput_EveryTime) {
  fake_dora::push(DoraEventType::InputClosed);  // kProcessorConfig: imu (from sensors) and tick (a timer)
  fake_dora::push(DoraEventType::InputClosed);  // input_timeout: closed, recovered, closed again
  dcp::Node node = dcp::init_node();
  EXPECT_EQ(closed_id(node), "imu");
  EXPECT_EQ(closed_id(node), "imu");
}

TEST_F(DoraBackend, InputClosedAfterNodeFailedNamingOneInput_IdIsThatInput_ForTheNextCloseOnly) {
  ::setenv("DORA_NODE_CONFIG", kTwoDataInputsConfig, 1);
  fake_dora::push_node_failed("lidar_driver", "crashed", {"lidar"});
  fake_dora::push(DoraEventType::InputClosed);
  fake_dora::push(DoraEventType::InputClosed);
  dcp::Node node = dcp::init_node();
  dcp::EventResult failed = node.events.next();
  (void)event_as<dcp::ErrorEvent>(failed);
  EXPECT_EQ(closed_id(node), "lidar");
  EXPECT_EQ(closed_id(node), "") << "a later close is not known to be lidar";
}

TEST_F(DoraBackend, InputClosedAfterNodeFailedNamingSeveralInputs_IdIsEmpty) {
  ::setenv("DORA_NODE_CONFIG", kTwoDataInputsConfig, 1);
  fake_dora::push_node_failed("sensors", "crashed", {"imu", "lidar"});
  fake_dora::push(DoraEventType::InputClosed);
  dcp::Node node = dcp::init_node();
  dcp::EventResult failed = node.events.next();
  (void)event_as<dcp::ErrorEvent>(failed);
  EXPECT_EQ(closed_id(node), "");
}

TEST_F(DoraBackend, InputClosedWithASingleInput_IdIsThatInput) {
  ::setenv("DORA_NODE_CONFIG", kSingleInputConfig, 1);
  fake_dora::push(DoraEventType::InputClosed);
  dcp::Node node = dcp::init_node();
  EXPECT_EQ(node.events.inputs(), std::vector<std::string>{"data"});
  EXPECT_TRUE(node.outputs.outputs().empty());
  dcp::EventResult result = node.events.next();
  EXPECT_EQ(event_as<dcp::InputClosedEvent>(result).id, "data");
}

TEST_F(DoraBackend, StopThenQueuedInputs_InputsStillDelivered_ThenEndedAtDorasStreamEnd_DoraIsNotAskedAgain) {
  fake_dora::push(DoraEventType::Stop);
  fake_dora::push_input("imu", bytes("queued 1"));
  fake_dora::push_input("imu", bytes("queued 2"));
  fake_dora::close_stream();  // Dora's stream ends after the drained inputs: the C++ API's AllInputsClosed
  dcp::Node node = dcp::init_node();
  dcp::EventResult stop = node.events.next();
  EXPECT_EQ(event_as<dcp::StopEvent>(stop).cause, dcp::StopCause::unknown) << "the C++ API gives no cause";
  dcp::EventResult first = node.events.next();
  EXPECT_EQ(event_as<dcp::InputEvent>(first).data.as_string(), "queued 1");
  dcp::EventResult second = node.events.next();
  EXPECT_EQ(event_as<dcp::InputEvent>(second).data.as_string(), "queued 2");
  EXPECT_EQ(node.events.next().status(), EventStatus::ended) << "no AllInputsClosedEvent after Stop";
  const std::size_t receives = fake_dora::calls().receives();
  EXPECT_EQ(node.events.next().status(), EventStatus::ended);
  EXPECT_EQ(node.events.try_next().status(), EventStatus::ended);
  EXPECT_EQ(node.events.next_for(kHangTimeout).status(), EventStatus::ended);
  EXPECT_EQ(fake_dora::calls().receives(), receives);
}

TEST_F(DoraBackend, AfterStop_OtherEventsSkipped_OnlyInputsUntilTheEnd) {
  fake_dora::push(DoraEventType::Stop);
  fake_dora::push(DoraEventType::InputClosed);
  fake_dora::push(DoraEventType::Stop);
  fake_dora::push_input("imu", bytes("queued"));
  fake_dora::close_stream();
  dcp::Node node = dcp::init_node();
  EXPECT_TRUE(std::holds_alternative<dcp::StopEvent>(node.events.next().event()));
  dcp::EventResult input = node.events.next();
  EXPECT_EQ(event_as<dcp::InputEvent>(input).data.as_string(), "queued");
  EXPECT_EQ(node.events.next().status(), EventStatus::ended);
}

TEST_F(DoraBackend, StopAfterEveryDataInputClosed_CauseIsAllInputsClosed) {
  ::setenv("DORA_NODE_CONFIG", "node_id: fusion\nrun_config:\n  inputs:\n    imu: sensors/imu\n    lidar: sensors/lidar\n",
           1);  // no timer: Dora stops it once both close
  fake_dora::push(DoraEventType::InputClosed);
  fake_dora::push(DoraEventType::InputClosed);
  fake_dora::push(DoraEventType::Stop);  // how Dora reports "all inputs closed"
  fake_dora::close_stream();
  dcp::Node node = dcp::init_node();
  EXPECT_EQ(closed_id(node), "");
  EXPECT_EQ(closed_id(node), "");
  dcp::EventResult stop = node.events.next();
  EXPECT_EQ(event_as<dcp::StopEvent>(stop).cause, dcp::StopCause::all_inputs_closed);
  EXPECT_EQ(node.events.next().status(), EventStatus::ended);
}

TEST_F(DoraBackend, StopAfterSomeDataInputsClosed_CauseIsUnknown) {
  ::setenv("DORA_NODE_CONFIG", kTwoDataInputsConfig, 1);
  fake_dora::push(DoraEventType::InputClosed);
  fake_dora::push(DoraEventType::Stop);
  dcp::Node node = dcp::init_node();
  EXPECT_EQ(closed_id(node), "");
  dcp::EventResult stop = node.events.next();
  EXPECT_EQ(event_as<dcp::StopEvent>(stop).cause, dcp::StopCause::unknown);
}

TEST_F(DoraBackend, StopOfANodeReadingATimer_CauseIsUnknown_EvenAfterItsDataInputClosed) {
  fake_dora::push(DoraEventType::InputClosed);  // kProcessorConfig: imu and a timer, which never closes
  fake_dora::push(DoraEventType::Stop);
  dcp::Node node = dcp::init_node();
  EXPECT_EQ(closed_id(node), "imu");
  dcp::EventResult stop = node.events.next();
  EXPECT_EQ(event_as<dcp::StopEvent>(stop).cause, dcp::StopCause::unknown);
}

TEST_F(DoraBackend, AllInputsClosedWithoutStop_DeliveredThenTheStreamHasEnded) {
  fake_dora::push(DoraEventType::AllInputsClosed);
  dcp::Node node = dcp::init_node();
  EXPECT_TRUE(std::holds_alternative<dcp::AllInputsClosedEvent>(node.events.next().event()));
  EXPECT_EQ(node.events.next().status(), EventStatus::ended);
}

TEST_F(DoraBackend, DorasStreamEnds_AllInputsClosedThenEnded_ForEveryWayOfReceiving) {
  for (int way = 0; way < 3; ++way) {
    fake_dora::reset();
    fake_dora::close_stream();
    dcp::Node node = dcp::init_node();
    dcp::EventResult result = way == 0   ? node.events.next()
                              : way == 1 ? node.events.try_next()
                                         : node.events.next_for(kHangTimeout);
    EXPECT_TRUE(result.ok() && std::holds_alternative<dcp::AllInputsClosedEvent>(result.event())) << "way " << way;
    EXPECT_EQ(node.events.next().status(), EventStatus::ended) << "way " << way;
  }
}

TEST_F(DoraBackend, ErrorEvent_SaysDoraGaveNoMessage_TheStreamGoesOn) {
  fake_dora::push(DoraEventType::Error);
  fake_dora::push(DoraEventType::Stop);
  dcp::Node node = dcp::init_node();
  dcp::EventResult result = node.events.next();
  EXPECT_NE(event_as<dcp::ErrorEvent>(result).message.find("does not give the message"), std::string::npos);
  EXPECT_TRUE(std::holds_alternative<dcp::StopEvent>(node.events.next().event()));
}

TEST_F(DoraBackend, NodeFailed_ErrorEventNamesNodeErrorAndInputs_NoInputClosedMadeUp) {
  fake_dora::push_node_failed("sensors", "exited with code 3", {"imu", "tick"});
  fake_dora::push_input("tick", bytes("t"));
  dcp::Node node = dcp::init_node();
  dcp::EventResult result = node.events.next();
  const std::string message = event_as<dcp::ErrorEvent>(result).message;
  EXPECT_NE(message.find("upstream node 'sensors' failed: exited with code 3"), std::string::npos) << message;
  EXPECT_NE(message.find("inputs that stop receiving data: imu, tick"), std::string::npos) << message;
  dcp::EventResult next = node.events.next();
  EXPECT_EQ(event_as<dcp::InputEvent>(next).id, "tick") << "the next event is Dora's next event";
}

TEST_F(DoraBackend, UnknownAndReload_AreSkipped) {
  fake_dora::push(DoraEventType::Unknown);
  fake_dora::push(DoraEventType::Reload);
  fake_dora::push_input("imu", bytes("x"));
  fake_dora::push(DoraEventType::Unknown);
  dcp::Node node = dcp::init_node();
  dcp::EventResult result = node.events.next();
  EXPECT_EQ(event_as<dcp::InputEvent>(result).data.as_string(), "x");
  EXPECT_EQ(node.events.try_next().status(), EventStatus::empty) << "the trailing Unknown is skipped too";
}

// ---------------------------------------------------------------------------------------------
// Waiting: next_for / next_until / try_next
// ---------------------------------------------------------------------------------------------

TEST_F(DoraBackend, NextForWithNothingArriving_TimeoutNeverEarly_DoraAskedWithTheRemainingMilliseconds) {
  dcp::Node node = dcp::init_node();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(node.events.next_for(30ms).status(), EventStatus::timeout);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 30ms);
  const fake_dora::Calls calls = fake_dora::calls();
  ASSERT_GE(calls.next_event_timeout, 1u);
  EXPECT_GE(calls.timeouts_ms.front(), 1u);
  EXPECT_LE(calls.timeouts_ms.front(), 30u);
  EXPECT_EQ(calls.next_event, 0u);
}

TEST_F(DoraBackend, NextFor_AnEventPushedFromAnotherThread_IsDelivered) {
  dcp::Node node = dcp::init_node();
  std::jthread pusher([] { fake_dora::push_input("imu", bytes("late")); });
  dcp::EventResult result = node.events.next_for(kHangTimeout);
  EXPECT_EQ(event_as<dcp::InputEvent>(result).data.as_string(), "late");
}

TEST_F(DoraBackend, TryNextWithNothingReady_EmptyThroughTryNextEvent) {
  dcp::Node node = dcp::init_node();
  EXPECT_EQ(node.events.try_next().status(), EventStatus::empty);
  const fake_dora::Calls calls = fake_dora::calls();
  EXPECT_EQ(calls.try_next_event, 1u);
  EXPECT_EQ(calls.next_event_timeout + calls.next_event, 0u);
  fake_dora::push_input("imu", bytes("ready"));
  dcp::EventResult result = node.events.try_next();
  EXPECT_EQ(event_as<dcp::InputEvent>(result).data.as_string(), "ready");
}

TEST_F(DoraBackend, NextUntilAPastDeadline_LooksOnceWithoutWaiting) {
  dcp::Node node = dcp::init_node();
  EXPECT_EQ(node.events.next_until(std::chrono::steady_clock::now() - 1s).status(), EventStatus::timeout);
  const fake_dora::Calls calls = fake_dora::calls();
  EXPECT_EQ(calls.try_next_event, 1u);
  EXPECT_EQ(calls.next_event_timeout, 0u);
}

TEST_F(DoraBackend, NextForWithOnlySkippedEvents_StillTimesOutAtTheDeadline) {
  fake_dora::push(DoraEventType::Unknown);
  dcp::Node node = dcp::init_node();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(node.events.next_for(20ms).status(), EventStatus::timeout);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
}

TEST_F(DoraBackend, Next_BlocksInDorasNextEvent) {
  dcp::Node node = dcp::init_node();
  std::jthread pusher([] { fake_dora::push(DoraEventType::Stop); });
  EXPECT_TRUE(std::holds_alternative<dcp::StopEvent>(node.events.next().event()));
  EXPECT_EQ(fake_dora::calls().next_event, 1u);
}

// ---------------------------------------------------------------------------------------------
// Outputs
// ---------------------------------------------------------------------------------------------

TEST_F(DoraBackend, SendWithoutParameters_BytesReachDoraThroughSendOutput) {
  dcp::Node node = dcp::init_node();
  node.outputs.send("command", "forward 0.5");
  const std::vector<fake_dora::Sent> sent = fake_dora::sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].id, "command");
  EXPECT_EQ(sent[0].data, bytes("forward 0.5"));
  EXPECT_FALSE(sent[0].with_metadata);
}

TEST_F(DoraBackend, SendWithParameters_EveryTypeReachesDora_AndComesBackUnchanged) {
  dcp::Metadata metadata;
  metadata.timestamp_ns = 123;  // not transmitted: Dora stamps messages itself
  metadata.parameters = one_of_each_shared_type<decltype(metadata.parameters)>();
  dcp::Node node = dcp::init_node();
  node.outputs.send("status", std::span<const std::uint8_t>(), metadata);
  const std::vector<fake_dora::Sent> sent = fake_dora::sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(sent[0].with_metadata);
  EXPECT_EQ(sent[0].parameters, one_of_each_shared_type<fake_dora::Parameters>());

  // Round trip: what Dora delivers downstream reads back as the parameters that were sent.
  fake_dora::push_input("imu", {}, fake_dora::ntp64(5, 0), sent[0].parameters);
  dcp::EventResult result = node.events.next();
  EXPECT_EQ(event_as<dcp::InputEvent>(result).metadata.parameters, metadata.parameters);
  EXPECT_EQ(event_as<dcp::InputEvent>(result).metadata.timestamp_ns, 5'000'000'000);
}

// The fake stamps each accepted send as Dora does (its clock, when sent), not with the node's
// metadata.timestamp_ns, which is not transmitted.
TEST_F(DoraBackend, SendsAccepted_CarryTheFakesSystemClockAtAcceptance_InSendOrder) {
  const auto now_ns = [] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  dcp::Node node = dcp::init_node();
  const std::int64_t before = now_ns();
  node.outputs.send("command", "first");
  dcp::Metadata metadata;
  metadata.timestamp_ns = 123;
  metadata.parameters["frame"] = std::int64_t{1};
  node.outputs.send("status", "second", metadata);
  const std::int64_t after = now_ns();
  const std::vector<fake_dora::Sent> sent = fake_dora::sent();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_GE(sent[0].timestamp_ns, before);
  EXPECT_LE(sent[0].timestamp_ns, sent[1].timestamp_ns);
  EXPECT_LE(sent[1].timestamp_ns, after);
}

TEST_F(DoraBackend, SendTimestampParameters_GoThroughSetTimestamp_AndComeBackAsTimestamps) {
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  dcp::Metadata metadata;
  metadata.set("captured", dcp::Timestamp{1'700'000'000'123'456'789})
      .set("before_1970", dcp::Timestamp{-1})
      .set("min", dcp::Timestamp{kMin})
      .set("max", dcp::Timestamp{kMax})
      .set("seq", std::int64_t{1'700'000'000'123'456'789});
  dcp::Node node = dcp::init_node();
  node.outputs.send("status", std::span<const std::uint8_t>(), metadata);
  const std::vector<fake_dora::Sent> sent = fake_dora::sent();
  ASSERT_EQ(sent.size(), 1u);
  const fake_dora::Parameters expected{{"before_1970", fake_dora::TimestampNs{-1}},
                                       {"captured", fake_dora::TimestampNs{1'700'000'000'123'456'789}},
                                       {"max", fake_dora::TimestampNs{kMax}},
                                       {"min", fake_dora::TimestampNs{kMin}},
                                       {"seq", std::int64_t{1'700'000'000'123'456'789}}};
  EXPECT_EQ(sent[0].parameters, expected);  // Dora's timestamp type, not its integer

  fake_dora::push_input("imu", {}, fake_dora::ntp64(5, 0), sent[0].parameters);
  dcp::EventResult result = node.events.next();
  const dcp::Metadata& back = event_as<dcp::InputEvent>(result).metadata;
  EXPECT_EQ(back.parameters, metadata.parameters);  // value and alternative
  EXPECT_EQ(back.get_timestamp("min"), dcp::Timestamp{kMin});
}

// Dora's Parameter has no unsigned integer: a uint64 goes as Integer(i64) when it fits, comes back
// as int64, and reads back with get_uint.
TEST_F(DoraBackend, SendUnsignedParameterThatFits_GoesAsDoraIntegerAndReadsBackWithGetUint) {
  dcp::Metadata metadata;
  metadata.set("zero", std::uint64_t{0}).set("largest", static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()));
  dcp::Node node = dcp::init_node();
  node.outputs.send("status", std::span<const std::uint8_t>(), metadata);
  const std::vector<fake_dora::Sent> sent = fake_dora::sent();
  ASSERT_EQ(sent.size(), 1u);
  const fake_dora::Parameters expected{{"largest", std::numeric_limits<std::int64_t>::max()}, {"zero", std::int64_t{0}}};
  EXPECT_EQ(sent[0].parameters, expected);

  fake_dora::push_input("imu", {}, fake_dora::ntp64(5, 0), sent[0].parameters);
  dcp::EventResult result = node.events.next();
  const dcp::Metadata& back = event_as<dcp::InputEvent>(result).metadata;
  EXPECT_EQ(back.get_uint("zero"), 0u);
  EXPECT_EQ(back.get_uint("largest"), static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()));
}

TEST_F(DoraBackend, SendUnsignedParameterAboveInt64Max_ThrowsNamingTheKeyAndSendsNothing) {
  dcp::Metadata metadata;
  metadata.set("frame", 1).set("huge", std::numeric_limits<std::uint64_t>::max());
  dcp::Node node = dcp::init_node();
  const std::string message = error_of<std::invalid_argument>([&] { node.outputs.send("status", "x", metadata); });
  EXPECT_NE(message.find("output 'status': metadata parameter 'huge'"), std::string::npos) << message;
  EXPECT_NE(message.find("18446744073709551615"), std::string::npos) << message;
  EXPECT_NE(message.find("signed 64-bit"), std::string::npos) << message;
  EXPECT_TRUE(fake_dora::sent().empty());
}

TEST_F(DoraBackend, SendPayloadAndSendWith_BytesIntact) {
  dcp::Node node = dcp::init_node();
  std::vector<std::uint8_t> large(100'000);
  std::iota(large.begin(), large.end(), std::uint8_t{7});
  node.outputs.send("command", dcp::Payload::copy_of(large));
  node.outputs.send_with("status", 5000, [](std::span<std::uint8_t> out) {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::uint8_t>(i * 3);
  });
  node.outputs.send_with("status", 0, [](std::span<std::uint8_t> out) { EXPECT_TRUE(out.empty()); });
  const std::vector<fake_dora::Sent> sent = fake_dora::sent();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].data, large);
  ASSERT_EQ(sent[1].data.size(), 5000u);
  for (std::size_t i = 0; i < 5000; ++i) ASSERT_EQ(sent[1].data[i], static_cast<std::uint8_t>(i * 3)) << i;
  EXPECT_TRUE(sent[2].data.empty());
}

TEST_F(DoraBackend, SendWithThatThrows_NothingReachesDora) {
  dcp::Node node = dcp::init_node();
  EXPECT_THROW(node.outputs.send_with("status", 10, [](std::span<std::uint8_t>) { throw std::runtime_error("no"); }),
               std::runtime_error);
  EXPECT_TRUE(fake_dora::sent().empty());
}

TEST_F(DoraBackend, SendThatDoraRefuses_NodeErrorWithDorasMessage_TheNextSendWorks) {
  dcp::Node node = dcp::init_node();
  fake_dora::fail_next_send("daemon returned an error: output queue closed");
  const std::string error = message_of([&] { node.outputs.send("command", "x"); });
  EXPECT_NE(error.find("Dora refused to send on output 'command' of node 'processor'"), std::string::npos) << error;
  EXPECT_NE(error.find("daemon returned an error: output queue closed"), std::string::npos) << error;
  EXPECT_TRUE(fake_dora::sent().empty());
  node.outputs.send("command", "y");
  ASSERT_EQ(fake_dora::sent().size(), 1u);
  EXPECT_EQ(fake_dora::sent()[0].data, bytes("y"));
}

TEST_F(DoraBackend, SendWithParametersThatDoraRefuses_NodeError) {
  dcp::Node node = dcp::init_node();
  fake_dora::fail_next_send("no");
  dcp::Metadata metadata;
  metadata.parameters["frame"] = std::int64_t{1};
  EXPECT_THROW(node.outputs.send("command", "x", metadata), dcp::NodeError);
  node.outputs.send("command", "y", metadata);
  ASSERT_EQ(fake_dora::sent().size(), 1u);
  EXPECT_EQ(fake_dora::sent()[0].data, bytes("y"));
}

TEST_F(DoraBackend, SendOnAnUndeclaredOutput_NodeErrorFromTheNodeApi_NothingReachesDora) {
  dcp::Node node = dcp::init_node();
  const std::string error = message_of([&] { node.outputs.send("imu", "x"); });
  EXPECT_NE(error.find("output 'imu' is not declared by node 'processor' (declared outputs: command, status)"),
            std::string::npos)
      << error;
  EXPECT_TRUE(fake_dora::sent().empty());
}

TEST_F(DoraBackend, StringParameterThatIsNotUtf8_InvalidArgumentNamingTheKey_NothingSent) {
  dcp::Node node = dcp::init_node();
  dcp::Metadata metadata;
  metadata.parameters["label"] = std::string("\xff\xfe");
  const std::string message = error_of<std::invalid_argument>([&] { node.outputs.send("command", "x", metadata); });
  EXPECT_NE(message.find("output 'command': metadata parameter 'label'"), std::string::npos) << message;
  EXPECT_NE(message.find("UTF-8"), std::string::npos) << message;
  EXPECT_TRUE(fake_dora::sent().empty());
}

TEST_F(DoraBackend, CloseOutputs_ReachDora_ThenSendingThereIsANodeError) {
  dcp::Node node = dcp::init_node();
  node.outputs.close_outputs({"status", "command", "status"});
  EXPECT_EQ(fake_dora::closed(), (std::vector<std::vector<std::string>>{{"status", "command"}}));
  EXPECT_TRUE(node.outputs.is_closed("command"));
  EXPECT_THROW(node.outputs.send("command", "x"), dcp::NodeError);
  node.outputs.close_outputs({"command"});  // already closed: Dora is not asked again
  EXPECT_EQ(fake_dora::closed().size(), 1u);
  EXPECT_TRUE(fake_dora::sent().empty());
}

TEST_F(DoraBackend, CloseOutputsThatDoraRefuses_NodeError_TheOutputStaysOpen) {
  dcp::Node node = dcp::init_node();
  fake_dora::fail_next_close("invalid output id");
  const std::string error = message_of([&] { node.outputs.close_outputs({"status"}); });
  EXPECT_NE(error.find("Dora refused to close output(s) 'status' of node 'processor': invalid output id"),
            std::string::npos)
      << error;
  EXPECT_FALSE(node.outputs.is_closed("status"));
  node.outputs.send("status", "still open");
  EXPECT_EQ(fake_dora::sent().size(), 1u);
}

// ---------------------------------------------------------------------------------------------
// The two halves on two threads
// ---------------------------------------------------------------------------------------------

TEST_F(DoraBackend, EventLoopAndOutputThread_RunConcurrently_EverythingArrives) {
  constexpr int kMessages = 2000 / DCP_STRESS_DIVISOR;
  dcp::Node node = dcp::init_node();
  std::jthread output_thread([out = std::move(node.outputs)]() mutable {
    for (int i = 0; i < kMessages; ++i) {
      dcp::Metadata metadata;
      metadata.parameters["i"] = std::int64_t{i};
      out.send("command", std::to_string(i), metadata);
    }
  });
  std::jthread pusher([] {
    for (int i = 0; i < kMessages; ++i) fake_dora::push_input("imu", bytes(std::to_string(i)));
    fake_dora::push(DoraEventType::Stop);
    fake_dora::close_stream();  // the loop reads until the stream ends (the Stop rule)
  });
  int received = 0;
  for (dcp::Event& event : node.events) {
    if (auto* input = std::get_if<dcp::InputEvent>(&event)) {
      ASSERT_EQ(input->data.as_string(), std::to_string(received));
      ++received;
    }
  }
  EXPECT_EQ(received, kMessages);
  output_thread.join();
  const std::vector<fake_dora::Sent> sent = fake_dora::sent();
  ASSERT_EQ(sent.size(), static_cast<std::size_t>(kMessages));
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_EQ(sent[static_cast<std::size_t>(i)].data, bytes(std::to_string(i)));
    ASSERT_EQ(std::get<std::int64_t>(sent[static_cast<std::size_t>(i)].parameters.at("i")), i);
  }
}

}  // namespace
