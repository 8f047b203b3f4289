// Tests of Dora's `env` and `path` rewriting in the loader: top-level env under the node's own,
// values read as bool/int/float/string and passed in Rust's text form, `$VAR`/`${VAR}` expanded
// (an unset one is an error), `path` expanding only Dora's allowed variables; Python nodes are
// accepted by the loader and listed as a run limitation.
#include <gtest/gtest.h>
#include <stdlib.h>  // setenv, unsetenv (POSIX)

#include <cstdlib>
#include <optional>
#include <string>

#include "dataflow/expand.hpp"
#include "dataflow/loader.hpp"
#include "parse_helpers.hpp"

namespace {

namespace df = dcp::dataflow;
using df::test::one_node;
using df::test::parse;
using df::test::parse_error;

// Sets an environment variable for one test and restores it (the loader reads the process
// environment).
class ScopedVariable {
 public:
  ScopedVariable(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ~ScopedVariable() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedVariable(const ScopedVariable&) = delete;
  ScopedVariable& operator=(const ScopedVariable&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(Env, TopLevelEnv_ReachesEveryNode_TheNodesOwnWins) {
  const df::Dataflow flow = parse(
      "env: {A: top, B: top}\n"
      "nodes:\n  - id: a\n    path: a\n    env: {B: node}\n  - id: b\n    path: b\n");
  EXPECT_EQ(flow.nodes[0].env.at("A"), "top");
  EXPECT_EQ(flow.nodes[0].env.at("B"), "node");
  EXPECT_EQ(flow.nodes[1].env.at("B"), "top");
}

TEST(Env, Values_BecomeTheTextDoraPasses) {
  const df::Dataflow flow = parse(one_node(
      "    env: {I: 007, Q: \"007\", F: 1.0, E: 1e20, S: 0.1, T: True, N: -.inf, W: hello}\n"));
  const auto& env = flow.nodes[0].env;
  EXPECT_EQ(env.at("I"), "7");
  EXPECT_EQ(env.at("Q"), "7");  // Dora tries bool, integer, float before string, quoted or not
  EXPECT_EQ(env.at("F"), "1");
  EXPECT_EQ(env.at("E"), "100000000000000000000");
  EXPECT_EQ(env.at("S"), "0.1");
  EXPECT_EQ(env.at("T"), "true");
  EXPECT_EQ(env.at("N"), "-inf");
  EXPECT_EQ(env.at("W"), "hello");
  EXPECT_EQ(df::env_value_text("1e-7", true), "0.0000001");
  EXPECT_EQ(df::env_value_text("True", false), "True");
}

TEST(Env, Variables_AreExpanded_AnUnsetOneIsAnError) {
  const ScopedVariable robot("DCP_TEST_ROBOT", "r2");
  const df::Dataflow flow = parse(one_node(
      "    env: {A: \"$DCP_TEST_ROBOT/x\", B: \"${DCP_TEST_ROBOT}y\", C: \"${DCP_TEST_UNSET:-d}\","
      " D: \"cost: 5$\"}\n"));
  EXPECT_EQ(flow.nodes[0].env.at("A"), "r2/x");
  EXPECT_EQ(flow.nodes[0].env.at("B"), "r2y");
  EXPECT_EQ(flow.nodes[0].env.at("C"), "d");
  EXPECT_EQ(flow.nodes[0].env.at("D"), "cost: 5$");
  const df::DataflowError e = parse_error(one_node("    env: {A: $DCP_TEST_UNSET}\n"));
  EXPECT_EQ(e.location(), (df::SourceLocation{4, 14}));
  EXPECT_EQ(e.field(), "nodes[0].env.A");
  EXPECT_EQ(e.reason(), "environment variable 'DCP_TEST_UNSET' is not set (in the value of 'A')");
}

TEST(Env, Path_ExpandsOnlyDorasAllowedVariables) {
  const ScopedVariable home("HOME", "/home/me");
  const ScopedVariable other("DCP_TEST_ROBOT", "r2");
  const df::Dataflow flow = parse(
      "nodes:\n  - id: a\n    path: $HOME/bin/a\n  - id: b\n    path: ${DCP_TEST_ROBOT}/b\n");
  EXPECT_EQ(flow.nodes[0].path, "$HOME/bin/a");  // as written
  EXPECT_EQ(flow.nodes[0].executable, "/home/me/bin/a");
  EXPECT_EQ(flow.nodes[1].executable, "/base/${DCP_TEST_ROBOT}/b");
}

TEST(Env, BareExecutableName_NotInTheFolder_IsFoundInSearchPath) {
  const ScopedVariable search("PATH", "/nonexistent:/bin:/usr/bin");
  const df::Dataflow flow = df::parse_dataflow("nodes:\n  - id: a\n    path: sh\n", "test.yml",
                                               "/nonexistent-base");
  EXPECT_EQ(flow.nodes[0].executable.filename(), "sh");
  EXPECT_NE(flow.nodes[0].executable.parent_path(), "/nonexistent-base");
  const df::DataflowError e = [] {
    try {
      static_cast<void>(df::parse_dataflow("nodes:\n  - id: a\n    path: dcp-no-such-node\n",
                                           "test.yml", "/nonexistent-base"));
    } catch (const df::DataflowError& error) {
      return error;
    }
    return df::DataflowError("", {}, "", "no error");
  }();
  EXPECT_EQ(e.reason(),
            "executable 'dcp-no-such-node' not found (looked for "
            "'/nonexistent-base/dcp-no-such-node' and in $PATH; relative paths start at the "
            "dataflow file's folder)");
}

TEST(Env, PythonNodes_AreAcceptedAndListedAsARunLimitation) {
  const df::Dataflow flow = parse(
      "nodes:\n  - id: py\n    path: node.py\n"
      "  - id: pip\n    build: pip install -e .\n    path: my-node\n"
      "  - id: native\n    build: make\n    path: bin/native\n");
  ASSERT_EQ(flow.run_limitations.size(), 2u);
  EXPECT_EQ(flow.run_limitations[0].location, (df::SourceLocation{3, 11}));
  EXPECT_EQ(flow.run_limitations[0].field, "nodes[0].path");
  EXPECT_EQ(flow.run_limitations[0].reason,
            "node 'py': python nodes need Dora's Python API (dcp run starts native executables "
            "only): not supported by dcp run yet");
  EXPECT_EQ(flow.run_limitations[1].field, "nodes[1].path");
}

}  // namespace
