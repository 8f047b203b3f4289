// Tests of the local runner client (node/src/runner_backend.cpp) against a fake runner written here
// with the ipc layer: the handshake, events (inline and 1 MiB shared-memory payloads), timeouts with
// an outstanding request, outputs inline and through shared memory from another thread, and what the
// node sees when the runner hangs up. Also init_node()'s choice of backend from the environment.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <future>
#include <latch>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "dcp/node/node.hpp"
#include "dcp/core/thread.hpp"
#include "ipc/protocol.hpp"
#include "ipc/shared_memory.hpp"
#include "ipc/socket.hpp"
#include "support/hang_timeout.hpp"
#include "support/node_events.hpp"
#include "support/temp_dir.hpp"

namespace {

using namespace std::chrono_literals;
using dcp::EventStatus;
namespace ipc = dcp::ipc;
using dcp::test::event_as;
using dcp::test::message_of;
using dcp::test::node_error_of;
using dcp::test::TempDir;

constexpr std::size_t kMiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// The fake runner
// ---------------------------------------------------------------------------------------------

/// Fails the fake runner's script: the exception reaches the test through ScopedThread::join().
void require(bool condition, const std::string& what) {
  if (!condition) throw std::runtime_error("fake runner: " + what);
}

struct Received {
  ipc::Message message;
  ipc::FileDescriptor fd;
};

/// The next frame from the node, or nullopt when the node hung up.
std::optional<Received> receive(int socket) {
  ipc::ReceivedFrame frame;
  if (ipc::receive_frame(socket, frame) != ipc::IoStatus::ok) return std::nullopt;
  return Received{ipc::decode(frame.bytes), std::move(frame.fd)};
}

void send(int socket, const ipc::Message& message, int fd = -1) {
  require(ipc::send_frame(socket, ipc::encode(message), fd) == ipc::IoStatus::ok, "the node hung up");
}

/// Listens in a fresh temporary directory; run() serves one connection with a script on a thread.
class FakeRunner {
 public:
  FakeRunner() : listener_(ipc::listen_seqpacket(socket_path())) {}

  [[nodiscard]] std::filesystem::path socket_path() const { return dir_.path() / "runner.sock"; }

