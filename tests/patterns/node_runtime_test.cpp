// Tests of dcp::NodeRuntime: what it creates, the order in which it takes a node apart, the e-stop it
// wires in, and its errors. Nodes come from NodeHarness.
#include "dcp/patterns/node_runtime.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "dcp/node/node_harness.hpp"
#include "support/event_log.hpp"
#include "support/gate.hpp"
#include "support/hang_timeout.hpp"

namespace {

using namespace std::chrono_literals;
using dcp::testing::NodeHarness;
using dcp::test::kHangTimeout;

constexpr auto kHang = std::chrono::duration_cast<std::chrono::milliseconds>(kHangTimeout);

using Log = dcp::test::EventLog;

/// A component that logs each stage it takes part in.
struct Staged {
  Staged(Log& log, std::string name) : log(log), name(std::move(name)) {}
  ~Staged() { log.add("~" + name); }
  void request_stop() { log.add(name + " stop"); }
  void shutdown(dcp::ShutdownMode mode) { log.add(name + (mode == dcp::ShutdownMode::drain ? " drain" : " cancel")); }
  Log& log;
  std::string name;
};

/// A component with neither request_stop() nor shutdown(): only destroyed.
struct Plain {
  explicit Plain(Log& log) : log(log) {}
  ~Plain() { log.add("~plain"); }
  Log& log;
};

std::vector<std::string> texts(const std::vector<dcp::testing::CapturedOutput>& outputs) {
  std::vector<std::string> result;
  for (const auto& output : outputs) result.push_back(output.id + ":" + std::string(output.text()));
  return result;
}

TEST(NodeRuntime, Run_HandlersOnThePool_SendThroughTheOutputHandler_CountedOnTheBoard) {
  NodeHarness harness("node", {"in"}, {"out"});
  {
    dcp::NodeRuntime node(harness.node(), {.pool = {.threads = 2}});
    EXPECT_EQ(node.node_id(), "node");
    EXPECT_EQ(node.status().node_id(), "node");
    std::atomic<std::thread::id> handler_thread{};
    node.router().on_input("in", [&](const dcp::InputEvent& input, const dcp::InputContext&) {
      handler_thread = std::this_thread::get_id();
      node.outputs().send("out", "echo " + std::string(input.data.as_string()));
    });
    harness.push_input("in", "a");
    harness.push_input("in", "b");
    harness.push_stop();
    EXPECT_EQ(node.run(), dcp::RunEnd::stop);
    node.shutdown();
    EXPECT_NE(handler_thread.load(), std::this_thread::get_id());
    EXPECT_EQ(node.stats().outputs.sent, 2u);
    EXPECT_EQ(node.status().counter("input.in.handled").value(), 2u);
    EXPECT_EQ(node.status().counter("output.out.sent").value(), 2u);
  }
  EXPECT_EQ(texts(harness.outputs()), (std::vector<std::string>{"out:echo a", "out:echo b"}));
}

TEST(NodeRuntime, Shutdown_StopsJobs_DrainsHandlersAndTasks_ThenComponents_ThenOutputs) {
  NodeHarness harness("node", {"in"}, {"out"});
  Log log;
  dcp::test::Gate stopped;  // opened by stage 1: handlers may only finish after the jobs were asked to stop
  struct Job : Staged {
    Job(Log& log, dcp::test::Gate& stopped) : Staged(log, "job"), stopped(stopped) {}
    void request_stop() {
      Staged::request_stop();
      stopped.open();
    }
    dcp::test::Gate& stopped;
  };
  struct Flusher : Staged {
    Flusher(Log& log, dcp::OutputHandler& outputs) : Staged(log, "flusher"), outputs(outputs) {}
    void shutdown(dcp::ShutdownMode mode) {
      Staged::shutdown(mode);
      outputs.send("out", "flushed");  // the outputs are still running in stage 4
    }
    dcp::OutputHandler& outputs;
  };
  {
    dcp::NodeRuntime node(harness.node(), {.pool = {.threads = 2}});
    node.make<Flusher>(log, node.outputs());
    node.make<Job>(log, stopped);  // asked to stop last: the handlers wait for it
    node.router().on_input("in", [&](const dcp::InputEvent& input, const dcp::InputContext&) {
      ASSERT_TRUE(stopped.wait());
      const std::string text(input.data.as_string());
      log.add("handler " + text);
      node.pool().post([&, text] {
        log.add("task " + text);
        node.outputs().send("out", text);
      });
    });
    harness.push_input("in", "1");
    harness.push_input("in", "2");
    harness.push_stop();
    EXPECT_EQ(node.run(), dcp::RunEnd::stop);
    node.shutdown(dcp::ShutdownMode::drain);
    const std::vector<std::string> entries = log.entries();
    ASSERT_EQ(entries.size(), 8u);
    EXPECT_EQ(entries[0], "flusher stop");  // in make() order
    EXPECT_EQ(entries[1], "job stop");
    // Serial handlers in order; each task may run before or after the next handler.
    const std::vector<std::string> middle(entries.begin() + 2, entries.begin() + 6);
    EXPECT_EQ(std::count(middle.begin(), middle.end(), "handler 1"), 1);
    EXPECT_EQ(std::count(middle.begin(), middle.end(), "task 2"), 1);
    EXPECT_LT(std::find(middle.begin(), middle.end(), "handler 1"), std::find(middle.begin(), middle.end(), "handler 2"));
    EXPECT_EQ(entries[6], "job drain");  // newest component first
    EXPECT_EQ(entries[7], "flusher drain");
  }
  const std::vector<std::string> sent = texts(harness.outputs());
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent.back(), "out:flushed");  // after every task's output: the outputs drained last
  const std::vector<std::string> entries = log.entries();
  ASSERT_EQ(entries.size(), 10u);
  EXPECT_EQ(entries[8], "~job");  // destroyed newest first, after the router and the pool
  EXPECT_EQ(entries[9], "~flusher");
}

