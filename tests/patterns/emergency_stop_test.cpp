// Tests of dcp::EmergencyStop: latching, epochs, the priority halt, discarding queued work,
// cancelling running handlers, the watchdog and critical-input triggers — through the test harness.
#include "dcp/patterns/emergency_stop.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <future>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "dcp/patterns/event_router.hpp"
#include "dcp/patterns/output_handler.hpp"
#include "dcp/node/node_harness.hpp"
#include "dcp/core/worker_pool.hpp"

#include "../support/failing_allocation.hpp"  // this binary's operator new fails on demand

namespace {

using namespace std::chrono_literals;
using dcp::testing::CapturedOutput;

constexpr auto kHang = 10s;  // only catches hangs

/// A node with the outputs the stop needs, its OutputHandler, and helpers to read what left.
struct Fixture {
  dcp::testing::NodeHarness harness{"processor", {"imu", "lidar", "work", "estop"}, {"command", "safety_state"}};
  dcp::Node node = harness.node();
  dcp::OutputHandler outputs{std::move(node.outputs)};

  CapturedOutput next() {
    std::optional<CapturedOutput> out = harness.next_output(std::chrono::duration_cast<std::chrono::milliseconds>(kHang));
    if (!out) throw std::runtime_error("no output within the hang timeout");
    return *out;
  }
};

dcp::InputEvent input(std::string id, std::string text = "x") {
  return dcp::InputEvent{std::move(id), dcp::Payload::from_string(text), {}};
}

std::int64_t epoch_of(const CapturedOutput& out) { return out.metadata.get_int("epoch").value_or(-1); }

TEST(EmergencyStop, Construction_StartsUnlatchedAtEpochOne) {
  Fixture f;
  dcp::EmergencyStop estop(f.outputs, {});
  EXPECT_FALSE(estop.latched());
  EXPECT_EQ(estop.epoch(), 1u);
  EXPECT_TRUE(estop.is_current(1));
  EXPECT_FALSE(estop.is_current(0));
}

TEST(EmergencyStop, HaltOutputNotDeclared_ThrowsNamingIt) {
  Fixture f;
  try {
    dcp::EmergencyStop estop(f.outputs, {.halt_output = "brakes"});
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("'brakes'"), std::string::npos) << error.what();
  }
}

TEST(EmergencyStop, Trigger_LatchesStartsNewEpochAndSendsHalt) {
  Fixture f;
  dcp::EmergencyStop estop(f.outputs, {});
  EXPECT_TRUE(estop.trigger("operator"));
  EXPECT_TRUE(estop.latched());
  EXPECT_EQ(estop.epoch(), 2u);
  EXPECT_FALSE(estop.is_current(2));  // latched: nothing is current

  const CapturedOutput halt = f.next();
  EXPECT_EQ(halt.id, "safety_state");
  EXPECT_EQ(halt.text(), "halt: operator");
  EXPECT_EQ(halt.metadata.get_bool("latched"), true);
  EXPECT_EQ(epoch_of(halt), 2);
  EXPECT_EQ(estop.stats().last_reason, "operator");
}

TEST(EmergencyStop, TriggerWhileLatched_ChangesNothingButTheRepeatCount) {
  Fixture f;
  dcp::EmergencyStop estop(f.outputs, {});
  ASSERT_TRUE(estop.trigger("first"));
  EXPECT_FALSE(estop.trigger("second"));
  const dcp::EmergencyStop::Stats stats = estop.stats();
  EXPECT_EQ(stats.triggers, 1u);
  EXPECT_EQ(stats.repeated_triggers, 1u);
  EXPECT_EQ(stats.epoch, 2u);
  EXPECT_EQ(stats.last_reason, "first");
  ASSERT_TRUE(f.outputs.flush_for(kHang));
  EXPECT_EQ(f.outputs.stats().priority_sent, 1u);  // one halt, not two
}

