// Tests of the runner's connection checks (tools/runner/connections.hpp): who a Hello authenticates
// and why one is refused, and how text from a node is made printable.
#include "runner/connections.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <optional>
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
  std::vector<NodeCredentials> nodes() const {
    return {{"camera", "secret-camera", &camera_}, {"planner", "secret-planner", &planner_}};
  }
  static ipc::Message hello(std::string id, std::string secret) {
    return ipc::Hello{ipc::kProtocolVersion, std::move(id), std::move(secret)};
  }
  // The Hello as it arrives on the connection camera (node 0) inherited.
  std::string rejection(const ipc::Message& message, bool with_fd = false) const {
    return authenticate_hello(message, with_fd, nodes(), 0).rejection;
  }

  NodeLifecycle camera_{"camera"};
  NodeLifecycle planner_{"planner"};
};

TEST_F(HelloCheck, RightIdAndSecretOnTheNodesInheritedConnection_AuthenticatesThatNode) {
  const auto verdict = authenticate_hello(hello("planner", "secret-planner"), false, nodes(), 1);
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
            "protocol version 1 is not supported (this runner speaks version 3)")
      << "a node built before input_recovered existed";
  EXPECT_EQ(rejection(hello("lidar\x1b[2J", "x")), "this connection was made for node 'camera', not for 'lidar\\x1b[2J'")
      << "escaped for printing";
  EXPECT_EQ(rejection(hello("camera", "secret-planner")), "wrong secret for node 'camera'");
}

TEST_F(HelloCheck, AnotherNodesIdAndSecretOnANodesConnection_IsRejected) {
  // planner's id and secret are right, but this is camera's connection: it cannot become planner's.
  EXPECT_EQ(rejection(hello("planner", "secret-planner")), "this connection was made for node 'camera', not for 'planner'");
}

TEST_F(HelloCheck, RightIdAndSecretThroughTheListeningSocket_IsRejected) {
  const auto verdict = authenticate_hello(hello("camera", "secret-camera"), false, nodes(), std::nullopt);
  EXPECT_FALSE(verdict.node.has_value());
  EXPECT_NE(verdict.rejection.find("no node connects through the runner's socket"), std::string::npos) << verdict.rejection;
  EXPECT_NE(verdict.rejection.find("refused Hello for 'camera'"), std::string::npos) << verdict.rejection;
  // Same answer whatever the secret: the listening socket is no oracle for it.
  EXPECT_EQ(authenticate_hello(hello("camera", "wrong"), false, nodes(), std::nullopt).rejection.find("wrong secret"),
            std::string::npos);
}

TEST_F(HelloCheck, NodeAlreadyConnectedOrEnded_IsRejected) {
  camera_.move_to(LinkState::connected);
  EXPECT_EQ(rejection(hello("camera", "secret-camera")), "node 'camera' is already connected");
  camera_.move_to(LinkState::gone);
  EXPECT_EQ(rejection(hello("camera", "secret-camera")),
            "node 'camera' has already been connected or has ended (a node connects once)");
  planner_.move_to(ProcessState::ended);
  EXPECT_EQ(authenticate_hello(hello("planner", "secret-planner"), false, nodes(), 1).rejection,
            "node 'planner' has already been connected or has ended (a node connects once)");
}

TEST(Printable, ControlCharactersEscaped_LongTextCut) {
  EXPECT_EQ(dcp::runner::printable("a\nb\x7f"), "a\\x0ab\\x7f");
  EXPECT_EQ(dcp::runner::printable(std::string(10, 'x'), 4), "xxxx...");
  EXPECT_EQ(dcp::runner::in_quotes("id"), "'id'");
}

// ----- shared-memory payloads ------------------------------------------------------------

/// A memfd of `size` bytes made with `flags`, sealed with `seals` (0: none); -1 when the kernel
/// refuses (e.g. MFD_HUGETLB without huge page support).
int memfd(std::size_t size, unsigned flags, int seals) {
  const int fd = ::memfd_create("dcp-test", flags | MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -1;
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0 || (seals != 0 && ::fcntl(fd, F_ADD_SEALS, seals) != 0)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

constexpr int kSeals = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

TEST(SharedMemoryCheck, SealedPlainMemfdOfTheAnnouncedSize_IsAccepted) {
  const int fd = memfd(8192, 0, kSeals);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(dcp::runner::check_shared_memory(fd, 8192), "");
  EXPECT_EQ(dcp::runner::check_shared_memory(fd, 4096), "the shared-memory payload announces 4096 bytes, its memfd has 8192");
  ::close(fd);
}

TEST(SharedMemoryCheck, UnsealedMemfdOrNoMemfdAtAll_IsRefused) {
  const int unsealed = memfd(8192, 0, 0);
  ASSERT_GE(unsealed, 0);
  EXPECT_EQ(dcp::runner::check_shared_memory(unsealed, 8192),
            "the shared-memory payload's memfd is not sealed against writing and resizing");
  ::close(unsealed);
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  EXPECT_EQ(dcp::runner::check_shared_memory(pipe_fds[0], 8192), "the shared-memory payload's descriptor is not a memfd");
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
}

TEST(SharedMemoryCheck, SealedHugetlbfsMemfd_IsRefusedNamingItsFileSystem) {
  // Sealable like a plain memfd, but a reader's mmap fails where no huge pages are reserved: the
  // payload that used to pass the runner and cut its readers off.
  const int fd = memfd(2 << 20, MFD_HUGETLB, kSeals);
  if (fd < 0) GTEST_SKIP() << "this kernel makes no hugetlbfs memfd";
  EXPECT_EQ(dcp::runner::check_shared_memory(fd, 2 << 20),
            "the shared-memory payload's memfd is not on tmpfs (file system type 0x958458f6, hugetlbfs): dcp "
            "passes only plain memfds, which every reader can map");
  ::close(fd);
}

}  // namespace
