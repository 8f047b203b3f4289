// Tests of dcp::EmergencyStop: latching, epochs, the priority halt, discarding queued work,
// cancelling running handlers, the watchdog and critical-input triggers, the set-up and after-shutdown
// rules and both destruction orders with a router — through the test harness.
// Synchronisation: handlers are held with dcp::test::Gate; kHang (dcp::test::kHangTimeout) only
// catches hangs.
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

#include "support/failing_allocation.hpp"  // this binary's operator new fails on demand
#include "support/gate.hpp"
#include "support/hang_timeout.hpp"

namespace {

using namespace std::chrono_literals;
using dcp::testing::CapturedOutput;

using dcp::test::Gate;
constexpr auto kHang = dcp::test::kHangTimeout;  // only catches hangs

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

  /// Waits until every queued output has left, then returns the text of each output not read yet, in
  /// order.
  std::vector<std::string> flushed_texts() {
    EXPECT_TRUE(outputs.flush_for(kHang));
    std::vector<std::string> texts;
    while (std::optional<CapturedOutput> out = harness.next_output(0ms)) texts.emplace_back(out->text());
    return texts;
  }
};

dcp::InputEvent input(std::string id, std::string text = "x") {
  return dcp::InputEvent{std::move(id), dcp::Payload::from_string(text), {}};
}

/// A serial "work" handler whose first run is held until `release` opens; counts the runs and records
/// each input's epoch. Outlives the router it is installed in (declare it first).
struct HeldWork {
  Gate started;
  Gate release;
  std::atomic<int> runs{0};
  std::vector<std::uint64_t> epochs;  // written by the serial handler only

  void install(dcp::EventRouter& router) {
    router.on_input("work", [this](const dcp::InputEvent&, const dcp::InputContext& context) {
      epochs.push_back(context.epoch);
      if (runs.fetch_add(1) == 0) {
        started.open();
        (void)release.wait();
      }
    }, {.execution = dcp::Execution::serial, .queue_capacity = 16});
  }

  /// Dispatches one input and waits until its handler runs (held), then queues `queued` more behind it.
  void hold_one_and_queue(dcp::EventRouter& router, int queued) {
    router.dispatch(input("work"));
    ASSERT_TRUE(started.wait());
    for (int i = 0; i < queued; ++i) router.dispatch(input("work"));
  }
};

/// Fixture plus a one-worker pool and a router on it, declared before the stop a test makes (so that
/// the stop is destroyed first, the documented order), and a HeldWork that outlives the router.
struct RouterFixture : Fixture {
  HeldWork work;
  dcp::WorkerPool pool{dcp::WorkerPool::Options{.threads = 1}};
  dcp::EventRouter router{pool};
};

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
  EXPECT_EQ(f.flushed_texts(), (std::vector<std::string>{"halt: operator", "reset", "fresh"}));
  EXPECT_EQ(f.outputs.stats().stale, 2u);
}

TEST(EmergencyStop, WhileLatched_TaggedOutputsOfTheCurrentEpochAreDroppedToo) {
  Fixture f;
  dcp::EmergencyStop estop(f.outputs, {});
  ASSERT_TRUE(estop.trigger("operator"));
  f.outputs.send("command", "computed while latched", {}, estop.epoch());
  f.outputs.send("safety_state", "untagged passes");
  EXPECT_EQ(f.flushed_texts(), (std::vector<std::string>{"halt: operator", "untagged passes"}));
  EXPECT_EQ(f.outputs.stats().stale, 1u);
}

