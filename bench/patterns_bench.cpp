// dcp_patterns_bench: what the patterns cost and what they buy, each measured side by side with the
// plain design a user would write instead, in one run (docs/benchmarks.md, "Patterns").
//
// 1. E-stop latency. From the moment the e-stop input reaches the node (handed to the router on the
//    event loop) to the moment the halt output has left the output thread (the node API's send
//    returned; its timestamp is taken there), with every worker busy and 0, 1,000 or 10,000 work
//    items queued behind them. Each work item spins for --work-us microseconds, then sends a command.
//      dcp   EventRouter (parallel input) + WorkerPool + OutputHandler + EmergencyStop: the e-stop
//            input is handled on the loop, the halt goes through the priority lane.
//      fifo  the plain design: one pool queue for everything and one FIFO output queue; the e-stop
//            is one more task behind the backlog and its halt one more output behind the commands.
//    In both, the busy workers are released right after the e-stop input is handed over.
//
// 2. Per-event overhead of the router + pool + output handler path, against calling the handler
//    inline and sending on the node's OutputSender directly, for E events of 8 bytes:
//      inline     handler(event); sender.send(...)        on the event-loop thread
//      on_loop    router (Execution::on_loop) + OutputHandler
//      serial     router (Execution::serial, on the pool) + OutputHandler
//      parallel   router (Execution::parallel, on the pool) + OutputHandler
//    Reported as ns per event (wall time from the first dispatch to the last output sent / E).
//
// --realtime P gives the output thread of BOTH designs SCHED_FIFO priority P (needs CAP_SYS_NICE):
// on a saturated machine the halt then preempts the busy workers instead of waiting for a slice.
//
// Output: a human-readable table on stdout, and one JSON object per line with --json. Any failed
// check (a lost output, a missing halt, a stale command after the halt) prints "CHECK FAILED" and
// exits with status 1. Threads are not pinned; every repetition runs both designs once.
#include <dcp/core/channel.hpp>
#include <dcp/core/detail/thread_priority.hpp>
#include <dcp/patterns/emergency_stop.hpp>
#include <dcp/patterns/event_router.hpp>
#include <dcp/patterns/output_handler.hpp>
#include <dcp/node/node_harness.hpp>
#include <dcp/core/worker_pool.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "CHECK FAILED: %s\n", what.c_str());
  std::fflush(stderr);
  std::_Exit(1);
}

std::int64_t now_system_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void spin_for(std::chrono::nanoseconds duration) {
  const auto end = SteadyClock::now() + duration;
  while (SteadyClock::now() < end) {
  }
}

double percentile(std::vector<double> values, double fraction) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(fraction * static_cast<double>(values.size() - 1))];
}

/// Workers held busy until release(): each blocker occupies one worker of a pool.
class Blockers {
 public:
  void hold(dcp::WorkerPool& pool, int count) {
    released_ = false;
    started_ = 0;
    for (int i = 0; i < count; ++i) {
      pool.post([this] {
        started_.fetch_add(1);
        while (!released_.load(std::memory_order_acquire)) std::this_thread::yield();
      });
    }
    while (started_.load() < count) std::this_thread::yield();
  }
  void release() { released_.store(true, std::memory_order_release); }

 private:
  std::atomic<bool> released_{false};
  std::atomic<int> started_{0};
};

/// Waits for the output `id` in the harness; returns its timestamp. Fails after 60 s.
dcp::testing::CapturedOutput wait_for_output(dcp::testing::NodeHarness& harness, std::string_view id) {
  const auto give_up = SteadyClock::now() + 60s;
  while (SteadyClock::now() < give_up) {
    std::optional<dcp::testing::CapturedOutput> out = harness.next_output(1000ms);
    if (out && out->id == id) return *out;
  }
  fail("no '" + std::string(id) + "' output within 60 s");
}

struct Config {
  int rounds = 20;
  int threads = 2;
  std::chrono::microseconds work{10};
  std::vector<int> backlogs{0, 1000, 10000};
  int events = 20000;
  bool json = false;
  int realtime = 0;  // SCHED_FIFO priority of the output thread in both designs (0 = normal)
};

// ---------------------------------------------------------------------------------------------
// 1. E-stop latency.
// ---------------------------------------------------------------------------------------------