TEST(EmergencyStop, Reset_UnlatchesStartsNewEpochAndSendsReset) {
  Fixture f;
  dcp::EmergencyStop estop(f.outputs, {});
  EXPECT_FALSE(estop.reset("nothing to reset"));
  ASSERT_TRUE(estop.trigger("operator"));
  EXPECT_TRUE(estop.reset("operator"));
  EXPECT_FALSE(estop.latched());
  EXPECT_EQ(estop.epoch(), 3u);
  EXPECT_TRUE(estop.is_current(3));

  (void)f.next();  // the halt
  const CapturedOutput reset = f.next();
  EXPECT_EQ(reset.text(), "reset");
  EXPECT_EQ(reset.metadata.get_bool("latched"), false);
  EXPECT_EQ(epoch_of(reset), 3);
  EXPECT_EQ(estop.stats().resets, 1u);
}

TEST(EmergencyStop, ResultOfAnEarlierEpoch_IsDroppedAsStale) {
  Fixture f;
  dcp::EmergencyStop estop(f.outputs, {});
  const std::uint64_t before = estop.epoch();
  ASSERT_TRUE(estop.trigger("operator"));
  ASSERT_TRUE(estop.reset());
  // A result computed from an input of the first epoch, finishing after the reset.
  f.outputs.send("command", "stale", {}, before);
  // One of the latched epoch (an input that arrived while latched).
  f.outputs.send("command", "latched", {}, before + 1);
  f.outputs.send("command", "fresh", {}, estop.epoch());
  EXPECT_EQ(f.next().text(), "halt: operator");
  EXPECT_EQ(f.next().text(), "reset");
  EXPECT_EQ(f.next().text(), "fresh");
  ASSERT_TRUE(f.outputs.flush_for(kHang));
  EXPECT_EQ(f.outputs.stats().stale, 2u);
}

TEST(EmergencyStop, WhileLatched_TaggedOutputsOfTheCurrentEpochAreDroppedToo) {
  Fixture f;
  dcp::EmergencyStop estop(f.outputs, {});
  ASSERT_TRUE(estop.trigger("operator"));
  f.outputs.send("command", "computed while latched", {}, estop.epoch());
  f.outputs.send("safety_state", "untagged passes");
  EXPECT_EQ(f.next().text(), "halt: operator");
  EXPECT_EQ(f.next().text(), "untagged passes");
  ASSERT_TRUE(f.outputs.flush_for(kHang));
  EXPECT_EQ(f.outputs.stats().stale, 1u);
}

TEST(EmergencyStop, Trigger_DiscardsQueuedInputsAndStopsTheRunningHandler) {
  Fixture f;
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  dcp::EmergencyStop estop(f.outputs, {});

  std::promise<void> started;
  std::promise<void> saw_stop;
  std::atomic<int> runs{0};
  router.on_input("work", [&](const dcp::InputEvent&, const dcp::InputContext& context) {
    if (runs.fetch_add(1) == 0) {
      started.set_value();
      // Wait (without a timer) until the stop token is requested.
      std::mutex mutex;
      std::condition_variable cv;
      bool stopped = false;
      std::stop_callback on_stop(context.stop, [&] {
        std::lock_guard lock(mutex);
        stopped = true;
        cv.notify_all();
      });
      std::unique_lock lock(mutex);
      if (cv.wait_for(lock, kHang, [&] { return stopped; })) saw_stop.set_value();
    }
  }, {.execution = dcp::Execution::serial, .queue_capacity = 16});
  estop.protect(router);

  router.dispatch(input("work"));
  started.get_future().wait();
  for (int i = 0; i < 5; ++i) router.dispatch(input("work"));

  ASSERT_TRUE(estop.trigger("operator"));
  EXPECT_EQ(saw_stop.get_future().wait_for(kHang), std::future_status::ready);
  ASSERT_TRUE(router.wait_idle_for(kHang));
  EXPECT_EQ(runs.load(), 1);  // the five queued inputs never ran
  EXPECT_EQ(router.input_stats("work").discarded, 5u);
  EXPECT_EQ(estop.stats().discarded, 5u);
}

