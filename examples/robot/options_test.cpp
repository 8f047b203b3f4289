// Tests of examples/robot/options.hpp: the command line of the robot nodes.
#include "options.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;

robot::Options parse(std::vector<const char*> args) {
  args.insert(args.begin(), "node");
  return robot::Options(static_cast<int>(args.size()), args.data(), "node",
                        {{"duration", "how long"}, {"count", "how many"}, {"at", "when (repeatable)"},
                         {"quiet", "no output", true}});
}

std::string error_of(std::vector<const char*> args) {
  try {
    (void)parse(std::move(args));
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(RobotOptions, ParseDuration_AcceptsEveryUnit) {
  EXPECT_EQ(robot::parse_duration("500ms", "x"), 500ms);
  EXPECT_EQ(robot::parse_duration("10s", "x"), 10s);
  EXPECT_EQ(robot::parse_duration("1.5s", "x"), 1500ms);
  EXPECT_EQ(robot::parse_duration("2m", "x"), 120s);
  EXPECT_EQ(robot::parse_duration("1h", "x"), 3600s);
  EXPECT_EQ(robot::parse_duration("250us", "x"), 250us);
  EXPECT_EQ(robot::parse_duration("7ns", "x"), 7ns);
  EXPECT_EQ(robot::parse_duration("0s", "x"), 0s);
}

TEST(RobotOptions, ParseDuration_RejectsMalformedTextNamingTheField) {
  for (const char* text : {"", "10", "s", "-1s", "1.2.3s", "5 s", "5sec", "1e30h"}) {
    try {
      (void)robot::parse_duration(text, "--duration");
      FAIL() << "'" << text << "' was accepted";
    } catch (const std::invalid_argument& error) {
      EXPECT_NE(std::string(error.what()).find("--duration"), std::string::npos) << error.what();
    }
  }
}

TEST(RobotOptions, FormatDuration_PicksAReadableUnit) {
  EXPECT_EQ(robot::format_duration(1500ms), "1.5s");
  EXPECT_EQ(robot::format_duration(250ms), "250ms");
  EXPECT_EQ(robot::format_duration(12us), "12us");
  EXPECT_EQ(robot::format_duration(5ns), "5ns");
}

TEST(RobotOptions, ValuesFlagsAndRepeats_AreParsed) {
  const auto options = parse({"--duration", "6s", "--at=1s", "--at", "2s", "--quiet", "--count=3"});
  EXPECT_EQ(options.duration("duration", 1s), 6s);
  EXPECT_EQ(options.values("at"), (std::vector<std::string>{"1s", "2s"}));
  EXPECT_EQ(options.get("at"), "2s");  // the last one wins
  EXPECT_TRUE(options.flag("quiet"));
  EXPECT_EQ(options.integer("count", 0, 1, 10), 3);
  EXPECT_FALSE(options.help_requested());
}

TEST(RobotOptions, MissingOptions_UseTheFallback) {
  const auto options = parse({});
  EXPECT_EQ(options.duration("duration", 10s), 10s);
  EXPECT_EQ(options.integer("count", 42), 42);
  EXPECT_FALSE(options.flag("quiet"));
  EXPECT_TRUE(options.values("at").empty());
  EXPECT_THROW((void)options.get("undeclared"), std::logic_error);
}

TEST(RobotOptions, Mistakes_AreReportedWithTheOptionName) {
  EXPECT_NE(error_of({"--colour", "red"}).find("unknown option --colour"), std::string::npos);
  EXPECT_NE(error_of({"--colour", "red"}).find("--duration <value>"), std::string::npos);  // the usage
  EXPECT_NE(error_of({"--duration"}).find("--duration needs a value"), std::string::npos);
  EXPECT_NE(error_of({"--quiet=yes"}).find("--quiet takes no value"), std::string::npos);
  EXPECT_NE(error_of({"stray"}).find("unexpected argument 'stray'"), std::string::npos);
  const auto options = parse({"--count", "x", "--duration", "ten"});
  EXPECT_THROW((void)options.integer("count", 0), std::invalid_argument);
  EXPECT_THROW((void)options.duration("duration", 1s), std::invalid_argument);
  const auto big = parse({"--count", "11"});
  try {
    (void)big.integer("count", 0, 1, 10);
    FAIL() << "out of range accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("--count: 11 is out of range [1, 10]"), std::string::npos) << error.what();
  }
}

TEST(RobotOptions, Help_IsRequestedWithoutFailing) {
  const auto options = parse({"--help"});
  EXPECT_TRUE(options.help_requested());
  EXPECT_NE(options.usage().find("usage: node [options]"), std::string::npos);
}

TEST(RobotOptions, PrintUsageIfHelp_PrintsTheUsageOnlyWhenHelpWasGiven) {
  const auto with_help = parse({"--help"});
  testing::internal::CaptureStdout();
  EXPECT_TRUE(with_help.print_usage_if_help());
  EXPECT_EQ(testing::internal::GetCapturedStdout(), with_help.usage());

  const auto without_help = parse({"--count", "3"});
  testing::internal::CaptureStdout();
  EXPECT_FALSE(without_help.print_usage_if_help());
  EXPECT_EQ(testing::internal::GetCapturedStdout(), "");
}

}  // namespace
