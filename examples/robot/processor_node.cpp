// dcp_robot_processor — the robot example's processing node, built from every dcp pattern
// (processor.hpp: run_processor(); processor_main.cpp: the executable's main()).
//
//   inputs:  imu, lidar, camera (sensors), estop (safety), tick (timer: the status period)
//   outputs: command, fused, safety_state, status, map
//
// How the patterns fit together (docs/patterns.md explains each):
//   - EventRouter: the event loop only routes. imu runs serially on the pool (integration needs
//     order), camera in parallel (keep latest two), lidar serially (each scan is then scattered),
//     estop and tick inline on the loop (they must not wait behind sensor work).
//   - Scatter/gather (Aggregator): each lidar scan is cut into --sectors sectors, one pool task per
//     sector; the aggregator emits one fused frame when every sector is in, or a partial one
//     flagged "deadline" after --fusion-deadline. Each complete fused frame whose scan epoch is
//     still current (no e-stop since) yields one command.
//   - NodeRuntime: owns the patterns below (and the node's own state, the aggregator and the map
//     job, made with make()) and takes them apart in the one safe order when the node ends.
//   - OutputHandler: one thread owns the node's output sender; every other thread sends through it.
//   - EmergencyStop: "trigger" on estop latches it, sends the halt through the priority lane,
//     cancels the running sector work and discards the queued; commands carry the epoch of the scan
//     they came from, so none computed before the halt can leave after it. A silent imu
//     (--watchdog imu:200ms) or a closed imu/lidar input triggers it too. "reset" releases it.
//   - StatusBoard: per-input and per-output counters, queue gauges and latency histograms, plus the
//     fusion's own; published as JSON on every tick.
//   - BackgroundJob: a map builder that folds the lidar scans into an occupancy grid and publishes
//     its progress on `map`; stopped (and its stop latency reported) when the node ends.
//
// The node ends when its sensor and safety inputs have all closed (its timer input never closes),
// or on Stop and the end of its event stream. Under Dora an InputClosed names no input when the
// node has several data inputs (node.hpp): each unnamed one counts as one more of the four closing,
// so the node still ends by itself, and the first one already latches the e-stop (imu and lidar are
// critical; an unnamed close could be one of them). It then stops the map job, lets queued work
// finish, flushes the pending fused frames (flagged "flushed") and drains its outputs.
//
//   dcp_robot_processor [--sectors 4] [--workers 2] [--fusion-deadline 60ms] [--watchdog imu:200ms]
//                       [--map-interval 500ms]
#include <dcp/patterns/aggregator.hpp>
#include <dcp/patterns/background_job.hpp>
#include <dcp/patterns/emergency_stop.hpp>
#include <dcp/patterns/event_router.hpp>
#include <dcp/patterns/node_runtime.hpp>
#include <dcp/patterns/output_handler.hpp>
#include <dcp/patterns/status.hpp>
#include <dcp/core/error_report.hpp>
#include <dcp/core/worker_pool.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "node_util.hpp"
#include "options.hpp"
#include "processor.hpp"
#include "robot_messages.hpp"

namespace {

using namespace std::chrono_literals;

using robot::say;
using robot::warn;

/// What one sector task found; every part of a frame carries the epoch of its scan.
struct SectorResult {
  float nearest = 0;
  std::uint64_t epoch = 0;
};

/// The robot's state that several handlers share: the latest camera features and the integrated
/// heading from the IMU. Small, so one mutex is enough.
class WorldState {
 public:
  void set_camera(robot::CameraFeatures features) {
    std::lock_guard lock(mutex_);
    camera_ = features;
  }
  std::optional<robot::CameraFeatures> camera() const {
    std::lock_guard lock(mutex_);
    return camera_;
  }
  void integrate_imu(const robot::ImuSample& sample) {
    std::lock_guard lock(mutex_);
    if (last_imu_ns_ != 0 && sample.t_ns > last_imu_ns_) {
      heading_ += static_cast<double>(sample.gyro[2]) * static_cast<double>(sample.t_ns - last_imu_ns_) * 1e-9;
    }
    last_imu_ns_ = sample.t_ns;
  }
  double heading() const {
    std::lock_guard lock(mutex_);
    return heading_;
  }
  void set_latest_scan(std::shared_ptr<const robot::LidarScan> scan) {
    std::lock_guard lock(mutex_);
    latest_scan_ = std::move(scan);
  }
  std::shared_ptr<const robot::LidarScan> latest_scan() const {
    std::lock_guard lock(mutex_);
    return latest_scan_;
  }

