// Tests of examples/robot/invariants.hpp: each rule the monitor enforces, made to fail on purpose
// with hand-made observations, and a clean run that passes. No processes involved.
#include "invariants.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;

constexpr std::int64_t kBase = 1'700'000'000'000'000'000;  // some wall-clock time, ns since the epoch
constexpr std::int64_t ms(double milliseconds) { return kBase + static_cast<std::int64_t>(milliseconds * 1e6); }

/// A 6 s run as the ctest runs it: e-stop at 2.5 s, reset at 3.5 s, status every 500 ms, a lidar
/// frame (fused + command) every 100 ms. Tests remove or add observations, then feed the checker.
struct Timeline {
  std::vector<robot::CommandSeen> commands;
  std::vector<robot::FusedSeen> fused;
  std::vector<robot::SafetyStateSeen> states;
  std::vector<robot::EstopSeen> estops;
  std::vector<robot::StatusSeen> statuses;

  static Timeline clean() {
    Timeline t;
    t.estops = {{ms(2500), robot::EstopSignal::trigger}, {ms(3500), robot::EstopSignal::reset}};
    t.states = {{ms(2501), true, 1, "halt: estop"}, {ms(3501), false, 1, "reset"}};
    for (int i = 1; i <= 12; ++i) t.statuses.push_back({ms(500.0 * i)});
    for (int frame = 0; frame < 60; ++frame) {
      const double at = 100.0 * frame + 20;
      t.fused.push_back({ms(at), frame, true, 4, 4, ""});
      const bool halted = at >= 2501 && at < 3501;
      if (!halted) t.commands.push_back({ms(at + 1), frame, at < 2501 ? 0 : 1});
    }
    return t;
  }

  /// Removes the status messages sent strictly between `after_ns` and `before_ns`.
  void drop_statuses_between(std::int64_t after_ns, std::int64_t before_ns) {
    std::erase_if(statuses, [&](const robot::StatusSeen& s) {
      return s.timestamp_ns > after_ns && s.timestamp_ns < before_ns;
    });
  }

  void feed(robot::InvariantChecker& checker) const {
    for (const auto& c : commands) checker.observe(c);
    for (const auto& f : fused) checker.observe(f);
    for (const auto& s : states) checker.observe(s);
    for (const auto& e : estops) checker.observe(e);
    for (const auto& s : statuses) checker.observe(s);
  }

  [[nodiscard]] robot::InvariantReport check(robot::InvariantChecker::Config config = {}) const {
    if (!config.time_origin_ns) config.time_origin_ns = kBase;  // messages say "t=2.500s"
    robot::InvariantChecker checker(config);
    feed(checker);
    return checker.check(6s);
  }
};

std::string describe(const robot::InvariantReport& report) {
  std::string text;
  for (const auto& v : report.violations) text += "  [" + std::to_string(v.invariant) + "] " + v.message + "\n";
  return text.empty() ? "  (no violations)\n" : text;
}

bool mentions(const robot::InvariantReport& report, int invariant, const std::string& words) {
  return std::any_of(report.violations.begin(), report.violations.end(), [&](const robot::Violation& v) {
    return v.invariant == invariant && v.message.find(words) != std::string::npos;
  });
}

/// Exactly one violation of `invariant`, and its message contains `words` (the failure lists every
/// violation of the report).
testing::AssertionResult violated_once(const robot::InvariantReport& report, int invariant, const std::string& words) {
  if (report.count(invariant) == 1 && mentions(report, invariant, words)) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "expected exactly one violation of invariant " << invariant << " mentioning '"
                                     << words << "'; the report has:\n"
                                     << describe(report);
}

