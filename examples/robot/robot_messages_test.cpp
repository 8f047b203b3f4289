// Tests of examples/robot/robot_messages.hpp: wire layouts, decoding of bad messages, the synthetic
// world and the helpers the processor uses (sectors, nearest obstacle, camera features, planner).
#include "robot_messages.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <random>
#include <span>
#include <stdexcept>
#include <vector>

namespace {

using Bytes = std::vector<std::uint8_t>;

std::span<const std::uint8_t> view(const Bytes& bytes) { return {bytes.data(), bytes.size()}; }

template <class T>
void overwrite(Bytes& bytes, std::size_t offset, T value) {
  robot::detail::store_little_endian(bytes.data() + offset, value);
}

// Every strict prefix and a one-byte extension of a valid message must be rejected with an error.
template <class Decode>
void expect_every_wrong_length_rejected(const Bytes& valid, Decode decode) {
  for (std::size_t size = 0; size < valid.size(); ++size) {
    const Bytes prefix(valid.begin(), valid.begin() + static_cast<std::ptrdiff_t>(size));
    const auto decoded = decode(view(prefix));
    EXPECT_FALSE(decoded.ok()) << "a " << size << "-byte prefix of a " << valid.size() << "-byte message decoded";
    EXPECT_FALSE(decoded.error().empty());
  }
  Bytes longer = valid;
  longer.push_back(0);
  const auto decoded = decode(view(longer));
  EXPECT_FALSE(decoded.ok()) << "a message with a trailing byte decoded";
}

// ---- layouts and round trips ----------------------------------------------------------------

TEST(RobotMessages, ImuSample_RoundTripsIn44Bytes) {
  const robot::ImuSample sample = robot::make_imu_sample(123);
  const Bytes bytes = robot::encode(sample);
  ASSERT_EQ(bytes.size(), 44u);
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 4), "IMU1");
  const auto decoded = robot::decode_imu_sample(view(bytes));
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_EQ(*decoded, sample);
  EXPECT_EQ(decoded->t_ns, 123 * 10'000'000);
}

TEST(RobotMessages, LidarScan_RoundTripsWithHeaderAndTwelveBytesPerPoint) {
  const robot::LidarScan scan = robot::make_lidar_scan(7);
  ASSERT_EQ(scan.points.size(), robot::kDefaultLidarPoints);
  const Bytes bytes = robot::encode(scan);
  ASSERT_EQ(bytes.size(), 16u + 4096u * 12u);  // 49 168 bytes: well over the 4 KiB shared-memory threshold
  EXPECT_EQ(robot::encoded_size(scan), bytes.size());
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 4), "LID1");
  const auto decoded = robot::decode_lidar_scan(view(bytes));
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_EQ(*decoded, scan);
}

TEST(RobotMessages, CameraFrame_RoundTripsWithHeaderAndOneBytePerPixel) {
  const robot::CameraFrame frame = robot::make_camera_frame(9);
  const Bytes bytes = robot::encode(frame);
  ASSERT_EQ(bytes.size(), 20u + 160u * 120u);
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 4), "CAM1");
  const auto decoded = robot::decode_camera_frame(view(bytes));
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_EQ(*decoded, frame);
}

TEST(RobotMessages, VelocityCommand_IsLittleEndianFieldByField) {
  const robot::VelocityCommand command{.frame = 0x0102030405060708, .linear = 1.5f, .angular = -0.25f};
  const Bytes bytes = robot::encode(command);
  ASSERT_EQ(bytes.size(), 20u);
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 4), "CMD1");
  const Bytes frame_bytes(bytes.begin() + 4, bytes.begin() + 12);
  EXPECT_EQ(frame_bytes, (Bytes{0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01}));
  const Bytes linear_bytes(bytes.begin() + 12, bytes.begin() + 16);
  EXPECT_EQ(linear_bytes, (Bytes{0x00, 0x00, 0xc0, 0x3f}));  // 1.5f
  const auto decoded = robot::decode_velocity_command(view(bytes));
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_EQ(*decoded, command);
}

TEST(RobotMessages, EncodeInto_RefusesABufferOfTheWrongSize) {
  const robot::LidarScan scan = robot::make_lidar_scan(1, 10);
  Bytes small(robot::encoded_size(scan) - 1);
  EXPECT_THROW(robot::encode_into(scan, small), std::invalid_argument);
  robot::CameraFrame frame = robot::make_camera_frame(1, 4, 4);
  frame.pixels.pop_back();  // inconsistent with width x height
  EXPECT_THROW((void)robot::encoded_size(frame), std::invalid_argument);
}

