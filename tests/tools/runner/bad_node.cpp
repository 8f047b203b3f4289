// runner_bad_node — a node that breaks the protocol on purpose, talking to `dcp run` through the
// raw ipc layer (no dcp::node), to check that the runner disconnects it with a clear Error and
// keeps every other node going.
//
//   runner_bad_node <mode>
//
// Modes (each expects the runner's Error message to contain a phrase, then the connection to close):
//   malformed     after the handshake, a frame with a wrong magic number      -> "magic"
//   oversized     after the handshake, a datagram over the frame size limit   -> "larger than the limit"
//   undeclared    SendOutput on an output the node does not declare           -> "not declared"
//   unsealed_fd   SendOutput with a shared-memory payload in an unsealed memfd -> "not sealed"
//   pipe_fd       SendOutput with a pipe as its shared-memory descriptor        -> "not a memfd"
//   empty_frame   after the handshake, a zero-length datagram                  -> "empty frame"
//   double_hello  a second Hello                                              -> "second Hello"
//   hang_up_first closes its own connection without a word, then ends normally (prints "bad: ok")
//   wrong_secret  Hello with a wrong secret on its own connection               -> "wrong secret"
//   via_socket    a forked child in another process group says Hello with the node's id and
//                 secret through runner.sock (refused: "no node connects through"), then the node
//                 connects over its own connection
//   victim        a slow node: blocks SIGUSR1 and SIGUSR2 (its "ready"), waits for SIGUSR1, then connects
//   impostor <id> the attack of a same-uid process: finds node <id> in /proc (its environment
//                 gives the runner's socket path and the node's secret), forks a child that joins
//                 that node's process group and says Hello as <id> through runner.sock before
//                 the node does; the runner must refuse it at once ("bad: ok impostor refused: ...").
//                 Then it wakes the victim (SIGUSR1) and connects as itself.
//   flood         after the handshake, 64 connections that never say Hello, then one more: that one
//                 gets "too many connections" and is closed; then the node goes on normally
//   silent        after the handshake, one connection that never says Hello: closed by the runner
//                 with "no Hello within" (run with a short --hello-timeout)
//   emfile <n>    after the handshake, <n> connections that never say Hello while the runner runs
//                 out of descriptors (run it under prlimit); prints the runner's CPU time over
//                 half a second of that as "bad: runner cpu ticks <t>"
// It prints "bad: ok <error text>" and exits 0 when the runner behaved as expected, else prints
// "bad: FAILED ..." and exits 2. It connects over the connection it inherited (DCP_NODE_FD) when it
// has one, else through DCP_RUNNER_SOCKET (so the same modes run against an older runner).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "ipc/protocol.hpp"
#include "ipc/socket.hpp"

