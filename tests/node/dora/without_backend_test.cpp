// init_node() in a dcp built WITHOUT the Dora backend (plain dcp::node): a node started by Dora must
// be told how to get the backend, not that it lacks a dcp runner.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "dcp/node/node.hpp"
#include "support/node_events.hpp"

namespace {

using dcp::test::node_error_of;
using DoraWithoutBackend = dcp::test::CleanNodeEnvironment;

TEST_F(DoraWithoutBackend, InitNodeUnderDora_NodeErrorSaysToBuildWithDcpDoraDir) {
  ::setenv("DORA_NODE_CONFIG", "node_id: a\n", 1);
  const std::string message = node_error_of([] { (void)dcp::init_node(); });
  EXPECT_NE(message.find("started by Dora (DORA_NODE_CONFIG is set)"), std::string::npos) << message;
  EXPECT_NE(message.find("-DDCP_DORA_DIR="), std::string::npos) << message;
}

TEST_F(DoraWithoutBackend, InitNodeWithNeither_NodeErrorMentionsBothWaysToRun) {
  const std::string message = node_error_of([] { (void)dcp::init_node(); });
  EXPECT_NE(message.find("neither DCP_NODE_FD nor DCP_RUNNER_SOCKET is set"), std::string::npos) << message;
  EXPECT_NE(message.find("dora run"), std::string::npos) << message;
}

}  // namespace
