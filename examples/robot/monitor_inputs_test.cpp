// Tests of examples/robot/monitor_inputs.hpp: each input of the monitor decoded into what the
// invariant checker takes, and each kind of bad message reported as malformed (a violation), not
// dropped. Hand-made InputEvents; no processes involved.
#include "monitor_inputs.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <variant>

#include "robot_messages.hpp"

namespace {

using namespace std::chrono_literals;

constexpr std::int64_t kAt = 1'700'000'000'000'000'000;  // ns since the epoch

dcp::InputEvent input(std::string id, dcp::Payload data, dcp::Metadata metadata = {}) {
  if (metadata.timestamp_ns == 0) metadata.timestamp_ns = kAt;
  return dcp::InputEvent{std::move(id), std::move(data), std::move(metadata)};
}

dcp::InputEvent command(std::int64_t payload_frame, std::int64_t metadata_frame, std::int64_t epoch) {
  dcp::Metadata metadata;
  metadata.parameters["frame"] = metadata_frame;
  metadata.parameters["epoch"] = epoch;
  return input("command", dcp::Payload::from_vector(robot::encode(robot::VelocityCommand{payload_frame, 0.5f, 0.1f})),
               metadata);
}

std::string malformed_error(const robot::MonitorMessage& message) {
  const auto* bad = std::get_if<robot::MalformedMessage>(&message);
  return bad == nullptr ? std::string("(not malformed)") : bad->error;
}

TEST(MonitorInputs, Command_DecodesToCommandSeenWithTheSendTimestamp) {
  const robot::MonitorMessage message = robot::decode_monitor_input(command(7, 7, 3));
  const auto* decoded = std::get_if<robot::CommandMessage>(&message);
  ASSERT_NE(decoded, nullptr) << malformed_error(message);
  EXPECT_EQ(decoded->seen.timestamp_ns, kAt);
  EXPECT_EQ(decoded->seen.frame, 7);
  EXPECT_EQ(decoded->seen.epoch, 3);
  EXPECT_EQ(decoded->command.frame, 7);
}

TEST(MonitorInputs, CommandWhoseMetadataFrameDiffersFromThePayload_IsMalformed) {
  const std::string error = malformed_error(robot::decode_monitor_input(command(7, 8, 3)));
  EXPECT_NE(error.find("metadata frame 8 but the payload says frame 7"), std::string::npos) << error;
}

TEST(MonitorInputs, MessageWithoutTimestamp_IsMalformed) {
  dcp::InputEvent estop{"estop", dcp::Payload::from_string("trigger"), {}};
  EXPECT_EQ(malformed_error(robot::decode_monitor_input(estop)), "no metadata timestamp");
}

TEST(MonitorInputs, FusedMissingParameters_IsMalformedNamingEachMissingOne) {
  dcp::Metadata metadata;
  metadata.parameters["frame"] = std::int64_t{1};
  metadata.parameters["complete"] = true;
  const std::string error = malformed_error(robot::decode_monitor_input(input("fused", dcp::Payload::from_string("{}"), metadata)));
  EXPECT_NE(error.find("'parts'"), std::string::npos) << error;
  EXPECT_NE(error.find("'expected'"), std::string::npos) << error;
  EXPECT_NE(error.find("'partial_reason'"), std::string::npos) << error;
  EXPECT_EQ(error.find("'frame'"), std::string::npos) << error;
}

TEST(MonitorInputs, SafetyStateLatchedWithResetText_IsMalformed) {
  dcp::Metadata metadata;
  metadata.parameters["latched"] = true;
  metadata.parameters["epoch"] = std::int64_t{2};
  const std::string error =
      malformed_error(robot::decode_monitor_input(input("safety_state", dcp::Payload::from_string("reset"), metadata)));
  EXPECT_NE(error.find("latched=true with text 'reset'"), std::string::npos) << error;
}

TEST(MonitorInputs, StatusAndMap_AreJsonObjects_OtherJsonIsMalformed) {
  EXPECT_TRUE(std::holds_alternative<robot::StatusMessage>(
      robot::decode_monitor_input(input("status", dcp::Payload::from_string(R"({"uptime_ms": 12})")))));
  EXPECT_NE(malformed_error(robot::decode_monitor_input(input("status", dcp::Payload::from_string("[1]")))).find("uptime_ms"),
            std::string::npos);
  EXPECT_NE(malformed_error(robot::decode_monitor_input(input("map", dcp::Payload::from_string("{")))).find("not JSON"),
            std::string::npos);
  EXPECT_NE(malformed_error(robot::decode_monitor_input(input("map", dcp::Payload::from_string(R"({"fraction": 1.5})"))))
                .find("not in [0, 1]"),
            std::string::npos);
  const robot::MonitorMessage map =
      robot::decode_monitor_input(input("map", dcp::Payload::from_string(R"({"fraction": 0.25, "cells": 9})")));
  ASSERT_TRUE(std::holds_alternative<robot::MapMessage>(map)) << malformed_error(map);
  EXPECT_EQ(std::get<robot::MapMessage>(map).cells, 9);
  EXPECT_FALSE(std::get<robot::MapMessage>(map).message.has_value());
}

TEST(MonitorInputs, Observe_FeedsObservationsAndMalformedMessagesIntoTheChecker) {
  robot::InvariantChecker checker({.status_period = 500ms, .require_estop_cycle = false});
  const auto feed = [&](const dcp::InputEvent& event) {
    robot::observe(checker, event.id, robot::decode_monitor_input(event));
  };
  feed(command(1, 1, 1));
  feed(input("status", dcp::Payload::from_string(R"({"uptime_ms": 1})")));
  EXPECT_TRUE(checker.check(500ms).passed()) << checker.check(500ms).violations.front().message;
  EXPECT_EQ(checker.check(500ms).commands, 1u);

  feed(input("estop", dcp::Payload::from_string("press")));
  const robot::InvariantReport report = checker.check(500ms);
  ASSERT_EQ(report.count(0), 1u);
  EXPECT_NE(report.violations.front().message.find("malformed message on estop"), std::string::npos);
}

}  // namespace