// ---- bad messages are reported, never crash ---------------------------------------------------

TEST(RobotMessages, EveryWrongLength_IsRejected) {
  expect_every_wrong_length_rejected(robot::encode(robot::make_imu_sample(1)),
                                     [](auto bytes) { return robot::decode_imu_sample(bytes); });
  expect_every_wrong_length_rejected(robot::encode(robot::make_lidar_scan(1, 5)),
                                     [](auto bytes) { return robot::decode_lidar_scan(bytes); });
  expect_every_wrong_length_rejected(robot::encode(robot::make_camera_frame(1, 3, 2)),
                                     [](auto bytes) { return robot::decode_camera_frame(bytes); });
  expect_every_wrong_length_rejected(robot::encode(robot::VelocityCommand{}),
                                     [](auto bytes) { return robot::decode_velocity_command(bytes); });
}

TEST(RobotMessages, MessageOfAnotherKind_IsRejectedByItsTag) {
  const Bytes imu = robot::encode(robot::make_imu_sample(1));
  const auto as_lidar = robot::decode_lidar_scan(view(imu));
  ASSERT_FALSE(as_lidar.ok());
  EXPECT_NE(as_lidar.error().find("wrong tag 'IMU1'"), std::string::npos) << as_lidar.error();
  EXPECT_NE(as_lidar.error().find("not a lidar scan"), std::string::npos) << as_lidar.error();
  const Bytes text{'t', 'r', 'i', 'g', 'g', 'e', 'r'};
  EXPECT_FALSE(robot::decode_velocity_command(view(text)).ok());
  EXPECT_FALSE(robot::decode_camera_frame(view(imu)).ok());
  EXPECT_FALSE(robot::decode_imu_sample({}).ok());
}

TEST(RobotMessages, LidarPointCountBeyondTheLimit_IsRejectedBeforeAllocating) {
  Bytes bytes = robot::encode(robot::make_lidar_scan(1, 2));
  overwrite<std::uint32_t>(bytes, 12, robot::kMaxLidarPoints + 1);
  const auto decoded = robot::decode_lidar_scan(view(bytes));
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.error().find("exceeds the limit"), std::string::npos) << decoded.error();
  overwrite<std::uint32_t>(bytes, 12, 3);  // claims 3 points, carries 2
  const auto short_scan = robot::decode_lidar_scan(view(bytes));
  ASSERT_FALSE(short_scan.ok());
  EXPECT_NE(short_scan.error().find("expected 52 bytes, payload has 40"), std::string::npos) << short_scan.error();
}

TEST(RobotMessages, CameraSizeBeyondTheLimitOrInconsistent_IsRejected) {
  Bytes bytes = robot::encode(robot::make_camera_frame(1, 4, 4));
  overwrite<std::uint32_t>(bytes, 12, robot::kMaxCameraSide + 1);
  EXPECT_FALSE(robot::decode_camera_frame(view(bytes)).ok());
  overwrite<std::uint32_t>(bytes, 12, 0xffffffffu);  // w*h would overflow 32 bits
  overwrite<std::uint32_t>(bytes, 16, 0xffffffffu);
  EXPECT_FALSE(robot::decode_camera_frame(view(bytes)).ok());
  overwrite<std::uint32_t>(bytes, 12, 5);  // 5x4 = 20 pixels, payload carries 16
  overwrite<std::uint32_t>(bytes, 16, 4);
  EXPECT_FALSE(robot::decode_camera_frame(view(bytes)).ok());
}

TEST(RobotMessages, NegativeSeqAndNonFiniteValues_AreRejected) {
  Bytes imu = robot::encode(robot::make_imu_sample(1));
  overwrite<std::int64_t>(imu, 4, -1);
  EXPECT_FALSE(robot::decode_imu_sample(view(imu)).ok());
  imu = robot::encode(robot::make_imu_sample(1));
  overwrite<float>(imu, 20, std::numeric_limits<float>::quiet_NaN());
  EXPECT_FALSE(robot::decode_imu_sample(view(imu)).ok());
  Bytes command = robot::encode(robot::VelocityCommand{.frame = 3, .linear = 1, .angular = 0});
  overwrite<float>(command, 16, std::numeric_limits<float>::infinity());
  const auto decoded = robot::decode_velocity_command(view(command));
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.error().find("non-finite"), std::string::npos);
  Bytes scan = robot::encode(robot::make_lidar_scan(1, 1));
  overwrite<std::int64_t>(scan, 4, -5);
  EXPECT_FALSE(robot::decode_lidar_scan(view(scan)).ok());
}

