// Tests of the loader's limits (dataflow/dataflow.hpp): each is accepted exactly at the limit
// and rejected one past it, with a message that names the limit.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "dataflow/loader.hpp"

#include "support/temp_dir.hpp"

namespace {

namespace df = dcp::dataflow;
namespace fs = std::filesystem;

df::LoadOptions without_exec_check() {
  df::LoadOptions options;
  options.check_executables = false;
  return options;
}

df::Dataflow parse(std::string_view text) {
  return df::parse_dataflow(text, "limits.yml", "/base", without_exec_check());
}

std::string parse_error(std::string_view text) {
  try {
    static_cast<void>(parse(text));
  } catch (const df::DataflowError& e) {
    return e.what();
  }
  ADD_FAILURE() << "parsed without an error";
  return {};
}

// `count` nodes n0..n<count-1>, each with path p.
std::string nodes(std::size_t count) {
  std::string text = "nodes:\n";
  for (std::size_t i = 0; i < count; ++i) text += "  - {id: n" + std::to_string(i) + ", path: p}\n";
  return text;
}

// One node with `count` inputs, all reading the same timer.
std::string inputs(std::size_t count) {
  std::string text = "nodes:\n  - id: a\n    path: p\n    inputs:\n";
  for (std::size_t i = 0; i < count; ++i) {
    text += "      i" + std::to_string(i) + ": dora/timer/millis/10\n";
  }
  return text;
}

// One node with `count` outputs.
std::string outputs(std::size_t count) {
  std::string text = "nodes:\n  - id: a\n    path: p\n    outputs:\n";
  for (std::size_t i = 0; i < count; ++i) text += "      - o" + std::to_string(i) + "\n";
  return text;
}

// `count` nodes, each with one unknown field `bad<i>` on line 4 + 3 * i.
std::string nodes_with_unknown_fields(std::size_t count) {
  std::string text = "nodes:\n";
  for (std::size_t i = 0; i < count; ++i) {
    text += "  - id: n" + std::to_string(i) + "\n    path: p\n    bad" + std::to_string(i) +
            ": 1\n";
  }
  return text;
}

df::DataflowError parse_exception(std::string_view text) {
  try {
    static_cast<void>(parse(text));
  } catch (const df::DataflowError& e) {
    return e;
  }
  ADD_FAILURE() << "parsed without an error";
  return df::DataflowError("", {}, "", "");
}

TEST(Limits, TheConstants_AreTheDocumentedValues) {
  EXPECT_EQ(df::kMaxReportedDiagnostics, 100u);
  EXPECT_EQ(df::kMaxNodes, 1024u);
  EXPECT_EQ(df::kMaxInputsPerNode, 256u);
  EXPECT_EQ(df::kMaxOutputsPerNode, 256u);
  EXPECT_EQ(df::kMaxFileSize, 4u * 1024 * 1024);
  EXPECT_EQ(df::kMaxQueueSize, 100000u);
  EXPECT_EQ(df::kMaxIdLength, 256u);
}

TEST(Limits, Nodes_AtTheLimitLoad_OnePastIsRejected) {
  EXPECT_EQ(parse(nodes(df::kMaxNodes)).nodes.size(), df::kMaxNodes);
  EXPECT_EQ(parse_error(nodes(df::kMaxNodes + 1)),
            "limits.yml:2:3: nodes: too many nodes: 1025 (the limit is 1024)");
}

TEST(Limits, InputsPerNode_AtTheLimitLoad_OnePastIsRejected) {
  EXPECT_EQ(parse(inputs(df::kMaxInputsPerNode)).nodes[0].inputs.size(), df::kMaxInputsPerNode);
  EXPECT_EQ(parse_error(inputs(df::kMaxInputsPerNode + 1)),
            "limits.yml:5:7: nodes[0].inputs: too many inputs: 257 (the limit is 256 per node)");
}

TEST(Limits, OutputsPerNode_AtTheLimitLoad_OnePastIsRejected) {
  EXPECT_EQ(parse(outputs(df::kMaxOutputsPerNode)).nodes[0].outputs.size(), df::kMaxOutputsPerNode);
  EXPECT_EQ(parse_error(outputs(df::kMaxOutputsPerNode + 1)),
            "limits.yml:5:7: nodes[0].outputs: too many outputs: 257 (the limit is 256 per node)");
}

TEST(Limits, IdLength_AtTheLimitLoads_OnePastIsRejected) {
  const std::string longest(df::kMaxIdLength, 'x');
  EXPECT_EQ(parse("nodes: [{id: " + longest + ", path: p}]\n").nodes[0].id, longest);
  const std::string error = parse_error("nodes: [{id: " + longest + "y, path: p}]\n");
  EXPECT_NE(error.find("it is 257 characters long (the limit is 256)"), std::string::npos) << error;
}

// A text of exactly `size` bytes: one valid node, padded with a YAML comment.
std::string text_of_size(std::size_t size) {
  std::string text = "nodes: [{id: a, path: p}]\n#";
  text += std::string(size - text.size() - 1, 'x');
  text += '\n';
  return text;
}

TEST(Limits, TextSize_AtTheLimitLoads_OnePastIsRejected) {
  EXPECT_EQ(parse(text_of_size(df::kMaxFileSize)).nodes.size(), 1u);
  EXPECT_EQ(parse_error(text_of_size(df::kMaxFileSize + 1)),
            "limits.yml: the dataflow is too large: 4194305 bytes (the limit is 4194304 bytes, "
            "4 MiB)");
}

TEST(Limits, FileSize_OnePastTheLimitIsRejectedBeforeParsing) {
  const dcp::test::TempDir dir("dcp_limits_test");
  const fs::path file = dir.path() / "too_large.yml";
  {
    std::ofstream out(file, std::ios::binary);
    out << text_of_size(df::kMaxFileSize + 1);
  }
  try {
    static_cast<void>(df::load_dataflow(file, without_exec_check()));
    ADD_FAILURE() << "no error";
  } catch (const df::DataflowError& e) {
    EXPECT_EQ(std::string(e.what()),
              file.string() +
                  ": the file is too large: 4194305 bytes (the limit is 4194304 bytes, 4 MiB)");
  }
}

TEST(Limits, AliasExpansion_IsBounded) {
  // One 64 KiB string named 1024 times through aliases: 64 MiB once expanded, from a tiny file.
  std::string text = "nodes:\n";
  text += "  - {id: n0, path: p, args: &big '" + std::string(64 * 1024, 'a') + "'}\n";
  for (int i = 1; i < 1024; ++i) {
    text += "  - {id: n" + std::to_string(i) + ", path: p, args: *big}\n";
  }
  const std::string error = parse_error(text);
  EXPECT_NE(error.find("the dataflow expands to more than 16777216 bytes of text"),
            std::string::npos)
      << error;
}

}  // namespace