TEST(Invariants, CleanRun_Passes) {
  const robot::InvariantReport report = Timeline::clean().check();
  EXPECT_TRUE(report.passed()) << describe(report);
  EXPECT_EQ(report.commands, 50u);
  EXPECT_EQ(report.commands_before_first_trigger, 25u);
  EXPECT_EQ(report.commands_after_last_reset, 25u);
  EXPECT_EQ(report.fused_frames, 60u);
  EXPECT_EQ(report.fused_complete, 60u);
  EXPECT_EQ(report.status_messages, 12u);
  EXPECT_DOUBLE_EQ(report.status_expected, 12.0);
  EXPECT_EQ(report.longest_status_gap, 500ms);
  ASSERT_EQ(report.halt_latencies.size(), 1u);
  EXPECT_EQ(report.halt_latencies[0], 1ms);
  ASSERT_EQ(report.reset_latencies.size(), 1u);
  EXPECT_EQ(report.reset_latencies[0], 1ms);
}

TEST(Invariants, ObservationOrder_DoesNotMatter) {
  Timeline t = Timeline::clean();
  std::mt19937 random(7);
  std::shuffle(t.commands.begin(), t.commands.end(), random);
  std::shuffle(t.statuses.begin(), t.statuses.end(), random);
  std::reverse(t.states.begin(), t.states.end());
  std::reverse(t.estops.begin(), t.estops.end());
  robot::InvariantChecker checker({});
  // Interleave the kinds in reverse: the processor's messages before the e-stop that caused them.
  for (const auto& s : t.states) checker.observe(s);
  for (const auto& c : t.commands) checker.observe(c);
  for (const auto& s : t.statuses) checker.observe(s);
  for (const auto& f : t.fused) checker.observe(f);
  for (const auto& e : t.estops) checker.observe(e);
  const auto report = checker.check(6s);
  EXPECT_TRUE(report.passed()) << describe(report);
  EXPECT_EQ(report.halt_latencies.size(), 1u);
}

// ---- rule 1: no command while halted -----------------------------------------------------------

TEST(Invariants, CommandInsideTheHaltWindow_IsAViolation) {
  Timeline t = Timeline::clean();
  t.commands.push_back({ms(3000), 30, 1});
  const auto report = t.check();
  EXPECT_TRUE(violated_once(report, 1, "while halted"));
  EXPECT_EQ(report.commands_while_halted, 1u);
}

TEST(Invariants, CommandAtTheHaltTimestamp_IsInsideTheWindow) {
  Timeline t = Timeline::clean();
  t.commands.push_back({ms(2501), 25, 1});
  EXPECT_EQ(t.check().count(1), 1u);
}

TEST(Invariants, CommandAtTheResetTimestamp_IsAllowed) {
  Timeline t = Timeline::clean();
  t.commands.push_back({ms(3501), 35, 1});  // the window is [halt, reset)
  const auto report = t.check();
  EXPECT_TRUE(report.passed()) << describe(report);
}

TEST(Invariants, CommandWithAStaleEpochAfterTheReset_IsAViolation) {
  Timeline t = Timeline::clean();
  t.commands.push_back({ms(3600), 24, 0});  // computed from data from before the e-stop
  const auto report = t.check();
  EXPECT_TRUE(violated_once(report, 1, "stale epoch"));
  EXPECT_EQ(report.commands_with_stale_epoch, 1u);
}

TEST(Invariants, CommandsAfterAHaltThatWasNeverReset_AreViolations) {
  Timeline t = Timeline::clean();
  t.states.pop_back();  // the processor never resets
  for (auto& c : t.commands) {
    if (c.timestamp_ns > ms(3500)) c.epoch = 1;
  }
  const auto report = t.check();
  EXPECT_EQ(report.commands_while_halted, 25u) << describe(report);
  EXPECT_TRUE(mentions(report, 1, "never reset")) << describe(report);
}

// ---- rule 2: fused frames complete or flagged --------------------------------------------------

TEST(Invariants, PartialFrameWithAReason_IsAllowed) {
  Timeline t = Timeline::clean();
  t.fused[10] = {t.fused[10].timestamp_ns, 10, false, 3, 4, "deadline"};
  t.fused[11] = {t.fused[11].timestamp_ns, 11, false, 0, 4, "flushed"};
  const auto report = t.check();
  EXPECT_TRUE(report.passed()) << describe(report);
  EXPECT_EQ(report.fused_partial_by_reason.at("deadline"), 1u);
  EXPECT_EQ(report.fused_partial_by_reason.at("flushed"), 1u);
}