TEST(NodeRuntime, ShutdownCancel_PassesTheModeToEveryStage_AndDropsQueuedInputs) {
  NodeHarness harness("node", {"in"}, {"out"});
  Log log;
  std::atomic<int> handled{0};
  dcp::NodeRuntime node(harness.node(), {.pool = {.threads = 1}});
  node.make<Staged>(log, "part");
  node.router().on_input("in", [&](const dcp::InputEvent&, const dcp::InputContext& context) {
    // Holds the only worker until the cancel reaches it (if it started before the cancel).
    dcp::test::Gate cancelled;
    std::stop_callback on_cancel(context.stop, [&] { cancelled.open(); });
    ASSERT_TRUE(cancelled.wait());
    if (!context.stop.stop_requested()) ++handled;
  });
  for (int i = 0; i < 5; ++i) harness.push_input("in", "x");
  harness.push_stop();
  EXPECT_EQ(node.run(), dcp::RunEnd::stop);
  node.shutdown(dcp::ShutdownMode::cancel);
  EXPECT_EQ(handled.load(), 0);
  const dcp::InputStats in = node.router().input_stats("in");
  EXPECT_EQ(in.received, 5u);
  EXPECT_GE(in.discarded, 4u);  // all but the one that may have been running
  EXPECT_EQ(in.discarded + in.handled + in.failed, 5u);
  EXPECT_EQ(log.entries(), (std::vector<std::string>{"part stop", "part cancel"}));
}

TEST(NodeRuntime, Components_WithoutStages_AreOnlyDestroyed_NewestFirst) {
  NodeHarness harness("node", {"in"}, {"out"});
  Log log;
  {
    dcp::NodeRuntime node(harness.node());
    node.make<Plain>(log);
    node.make<Staged>(log, "second");
    EXPECT_EQ(node.stats().components, 2u);
    harness.push_stop();
    (void)node.run();
  }
  EXPECT_EQ(log.entries(), (std::vector<std::string>{"second stop", "second drain", "~second", "~plain"}));
}

TEST(NodeRuntime, ShutdownTwice_AndFromTwoThreads_RunsEachStageToTheEnd) {
  NodeHarness harness("node", {"in"}, {"out"});
  Log log;
  dcp::NodeRuntime node(harness.node());
  node.make<Staged>(log, "part");
  harness.push_stop();
  (void)node.run();
  std::thread other([&] { node.shutdown(); });
  node.shutdown();
  other.join();
  node.shutdown();
  // A component's shutdown runs once per runtime shutdown() (it must be idempotent, as the patterns'
  // are), and not again from the destructor. Everything has ended: the outputs refuse new work.
  EXPECT_EQ(node.outputs().send("out", "late"), dcp::OutputStatus::closed);
  const std::vector<std::string> entries = log.entries();
  EXPECT_EQ(std::count(entries.begin(), entries.end(), "part drain"), 3);
}

