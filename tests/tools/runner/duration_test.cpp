// Tests of the `dcp run` duration syntax (src/runner/duration.hpp).
#include "runner/duration.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace {

using dcp::runner::format_duration;
using dcp::runner::parse_duration;
using std::chrono::milliseconds;

TEST(ParseDuration, NumberAndUnit_GivesMilliseconds) {
  EXPECT_EQ(parse_duration("500ms"), milliseconds(500));
  EXPECT_EQ(parse_duration("10s"), milliseconds(10'000));
  EXPECT_EQ(parse_duration("2m"), milliseconds(120'000));
  EXPECT_EQ(parse_duration("1h"), milliseconds(3'600'000));
  EXPECT_EQ(parse_duration("0s"), milliseconds(0));
}

TEST(ParseDuration, Fractions_RoundToTheNearestMillisecond) {
  EXPECT_EQ(parse_duration("1.5s"), milliseconds(1500));
  EXPECT_EQ(parse_duration("0.25s"), milliseconds(250));
  EXPECT_EQ(parse_duration(".5s"), milliseconds(500));
  EXPECT_EQ(parse_duration("0.0004s"), milliseconds(0));
  EXPECT_EQ(parse_duration("0.0006s"), milliseconds(1));
  EXPECT_EQ(parse_duration("1.5ms"), milliseconds(2));
}

TEST(ParseDuration, MissingOrUnknownUnitNegativeOrHuge_ThrowsWithTheAcceptedForm) {
  for (const char* bad : {"10", "", "s", "-1s", "10 s", "10sec", "1.s", "abc", "99999999999999999999s", "31d", "800h"}) {
    try {
      (void)parse_duration(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("500ms, 10s"), std::string::npos) << e.what();
    }
  }
}

TEST(FormatDuration, ShortestExactSpelling_ParsesBack) {
  EXPECT_EQ(format_duration(milliseconds(500)), "500ms");
  EXPECT_EQ(format_duration(milliseconds(5000)), "5s");
  EXPECT_EQ(format_duration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(format_duration(milliseconds(0)), "0s");
  EXPECT_EQ(format_duration(milliseconds(120'000)), "2m");
  for (const long ms : {0L, 1L, 999L, 1000L, 1001L, 60'000L, 3'600'000L, 3'600'001L}) {
    EXPECT_EQ(parse_duration(format_duration(milliseconds(ms))), milliseconds(ms));
  }
}

}  // namespace
