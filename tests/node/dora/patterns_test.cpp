// End to end on the fake Dora: a node written with the dcp patterns (an EventRouter feeding a
// WorkerPool, every result leaving through one OutputHandler) runs on dcp::init_node() under
// "Dora" exactly as it would under `dcp run`: inputs with metadata in, results with metadata out,
// Stop ends the loop, and the drain sends everything.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "dcp/patterns/event_router.hpp"
#include "dcp/node/node.hpp"
#include "dcp/patterns/output_handler.hpp"
#include "dcp/core/worker_pool.hpp"
#include "fake_dora.hpp"

namespace {

constexpr const char* kConfig = R"(node_id: detector
run_config:
  inputs:
    scan: lidar/scan
    tick: dora/timer/millis/100
  outputs:
  - obstacles
  - status
)";

TEST(DoraPatterns, RouterAndOutputHandler_DriveAFakeDoraNode_EveryResultLeavesWithItsMetadata) {
  constexpr int kScans = 300 / DCP_STRESS_DIVISOR;
  fake_dora::reset();
  ::unsetenv("DCP_RUNNER_SOCKET");
  ::setenv("DORA_NODE_CONFIG", kConfig, 1);
  for (int i = 0; i < kScans; ++i) {
    const std::string scan = "scan " + std::to_string(i);
    const auto seconds = 1'700'000'000u + static_cast<std::uint32_t>(i);
    fake_dora::push_input("scan", {scan.begin(), scan.end()}, fake_dora::ntp64(seconds, 0),
                          {{"frame", std::int64_t{i}}});
    if (i % 50 == 0) fake_dora::push_input("tick", {});
  }
  fake_dora::push(DoraEventType::Stop);
  fake_dora::close_stream();  // the router reads until the stream ends (the Stop rule)

  dcp::Node node = dcp::init_node();
  ::unsetenv("DORA_NODE_CONFIG");
  {
    dcp::WorkerPool pool({.threads = 2});
    dcp::OutputHandler outputs(std::move(node.outputs), {.capacity = 1024, .overflow = dcp::Overflow::block});
    dcp::EventRouter router(pool);
    router
        .on_input("scan",
                  [&](const dcp::InputEvent& scan, const dcp::InputContext&) {
                    dcp::Metadata metadata;
                    metadata.parameters["frame"] = *scan.metadata.get_int("frame");
                    metadata.parameters["scan_time_ns"] = scan.metadata.timestamp_ns;
                    outputs.send("obstacles", "obstacles of " + std::string(scan.data.as_string()), metadata);
                  },
                  {.execution = dcp::Execution::serial, .queue_capacity = 1024})
        .on_input("tick", [&](const dcp::InputEvent&, const dcp::InputContext&) { outputs.send("status", "ok"); },
                  {.execution = dcp::Execution::on_loop})
        .on_stop([&] { outputs.send("status", "stopping"); });
    EXPECT_EQ(router.run(node.events), dcp::RunEnd::stop);
    router.shutdown(dcp::ShutdownMode::drain);
    outputs.shutdown(dcp::ShutdownMode::drain);
    const dcp::OutputHandler::Stats stats = outputs.stats();
    EXPECT_EQ(stats.failed, 0u);
    EXPECT_EQ(router.input_stats("scan").handled, static_cast<std::uint64_t>(kScans));
  }

  const std::vector<fake_dora::Sent> sent = fake_dora::sent();
  std::vector<const fake_dora::Sent*> obstacles;
  std::map<std::string, int> statuses;
  for (const fake_dora::Sent& output : sent) {
    if (output.id == "obstacles") obstacles.push_back(&output);
    if (output.id == "status") ++statuses[std::string(output.data.begin(), output.data.end())];
  }
  ASSERT_EQ(obstacles.size(), static_cast<std::size_t>(kScans));
  for (int i = 0; i < kScans; ++i) {  // serial input, one output thread: in order
    const fake_dora::Sent& output = *obstacles[static_cast<std::size_t>(i)];
    ASSERT_EQ(std::string(output.data.begin(), output.data.end()), "obstacles of scan " + std::to_string(i));
    ASSERT_TRUE(output.with_metadata);
    ASSERT_EQ(std::get<std::int64_t>(output.parameters.at("frame")), i);
    ASSERT_EQ(std::get<std::int64_t>(output.parameters.at("scan_time_ns")),
              (1'700'000'000LL + i) * 1'000'000'000LL);
  }
  EXPECT_EQ(statuses["ok"], (kScans + 49) / 50);
  EXPECT_EQ(statuses["stopping"], 1);
}

}  // namespace
