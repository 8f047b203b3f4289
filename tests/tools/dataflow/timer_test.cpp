// Tests of Dora's timer inputs in the loader: every unit Dora has, converted to a period once;
// malformed timers named with the reason; timers faster than `dcp run` honours are accepted but
// listed as run limitations.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "dataflow/loader.hpp"
#include "parse_helpers.hpp"

namespace {

namespace df = dcp::dataflow;
using df::test::one_node;
using df::test::parse;
using df::test::parse_error;
using namespace std::chrono_literals;

df::Timer timer_of(const std::string& source) {
  const df::Dataflow flow = parse(one_node("    inputs: {t: \"" + source + "\"}\n"));
  return *flow.nodes[0].inputs[0].timer();
}

std::string timer_error(const std::string& source) {
  return parse_error(one_node("    inputs: {t: \"" + source + "\"}\n")).reason();
}

TEST(Timers, EveryDoraUnit_BecomesItsPeriod) {
  EXPECT_EQ(timer_of("dora/timer/secs/2").period, 2s);
  EXPECT_EQ(timer_of("dora/timer/millis/10").period, 10ms);
  EXPECT_EQ(timer_of("dora/timer/micros/250").period, 250us);
  EXPECT_EQ(timer_of("dora/timer/nanos/500000").period, 500us);
  EXPECT_EQ(timer_of("dora/timer/hz/30").period, 33'333'333ns);
  EXPECT_EQ(timer_of("dora/timer/hz/0.5").period, 2s);
  EXPECT_DOUBLE_EQ(timer_of("dora/timer/hz/0.5").rate_hz(), 0.5);
}

TEST(Timers, Spec_IsCanonicalForIntegersAndAsWrittenForHz) {
  EXPECT_EQ(timer_of("dora/timer/millis/007").spec(), "dora/timer/millis/7");
  EXPECT_EQ(timer_of("dora/timer/secs/+3").spec(), "dora/timer/secs/3");
  EXPECT_EQ(timer_of("dora/timer/hz/2.50").spec(), "dora/timer/hz/2.50");
}

TEST(Timers, SamePeriodInTwoUnits_AreTwoTimersOfOnePeriod) {
  const df::Dataflow flow =
      parse(one_node("    inputs: {a: dora/timer/secs/1, b: dora/timer/millis/1000}\n"));
  const auto timers = flow.timers();
  ASSERT_EQ(timers.size(), 2u);
  EXPECT_EQ(timers[0].period, timers[1].period);
}

TEST(Timers, MalformedTimers_NameWhatIsWrong) {
  const std::string expected =
      " (expected dora/timer/secs/<N>, millis/<N>, micros/<N> or nanos/<N> with <N> an integer > "
      "0, or dora/timer/hz/<F> with <F> a number > 0)";
  EXPECT_EQ(timer_error("dora/timer/millis"),
            "malformed timer 'dora/timer/millis': the unit and value are missing" + expected);
  EXPECT_EQ(timer_error("dora/timer/minutes/1"),
            "malformed timer 'dora/timer/minutes/1': unknown unit 'minutes'" + expected);
  for (const std::string bad : {"", "-1", "1.5", "10/x", " 1", "1e3"}) {
    EXPECT_EQ(timer_error("dora/timer/millis/" + bad),
              "malformed timer 'dora/timer/millis/" + bad + "': '" + bad + "' is not an integer" +
                  expected);
  }
  EXPECT_EQ(timer_error("dora/timer/nanos/0"),
            "malformed timer 'dora/timer/nanos/0': the period is zero" + expected);
  EXPECT_EQ(timer_error("dora/timer/hz/fast"),
            "malformed timer 'dora/timer/hz/fast': 'fast' is not a number" + expected);
  for (const std::string bad : {"0", "-5", "inf", "nan"}) {
    EXPECT_EQ(timer_error("dora/timer/hz/" + bad),
              "malformed timer 'dora/timer/hz/" + bad + "': the rate must be a finite number > 0" +
                  expected);
  }
  EXPECT_EQ(timer_error("dora/timer/hz/3e9"),
            "malformed timer 'dora/timer/hz/3e9': the rate is above 1 GHz, a period under 1 ns" +
                expected);
}

TEST(Timers, PeriodBeyondNanosecondRange_IsTooLong) {
  EXPECT_EQ(timer_error("dora/timer/secs/9223372037"),
            "timer 'dora/timer/secs/9223372037': the period is too long (dcp's limit is 292 years)");
  EXPECT_EQ(timer_of("dora/timer/secs/9223372036").period.count(), 9'223'372'036'000'000'000);
}

TEST(Timers, FasterThanTheRunnerHonours_IsAcceptedAsARunLimitation) {
  const df::Dataflow ok = parse(one_node("    inputs: {t: dora/timer/micros/100}\n"));
  EXPECT_TRUE(ok.run_limitations.empty());
  const df::Dataflow fast = parse(one_node("    inputs: {t: dora/timer/micros/99}\n"));
  ASSERT_EQ(fast.run_limitations.size(), 1u);
  EXPECT_EQ(fast.run_limitations[0].location, (df::SourceLocation{4, 17}));
  EXPECT_EQ(fast.run_limitations[0].field, "nodes[0].inputs.t");
  EXPECT_EQ(fast.run_limitations[0].reason,
            "timer 'dora/timer/micros/99' ticks every 99000 ns; dcp run honours periods of at "
            "least 100 us (10000 Hz): not supported by dcp run yet");
}

}  // namespace
