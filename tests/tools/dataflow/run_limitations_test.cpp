// Tests of what Dora accepts and `dcp run` cannot do yet: the loader accepts it with its type
// checked (so `dcp check` passes) and lists it in Dataflow::run_limitations with file position,
// field and "not supported by dcp run yet". Fields Dora itself rejects are never accepted.
#include <gtest/gtest.h>

#include <string>

#include "dataflow/loader.hpp"
#include "parse_helpers.hpp"

namespace {

namespace df = dcp::dataflow;
using df::test::one_node;
using df::test::parse;
using df::test::parse_error;

TEST(LongFormInput, FieldsAreParsed_NoneIsALimitation) {
  const df::Dataflow flow = parse(one_node(
      "    inputs:\n"
      "      a: {source: dora/timer/secs/1, queue_size: 2, queue_policy: drop_oldest}\n"
      "      b: {source: dora/timer/secs/1, input_timeout: 1.5, queue_policy: backpressure}\n"));
  const df::Input& a = flow.nodes[0].inputs[0];
  const df::Input& b = flow.nodes[0].inputs[1];
  EXPECT_EQ(a.queue_policy, df::QueuePolicy::drop_oldest);
  EXPECT_FALSE(a.input_timeout.has_value());
  EXPECT_EQ(b.queue_policy, df::QueuePolicy::backpressure);
  EXPECT_EQ(b.input_timeout, 1.5);
  EXPECT_TRUE(flow.run_limitations.empty());
  EXPECT_EQ(a.capacity(), 2u);
  EXPECT_EQ(b.capacity(), 100u) << "backpressure: max(10 x queue_size, 100)";
}

TEST(InputTimeout, ZeroAndPositive_AreAccepted_NegativeIsRefusedAsDoraRefusesIt) {
  EXPECT_EQ(parse(one_node("    inputs: {a: {source: dora/timer/secs/1, input_timeout: 0}}\n"))
                .nodes[0].inputs[0].input_timeout, 0.0);
  EXPECT_EQ(parse(one_node("    inputs: {a: {source: dora/timer/secs/1, input_timeout: 1e12}}\n"))
                .run_limitations.size(), 0u);  // longer than dcp can time: it never fires
  const df::DataflowError error =
      parse_error(one_node("    inputs: {a: {source: dora/timer/secs/1, input_timeout: -0.5}}\n"));
  EXPECT_EQ(error.field(), "nodes[0].inputs.a.input_timeout");
  EXPECT_EQ(error.reason(),
            "input_timeout must be a non-negative number of seconds, got '-0.5' (Dora rejects it too)");
}

TEST(RunLimitations, LongFormInputFields_HaveTheirTypesChecked) {
  EXPECT_EQ(parse_error(one_node("    inputs: {a: {source: dora/timer/secs/1, input_timeout: "
                                 "soon}}\n"))
                .reason(),
            "input_timeout must be a number (seconds), got 'soon'");
  EXPECT_EQ(parse_error(one_node("    inputs: {a: {source: dora/timer/secs/1, queue_policy: "
                                 "drop_newest}}\n"))
                .reason(),
            "queue_policy must be 'drop_oldest' or 'backpressure', got 'drop_newest'");
}

TEST(DoraLogsInput, IsParsed_LevelLowerCased_NoLimitation) {
  const df::Dataflow flow = parse(
      "nodes:\n  - id: cam\n    path: a\n"
      "  - id: b\n    path: b\n"
      "    inputs: {all: dora/logs, warn: dora/logs/WARN, cam: dora/logs/info/cam}\n");
  const auto& inputs = flow.nodes[1].inputs;
  ASSERT_EQ(inputs.size(), 3u);
  EXPECT_EQ(inputs[0].logs()->spec(), "dora/logs");
  EXPECT_EQ(inputs[1].logs()->spec(), "dora/logs/warn");
  EXPECT_EQ(inputs[2].logs()->node, "cam");
  EXPECT_TRUE(flow.run_limitations.empty());
  EXPECT_EQ(parse_error(one_node("    inputs: {x: dora/logs/loud}\n")).reason(),
            "Dora input 'dora/logs/loud': unknown log level 'loud' (Dora's levels: stdout, error, "
            "warn, info, debug, trace)");
}

TEST(RunLimitations, SupervisionAndLoggingNodeFields_AreLimitationsNamingFieldAndLine) {
  const df::Dataflow flow = parse(one_node(
      "    restart_policy: on-failure\n    max_restarts: 3\n    restart_delay: 0.5\n"
      "    max_restart_delay: 10\n    restart_window: 60\n    health_check_timeout: 2.5\n"
      "    send_stdout_as: out\n    send_logs_as: logs\n    min_log_level: Info\n"));
  const char* fields[] = {"restart_policy",       "max_restarts",   "restart_delay",
                          "max_restart_delay",    "restart_window", "health_check_timeout",
                          "send_stdout_as",       "send_logs_as",   "min_log_level"};
  ASSERT_EQ(flow.run_limitations.size(), 9u);
  for (int i = 0; i < 9; ++i) {
    EXPECT_EQ(flow.run_limitations[i].location, (df::SourceLocation{4 + i, 5}));
    EXPECT_EQ(flow.run_limitations[i].field, std::string("nodes[0].") + fields[i]);
    EXPECT_EQ(flow.run_limitations[i].reason,
              "'" + std::string(fields[i]) + "' is not supported by dcp run yet");
  }
}

TEST(RunLimitations, RestartPolicyNever_IsWhatDcpRunDoes_NoLimitation) {
  EXPECT_TRUE(parse(one_node("    restart_policy: never\n")).run_limitations.empty());
}

TEST(RunLimitations, SupervisionAndLoggingNodeFields_HaveTheirTypesChecked) {
  EXPECT_EQ(parse_error(one_node("    restart_policy: sometimes\n")).reason(),
            "restart_policy must be one of 'never', 'on-failure', 'always', got 'sometimes'");
  EXPECT_EQ(parse_error(one_node("    max_restarts: -1\n")).reason(),
            "max_restarts must be an integer from 0 to 4294967295, got '-1'");
  EXPECT_EQ(parse_error(one_node("    restart_delay: [1]\n")).reason(),
            "restart_delay must be a number (seconds), got a list");
  EXPECT_EQ(parse_error(one_node("    send_stdout_as: {a: 1}\n")).reason(),
            "send_stdout_as must be a string, got a map");
  EXPECT_EQ(parse_error(one_node("    min_log_level: loud\n")).reason(),
            "min_log_level must be one of stdout, error, warn, info, debug, trace, got 'loud'");
}

TEST(HealthCheckInterval, IsParsed_MustBePositive_BeyondWhatDcpCanTimeIsALimitation) {
  const df::Dataflow flow = parse(one_node("") + "health_check_interval: 0.25\n");
  EXPECT_EQ(flow.health_check_interval, 0.25);
  EXPECT_TRUE(flow.run_limitations.empty());
  EXPECT_FALSE(parse(one_node("")).health_check_interval.has_value());
  EXPECT_EQ(parse_error(one_node("") + "health_check_interval: often\n").reason(),
            "health_check_interval must be a number (seconds), got 'often'");
  EXPECT_EQ(parse_error(one_node("") + "health_check_interval: 0\n").reason(),
            "health_check_interval must be a positive number of seconds, got '0' (Dora rejects it too)");
  const df::Dataflow huge = parse(one_node("") + "health_check_interval: 1e10\n");
  ASSERT_EQ(huge.run_limitations.size(), 1u);
  EXPECT_EQ(huge.run_limitations[0].field, "health_check_interval");
  EXPECT_EQ(huge.run_limitations[0].reason, "health_check_interval '1e10' is longer than dcp run can time (9.2e+09 s)");
  EXPECT_EQ(parse(one_node("") + "health_check_interval: 9.2e9\n").run_limitations.size(), 0u);  // at the limit
}

TEST(RunLimitations, DeploymentTypingAndTopLevelFields_AreLimitationsWithTypesChecked) {
  const df::Dataflow flow = parse(one_node(
      "    cpu_affinity: [0, 1]\n"
      "    deploy: {machine: m1, working_dir: /tmp, labels: {zone: a}, distribute: scp}\n"
      "    output_types: {out: std_msgs/String}\n    input_types: {in: uint8}\n"
      "    output_metadata: {out: [a, b]}\n    output_framing: {out: arrow-ipc}\n"
      "    max_log_size: 50MB\n    max_rotated_files: 3\n    finish_grace_secs: 1.5\n") +
      "deploy: {machine: m2}\ndebug: {enable_debug_inspection: true}\nstrict_types: true\n"
      "exit_when_nodes_finish: false\ntype_rules: [{from: a, to: b}]\n");
  EXPECT_EQ(flow.run_limitations.size(), 14u);
  EXPECT_EQ(parse_error(one_node("    cpu_affinity: [0, x]\n")).reason(),
            "a CPU index must be an integer >= 0, got 'x'");
  const df::DataflowError framing = parse_error(one_node("    output_framing: {out: json}\n"));
  EXPECT_EQ(framing.field(), "nodes[0].output_framing.out");
  EXPECT_EQ(framing.reason(), "out must be one of 'raw', 'arrow-ipc', got 'json'");
  EXPECT_EQ(parse_error(one_node("    deploy: {host: m1}\n")).reason(),
            "unknown field 'host' in deploy (it has machine, working_dir, labels, distribute)");
  EXPECT_EQ(parse_error(one_node("") + "strict_types: yes\n").reason(),
            "strict_types must be true or false, got 'yes'");
  EXPECT_EQ(parse_error(one_node("") + "type_rules: [{from: a}]\n").reason(),
            "a type rule needs 'from' and 'to'");
}

TEST(RunLimitations, FieldsDoraRejects_AreNotDoraFields) {
  for (const std::string field : {"custom", "_unstable_deploy", "startup_timeout"}) {
    const df::DataflowError e = parse_error(one_node("    " + field + ": x\n"));
    EXPECT_EQ(e.field(), "nodes[0]." + field);
    EXPECT_EQ(e.reason(), "'" + field + "' is not a Dora field (Dora rejects it too)");
  }
  for (const std::string field : {"communication", "_unstable_deploy", "_unstable_debug"}) {
    const df::DataflowError e = parse_error(one_node("") + field + ": {x: 1}\n");
    EXPECT_EQ(e.field(), field);
    EXPECT_EQ(e.reason(), "'" + field + "' is not a Dora field (Dora rejects it too)");
  }
}

}  // namespace
