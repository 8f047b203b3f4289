// Tests of the run report and the summary table of `dcp run` (src/runner/runner.hpp).
#include "runner/runner.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <string>

namespace {

using dcp::runner::NodeEnd;
using dcp::runner::NodeReport;
using dcp::runner::RunReport;
using namespace std::chrono_literals;

NodeReport node(const std::string& id, NodeEnd end, int code = 0) {
  NodeReport report;
  report.id = id;
  report.pid = 100;
  report.end = end;
  report.exit_code = end == NodeEnd::exited ? code : 0;
  report.signal = end == NodeEnd::exited ? 0 : code;
  return report;
}

TEST(NodeReport, DescribeEnd_NamesHowTheNodeEnded) {
  EXPECT_EQ(node("a", NodeEnd::exited, 0).describe_end(5s), "exit code 0");
  EXPECT_EQ(node("a", NodeEnd::exited, 3).describe_end(5s), "exit code 3");
  EXPECT_EQ(node("a", NodeEnd::signaled, SIGSEGV).describe_end(5s), "signal SIGSEGV");
  EXPECT_EQ(node("a", NodeEnd::killed_after_grace, SIGKILL).describe_end(500ms), "killed after the 500ms grace period");
  EXPECT_EQ(node("a", NodeEnd::killed_on_interrupt, SIGKILL).describe_end(5s), "killed (second interrupt)");
  EXPECT_EQ(node("a", NodeEnd::killed_at_start_deadline, SIGKILL).describe_end(5s, 90s),
            "killed: did not connect within 90s");
  NodeReport unstarted = node("a", NodeEnd::failed_to_start);
  unstarted.start_error = "No such file or directory";
  EXPECT_EQ(unstarted.describe_end(5s), "failed to start: No such file or directory");
  NodeReport rude = node("a", NodeEnd::exited, 0);
  rude.protocol_error = "malformed frame";
  EXPECT_EQ(rude.describe_end(5s), "exit code 0, protocol error");
}

TEST(NodeReport, Failed_AnythingButExitCode0WithoutProtocolError) {
  EXPECT_FALSE(node("a", NodeEnd::exited, 0).failed());
  EXPECT_TRUE(node("a", NodeEnd::exited, 1).failed());
  EXPECT_TRUE(node("a", NodeEnd::signaled, SIGTERM).failed());
  EXPECT_TRUE(node("a", NodeEnd::killed_after_grace, SIGKILL).failed());
  EXPECT_TRUE(node("a", NodeEnd::killed_on_interrupt, SIGKILL).failed());
  EXPECT_TRUE(node("a", NodeEnd::killed_at_start_deadline, SIGKILL).failed());
  EXPECT_TRUE(node("a", NodeEnd::failed_to_start).failed());
  NodeReport rude = node("a", NodeEnd::exited, 0);
  rude.protocol_error = "x";
  EXPECT_TRUE(rude.failed());
}

TEST(FormatSummary, VerdictLineThenAlignedTable) {
  RunReport report;
  report.nodes.push_back(node("camera", NodeEnd::exited, 0));
  report.nodes.push_back(node("planner", NodeEnd::exited, 3));
  report.nodes[0].outputs_sent = 812;
  report.nodes[1].inputs_delivered = 310;
  report.nodes[1].inputs_dropped = 12;
  report.nodes[1].pid = -1;
  NodeReport::InputReport map{"map", 1, false, {}, 0};
  map.account = dcp::runner::InputAccount{.offered = 322, .delivered = 310, .dropped_queue_full = 12};
  report.nodes[1].inputs.push_back(map);
  NodeReport::InputReport pose{"pose", 10, false, {}, 0};
  pose.account = dcp::runner::InputAccount{.offered = 40, .delivered = 40};
  report.nodes[1].inputs.push_back(pose);  // nothing lost: no line
  report.stop_reason = "interrupted by SIGINT";
  EXPECT_EQ(dcp::runner::format_summary(report),
            "[dcp] dataflow failed: 1 of 2 nodes failed (stopped: interrupted by SIGINT)\n"
            "  node     pid  ended        outputs sent  inputs delivered  inputs dropped\n"
            "  camera   100  exit code 0           812                 0               0\n"
            "  planner  -    exit code 3             0               310              12\n"
            "[dcp] input planner/map: 322 sent, 310 delivered, 12 dropped (queue full: queue_size 1)\n");
  EXPECT_FALSE(report.success());
  report.nodes.pop_back();
  report.stop_reason.clear();
  EXPECT_TRUE(report.success());
  const std::string verdict = "[dcp] dataflow succeeded: the node exited with code 0\n";
  EXPECT_EQ(dcp::runner::format_summary(report).substr(0, verdict.size()), verdict);
}

TEST(FormatSummary, EveryLossOfAnInputIsNamedByItsCause_AndAnImbalanceIsCalledABug) {
  RunReport report;
  report.nodes.push_back(node("viewer", NodeEnd::exited, 0));
  NodeReport::InputReport image{"image", 100, true, {}, 0};
  image.account = dcp::runner::InputAccount{.offered = 1000, .delivered = 700, .dropped_queue_full = 50,
                                            .dropped_descriptors = 200, .dropped_too_large = 1, .discarded = 49};
  report.nodes[0].inputs.push_back(image);
  report.payload_descriptor_limit = 900;
  report.payload_budget_full = 230;
  std::string summary = dcp::runner::format_summary(report);
  EXPECT_NE(summary.find("[dcp] input viewer/image: 1000 sent, 700 delivered, 50 dropped (queue full: queue_policy "
                         "backpressure, at most 100 queued), 200 dropped (the runner could not hold more shared-memory "
                         "payloads: --max-payload-fds, RLIMIT_NOFILE), 1 dropped (too large for a frame to this node), "
                         "49 discarded (sent after the node stopped reading, or queued then)\n"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("[dcp] the runner's limit of 900 shared-memory payloads held at once was reached 230 times"),
            std::string::npos)
      << summary;
  EXPECT_EQ(summary.find("unaccounted"), std::string::npos);
  report.nodes[0].inputs[0].account.discarded = 40;
  summary = dcp::runner::format_summary(report);
  EXPECT_NE(summary.find("; 9 unaccounted for (a dcp bug)\n"), std::string::npos) << summary;
}

TEST(FormatSummary, TimedOutInputsAndLostServiceMessages_AreNamed) {
  RunReport report;
  report.nodes.push_back(node("planner", NodeEnd::exited, 0));
  report.nodes[0].timeouts.push_back(NodeReport::InputTimeouts{"scan", 0.5, 1, 0});
  NodeReport::InputReport goal{"goal", 2, false, {}, 1};
  goal.account = dcp::runner::InputAccount{.offered = 9, .delivered = 4, .dropped_queue_full = 5};
  report.nodes[0].inputs.push_back(goal);
  report.nodes[0].timeouts.push_back(NodeReport::InputTimeouts{"odom", 2, 3, 2});
  const std::string summary = dcp::runner::format_summary(report);
  EXPECT_NE(summary.find("[dcp] input planner/goal: 9 sent, 4 delivered, 5 dropped (queue full: queue_size 2; 1 of them "
                         "service or action messages)\n"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("[dcp] input planner/scan timed out once (input_timeout 0.5 s), recovered 0 times\n"
                         "[dcp] input planner/odom timed out 3 times (input_timeout 2 s), recovered 2 times\n"),
            std::string::npos)
      << summary;
  EXPECT_TRUE(report.success()) << "a timeout is Dora's fault tolerance, not a failure";
}

TEST(FormatSummary, TimerThatSkippedTicks_IsNamedWithHowManyOfAll) {
  RunReport report;
  report.nodes.push_back(node("ticker", NodeEnd::exited, 0));
  report.timers_missed.push_back(RunReport::TimerTicks{"dora/timer/millis/10", 70, 30});
  const std::string summary = dcp::runner::format_summary(report);
  EXPECT_NE(summary.find("[dcp] timer dora/timer/millis/10: 30 of 100 ticks skipped (the runner was busy; as in Dora, "
                         "missed ticks are not replayed)\n"),
            std::string::npos)
      << summary;
  EXPECT_TRUE(report.success());
}

TEST(FormatSummary, NodesThatReportedErrors_AreNamed_AndTheRunIsNoSuccess) {
  RunReport report;
  report.nodes.push_back(node("camera", NodeEnd::exited, 0));
  report.nodes.push_back(node("processor", NodeEnd::exited, 0));
  report.nodes[1].reported_errors = 3;
  EXPECT_FALSE(report.success());
  EXPECT_EQ(report.failed_count(), 0u);
  EXPECT_EQ(report.reported_errors_count(), 1u);
  EXPECT_EQ(dcp::runner::format_summary(report),
            "[dcp] dataflow failed: 1 of 2 nodes reported errors\n"
            "  node       pid  ended        outputs sent  inputs delivered  inputs dropped\n"
            "  camera     100  exit code 0             0                 0               0\n"
            "  processor  100  exit code 0             0                 0               0\n"
            "[dcp] node 'processor' reported 3 errors that lost work; see its 'dcp:' lines above\n");
  report.nodes[0].exit_code = 1;
  report.nodes[0].reported_errors = 1;
  const std::string verdict = "[dcp] dataflow failed: 1 of 2 nodes failed, 2 reported errors\n";
  EXPECT_EQ(dcp::runner::format_summary(report).substr(0, verdict.size()), verdict);
  EXPECT_NE(dcp::runner::format_summary(report).find("[dcp] node 'camera' reported 1 error that lost work;"),
            std::string::npos);
}

}  // namespace