TEST(EmergencyStop, InputsAreStampedWithTheEpochCurrentWhenTheyArrive) {
  Fixture f;
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  dcp::EmergencyStop estop(f.outputs, {});
  std::vector<std::uint64_t> epochs;
  router.on_input("imu", [&](const dcp::InputEvent&, const dcp::InputContext& context) {
    epochs.push_back(context.epoch);
  }, {.execution = dcp::Execution::on_loop});
  estop.protect(router);

  router.dispatch(input("imu"));
  estop.trigger("operator");
  router.dispatch(input("imu"));
  estop.reset();
  router.dispatch(input("imu"));
  EXPECT_EQ(epochs, (std::vector<std::uint64_t>{1, 2, 3}));
}

TEST(EmergencyStop, CriticalInputClosed_Triggers) {
  Fixture f;
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  dcp::EmergencyStop estop(f.outputs, {.critical_inputs = {"imu"}});
  estop.protect(router);

  router.dispatch(dcp::InputClosedEvent{"lidar"});
  EXPECT_FALSE(estop.latched());
  router.dispatch(dcp::InputClosedEvent{"imu"});
  EXPECT_TRUE(estop.latched());
  EXPECT_EQ(f.next().text(), "halt: input closed: imu");
}

TEST(EmergencyStop, WatchdogTriggersWhenAWatchedInputIsSilent) {
  Fixture f;
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  dcp::EmergencyStop estop(f.outputs, {.watchdog = {{"imu", 50ms}}});
  estop.protect(router);
  // No imu input arrives: the watchdog fires on its own thread.
  const CapturedOutput halt = f.next();
  EXPECT_EQ(halt.id, "safety_state");
  EXPECT_NE(halt.text().find("watchdog: no 'imu' for"), std::string_view::npos) << halt.text();
  EXPECT_TRUE(estop.latched());
}

TEST(EmergencyStop, Shutdown_StopsTheWatchdog_NoTriggerAfterIt) {
  Fixture f;
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  dcp::EmergencyStop estop(f.outputs, {.watchdog = {{"imu", 1ms}}});
  estop.protect(router);
  estop.shutdown();  // joins the watchdog thread: a firing in progress has finished
  const bool latched_at_shutdown = estop.latched();
  const std::uint64_t epoch_at_shutdown = estop.epoch();
  // The deadline passes many times over: nothing may trigger any more. (Waiting for something not to
  // happen needs a wait; this one only bounds how long the test looks, it synchronises nothing.)
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(estop.latched(), latched_at_shutdown);
  EXPECT_EQ(estop.epoch(), epoch_at_shutdown);
  EXPECT_EQ(estop.stats().triggers, latched_at_shutdown ? 1u : 0u);
}

TEST(EmergencyStop, AfterShutdown_TriggerAndResetAreRefusedAndCounted_ObserversWork) {
  Fixture f;
  dcp::EmergencyStop estop(f.outputs, {});
  ASSERT_TRUE(estop.trigger("operator"));
  (void)f.next();  // the halt
  estop.shutdown(dcp::ShutdownMode::cancel);
  estop.shutdown();  // idempotent
  EXPECT_FALSE(estop.reset("operator"));
  EXPECT_FALSE(estop.trigger("again"));
  const dcp::EmergencyStop::Stats stats = estop.stats();
  EXPECT_EQ(stats.refused_after_shutdown, 2u);
  EXPECT_EQ(stats.resets, 0u);
  EXPECT_EQ(stats.repeated_triggers, 0u);
  EXPECT_TRUE(estop.latched());  // the gate keeps its last state: still latched
  EXPECT_EQ(estop.epoch(), 2u);
  f.outputs.shutdown();
  EXPECT_EQ(f.outputs.stats().priority_sent, 1u);  // only the halt left, no reset notice
}