TEST(RobotMessages, RandomBytesAfterAValidTag_NeverCrashTheDecoders) {
  std::mt19937 random(12345);
  const std::uint32_t tags[] = {robot::kImuTag, robot::kLidarTag, robot::kCameraTag, robot::kCommandTag};
  int decoded = 0;
  for (int i = 0; i < 4000 / DCP_STRESS_DIVISOR; ++i) {
    Bytes bytes(4 + random() % 64);
    for (auto& byte : bytes) byte = static_cast<std::uint8_t>(random());
    overwrite<std::uint32_t>(bytes, 0, tags[i % 4]);
    decoded += robot::decode_imu_sample(view(bytes)).ok();
    decoded += robot::decode_lidar_scan(view(bytes)).ok();
    decoded += robot::decode_camera_frame(view(bytes)).ok();
    decoded += robot::decode_velocity_command(view(bytes)).ok();
  }
  EXPECT_GE(decoded, 0);  // the point is reaching here without a sanitizer report
}

TEST(RobotMessages, ValueOfAFailedDecode_ThrowsWithTheError) {
  const auto decoded = robot::decode_velocity_command({});
  ASSERT_FALSE(decoded.ok());
  try {
    (void)decoded.value();
    FAIL() << "value() did not throw";
  } catch (const std::logic_error& error) {
    EXPECT_NE(std::string(error.what()).find("velocity command"), std::string::npos) << error.what();
  }
}

// ---- geometry ---------------------------------------------------------------------------------

TEST(RobotGeometry, SectorZero_IsCentredAheadAndSectorsGoCounterClockwise) {
  constexpr double pi = std::numbers::pi;
  EXPECT_EQ(robot::sector_of_bearing(0, 4), 0u);
  EXPECT_EQ(robot::sector_of_bearing(-pi / 4, 4), 0u);        // [-pi/4, pi/4) is sector 0
  EXPECT_EQ(robot::sector_of_bearing(pi / 4, 4), 1u);
  EXPECT_EQ(robot::sector_of_bearing(pi / 2, 4), 1u);         // left
  EXPECT_EQ(robot::sector_of_bearing(pi, 4), 2u);             // back
  EXPECT_EQ(robot::sector_of_bearing(-pi, 4), 2u);
  EXPECT_EQ(robot::sector_of_bearing(-pi / 2, 4), 3u);        // right
  EXPECT_EQ(robot::sector_of_bearing(3 * pi, 4), 2u);         // any angle is wrapped
  EXPECT_EQ(robot::sector_of_bearing(1.0, 1), 0u);
  EXPECT_EQ(robot::sector_of(robot::Point{0, 1, 0}, 4), 1u);
  EXPECT_THROW((void)robot::sector_of_bearing(0, 0), std::invalid_argument);
  EXPECT_THROW((void)robot::sector_of_bearing(0, robot::kMaxSectors + 1), std::invalid_argument);
}

TEST(RobotGeometry, SplitIntoSectors_PartitionsThePoints) {
  const robot::LidarScan scan = robot::make_lidar_scan(3);
  for (const std::size_t sectors : {1u, 3u, 4u, 7u}) {
    const auto parts = robot::split_into_sectors(scan.points, sectors);
    ASSERT_EQ(parts.size(), sectors);
    std::size_t total = 0;
    for (std::size_t k = 0; k < sectors; ++k) {
      total += parts[k].size();
      for (const robot::Point& point : parts[k]) ASSERT_EQ(robot::sector_of(point, sectors), k);
      EXPECT_EQ(robot::nearest_distance(parts[k]), robot::nearest_in_sector(scan.points, k, sectors));
    }
    EXPECT_EQ(total, scan.points.size());
  }
}

TEST(RobotGeometry, NearestAhead_IsTheObstacleDistanceOfTheScan) {
  for (const std::int64_t seq : {0, 1, 15, 29, 45, 59, 60, 99, 1000}) {
    const robot::Obstacle obstacle = robot::obstacle_for_scan(seq);
    ASSERT_GE(obstacle.distance, 1.0);
    ASSERT_LE(obstacle.distance, 5.0);
    ASSERT_LE(std::abs(obstacle.bearing), 0.5);
    const auto nearest = robot::nearest_per_sector(robot::make_lidar_scan(seq).points, 4);
    ASSERT_EQ(nearest.size(), 4u);
    EXPECT_NEAR(nearest[0], obstacle.distance, 1e-4) << "scan " << seq;
    EXPECT_NEAR(nearest[1], 6.0, 0.01) << "left wall";
    EXPECT_NEAR(nearest[2], 8.0, 0.01) << "back wall";
    EXPECT_NEAR(nearest[3], 6.0, 0.01) << "right wall";
  }
}