/// One e-stop with `backlog` work items queued behind busy workers, through the dcp patterns.
/// Returns the latency in microseconds, and checks that no command left after the halt.
double estop_once_dcp(const Config& config, int backlog) {
  dcp::testing::NodeHarness harness("bench", {"work", "estop"}, {"command", "safety_state"});
  dcp::Node node = harness.node();
  dcp::OutputHandler outputs(std::move(node.outputs), {.capacity = static_cast<std::size_t>(backlog) + 64,
                                                       .realtime_priority = config.realtime});
  if (config.realtime > 0 && !outputs.realtime()) fail("--realtime: SCHED_FIFO was refused (needs CAP_SYS_NICE)");
  dcp::WorkerPool pool({.threads = static_cast<std::size_t>(config.threads)});
  {
    dcp::EventRouter router(pool);
    dcp::EmergencyStop estop(outputs, {});
    const auto work = config.work;
    router.on_input("work", [&outputs, work](const dcp::InputEvent&, const dcp::InputContext& context) {
      spin_for(work);
      outputs.send("command", "go", {}, context.epoch);
    }, {.execution = dcp::Execution::parallel, .queue_capacity = static_cast<std::size_t>(backlog) + 16});
    router.on_input("estop", [&estop](const dcp::InputEvent&, const dcp::InputContext&) {
      estop.trigger("bench");
    }, {.execution = dcp::Execution::on_loop});
    estop.protect(router);

    Blockers blockers;
    blockers.hold(pool, config.threads);
    for (int i = 0; i < backlog; ++i) {
      router.dispatch(dcp::InputEvent{"work", dcp::Payload::from_string("w"), {}});
    }
    const std::int64_t start = now_system_ns();
    router.dispatch(dcp::InputEvent{"estop", dcp::Payload::from_string("trigger"), {}});
    blockers.release();
    const dcp::testing::CapturedOutput halt = wait_for_output(harness, "safety_state");
    router.shutdown(dcp::ShutdownMode::drain);
    if (!outputs.flush_for(60s)) fail("dcp: outputs not flushed");
    while (std::optional<dcp::testing::CapturedOutput> out = harness.next_output(0ms)) {
      if (out->id == "command") fail("dcp: a command left after the halt");
    }
    return static_cast<double>(halt.metadata.timestamp_ns - start) / 1000.0;
  }
}

/// The same through one FIFO: the e-stop is a task behind the backlog, its halt an output behind
/// the commands.
double estop_once_fifo(const Config& config, int backlog) {
  dcp::testing::NodeHarness harness("bench", {"work", "estop"}, {"command", "safety_state"});
  dcp::Node node = harness.node();
  struct Out {
    std::string id;
    std::string text;
  };
  auto [out_tx, out_rx] = dcp::unbounded<Out>();
  std::thread output_thread([rx = std::move(out_rx), sender = std::move(node.outputs), &config]() mutable {
    if (config.realtime > 0 && !dcp::detail::set_current_thread_realtime(config.realtime)) {
      fail("--realtime: SCHED_FIFO was refused (needs CAP_SYS_NICE)");
    }
    for (Out& out : rx) sender.send(out.id, out.text);
  });
  {
    dcp::WorkerPool pool({.threads = static_cast<std::size_t>(config.threads)});
    Blockers blockers;
    blockers.hold(pool, config.threads);
    const auto work = config.work;
    for (int i = 0; i < backlog; ++i) {
      pool.post([tx = out_tx, work]() mutable {
        spin_for(work);
        tx.send(Out{"command", "go"});
      });
    }
    const std::int64_t start = now_system_ns();
    pool.post([tx = out_tx]() mutable { tx.send(Out{"safety_state", "halt: bench"}); });
    blockers.release();
    const dcp::testing::CapturedOutput halt = wait_for_output(harness, "safety_state");
    pool.shutdown(dcp::ShutdownMode::drain);
    out_tx.close();
    output_thread.join();
    return static_cast<double>(halt.metadata.timestamp_ns - start) / 1000.0;
  }
}

void run_estop(const Config& config) {
  std::printf("\nE-stop latency: e-stop input handed to the node -> halt output sent (microseconds)\n");
  std::printf("%d workers busy, each queued work item spins %lld us; %d rounds per row; output thread %s\n",
              config.threads, static_cast<long long>(config.work.count()), config.rounds,
              config.realtime > 0 ? ("SCHED_FIFO " + std::to_string(config.realtime)).c_str() : "normal");
  std::printf("%-8s %-6s %12s %12s %12s\n", "queued", "design", "median_us", "p99_us", "max_us");
  for (int backlog : config.backlogs) {
    std::vector<double> dcp_samples;
    std::vector<double> fifo_samples;
    for (int round = 0; round < config.rounds; ++round) {
      dcp_samples.push_back(estop_once_dcp(config, backlog));
      fifo_samples.push_back(estop_once_fifo(config, backlog));
    }
    for (auto [name, samples] : {std::pair{"dcp", &dcp_samples}, std::pair{"fifo", &fifo_samples}}) {
      const double median = percentile(*samples, 0.5);
      const double p99 = percentile(*samples, 0.99);
      const double max = percentile(*samples, 1.0);
      std::printf("%-8d %-6s %12.1f %12.1f %12.1f\n", backlog, name, median, p99, max);
      if (config.json) {
        std::printf("{\"bench\":\"estop_latency\",\"design\":\"%s\",\"queued\":%d,\"median_us\":%.2f,"
                    "\"p99_us\":%.2f,\"max_us\":%.2f,\"rounds\":%d}\n",
                    name, backlog, median, p99, max, config.rounds);
      }
    }
    std::fflush(stdout);
  }
}

// ---------------------------------------------------------------------------------------------
// 2. Per-event overhead.
// ---------------------------------------------------------------------------------------------

std::uint64_t checksum(std::span<const std::uint8_t> bytes) {
  std::uint64_t sum = 0;
  for (std::uint8_t b : bytes) sum = sum * 131 + b;
  return sum;
}