TEST(EmergencyStop, OnTriggerCallbacks_GetEpochAndReason_AndAThrowingOneIsContained) {
  Fixture f;
  dcp::EmergencyStop estop(f.outputs, {});
  std::uint64_t seen_epoch = 0;
  std::string seen_reason;
  estop.on_trigger([](std::uint64_t, std::string_view) { throw std::runtime_error("observer failed"); });
  estop.on_trigger([&](std::uint64_t epoch, std::string_view reason) {
    seen_epoch = epoch;
    seen_reason = reason;
  });
  EXPECT_TRUE(estop.trigger("bumper"));
  EXPECT_EQ(seen_epoch, 2u);
  EXPECT_EQ(seen_reason, "bumper");
  EXPECT_TRUE(estop.latched());
}

// The invariant the robot relies on: once the halt has left, no command computed from an input of
// an earlier epoch follows it — however many workers are producing commands at that moment.
TEST(EmergencyStop, NoStaleCommandLeavesAfterTheHalt_UnderConcurrentProducers) {
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    Fixture f;
    dcp::EmergencyStop estop(f.outputs, {});
    std::atomic<bool> stop{false};
    std::vector<std::thread> producers;
    std::atomic<int> sent{0};
    for (int p = 0; p < 3; ++p) {
      producers.emplace_back([&] {
        while (!stop.load(std::memory_order_relaxed)) {
          const std::uint64_t epoch = estop.epoch();  // the epoch of the "input" this result came from
          dcp::Metadata metadata;
          metadata.parameters["epoch"] = static_cast<std::int64_t>(epoch);
          f.outputs.send("command", "go", std::move(metadata), epoch);
          sent.fetch_add(1, std::memory_order_relaxed);
        }
      });
    }
    while (sent.load() < 200) std::this_thread::yield();
    ASSERT_TRUE(estop.trigger("operator"));
    while (sent.load() < 400) std::this_thread::yield();
    stop = true;
    for (std::thread& t : producers) t.join();
    ASSERT_TRUE(f.outputs.flush_for(kHang));

    bool halted = false;
    int after_halt = 0;
    while (std::optional<CapturedOutput> out = f.harness.next_output(0ms)) {
      if (out->id == "safety_state") {
        halted = true;
      } else if (halted) {
        ++after_halt;
        ADD_FAILURE() << "round " << round << ": a command of epoch " << epoch_of(*out) << " left after the halt";
      }
    }
    EXPECT_TRUE(halted);
    EXPECT_EQ(after_halt, 0);
  }
}

// The documented destruction order (the stop before the routers it protects): a router that still
// has queued work drains it afterwards, and its hooks must not reach into the destroyed stop.
TEST(EmergencyStop, StopDestroyedBeforeItsRouter_RouterDrainsWithoutTouchingTheStop) {
  Fixture f;
  dcp::WorkerPool pool({.threads = 1});
  dcp::EventRouter router(pool);
  auto estop = std::make_unique<dcp::EmergencyStop>(
      f.outputs, dcp::EmergencyStop::Options{.critical_inputs = {"imu"}, .watchdog = {{"imu", 1h}}});
  std::promise<void> started;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> runs{0};
  std::vector<std::uint64_t> epochs;  // written by the (serial) handler only
  router.on_input("work", [&](const dcp::InputEvent&, const dcp::InputContext& context) {
    epochs.push_back(context.epoch);
    if (runs.fetch_add(1) == 0) {
      started.set_value();
      (void)released.wait_for(kHang);
    }
  }, {.execution = dcp::Execution::serial, .queue_capacity = 16});
  estop->protect(router);

  router.dispatch(input("work"));
  ASSERT_EQ(started.get_future().wait_for(kHang), std::future_status::ready);
  for (int i = 0; i < 3; ++i) router.dispatch(input("work"));
  estop.reset();  // the stop goes first, as its header asks
  release.set_value();
  router.shutdown(dcp::ShutdownMode::drain);  // the drainer checks the epoch of each queued input
  EXPECT_EQ(runs.load(), 4);
  EXPECT_EQ(epochs, (std::vector<std::uint64_t>{1, 1, 1, 1}));
  // The loop hooks too: stamping, feeding the (stopped) watchdog, a critical input closing.
  router.dispatch(input("imu"));
  router.dispatch(dcp::InputClosedEvent{"imu"});
  EXPECT_EQ(router.stats().control_failures, 0u);
}

