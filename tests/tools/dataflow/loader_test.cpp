// Tests of dataflow/loader.hpp: valid dataflows become the expected model; every kind of
// invalid dataflow fails with "file:line:column: field: reason".
//
// Fixture files live in tests/dataflow/fixtures/{valid,invalid}; their node paths point at the
// stand-in executables in fixtures/bin (bin/not_executable lacks the execute bit on purpose).
#include "dataflow/loader.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "parse_helpers.hpp"

namespace {

namespace df = dcp::dataflow;
using df::test::one_node;
using df::test::parse;
using df::test::parse_error;
using df::test::without_exec_check;
namespace fs = std::filesystem;

std::string fixture(std::string_view relative) {
  return std::string(DCP_DATAFLOW_FIXTURES) + "/" + std::string(relative);
}

// The what() of the DataflowError that loading `path` throws ("" and a test failure if none).
std::string load_error(const std::string& path, const df::LoadOptions& options = {}) {
  try {
    static_cast<void>(df::load_dataflow(path, options));
  } catch (const df::DataflowError& e) {
    return e.what();
  }
  ADD_FAILURE() << path << " loaded without an error";
  return {};
}


// ---------------------------------------------------------------------------------------------
// Valid dataflows.
// ---------------------------------------------------------------------------------------------

TEST(LoadValid, Robot_BuildsTheModelInFileOrder) {
  const df::Dataflow flow = df::load_dataflow(fixture("valid/robot.yml"));
  EXPECT_EQ(flow.name, fixture("valid/robot.yml"));
  ASSERT_EQ(flow.nodes.size(), 4u);
  EXPECT_EQ(flow.nodes[0].id, "camera");
  EXPECT_EQ(flow.nodes[1].id, "sensors");
  EXPECT_EQ(flow.nodes[2].id, "safety");
  EXPECT_EQ(flow.nodes[3].id, "processor");

  const df::Node& camera = flow.nodes[0];
  EXPECT_EQ(camera.name, "Front camera");
  EXPECT_EQ(camera.path, "../bin/camera");
  EXPECT_EQ(camera.location, (df::SourceLocation{3, 5}));
  ASSERT_EQ(camera.outputs.size(), 1u);
  EXPECT_EQ(camera.outputs[0].id, "image");
  EXPECT_EQ(camera.outputs[0].location, (df::SourceLocation{13, 9}));
  EXPECT_TRUE(camera.inputs.empty());

  const df::Node& processor = flow.nodes[3];
  ASSERT_EQ(processor.inputs.size(), 4u);
  EXPECT_EQ(processor.inputs[0].id, "frame");
  EXPECT_EQ(processor.inputs[0].source_spec(), "camera/image");
  EXPECT_EQ(processor.inputs[0].queue_size, 1u);
  EXPECT_FALSE(processor.inputs[0].queue_size_is_default);
  EXPECT_EQ(processor.inputs[1].id, "imu");
  EXPECT_EQ(processor.inputs[1].upstream()->node, "sensors");
  EXPECT_EQ(processor.inputs[1].upstream()->output, "imu");
  EXPECT_EQ(processor.inputs[1].queue_size, df::kDefaultQueueSize);
  EXPECT_TRUE(processor.inputs[1].queue_size_is_default);
  EXPECT_EQ(processor.inputs[2].source_spec(), "safety/estop");  // long form without queue_size
  EXPECT_EQ(processor.inputs[2].queue_size, df::kDefaultQueueSize);
  ASSERT_NE(processor.inputs[3].timer(), nullptr);
  EXPECT_EQ(processor.inputs[3].timer()->spec(), "dora/timer/millis/10");
}

TEST(LoadValid, DefaultQueueSize_IsDorasTen) { EXPECT_EQ(df::kDefaultQueueSize, 10u); }

TEST(LoadValid, RelativePath_IsResolvedAgainstTheFilesFolderAndMadeAbsolute) {
  const df::Dataflow flow = df::load_dataflow(fixture("valid/robot.yml"));
  const fs::path expected = fs::absolute(fixture("bin/camera")).lexically_normal();
  EXPECT_EQ(flow.nodes[0].executable, expected);
  EXPECT_TRUE(flow.nodes[0].executable.is_absolute());
  EXPECT_EQ(flow.base_dir, fs::absolute(fixture("valid")).lexically_normal());
}

TEST(LoadValid, AbsolutePath_IsKeptAsIs) {
  const df::Dataflow flow = parse("nodes:\n  - id: a\n    path: /opt/robot/a\n");
  EXPECT_EQ(flow.nodes[0].executable, fs::path("/opt/robot/a"));
}

TEST(LoadValid, Args_AreSplitHonouringQuotes) {
  const df::Dataflow flow = df::load_dataflow(fixture("valid/robot.yml"));
  EXPECT_EQ(flow.nodes[0].argv, (std::vector<std::string>{"--device", "/dev/video0", "--title",
                                                          "front camera", "--filter", "a b"}));
  EXPECT_TRUE(flow.nodes[1].argv.empty());
}

TEST(LoadValid, EnvScalarsOfAnyYamlType_BecomeTheTextDoraPasses) {
  const df::Dataflow flow = df::load_dataflow(fixture("valid/robot.yml"));
  const auto& env = flow.nodes[0].env;
  EXPECT_EQ(env.at("FPS"), "30");
  EXPECT_EQ(env.at("DEBUG"), "true");
  EXPECT_EQ(env.at("RATIO"), "1.5");
  EXPECT_EQ(env.at("LABEL"), "hello world");
  const df::Dataflow more = parse(one_node("    env: {HEX: 0x1F, EMPTY: \"\", TILDE: '~'}\n"));
  EXPECT_EQ(more.nodes[0].env.at("HEX"), "31");  // YAML reads 0x1F as an integer
  EXPECT_EQ(more.nodes[0].env.at("EMPTY"), "");
  EXPECT_EQ(more.nodes[0].env.at("TILDE"), "~");
}

TEST(LoadValid, Timers_MillisAndSecs_HaveTheirPeriodAndRate) {
  const df::Dataflow flow = df::load_dataflow(fixture("valid/robot.yml"));
  const std::vector<df::Timer> timers = flow.timers();
  ASSERT_EQ(timers.size(), 2u);
  EXPECT_EQ(timers[0].spec(), "dora/timer/millis/10");
  EXPECT_EQ(timers[0].period, std::chrono::milliseconds(10));
  EXPECT_DOUBLE_EQ(timers[0].rate_hz(), 100.0);
  EXPECT_EQ(timers[1].spec(), "dora/timer/secs/1");
  EXPECT_EQ(timers[1].period, std::chrono::seconds(1));
}

TEST(LoadValid, TimerWithLeadingZeros_IsCanonicalised) {
  const df::Dataflow flow = parse(one_node("    inputs: {tick: dora/timer/millis/007}\n"));
  EXPECT_EQ(flow.nodes[0].inputs[0].timer()->value, "7");
  EXPECT_EQ(flow.nodes[0].inputs[0].source_spec(), "dora/timer/millis/7");
}

TEST(LoadValid, Routes_ListEveryReaderOfEveryOutput) {
  const df::Dataflow flow = df::load_dataflow(fixture("valid/robot.yml"));
  const df::Routes routes = flow.routes();
  EXPECT_EQ(routes.at({"sensors", "imu"}),
            (std::vector<df::Subscriber>{{"safety", "imu"}, {"processor", "imu"}}));
  EXPECT_TRUE(routes.at({"sensors", "temperature"}).empty());
  EXPECT_EQ(routes.at({"camera", "image"}), (std::vector<df::Subscriber>{{"processor", "frame"}}));
}

TEST(LoadValid, MinimalNode_NeedsOnlyIdAndPath) {
  const df::Dataflow flow = df::load_dataflow(fixture("valid/minimal.yml"));
  ASSERT_EQ(flow.nodes.size(), 1u);
  EXPECT_TRUE(flow.nodes[0].inputs.empty());
  EXPECT_TRUE(flow.nodes[0].outputs.empty());
  EXPECT_TRUE(flow.nodes[0].env.empty());
}

TEST(LoadValid, EmptyInputsOutputsEnvArgs_MeanNone) {
  const df::Dataflow flow = parse(one_node("    inputs:\n    outputs:\n    env:\n    args:\n"));
  EXPECT_TRUE(flow.nodes[0].inputs.empty());
  EXPECT_TRUE(flow.nodes[0].outputs.empty());
  EXPECT_TRUE(flow.nodes[0].argv.empty());
}

TEST(LoadValid, NodeReadingItsOwnOutput_IsAllowed) {
  const df::Dataflow flow = parse(one_node("    inputs: {loop: a/out}\n    outputs: [out]\n"));
  EXPECT_EQ(flow.nodes[0].inputs[0].source_spec(), "a/out");
}

TEST(LoadValid, MissingExecutable_IsAcceptedWhenTheCheckIsOff) {
  const df::Dataflow flow = df::load_dataflow(fixture("valid/not_built.yml"), without_exec_check());
  EXPECT_EQ(flow.nodes.size(), 2u);
  EXPECT_NE(load_error(fixture("valid/not_built.yml")).find("executable 'build/planner' not found"),
            std::string::npos);
}

TEST(LoadValid, ParseDataflow_UsesTheDisplayNameInErrors) {
  try {
    static_cast<void>(df::parse_dataflow("nodes: 3\n", "memory:robot", "/", without_exec_check()));
    FAIL() << "no error";
  } catch (const df::DataflowError& e) {
    EXPECT_STREQ(e.what(), "memory:robot:1:8: nodes: nodes must be a list, got a string");
    EXPECT_EQ(e.file(), "memory:robot");
    EXPECT_EQ(e.location(), (df::SourceLocation{1, 8}));
    EXPECT_EQ(e.field(), "nodes");
    EXPECT_EQ(e.reason(), "nodes must be a list, got a string");
  }
}

// ---------------------------------------------------------------------------------------------
// Invalid fixture files: one per kind of error, checked against the whole message.
// ---------------------------------------------------------------------------------------------

void expect_fixture_error(std::string_view name, std::string_view rest) {
  const std::string path = fixture(std::string("invalid/") + std::string(name));
  EXPECT_EQ(load_error(path), path + std::string(rest));
}

TEST(LoadInvalid, YamlSyntaxError_ReportsYamlCppsPosition) {
  expect_fixture_error("syntax_error.yml",
                       ":5:1: YAML syntax error: end of sequence flow not found");
}

TEST(LoadInvalid, EmptyFile_IsRejected) {
  expect_fixture_error("empty.yml", ": the file is empty: a dataflow is a map with a 'nodes' list");
}

TEST(LoadInvalid, MissingNodes_IsRejected) {
  expect_fixture_error("missing_nodes.yml",
                       ":1:1: missing 'nodes': a dataflow needs a list of nodes");
}

TEST(LoadInvalid, NodesNotAList_IsRejected) {
  expect_fixture_error("nodes_not_a_list.yml", ":2:3: nodes: nodes must be a list, got a map");
}

TEST(LoadInvalid, NodeWithoutId_PointsAtTheNode) {
  const std::string path = fixture("invalid/node_missing_id.yml");
  // The reference into the node before it is wrong too, and reported as well.
  EXPECT_EQ(load_error(path),
            path + ":4:5: nodes[1]: the node has no 'id'\n" + path +
                ":6:12: nodes[1].inputs.imu: node 'sensors' has no output 'imu' (it declares no "
                "outputs)");
}

TEST(LoadInvalid, NodeWithoutPath_NamesTheNode) {
  expect_fixture_error("node_missing_path.yml",
                       ":2:5: nodes[0]: node 'sensors' has no 'path' (the executable to run)");
}

TEST(LoadInvalid, DuplicateNodeId_PointsAtTheSecondAndNamesTheFirst) {
  expect_fixture_error(
      "duplicate_node_id.yml",
      ":6:9: nodes[2].id: duplicate node id 'sensors' (first defined at line 2, nodes[0])");
}

TEST(LoadInvalid, DuplicateOutputWithinANode_IsRejected) {
  expect_fixture_error(
      "duplicate_output.yml",
      ":7:9: nodes[0].outputs[2]: duplicate output 'imu' (first declared at line 5)");
}

TEST(LoadInvalid, DuplicateInputKey_IsRejected) {
  expect_fixture_error("duplicate_input.yml",
                       ":9:7: nodes[1].inputs.imu: duplicate input 'imu' (first at line 8)");
}

TEST(LoadInvalid, InputFromUnknownNode_ListsTheKnownNodes) {
  expect_fixture_error("unknown_node.yml",
                       ":12:14: nodes[2].inputs.estop: unknown node 'safty' (known nodes: sensors, "
                       "safety, processor)");
}

TEST(LoadInvalid, InputFromUndeclaredOutput_ListsTheNodesOutputs) {
  expect_fixture_error("unknown_output.yml",
                       ":9:17: nodes[1].inputs.gyro.source: node 'sensors' has no output 'gyro' "
                       "(its outputs: imu, temperature)");
}

TEST(LoadInvalid, SourceWithoutSlash_IsMalformed) {
  expect_fixture_error("source_without_slash.yml",
                       ":5:12: nodes[0].inputs.imu: malformed input source 'sensors': expected "
                       "'<node>/<output>' or a timer 'dora/timer/millis/<N>'");
}

TEST(LoadInvalid, SourceWithEmptyOutput_IsMalformed) {
  expect_fixture_error("source_empty_output.yml",
                       ":5:12: nodes[0].inputs.imu: malformed input source 'sensors/': the output "
                       "part is empty (expected '<node>/<output>')");
}

TEST(LoadInvalid, TimerWithUnknownUnit_IsMalformed) {
  expect_fixture_error("malformed_timer.yml",
                       ":5:13: nodes[0].inputs.tick: malformed timer 'dora/timer/minutes/1': "
                       "unknown unit 'minutes' (expected dora/timer/secs/<N>, millis/<N>, "
                       "micros/<N> or nanos/<N> with <N> an integer > 0, or dora/timer/hz/<F> "
                       "with <F> a number > 0)");
}

TEST(LoadInvalid, ZeroTimer_IsMalformed) {
  expect_fixture_error(
      "timer_zero.yml",
      ":5:13: nodes[0].inputs.tick: malformed timer 'dora/timer/millis/0': the period is zero "
      "(expected dora/timer/secs/<N>, millis/<N>, micros/<N> or nanos/<N> with <N> an integer > "
      "0, or dora/timer/hz/<F> with <F> a number > 0)");
}

TEST(LoadInvalid, QueueSizeNegative_IsRejected) {
  expect_fixture_error("queue_size_negative.yml",
                       ":7:21: nodes[0].inputs.tick.queue_size: queue_size must be an integer "
                       "from 0 to 100000 (0 means 1, as in Dora), got '-1'");
}

TEST(LoadInvalid, QueueSizeNotAnInteger_IsRejected) {
  expect_fixture_error("queue_size_not_integer.yml",
                       ":5:56: nodes[0].inputs.tick.queue_size: queue_size must be an integer "
                       "from 0 to 100000 (0 means 1, as in Dora), got '2.5'");
}

TEST(LoadInvalid, NodeIdWithASlash_IsRejectedNamingTheCharacter) {
  expect_fixture_error("invalid_node_id.yml",
                       ":2:9: nodes[0].id: invalid node id 'front/camera': character '/' is not "
                       "allowed (node ids use only letters, digits, '_', '.' and '-')");
}

TEST(LoadInvalid, OutputIdWithAnEmptyPart_IsRejected) {
  expect_fixture_error("empty_part_in_output_id.yml",
                       ":5:9: nodes[0].outputs[0]: invalid output id 'image//left': a '/' must "
                       "stand between two non-empty parts");
}

TEST(LoadInvalid, UnknownNodeField_ListsTheSupportedFields) {
  expect_fixture_error("unknown_node_field.yml",
                       ":4:5: nodes[0].output: unknown field 'output' (a node has: id, name, "
                       "description, path, args, env, build, inputs, outputs)");
}

TEST(LoadInvalid, DoraOperators_AreNamedAsUnsupported) {
  expect_fixture_error("unsupported_operators.yml",
                       ":3:5: nodes[0].operators: 'operators' is not supported by the dcp local "
                       "runner (use Dora for it)");
}

TEST(LoadInvalid, CommunicationKey_IsNotADoraField) {
  expect_fixture_error("not_dora_communication.yml",
                       ":1:1: communication: 'communication' is not a Dora field (Dora rejects it "
                       "too)");
}

TEST(LoadInvalid, UnknownTopLevelField_IsRejected) {
  expect_fixture_error("unknown_top_level_field.yml",
                       ":4:1: version: unknown top-level field 'version' (a dataflow has: nodes, "
                       "env, health_check_interval, deploy, debug, strict_types, "
                       "exit_when_nodes_finish, type_rules)");
}

TEST(LoadInvalid, MissingExecutable_ShowsWhereItLooked) {
  const std::string looked_for = fs::absolute(fixture("bin/planner")).lexically_normal().string();
  expect_fixture_error("missing_executable.yml",
                       ":5:11: nodes[1].path: executable '../bin/planner' not found (looked for '" +
                           looked_for + "'; relative paths start at the dataflow file's folder)");
}

TEST(LoadInvalid, FileWithoutExecutePermission_IsRejected) {
  const std::string file = fs::absolute(fixture("bin/not_executable")).lexically_normal().string();
  expect_fixture_error("not_executable.yml", ":3:11: nodes[0].path: '" + file +
                                                 "' is not executable (no execute permission: "
                                                 "chmod +x it)");
}

TEST(LoadInvalid, DirectoryAsPath_IsRejected) {
  const std::string dir = fs::absolute(fixture("bin/a_directory")).lexically_normal().string();
  expect_fixture_error("path_is_directory.yml",
                       ":3:11: nodes[0].path: '" + dir + "' is a directory, not an executable");
}

TEST(LoadInvalid, UnterminatedQuoteInArgs_IsRejected) {
  expect_fixture_error("unterminated_quote.yml",
                       ":4:11: nodes[0].args: unterminated double quote in args");
}

TEST(LoadInvalid, EnvValueThatIsAList_IsRejected) {
  expect_fixture_error("env_not_scalar.yml",
                       ":6:14: nodes[0].env.SIZES: the value of environment variable 'SIZES' must "
                       "be a string, number or boolean, got a list");
}

TEST(LoadInvalid, TwoYamlDocuments_AreRejected) {
  expect_fixture_error(
      "two_documents.yml",
      ":4:1: the file holds more than one YAML document; a dataflow is a single document");
}

TEST(LoadInvalid, MissingFile_SaysSo) {
  const std::string path = fixture("invalid/does_not_exist.yml");
  EXPECT_EQ(load_error(path), path + ": cannot read the file: No such file or directory");
}

TEST(LoadInvalid, DirectoryAsDataflowFile_SaysSo) {
  const std::string path = fixture("invalid");
  EXPECT_EQ(load_error(path), path + ": cannot read the file: it is a directory");
}

// ---------------------------------------------------------------------------------------------
// Unsupported Dora features, by name.
// ---------------------------------------------------------------------------------------------

TEST(LoadUnsupported, DoraNodeFields_AreNamedAsNotSupportedByTheLocalRunner) {
  for (const std::string field :
       {"operators", "operator", "ros2", "hub", "module"}) {
    SCOPED_TRACE(field);
    const df::DataflowError e = parse_error(one_node("    " + field + ": x\n"));
    EXPECT_EQ(e.location(), (df::SourceLocation{4, 5}));
    EXPECT_EQ(e.field(), "nodes[0]." + field);
    EXPECT_EQ(e.reason(),
              "'" + field + "' is not supported by the dcp local runner (use Dora for it)");
  }
}

TEST(LoadUnsupported, GitSources_AreRefusedNamingTheNode) {
  for (const std::string field : {"git", "branch", "tag", "rev"}) {
    SCOPED_TRACE(field);
    const df::DataflowError e = parse_error(one_node("    " + field + ": x\n"));
    EXPECT_EQ(e.location(), (df::SourceLocation{4, 5}));
    EXPECT_EQ(e.field(), "nodes[0]." + field);
    EXPECT_EQ(e.reason(),
              "node 'a': git sources are not supported by dcp (no network); build it and use "
              "`path`");
  }
  // Reported once per node, at the first of the git fields.
  EXPECT_EQ(parse_error(one_node("    git: https://x.org/a.git\n    branch: main\n"))
                .diagnostics()
                .size(),
            1u);
}

TEST(LoadValid, Build_IsKeptWithItsLocation) {
  const df::Dataflow flow = parse(one_node("    build: |\n      make a\n      make b\n"));
  EXPECT_EQ(flow.nodes[0].build, "make a\nmake b\n");
  EXPECT_EQ(flow.nodes[0].build_location.line, 4);
}

TEST(LoadUnsupported, DynamicAndShellPathsAndUrls_AreNamed) {
  EXPECT_EQ(parse("nodes:\n  - id: a\n    path: dynamic\n").run_limitations.at(0).reason,
            "a dynamic node (path: dynamic) is not supported by dcp run yet");
  EXPECT_EQ(
      parse_error("nodes:\n  - id: a\n    path: shell\n").reason(),
      "a shell node (path: shell) is not supported by the dcp local runner (use Dora for it)");
  EXPECT_EQ(parse_error("nodes:\n  - id: a\n    path: https://x.org/node\n").reason(),
            "a URL as path is not supported by the dcp local runner (use Dora for it)");
}

TEST(LoadRules, SourceWithTwoSlashes_IsSplitAtTheFirst) {
  const df::Dataflow flow = parse(
      "nodes:\n  - id: rt\n    path: a\n    outputs: [op/out]\n"
      "  - id: b\n    path: b\n    inputs: {x: rt/op/out}\n");
  EXPECT_EQ(*flow.nodes[1].inputs[0].upstream(), (df::NodeOutput{"rt", "op/out"}));
}

TEST(LoadUnsupported, OtherDoraInputs_AreUnknown) {
  const df::DataflowError e = parse_error(one_node("    inputs: {x: dora/clock/now}\n"));
  EXPECT_EQ(e.reason(),
            "unknown Dora input 'dora/clock/now': Dora provides dora/timer/... and "
            "dora/logs[/<level>[/<node>]] (dora/clock is not one of them)");
}

// ---------------------------------------------------------------------------------------------
// Smaller rules, on in-memory text.
// ---------------------------------------------------------------------------------------------

TEST(LoadRules, TopLevelNotAMap_IsRejected) {
  EXPECT_EQ(parse_error("- a\n- b\n").reason(),
            "a dataflow is a map with a 'nodes' list, got a list");
}

TEST(LoadRules, EmptyNodeList_IsRejected) {
  EXPECT_EQ(parse_error("nodes: []\n").reason(), "the list of nodes is empty");
  const df::DataflowError e = parse_error("nodes:\n");
  EXPECT_EQ(e.reason(), "the list of nodes is empty");
  EXPECT_EQ(e.location(), (df::SourceLocation{1, 1}));  // the key, not wherever the null lands
}

TEST(LoadRules, NodeThatIsNotAMap_IsRejected) {
  const df::DataflowError e = parse_error("nodes:\n  - sensors\n");
  EXPECT_EQ(e.field(), "nodes[0]");
  EXPECT_EQ(e.reason(), "a node must be a map with 'id' and 'path', got a string");
}

TEST(LoadRules, NodeIdDora_IsReserved) {
  EXPECT_EQ(parse_error("nodes:\n  - id: dora\n    path: a\n").reason(),
            "node id 'dora' is reserved (inputs 'dora/...' name Dora's built-in timers)");
}

TEST(LoadRules, EmptyOrNullIdAndPath_AreRejected) {
  EXPECT_EQ(parse_error("nodes:\n  - id:\n    path: a\n").reason(), "node id is empty");
  EXPECT_EQ(parse_error("nodes:\n  - id: ''\n    path: a\n").reason(),
            "invalid node id '': it is empty");
  EXPECT_EQ(parse_error("nodes:\n  - id: a\n    path:\n").reason(), "path is empty");
  EXPECT_EQ(parse_error("nodes:\n  - id: a\n    path: ''\n").reason(), "path is empty");
}

TEST(LoadRules, DuplicateNodeField_IsRejected) {
  const df::DataflowError e = parse_error(one_node("    path: b\n"));
  EXPECT_EQ(e.field(), "nodes[0].path");
  EXPECT_EQ(e.reason(), "duplicate field 'path' (first at line 3)");
}

TEST(LoadRules, InputIdWithInvalidCharacters_IsRejected) {
  const df::DataflowError e =
      parse_error(one_node("    inputs: {\"my input\": dora/timer/secs/1}\n"));
  EXPECT_EQ(e.field(), "nodes[0].inputs[\"my input\"]");
  EXPECT_EQ(e.reason(),
            "invalid input id 'my input': character ' ' is not allowed (input and output ids use "
            "only letters, digits, '_', '.', '/' and '-')");
}

TEST(LoadRules, LongFormInput_RequiresSourceAndKnowsOnlyItsFields) {
  EXPECT_EQ(parse_error(one_node("    inputs: {x: {queue_size: 3}}\n")).reason(),
            "input 'x' has no 'source'");
  const df::DataflowError unknown =
      parse_error(one_node("    inputs: {x: {source: dora/timer/secs/1, timeout: 3}}\n"));
  EXPECT_EQ(unknown.field(), "nodes[0].inputs.x.timeout");
  EXPECT_EQ(unknown.reason(),
            "unknown field 'timeout' in an input (it has 'source', 'queue_size', 'input_timeout' "
            "and 'queue_policy')");
}

TEST(LoadRules, InputThatIsAList_IsRejected) {
  EXPECT_EQ(parse_error(one_node("    inputs: {x: [a/b]}\n")).reason(),
            "input 'x' must be '<node>/<output>', a timer, or a map with 'source' (and "
            "'queue_size', 'input_timeout', 'queue_policy'), got a list");
}

TEST(LoadRules, QueueSize_AcceptsZeroToTheLimit_ZeroMeaningOne) {
  const auto with_queue = [](std::string_view size) {
    return one_node("    inputs: {x: {source: dora/timer/secs/1, queue_size: " + std::string(size) +
                    "}}\n");
  };
  EXPECT_EQ(parse(with_queue("0")).nodes[0].inputs[0].queue_size, 1u);
  EXPECT_EQ(parse(with_queue("1")).nodes[0].inputs[0].queue_size, 1u);
  EXPECT_EQ(parse(with_queue("+3")).nodes[0].inputs[0].queue_size, 3u);
  EXPECT_EQ(parse(with_queue("100000")).nodes[0].inputs[0].queue_size, df::kMaxQueueSize);
  for (const char* bad : {"100001", "-1", "+", "1e3", "0x10", "ten", "99999999999999999999999"}) {
    EXPECT_EQ(parse_error(with_queue(bad)).reason(),
              "queue_size must be an integer from 0 to 100000 (0 means 1, as in Dora), got '" +
                  std::string(bad) + "'")
        << bad;
  }
  EXPECT_EQ(parse_error(with_queue("[1]")).reason(),
            "queue_size must be an integer from 0 to 100000 (0 means 1, as in Dora), got a list");
}

TEST(LoadRules, EnvEntries_NeedANameAndAValue) {
  EXPECT_EQ(parse_error(one_node("    env: {A: }\n")).reason(),
            "environment variable 'A' has no value (write \"\" for an empty one)");
  EXPECT_EQ(parse_error(one_node("    env: {\"A=B\": 1}\n")).reason(),
            "invalid environment variable name 'A=B' (it must be non-empty, without '=')");
  EXPECT_EQ(parse_error(one_node("    env: [A]\n")).reason(),
            "env must be a map of variable names to values, got a list");
  EXPECT_EQ(parse_error(one_node("    env: {A: 1, A: 2}\n")).reason(),
            "duplicate environment variable 'A' (first at line 4)");
}

TEST(LoadRules, ArgsMustBeAString) {
  EXPECT_EQ(parse_error(one_node("    args: [--a, --b]\n")).reason(),
            "args must be a string (split into words like a shell does), got a list");
  EXPECT_EQ(parse(one_node("    args: 42\n")).nodes[0].argv, (std::vector<std::string>{"42"}));
}

TEST(LoadRules, NulCharacters_AreRejected) {
  EXPECT_EQ(parse_error(one_node("    args: \"a\\0b\"\n")).reason(),
            "args contains a NUL character");
  EXPECT_EQ(parse_error("nodes:\n  - id: a\n    path: \"a\\0b\"\n").reason(),
            "path contains a NUL character");
}

TEST(LoadRules, NonStringKeys_AreRejected) {
  EXPECT_EQ(parse_error("? [a, b]\n: 1\nnodes: []\n").reason(), "keys must be strings, got a list");
}

TEST(LoadRules, AliasesAreFollowedButCyclesDoNotHang) {
  const df::Dataflow flow = parse(
      "nodes:\n"
      "  - id: a\n    path: p\n    env: &common {MODE: fast}\n    outputs: [out]\n"
      "  - id: b\n    path: p\n    env: *common\n    inputs: {x: a/out}\n");
  EXPECT_EQ(flow.nodes[1].env.at("MODE"), "fast");
  EXPECT_EQ(parse_error("nodes: &a [*a]\n").reason(),
            "a node must be a map with 'id' and 'path', got a list");
}

TEST(LoadRules, StrayCommaAtDocumentLevel_IsASyntaxErrorNotAHang) {
  // yaml-cpp 0.7's LoadAll loops forever on this, reporting empty documents.
  for (const char* text : {",", ",nodes: &x\n", "nodes:\n  - {id: a, path: p}\n...\n,\n"}) {
    EXPECT_EQ(parse_error(text).reason(),
              "YAML syntax error: unexpected ',' (',' separates items only inside [...] or {...})")
        << text;
  }
}

TEST(LoadRules, DeepNesting_IsASyntaxErrorNotACrash) {
  const std::string deep = "nodes: " + std::string(10000, '[') + std::string(10000, ']') + "\n";
  EXPECT_EQ(parse_error(deep).reason(), "YAML syntax error: the document nests too deeply");
}

TEST(LoadRules, ControlCharactersInMessages_AreEscapedAndLongTextIsCut) {
  const df::DataflowError e =
      parse_error(one_node("    inputs: {x: \"\\e[31m" + std::string(200, 'z') + "\"}\n"));
  EXPECT_EQ(e.reason(), "malformed input source '\\x1b[31m" + std::string(75, 'z') +
                            "...': expected '<node>/<output>' or a timer 'dora/timer/millis/<N>'");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Every independent problem of a file is reported in one DataflowError, sorted by position.
// ---------------------------------------------------------------------------------------------

namespace many_errors {

// invalid/many_errors.yml: one problem of each kind in several nodes, from all three passes.
std::vector<df::Diagnostic> expected(bool with_executables) {
  std::vector<df::Diagnostic> all = {
      {{6, 9}, "nodes[0].outputs[1]", "duplicate output 'image' (first declared at line 5)"},
      {{7, 9},
       "nodes[1].id",
       "invalid node id 'bad id': character ' ' is not allowed (node ids use only letters, "
       "digits, '_', '.' and '-')"},
      {{9, 5},
       "nodes[1].colour",
       "unknown field 'colour' (a node has: id, name, description, path, args, env, build, "
       "inputs, outputs)"},
      {{13, 14},
       "nodes[2].inputs.frame",
       "node 'camera' has no output 'picture' (its outputs: image)"},
      {{14, 12},
       "nodes[2].inputs.imu",
       "unknown node 'sensorz' (known nodes: camera, processor)"},
      {{15, 13},
       "nodes[2].inputs.tick",
       "malformed timer 'dora/timer/millis/0': the period is zero (expected "
       "dora/timer/secs/<N>, millis/<N>, micros/<N> or nanos/<N> with <N> an integer > 0, or "
       "dora/timer/hz/<F> with <F> a number > 0)"},
      {{18, 21},
       "nodes[2].inputs.slow.queue_size",
       "queue_size must be an integer from 0 to 100000 (0 means 1, as in Dora), got '-1'"},
      {{19, 5}, "nodes[3]", "a node must be a map with 'id' and 'path', got a string"},
      {{20, 9}, "nodes[4].id", "duplicate node id 'camera' (first defined at line 2, nodes[0])"},
      {{21, 11},
       "nodes[4].path",
       "executable '../bin/missing' not found (looked for '" +
           fs::absolute(fixture("bin/missing")).lexically_normal().string() +
           "'; relative paths start at the dataflow file's folder)"},
      {{23, 13},
       "nodes[4].env.LIST",
       "the value of environment variable 'LIST' must be a string, number or boolean, got a "
       "list"},
      {{24, 9}, "deploy", "deploy must be a map of machine, working_dir, labels and distribute, got a string"},
  };
  if (!with_executables) all.erase(all.begin() + 9);
  return all;
}

df::DataflowError load(const df::LoadOptions& options) {
  try {
    static_cast<void>(df::load_dataflow(fixture("invalid/many_errors.yml"), options));
  } catch (const df::DataflowError& e) {
    return e;
  }
  ADD_FAILURE() << "many_errors.yml loaded without an error";
  return df::DataflowError("", {}, "", "");
}

}  // namespace many_errors

TEST(LoadAllErrors, FileWithManyProblems_ReportsEachWithItsPositionAndField) {
  const df::DataflowError e = many_errors::load({});
  const std::vector<df::Diagnostic> expected = many_errors::expected(true);
  ASSERT_EQ(e.diagnostics().size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(e.diagnostics()[i].location, expected[i].location) << i;
    EXPECT_EQ(e.diagnostics()[i].field, expected[i].field) << i;
    EXPECT_EQ(e.diagnostics()[i].reason, expected[i].reason) << i;
  }
  EXPECT_EQ(e.omitted(), 0u);
  // The accessors of the single-problem API describe the first problem.
  EXPECT_EQ(e.location(), (df::SourceLocation{6, 9}));
  EXPECT_EQ(e.field(), "nodes[0].outputs[1]");
}

TEST(LoadAllErrors, WhatIsOneLinePerProblem_InTheOrderOfTheFile) {
  const df::DataflowError e = many_errors::load({});
  const std::string path = fixture("invalid/many_errors.yml");
  std::string expected;
  for (const df::Diagnostic& d : many_errors::expected(true)) {
    if (!expected.empty()) expected += '\n';
    expected += df::format_diagnostic(path, d.location, d.field, d.reason);
  }
  EXPECT_EQ(e.what(), expected);
  ASSERT_EQ(e.messages().size(), 12u);
  EXPECT_EQ(e.messages()[3], path + ":13:14: nodes[2].inputs.frame: node 'camera' has no output "
                                    "'picture' (its outputs: image)");
}

TEST(LoadAllErrors, WithoutTheExecutableCheck_TheOtherProblemsRemain) {
  const df::DataflowError e = many_errors::load(without_exec_check());
  EXPECT_EQ(e.diagnostics(), many_errors::expected(false));
}

TEST(LoadAllErrors, ProblemsInsideOneInput_AreAllReported) {
  const df::DataflowError e = parse_error(
      one_node("    inputs:\n"
               "      x:\n"
               "        source: a\n"
               "        queue_size: -1\n"
               "        colour: red\n"
               "        source: b/c\n"));
  ASSERT_EQ(e.diagnostics().size(), 4u) << e.what();
  EXPECT_EQ(e.diagnostics()[0].location, (df::SourceLocation{6, 17}));
  EXPECT_EQ(e.diagnostics()[0].field, "nodes[0].inputs.x.source");
  EXPECT_EQ(e.diagnostics()[1].location, (df::SourceLocation{7, 21}));
  EXPECT_EQ(e.diagnostics()[1].field, "nodes[0].inputs.x.queue_size");
  EXPECT_EQ(e.diagnostics()[2].location, (df::SourceLocation{8, 9}));
  EXPECT_EQ(e.diagnostics()[2].reason,
            "unknown field 'colour' in an input (it has 'source', 'queue_size', 'input_timeout' "
            "and 'queue_policy')");
  EXPECT_EQ(e.diagnostics()[3].location, (df::SourceLocation{9, 9}));
  EXPECT_EQ(e.diagnostics()[3].reason, "duplicate field 'source' (first at line 6)");
}

TEST(LoadAllErrors, ReferenceToANodeWhoseOutputsAreInvalid_IsNotReportedAgain) {
  // b's outputs hold an invalid id, so "b has no output y" could be that one's fault: only the
  // invalid id is reported. A duplicate output leaves the outputs known: x/z is still checked.
  const df::DataflowError e = parse_error(
      "nodes:\n"
      "  - id: a\n"
      "    path: a\n"
      "    inputs: {i: b/y, j: x/z}\n"
      "  - id: b\n"
      "    path: b\n"
      "    outputs: [ok, 'not ok']\n"
      "  - id: x\n"
      "    path: x\n"
      "    outputs: [w, w]\n");
  ASSERT_EQ(e.diagnostics().size(), 3u) << e.what();
  EXPECT_EQ(e.diagnostics()[0].field, "nodes[0].inputs.j");
  EXPECT_EQ(e.diagnostics()[0].reason, "node 'x' has no output 'z' (its outputs: w)");
  EXPECT_EQ(e.diagnostics()[1].field, "nodes[1].outputs[1]");
  EXPECT_EQ(e.diagnostics()[2].field, "nodes[2].outputs[1]");
}

TEST(LoadAllErrors, NodeWithoutIdOrPath_ReportsBoth) {
  const df::DataflowError e = parse_error("nodes:\n  - name: x\n");
  ASSERT_EQ(e.diagnostics().size(), 2u) << e.what();
  EXPECT_EQ(e.diagnostics()[0].reason, "the node has no 'id'");
  EXPECT_EQ(e.diagnostics()[1].reason, "the node has no 'path' (the executable to run)");
  EXPECT_EQ(e.diagnostics()[1].location, (df::SourceLocation{2, 5}));
}

TEST(LoadAllErrors, SyntaxError_StopsAtTheFirstProblem) {
  const df::DataflowError e = parse_error("nodes:\n  - id: a\n    colour: [red\n  - id: 'b\n");
  EXPECT_EQ(e.diagnostics().size(), 1u) << e.what();
  EXPECT_EQ(e.reason().rfind("YAML syntax error: ", 0), 0u) << e.reason();
}

TEST(DataflowErrorList, KeepsTheGivenOrder_AndTheFirstDescribesTheError) {
  const df::DataflowError e("f.yml", {{{3, 1}, "b", "second"}, {{1, 2}, "a", "first"}});
  EXPECT_STREQ(e.what(), "f.yml:3:1: b: second\nf.yml:1:2: a: first");
  EXPECT_EQ(e.reason(), "second");
  EXPECT_EQ(e.omitted(), 0u);
}
