// Tests of framed SOCK_SEQPACKET sockets and sealed shared memory (node/ipc/socket.hpp,
// node/ipc/shared_memory.hpp): frames and descriptors arrive together, limits are enforced, and a
// received memfd must be sealed and of the announced size.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "ipc/protocol.hpp"
#include "ipc/shared_memory.hpp"
#include "ipc/socket.hpp"
#include "support/exception_message.hpp"

namespace {

using namespace dcp::ipc;
using dcp::test::error_of;

struct SocketPair {
  FileDescriptor a, b;
  SocketPair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) std::abort();
    a.reset(fds[0]);
    b.reset(fds[1]);
  }
};

TEST(Socket, FrameSentIsReceivedWhole) {
  SocketPair pair;
  const auto frame = encode(Hello{kProtocolVersion, "node", "secret"});
  ASSERT_EQ(send_frame(pair.a.get(), frame), IoStatus::ok);
  ReceivedFrame received;
  ASSERT_EQ(receive_frame(pair.b.get(), received), IoStatus::ok);
  EXPECT_EQ(received.bytes, frame);
  EXPECT_FALSE(received.fd);
}

TEST(Socket, PeerClosed_ReportsClosedBothWays) {
  SocketPair pair;
  pair.a.reset();
  ReceivedFrame received;
  EXPECT_EQ(receive_frame(pair.b.get(), received), IoStatus::closed);
  const auto frame = encode(NextEvent{});
  EXPECT_EQ(send_frame(pair.b.get(), frame), IoStatus::closed);  // and no SIGPIPE
}

TEST(Socket, EmptyDatagramFromAConnectedPeer_ThrowsProtocolError_NotClosed) {
  SocketPair pair;
  ASSERT_EQ(::send(pair.a.get(), "", 0, 0), 0);
  ReceivedFrame received;
  EXPECT_NE(error_of<ProtocolError>([&] { (void)receive_frame(pair.b.get(), received); }).find("empty frame"),
            std::string::npos);
}

TEST(Socket, ConnectWithStdinClosed_NeverLandsOnDescriptors0To2) {
  const std::string path = "/tmp/dcp_socket_test_" + std::to_string(::getpid()) + ".sock";
  ::unlink(path.c_str());
  const FileDescriptor listener = listen_seqpacket(path);
  const int saved_stdin = ::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
  ASSERT_GE(saved_stdin, 3);
  ::close(STDIN_FILENO);  // descriptor 0 is now the lowest free one
  int connected = -1;
  {
    const FileDescriptor socket = connect_seqpacket(path);
    connected = socket.get();
  }
  ::dup2(saved_stdin, STDIN_FILENO);
  ::close(saved_stdin);
  ::unlink(path.c_str());
  EXPECT_GT(connected, STDERR_FILENO);
}

TEST(Socket, NonBlockingReceiveWithNothingQueued_WouldBlock) {
  SocketPair pair;
  ASSERT_EQ(::fcntl(pair.b.get(), F_SETFL, O_NONBLOCK), 0);
  ReceivedFrame received;
  EXPECT_EQ(receive_frame(pair.b.get(), received), IoStatus::would_block);
}

TEST(Socket, OversizedDatagram_ThrowsProtocolError) {
  SocketPair pair;
  int size = 1 << 20;
  ASSERT_EQ(::setsockopt(pair.a.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)), 0);
  std::vector<std::uint8_t> big(kMaxFrameSize + 100, 0);
  ASSERT_EQ(send_frame(pair.a.get(), big), IoStatus::ok);
  ReceivedFrame received;
  EXPECT_EQ(error_of<ProtocolError>([&] { (void)receive_frame(pair.b.get(), received); }),
            "frame larger than the limit of 65536 bytes");
}