TEST(EmergencyStop, BadWatchdogEntry_ThrowsFromTheConstructor) {
  Fixture f;
  EXPECT_THROW((dcp::EmergencyStop(f.outputs, {.watchdog = {{"imu", 0ms}}})), std::invalid_argument);
  EXPECT_THROW((dcp::EmergencyStop(f.outputs, {.watchdog = {{"", 10ms}}})), std::invalid_argument);
  EXPECT_THROW((dcp::EmergencyStop(f.outputs, {.watchdog = {{"imu", 10ms}, {"imu", 20ms}}})), std::invalid_argument);
}

// An allocation failure inside trigger() must not leave a stop that is latched but never sent its
// halt (a retry would then return false and the halt would never leave): either nothing changed and
// a retry triggers, or the halt was queued and the trigger counted.
TEST(EmergencyStop, TriggerAllocationFailure_NeverLatchesWithoutTheHalt) {
  const std::string reason = "operator pressed the red button on the panel";  // beyond SSO
  for (long failing = 0;; ++failing) {
    Fixture f;
    dcp::WorkerPool pool({.threads = 1});
    dcp::EventRouter router(pool);
    dcp::EmergencyStop estop(f.outputs, {});
    std::atomic<int> callbacks{0};
    estop.on_trigger([&](std::uint64_t, std::string_view) { callbacks.fetch_add(1); });
    std::promise<void> started;
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::atomic<int> runs{0};
    router.on_input("work", [&](const dcp::InputEvent&, const dcp::InputContext&) {
      if (runs.fetch_add(1) == 0) {
        started.set_value();
        (void)released.wait_for(kHang);
      }
    }, {.execution = dcp::Execution::serial, .queue_capacity = 16});
    estop.protect(router);
    router.dispatch(input("work"));
    ASSERT_EQ(started.get_future().wait_for(kHang), std::future_status::ready);
    for (int i = 0; i < 3; ++i) router.dispatch(input("work"));

    const auto [threw, injected] = dcp::test::with_failing_allocation(failing, [&] { (void)estop.trigger(reason); });
    if (threw) {
      if (estop.latched()) {
        EXPECT_EQ(estop.stats().triggers, 1u) << "allocation " << failing;
      } else {
        EXPECT_EQ(estop.epoch(), 1u) << "allocation " << failing;
        EXPECT_TRUE(estop.trigger(reason)) << "allocation " << failing;  // the retry does it all
      }
    }
    // Either way the halt is out and the queued work never runs.
    ASSERT_TRUE(f.outputs.flush_for(kHang));
    int halts = 0;
    while (std::optional<CapturedOutput> out = f.harness.next_output(0ms)) {
      if (out->id == "safety_state" && out->text() == "halt: " + reason) ++halts;
    }
    EXPECT_EQ(halts, 1) << "allocation " << failing;
    EXPECT_EQ(estop.stats().triggers, 1u) << "allocation " << failing;
    EXPECT_EQ(callbacks.load(), 1) << "allocation " << failing;
    release.set_value();
    ASSERT_TRUE(router.wait_idle_for(kHang));
    EXPECT_EQ(runs.load(), 1) << "allocation " << failing;
    const dcp::InputStats stats = router.input_stats("work");
    EXPECT_EQ(stats.received, stats.handled + stats.failed + stats.dropped + stats.discarded);
    if (!injected) break;  // trigger() ran through without reaching the n-th allocation
    ASSERT_LT(failing, 1000);
  }
}

}  // namespace
