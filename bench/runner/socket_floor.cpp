// socket_floor — the floor under "one hop through the runner" (docs/benchmarks.md): what moving a
// message between two processes costs with nothing of dcp in the way, measured in the same run.
//
//   socket_floor [round_trips=N] [warmup=W] [samples=S] [out=FILE|-]
//
// Prints (or writes to `out`) one JSON line per measurement, each with its raw samples:
//   {"floor":"ping_pong","size":B,"rtt_ns":[...]}
//       A raw AF_UNIX SOCK_SEQPACKET ping-pong between this process and a forked child, B bytes
//       each way (8 B, 4 KiB, 64 KiB), blocking send/recv: one-way = RTT / 2. Every reply is
//       checked (size and first bytes).
//   {"floor":"memcpy","size":B,"ns":[...]}        one memcpy of B bytes between two warm buffers:
//       what a transport that copies pays per hop (a socket copies twice: in and out of the kernel).
//   {"floor":"fill_warm","size":B,"ns":[...]}     writing the benchmark's pattern into a warm buffer.
//   {"floor":"memfd","size":B,"create_ns":[...],"fill_ns":[...],"seal_ns":[...],"map_ns":[...],
//    "read_ns":[...],"release_ns":[...]}
//       what dcp does instead, with its own code (node/ipc/shared_memory.hpp), in one process:
//       allocate a memfd and map it writable, fill it (first touch: page faults and zeroing), seal
//       it, map it read-only as a reader would (from a dup of the descriptor), read one word per
//       page, unmap and close both. (At most `samples`, and no more than 128 MiB of memfds per size.)
// Sizes of 4 KiB and less are timed in batches (one sample = the mean of a batch) so that reading
// the clock does not dominate.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <system_error>
#include <vector>

#include "hop_common.hpp"
#include "ipc/shared_memory.hpp"

namespace {

using dcp_bench::now_ns;

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "socket_floor: %s\n", message.c_str());
  std::exit(1);
}

void check_errno(bool ok, const char* what) {
  if (!ok) throw std::system_error(errno, std::generic_category(), what);
}

/// Keeps the compiler from dropping writes into `data` that nothing reads.
void escape(const void* data) { asm volatile("" : : "r"(data) : "memory"); }

// ---------------------------------------------------------------------------------------------
// Ping-pong
// ---------------------------------------------------------------------------------------------

constexpr std::size_t kLargestDatagram = 64 * 1024;

/// The child: echoes every datagram until the parent hangs up.
[[noreturn]] void echo(int socket) {
  std::vector<std::uint8_t> buffer(kLargestDatagram + 1);
  for (;;) {
    const ssize_t received = ::recv(socket, buffer.data(), buffer.size(), 0);
    if (received <= 0) ::_exit(received == 0 ? 0 : 1);
    if (::send(socket, buffer.data(), static_cast<std::size_t>(received), MSG_NOSIGNAL) != received) ::_exit(1);
  }
}

std::string ping_pong(const std::vector<std::size_t>& sizes, std::int64_t round_trips, std::int64_t warmup) {
  int sockets[2];
  check_errno(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) == 0, "socketpair");
  const pid_t child = ::fork();
  check_errno(child >= 0, "fork");
  if (child == 0) {
    ::close(sockets[0]);
    echo(sockets[1]);
  }
  ::close(sockets[1]);
  const int socket = sockets[0];

  std::string lines;
  std::vector<std::uint8_t> message(kLargestDatagram), reply(kLargestDatagram + 1);
  for (const std::size_t size : sizes) {
    std::vector<std::int64_t> rtt;
    rtt.reserve(static_cast<std::size_t>(round_trips));
    for (std::int64_t i = 0; i < warmup + round_trips; ++i) {
      const auto stamp = static_cast<std::uint64_t>(i);
      dcp_bench::fill_pattern(std::span<std::uint8_t>(message.data(), size), stamp);
      const std::int64_t start = now_ns();
      check_errno(::send(socket, message.data(), size, MSG_NOSIGNAL) == static_cast<ssize_t>(size), "send");
      const ssize_t received = ::recv(socket, reply.data(), reply.size(), 0);
      const std::int64_t end = now_ns();
      check_errno(received >= 0, "recv");
      if (static_cast<std::size_t>(received) != size || std::memcmp(reply.data(), message.data(), std::min<std::size_t>(size, 64)) != 0) {
        fail("ping-pong reply " + std::to_string(i) + " of size " + std::to_string(size) + " is wrong");
      }
      if (i >= warmup) rtt.push_back(end - start);
    }
    lines += dcp_bench::JsonLine()
                 .field("floor", "ping_pong").field("transport", "AF_UNIX SOCK_SEQPACKET")
                 .field("size", static_cast<std::int64_t>(size)).field("rtt_ns", rtt).str();
  }
  ::shutdown(socket, SHUT_RDWR);
  ::close(socket);
  int status = 0;
  check_errno(::waitpid(child, &status, 0) == child, "waitpid");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail("the echo process failed");
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Copies and shared memory
// ---------------------------------------------------------------------------------------------

