// init_node() in a dcp built WITHOUT the Dora backend (plain dcp::node): a node started by Dora must
// be told how to get the backend, not that it lacks a dcp runner.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "dcp/node/node.hpp"

namespace {

TEST(DoraWithoutBackend, InitNodeUnderDora_NodeErrorSaysToBuildWithDcpDoraDir) {
  ::unsetenv("DCP_RUNNER_SOCKET");
  ::setenv("DORA_NODE_CONFIG", "node_id: a\n", 1);
  try {
    (void)dcp::init_node();
    FAIL() << "expected dcp::NodeError";
  } catch (const dcp::NodeError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("started by Dora (DORA_NODE_CONFIG is set)"), std::string::npos) << message;
    EXPECT_NE(message.find("-DDCP_DORA_DIR="), std::string::npos) << message;
  }
  ::unsetenv("DORA_NODE_CONFIG");
}

TEST(DoraWithoutBackend, InitNodeWithNeither_NodeErrorMentionsBothWaysToRun) {
  ::unsetenv("DCP_RUNNER_SOCKET");
  ::unsetenv("DORA_NODE_CONFIG");
  try {
    (void)dcp::init_node();
    FAIL() << "expected dcp::NodeError";
  } catch (const dcp::NodeError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("DCP_RUNNER_SOCKET is not set"), std::string::npos) << message;
    EXPECT_NE(message.find("dora run"), std::string::npos) << message;
  }
}

}  // namespace