std::vector<dcp::Event> make_events(int count) {
  std::vector<dcp::Event> events;
  events.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    std::uint8_t bytes[8];
    std::memcpy(bytes, &i, sizeof i);
    std::memset(bytes + sizeof i, 0, sizeof bytes - sizeof i);
    events.emplace_back(dcp::InputEvent{"imu", dcp::Payload::copy_of(bytes), {}});
  }
  return events;
}

double overhead_inline(int count) {
  dcp::testing::NodeHarness harness("bench", {"imu"}, {"pose"});
  dcp::Node node = harness.node();
  std::vector<dcp::Event> events = make_events(count);
  const auto start = SteadyClock::now();
  for (dcp::Event& event : events) {
    auto& input = std::get<dcp::InputEvent>(event);
    const std::uint64_t sum = checksum(input.data.bytes());
    node.outputs.send("pose", std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(&sum), sizeof sum));
  }
  const auto elapsed = SteadyClock::now() - start;
  return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()) / count;
}

double overhead_router(int count, dcp::Execution execution, int threads) {
  dcp::testing::NodeHarness harness("bench", {"imu"}, {"pose"});
  dcp::Node node = harness.node();
  dcp::OutputHandler outputs(std::move(node.outputs), {.capacity = static_cast<std::size_t>(count) + 16});
  dcp::WorkerPool pool({.threads = static_cast<std::size_t>(threads)});
  std::vector<dcp::Event> events = make_events(count);
  double per_event = 0;
  {
    dcp::EventRouter router(pool);
    router.on_input("imu", [&outputs](const dcp::InputEvent& input, const dcp::InputContext& context) {
      const std::uint64_t sum = checksum(input.data.bytes());
      outputs.send("pose", dcp::Payload::copy_of(std::span<const std::uint8_t>(
                               reinterpret_cast<const std::uint8_t*>(&sum), sizeof sum)),
                   {}, context.epoch);
    }, {.execution = execution, .queue_capacity = static_cast<std::size_t>(count) + 16});
    const auto start = SteadyClock::now();
    for (dcp::Event& event : events) router.dispatch(std::move(event));
    if (!router.wait_idle_for(60s)) fail("router did not become idle");
    if (!outputs.flush_for(60s)) fail("outputs not flushed");
    const auto elapsed = SteadyClock::now() - start;
    per_event = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()) / count;
    if (router.input_stats("imu").dropped != 0) fail("router dropped events");
  }
  outputs.shutdown(dcp::ShutdownMode::drain);
  const dcp::OutputHandler::Stats stats = outputs.stats();
  if (stats.sent != static_cast<std::uint64_t>(count)) {
    fail("router path sent " + std::to_string(stats.sent) + " of " + std::to_string(count) + " outputs");
  }
  return per_event;
}

void run_overhead(const Config& config) {
  std::printf("\nPer-event cost: %d events of 8 bytes, handler = checksum + one 8-byte output (ns per event)\n",
              config.events);
  std::printf("%-10s %12s %12s\n", "path", "ns_per_event", "x_inline");
  struct Row {
    const char* name;
    std::vector<double> samples;
  };
  std::vector<Row> rows{{"inline", {}}, {"on_loop", {}}, {"serial", {}}, {"parallel", {}}};
  for (int round = 0; round < std::max(3, config.rounds / 4); ++round) {
    rows[0].samples.push_back(overhead_inline(config.events));
    rows[1].samples.push_back(overhead_router(config.events, dcp::Execution::on_loop, config.threads));
    rows[2].samples.push_back(overhead_router(config.events, dcp::Execution::serial, config.threads));
    rows[3].samples.push_back(overhead_router(config.events, dcp::Execution::parallel, config.threads));
  }
  const double inline_median = percentile(rows[0].samples, 0.5);
  for (const Row& row : rows) {
    const double median = percentile(row.samples, 0.5);
    std::printf("%-10s %12.0f %12.2f\n", row.name, median, median / inline_median);
    if (config.json) {
      std::printf("{\"bench\":\"per_event\",\"path\":\"%s\",\"ns_per_event\":%.1f,\"x_inline\":%.3f}\n", row.name,
                  median, median / inline_median);
    }
  }
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--quick") {
      config.rounds = 3;
      config.backlogs = {0, 1000};
      config.events = 2000;
    } else if (arg == "--json") {
      config.json = true;
    } else if (arg == "--rounds" && i + 1 < argc) {
      config.rounds = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--realtime" && i + 1 < argc) {
      config.realtime = std::clamp(std::atoi(argv[++i]), 0, 99);
    } else if (arg == "--work-us" && i + 1 < argc) {
      config.work = std::chrono::microseconds(std::max(0, std::atoi(argv[++i])));
    } else {
      std::fprintf(stderr,
                   "usage: dcp_patterns_bench [--quick] [--json] [--rounds N] [--work-us U] [--realtime P]\n"
                   "  e-stop latency with 0/1000/10000 queued work items (dcp vs plain FIFO), then the\n"
                   "  per-event cost of router + pool + output handler against an inline handler.\n");
      return 2;
    }
  }
  run_estop(config);
  run_overhead(config);
  return 0;
}
