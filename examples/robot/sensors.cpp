// dcp_robot_sensors — the synthetic sensors of the robot example (examples/robot/dataflow.yml).
//
// Driven by one timer input (`tick: dora/timer/millis/10`), it publishes deterministic data
// (robot_messages.hpp) on three outputs, each message with the metadata parameter `seq` (per
// output, from 0):
//   imu     ImuSample, 100 Hz           (44 bytes, inline)
//   lidar   LidarScan, 10 Hz            (4096 points: 49 168 bytes, through shared memory)
//   camera  CameraFrame 160x120, 30 Hz  (19 220 bytes, through shared memory)
// Each output keeps its own schedule — message k is due at start + k x period, start being the
// first tick — and a tick sends whatever has come due, so the rates hold even when ticks are late or
// dropped (30 Hz from a 10 ms timer: ticks 0, 3, 7, 10, ...). When more than --max-burst messages of
// one output are overdue (the node was stalled), the rest are skipped and counted rather than sent
// in a burst.
//
// It runs for --duration after its first tick, then exits 0: its outputs close and the readers get
// InputClosed. Stop ends it early (also exit 0).
//
//   dcp_robot_sensors [--duration 10s] [--imu-rate 100] [--lidar-rate 10] [--camera-rate 30]
//                     [--lidar-points 4096] [--camera-width 160] [--camera-height 120] [--max-burst 10]
#include <dcp/node/node.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <span>
#include <string>

#include "node_util.hpp"
#include "options.hpp"
#include "robot_messages.hpp"

namespace {

using robot::Clock;

/// One output's schedule: message k is due at start + k x period (integer nanoseconds, no drift).
struct Schedule {
  std::string output;
  std::int64_t rate_hz;
  std::int64_t next_slot = 0;  // the slot whose due time comes next
  std::int64_t sent = 0;       // also the next seq
  std::int64_t skipped = 0;

  [[nodiscard]] Clock::time_point due(Clock::time_point start) const {
    return start + std::chrono::nanoseconds(next_slot * 1'000'000'000 / rate_hz);
  }
};

}  // namespace

int main(int argc, char** argv) {
  const char* program = "dcp_robot_sensors";
  std::chrono::nanoseconds duration{};
  std::int64_t lidar_points = 0, camera_width = 0, camera_height = 0, max_burst = 0;
  Schedule imu{"imu", 0}, lidar{"lidar", 0}, camera{"camera", 0};
  try {
    const robot::Options options(argc, argv, program,
                                 {{"duration", "how long to publish, from the first tick (default 10s)"},
                                  {"imu-rate", "IMU samples per second (default 100)"},
                                  {"lidar-rate", "lidar scans per second (default 10)"},
                                  {"camera-rate", "camera frames per second (default 30)"},
                                  {"lidar-points", "points per lidar scan (default 4096)"},
                                  {"camera-width", "camera width in pixels (default 160)"},
                                  {"camera-height", "camera height in pixels (default 120)"},
                                  {"max-burst", "most overdue messages per output sent on one tick (default 10)"}});
    if (options.print_usage_if_help()) return 0;
    duration = options.duration("duration", std::chrono::seconds(10));
    imu.rate_hz = options.integer("imu-rate", 100, 1, 10'000);
    lidar.rate_hz = options.integer("lidar-rate", 10, 1, 1'000);
    camera.rate_hz = options.integer("camera-rate", 30, 1, 1'000);
    lidar_points = options.integer("lidar-points", robot::kDefaultLidarPoints, 1, robot::kMaxLidarPoints);
    camera_width = options.integer("camera-width", robot::kDefaultCameraWidth, 1, robot::kMaxCameraSide);
    camera_height = options.integer("camera-height", robot::kDefaultCameraHeight, 1, robot::kMaxCameraSide);
    max_burst = options.integer("max-burst", 10, 1, 1'000);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s\n", error.what());
    return 2;
  }

  return robot::run_node("sensors", [&] {
    dcp::Node node = dcp::init_node();
    const std::int64_t imu_period_ns = 1'000'000'000 / imu.rate_hz;

    const auto send_due = [&](Schedule& schedule, const robot::Tick& tick, auto&& send_one) {
      std::int64_t burst = 0;
      while (schedule.due(tick.start) <= tick.now && burst < max_burst) {
        dcp::Metadata metadata;
        metadata.parameters["seq"] = schedule.sent;
        send_one(schedule.sent, std::move(metadata));
        ++schedule.sent;
        ++schedule.next_slot;
        ++burst;
      }
      while (schedule.due(tick.start) <= tick.now) {  // still behind: skip the stale slots
        ++schedule.next_slot;
        ++schedule.skipped;
      }
    };

    const bool stopped = robot::for_each_tick(node.events, "sensors", [&](const robot::Tick& tick) {
      if (tick.first) {
        robot::say("publishing imu " + std::to_string(imu.rate_hz) + " Hz, lidar " +
                   std::to_string(lidar.rate_hz) + " Hz (" + std::to_string(lidar_points) + " points), camera " +
                   std::to_string(camera.rate_hz) + " Hz (" + std::to_string(camera_width) + "x" +
                   std::to_string(camera_height) + ") for " + robot::format_duration(duration));
      }
      if (tick.elapsed() >= duration) return false;

      send_due(imu, tick, [&](std::int64_t seq, dcp::Metadata metadata) {
        const auto bytes = robot::encode(robot::make_imu_sample(seq, imu_period_ns));
        node.outputs.send("imu", std::span<const std::uint8_t>(bytes), std::move(metadata));
      });
      send_due(lidar, tick, [&](std::int64_t seq, dcp::Metadata metadata) {
        const robot::LidarScan scan = robot::make_lidar_scan(seq, static_cast<std::size_t>(lidar_points));
        node.outputs.send_with("lidar", robot::encoded_size(scan),
                               [&](std::span<std::uint8_t> bytes) { robot::encode_into(scan, bytes); },
                               std::move(metadata));
      });
      send_due(camera, tick, [&](std::int64_t seq, dcp::Metadata metadata) {
        const robot::CameraFrame frame = robot::make_camera_frame(seq, static_cast<std::uint32_t>(camera_width),
                                                                  static_cast<std::uint32_t>(camera_height));
        node.outputs.send_with("camera", robot::encoded_size(frame),
                               [&](std::span<std::uint8_t> bytes) { robot::encode_into(frame, bytes); },
                               std::move(metadata));
      });
      return true;
    });

    std::string summary = std::string() + (stopped ? "stopped" : "done") + ", sent";
    for (const Schedule* schedule : {&imu, &lidar, &camera}) {
      summary += " " + schedule->output + "=" + std::to_string(schedule->sent);
      if (schedule->skipped > 0) summary += " (" + std::to_string(schedule->skipped) + " skipped)";
    }
    robot::say(summary);
    return 0;
  });
}
