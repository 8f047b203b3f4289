// The robot example's processor (examples/robot/processor_node.cpp, run_processor()) under the Dora
// backend: the same node logic as dcp_robot_processor, compiled against the Dora adapter built on the
// fake Dora API (dcp_patterns_fake_dora), driven through the fake by a scripted run at the real
// sensor rates. What it sent is fed, as the monitor would receive it, through the monitor's own
// decoding (monitor_inputs.hpp) into its InvariantChecker (invariants.hpp).
//
// The end of the run is what Dora does to this node: the processor has several data inputs (imu,
// lidar, camera, estop), so each InputClosed comes without an id (Dora's C++ API gives none), and it
// has a timer input (tick), so Dora never sends it Stop or AllInputsClosed when its upstream nodes
// finish (the daemon's drain rule: a timer never closes). The processor must end by itself.
//
// The driver's timing is the input (sensor rates, e-stop times); everything else waits on events (the
// run's return, the captured sends), with kHangTimeout only to catch a hang.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <future>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "dcp/node/node.hpp"
#include "fake_dora.hpp"
#include "invariants.hpp"
#include "monitor_inputs.hpp"
#include "processor.hpp"
#include "robot_messages.hpp"
#include "support/hang_timeout.hpp"
#include "support/node_events.hpp"

namespace {

using namespace std::chrono_literals;
using dcp::test::kHangTimeout;

// The processor as dataflow.yml declares it (what Dora's daemon puts in DORA_NODE_CONFIG, shortened).
constexpr const char* kProcessorConfig = R"(node_id: processor
run_config:
  inputs:
    imu:
      source: sensors/imu
      queue_size: 50
    lidar: sensors/lidar
    camera: sensors/camera
    estop:
      source: safety/estop
      queue_size: 100
    tick: dora/timer/millis/500
  outputs:
  - command
  - fused
  - safety_state
  - status
  - map
)";

constexpr auto kStatusPeriod = 500ms;  // the tick input's period (dora/timer/millis/500)
constexpr std::size_t kDataInputs = 4;  // imu, lidar, camera, estop: one InputClosed each

/// The settings of the ctest dataflow (robot_test.yml): a sanitizer build or a loaded machine may
/// stall a thread for a few hundred ms, which must not read as a dead IMU or a late sector.
robot::ProcessorSettings test_settings() {
  robot::ProcessorSettings settings;
  settings.sectors = 4;
  settings.workers = 2;
  settings.fusion_deadline = 250ms;
  settings.watchdog_input = "imu";
  settings.watchdog_deadline = 1s;
  settings.map_interval = 500ms;
  return settings;
}

