// Tests of Dora's id rules in the loader: node ids [A-Za-z0-9_.-] (not starting with '.', not
// "dora"), input and output ids [A-Za-z0-9_./-] without empty parts; an error names the
// character or rule that is broken.
#include <gtest/gtest.h>

#include <string>

#include "dataflow/dataflow.hpp"
#include "dataflow/loader.hpp"
#include "parse_helpers.hpp"

namespace {

namespace df = dcp::dataflow;
using df::test::parse;
using df::test::parse_error;

TEST(Ids, NodeIdsWithDotsAndDataIdsWithSlashes_AreAccepted) {
  const df::Dataflow flow = parse(
      "nodes:\n  - id: front.camera-2_x\n    path: a\n    outputs: [image/left.raw]\n"
      "  - id: b\n    path: b\n    inputs: {cam/left: front.camera-2_x/image/left.raw}\n");
  EXPECT_EQ(flow.nodes[0].id, "front.camera-2_x");
  EXPECT_EQ(flow.nodes[0].outputs[0].id, "image/left.raw");
  EXPECT_EQ(flow.nodes[1].inputs[0].id, "cam/left");
  EXPECT_EQ(*flow.nodes[1].inputs[0].upstream(),
            (df::NodeOutput{"front.camera-2_x", "image/left.raw"}));
}

TEST(Ids, BadCharacterInANodeId_IsNamed) {
  const df::DataflowError e = parse_error("nodes:\n  - id: cam:1\n    path: a\n");
  EXPECT_EQ(e.location(), (df::SourceLocation{2, 9}));
  EXPECT_EQ(e.reason(),
            "invalid node id 'cam:1': character ':' is not allowed (node ids use only letters, "
            "digits, '_', '.' and '-')");
}

TEST(Ids, NodeIdStartingWithADot_IsRejected) {
  EXPECT_EQ(parse_error("nodes:\n  - id: .hidden\n    path: a\n").reason(),
            "invalid node id '.hidden': it must not start with '.'");
}

TEST(Ids, BadCharacterInADataId_IsNamed) {
  const df::DataflowError e = parse_error("nodes:\n  - id: a\n    path: a\n    outputs: [\"x+y\"]\n");
  EXPECT_EQ(e.field(), "nodes[0].outputs[0]");
  EXPECT_EQ(e.reason(),
            "invalid output id 'x+y': character '+' is not allowed (input and output ids use only "
            "letters, digits, '_', '.', '/' and '-')");
}

TEST(Ids, DataIdWithAnEmptyPart_IsRejected) {
  for (const std::string bad : {"/a", "a/", "a//b"}) {
    EXPECT_EQ(parse_error("nodes:\n  - id: a\n    path: a\n    inputs: {\"" + bad +
                          "\": dora/timer/secs/1}\n")
                  .reason(),
              "invalid input id '" + bad + "': a '/' must stand between two non-empty parts")
        << bad;
  }
}

TEST(Ids, PublicPredicates_FollowDorasRules) {
  EXPECT_TRUE(df::is_valid_node_id("a.b-c_9"));
  EXPECT_FALSE(df::is_valid_node_id("a/b"));
  EXPECT_FALSE(df::is_valid_node_id(".a"));
  EXPECT_FALSE(df::is_valid_node_id("dora"));
  EXPECT_FALSE(df::is_valid_node_id(""));
  EXPECT_TRUE(df::is_valid_data_id("a/b.c"));
  EXPECT_FALSE(df::is_valid_data_id("a//b"));
  EXPECT_FALSE(df::is_valid_data_id("a b"));
  EXPECT_FALSE(df::is_valid_data_id(std::string(df::kMaxIdLength + 1, 'a')));
}

}  // namespace