/// Samples of `operation` (per call), batched so that one sample lasts at least ~20 us.
template <class Operation>
std::vector<std::int64_t> time_batched(std::size_t size, std::int64_t samples, Operation&& operation) {
  const std::int64_t batch = std::max<std::int64_t>(1, static_cast<std::int64_t>((256 * 1024) / size));
  for (std::int64_t i = 0; i < batch; ++i) operation();  // warm up
  std::vector<std::int64_t> result;
  result.reserve(static_cast<std::size_t>(samples));
  for (std::int64_t s = 0; s < samples; ++s) {
    const std::int64_t start = now_ns();
    for (std::int64_t i = 0; i < batch; ++i) operation();
    result.push_back((now_ns() - start) / batch);
  }
  return result;
}

std::string copies(const std::vector<std::size_t>& sizes, std::int64_t samples) {
  std::string lines;
  for (const std::size_t size : sizes) {
    std::vector<std::uint8_t> source(size), target(size);
    dcp_bench::fill_pattern(source, 1);
    dcp_bench::fill_pattern(target, 2);  // both warm: mapped and in the page tables
    const auto copy = time_batched(size, samples, [&] {
      std::memcpy(target.data(), source.data(), size);
      escape(target.data());
    });
    if (target != source) fail("memcpy check failed");
    std::uint64_t seq = 0;
    const auto fill = time_batched(size, samples, [&] {
      dcp_bench::fill_pattern(target, ++seq);
      escape(target.data());
    });
    if (!dcp_bench::check_pattern(target, seq, 0, true)) fail("pattern check failed");
    lines += dcp_bench::JsonLine().field("floor", "memcpy").field("size", static_cast<std::int64_t>(size)).field("ns", copy).str();
    lines += dcp_bench::JsonLine().field("floor", "fill_warm").field("size", static_cast<std::int64_t>(size)).field("ns", fill).str();
  }
  return lines;
}

std::string shared_memory(const std::vector<std::size_t>& sizes, std::int64_t samples) {
  using dcp::ipc::FileDescriptor;
  using dcp::ipc::SharedBuffer;
  using dcp::ipc::WritableSharedBuffer;
  std::string lines;
  for (const std::size_t size : sizes) {
    // At most ~128 MiB of fresh memory per size: first touch can cost microseconds per page.
    const std::int64_t count =
        std::min<std::int64_t>(samples, std::max<std::int64_t>(5, static_cast<std::int64_t>((128u << 20) / size)));
    std::vector<std::int64_t> create, fill, seal, map, read, release;
    for (std::int64_t s = -2; s < count; ++s) {  // two unrecorded warm-up rounds
      const auto seq = static_cast<std::uint64_t>(s + 2);
      const std::int64_t t0 = now_ns();
      auto writable = WritableSharedBuffer::allocate(size);
      const std::int64_t t1 = now_ns();
      dcp_bench::fill_pattern(writable.data(), seq);
      const std::int64_t t2 = now_ns();
      std::int64_t t3 = 0, t4 = 0, t5 = 0;
      {
        SharedBuffer sealed = std::move(writable).seal();
        t3 = now_ns();
        const int copy = ::fcntl(sealed.fd(), F_DUPFD_CLOEXEC, 0);
        check_errno(copy >= 0, "fcntl(F_DUPFD_CLOEXEC)");
        SharedBuffer reader = SharedBuffer::map(FileDescriptor(copy), size);
        t4 = now_ns();
        if (!dcp_bench::check_pattern(reader.bytes(), seq, 0, false)) fail("shared memory check failed");
        t5 = now_ns();
      }
      const std::int64_t t6 = now_ns();
      if (s < 0) continue;
      create.push_back(t1 - t0);
      fill.push_back(t2 - t1);
      seal.push_back(t3 - t2);
      map.push_back(t4 - t3);
      read.push_back(t5 - t4);
      release.push_back(t6 - t5);
    }
    lines += dcp_bench::JsonLine()
                 .field("floor", "memfd").field("size", static_cast<std::int64_t>(size))
                 .field("create_ns", create).field("fill_ns", fill).field("seal_ns", seal)
                 .field("map_ns", map).field("read_ns", read).field("release_ns", release).str();
  }
  return lines;
}

}  // namespace

int main(int argc, char** argv) {
  const dcp_bench::Args args(argc, argv, "socket_floor");
  const std::int64_t round_trips = args.number("round_trips", 20000);
  const std::int64_t warmup = args.number("warmup", 1000);
  const std::int64_t samples = args.number("samples", 200);
  const std::string out = args.text("out", "-");
  if (round_trips < 1 || samples < 1) args.fail("round_trips and samples must be at least 1");
  try {
    std::string lines = ping_pong({8, 4096, 64 * 1024}, round_trips, warmup);
    lines += copies({8, 4096, 64 * 1024, 4 * 1024 * 1024}, samples);
    lines += shared_memory({4096, 64 * 1024, 4 * 1024 * 1024}, samples);
    dcp_bench::write_lines(out, lines);
    return 0;
  } catch (const std::exception& e) {
    fail(e.what());
  }
}