/// The system clock in ns since the UNIX epoch: the clock of the fake's send timestamps.
std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// `ns` since the UNIX epoch as Dora's uhlc NTP64 timestamp.
std::uint64_t ntp64_of(std::int64_t ns) {
  const auto seconds = static_cast<std::uint64_t>(ns / 1'000'000'000);
  const auto rest = static_cast<std::uint64_t>(ns % 1'000'000'000);
  return (seconds << 32) | ((rest << 32) / 1'000'000'000);
}

std::vector<std::uint8_t> bytes_of(std::string_view text) { return {text.begin(), text.end()}; }

/// A fake Dora parameter as the dcp parameter Dora's API hands the receiver.
dcp::Parameter to_dcp(const fake_dora::Parameter& parameter) {
  return std::visit(
      [](const auto& value) -> dcp::Parameter {
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<T, fake_dora::TimestampNs>) return dcp::Timestamp{value.ns};
        else return value;
      },
      parameter);
}

/// A send the fake captured, as the monitor's input of that name would receive it from Dora: the
/// bytes, the parameters and Dora's send timestamp.
dcp::InputEvent as_received(const fake_dora::Sent& sent) {
  dcp::InputEvent input{sent.id, dcp::Payload::copy_of(sent.data), {}};
  input.metadata.timestamp_ns = sent.timestamp_ns;
  for (const auto& [key, value] : sent.parameters) input.metadata.parameters[key] = to_dcp(value);
  return input;
}

/// The sensors and the safety node of dataflow.yml, pushed into the fake at their real rates:
/// imu 100 Hz, lidar 10 Hz (4096 points), camera 30 Hz (160x120), tick every 500 ms. Message k of
/// an input is due at start + k x period; each step pushes what has come due.
class ScriptedRun {
 public:
  ScriptedRun() : start_(std::chrono::steady_clock::now()), start_ns_(now_ns()) {}

  [[nodiscard]] std::int64_t start_ns() const noexcept { return start_ns_; }
  [[nodiscard]] std::chrono::nanoseconds elapsed() const { return std::chrono::steady_clock::now() - start_; }

  /// Pushes the sensor messages and ticks due until `until` after the start, in 10 ms steps.
  void sensors_until(std::chrono::nanoseconds until) {
    while (true) {
      const auto now = elapsed();
      push_due(now);
      if (now >= until) return;
      std::this_thread::sleep_until(start_ + std::min(until, now + 10ms));
    }
  }

  /// "trigger" or "reset" on estop, now; returns when it was pushed (ns since the epoch): the time
  /// the safety node would have stamped it with.
  std::int64_t push_estop(std::string_view signal) {
    const std::int64_t at = now_ns();
    fake_dora::push_input("estop", bytes_of(signal), ntp64_of(at));
    estops_.push_back(robot::EstopSeen{at, signal == "trigger" ? robot::EstopSignal::trigger : robot::EstopSignal::reset});
    estop_texts_.emplace_back(signal);
    return at;
  }

  /// One InputClosed per data input, without an id, as Dora's C++ API reports each; returns when
  /// the first was pushed.
  std::int64_t close_data_inputs() {
    const std::int64_t at = now_ns();
    for (std::size_t i = 0; i < kDataInputs; ++i) fake_dora::push(DoraEventType::InputClosed);
    return at;
  }

  /// Pushes one more scan of each sensor now (and the imu and camera messages due), out of schedule:
  /// what a queue still holds behind a Stop.
  void push_burst(int scans) {
    for (int i = 0; i < scans; ++i) {
      push_lidar();
      push_imu();
      push_camera();
    }
  }

  /// While `run` has not returned, a tick every 500 ms, as Dora's timer keeps ticking for a node
  /// that is still running. Returns false when it did not return within kHangTimeout.
  template <class Future>
  bool tick_until_returned(Future& run) {
    const auto give_up = std::chrono::steady_clock::now() + kHangTimeout;
    while (run.wait_for(kStatusPeriod) != std::future_status::ready) {
      if (std::chrono::steady_clock::now() > give_up) return false;
      fake_dora::push_input("tick", {}, ntp64_of(now_ns()));
    }
    return true;
  }

  /// Every e-stop pushed, as the monitor receives it from the safety node (with the push time).
  [[nodiscard]] std::vector<dcp::InputEvent> estop_inputs() const {
    std::vector<dcp::InputEvent> inputs;
    for (std::size_t i = 0; i < estops_.size(); ++i) {
      dcp::InputEvent input{"estop", dcp::Payload::from_string(estop_texts_[i]), {}};
      input.metadata.timestamp_ns = estops_[i].timestamp_ns;
      inputs.push_back(std::move(input));
    }
    return inputs;
  }

  /// The lidar sequence numbers pushed.
  [[nodiscard]] std::int64_t lidar_scans() const noexcept { return lidar_seq_; }

 private:
  void push_due(std::chrono::nanoseconds now) {
    while (imu_seq_ * 10ms <= now) push_imu();
    while (lidar_seq_ * 100ms <= now) push_lidar();
    while (camera_seq_ * 1'000'000'000ns / 30 <= now) push_camera();
    while ((ticks_ + 1) * kStatusPeriod <= now) {  // a Dora timer ticks first after one period
      ++ticks_;
      fake_dora::push_input("tick", {}, ntp64_of(now_ns()));
    }
  }

  void push_imu() {
    const std::vector<std::uint8_t> bytes = robot::encode(robot::make_imu_sample(imu_seq_, 10'000'000));
    fake_dora::push_input("imu", bytes, ntp64_of(now_ns()), {{"seq", imu_seq_}});
    ++imu_seq_;
  }

  void push_lidar() {
    const robot::LidarScan scan = robot::make_lidar_scan(lidar_seq_, robot::kDefaultLidarPoints);
    std::vector<std::uint8_t> bytes(robot::encoded_size(scan));
    robot::encode_into(scan, bytes);
    fake_dora::push_input("lidar", std::move(bytes), ntp64_of(now_ns()), {{"seq", lidar_seq_}});
    ++lidar_seq_;
  }

  void push_camera() {
    const robot::CameraFrame frame = robot::make_camera_frame(camera_seq_);
    std::vector<std::uint8_t> bytes(robot::encoded_size(frame));
    robot::encode_into(frame, bytes);
    fake_dora::push_input("camera", std::move(bytes), ntp64_of(now_ns()), {{"seq", camera_seq_}});
    ++camera_seq_;
  }

  std::chrono::steady_clock::time_point start_;
  std::int64_t start_ns_;
  std::int64_t imu_seq_ = 0;
  std::int64_t lidar_seq_ = 0;
  std::int64_t camera_seq_ = 0;
  std::int64_t ticks_ = 0;
  std::vector<robot::EstopSeen> estops_;
  std::vector<std::string> estop_texts_;
};

/// What the monitor would make of a run: every captured send and every e-stop, decoded by the
/// monitor's decoding and fed into its checker, plus the decoded messages by kind.
struct Observed {
  robot::InvariantReport report;
  std::vector<robot::CommandSeen> commands;
  std::vector<robot::FusedSeen> fused;
  std::vector<robot::SafetyStateSeen> safety_states;
  std::size_t maps = 0;
  std::size_t statuses = 0;
  std::vector<std::string> malformed;
};

Observed observe_run(const std::vector<fake_dora::Sent>& sent, const std::vector<dcp::InputEvent>& estops,
                     robot::InvariantChecker::Config rules, std::chrono::nanoseconds run_time) {
  robot::InvariantChecker checker(rules);
  Observed observed;
  const auto feed = [&](const dcp::InputEvent& input) {
    const robot::MonitorMessage message = robot::decode_monitor_input(input);
    robot::observe(checker, input.id, message);
    if (const auto* command = std::get_if<robot::CommandMessage>(&message)) observed.commands.push_back(command->seen);
    if (const auto* fused = std::get_if<robot::FusedSeen>(&message)) observed.fused.push_back(*fused);
    if (const auto* state = std::get_if<robot::SafetyStateSeen>(&message)) observed.safety_states.push_back(*state);
    if (std::holds_alternative<robot::MapMessage>(message)) ++observed.maps;
    if (std::holds_alternative<robot::StatusMessage>(message)) ++observed.statuses;
    if (const auto* bad = std::get_if<robot::MalformedMessage>(&message)) observed.malformed.push_back(input.id + ": " + bad->error);
    if (std::holds_alternative<robot::UnknownInput>(message)) observed.malformed.push_back("unknown output " + input.id);
  };
  for (const fake_dora::Sent& output : sent) feed(as_received(output));  // in send order: timestamp order
  for (const dcp::InputEvent& estop : estops) feed(estop);
  observed.report = checker.check(run_time);
  return observed;
}

std::string lines_of(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += "\n  " + line;
  return text;
}

std::string violations_of(const robot::InvariantReport& report) {
  std::string text;
  for (const robot::Violation& violation : report.violations) {
    text += "\n  [" + std::to_string(violation.invariant) + "] " + violation.message;
  }
  return text;
}

/// The processor on its own thread, under "Dora". If a test returns early (a failed ASSERT), the
/// destructor makes the run end (Stop, then the end of the stream) before the future is joined,
/// so a failure never turns into a hang.
class ProcessorRun {
 public:
  explicit ProcessorRun(robot::ProcessorSettings settings)
      : run_(std::async(std::launch::async, [settings] { return robot::run_processor(settings); })) {}
  ProcessorRun(const ProcessorRun&) = delete;
  ProcessorRun& operator=(const ProcessorRun&) = delete;
  ~ProcessorRun() {
    if (run_.valid() && run_.wait_for(0s) != std::future_status::ready) {
      fake_dora::push(DoraEventType::Stop);
      fake_dora::close_stream();
    }
  }

  std::future<robot::ProcessorSummary>& future() { return run_; }

 private:
  std::future<robot::ProcessorSummary> run_;
};

class RobotProcessorUnderDora : public dcp::test::CleanNodeEnvironment {
 protected:
  void SetUp() override {
    CleanNodeEnvironment::SetUp();
    fake_dora::reset();
    ::setenv("DORA_NODE_CONFIG", kProcessorConfig, 1);
  }
};

// The whole run of dataflow.yml as Dora gives it to the processor, shortened: sensors, an operator
// e-stop and its reset, then the sensor and safety nodes finish: four unnamed InputCloseds, no Stop.
TEST_F(RobotProcessorUnderDora, ScriptedRunThenUnnamedInputCloses_KeepsTheInvariants_FailsSafe_EndsByItself) {
  ScriptedRun script;
  ProcessorRun processor(test_settings());

  script.sensors_until(1000ms);
  const std::int64_t trigger_ns = script.push_estop("trigger");
  script.sensors_until(1600ms);
  const std::int64_t reset_ns = script.push_estop("reset");
  script.sensors_until(2800ms);
  const std::int64_t first_close_ns = script.close_data_inputs();  // the sensors and the safety node exit

  ASSERT_TRUE(script.tick_until_returned(processor.future())) << "the processor did not end by itself";
  const robot::ProcessorSummary summary = processor.future().get();
  const auto run_time = script.elapsed();
  const std::vector<fake_dora::Sent> sent = fake_dora::sent();

  // The processor's own shutdown: it ended on the unnamed closes (no Stop was pushed), cleanly.
  EXPECT_EQ(summary.exit_status, 0);
  EXPECT_EQ(summary.why, "its sensor and safety inputs closed");
  EXPECT_TRUE(summary.map_job_stopped);
  EXPECT_EQ(summary.estop_triggers, 2u) << "the operator's e-stop, then the first unnamed InputClosed";
  EXPECT_EQ(summary.estop_resets, 1u);
  // Every output drained: each send the output handler counted reached Dora, none failed or was dropped.
  EXPECT_EQ(sent.size(), summary.outputs_sent);
  EXPECT_EQ(summary.outputs_failed, 0u);
  EXPECT_EQ(summary.outputs_dropped, 0u);

  robot::InvariantChecker::Config rules;
  rules.status_period = kStatusPeriod;
  rules.max_reaction = 1s;
  rules.require_estop_cycle = true;
  rules.time_origin_ns = script.start_ns();
  const Observed observed = observe_run(sent, script.estop_inputs(), rules, run_time);

  // The monitor's invariants, with commands before the e-stop and after its reset.
  EXPECT_TRUE(observed.malformed.empty()) << lines_of(observed.malformed);
  EXPECT_TRUE(observed.report.passed()) << violations_of(observed.report);
  EXPECT_GT(observed.report.commands_before_first_trigger, 0u);
  EXPECT_GT(observed.report.commands_after_last_reset, 0u);
  EXPECT_EQ(observed.report.halt_latencies.size(), 1u);
  EXPECT_EQ(observed.report.reset_latencies.size(), 1u);

  // safety_state: the operator's halt, its release, then the fail-safe halt of the first close.
  ASSERT_EQ(observed.safety_states.size(), 3u);
  const robot::SafetyStateSeen& operator_halt = observed.safety_states[0];
  const robot::SafetyStateSeen& release = observed.safety_states[1];
  const robot::SafetyStateSeen& close_halt = observed.safety_states[2];
  EXPECT_TRUE(operator_halt.latched);
  EXPECT_EQ(operator_halt.text, "halt: operator e-stop");
  EXPECT_GE(operator_halt.timestamp_ns, trigger_ns);
  EXPECT_LT(operator_halt.timestamp_ns, reset_ns);
  EXPECT_FALSE(release.latched);
  EXPECT_EQ(release.text, "reset");
  EXPECT_GE(release.timestamp_ns, reset_ns);
  EXPECT_LT(release.timestamp_ns, first_close_ns);
  EXPECT_TRUE(close_halt.latched);
  EXPECT_EQ(close_halt.text.rfind("halt: input closed: an input the backend did not name", 0), 0u) << close_halt.text;
  EXPECT_GE(close_halt.timestamp_ns, first_close_ns);
  EXPECT_GT(close_halt.epoch, release.epoch);

  // No command of a pre-reset epoch after the operator's halt, and none at all after the close halt.
  for (const robot::CommandSeen& command : observed.commands) {
    EXPECT_LT(command.timestamp_ns, close_halt.timestamp_ns) << "command for frame " << command.frame;
    if (command.timestamp_ns > operator_halt.timestamp_ns) {
      EXPECT_GE(command.timestamp_ns, release.timestamp_ns) << "command for frame " << command.frame;
      EXPECT_EQ(command.epoch, release.epoch) << "command for frame " << command.frame;
    }
  }

  // Fused frames: each emitted frame left (the pending ones flushed at the end), once, for a scan
  // that was pushed; nothing still pending after the shutdown.
  EXPECT_EQ(summary.fused_pending, 0u);
  EXPECT_EQ(observed.fused.size(),
            summary.fused_complete + summary.fused_partial + summary.fused_evicted + summary.fused_flushed);
  const auto flushed = std::count_if(observed.fused.begin(), observed.fused.end(),
                                     [](const robot::FusedSeen& frame) { return frame.partial_reason == "flushed"; });
  EXPECT_EQ(static_cast<std::uint64_t>(flushed), summary.fused_flushed);
  for (const robot::FusedSeen& frame : observed.fused) {
    EXPECT_GE(frame.frame, 0);
    EXPECT_LT(frame.frame, script.lidar_scans());
  }
  EXPECT_GT(observed.maps, 0u) << "the map job published no progress";
  EXPECT_GE(observed.statuses, 4u);
}

// Ctrl-C / `dora stop`: Dora delivers Stop ahead of the inputs still queued, then those inputs,
// then the stream ends. The processor stops producing on Stop, still routes the queued inputs (each
// queued scan still becomes a fused frame), and ends at the end of the stream.
TEST_F(RobotProcessorUnderDora, StopWithInputsQueuedBehindIt_QueuedInputsStillRouted_EndsAtTheStreamsEnd) {
  constexpr int kQueuedScans = 2;  // lidar's queue holds 4: these and the scan just before Stop fit
  ScriptedRun script;
  ProcessorRun processor(test_settings());

  script.sensors_until(1600ms);
  const std::int64_t scans_before_stop = script.lidar_scans();
  fake_dora::push(DoraEventType::Stop);  // StopEvent first, then what was queued, then the end
  script.push_burst(kQueuedScans);
  fake_dora::close_stream();

  ASSERT_EQ(processor.future().wait_for(kHangTimeout), std::future_status::ready) << "the processor did not end";
  const robot::ProcessorSummary summary = processor.future().get();
  const auto run_time = script.elapsed();
  const std::vector<fake_dora::Sent> sent = fake_dora::sent();

  EXPECT_EQ(summary.exit_status, 0);
  EXPECT_EQ(summary.why, "Stop") << "Dora's C++ API gives no cause; a node with a timer is never drained";
  EXPECT_TRUE(summary.map_job_stopped);
  EXPECT_EQ(summary.estop_triggers, 0u) << "Stop is not an e-stop";
  EXPECT_EQ(sent.size(), summary.outputs_sent);
  EXPECT_EQ(summary.outputs_failed, 0u);

  robot::InvariantChecker::Config rules;
  rules.status_period = kStatusPeriod;
  rules.max_reaction = 1s;
  rules.require_estop_cycle = false;
  rules.time_origin_ns = script.start_ns();
  const Observed observed = observe_run(sent, script.estop_inputs(), rules, run_time);
  EXPECT_TRUE(observed.malformed.empty()) << lines_of(observed.malformed);
  EXPECT_TRUE(observed.report.passed()) << violations_of(observed.report);
  EXPECT_GT(observed.report.commands, 0u);
  EXPECT_TRUE(observed.safety_states.empty());

  // Every scan, the ones queued behind Stop included, became exactly one fused frame.
  ASSERT_EQ(script.lidar_scans(), scans_before_stop + kQueuedScans);
  std::multiset<std::int64_t> frames;
  for (const robot::FusedSeen& frame : observed.fused) frames.insert(frame.frame);
  for (std::int64_t seq = 0; seq < script.lidar_scans(); ++seq) {
    EXPECT_EQ(frames.count(seq), 1u) << "lidar scan " << seq << (seq >= scans_before_stop ? " (queued behind Stop)" : "");
  }
  EXPECT_EQ(summary.fused_pending, 0u);
}

}  // namespace