TEST(RobotGeometry, NearestDistance_SkipsNoReturnsAndIsInfiniteWhenEmpty) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<robot::Point> points{{nan, 0, 0}, {3, 4, 9}, {0, nan, 0}};
  EXPECT_FLOAT_EQ(robot::nearest_distance(points), 5.0f);
  EXPECT_TRUE(std::isinf(robot::nearest_distance({})));
  EXPECT_TRUE(std::isinf(robot::nearest_per_sector({}, 4)[2]));
  EXPECT_THROW((void)robot::nearest_in_sector(points, 4, 4), std::invalid_argument);
}

TEST(RobotGeometry, WrapAngle_BringsAnglesIntoMinusPiToPi) {
  constexpr double pi = std::numbers::pi;
  EXPECT_NEAR(robot::wrap_angle(3 * pi / 2), -pi / 2, 1e-12);
  EXPECT_NEAR(robot::wrap_angle(-3 * pi / 2), pi / 2, 1e-12);
  EXPECT_NEAR(robot::wrap_angle(0.25), 0.25, 1e-12);
}

// ---- generators, features, planner ----------------------------------------------------------

TEST(RobotWorld, Generators_AreDeterministic) {
  EXPECT_EQ(robot::make_lidar_scan(42), robot::make_lidar_scan(42));
  EXPECT_NE(robot::make_lidar_scan(42), robot::make_lidar_scan(43));
  EXPECT_EQ(robot::make_camera_frame(5), robot::make_camera_frame(5));
  EXPECT_EQ(robot::make_imu_sample(8), robot::make_imu_sample(8));
  EXPECT_THROW((void)robot::make_lidar_scan(1, robot::kMaxLidarPoints + 1), std::invalid_argument);
  EXPECT_THROW((void)robot::make_camera_frame(1, 0, 10), std::invalid_argument);
}

TEST(RobotWorld, CameraFeatures_CountTheEdgesOfTheBar) {
  const robot::CameraFrame inside = robot::make_camera_frame(1);  // bar at columns 4..11
  const robot::CameraFeatures features = robot::camera_features(inside);
  EXPECT_EQ(features.edge_count, 2 * 120);
  EXPECT_GT(features.mean_brightness, 40);
  EXPECT_LT(features.mean_brightness, 250);
  const robot::CameraFrame at_edge = robot::make_camera_frame(39);  // bar at 156..159, cut by the border
  EXPECT_EQ(robot::camera_features(at_edge).edge_count, 120);
  robot::CameraFrame broken = inside;
  broken.pixels.resize(10);  // fewer pixels than width x height: only whole rows that exist are read
  EXPECT_EQ(robot::camera_features(broken).edge_count, 0);
}

TEST(RobotWorld, PlanVelocity_SlowsForObstaclesAndTurnsTowardsRoom) {
  const std::vector<float> blocked{0.9f, 6, 8, 6};
  EXPECT_EQ(robot::plan_velocity(1, blocked).linear, 0.0f);
  const std::vector<float> open{10, 6, 8, 6};
  const robot::VelocityCommand fast = robot::plan_velocity(2, open);
  EXPECT_EQ(fast.frame, 2);
  EXPECT_FLOAT_EQ(fast.linear, 1.0f);
  EXPECT_FLOAT_EQ(fast.angular, 0.0f);
  const std::vector<float> room_left{2.0f, 6, 8, 2};
  const robot::VelocityCommand turn = robot::plan_velocity(3, room_left);
  EXPECT_FLOAT_EQ(turn.linear, 0.4f);
  EXPECT_GT(turn.angular, 0.0f);
  const robot::VelocityCommand dark = robot::plan_velocity(4, open, robot::CameraFeatures{10.0, 0});
  EXPECT_FLOAT_EQ(dark.linear, 0.5f);
  const std::vector<float> nothing{std::numeric_limits<float>::infinity()};
  EXPECT_FLOAT_EQ(robot::plan_velocity(5, nothing).linear, 1.0f);
  EXPECT_THROW((void)robot::plan_velocity(6, std::vector<float>{}), std::invalid_argument);
}

}  // namespace