 private:
  mutable std::mutex mutex_;
  std::optional<robot::CameraFeatures> camera_;
  double heading_ = 0;
  std::int64_t last_imu_ns_ = 0;
  std::shared_ptr<const robot::LidarScan> latest_scan_;
};

/// The background map builder: folds the newest lidar scan into a coarse occupancy grid every
/// `interval`, and reports the fraction of the grid observed so far.
void build_map(dcp::JobContext& job, const WorldState& world, std::chrono::nanoseconds interval) {
  constexpr int kCells = 64;              // 64 x 64 cells
  constexpr double kCellSize = 0.5;       // metres: the grid covers 32 m x 32 m around the start
  std::vector<std::uint8_t> seen(static_cast<std::size_t>(kCells * kCells), 0);
  std::int64_t scans = 0;
  std::int64_t last_seq = -1;
  while (job.sleep_for(interval)) {
    const std::shared_ptr<const robot::LidarScan> scan = world.latest_scan();
    if (!scan || scan->seq == last_seq) continue;
    last_seq = scan->seq;
    ++scans;
    for (const robot::Point& point : scan->points) {
      if (job.stop_requested()) return;
      if (!std::isfinite(point.x) || !std::isfinite(point.y)) continue;
      const int cx = static_cast<int>(std::floor(point.x / kCellSize)) + kCells / 2;
      const int cy = static_cast<int>(std::floor(point.y / kCellSize)) + kCells / 2;
      if (cx >= 0 && cx < kCells && cy >= 0 && cy < kCells) seen[static_cast<std::size_t>(cy * kCells + cx)] = 1;
    }
    const auto cells = std::count(seen.begin(), seen.end(), std::uint8_t{1});
    const nlohmann::json progress = {{"fraction", static_cast<double>(cells) / static_cast<double>(seen.size())},
                                     {"cells", cells},
                                     {"scans", scans},
                                     {"message", "integrated scan " + std::to_string(scan->seq)}};
    job.progress(progress["fraction"].get<double>(), progress.dump());
  }
}

}  // namespace