TEST(EmergencyStop, Trigger_DiscardsQueuedInputsAndStopsTheRunningHandler) {
  RouterFixture f;
  dcp::EventRouter& router = f.router;
  dcp::EmergencyStop estop(f.outputs, {});

  Gate started;
  std::promise<void> saw_stop;
  std::atomic<int> runs{0};
  router.on_input("work", [&](const dcp::InputEvent&, const dcp::InputContext& context) {
    if (runs.fetch_add(1) == 0) {
      started.open();
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
  ASSERT_TRUE(started.wait());
  for (int i = 0; i < 5; ++i) router.dispatch(input("work"));

  ASSERT_TRUE(estop.trigger("operator"));
  EXPECT_EQ(saw_stop.get_future().wait_for(kHang), std::future_status::ready);
  ASSERT_TRUE(router.wait_idle_for(kHang));
  EXPECT_EQ(runs.load(), 1);  // the five queued inputs never ran
  EXPECT_EQ(router.input_stats("work").discarded, 5u);
  EXPECT_EQ(estop.stats().discarded, 5u);
}

TEST(EmergencyStop, InputsAreStampedWithTheEpochCurrentWhenTheyArrive) {
  RouterFixture f;
  dcp::EventRouter& router = f.router;
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
  RouterFixture f;
  dcp::EventRouter& router = f.router;
  dcp::EmergencyStop estop(f.outputs, {.critical_inputs = {"imu"}});
  estop.protect(router);

  router.dispatch(dcp::InputClosedEvent{"lidar"});
  EXPECT_FALSE(estop.latched());
  router.dispatch(dcp::InputClosedEvent{"imu"});
  EXPECT_TRUE(estop.latched());
  EXPECT_EQ(f.next().text(), "halt: input closed: imu");
}

TEST(EmergencyStop, UnnamedInputClosedWithOneCriticalInput_Triggers_FailSafe) {
  RouterFixture f;
  dcp::EmergencyStop estop(f.outputs, {.critical_inputs = {"imu"}});
  estop.protect(f.router);
  f.router.dispatch(dcp::InputClosedEvent{""});
  EXPECT_TRUE(estop.latched());
  EXPECT_EQ(f.next().text(), "halt: input closed: an input the backend did not name (could be critical input(s): imu)");
}

TEST(EmergencyStop, UnnamedInputClosedWithSeveralCriticalInputs_TriggersNamingTheOnesStillOpen) {
  RouterFixture f;
  dcp::EmergencyStop estop(f.outputs, {.critical_inputs = {"imu", "lidar", "estop"}});
  estop.protect(f.router);
  f.router.dispatch(dcp::InputClosedEvent{"lidar"});
  ASSERT_TRUE(estop.latched());
  EXPECT_EQ(f.next().text(), "halt: input closed: lidar");
  estop.reset();
  (void)f.next();  // the reset notice
  f.router.dispatch(dcp::InputClosedEvent{""});
  EXPECT_TRUE(estop.latched());
  EXPECT_EQ(f.next().text(),
            "halt: input closed: an input the backend did not name (could be critical input(s): imu, estop)");
}

TEST(EmergencyStop, UnnamedInputClosedAfterEveryCriticalInputClosedByName_DoesNotTrigger) {
  RouterFixture f;
  dcp::EmergencyStop estop(f.outputs, {.critical_inputs = {"imu"}});
  estop.protect(f.router);
  f.router.dispatch(dcp::InputClosedEvent{"imu"});
  ASSERT_TRUE(estop.latched());
  estop.reset();
  f.router.dispatch(dcp::InputClosedEvent{""});
  EXPECT_FALSE(estop.latched()) << "the unnamed input cannot be imu, which is closed already";
  EXPECT_EQ(estop.stats().triggers, 1u);
}

TEST(EmergencyStop, UnnamedInputClosedWithoutCriticalInputs_DoesNotTrigger) {
  RouterFixture f;
  dcp::EmergencyStop estop(f.outputs, {});
  estop.protect(f.router);
  f.router.dispatch(dcp::InputClosedEvent{""});
  EXPECT_FALSE(estop.latched());
}

TEST(EmergencyStop, WatchdogTriggersWhenAWatchedInputIsSilent) {
  RouterFixture f;
  dcp::EventRouter& router = f.router;
  dcp::EmergencyStop estop(f.outputs, {.watchdog = {{"imu", 50ms}}});
  estop.protect(router);
  // No imu input arrives: the watchdog fires on its own thread.
  const CapturedOutput halt = f.next();
  EXPECT_EQ(halt.id, "safety_state");
  EXPECT_NE(halt.text().find("watchdog: no 'imu' for"), std::string_view::npos) << halt.text();
  EXPECT_TRUE(estop.latched());
}

TEST(EmergencyStop, Shutdown_StopsTheWatchdog_NoTriggerAfterIt) {
  RouterFixture f;
  dcp::EventRouter& router = f.router;
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

TEST(EmergencyStop, TriggerAndResetAfterShutdown_AreRefusedAndCounted_QueriesKeepWorking) {
  Fixture f;
  dcp::EmergencyStop estop(f.outputs, {});
  ASSERT_TRUE(estop.trigger("operator"));
  (void)f.next();  // the halt
  estop.shutdown(dcp::ShutdownMode::cancel);
  EXPECT_FALSE(estop.reset("operator"));  // refused: never throws, does nothing
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

TEST(EmergencyStop, ProtectAfterShutdown_ThrowsLogicError) {
  RouterFixture f;
  dcp::EmergencyStop estop(f.outputs, {.critical_inputs = {"imu"}});
  estop.shutdown();
  try {
    estop.protect(f.router);
    ADD_FAILURE() << "protect() after shutdown() did not throw";
  } catch (const std::logic_error& error) {
    EXPECT_STREQ(error.what(), "dcp::EmergencyStop::protect: called after shutdown()");
  }
  // Nothing was wired: the router stamps no epoch and a critical input closing triggers nothing.
  std::uint64_t epoch = 99;
  f.router.on_input("imu", [&](const dcp::InputEvent&, const dcp::InputContext& context) { epoch = context.epoch; },
                    {.execution = dcp::Execution::on_loop});
  f.router.dispatch(input("imu"));
  EXPECT_EQ(epoch, 0u);
  f.router.dispatch(dcp::InputClosedEvent{"imu"});
  EXPECT_FALSE(estop.latched());
}

TEST(EmergencyStop, OnTriggerAfterShutdown_ThrowsLogicError) {
  Fixture f;
  dcp::EmergencyStop estop(f.outputs, {});
  estop.shutdown();
  try {
    estop.on_trigger([](std::uint64_t, std::string_view) {});
    ADD_FAILURE() << "on_trigger() after shutdown() did not throw";
  } catch (const std::logic_error& error) {
    EXPECT_STREQ(error.what(), "dcp::EmergencyStop::on_trigger: called after shutdown()");
  }
}

TEST(EmergencyStop, ShutdownTwice_IsANoOp) {
  RouterFixture f;
  dcp::EmergencyStop estop(f.outputs, {.watchdog = {{"imu", 1h}}});
  estop.protect(f.router);
  ASSERT_TRUE(estop.trigger("operator"));
  estop.shutdown();
  const dcp::EmergencyStop::Stats first = estop.stats();
  estop.shutdown();
  estop.shutdown(dcp::ShutdownMode::cancel);
  const dcp::EmergencyStop::Stats second = estop.stats();
  EXPECT_EQ(second.triggers, first.triggers);
  EXPECT_EQ(second.epoch, first.epoch);
  EXPECT_EQ(second.latched, first.latched);
  EXPECT_EQ(second.refused_after_shutdown, 0u);
  EXPECT_EQ(f.flushed_texts(), (std::vector<std::string>{"halt: operator"}));  // nothing sent by the shutdowns
}

TEST(EmergencyStop, ProtectTwiceForTheSameRouter_ThrowsLogicError_AnotherRouterIsFine) {
  RouterFixture f;
  dcp::EventRouter other(f.pool);
  dcp::EmergencyStop estop(f.outputs, {.critical_inputs = {"imu"}});
  std::atomic<int> triggers{0};
  estop.on_trigger([&](std::uint64_t, std::string_view) { triggers.fetch_add(1); });
  estop.protect(f.router);
  try {
    estop.protect(f.router);
    ADD_FAILURE() << "a second protect() of the same router did not throw";
  } catch (const std::logic_error& error) {
    EXPECT_NE(std::string(error.what()).find("already protected"), std::string::npos) << error.what();
  }
  estop.protect(other);
  // The first router's hooks are installed once: one close, one trigger (a second hook would be a
  // second, repeated, trigger).
  f.router.dispatch(dcp::InputClosedEvent{"imu"});
  EXPECT_EQ(triggers.load(), 1);
  EXPECT_EQ(estop.stats().repeated_triggers, 0u);
  EXPECT_EQ(estop.stats().triggers, 1u);
}

TEST(EmergencyStop, ProtectAfterTheRouterDispatched_ThrowsLogicError_NothingChanged) {
  RouterFixture f;
  std::vector<std::uint64_t> epochs;
  f.router.on_input("imu", [&](const dcp::InputEvent&, const dcp::InputContext& context) {
    epochs.push_back(context.epoch);
  }, {.execution = dcp::Execution::on_loop});
  f.router.dispatch(input("imu"));
  dcp::EmergencyStop estop(f.outputs, {.critical_inputs = {"imu"}, .watchdog = {{"imu", 1ms}}});
  try {
    estop.protect(f.router);
    ADD_FAILURE() << "protect() after the router dispatched did not throw";
  } catch (const std::logic_error& error) {
    EXPECT_NE(std::string(error.what()).find("dcp::EmergencyStop::protect: the router has already dispatched"),
              std::string::npos)
        << error.what();
  }
  f.router.dispatch(input("imu"));
  f.router.dispatch(dcp::InputClosedEvent{"imu"});
  EXPECT_EQ(epochs, (std::vector<std::uint64_t>{0, 0}));  // not stamped
  EXPECT_FALSE(estop.latched());                          // no hook, and the watchdog never armed
  EXPECT_EQ(estop.stats().triggers, 0u);
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
  RouterFixture f;
  dcp::EventRouter& router = f.router;
  auto estop = std::make_unique<dcp::EmergencyStop>(
      f.outputs, dcp::EmergencyStop::Options{.critical_inputs = {"imu"}, .watchdog = {{"imu", 1h}}});
  f.work.install(router);
  estop->protect(router);

  f.work.hold_one_and_queue(router, 3);
  estop.reset();  // the stop goes first
  f.work.release.open();
  router.shutdown(dcp::ShutdownMode::drain);  // the drainer checks the epoch of each queued input
  EXPECT_EQ(f.work.runs.load(), 4);
  EXPECT_EQ(f.work.epochs, (std::vector<std::uint64_t>{1, 1, 1, 1}));
  // The loop hooks too: stamping, feeding the (stopped) watchdog, a critical input closing.
  router.dispatch(input("imu"));
  router.dispatch(dcp::InputClosedEvent{"imu"});
  EXPECT_EQ(router.stats().control_failures, 0u);
}

// The other order: a protected router destroyed while the stop lives on. Its hooks go with it and
// take it off the stop's list, so a later trigger never reaches the destroyed router (under ASan a
// use-after-free here would abort).
TEST(EmergencyStop, RouterDestroyedBeforeTheStop_LaterTriggersAndResetsSkipIt) {
  Fixture f;
  HeldWork work;
  dcp::WorkerPool pool({.threads = 1});
  dcp::EmergencyStop estop(f.outputs, {.critical_inputs = {"imu"}, .watchdog = {{"imu", 1h}}});
  auto router = std::make_unique<dcp::EventRouter>(pool);
  auto survivor = std::make_unique<dcp::EventRouter>(pool);
  work.install(*survivor);
  estop.protect(*router);
  estop.protect(*survivor);
  router->dispatch(input("imu"));
  router.reset();  // destroyed first

  work.hold_one_and_queue(*survivor, 2);
  ASSERT_TRUE(estop.trigger("operator"));  // reaches the survivor only
  EXPECT_EQ(estop.stats().discarded, 2u);
  ASSERT_TRUE(estop.reset());
  work.release.open();
  ASSERT_TRUE(survivor->wait_idle_for(kHang));
  EXPECT_EQ(work.runs.load(), 1);
  EXPECT_EQ(f.flushed_texts(), (std::vector<std::string>{"halt: operator", "reset"}));
  survivor.reset();  // the last protected router goes too; the stop is destroyed after both
  EXPECT_TRUE(estop.trigger("after both routers"));
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
    RouterFixture f;
    dcp::EventRouter& router = f.router;
    dcp::EmergencyStop estop(f.outputs, {});
    std::atomic<int> callbacks{0};
    estop.on_trigger([&](std::uint64_t, std::string_view) { callbacks.fetch_add(1); });
    f.work.install(router);
    estop.protect(router);
    f.work.hold_one_and_queue(router, 3);

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
    f.work.release.open();
    ASSERT_TRUE(router.wait_idle_for(kHang));
    EXPECT_EQ(f.work.runs.load(), 1) << "allocation " << failing;
    const dcp::InputStats stats = router.input_stats("work");
    EXPECT_EQ(stats.received, stats.handled + stats.failed + stats.dropped + stats.discarded);
    if (!injected) break;  // trigger() ran through without reaching the n-th allocation
    ASSERT_LT(failing, 1000);
  }
}

}  // namespace