namespace {

namespace ipc = dcp::ipc;

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

void say(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

[[noreturn]] void failed(const std::string& why) {
  say("bad: FAILED " + why);
  std::exit(2);
}

void send_hello(int socket, const std::string& id, const std::string& secret) {
  ipc::Hello hello;
  hello.node_id = id;
  hello.secret = secret;
  if (ipc::send_frame(socket, ipc::encode(hello)) != ipc::IoStatus::ok) failed("cannot send Hello");
}

// The node's connection: the one it inherited (DCP_NODE_FD), else a new one to DCP_RUNNER_SOCKET.
ipc::FileDescriptor own_connection() {
  if (!env("DCP_NODE_FD").empty()) return ipc::FileDescriptor(std::atoi(env("DCP_NODE_FD").c_str()));
  return ipc::connect_seqpacket(env("DCP_RUNNER_SOCKET"));
}

ipc::FileDescriptor connect_and_hello(const std::string& secret) {
  ipc::FileDescriptor socket = own_connection();
  send_hello(socket.get(), env("DCP_NODE_ID"), secret);
  return socket;
}

ipc::Message receive(int socket) {
  ipc::ReceivedFrame frame;
  const ipc::IoStatus status = ipc::receive_frame(socket, frame);
  if (status != ipc::IoStatus::ok) failed("the connection closed where a message was expected");
  return ipc::decode(frame.bytes);
}

// Expects an Error containing `phrase`, then the end of the connection.
void expect_error(int socket, const std::string& phrase) {
  const ipc::Message message = receive(socket);
  const auto* error = std::get_if<ipc::Error>(&message);
  if (error == nullptr) failed("expected an Error message");
  if (error->message.find(phrase) == std::string::npos) failed("the Error does not mention '" + phrase + "': " + error->message);
  ipc::ReceivedFrame frame;
  if (ipc::receive_frame(socket, frame) != ipc::IoStatus::closed) failed("the connection stayed open after the Error");
  say("bad: ok " + error->message);
}

ipc::FileDescriptor handshake() {
  ipc::FileDescriptor socket = connect_and_hello(env("DCP_NODE_SECRET"));
  const ipc::Message reply = receive(socket.get());
  if (!std::holds_alternative<ipc::HelloOk>(reply)) failed("expected HelloOk");
  return socket;
}

void send_shared(int socket, int fd, std::uint64_t size) {
  ipc::SendOutput send;
  send.output_id = "out";
  send.payload.location = ipc::PayloadLocation::shared_memory;
  send.payload.shared_size = size;
  if (ipc::send_frame(socket, ipc::encode(send), fd) != ipc::IoStatus::ok) failed("cannot send");
}

// The variables of process `pid`'s environment, "" when it cannot be read.
std::vector<std::string> environment_of(const std::string& pid) {
  std::FILE* file = std::fopen(("/proc/" + pid + "/environ").c_str(), "r");
  if (file == nullptr) return {};
  std::string all;
  char buffer[4096];
  for (std::size_t got; (got = std::fread(buffer, 1, sizeof(buffer), file)) > 0;) all.append(buffer, got);
  std::fclose(file);
  std::vector<std::string> variables;
  for (std::size_t at = 0; at < all.size();) {
    const std::size_t end = all.find('\0', at);
    variables.push_back(all.substr(at, end == std::string::npos ? std::string::npos : end - at));
    at = end == std::string::npos ? all.size() : end + 1;
  }
  return variables;
}

std::string variable(const std::vector<std::string>& environment, const std::string& name) {
  for (const std::string& entry : environment) {
    if (entry.starts_with(name + "=")) return entry.substr(name.size() + 1);
  }
  return "";
}

// Whether process `pid` blocks SIGUSR2 (its /proc status SigBlk mask): the victim's "ready". (It
// waits for SIGUSR1 in sigtimedwait, which unblocks SIGUSR1 while it waits, so that bit says nothing.)
bool victim_ready(const std::string& pid) {
  std::FILE* file = std::fopen(("/proc/" + pid + "/status").c_str(), "r");
  if (file == nullptr) return false;
  char line[256];
  bool blocked = false;
  while (std::fgets(line, sizeof(line), file) != nullptr) {
    unsigned long long mask = 0;
    if (std::sscanf(line, "SigBlk: %llx", &mask) == 1) blocked = (mask & (1ull << (SIGUSR2 - 1))) != 0;
  }
  std::fclose(file);
  return blocked;
}

struct Victim {
  pid_t pid = -1;
  std::vector<std::string> environment;
};

// The process whose environment says DCP_NODE_ID=<id> and that is ready (victim_ready), as any process of
// the same user can find it. Polls /proc (the victim's state, not a guess at timing) for up to 20 s.
Victim find_victim(const std::string& id) {
  for (int attempt = 0; attempt < 2000; ++attempt) {
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      const std::string name = entry.path().filename().string();
      if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
      if (std::atoi(name.c_str()) == ::getpid()) continue;
      std::vector<std::string> environment = environment_of(name);
      if (variable(environment, "DCP_NODE_ID") != id || !victim_ready(name)) continue;
      return Victim{static_cast<pid_t>(std::atoi(name.c_str())), std::move(environment)};
    }
    ::usleep(10 * 1000);
  }
  failed("no process with DCP_NODE_ID=" + id + " waiting for SIGUSR1 found in /proc");
}

// The impostor, in a child of this node: joins the victim's process group and says Hello as the
// victim through runner.sock with the victim's secret. Exits 0 when the runner refuses it.
[[noreturn]] void impersonate(const Victim& victim, const std::string& id) {
  if (::setpgid(0, victim.pid) != 0) failed(std::string("cannot join the victim's process group: ") + std::strerror(errno));
  ipc::FileDescriptor socket = ipc::connect_seqpacket(variable(victim.environment, "DCP_RUNNER_SOCKET"));
  send_hello(socket.get(), id, variable(victim.environment, "DCP_NODE_SECRET"));
  // A refusal comes at once. No answer means the runner took the impostor for the node and holds
  // its HelloOk at the start barrier (which waits for the victim: wake it, then read the answer).
  pollfd ready{socket.get(), POLLIN, 0};
  const bool answered = ::poll(&ready, 1, 5000) > 0;
  ::kill(victim.pid, SIGUSR1);
  const ipc::Message reply = receive(socket.get());
  if (const auto* error = std::get_if<ipc::Error>(&reply); error != nullptr && answered) {
    say("bad: ok impostor refused: " + error->message);
    std::_Exit(0);
  }
  if (std::holds_alternative<ipc::HelloOk>(reply)) failed("the runner accepted the impostor as node '" + id + "' (HelloOk)");
  failed(answered ? "unexpected answer to the impostor" : "the runner did not refuse the impostor's Hello");
}

// utime + stime of process `pid`, in clock ticks (/proc/<pid>/stat fields 14 and 15).
long cpu_ticks(pid_t pid) {
  std::FILE* file = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (file == nullptr) failed("cannot read the runner's /proc stat");
  char buffer[4096] = {};
  const std::size_t got = std::fread(buffer, 1, sizeof(buffer) - 1, file);
  std::fclose(file);
  const std::string stat(buffer, got);
  std::size_t at = stat.rfind(')');  // after the command name, which may hold spaces
  long utime = 0, stime = 0;
  // Fields after ')': 3 state, 4 ppid, ... 14 utime, 15 stime.
  if (at == std::string::npos ||
      std::sscanf(stat.c_str() + at + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &utime, &stime) != 2) {
    failed("cannot parse the runner's /proc stat");
  }
  return utime + stime;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) failed("no mode given");
  const std::string mode = argv[1];
  try {
    if (mode == "malformed") {
      auto socket = handshake();
      std::vector<std::uint8_t> frame = ipc::encode(ipc::NextEvent{});
      frame[0] ^= 0xff;  // wrong magic
      ipc::send_frame(socket.get(), frame);
      expect_error(socket.get(), "magic");
    } else if (mode == "oversized") {
      auto socket = handshake();
      std::vector<std::uint8_t> frame(ipc::kMaxFrameSize + 1000, 0);
      const std::vector<std::uint8_t> header = ipc::encode(ipc::NextEvent{});
      std::copy(header.begin(), header.end(), frame.begin());
      ipc::send_frame(socket.get(), frame);
      expect_error(socket.get(), "larger than the limit");
    } else if (mode == "undeclared") {
      auto socket = handshake();
      ipc::SendOutput send;
      send.output_id = "nope";
      send.payload.inline_data = {1, 2, 3};
      ipc::send_frame(socket.get(), ipc::encode(send));
      expect_error(socket.get(), "not declared");
    } else if (mode == "unsealed_fd") {
      auto socket = handshake();
      ipc::FileDescriptor memfd(::memfd_create("unsealed", MFD_CLOEXEC | MFD_ALLOW_SEALING));
      if (!memfd || ::ftruncate(memfd.get(), 8192) != 0) failed("memfd_create");
      send_shared(socket.get(), memfd.get(), 8192);
      expect_error(socket.get(), "not sealed");
    } else if (mode == "pipe_fd") {
      auto socket = handshake();
      int fds[2];
      if (::pipe2(fds, O_CLOEXEC) != 0) failed("pipe2");
      ipc::FileDescriptor read_end(fds[0]), write_end(fds[1]);
      send_shared(socket.get(), read_end.get(), 8192);
      expect_error(socket.get(), "not a memfd");
    } else if (mode == "empty_frame") {
      auto socket = handshake();
      if (::send(socket.get(), "", 0, 0) != 0) failed("cannot send an empty datagram");
      expect_error(socket.get(), "empty frame");
    } else if (mode == "double_hello") {
      auto socket = handshake();
      ipc::Hello hello;
      hello.node_id = env("DCP_NODE_ID");
      hello.secret = env("DCP_NODE_SECRET");
      ipc::send_frame(socket.get(), ipc::encode(hello));
      expect_error(socket.get(), "second Hello");
    } else if (mode == "hang_up_first") {
      { auto socket = own_connection(); }
      say("bad: ok hung up");
    } else if (mode == "wrong_secret") {
      auto socket = connect_and_hello("00000000000000000000000000000000");
      expect_error(socket.get(), "wrong secret");
    } else if (mode == "via_socket") {
      const pid_t child = ::fork();
      if (child < 0) failed("fork");
      if (child == 0) {
        ::setpgid(0, 0);  // leave the node's process group
        auto socket = ipc::connect_seqpacket(env("DCP_RUNNER_SOCKET"));
        send_hello(socket.get(), env("DCP_NODE_ID"), env("DCP_NODE_SECRET"));
        expect_error(socket.get(), "no node connects through");
        std::_Exit(0);
      }
      int status = 0;
      ::waitpid(child, &status, 0);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed("the forked impostor was not rejected as expected");
      auto socket = handshake();
      say("bad: connected after the rejection");
    } else if (mode == "victim") {
      sigset_t usr1;
      sigemptyset(&usr1);
      sigaddset(&usr1, SIGUSR1);
      sigset_t blocked = usr1;
      sigaddset(&blocked, SIGUSR2);  // the "ready" the impostor waits for (victim_ready)
      ::sigprocmask(SIG_BLOCK, &blocked, nullptr);
      const timespec limit{30, 0};
      if (::sigtimedwait(&usr1, nullptr, &limit) != SIGUSR1) failed("no SIGUSR1 from the impostor within 30 s");
      auto socket = handshake();
      say("bad: ok victim connected over its own connection");
    } else if (mode == "impostor") {
      if (argc < 3) failed("impostor needs the victim's node id");
      const std::string id = argv[2];
      const Victim victim = find_victim(id);
      const pid_t child = ::fork();
      if (child < 0) failed("fork");
      if (child == 0) impersonate(victim, id);
      int status = 0;
      ::waitpid(child, &status, 0);
      ::kill(victim.pid, SIGUSR1);  // should the child have failed before waking it
      auto socket = handshake();
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed("the impostor was not refused");
      say("bad: impostor connected as itself");
    } else if (mode == "flood") {
      auto socket = handshake();
      std::vector<ipc::FileDescriptor> silent;
      for (int i = 0; i < 64; ++i) silent.push_back(ipc::connect_seqpacket(env("DCP_RUNNER_SOCKET")));
      auto extra = ipc::connect_seqpacket(env("DCP_RUNNER_SOCKET"));
      expect_error(extra.get(), "too many connections");
      silent.clear();
      say("bad: still connected after the flood");
    } else if (mode == "silent") {
      auto socket = handshake();
      auto stranger = ipc::connect_seqpacket(env("DCP_RUNNER_SOCKET"));
      expect_error(stranger.get(), "no Hello within");
    } else if (mode == "emfile") {
      if (argc < 3) failed("emfile needs a connection count");
      auto socket = handshake();
      std::vector<ipc::FileDescriptor> silent;
      for (int i = 0; i < std::atoi(argv[2]); ++i) silent.push_back(ipc::connect_seqpacket(env("DCP_RUNNER_SOCKET")));
      const pid_t runner = ::getppid();
      const long before = cpu_ticks(runner);
      ::usleep(500 * 1000);  // a measurement window, not a synchronisation
      say("bad: runner cpu ticks " + std::to_string(cpu_ticks(runner) - before));
    } else {
      failed("unknown mode " + mode);
    }
  } catch (const std::exception& e) {
    failed(std::string("exception: ") + e.what());
  }
  return 0;
}