namespace robot {

ProcessorSettings parse_processor_settings(int argc, const char* const* argv, bool& help) {
  const robot::Options options(argc, argv, "dcp_robot_processor",
                               {{"sectors", "lidar sectors processed in parallel per scan (default 4)"},
                                {"workers", "worker threads (default 2)"},
                                {"fusion-deadline", "a fused frame still incomplete after this is emitted partial (default 60ms)"},
                                {"watchdog", "input:deadline that triggers the e-stop when silent (default imu:200ms)"},
                                {"map-interval", "period of the map job's progress output (default 500ms)"}});
  help = options.print_usage_if_help();
  if (help) return {};
  ProcessorSettings settings;
  settings.sectors = static_cast<std::size_t>(options.integer("sectors", 4, 1, static_cast<std::int64_t>(robot::kMaxSectors)));
  settings.workers = static_cast<std::size_t>(options.integer("workers", 2, 1, 64));
  settings.fusion_deadline = options.duration("fusion-deadline", 60ms);
  settings.map_interval = options.duration("map-interval", 500ms);
  const std::string watchdog = options.text("watchdog", "imu:200ms");
  const auto colon = watchdog.find(':');
  if (colon == std::string::npos || colon == 0) {
    throw std::invalid_argument("dcp_robot_processor: --watchdog: expected input:deadline (e.g. imu:200ms), got '" +
                                watchdog + "'");
  }
  settings.watchdog_input = watchdog.substr(0, colon);
  settings.watchdog_deadline = robot::parse_duration(watchdog.substr(colon + 1), "dcp_robot_processor: --watchdog");
  if (settings.fusion_deadline <= 0ns || settings.watchdog_deadline <= 0ns || settings.map_interval <= 0ns) {
    throw std::invalid_argument("dcp_robot_processor: durations must be positive");
  }
  return settings;
}

ProcessorSummary run_processor(const ProcessorSettings& settings) {
  // The runtime owns the status board, the output handler (its thread owns the node's sender), the
  // worker pool, the router and the e-stop, and everything made with node.make() below; it takes
  // them apart in the one safe order when the node ends. The halt goes out on safety_state; a closed
  // imu or lidar input, or an imu silent for longer than the watchdog deadline, triggers it too.
  dcp::NodeRuntime node(dcp::init_node(),
                        {.outputs = {.capacity = 512, .name = "proc-output"},
                         .pool = {.threads = settings.workers, .name = "proc-worker"},
                         .estop = dcp::EmergencyStopOptions{.halt_output = "safety_state",
                                                            .critical_inputs = {"imu", "lidar"},
                                                            .watchdog = {{settings.watchdog_input,
                                                                          settings.watchdog_deadline}}}});
  dcp::StatusBoard& status = node.status();
  dcp::OutputHandler& outputs = node.outputs();
  dcp::WorkerPool& pool = node.pool();
  dcp::EventRouter& router = node.router();
  dcp::EmergencyStop& estop = node.estop();
  WorldState& world = node.make<WorldState>();  // owned by the runtime: outlives every handler

  // --- Scatter/gather: one fused frame per lidar scan. -------------------------------------
  dcp::Counter& fused_complete = status.counter("fusion.complete");
  dcp::Counter& fused_partial = status.counter("fusion.partial");
  dcp::LatencyHistogram& fusion_latency = status.latency("fusion.latency");
  dcp::Counter& commands_planned = status.counter("commands.planned");
  estop.on_trigger([](std::uint64_t epoch, std::string_view reason) {
    say("processor: E-STOP latched (epoch " + std::to_string(epoch) + "): " + std::string(reason));
  });
  using Fusion = dcp::Aggregator<std::int64_t, SectorResult>;
  auto& fusion = node.make<Fusion>(
      [&](dcp::Gathered<std::int64_t, SectorResult>&& frame) {
        fusion_latency.record(frame.age);
        (frame.complete() ? fused_complete : fused_partial).add();
        dcp::Metadata metadata;
        metadata.parameters["frame"] = frame.key;
        metadata.parameters["complete"] = frame.complete();
        metadata.parameters["parts"] = static_cast<std::int64_t>(frame.received);
        metadata.parameters["expected"] = static_cast<std::int64_t>(frame.parts.size());
        metadata.parameters["partial_reason"] = frame.complete() ? std::string() : std::string(dcp::to_string(frame.reason));
        std::vector<float> nearest(frame.parts.size(), 0.0f);  // a missing sector counts as blocked
        std::uint64_t epoch = 0;
        for (std::size_t i = 0; i < frame.parts.size(); ++i) {
          if (frame.parts[i]) {
            nearest[i] = frame.parts[i]->nearest;
            epoch = frame.parts[i]->epoch;
          }
        }
        const nlohmann::json fused = {{"frame", frame.key}, {"nearest", nearest}, {"heading", world.heading()}};
        outputs.send("fused", fused.dump(), std::move(metadata));
        // Only a complete frame drives the robot, and only while its scan's epoch is current; the
        // output gate enforces the same rule again on the output thread, race-free.
        if (!frame.complete() || !estop.is_current(epoch)) return;
        const robot::VelocityCommand command = robot::plan_velocity(frame.key, nearest, world.camera());
        dcp::Metadata command_metadata;
        command_metadata.parameters["frame"] = frame.key;
        command_metadata.parameters["epoch"] = static_cast<std::int64_t>(epoch);
        outputs.send("command", dcp::Payload::from_vector(robot::encode(command)), std::move(command_metadata), epoch);
        commands_planned.add();
      },
      Fusion::Options{.parts = settings.sectors, .deadline = settings.fusion_deadline, .max_pending = 8, .name = "proc-fusion"});

  // --- The router. ----------------------------------------------------------------------------
  // A handler that throws is reported on stderr (and counted: the run then says the node lost work).
  dcp::Counter& bad_messages = status.counter("messages.malformed");
  const auto report_malformed = [&bad_messages](std::string_view input, const std::string& error) {
    bad_messages.add();
    warn("processor: " + std::string(input) + ": " + error);
  };

  // Handlers hold references only to what the runtime owns (its parts, `world`, `fusion`, the
  // board's metrics) and copies of the rest, so nothing they use can go away before they end.
  router.on_input("imu", [&, report_malformed](const dcp::InputEvent& input, const dcp::InputContext&) {
    const auto sample = robot::decode_imu_sample(input.data.bytes());
    if (!sample) return report_malformed("imu", sample.error());
    world.integrate_imu(*sample);
  }, {.execution = dcp::Execution::serial, .queue_capacity = 64});

  router.on_input("camera", [&, report_malformed](const dcp::InputEvent& input, const dcp::InputContext&) {
    const auto frame = robot::decode_camera_frame(input.data.bytes());
    if (!frame) return report_malformed("camera", frame.error());
    world.set_camera(robot::camera_features(*frame));
  }, {.execution = dcp::Execution::parallel, .queue_capacity = 2, .overflow = dcp::Overflow::drop_oldest});

  const std::size_t sectors = settings.sectors;
  router.on_input("lidar", [&, report_malformed, sectors](const dcp::InputEvent& input, const dcp::InputContext& context) {
    auto decoded = robot::decode_lidar_scan(input.data.bytes());
    if (!decoded) return report_malformed("lidar", decoded.error());
    auto scan = std::make_shared<const robot::LidarScan>(std::move(*decoded));
    world.set_latest_scan(scan);
    const std::int64_t frame = scan->seq;
    fusion.open(frame);
    // Scatter: one task per sector. Each sees the router's stop token (an e-stop cancels it) and
    // skips its work when the scan's epoch is no longer current.
    for (std::size_t sector = 0; sector < sectors; ++sector) {
      pool.post([&, scan, frame, sector, sectors, epoch = context.epoch, stop = context.stop] {
        if (stop.stop_requested() || !estop.is_current(epoch)) return;  // the frame ends partial
        const float nearest = robot::nearest_in_sector(scan->points, sector, sectors);
        fusion.add(frame, sector, SectorResult{nearest, epoch});
      });
    }
  }, {.execution = dcp::Execution::serial, .queue_capacity = 4});

  router.on_input("estop", [&](const dcp::InputEvent& input, const dcp::InputContext&) {
    const std::string_view text = input.data.as_string();
    if (text == "trigger") {
      estop.trigger("operator e-stop");
    } else if (text == "reset") {
      if (estop.reset("operator reset")) say("processor: e-stop released (epoch " + std::to_string(estop.epoch()) + ")");
    } else {
      bad_messages.add();
      warn("processor: estop: unknown command '" + std::string(text) + "' (expected trigger or reset)");
    }
  }, {.execution = dcp::Execution::on_loop});

  dcp::Gauge& pool_queued = status.gauge("pool.queued");
  dcp::Gauge& pool_running = status.gauge("pool.running");
  dcp::Gauge& estop_latched = status.gauge("estop.latched");
  dcp::Gauge& estop_epoch = status.gauge("estop.epoch");
  dcp::Gauge& fusion_pending = status.gauge("fusion.pending");
  router.on_input("tick", [&](const dcp::InputEvent&, const dcp::InputContext&) {
    pool_queued.set(static_cast<std::int64_t>(pool.queued()));
    pool_running.set(static_cast<std::int64_t>(pool.running()));
    estop_latched.set(estop.latched() ? 1 : 0);
    estop_epoch.set(static_cast<std::int64_t>(estop.epoch()));
    fusion_pending.set(static_cast<std::int64_t>(fusion.stats().pending));
    outputs.send("status", status.to_json());
  }, {.execution = dcp::Execution::on_loop});

  // The node is done when every input but the timer has closed. Under Dora an InputClosed may not
  // name its input (node.hpp): each unnamed one counts as one more of the open inputs closing.
  std::set<std::string, std::less<>> open_inputs{"imu", "lidar", "camera", "estop"};
  std::size_t unnamed_closes = 0;
  router.on_input_closed([&](std::string_view input) {
    if (input.empty()) {
      ++unnamed_closes;
    } else if (auto it = open_inputs.find(input); it != open_inputs.end()) {
      open_inputs.erase(it);
    }
    say("processor: input '" + std::string(input.empty() ? "(unnamed)" : input) + "' closed");
  });
  const auto inputs_all_closed = [&] { return open_inputs.size() <= unnamed_closes; };

  // --- The background map job. ------------------------------------------------------------
  auto& mapper = node.make<dcp::BackgroundJob>(
      [&](dcp::JobContext& job) { build_map(job, world, settings.map_interval); },
      dcp::BackgroundJob::Callbacks{.on_progress = [&](const dcp::JobProgress& progress) { outputs.send("map", progress.message); },
       .on_finished = [](dcp::JobState state, std::exception_ptr error) {
         if (error) warn("processor: map job " + std::string(dcp::to_string(state)) + ": " + dcp::describe_exception(error));
       }},
      dcp::BackgroundJob::Options{.name = "proc-mapper", .progress_interval = settings.map_interval});
  mapper.start();

  say("processor: " + std::to_string(settings.sectors) + " sectors on " + std::to_string(settings.workers) +
      " workers, fusion deadline " + robot::format_duration(settings.fusion_deadline) + ", watchdog " +
      settings.watchdog_input + " " + robot::format_duration(settings.watchdog_deadline));

  // --- The event loop: it only routes. ------------------------------------------------------
  // After Stop the inputs queued before it still come and are routed, then the stream ends (node.hpp's Stop rule, under dcp run and Dora alike).
  const char* why = "the event stream ended";
  bool stopped = false;
  for (;;) {
    dcp::EventResult next = node.events().next();
    if (!next) break;
    if (const auto* stop = std::get_if<dcp::StopEvent>(&*next)) {
      why = stop->cause == dcp::StopCause::all_inputs_closed ? "Stop: all inputs closed" : "Stop";
      stopped = true;
    }
    if (router.dispatch(std::move(*next)) == dcp::DispatchOutcome::ended && !stopped) {
      why = "all inputs closed";
      break;
    }
    if (!stopped && inputs_all_closed()) {
      why = "its sensor and safety inputs closed";
      break;
    }
  }

  // --- Shutdown: the map job (its stop latency is part of the report), then the runtime takes the
  // rest apart: queued inputs and sector tasks, pending frames (flushed), the e-stop, the outputs.
  const bool job_stopped = mapper.stop_for(2s);
  node.shutdown(dcp::ShutdownMode::drain);
  const auto frames = fusion.stats();
  const std::uint64_t flushed = frames.flushed;
  const dcp::EmergencyStop::Stats stop_stats = estop.stats();
  const dcp::OutputHandler::Stats sent = outputs.stats();

  say("processor: ended (" + std::string(why) + "); fused " + std::to_string(frames.completed) + " complete, " +
      std::to_string(frames.partial) + " partial, " + std::to_string(frames.evicted) + " evicted, " +
      std::to_string(flushed) + " flushed; commands " + std::to_string(commands_planned.value()) + " planned, " +
      std::to_string(sent.stale) + " stale dropped at the output; e-stops " + std::to_string(stop_stats.triggers) +
      " (" + std::to_string(stop_stats.discarded) + " queued inputs discarded), resets " +
      std::to_string(stop_stats.resets) + "; outputs sent " + std::to_string(sent.sent) + ", dropped " +
      std::to_string(sent.dropped) + ", failed " + std::to_string(sent.failed) + "; map job stopped in " +
      std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(mapper.stats().stop_latency).count()) + " us" +
      (job_stopped ? "" : " (late!)"));
  ProcessorSummary summary;
  summary.exit_status = sent.failed == 0 && job_stopped ? 0 : 1;
  summary.why = why;
  summary.fused_complete = frames.completed;
  summary.fused_partial = frames.partial;
  summary.fused_evicted = frames.evicted;
  summary.fused_flushed = frames.flushed;
  summary.fused_pending = frames.pending;
  summary.commands_planned = commands_planned.value();
  summary.estop_triggers = stop_stats.triggers;
  summary.estop_resets = stop_stats.resets;
  summary.outputs_sent = sent.sent;
  summary.outputs_dropped = sent.dropped;
  summary.outputs_failed = sent.failed;
  summary.outputs_stale = sent.stale;
  summary.map_job_stopped = job_stopped;
  return summary;
}

}  // namespace robot
