// Tests of the Dora backend built against an older Dora C++ node API (the fake with
// FAKE_DORA_MINIMAL: no event_as_input_with_metadata / send_output_with_metadata / Metadata, no
// event_as_node_failed): inputs without metadata, parameters refused rather than dropped, NodeFailed
// without details.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <variant>
#include <vector>

#include "dcp/node/node.hpp"
#include "fake_dora.hpp"
#include "support/exception_message.hpp"

namespace {

using dcp::test::error_of;

#ifndef FAKE_DORA_MINIMAL
#error "this test is built against the minimal fake Dora API"
#endif

constexpr const char* kConfig = R"(node_id: filter
run_config:
  inputs:
    scan: lidar/scan
    tick: dora/timer/millis/10
  outputs:
  - obstacles
)";

class DoraMinimalApi : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_dora::reset();
    ::unsetenv("DCP_RUNNER_SOCKET");
    ::setenv("DORA_NODE_CONFIG", kConfig, 1);
  }
  void TearDown() override { ::unsetenv("DORA_NODE_CONFIG"); }
};

TEST_F(DoraMinimalApi, Input_BytesArrive_MetadataEmptyWithUnknownTimestamp) {
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

TEST_F(DoraMinimalApi, SendWithoutParameters_ReachesDora) {
  dcp::Node node = dcp::init_node();
  node.outputs.send("obstacles", "none");
  ASSERT_EQ(fake_dora::sent().size(), 1u);
  EXPECT_EQ(fake_dora::sent()[0].id, "obstacles");
  EXPECT_FALSE(fake_dora::sent()[0].with_metadata);
}

TEST_F(DoraMinimalApi, SendWithParameters_NodeErrorInsteadOfDroppingThem_NothingSent) {
  dcp::Node node = dcp::init_node();
  dcp::Metadata metadata;
  metadata.parameters["frame"] = std::int64_t{1};
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "send_output_with_metadata",
                      error_of<dcp::NodeError>([&] { node.outputs.send("obstacles", "x", metadata); }));
  EXPECT_TRUE(fake_dora::sent().empty());
}

TEST_F(DoraMinimalApi, NodeFailed_ErrorEventWithoutDetails_TheStreamGoesOn) {
  fake_dora::push_node_failed("lidar", "crashed", {"scan"});
  fake_dora::push(DoraEventType::Stop);
  dcp::Node node = dcp::init_node();
  dcp::EventResult result = node.events.next();
  ASSERT_TRUE(result.ok());
  const auto* error = std::get_if<dcp::ErrorEvent>(&result.event());
  ASSERT_NE(error, nullptr);
  EXPECT_NE(error->message.find("an upstream node failed"), std::string::npos) << error->message;
  EXPECT_TRUE(std::holds_alternative<dcp::StopEvent>(node.events.next().event()));
}

}  // namespace
