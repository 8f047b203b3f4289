// Tests of the Dora backend built against the C++ node API of Dora v1.0.0-rc.3 / rc.4 (the fake with
// FAKE_DORA_RC3: no event_as_input_with_metadata): inputs arrive without metadata, while sending
// metadata (send_output_with_metadata) and NodeFailed details (event_as_node_failed) work as on main.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <variant>
#include <vector>

#define DCP_DORA_HAS_INPUT_METADATA 0
#include "bridge_shape.hpp"  // the rc.3 shape, checked at compile time
#include "dcp/node/node.hpp"
#include "fake_dora.hpp"

namespace {

#ifndef FAKE_DORA_RC3
#error "this test is built against the rc.3 shape of the fake Dora API"
#endif

constexpr const char* kConfig = R"(node_id: filter
run_config:
  inputs:
    scan: lidar/scan
    tick: dora/timer/millis/10
  outputs:
  - obstacles
)";

class DoraRc3Api : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_dora::reset();
    ::unsetenv("DCP_RUNNER_SOCKET");
    ::setenv("DORA_NODE_CONFIG", kConfig, 1);
  }
  void TearDown() override { ::unsetenv("DORA_NODE_CONFIG"); }
};

TEST_F(DoraRc3Api, Input_BytesArrive_MetadataEmptyWithUnknownTimestamp) {
  fake_dora::push_input("scan", {1, 2, 3}, fake_dora::ntp64(1'700'000'000, 0), {{"frame", std::int64_t{9}}});
  dcp::Node node = dcp::init_node();
  dcp::EventResult result = node.events.next();
  ASSERT_TRUE(result.ok());
  const auto& input = std::get<dcp::InputEvent>(result.event());
  EXPECT_EQ(input.id, "scan");
  EXPECT_EQ(input.data.to_vector(), (std::vector<std::uint8_t>{1, 2, 3}));
  EXPECT_EQ(input.data.data(), fake_dora::last_input_buffer());
  EXPECT_EQ(input.metadata, dcp::Metadata{}) << "timestamp_ns 0 = unknown, no parameters";
}

TEST_F(DoraRc3Api, SendWithoutParameters_ReachesDora) {
  dcp::Node node = dcp::init_node();
  node.outputs.send("obstacles", "none");
  ASSERT_EQ(fake_dora::sent().size(), 1u);
  EXPECT_EQ(fake_dora::sent()[0].id, "obstacles");
  EXPECT_FALSE(fake_dora::sent()[0].with_metadata);
}

TEST_F(DoraRc3Api, SendWithParameters_ReachDoraThroughSendOutputWithMetadata) {
  dcp::Node node = dcp::init_node();
  dcp::Metadata metadata;
  metadata.parameters["frame"] = std::int64_t{1};
  metadata.parameters["reason"] = std::string("estop");
  metadata.set("captured", dcp::Timestamp{-5});  // set_timestamp is in rc.3's bridge too
  node.outputs.send("obstacles", "x", metadata);
  const std::vector<fake_dora::Sent> sent = fake_dora::sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(sent[0].with_metadata);
  EXPECT_EQ(sent[0].parameters, (fake_dora::Parameters{{"captured", fake_dora::TimestampNs{-5}},
                                                       {"frame", std::int64_t{1}},
                                                       {"reason", std::string("estop")}}));
}

TEST_F(DoraRc3Api, NodeFailed_ErrorEventNamesTheNodeAndItsInputs_TheStreamGoesOn) {
  fake_dora::push_node_failed("lidar", "crashed", {"scan"});
  fake_dora::push(DoraEventType::Stop);
  dcp::Node node = dcp::init_node();
  dcp::EventResult result = node.events.next();
  ASSERT_TRUE(result.ok());
  const auto* error = std::get_if<dcp::ErrorEvent>(&result.event());
  ASSERT_NE(error, nullptr);
  EXPECT_NE(error->message.find("upstream node 'lidar' failed: crashed"), std::string::npos) << error->message;
  EXPECT_NE(error->message.find("scan"), std::string::npos) << error->message;
  EXPECT_TRUE(std::holds_alternative<dcp::StopEvent>(node.events.next().event()));
}

}  // namespace