  /// Accepts one node and runs `script(connection socket)`; the connection closes when it returns.
  void run(std::function<void(int)> script) {
    thread_ = dcp::ScopedThread(
        [this, script = std::move(script)] {
          pollfd ready{listener_.get(), POLLIN, 0};
          require(::poll(&ready, 1, 30'000) == 1, "no node connected within 30 s");
          ipc::FileDescriptor connection(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
          require(static_cast<bool>(connection), "accept failed");
          script(connection.get());
        },
        "fake-runner");
  }

  /// Waits for the script to finish; rethrows its failure.
  void join() { thread_.join(); }

 private:
  TempDir dir_;
  ipc::FileDescriptor listener_;
  dcp::ScopedThread thread_;
};

/// Receives Hello, checks it, answers HelloOk.
void accept_hello(int socket, const std::string& node_id, const std::string& secret, ipc::HelloOk answer) {
  auto hello = receive(socket);
  require(hello.has_value(), "the node hung up before hello");
  const auto* message = std::get_if<ipc::Hello>(&hello->message);
  require(message != nullptr, "the first message is not hello");
  require(message->protocol_version == ipc::kProtocolVersion, "wrong protocol version");
  require(message->node_id == node_id, "wrong node id '" + message->node_id + "'");
  require(message->secret == secret, "wrong secret '" + message->secret + "'");
  send(socket, std::move(answer));
}

/// Waits until the node hangs up, counting the NextEvent requests it sends meanwhile.
int count_requests_until_hang_up(int socket) {
  int requests = 0;
  while (auto frame = receive(socket)) {
    if (std::holds_alternative<ipc::NextEvent>(frame->message)) ++requests;
  }
  return requests;
}

std::vector<std::uint8_t> pattern_bytes(std::size_t size, std::uint8_t seed) {
  std::vector<std::uint8_t> bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::uint8_t>(i * 31 + seed);
  return bytes;
}

std::uint64_t checksum(std::span<const std::uint8_t> bytes) {
  std::uint64_t hash = 1469598103934665603ull;  // FNV-1a
  for (const std::uint8_t b : bytes) hash = (hash ^ b) * 1099511628211ull;
  return hash;
}

ipc::Event input_event(std::string id, std::vector<std::uint8_t> bytes, dcp::Metadata metadata = {}) {
  return ipc::Event{ipc::EventKind::input, std::move(id), std::move(metadata),
                    ipc::PayloadRef{ipc::PayloadLocation::inline_bytes, std::move(bytes), 0}};
}

ipc::Event event_of(ipc::EventKind kind, std::string id = {}) { return ipc::Event{kind, std::move(id), {}, {}}; }

// ---------------------------------------------------------------------------------------------
// A whole conversation
// ---------------------------------------------------------------------------------------------

struct CapturedSend {
  std::string id;
  dcp::Metadata metadata;
  std::vector<std::uint8_t> bytes;
  bool shared_memory = false;
};

TEST(RunnerBackend, FullConversation_EventsOutputsThenHangUp) {
  dcp::Metadata tick_metadata;
  tick_metadata.timestamp_ns = 1'700'000'000'000'000'000;
  tick_metadata.parameters["seq"] = std::int64_t{42};
  tick_metadata.parameters["ok"] = true;
  tick_metadata.parameters["gains"] = std::vector<double>{0.5, 1.5};
  tick_metadata.set("captured", dcp::Timestamp{-1'000});
  const auto frame_bytes = pattern_bytes(kMiB, 3);
  constexpr std::size_t kOutputs = 5;

  // What the fake runner saw; written by its thread, read after join().
  int next_event_requests = 0;
  bool duplicate_request = false;
  std::vector<CapturedSend> sends;
  std::vector<std::vector<std::string>> closes;

  FakeRunner runner;
  runner.run([&](int socket) {
    accept_hello(socket, "camera", "s3cret", ipc::HelloOk{{"tick", "frame"}, {"image", "status"}});
    std::size_t served = 0;
    bool pending = false;
    const auto serve = [&] {
      switch (served++) {
        case 0: send(socket, input_event("tick", {'h', 'e', 'l', 'l', 'o'}, tick_metadata)); break;
        case 1: {
          const auto shared = ipc::SharedBuffer::copy_of(frame_bytes);
          send(socket,
               ipc::Event{ipc::EventKind::input,
                          "frame",
                          {},
                          ipc::PayloadRef{ipc::PayloadLocation::shared_memory, {}, frame_bytes.size()}},
               shared.fd());
          break;
        }
        case 2: send(socket, event_of(ipc::EventKind::error, "upstream hiccup")); break;
        case 3: send(socket, event_of(ipc::EventKind::input_closed, "tick")); break;
        case 4: send(socket, event_of(ipc::EventKind::input_recovered, "tick")); break;
        default: pending = true;  // hold the request: the hang-up answers it
      }
    };
    while (!(pending && sends.size() == kOutputs && closes.size() == 1)) {
      auto frame = receive(socket);
      require(frame.has_value(), "the node hung up early");
      if (std::holds_alternative<ipc::NextEvent>(frame->message)) {
        ++next_event_requests;
        if (pending) duplicate_request = true;
        serve();
      } else if (auto* output = std::get_if<ipc::SendOutput>(&frame->message)) {
        CapturedSend captured{output->output_id, output->metadata, {}, false};
        if (output->payload.location == ipc::PayloadLocation::shared_memory) {
          require(static_cast<bool>(frame->fd), "shared-memory output without a descriptor");
          const auto mapped = ipc::SharedBuffer::map(std::move(frame->fd), output->payload.shared_size);
          captured.bytes.assign(mapped.bytes().begin(), mapped.bytes().end());
          captured.shared_memory = true;
        } else {
          require(!frame->fd, "inline output with a descriptor");
          captured.bytes = output->payload.inline_data;
        }
        sends.push_back(std::move(captured));
      } else if (auto* close = std::get_if<ipc::CloseOutputs>(&frame->message)) {
        closes.push_back(close->outputs);
      } else {
        require(false, "unexpected message type");
      }
    }
    // Returning closes the connection: the runner hangs up with the node's last request pending.
  });

  dcp::Node node = dcp::connect_to_runner(runner.socket_path(), "camera", "s3cret");
  EXPECT_EQ(node.id, "camera");
  EXPECT_EQ(node.events.inputs(), (std::vector<std::string>{"tick", "frame"}));
  EXPECT_EQ(node.outputs.outputs(), (std::vector<std::string>{"image", "status"}));

  auto first = node.events.next();
  auto& tick = event_as<dcp::InputEvent>(first);
  EXPECT_EQ(tick.id, "tick");
  EXPECT_EQ(tick.data.as_string(), "hello");
  EXPECT_FALSE(tick.data.is_shared_memory());
  EXPECT_EQ(tick.metadata, tick_metadata);

  auto second = node.events.next();
  auto& frame = event_as<dcp::InputEvent>(second);
  EXPECT_EQ(frame.id, "frame");
  EXPECT_TRUE(frame.data.is_shared_memory());
  ASSERT_EQ(frame.data.size(), kMiB);
  EXPECT_EQ(checksum(frame.data.bytes()), checksum(frame_bytes));
  const dcp::Payload received_frame = frame.data;  // kept: forwarded below without a copy

  auto third = node.events.next();
  EXPECT_EQ(event_as<dcp::ErrorEvent>(third).message, "upstream hiccup");
  auto fourth = node.events.next();
  EXPECT_EQ(event_as<dcp::InputClosedEvent>(fourth).id, "tick");
  auto fifth = node.events.next();
  EXPECT_EQ(event_as<dcp::InputRecoveredEvent>(fifth).id, "tick");

  // The runner holds the next request until it has every output: nothing can arrive yet.
  EXPECT_EQ(node.events.next_for(20ms).status(), EventStatus::timeout);
  EXPECT_EQ(node.events.try_next().status(), EventStatus::empty);

  dcp::Metadata status_metadata;
  status_metadata.parameters["state"] = std::string("ready");
  status_metadata.parameters["ids"] = std::vector<std::int64_t>{1, 2, 3};
  status_metadata.set("captured", dcp::Timestamp{1'700'000'000'000'000'001});
  std::promise<dcp::OutputSender> sender_back;
  std::thread output_thread([out = std::move(node.outputs), &sender_back, &status_metadata, received_frame]() mutable {
    out.send("status", "ready", status_metadata);                                   // inline
    out.send("image", std::vector<std::uint8_t>(ipc::kInlinePayloadLimit - 1, 1));  // inline, the largest
    out.send("image", std::vector<std::uint8_t>(ipc::kInlinePayloadLimit, 2));      // shared memory, the smallest
    out.send_with("image", kMiB, [](std::span<std::uint8_t> bytes) {                // written in place
      const auto pattern = pattern_bytes(bytes.size(), 9);
      std::copy(pattern.begin(), pattern.end(), bytes.begin());
    });
    out.send("image", received_frame);  // the runner's memfd, passed on
    out.close_outputs({"status"});
    sender_back.set_value(std::move(out));
  });

  auto lost = node.events.next();  // answered by the hang-up once the runner has everything
  EXPECT_EQ(event_as<dcp::ErrorEvent>(lost).message.rfind("connection to the dcp runner lost: ", 0), 0u)
      << event_as<dcp::ErrorEvent>(lost).message;
  EXPECT_EQ(node.events.next().status(), EventStatus::ended);
  EXPECT_EQ(node.events.next_for(1ms).status(), EventStatus::ended);
  EXPECT_EQ(node.events.try_next().status(), EventStatus::ended);

  output_thread.join();
  dcp::OutputSender outputs = sender_back.get_future().get();
  const std::string error = message_of([&] { outputs.send("image", "after hang-up"); });
  EXPECT_NE(error.find("connection to the dcp runner lost"), std::string::npos) << error;
  EXPECT_THROW(outputs.close_outputs({"image"}), dcp::NodeError);

  runner.join();
  EXPECT_EQ(next_event_requests, 6);  // five answered, one answered by the hang-up
  EXPECT_FALSE(duplicate_request);    // no second request while one was outstanding
  ASSERT_EQ(sends.size(), kOutputs);
  EXPECT_EQ(sends[0].id, "status");
  EXPECT_EQ(std::string(sends[0].bytes.begin(), sends[0].bytes.end()), "ready");
  EXPECT_FALSE(sends[0].shared_memory);
  EXPECT_NE(sends[0].metadata.timestamp_ns, 0);  // filled in by the sender
  EXPECT_EQ(sends[0].metadata.parameters, status_metadata.parameters);
  EXPECT_FALSE(sends[1].shared_memory);
  EXPECT_EQ(sends[1].bytes, std::vector<std::uint8_t>(ipc::kInlinePayloadLimit - 1, 1));
  EXPECT_TRUE(sends[2].shared_memory);
  EXPECT_EQ(sends[2].bytes, std::vector<std::uint8_t>(ipc::kInlinePayloadLimit, 2));
  EXPECT_TRUE(sends[3].shared_memory);
  EXPECT_EQ(checksum(sends[3].bytes), checksum(pattern_bytes(kMiB, 9)));
  EXPECT_TRUE(sends[4].shared_memory);
  EXPECT_EQ(checksum(sends[4].bytes), checksum(frame_bytes));
  ASSERT_EQ(closes.size(), 1u);
  EXPECT_EQ(closes[0], (std::vector<std::string>{"status"}));
}

/// The inode of an open descriptor: two descriptors of one memfd share it.
ino_t inode_of(int fd) {
  struct stat info {};
  require(::fstat(fd, &info) == 0, "fstat failed");
  return info.st_ino;
}

TEST(RunnerBackend, MakePayload_FromAnotherThread_LargeIsTheMemfdThatIsSent_SmallIsSentInline) {
  std::vector<CapturedSend> sends;  // written by the runner's thread, read after join()
  std::vector<ino_t> inodes;
  FakeRunner runner;
  runner.run([&](int socket) {
    accept_hello(socket, "camera", "s3cret", ipc::HelloOk{{}, {"image"}});
    while (sends.size() < 2) {
      auto frame = receive(socket);
      require(frame.has_value(), "the node hung up early");
      auto* output = std::get_if<ipc::SendOutput>(&frame->message);
      if (output == nullptr) continue;
      CapturedSend captured{output->output_id, output->metadata, {}, false};
      if (output->payload.location == ipc::PayloadLocation::shared_memory) {
        require(static_cast<bool>(frame->fd), "shared-memory output without a descriptor");
        inodes.push_back(inode_of(frame->fd.get()));
        const auto mapped = ipc::SharedBuffer::map(std::move(frame->fd), output->payload.shared_size);
        captured.bytes.assign(mapped.bytes().begin(), mapped.bytes().end());
        captured.shared_memory = true;
      } else {
        captured.bytes = output->payload.inline_data;
      }
      sends.push_back(std::move(captured));
    }
  });

  dcp::Node node = dcp::connect_to_runner(runner.socket_path(), "camera", "s3cret");
  const auto fill_pattern = [](std::span<std::uint8_t> bytes) {
    const auto pattern = pattern_bytes(bytes.size(), 5);
    std::copy(pattern.begin(), pattern.end(), bytes.begin());
  };
  // Made on another thread than the one sending (what OutputHandler::send_with does).
  auto large = std::async(std::launch::async, [&] { return node.outputs.make_payload(kMiB, fill_pattern); }).get();
  auto small = std::async(std::launch::async, [&] {
    return node.outputs.make_payload(ipc::kInlinePayloadLimit - 1, fill_pattern);
  }).get();
  EXPECT_TRUE(large.is_shared_memory());
  EXPECT_FALSE(small.is_shared_memory());
  const ino_t made = inode_of(dcp::detail::PayloadAccess::shared_memory_fd(large));
  node.outputs.send("image", large);
  node.outputs.send("image", small);
  runner.join();

  ASSERT_EQ(sends.size(), 2u);
  EXPECT_TRUE(sends[0].shared_memory);
  EXPECT_EQ(checksum(sends[0].bytes), checksum(pattern_bytes(kMiB, 5)));
  ASSERT_EQ(inodes.size(), 1u);
  EXPECT_EQ(inodes[0], made);  // the very memfd fill wrote: no copy on the way
  EXPECT_FALSE(sends[1].shared_memory);
  EXPECT_EQ(sends[1].bytes, pattern_bytes(ipc::kInlinePayloadLimit - 1, 5));
  EXPECT_THROW((void)node.outputs.make_payload(dcp::kMaxPayloadSize + 1, fill_pattern), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// The end of the stream
// ---------------------------------------------------------------------------------------------

TEST(RunnerBackend, StopThenEndOfStream_EndedWithoutTalkingToTheRunnerAgain) {
  int requests_after_end = -1;
  std::vector<std::string> late_outputs;
  FakeRunner runner;
  runner.run([&](int socket) {
    accept_hello(socket, "n", "s", ipc::HelloOk{{"in"}, {"out"}});
    for (const auto kind : {ipc::EventKind::stop, ipc::EventKind::end_of_stream}) {
      auto request = receive(socket);
      require(request && std::holds_alternative<ipc::NextEvent>(request->message), "expected next_event");
      send(socket, event_of(kind));
    }
    requests_after_end = 0;
    while (auto frame = receive(socket)) {
      if (std::holds_alternative<ipc::NextEvent>(frame->message)) ++requests_after_end;
      if (auto* output = std::get_if<ipc::SendOutput>(&frame->message)) late_outputs.push_back(output->output_id);
    }
  });
  {
    dcp::Node node = dcp::connect_to_runner(runner.socket_path(), "n", "s");
    auto stop = node.events.next();
    ASSERT_TRUE(stop.ok());
    EXPECT_TRUE(std::holds_alternative<dcp::StopEvent>(*stop));
    EXPECT_EQ(node.events.next().status(), EventStatus::ended);
    EXPECT_EQ(node.events.next().status(), EventStatus::ended);
    EXPECT_EQ(node.events.try_next().status(), EventStatus::ended);
    EXPECT_EQ(node.events.next_for(1ms).status(), EventStatus::ended);
    node.outputs.send("out", "final words");  // outputs stay usable after the stream ended
  }                                           // the node hangs up
  runner.join();
  EXPECT_EQ(requests_after_end, 0);
  EXPECT_EQ(late_outputs, (std::vector<std::string>{"out"}));
}

TEST(RunnerBackend, SharedMemoryPayloadThatCannotBeMapped_ErrorEventNamingTheInput_TheNextMessageStillArrives) {
  FakeRunner runner;
  runner.run([&](int socket) {
    accept_hello(socket, "n", "s", ipc::HelloOk{{"cloud"}, {}});
    require(receive(socket).has_value(), "expected next_event");
    int unmappable[2];  // a pipe: no memfd, so mapping it fails (as a hugetlbfs memfd would)
    require(::pipe2(unmappable, O_CLOEXEC) == 0, "pipe2");
    send(socket, ipc::Event{ipc::EventKind::input, "cloud", {}, ipc::PayloadRef{ipc::PayloadLocation::shared_memory, {}, 8192}},
         unmappable[0]);
    ::close(unmappable[0]);
    ::close(unmappable[1]);
    require(receive(socket).has_value(), "expected a second next_event: the connection stays");
    send(socket, input_event("cloud", {'o', 'k'}));
    require(receive(socket).has_value(), "expected a third next_event");
    send(socket, event_of(ipc::EventKind::end_of_stream));
  });
  dcp::Node node = dcp::connect_to_runner(runner.socket_path(), "n", "s");
  auto first = node.events.next();
  const std::string message = event_as<dcp::ErrorEvent>(first).message;
  EXPECT_EQ(message.rfind("input 'cloud': a message was dropped, its shared-memory payload cannot be mapped (", 0), 0u)
      << message;
  auto second = node.events.next();
  EXPECT_EQ(event_as<dcp::InputEvent>(second).data.as_string(), "ok");
  EXPECT_EQ(node.events.next().status(), EventStatus::ended);
  runner.join();
}

TEST(RunnerBackend, SharedMemoryPayloadWithNoDescriptorFreeToReceiveIt_ErrorEventNamingTheInput_TheNextMessageStillArrives) {
  int payload[2];  // made before the limit is lowered; any descriptor will do, it is never mapped
  ASSERT_EQ(::pipe2(payload, O_CLOEXEC), 0);
  FakeRunner runner;
  runner.run([&](int socket) {
    accept_hello(socket, "n", "s", ipc::HelloOk{{"cloud"}, {}});
    require(receive(socket).has_value(), "expected next_event");
    send(socket, ipc::Event{ipc::EventKind::input, "cloud", {}, ipc::PayloadRef{ipc::PayloadLocation::shared_memory, {}, 8192}},
         payload[0]);
    require(receive(socket).has_value(), "expected a second next_event: the connection stays");
    send(socket, input_event("cloud", {'o', 'k'}));
    require(receive(socket).has_value(), "expected a third next_event");
    send(socket, event_of(ipc::EventKind::end_of_stream));
  });
  dcp::Node node = dcp::connect_to_runner(runner.socket_path(), "n", "s");
  rlimit original{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &original), 0);
  const int lowest_free = ::dup(0);
  ASSERT_GE(lowest_free, 0);
  ::close(lowest_free);
  rlimit full = original;
  full.rlim_cur = static_cast<rlim_t>(lowest_free);  // the node's table is full: the payload cannot arrive
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &full), 0);
  auto first = node.events.next();
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &original), 0);
  const std::string message = event_as<dcp::ErrorEvent>(first).message;
  EXPECT_EQ(message.rfind("input 'cloud': a message was dropped, its shared-memory payload could not be received: "
                          "this process has no file descriptor free", 0), 0u)
      << message;
  auto second = node.events.next();
  EXPECT_EQ(event_as<dcp::InputEvent>(second).data.as_string(), "ok");
  EXPECT_EQ(node.events.next().status(), EventStatus::ended);
  runner.join();
  ::close(payload[0]);
  ::close(payload[1]);
}

TEST(RunnerBackend, HangUpAfterStop_EndsWithoutAnErrorEvent) {
  FakeRunner runner;
  runner.run([&](int socket) {
    accept_hello(socket, "n", "s", ipc::HelloOk{{"in"}, {}});
    auto request = receive(socket);
    require(request.has_value(), "expected next_event");
    send(socket, event_of(ipc::EventKind::stop));
    request = receive(socket);  // the next request: hang up instead of answering
    require(request.has_value(), "expected a second next_event");
  });
  dcp::Node node = dcp::connect_to_runner(runner.socket_path(), "n", "s");
  auto stop = node.events.next();
  ASSERT_TRUE(stop.ok());
  EXPECT_TRUE(std::holds_alternative<dcp::StopEvent>(*stop));
  EXPECT_EQ(node.events.next().status(), EventStatus::ended);
  runner.join();
}

TEST(RunnerBackend, AllInputsClosedThenEndOfStream_Ended) {
  FakeRunner runner;
  runner.run([&](int socket) {
    accept_hello(socket, "n", "s", ipc::HelloOk{{"in"}, {}});
    for (const auto kind : {ipc::EventKind::all_inputs_closed, ipc::EventKind::end_of_stream}) {
      require(receive(socket).has_value(), "expected next_event");
      send(socket, event_of(kind));
    }
    (void)count_requests_until_hang_up(socket);
  });
  dcp::Node node = dcp::connect_to_runner(runner.socket_path(), "n", "s");
  auto closed = node.events.next();
  ASSERT_TRUE(closed.ok());
  EXPECT_TRUE(std::holds_alternative<dcp::AllInputsClosedEvent>(*closed));
  std::vector<dcp::Event> rest;
  for (dcp::Event& event : node.events) rest.push_back(std::move(event));
  EXPECT_TRUE(rest.empty());
  node = {};  // hang up
  runner.join();
}

TEST(RunnerBackend, AnswerAfterATimeout_IsDeliveredByTheNextCallWithoutASecondRequest) {
  std::latch release(1);
  int requests = 0;
  FakeRunner runner;
  runner.run([&](int socket) {
    accept_hello(socket, "n", "s", ipc::HelloOk{{"in"}, {}});
    require(receive(socket).has_value(), "expected next_event");
    release.wait();  // the node times out meanwhile
    send(socket, input_event("in", {'l', 'a', 't', 'e'}));
    requests = 1 + count_requests_until_hang_up(socket);
  });
  {
    dcp::Node node = dcp::connect_to_runner(runner.socket_path(), "n", "s");
    EXPECT_EQ(node.events.next_for(10ms).status(), EventStatus::timeout);
    EXPECT_EQ(node.events.try_next().status(), EventStatus::empty);
    EXPECT_EQ(node.events.next_until(std::chrono::system_clock::now() + 1ms).status(), EventStatus::timeout);
    release.count_down();
    auto late = node.events.next();
    EXPECT_EQ(event_as<dcp::InputEvent>(late).data.as_string(), "late");
  }
  runner.join();
  EXPECT_EQ(requests, 1);
}

TEST(RunnerBackend, RunnerReportsAnError_ErrorEventThenEndedAndSendsThrow) {
  FakeRunner runner;
  runner.run([&](int socket) {
    accept_hello(socket, "n", "s", ipc::HelloOk{{"in"}, {"out"}});
    require(receive(socket).has_value(), "expected next_event");
    send(socket, event_of(ipc::EventKind::error, "input 'in' dropped 3 messages"));  // the stream goes on
    require(receive(socket).has_value(), "expected next_event");
    send(socket, ipc::Error{"protocol violation: you did something wrong"});
  });
  dcp::Node node = dcp::connect_to_runner(runner.socket_path(), "n", "s");
  auto warning = node.events.next();
  EXPECT_EQ(event_as<dcp::ErrorEvent>(warning).message, "input 'in' dropped 3 messages");
  auto fatal = node.events.next();
  EXPECT_EQ(event_as<dcp::ErrorEvent>(fatal).message,
            "connection to the dcp runner lost: the runner reported: protocol violation: you did something wrong");
  EXPECT_EQ(node.events.next().status(), EventStatus::ended);
  EXPECT_THROW(node.outputs.send("out", "x"), dcp::NodeError);
  runner.join();
}

// ---------------------------------------------------------------------------------------------
// The handshake and init_node()
// ---------------------------------------------------------------------------------------------

TEST(RunnerBackend, RunnerRefusesTheNode_NodeErrorWithTheRunnersReason) {
  FakeRunner runner;
  runner.run([&](int socket) {
    require(receive(socket).has_value(), "expected hello");
    send(socket, ipc::Error{"unknown node 'ghost' or wrong secret"});
  });
  const std::string error = message_of([&] { (void)dcp::connect_to_runner(runner.socket_path(), "ghost", "nope"); });
  EXPECT_NE(error.find("the dcp runner refused the node: unknown node 'ghost' or wrong secret"), std::string::npos)
      << error;
  runner.join();
}

TEST(RunnerBackend, RunnerHangsUpDuringTheHandshake_NodeError) {
  FakeRunner runner;
  runner.run([&](int socket) { require(receive(socket).has_value(), "expected hello"); });
  EXPECT_THROW((void)dcp::connect_to_runner(runner.socket_path(), "n", "s"), dcp::NodeError);
  runner.join();
}

TEST(RunnerBackend, NoRunnerAtThePath_NodeErrorSaysItCannotConnect) {
  TempDir dir;
  const std::string error = message_of([&] { (void)dcp::connect_to_runner(dir.path() / "none.sock", "n", "s"); });
  EXPECT_NE(error.find("cannot connect to the dcp runner"), std::string::npos) << error;
}

TEST(RunnerBackend, HandshakeAnswerHeldBackByTheStartBarrier_NodeWaitsForItWithinTheStartDeadline) {
  FakeRunner runner;
  runner.run([&](int socket) {
    // The runner holds HelloOk back until every node has connected: longer than the start timeout
    // given to the node, but within it plus kHandshakeMargin (the runner answers by its deadline).
    std::this_thread::sleep_for(600ms);
    accept_hello(socket, "n", "s", ipc::HelloOk{{}, {}});
    (void)count_requests_until_hang_up(socket);
  });
  { dcp::Node node = dcp::connect_to_runner(runner.socket_path(), "n", "s", 100ms); }
  runner.join();
}

// Each InitNode test starts and ends without DCP_NODE_FD, DCP_RUNNER_SOCKET, DCP_NODE_ID, DCP_NODE_SECRET,
// DORA_NODE_CONFIG and DCP_START_TIMEOUT_MS.
class InitNode : public dcp::test::CleanNodeEnvironment {
 protected:
  void SetUp() override {
    CleanNodeEnvironment::SetUp();
    ::unsetenv("DCP_START_TIMEOUT_MS");
  }
  void TearDown() override {
    ::unsetenv("DCP_START_TIMEOUT_MS");
    CleanNodeEnvironment::TearDown();
  }
};

TEST_F(InitNode, RunnerNeverAnswersTheHandshake_NodeErrorAfterTheRunnersStartDeadlinePlusTheMargin) {
  FakeRunner runner;
  ::setenv("DCP_RUNNER_SOCKET", runner.socket_path().c_str(), 1);
  ::setenv("DCP_NODE_ID", "n", 1);
  ::setenv("DCP_NODE_SECRET", "s", 1);
  ::setenv("DCP_START_TIMEOUT_MS", "100", 1);  // what `dcp run --start-timeout 100ms` tells its nodes
  runner.run([&](int socket) {
    require(receive(socket).has_value(), "expected hello");
    require(!receive(socket).has_value(), "expected the node to hang up");  // no answer: the node gives up
  });
  const auto started = std::chrono::steady_clock::now();
  const std::string message = node_error_of([] { (void)dcp::init_node(); });
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_NE(message.find("did not answer the handshake within 2100 ms"), std::string::npos) << message;
  EXPECT_GE(waited, 100ms + dcp::kHandshakeMargin);
  EXPECT_LT(waited, dcp::test::kHangTimeout);  // not the old fixed 60 s
  runner.join();
}

TEST_F(InitNode, MalformedStartTimeout_NodeErrorNamesTheVariable) {
  ::setenv("DCP_RUNNER_SOCKET", "/nonexistent/runner.sock", 1);
  ::setenv("DCP_NODE_ID", "n", 1);
  ::setenv("DCP_NODE_SECRET", "s", 1);
  for (const char* bad : {"abc", "10s", "0", "-5", "99999999999999999999"}) {
    ::setenv("DCP_START_TIMEOUT_MS", bad, 1);
    const std::string message = node_error_of([] { (void)dcp::init_node(); });
    EXPECT_NE(message.find("DCP_START_TIMEOUT_MS is '" + std::string(bad) + "'"), std::string::npos) << message;
  }
}

TEST_F(InitNode, WithoutInheritedConnectionOrRunnerSocket_NodeErrorExplainsHowToRunTheNode) {
  const std::string message = node_error_of([] { (void)dcp::init_node(); });
  EXPECT_NE(message.find("neither DCP_NODE_FD nor DCP_RUNNER_SOCKET is set"), std::string::npos) << message;
  EXPECT_NE(message.find("dcp run dataflow.yml"), std::string::npos) << message;
}

TEST_F(InitNode, RunnerSocketWithoutNodeId_NodeError) {
  ::setenv("DCP_RUNNER_SOCKET", "/nonexistent/runner.sock", 1);
  EXPECT_THROW((void)dcp::init_node(), dcp::NodeError);
}

TEST_F(InitNode, FromTheEnvironment_ConnectsToTheRunner) {
  FakeRunner runner;
  // The environment is set before the runner thread starts and cleared after it is joined.
  ::setenv("DCP_RUNNER_SOCKET", runner.socket_path().c_str(), 1);
  ::setenv("DCP_NODE_ID", "from-env", 1);
  ::setenv("DCP_NODE_SECRET", "abc123", 1);
  runner.run([&](int socket) {
    accept_hello(socket, "from-env", "abc123", ipc::HelloOk{{"a"}, {"b"}});
    (void)count_requests_until_hang_up(socket);
  });
  {
    dcp::Node node = dcp::init_node();
    EXPECT_EQ(node.id, "from-env");
    EXPECT_EQ(node.events.inputs(), std::vector<std::string>{"a"});
    EXPECT_EQ(node.outputs.outputs(), std::vector<std::string>{"b"});
  }
  runner.join();
}

// The runner's end of a socket pair whose other end the "node" (this process) inherited, as
// `dcp run` makes it: the node's end is left inheritable, as a child's copy after dup2 is.
struct InheritedPair {
  InheritedPair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds) != 0) throw std::system_error(errno, std::generic_category(), "socketpair");
    runner.reset(fds[0]);
    ::fcntl(runner.get(), F_SETFD, FD_CLOEXEC);
    node = fds[1];
  }
  ipc::FileDescriptor runner;
  int node = -1;  // owned by the node library once init_node() took it
};