TEST(Socket, DescriptorTravelsWithItsFrame) {
  SocketPair pair;
  auto shared = SharedBuffer::copy_of(std::vector<std::uint8_t>(10000, 3));
  const auto frame = encode(SendOutput{"cloud", {}, PayloadRef{PayloadLocation::shared_memory, {}, 10000}});
  ASSERT_EQ(send_frame(pair.a.get(), frame, shared.fd()), IoStatus::ok);
  ReceivedFrame received;
  ASSERT_EQ(receive_frame(pair.b.get(), received), IoStatus::ok);
  ASSERT_TRUE(received.fd);
  EXPECT_NE(received.fd.get(), shared.fd());
  auto mapped = SharedBuffer::map(std::move(received.fd), 10000);
  EXPECT_EQ(mapped.size(), 10000u);
  EXPECT_EQ(std::accumulate(mapped.bytes().begin(), mapped.bytes().end(), 0u), 30000u);
}

// The receiver's descriptor table is full when a descriptor arrives: the kernel drops it and
// flags the frame. That is the receiver's limit, not the sender's fault: the frame comes through,
// marked, and the connection goes on.
TEST(Socket, DescriptorTheReceiverHasNoRoomFor_FrameArrivesMarkedLost_ConnectionGoesOn) {
  SocketPair pair;
  auto shared = SharedBuffer::copy_of(std::vector<std::uint8_t>(100, 7));
  const auto frame = encode(SendOutput{"cloud", {}, PayloadRef{PayloadLocation::shared_memory, {}, 100}});
  ASSERT_EQ(send_frame(pair.a.get(), frame, shared.fd()), IoStatus::ok);
  ASSERT_EQ(send_frame(pair.a.get(), frame, shared.fd()), IoStatus::ok);

  rlimit original{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &original), 0);
  const int lowest_free = ::dup(0);  // descriptors are allocated lowest first
  ASSERT_GE(lowest_free, 0);
  ::close(lowest_free);
  rlimit full = original;
  full.rlim_cur = static_cast<rlim_t>(lowest_free);  // no descriptor can be allocated now
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &full), 0);
  ReceivedFrame received;
  const IoStatus status = receive_frame(pair.b.get(), received);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &original), 0);

  ASSERT_EQ(status, IoStatus::ok);
  EXPECT_TRUE(received.descriptor_lost);
  EXPECT_FALSE(received.fd);
  EXPECT_EQ(received.bytes, frame);
  // With room again, the next frame brings its descriptor.
  ASSERT_EQ(receive_frame(pair.b.get(), received), IoStatus::ok);
  EXPECT_FALSE(received.descriptor_lost);
  EXPECT_TRUE(received.fd);
}

TEST(Socket, TwoDescriptorsInOneFrame_ThrowsProtocolErrorAndLeaksNone) {
  SocketPair pair;
  int fds[2] = {::dup(0), ::dup(0)};
  const auto frame = encode(NextEvent{});
  iovec io{const_cast<std::uint8_t*>(frame.data()), frame.size()};
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(fds))] = {};
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(fds));
  std::memcpy(CMSG_DATA(header), fds, sizeof(fds));
  ASSERT_GE(::sendmsg(pair.a.get(), &message, 0), 0);
  ::close(fds[0]);
  ::close(fds[1]);
  const int probe_before = ::dup(0);
  ::close(probe_before);
  ReceivedFrame received;
  EXPECT_THROW((void)receive_frame(pair.b.get(), received), ProtocolError);
  const int probe_after = ::dup(0);
  ::close(probe_after);
  EXPECT_EQ(probe_after, probe_before) << "a received descriptor leaked";
}

TEST(SharedMemory, SealedBufferIsReadOnlyAndKeepsItsBytes) {
  auto writable = WritableSharedBuffer::allocate(8192);
  for (std::size_t i = 0; i < 8192; ++i) writable.data()[i] = static_cast<std::uint8_t>(i);
  auto sealed = std::move(writable).seal();
  EXPECT_EQ(sealed.bytes()[1000], static_cast<std::uint8_t>(1000));
  EXPECT_NE(::fcntl(sealed.fd(), F_GET_SEALS) & F_SEAL_WRITE, 0);
  EXPECT_EQ(::pwrite(sealed.fd(), "x", 1, 0), -1);  // sealed: writes fail
  EXPECT_EQ(::ftruncate(sealed.fd(), 1), -1);       // and so does shrinking
}

