// dcp/core/error_report.hpp: reported errors are counted and reach the installed reporter; an
// on_error callback replaces the report; a throwing callback is itself reported.
#include "dcp/core/error_report.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

std::mutex g_mutex;
std::vector<std::string> g_lines;

void capture(std::string_view source, std::string_view message) noexcept {
  std::lock_guard lock(g_mutex);
  g_lines.push_back(std::string(source) + ": " + std::string(message));
}

class ErrorReport : public ::testing::Test {
 protected:
  void SetUp() override {
    g_lines.clear();
    previous_ = dcp::set_error_reporter(&capture);
  }
  void TearDown() override { dcp::set_error_reporter(previous_); }
  dcp::ErrorReporter previous_ = nullptr;
};

TEST_F(ErrorReport, ReportError_CountsAndReachesTheInstalledReporter) {
  const auto before = dcp::reported_errors();
  dcp::report_error("worker pool 'planner'", "task threw: boom");
  EXPECT_EQ(dcp::reported_errors(), before + 1);
  ASSERT_EQ(g_lines.size(), 1u);
  EXPECT_EQ(g_lines[0], "worker pool 'planner': task threw: boom");
}

TEST_F(ErrorReport, SetErrorReporter_ReturnsThePreviousOne) {
  EXPECT_EQ(dcp::set_error_reporter(nullptr), &capture);
  EXPECT_EQ(dcp::set_error_reporter(&capture), nullptr);
}

TEST_F(ErrorReport, DeliverError_WithoutCallback_Reports) {
  const auto before = dcp::reported_errors();
  dcp::deliver_error({}, "output handler", "send failed");
  EXPECT_EQ(dcp::reported_errors(), before + 1);
  ASSERT_EQ(g_lines.size(), 1u);
  EXPECT_EQ(g_lines[0], "output handler: send failed");
}

TEST_F(ErrorReport, DeliverError_WithCallback_CallsItInsteadOfReporting) {
  const auto before = dcp::reported_errors();
  std::string seen;
  dcp::deliver_error([&](std::string_view source, std::string_view message) { seen = std::string(source) + "|" + std::string(message); },
                     "router input 'lidar'", "handler threw");
  EXPECT_EQ(seen, "router input 'lidar'|handler threw");
  EXPECT_EQ(dcp::reported_errors(), before);
  EXPECT_TRUE(g_lines.empty());
}

TEST_F(ErrorReport, DeliverError_ThrowingCallback_ReportsTheErrorAndTheThrow) {
  const auto before = dcp::reported_errors();
  dcp::deliver_error([](std::string_view, std::string_view) { throw std::runtime_error("callback broke"); }, "job", "lost");
  EXPECT_EQ(dcp::reported_errors(), before + 2);
  ASSERT_EQ(g_lines.size(), 2u);
  EXPECT_EQ(g_lines[0], "job: lost");
  EXPECT_EQ(g_lines[1], "job: its on_error callback threw: callback broke");
}

TEST(DescribeException, NamesWhatOrSaysWhatItIs) {
  EXPECT_EQ(dcp::describe_exception(nullptr), "no exception");
  EXPECT_EQ(dcp::describe_exception(std::make_exception_ptr(std::logic_error("bad"))), "bad");
  EXPECT_EQ(dcp::describe_exception(std::make_exception_ptr(42)), "unknown exception (not derived from std::exception)");
  try {
    throw std::runtime_error("inside");
  } catch (...) {
    EXPECT_EQ(dcp::describe_current_exception(), "inside");
  }
}

}  // namespace