TEST(NodeRuntime, Make_AfterShutdown_ThrowsLogicError_AndConstructsNothing) {
  NodeHarness harness("node", {"in"}, {"out"});
  Log log;
  dcp::NodeRuntime node(harness.node());
  node.shutdown();
  EXPECT_THROW(node.make<Plain>(log), std::logic_error);
  EXPECT_TRUE(log.entries().empty());
  EXPECT_EQ(node.stats().components, 0u);
}

TEST(NodeRuntime, EStop_ProtectsTheRouter_FromConstruction) {
  NodeHarness harness("node", {"imu", "cmd"}, {"safety_state", "out"});
  std::atomic<std::uint64_t> seen_epoch{0};
  {
    dcp::NodeRuntime node(harness.node(), {.estop = dcp::EmergencyStopOptions{.halt_output = "safety_state",
                                                                               .critical_inputs = {"imu"}}});
    ASSERT_TRUE(node.has_estop());
    node.router().on_input("cmd", [&](const dcp::InputEvent&, const dcp::InputContext& context) {
      seen_epoch = context.epoch;
    }, {.execution = dcp::Execution::on_loop});
    harness.push_input("cmd", "go");
    harness.push_input_closed("imu");  // a critical input: triggers through the router's hooks
    harness.push_all_inputs_closed();  // (a Stop would overtake the InputClosed, which it drops)
    EXPECT_EQ(node.run(), dcp::RunEnd::all_inputs_closed);
    EXPECT_EQ(seen_epoch.load(), 1u);  // stamped by the e-stop's epoch source
    EXPECT_TRUE(node.estop().latched());
    ASSERT_TRUE(node.stats().estop.has_value());
    EXPECT_EQ(node.stats().estop->triggers, 1u);
  }
  const auto outputs = harness.outputs();
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].id, "safety_state");
  EXPECT_EQ(outputs[0].text(), "halt: input closed: imu");
}

TEST(NodeRuntime, WithoutEStopOptions_EStopThrowsLogicError) {
  NodeHarness harness("node", {"in"}, {"out"});
  dcp::NodeRuntime node(harness.node());
  EXPECT_FALSE(node.has_estop());
  EXPECT_THROW((void)node.estop(), std::logic_error);
  EXPECT_FALSE(node.stats().estop.has_value());
}

std::string construction_error(NodeHarness& harness, dcp::NodeRuntime::Options options) {
  try {
    dcp::NodeRuntime node(harness.node(), std::move(options));
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "no error";
}

TEST(NodeRuntime, BadOptions_NameTheBlockAndTheField) {
  dcp::StatusBoard other("other");
  {
    NodeHarness harness("node", {"in"}, {"out"});
    EXPECT_EQ(construction_error(harness, {.outputs = {.status = &other}}),
              "dcp::NodeRuntime: Options::outputs.status must stay unset: the runtime attaches its own StatusBoard "
              "(status())");
  }
  {
    NodeHarness harness("node", {"in"}, {"out"});
    EXPECT_EQ(construction_error(harness, {.router = {.status = &other}}).rfind("dcp::NodeRuntime: Options::router.status", 0), 0u);
  }
  {
    NodeHarness harness("node", {"in"}, {"out"});
    const std::string error = construction_error(harness, {.outputs = {.capacity = 0}});
    EXPECT_EQ(error.rfind("dcp::NodeRuntime: Options::outputs: dcp::OutputHandler: Options::capacity", 0), 0u) << error;
  }
  {
    NodeHarness harness("node", {"in"}, {"out"});
    const std::string error =
        construction_error(harness, {.estop = dcp::EmergencyStopOptions{.halt_output = "no_such_output"}});
    EXPECT_EQ(error.rfind("dcp::NodeRuntime: Options::estop: ", 0), 0u) << error;
    EXPECT_NE(error.find("no_such_output"), std::string::npos) << error;
  }
}

}  // namespace
