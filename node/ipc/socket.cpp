// Framed SOCK_SEQPACKET sockets with descriptor passing (see socket.hpp).
#include "ipc/socket.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include "ipc/protocol.hpp"

namespace dcp::ipc {
namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

sockaddr_un address_of(const std::filesystem::path& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string s = path.string();
  if (s.size() >= sizeof(address.sun_path)) {
    throw std::system_error(ENAMETOOLONG, std::generic_category(),
                            "dcp: socket path '" + s + "' is longer than " +
                                std::to_string(sizeof(address.sun_path) - 1) + " bytes");
  }
  std::memcpy(address.sun_path, s.c_str(), s.size() + 1);
  return address;
}

}  // namespace

void FileDescriptor::reset(int fd) noexcept {
  if (fd_ >= 0 && fd_ != fd) ::close(fd_);
  fd_ = fd;
}

IoStatus send_frame(int socket, std::span<const std::uint8_t> frame, int fd) {
  iovec io{const_cast<std::uint8_t*>(frame.data()), frame.size()};
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    message.msg_control = control;
    message.msg_controllen = sizeof(control);
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(header), &fd, sizeof(int));
  }
  for (;;) {
    const ssize_t sent = ::sendmsg(socket, &message, MSG_NOSIGNAL);
    if (sent >= 0) return IoStatus::ok;  // SEQPACKET: all or nothing
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return IoStatus::would_block;
    if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN) return IoStatus::closed;
    throw_errno("dcp: sendmsg on the runner socket");
  }
}

IoStatus receive_frame(int socket, ReceivedFrame& out) {
  // One byte more than the limit, so an oversized datagram shows up as such (and as MSG_TRUNC).
  out.bytes.resize(kMaxFrameSize + 1);
  out.fd.reset();
  out.descriptor_lost = false;
  iovec io{out.bytes.data(), out.bytes.size()};
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  ssize_t received;
  for (;;) {
    received = ::recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
    if (received >= 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return IoStatus::would_block;
    if (errno == ECONNRESET || errno == ENOTCONN) return IoStatus::closed;
    throw_errno("dcp: recvmsg on the runner socket");
  }

  // Take ownership of every descriptor first, so none leaks whatever goes wrong below.
  std::vector<FileDescriptor> descriptors;
  bool other_control = false;
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr; header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS) {
      const std::size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof(int));
        descriptors.emplace_back(fd);
      }
    } else {
      other_control = true;
    }
  }

  if (received == 0 && descriptors.empty()) {
    // SEQPACKET: a zero-length read is the peer's orderly shutdown, or an empty datagram from a
    // peer that is still there — the protocol has no empty frame, so that one is an error.
    pollfd hangup{socket, POLLRDHUP, 0};
    if (::poll(&hangup, 1, 0) > 0 && (hangup.revents & (POLLRDHUP | POLLHUP)) != 0) {
      out.bytes.clear();
      return IoStatus::closed;
    }
    throw ProtocolError("empty frame (a zero-length datagram; the protocol has none)");
  }
  if ((message.msg_flags & MSG_TRUNC) != 0 || static_cast<std::size_t>(received) > kMaxFrameSize) {
    throw ProtocolError("frame larger than the limit of " + std::to_string(kMaxFrameSize) + " bytes");
  }
  // MSG_CTRUNC with no descriptor installed: the peer's descriptor did not fit in this process's
  // table (the kernel installs none of them then). The control buffer has room for four, so a
  // peer that sent too many still shows up below, with the ones that fitted.
  const bool truncated = (message.msg_flags & MSG_CTRUNC) != 0;
  if (truncated && descriptors.empty() && !other_control) {
    out.bytes.resize(static_cast<std::size_t>(received));
    out.descriptor_lost = true;
    return IoStatus::ok;
  }
  if (truncated || descriptors.size() > 1) {
    throw ProtocolError("frame carries more than one file descriptor");
  }
  if (other_control) throw ProtocolError("frame carries unexpected control data");
  out.bytes.resize(static_cast<std::size_t>(received));
  if (!descriptors.empty()) out.fd = std::move(descriptors.front());
  return IoStatus::ok;
}