TEST_F(InitNode, InheritedConnection_ConnectsOverIt_AndMakesItCloseOnExec) {
  InheritedPair pair;
  ASSERT_EQ(::fcntl(pair.node, F_GETFD) & FD_CLOEXEC, 0);
  ::setenv("DCP_NODE_FD", std::to_string(pair.node).c_str(), 1);
  ::setenv("DCP_RUNNER_SOCKET", "/nonexistent/runner.sock", 1);  // not used: the inherited connection wins
  ::setenv("DCP_NODE_ID", "inherits", 1);
  ::setenv("DCP_NODE_SECRET", "abc123", 1);
  dcp::ScopedThread runner(
      [&] {
        accept_hello(pair.runner.get(), "inherits", "abc123", ipc::HelloOk{{"a"}, {"b"}});
        (void)count_requests_until_hang_up(pair.runner.get());
      },
      "fake-runner");
  {
    dcp::Node node = dcp::init_node();
    EXPECT_EQ(node.id, "inherits");
    EXPECT_EQ(node.events.inputs(), std::vector<std::string>{"a"});
    const int flags = ::fcntl(pair.node, F_GETFD);
    ASSERT_GE(flags, 0) << "the connection stays at its number";
    EXPECT_NE(flags & FD_CLOEXEC, 0) << "programs the node starts must not inherit its connection";
  }
  runner.join();
}

