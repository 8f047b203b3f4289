// node/ipc/socket.hpp — file descriptors and framed AF_UNIX SOCK_SEQPACKET sockets.
//
// What it is for: the runner and the node client exchange protocol frames (protocol.hpp) as
// datagrams on a SOCK_SEQPACKET connection: the kernel keeps frame boundaries and carries file
// descriptors (SCM_RIGHTS) with the frame they belong to — shared-memory payloads travel that way.
//
// Thread safety: FileDescriptor is a move-only owner used by one thread at a time. send_frame and
// receive_frame may be called concurrently on the same socket (one datagram is sent or received
// atomically), but only one thread should receive at a time.
// Blocking: on a blocking socket send_frame blocks while the peer's buffer is full and
// receive_frame until a frame arrives; on a non-blocking one they return IoStatus::would_block.
// Errors: an empty datagram from a peer still connected (a zero-length read with the peer gone is
// IoStatus::closed), a datagram larger than kMaxFrameSize, or with more than one descriptor, or with other
// control data, throws ProtocolError (the connection should then be dropped); other system errors
// throw std::system_error naming the call. A descriptor this process had no room for is not an
// error of the peer's: the frame is returned with ReceivedFrame::descriptor_lost set.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <utility>
#include <vector>

namespace dcp::ipc {

class FileDescriptor {
 public:
  FileDescriptor() noexcept = default;
  explicit FileDescriptor(int fd) noexcept : fd_(fd) {}
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileDescriptor& operator=(FileDescriptor&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() { reset(); }

  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept;
  explicit operator bool() const noexcept { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

enum class IoStatus {
  ok,           ///< the frame was sent / received
  would_block,  ///< non-blocking socket: try again when it is ready
  closed,       ///< the peer hung up (orderly shutdown, EPIPE or ECONNRESET)
};

struct ReceivedFrame {
  std::vector<std::uint8_t> bytes;
  FileDescriptor fd;  ///< the descriptor that came with the frame, if any
  /// The peer sent a descriptor with the frame, but this process could not take it (no free
  /// descriptor: EMFILE at RLIMIT_NOFILE, or ENFILE): the kernel closed it and flagged the frame
  /// (MSG_CTRUNC). The frame itself is whole; the receiver's own limit, not the sender's fault.
  bool descriptor_lost = false;
};

/// Sends one frame (and `fd`, when >= 0, which stays owned by the caller). Never raises SIGPIPE.
IoStatus send_frame(int socket, std::span<const std::uint8_t> frame, int fd = -1);

/// Receives one frame into `out` (its previous contents are replaced).
IoStatus receive_frame(int socket, ReceivedFrame& out);

/// A listening SOCK_SEQPACKET socket bound at `path` (close-on-exec, non-blocking).
FileDescriptor listen_seqpacket(const std::filesystem::path& path, int backlog = 128);

/// A connected, blocking, close-on-exec SOCK_SEQPACKET socket, never on descriptors 0-2 (when the
/// process closed stdin/stdout/stderr, it is moved above them, so a print cannot reach it).
FileDescriptor connect_seqpacket(const std::filesystem::path& path);

/// A connected pair of SOCK_SEQPACKET sockets, both close-on-exec; `first` is non-blocking (the
/// runner's end), `second` blocking (the end a node inherits: the child's copy, made by dup2, is
/// not close-on-exec).
struct SocketPair {
  FileDescriptor first;
  FileDescriptor second;
};
SocketPair seqpacket_pair();

/// Takes `fd` as this process's connection to the runner (the descriptor a node inherits):
/// checks that it is an open AF_UNIX SOCK_SEQPACKET socket, makes it close-on-exec (so programs
/// the node starts do not inherit it) and blocking, and moves it above descriptors 0-2 (putting
/// /dev/null in its old place) should it be one of them. Throws std::system_error naming what is
/// wrong (EBADF: not open; ENOTSOCK: not a socket; EPROTOTYPE: another kind of socket).
FileDescriptor adopt_seqpacket(int fd);

/// The pid of the process at the other end of a connected AF_UNIX socket (SO_PEERCRED).
int peer_pid(int socket);

}  // namespace dcp::ipc