TEST(Invariants, PartialFrameWithoutAFlag_IsAViolation) {
  Timeline t = Timeline::clean();
  t.fused[10] = {t.fused[10].timestamp_ns, 10, false, 3, 4, ""};
  const auto report = t.check();
  EXPECT_TRUE(violated_once(report, 2, "without a partial_reason"));
}

TEST(Invariants, FrameClaimingCompleteWithMissingParts_IsAViolation) {
  Timeline t = Timeline::clean();
  t.fused[10].parts = 3;
  const auto report = t.check();
  EXPECT_TRUE(violated_once(report, 2, "claims to be complete"));
}

TEST(Invariants, UnknownReasonOrImpossiblePartCount_AreViolations) {
  Timeline t = Timeline::clean();
  t.fused[10] = {t.fused[10].timestamp_ns, 10, false, 3, 4, "tired"};
  t.fused[11] = {t.fused[11].timestamp_ns, 11, false, 5, 4, "evicted"};
  t.fused[12] = {t.fused[12].timestamp_ns, 12, true, 0, 0, ""};
  const auto report = t.check();
  EXPECT_EQ(report.count(2), 3u) << describe(report);
  EXPECT_TRUE(mentions(report, 2, "unknown partial_reason 'tired'"));
  EXPECT_TRUE(mentions(report, 2, "impossible part count"));
  EXPECT_TRUE(mentions(report, 2, "expects no parts"));
}

TEST(Invariants, FrameIdTwice_IsAViolation) {
  Timeline t = Timeline::clean();
  t.fused.push_back({ms(5990), 17, true, 4, 4, ""});
  const auto report = t.check();
  EXPECT_TRUE(violated_once(report, 2, "fused frame 17 at t="));
  EXPECT_TRUE(mentions(report, 2, "appears twice")) << describe(report);
  EXPECT_EQ(report.fused_duplicates, 1u);
}

// ---- rule 3: status on time ---------------------------------------------------------------------

TEST(Invariants, StatusGapLongerThanThreePeriods_IsAViolation) {
  Timeline t = Timeline::clean();
  // Drop the status messages at 1.5, 2.0, 2.5 s: a 2 s gap (1.0 -> 3.0 s) > 3 x 500 ms.
  t.drop_statuses_between(ms(1000), ms(3000));
  const auto report = t.check();
  EXPECT_TRUE(violated_once(report, 3, "a gap of 2000.0 ms"));
  EXPECT_EQ(report.longest_status_gap, 2s);
}

TEST(Invariants, GapOfExactlyThreePeriods_IsAllowed) {
  Timeline t = Timeline::clean();
  t.drop_statuses_between(ms(1000), ms(2500));
  const auto report = t.check();
  EXPECT_TRUE(report.passed()) << describe(report);
}

TEST(Invariants, FewerThanHalfTheExpectedStatusMessages_IsAViolation) {
  Timeline t = Timeline::clean();
  t.statuses = {{ms(1000)}, {ms(2400)}, {ms(3800)}, {ms(5200)}, {ms(5900)}};  // 5 < 12 / 2, gaps < 1.5 s
  const auto report = t.check();
  EXPECT_TRUE(violated_once(report, 3, "only 5 status message(s)"));
  t.statuses.push_back({ms(5950)});  // 6 of 12: enough
  EXPECT_TRUE(t.check().passed());
}

// ---- rule 4: every e-stop answered ------------------------------------------------------------

TEST(Invariants, TriggerWithoutAHalt_IsAViolation) {
  Timeline t = Timeline::clean();
  t.states.erase(t.states.begin());  // no halt (the reset stays)
  const auto report = t.check();
  EXPECT_TRUE(violated_once(report, 4, "e-stop trigger at t=2.500s was never followed by a processor halt"));
}