TEST_F(InitNode, InheritedConnectionOnStdin_IsMovedAbove2_AndDevNullTakesItsPlace) {
  InheritedPair pair;
  ipc::FileDescriptor saved_stdin(::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3));
  ASSERT_TRUE(saved_stdin);
  ASSERT_EQ(::dup2(pair.node, STDIN_FILENO), STDIN_FILENO);
  ::close(pair.node);
  ::setenv("DCP_NODE_FD", "0", 1);
  ::setenv("DCP_NODE_ID", "n", 1);
  ::setenv("DCP_NODE_SECRET", "s", 1);
  dcp::ScopedThread runner(
      [&] {
        accept_hello(pair.runner.get(), "n", "s", ipc::HelloOk{{}, {}});
        (void)count_requests_until_hang_up(pair.runner.get());
      },
      "fake-runner");
  struct stat in{};
  {
    dcp::Node node = dcp::init_node();
    EXPECT_EQ(::fstat(STDIN_FILENO, &in), 0);
  }
  runner.join();
  ::dup2(saved_stdin.get(), STDIN_FILENO);
  EXPECT_TRUE(S_ISCHR(in.st_mode)) << "descriptor 0 is /dev/null now, not the socket";
}

TEST_F(InitNode, InheritedDescriptorNotOpenOrNotASocket_NodeErrorNamesDcpNodeFd) {
  ::setenv("DCP_NODE_ID", "n", 1);
  ::setenv("DCP_NODE_SECRET", "s", 1);
  ::setenv("DCP_NODE_FD", "987", 1);  // not open: e.g. a program the node started, which does not inherit it
  std::string message = node_error_of([] { (void)dcp::init_node(); });
  EXPECT_NE(message.find("DCP_NODE_FD"), std::string::npos) << message;
  EXPECT_NE(message.find("descriptor 987 is not open"), std::string::npos) << message;

  ipc::FileDescriptor file(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  ::setenv("DCP_NODE_FD", std::to_string(file.get()).c_str(), 1);
  message = node_error_of([] { (void)dcp::init_node(); });
  EXPECT_NE(message.find("is not a socket"), std::string::npos) << message;
  EXPECT_GE(::fcntl(file.get(), F_GETFD), 0) << "a descriptor that is not its connection is left alone";

  ::setenv("DCP_NODE_FD", "three", 1);
  message = node_error_of([] { (void)dcp::init_node(); });
  EXPECT_NE(message.find("DCP_NODE_FD is 'three', not a descriptor number"), std::string::npos) << message;
}

}  // namespace