TEST(Limits, ReportedDiagnostics_AtTheLimitAllAreShown) {
  const df::DataflowError e =
      parse_exception(nodes_with_unknown_fields(df::kMaxReportedDiagnostics));
  ASSERT_EQ(e.diagnostics().size(), df::kMaxReportedDiagnostics);
  EXPECT_EQ(e.omitted(), 0u);
  EXPECT_EQ(e.messages().size(), df::kMaxReportedDiagnostics);
  EXPECT_EQ(e.diagnostics().back().field, "nodes[99].bad99");
  EXPECT_EQ(e.diagnostics().back().location, (df::SourceLocation{4 + 3 * 99, 5}));
}

TEST(Limits, ReportedDiagnostics_OnePastTheLimitIsCountedNotShown) {
  const df::DataflowError e =
      parse_exception(nodes_with_unknown_fields(df::kMaxReportedDiagnostics + 1));
  ASSERT_EQ(e.diagnostics().size(), df::kMaxReportedDiagnostics);
  EXPECT_EQ(e.omitted(), 1u);
  const std::vector<std::string> messages = e.messages();
  ASSERT_EQ(messages.size(), df::kMaxReportedDiagnostics + 1);
  EXPECT_EQ(messages.back(), "limits.yml: ... and 1 more error (only the first 100 are shown)");
  EXPECT_EQ(e.diagnostics().back().field, "nodes[99].bad99");
}

TEST(Limits, ReportedDiagnostics_AreTheFirstByPosition_WhateverPassFoundThem) {
  // 300 unknown fields (pass 1), then an unknown node in the first node's input (pass 2, found
  // last but at line 4): it must be among the 100 shown, first; 201 are counted.
  std::string text = nodes_with_unknown_fields(300);
  text.replace(text.find("    bad0: 1\n"), 12, "    inputs: {x: nope/y}\n");
  text += "  - id: last\n    path: p\n    bad: 1\n";
  const df::DataflowError e = parse_exception(text);
  ASSERT_EQ(e.diagnostics().size(), df::kMaxReportedDiagnostics);
  EXPECT_EQ(e.omitted(), 201u);
  EXPECT_EQ(e.diagnostics().front().field, "nodes[0].inputs.x");
  EXPECT_EQ(e.diagnostics()[1].field, "nodes[1].bad1");
  EXPECT_EQ(e.diagnostics().back().field, "nodes[99].bad99");
  EXPECT_EQ(e.messages().back(),
            "limits.yml: ... and 201 more errors (only the first 100 are shown)");
}
