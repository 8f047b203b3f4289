// Tests of the runner's connection checks (tools/runner/connections.hpp): who a Hello authenticates
// and why one is refused, and how text from a node is made printable.
#include "runner/connections.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace {

using dcp::runner::authenticate_hello;
using dcp::runner::LinkState;
using dcp::runner::NodeCredentials;
using dcp::runner::NodeLifecycle;
using dcp::runner::ProcessState;
namespace ipc = dcp::ipc;

class HelloCheck : public ::testing::Test {
 protected:
  HelloCheck() {
    camera_.move_to(ProcessState::running);
    planner_.move_to(ProcessState::running);
  }
  // Both nodes "are" this test process, so the peer check passes unless a test changes the pid.
  std::vector<NodeCredentials> nodes() const {
    return {{"camera", "secret-camera", ::getpid(), &camera_}, {"planner", "secret-planner", ::getpid(), &planner_}};
  }
  static ipc::Message hello(std::string id, std::string secret) {
    return ipc::Hello{ipc::kProtocolVersion, std::move(id), std::move(secret)};
  }
  std::string rejection(const ipc::Message& message, bool with_fd = false) const {
    return authenticate_hello(message, with_fd, nodes(), ::getpid()).rejection;
  }

  NodeLifecycle camera_{"camera"};
  NodeLifecycle planner_{"planner"};
};

TEST_F(HelloCheck, RightIdAndSecretFromTheNodesProcess_AuthenticatesThatNode) {
  const auto verdict = authenticate_hello(hello("planner", "secret-planner"), false, nodes(), ::getpid());
  ASSERT_TRUE(verdict.node.has_value()) << verdict.rejection;
  EXPECT_EQ(*verdict.node, 1u);
  EXPECT_TRUE(verdict.rejection.empty());
}

TEST_F(HelloCheck, EachWrongHello_IsRejectedWithItsReason) {
  EXPECT_EQ(rejection(ipc::NextEvent{}), "the first message must be Hello, not NextEvent");
  EXPECT_EQ(rejection(hello("camera", "secret-camera"), true), "a file descriptor came with the Hello message");
  EXPECT_EQ(rejection(ipc::Hello{ipc::kProtocolVersion + 1, "camera", "secret-camera"}),
            "protocol version " + std::to_string(ipc::kProtocolVersion + 1) + " is not supported (this runner speaks version " +
                std::to_string(ipc::kProtocolVersion) + ")");
  EXPECT_EQ(rejection(ipc::Hello{1, "camera", "secret-camera"}),
            "protocol version 1 is not supported (this runner speaks version 2)")
      << "a node built before input_recovered existed";
  EXPECT_EQ(rejection(hello("lidar\x1b[2J", "x")), "unknown node id 'lidar\\x1b[2J'") << "escaped for printing";
  EXPECT_EQ(rejection(hello("camera", "secret-planner")), "wrong secret for node 'camera'");
}

TEST_F(HelloCheck, NodeAlreadyConnectedOrEnded_IsRejected) {
  camera_.move_to(LinkState::connected);
  EXPECT_EQ(rejection(hello("camera", "secret-camera")), "node 'camera' is already connected");
  camera_.move_to(LinkState::gone);
  EXPECT_EQ(rejection(hello("camera", "secret-camera")),
            "node 'camera' has already been connected or has ended (a node connects once)");
  planner_.move_to(ProcessState::ended);
  EXPECT_EQ(rejection(hello("planner", "secret-planner")),
            "node 'planner' has already been connected or has ended (a node connects once)");
}

TEST_F(HelloCheck, PeerOutsideTheNodesProcessGroup_IsRejected) {
  std::vector<NodeCredentials> credentials = nodes();
  credentials[0].pid = 1;  // init: this test process is neither it nor in its process group
  const auto verdict = authenticate_hello(hello("camera", "secret-camera"), false, credentials, ::getpid());
  EXPECT_FALSE(verdict.node.has_value());
  EXPECT_EQ(verdict.rejection,
            "process " + std::to_string(::getpid()) + " is not node 'camera' (pid 1) nor in its process group");
}

TEST(Printable, ControlCharactersEscaped_LongTextCut) {
  EXPECT_EQ(dcp::runner::printable("a\nb\x7f"), "a\\x0ab\\x7f");
  EXPECT_EQ(dcp::runner::printable(std::string(10, 'x'), 4), "xxxx...");
  EXPECT_EQ(dcp::runner::in_quotes("id"), "'id'");
}

}  // namespace