TEST(Invariants, HaltLaterThanMaxReaction_IsAViolation) {
  Timeline t = Timeline::clean();
  t.states[0].timestamp_ns = ms(2500 + 300);
  auto report = t.check({.max_reaction = 200ms});
  EXPECT_TRUE(violated_once(report, 4, "only after 300.0 ms"));
  ASSERT_EQ(report.halt_latencies.size(), 1u);
  EXPECT_EQ(report.halt_latencies[0], 300ms);
  report = t.check({.max_reaction = 400ms});
  EXPECT_EQ(report.count(4), 0u) << describe(report);
}

TEST(Invariants, ResetWithoutAProcessorReset_IsAViolation) {
  Timeline t = Timeline::clean();
  t.states.pop_back();
  const auto report = t.check();
  EXPECT_TRUE(mentions(report, 4, "e-stop reset at t=3.500s was never followed by a processor reset"))
      << describe(report);
}

TEST(Invariants, TriggerWhileAlreadyHalted_NeedsNoNewHalt) {
  Timeline t = Timeline::clean();
  t.estops.push_back({ms(3000), robot::EstopSignal::trigger});  // pressed again while halted
  const auto report = t.check();
  EXPECT_TRUE(report.passed()) << describe(report);
  EXPECT_EQ(report.estop_triggers, 2u);
  EXPECT_EQ(report.halt_latencies.size(), 1u);
}

// ---- rule 5: commands flowed ------------------------------------------------------------------

TEST(Invariants, NoCommandBeforeTheFirstTrigger_IsAViolation) {
  Timeline t = Timeline::clean();
  std::erase_if(t.commands, [](const robot::CommandSeen& c) { return c.timestamp_ns < ms(2500); });
  const auto report = t.check();
  EXPECT_TRUE(violated_once(report, 5, "no command before the first e-stop"));
}

TEST(Invariants, NoCommandAfterTheReset_IsAViolation) {
  Timeline t = Timeline::clean();
  std::erase_if(t.commands, [](const robot::CommandSeen& c) { return c.timestamp_ns > ms(2500); });
  const auto report = t.check();
  EXPECT_TRUE(violated_once(report, 5, "no command after the processor's reset"));
}

TEST(Invariants, RunWithoutAnEstop_FailsUnlessAllowed) {
  Timeline t = Timeline::clean();
  t.estops.clear();
  t.states.clear();
  for (auto& c : t.commands) c.epoch = 0;
  auto report = t.check();
  EXPECT_EQ(report.count(5), 2u) << describe(report);  // no trigger, no reset
  report = t.check({.require_estop_cycle = false});
  EXPECT_TRUE(report.passed()) << describe(report);
  t.commands.clear();
  report = t.check({.require_estop_cycle = false});
  EXPECT_TRUE(mentions(report, 5, "no command was sent at all")) << describe(report);
}

TEST(Invariants, EmptyRun_FailsSeveralRules) {
  robot::InvariantChecker checker({});
  const auto report = checker.check(6s);
  EXPECT_FALSE(report.passed());
  EXPECT_EQ(report.count(3), 1u) << describe(report);  // no status at all
  EXPECT_GE(report.count(5), 2u) << describe(report);
}

// ---- malformed messages and configuration -----------------------------------------------------

TEST(Invariants, MalformedMessage_IsAViolation) {
  robot::InvariantChecker checker({.time_origin_ns = kBase});
  Timeline::clean().feed(checker);
  checker.observe_malformed("command", "velocity command: expected 20 bytes, payload has 3");
  const auto report = checker.check(6s);
  EXPECT_EQ(report.count(0), 1u);
  EXPECT_EQ(report.malformed_messages, 1u);
  EXPECT_TRUE(mentions(report, 0, "malformed message on command: velocity command")) << describe(report);
}

TEST(Invariants, NonPositivePeriods_AreRejected) {
  EXPECT_THROW(robot::InvariantChecker({.status_period = 0ms}), std::invalid_argument);
  EXPECT_THROW(robot::InvariantChecker({.max_reaction = -1ms}), std::invalid_argument);
}

}  // namespace