FileDescriptor listen_seqpacket(const std::filesystem::path& path, int backlog) {
  const sockaddr_un address = address_of(path);
  FileDescriptor socket(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!socket) throw_errno("dcp: socket(AF_UNIX, SOCK_SEQPACKET)");
  if (::bind(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    throw_errno("dcp: bind " + path.string());
  }
  if (::listen(socket.get(), backlog) != 0) throw_errno("dcp: listen " + path.string());
  return socket;
}

FileDescriptor connect_seqpacket(const std::filesystem::path& path) {
  const sockaddr_un address = address_of(path);
  FileDescriptor socket(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!socket) throw_errno("dcp: socket(AF_UNIX, SOCK_SEQPACKET)");
  if (socket.get() <= STDERR_FILENO) {
    // The process closed stdin, stdout or stderr: a later print to that number would go into the
    // protocol. Move the socket above them.
    FileDescriptor moved(::fcntl(socket.get(), F_DUPFD_CLOEXEC, STDERR_FILENO + 1));
    if (!moved) throw_errno("dcp: fcntl(F_DUPFD_CLOEXEC)");
    socket = std::move(moved);
  }
  for (;;) {
    if (::connect(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0) break;
    if (errno == EINTR) continue;
    throw_errno("dcp: connect to the dcp runner at " + path.string());
  }
  return socket;
}

SocketPair seqpacket_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) throw_errno("dcp: socketpair(AF_UNIX, SOCK_SEQPACKET)");
  SocketPair pair{FileDescriptor(fds[0]), FileDescriptor(fds[1])};
  const int flags = ::fcntl(pair.first.get(), F_GETFL);
  if (flags < 0 || ::fcntl(pair.first.get(), F_SETFL, flags | O_NONBLOCK) != 0) throw_errno("dcp: fcntl(O_NONBLOCK)");
  return pair;
}

FileDescriptor adopt_seqpacket(int fd) {
  const auto fail = [fd](int error, const std::string& what) {
    throw std::system_error(error, std::generic_category(), "descriptor " + std::to_string(fd) + " " + what);
  };
  if (fd < 0 || ::fcntl(fd, F_GETFD) < 0) fail(EBADF, "is not open");
  struct stat status{};
  if (::fstat(fd, &status) != 0) fail(errno, "cannot be examined (fstat)");
  if (!S_ISSOCK(status.st_mode)) fail(ENOTSOCK, "is not a socket");
  int domain = 0;
  int type = 0;
  socklen_t length = sizeof(int);
  if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length) != 0) fail(errno, "cannot be examined (SO_DOMAIN)");
  length = sizeof(int);
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0) fail(errno, "cannot be examined (SO_TYPE)");
  if (domain != AF_UNIX || type != SOCK_SEQPACKET) fail(EPROTOTYPE, "is not an AF_UNIX SOCK_SEQPACKET socket");
  FileDescriptor socket(fd);
  if (fd <= STDERR_FILENO) {
    // A print to stdout or stderr must never reach the protocol: move the socket above them and
    // leave /dev/null in its place.
    FileDescriptor moved(::fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1));
    if (!moved) fail(errno, "cannot be moved above 2 (fcntl(F_DUPFD_CLOEXEC))");
    const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
      ::dup2(null, fd);  // replaces the socket at its old number at once (inheritable, as stdio is)
      ::close(null);
      (void)socket.release();  // that number is /dev/null's now
    }
    socket = std::move(moved);  // without /dev/null: the old number is closed here
  } else if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
    fail(errno, "cannot be made close-on-exec");
  }
  const int flags = ::fcntl(socket.get(), F_GETFL);
  if (flags < 0 || ((flags & O_NONBLOCK) != 0 && ::fcntl(socket.get(), F_SETFL, flags & ~O_NONBLOCK) != 0)) {
    fail(errno, "cannot be made blocking");
  }
  return socket;
}

int peer_pid(int socket) {
  ucred credentials{};
  socklen_t length = sizeof(credentials);
  if (::getsockopt(socket, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) {
    throw_errno("dcp: getsockopt(SO_PEERCRED)");
  }
  return credentials.pid;
}

}  // namespace dcp::ipc