TEST(SharedMemory, UnsealedMemfd_IsRejected) {
  FileDescriptor fd(::memfd_create("test", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  ASSERT_EQ(::ftruncate(fd.get(), 4096), 0);
  EXPECT_EQ(error_of<ProtocolError>([&] { (void)SharedBuffer::map(std::move(fd), 4096); }),
            "shared memory payload: the memfd is not sealed against writing and resizing");
}

TEST(SharedMemory, SizeMismatch_IsRejected) {
  auto sealed = SharedBuffer::copy_of(std::vector<std::uint8_t>(5000, 1));
  FileDescriptor copy(::dup(sealed.fd()));
  EXPECT_EQ(error_of<ProtocolError>([&] { (void)SharedBuffer::map(std::move(copy), 6000); }),
            "shared memory payload: announced 6000 bytes, the memfd has 5000");
}

TEST(SharedMemory, NotAMemfd_IsRejected) {
  FileDescriptor fd(::dup(0));
  EXPECT_THROW((void)SharedBuffer::map(std::move(fd), 10), ProtocolError);
}

TEST(SharedMemory, SizeOutOfRange_IsRejected) {
  EXPECT_THROW((void)WritableSharedBuffer::allocate(0), std::invalid_argument);
  EXPECT_THROW((void)WritableSharedBuffer::allocate(kMaxSharedPayload + 1), std::invalid_argument);
}

TEST(Socket, SeqpacketPair_BothEndsCloseOnExec_OnlyTheFirstNonBlocking) {
  dcp::ipc::SocketPair pair = seqpacket_pair();
  EXPECT_NE(::fcntl(pair.first.get(), F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_NE(::fcntl(pair.second.get(), F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_NE(::fcntl(pair.first.get(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_EQ(::fcntl(pair.second.get(), F_GETFL) & O_NONBLOCK, 0);
  const std::vector<std::uint8_t> frame = encode(NextEvent{});
  ASSERT_EQ(send_frame(pair.second.get(), frame), IoStatus::ok);
  ReceivedFrame received;
  ASSERT_EQ(receive_frame(pair.first.get(), received), IoStatus::ok);
  EXPECT_EQ(received.bytes, frame);
}

TEST(Socket, AdoptSeqpacket_MakesItCloseOnExecAndBlocking_KeepsItsNumber) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, fds), 0);  // inheritable, as a node gets it
  FileDescriptor other(fds[0]);
  const FileDescriptor adopted = adopt_seqpacket(fds[1]);
  EXPECT_EQ(adopted.get(), fds[1]);
  EXPECT_NE(::fcntl(adopted.get(), F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_EQ(::fcntl(adopted.get(), F_GETFL) & O_NONBLOCK, 0);
}

TEST(Socket, AdoptSeqpacket_AnotherKindOfDescriptor_ThrowsNamingIt_AndLeavesItOpen) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  FileDescriptor a(fds[0]), b(fds[1]);
  EXPECT_NE(error_of<std::system_error>([&] { (void)adopt_seqpacket(a.get()); }).find("is not an AF_UNIX SOCK_SEQPACKET socket"),
            std::string::npos);
  EXPECT_GE(::fcntl(a.get(), F_GETFD), 0);
  FileDescriptor file(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  EXPECT_NE(error_of<std::system_error>([&] { (void)adopt_seqpacket(file.get()); }).find("is not a socket"), std::string::npos);
  EXPECT_NE(error_of<std::system_error>([&] { (void)adopt_seqpacket(-1); }).find("is not open"), std::string::npos);
}

}  // namespace
