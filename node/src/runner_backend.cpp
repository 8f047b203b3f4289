// The local runner client (see runner_backend.hpp and src/ipc/protocol.hpp for the conversation).
#include "runner_backend.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "dcp/core/error_report.hpp"
#include "ipc/protocol.hpp"
#include "ipc/shared_memory.hpp"
#include "ipc/socket.hpp"
#include "backend.hpp"

namespace dcp::detail {
namespace {

static_assert(kMaxPayloadSize == ipc::kMaxSharedPayload, "dcp::kMaxPayloadSize must match the runner's limit");

/// The connection, shared by the event source and the output sink (which may run on two threads).
/// It tells the runner the node's error count (ipc::ErrorCount): before any frame, when the count
/// grew since the last one sent, and one last time when the connection closes (the destructor).
class RunnerLink {
 public:
  explicit RunnerLink(ipc::FileDescriptor socket) noexcept : socket_(std::move(socket)) {}
  RunnerLink(const RunnerLink&) = delete;
  RunnerLink& operator=(const RunnerLink&) = delete;
  /// The last count, so errors reported up to the node's close reach the runner's summary.
  ~RunnerLink() { (void)send_error_count_if_grown(); }

  [[nodiscard]] int fd() const noexcept { return socket_.get(); }

  /// Records that the connection is unusable and shuts the socket down (the other half's poll wakes
  /// up and its sends fail). The first reason wins; returns it.
  std::string mark_lost(std::string reason) {
    std::lock_guard lock(mutex_);
    if (!lost_) {
      lost_ = std::move(reason);
      ::shutdown(socket_.get(), SHUT_RDWR);
    }
    return *lost_;
  }

  [[nodiscard]] std::optional<std::string> lost_reason() const {
    std::lock_guard lock(mutex_);
    return lost_;
  }

  /// Sends one frame (and `fd`, if >= 0). Returns the reason when the connection is (now) lost.
  std::optional<std::string> transmit(std::span<const std::uint8_t> frame, int fd = -1) {
    if (auto reason = lost_reason()) return reason;
    if (auto reason = send_error_count_if_grown()) return reason;
    try {
      switch (ipc::send_frame(socket_.get(), frame, fd)) {
        case ipc::IoStatus::ok: return std::nullopt;
        case ipc::IoStatus::closed: return mark_lost("the runner closed the connection");
        case ipc::IoStatus::would_block: return mark_lost("the runner socket unexpectedly reported would-block");
      }
    } catch (const std::exception& e) {
      return mark_lost(e.what());
    }
    return mark_lost("unknown send status");
  }

 private:
  /// Sends ErrorCount when dcp::reported_errors() grew since the last one sent. Serialised, so the
  /// counts leave in increasing order even when both threads send. Returns the reason when the
  /// connection is (now) lost.
  std::optional<std::string> send_error_count_if_grown() noexcept {
    if (reported_errors() == count_sent_.load(std::memory_order_relaxed)) return std::nullopt;  // the usual case
    try {
      std::lock_guard lock(count_mutex_);
      const std::uint64_t count = reported_errors();
      if (count == count_sent_.load(std::memory_order_relaxed)) return std::nullopt;
      if (auto reason = lost_reason()) return reason;
      const std::vector<std::uint8_t> frame = ipc::encode(ipc::ErrorCount{count});
      switch (ipc::send_frame(socket_.get(), frame)) {
        case ipc::IoStatus::ok: count_sent_.store(count, std::memory_order_relaxed); return std::nullopt;
        case ipc::IoStatus::closed: return mark_lost("the runner closed the connection");
        case ipc::IoStatus::would_block: return mark_lost("the runner socket unexpectedly reported would-block");
      }
      return mark_lost("unknown send status");
    } catch (const std::exception& e) {
      try {
        return mark_lost(e.what());
      } catch (...) {
        return std::nullopt;
      }
    }
  }

  ipc::FileDescriptor socket_;
  mutable std::mutex mutex_;
  std::optional<std::string> lost_;
  std::mutex count_mutex_;                  // one ErrorCount in flight at a time
  std::atomic<std::uint64_t> count_sent_{0};  // written under count_mutex_; relaxed: a hint, rechecked under it
};

enum class WaitResult { ready, timeout };

/// Waits until `socket` is readable (or hung up) or `deadline` passes. Throws std::system_error.
WaitResult wait_readable(int socket, SteadyTime deadline) {
  for (;;) {
    pollfd descriptor{socket, POLLIN, 0};
    timespec timeout{};
    timespec* timeout_pointer = nullptr;
    if (deadline != kNoDeadline) {
      const auto now = std::chrono::steady_clock::now();
      const auto remaining = deadline <= now ? std::chrono::nanoseconds(0)
                                             : std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - now);
      timeout.tv_sec = static_cast<time_t>(remaining.count() / 1'000'000'000);
      timeout.tv_nsec = static_cast<long>(remaining.count() % 1'000'000'000);
      timeout_pointer = &timeout;
    }
    const int ready = ::ppoll(&descriptor, 1, timeout_pointer, nullptr);
    if (ready > 0) return WaitResult::ready;
    if (ready == 0) return WaitResult::timeout;
    if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "dcp: poll on the runner socket");
  }
}

const char* message_name(const ipc::Message& message) {
  switch (ipc::type_of(message)) {
    case ipc::MessageType::hello: return "hello";
    case ipc::MessageType::hello_ok: return "hello_ok";
    case ipc::MessageType::next_event: return "next_event";
    case ipc::MessageType::event: return "event";
    case ipc::MessageType::send_output: return "send_output";
    case ipc::MessageType::close_outputs: return "close_outputs";
    case ipc::MessageType::error: return "error";
    case ipc::MessageType::error_count: return "error_count";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

class RunnerEventSource final : public EventSource {
 public:
  explicit RunnerEventSource(std::shared_ptr<RunnerLink> link)
      : link_(std::move(link)), next_event_frame_(ipc::encode(ipc::NextEvent{})) {}

  EventResult next(SteadyTime deadline) override {
    if (ended_) return EventResult(EventStatus::ended);
    if (!request_outstanding_) {
      if (auto reason = link_->transmit(next_event_frame_)) return lost(std::move(*reason));
      request_outstanding_ = true;
    }
    try {
      if (wait_readable(link_->fd(), deadline) == WaitResult::timeout) return EventResult(EventStatus::timeout);
      switch (ipc::receive_frame(link_->fd(), frame_)) {
        case ipc::IoStatus::ok: break;
        case ipc::IoStatus::would_block: return EventResult(EventStatus::timeout);  // not on a blocking socket
        case ipc::IoStatus::closed: return lost(link_->lost_reason().value_or("the runner closed the connection"));
      }
    } catch (const std::exception& e) {
      return lost(std::string("cannot receive from the runner: ") + e.what());
    }
    request_outstanding_ = false;

    ipc::Message message;
    try {
      message = ipc::decode(frame_.bytes);
    } catch (const ipc::ProtocolError& e) {
      return lost(std::string("protocol error: ") + e.what());
    }
    if (auto* error = std::get_if<ipc::Error>(&message)) return lost("the runner reported: " + error->message);
    auto* event = std::get_if<ipc::Event>(&message);
    if (event == nullptr) {
      return lost(std::string("protocol error: expected an event, the runner sent '") + message_name(message) + "'");
    }
    return convert(*event);
  }

 private:
  EventResult convert(ipc::Event& event) {
    const bool has_fd = static_cast<bool>(frame_.fd);
    const bool shared = event.payload.location == ipc::PayloadLocation::shared_memory;
    if (frame_.descriptor_lost && event.kind == ipc::EventKind::input && shared) {
      // This process had no descriptor free for the payload: the message is lost, the connection is not.
      return EventResult(ErrorEvent{"input '" + event.id + "': a message was dropped, its shared-memory payload "
                                    "could not be received: this process has no file descriptor free "
                                    "(RLIMIT_NOFILE; close descriptors or raise the limit)"});
    }
    if (has_fd != (event.kind == ipc::EventKind::input && shared)) {
      return lost(has_fd ? "protocol error: an event carries a file descriptor it does not announce"
                         : "protocol error: a shared-memory input arrived without its file descriptor");
    }
    switch (event.kind) {
      case ipc::EventKind::input: {
        Payload data;
        if (shared) {
          try {
            auto buffer = std::make_shared<ipc::SharedBuffer>(
                ipc::SharedBuffer::map(std::move(frame_.fd), event.payload.shared_size));
            const auto bytes = buffer->bytes();
            const int fd = buffer->fd();
            data = PayloadAccess::adopt(std::move(buffer), bytes, fd);
          } catch (const std::exception& e) {
            // This message is unusable, the connection is not: the node hears of it and goes on.
            return EventResult(ErrorEvent{"input '" + event.id + "': a message was dropped, its shared-memory payload "
                                          "cannot be mapped (" + e.what() + ")"});
          }
        } else {
          data = Payload::from_vector(std::move(event.payload.inline_data));
        }
        return EventResult(InputEvent{std::move(event.id), std::move(data), std::move(event.metadata)});
      }
      case ipc::EventKind::input_closed: return EventResult(InputClosedEvent{std::move(event.id)});
      case ipc::EventKind::input_recovered: return EventResult(InputRecoveredEvent{std::move(event.id)});
      case ipc::EventKind::node_restarted: return EventResult(NodeRestartedEvent{std::move(event.id)});
      case ipc::EventKind::node_failed:
        return EventResult(NodeFailedEvent{std::move(event.id), std::move(event.inputs), std::move(event.text)});
      case ipc::EventKind::all_inputs_closed: final_event_delivered_ = true; return EventResult(AllInputsClosedEvent{});
      case ipc::EventKind::stop: final_event_delivered_ = true; return EventResult(StopEvent{});
      case ipc::EventKind::error: return EventResult(ErrorEvent{std::move(event.id)});
      case ipc::EventKind::end_of_stream: ended_ = true; return EventResult(EventStatus::ended);
    }
    return lost("protocol error: unknown event kind " + std::to_string(static_cast<int>(event.kind)));
  }

  /// The connection is gone: one ErrorEvent (unless the stream was over anyway), then `ended`.
  EventResult lost(std::string reason) {
    const std::string effective = link_->mark_lost(std::move(reason));
    ended_ = true;
    request_outstanding_ = false;
    if (final_event_delivered_) return EventResult(EventStatus::ended);
    return EventResult(ErrorEvent{"connection to the dcp runner lost: " + effective});
  }

  std::shared_ptr<RunnerLink> link_;
  std::vector<std::uint8_t> next_event_frame_;
  ipc::ReceivedFrame frame_;
  bool request_outstanding_ = false;    // a NextEvent was sent and its answer not received yet
  bool final_event_delivered_ = false;  // Stop or AllInputsClosed was returned
  bool ended_ = false;
};

// ---------------------------------------------------------------------------------------------
// Outputs
// ---------------------------------------------------------------------------------------------

class RunnerOutputSink final : public OutputSink {
 public:
  RunnerOutputSink(std::shared_ptr<RunnerLink> link, std::string node_id)
      : link_(std::move(link)), node_id_(std::move(node_id)) {}

  void send(std::string_view output_id, std::span<const std::uint8_t> data, Metadata&& metadata) override {
    if (data.size() < ipc::kInlinePayloadLimit) {
      transmit_inline(output_id, std::vector<std::uint8_t>(data.begin(), data.end()), std::move(metadata));
      return;
    }
    const ipc::SharedBuffer buffer = shared(output_id, [&] { return ipc::SharedBuffer::copy_of(data); });
    transmit_shared(output_id, buffer.fd(), buffer.size(), std::move(metadata));
  }

  void send(std::string_view output_id, const Payload& payload, Metadata&& metadata) override {
    const int fd = PayloadAccess::shared_memory_fd(payload);
    if (fd >= 0 && payload.size() >= ipc::kInlinePayloadLimit) {
      transmit_shared(output_id, fd, payload.size(), std::move(metadata));  // the sealed memfd, passed on
    } else {
      send(output_id, payload.bytes(), std::move(metadata));
    }
  }

  void send_with(std::string_view output_id, std::size_t size, FillRef fill, Metadata&& metadata) override {
    if (size < ipc::kInlinePayloadLimit) {
      std::vector<std::uint8_t> bytes(size);
      fill(bytes);
      transmit_inline(output_id, std::move(bytes), std::move(metadata));
      return;
    }
    auto writable = shared(output_id, [&] { return ipc::WritableSharedBuffer::allocate(size); });
    fill(writable.data());
    const ipc::SharedBuffer buffer = shared(output_id, [&] { return std::move(writable).seal(); });
    transmit_shared(output_id, buffer.fd(), buffer.size(), std::move(metadata));
  }

  Payload make_payload(std::size_t size, FillRef fill) const override {
    if (size < ipc::kInlinePayloadLimit) return OutputSink::make_payload(size, fill);  // sent inline anyway
    std::optional<ipc::WritableSharedBuffer> writable;
    try {
      writable.emplace(ipc::WritableSharedBuffer::allocate(size));
    } catch (const std::system_error& e) {
      throw NodeError("node '" + node_id_ + "': cannot set up shared memory for a payload: " + e.what());
    }
    fill(writable->data());
    std::shared_ptr<ipc::SharedBuffer> buffer;
    try {
      buffer = std::make_shared<ipc::SharedBuffer>(std::move(*writable).seal());
    } catch (const std::system_error& e) {
      throw NodeError("node '" + node_id_ + "': cannot seal the shared memory of a payload: " + e.what());
    }
    const auto bytes = buffer->bytes();
    const int fd = buffer->fd();
    return PayloadAccess::adopt(std::move(buffer), bytes, fd);  // send() passes the sealed memfd on
  }

  void close_outputs(const std::vector<std::string>& output_ids) override {
    const auto frame = ipc::encode(ipc::CloseOutputs{output_ids});
    if (auto reason = link_->transmit(frame)) {
      throw NodeError("node '" + node_id_ + "' cannot close outputs: connection to the dcp runner lost: " + *reason);
    }
  }

 private:
  /// Runs a shared-memory operation, turning a system failure into a NodeError that says what failed.
  template <class Operation>
  std::invoke_result_t<Operation&> shared(std::string_view output_id, Operation&& operation) {
    try {
      return operation();
    } catch (const std::system_error& e) {
      throw NodeError("output '" + std::string(output_id) + "' of node '" + node_id_ +
                      "': cannot set up shared memory for the payload: " + e.what());
    }
  }

  void transmit_inline(std::string_view output_id, std::vector<std::uint8_t> bytes, Metadata&& metadata) {
    ipc::PayloadRef payload{ipc::PayloadLocation::inline_bytes, std::move(bytes), 0};
    transmit(output_id, std::move(metadata), std::move(payload), -1);
  }

  void transmit_shared(std::string_view output_id, int fd, std::size_t size, Metadata&& metadata) {
    ipc::PayloadRef payload{ipc::PayloadLocation::shared_memory, {}, size};
    transmit(output_id, std::move(metadata), std::move(payload), fd);
  }

  void transmit(std::string_view output_id, Metadata&& metadata, ipc::PayloadRef&& payload, int fd) {
    std::vector<std::uint8_t> frame;
    try {
      frame = ipc::encode(ipc::SendOutput{std::string(output_id), std::move(metadata), std::move(payload)});
    } catch (const ipc::ProtocolError& e) {
      throw std::invalid_argument("output '" + std::string(output_id) + "' of node '" + node_id_ +
                                  "': the message breaks a limit of the runner protocol: " + e.what());
    }
    if (auto reason = link_->transmit(frame, fd)) {
      throw NodeError("node '" + node_id_ + "' cannot send output '" + std::string(output_id) +
                      "': connection to the dcp runner lost: " + *reason);
    }
  }

  std::shared_ptr<RunnerLink> link_;
  std::string node_id_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Handshake
// ---------------------------------------------------------------------------------------------

namespace {

std::vector<std::uint8_t> encode_hello(const std::string& id, std::string_view secret, const std::string& where) {
  try {
    return ipc::encode(ipc::Hello{ipc::kProtocolVersion, id, std::string(secret)});
  } catch (const ipc::ProtocolError& e) {
    throw NodeError("dcp: " + where + ": invalid node id or secret: " + e.what());
  }
}

/// The handshake on a connected socket: Hello, then the answer. `where` names the node and its
/// connection in every error.
Node handshake(ipc::FileDescriptor socket, const std::string& id, const std::string& where,
               const std::vector<std::uint8_t>& hello, std::optional<std::chrono::milliseconds> handshake_timeout) {
  ipc::Message reply;
  try {
    if (ipc::send_frame(socket.get(), hello) != ipc::IoStatus::ok) {
      throw NodeError("dcp: " + where + ": the dcp runner closed the connection before the handshake");
    }
    // The runner holds HelloOk back until every node has connected (its start barrier), and answers
    // by its start deadline at the latest; waiting less than that would fail a healthy dataflow.
    const SteadyTime deadline = handshake_timeout ? std::chrono::steady_clock::now() + *handshake_timeout : kNoDeadline;
    if (wait_readable(socket.get(), deadline) == WaitResult::timeout) {
      throw NodeError("dcp: " + where + ": the dcp runner did not answer the handshake within " +
                      std::to_string(handshake_timeout->count()) +
                      " ms (its start deadline plus a margin); is it stopped or overloaded?");
    }
    ipc::ReceivedFrame frame;
    if (ipc::receive_frame(socket.get(), frame) != ipc::IoStatus::ok) {
      throw NodeError("dcp: " + where + ": the dcp runner closed the connection without answering the handshake");
    }
    if (frame.fd) throw ipc::ProtocolError("the handshake answer carries a file descriptor");
    reply = ipc::decode(frame.bytes);
  } catch (const NodeError&) {
    throw;
  } catch (const std::exception& e) {
    throw NodeError("dcp: " + where + ": handshake with the dcp runner failed: " + e.what());
  }

  if (auto* refused = std::get_if<ipc::Error>(&reply)) {
    throw NodeError("dcp: " + where + ": the dcp runner refused the node: " + refused->message);
  }
  auto* accepted = std::get_if<ipc::HelloOk>(&reply);
  if (accepted == nullptr) {
    throw NodeError("dcp: " + where + ": handshake with the dcp runner failed: expected hello_ok, got '" +
                    message_name(reply) + "'");
  }

  auto link = std::make_shared<RunnerLink>(std::move(socket));
  return Node{id, NodeAccess::make_events(std::move(accepted->inputs), std::make_unique<RunnerEventSource>(link)),
              NodeAccess::make_outputs(id, std::move(accepted->outputs), std::make_unique<RunnerOutputSink>(link, id))};
}

}  // namespace

Node connect_runner_backend(const std::filesystem::path& socket_path, std::string_view node_id,
                            std::string_view secret, std::optional<std::chrono::milliseconds> handshake_timeout) {
  const std::string id(node_id);
  const std::string where = "node '" + id + "', runner socket " + socket_path.string();
  const std::vector<std::uint8_t> hello = encode_hello(id, secret, where);
  ipc::FileDescriptor socket;
  try {
    socket = ipc::connect_seqpacket(socket_path);
  } catch (const std::exception& e) {
    throw NodeError("dcp: " + where + ": cannot connect to the dcp runner: " + e.what() +
                    " (is `dcp run` still running?)");
  }
  return handshake(std::move(socket), id, where, hello, handshake_timeout);
}

Node connect_inherited_runner_backend(int fd, std::string_view node_id, std::string_view secret,
                                      std::optional<std::chrono::milliseconds> handshake_timeout) {
  const std::string id(node_id);
  const std::string where = "node '" + id + "', connection to the runner inherited as descriptor " + std::to_string(fd) +
                            " (DCP_NODE_FD)";
  const std::vector<std::uint8_t> hello = encode_hello(id, secret, where);
  ipc::FileDescriptor socket;
  try {
    socket = ipc::adopt_seqpacket(fd);
  } catch (const std::exception& e) {
    throw NodeError("dcp: " + where + ": not usable: " + e.what() +
                    ". Only the process `dcp run` started (or a program it exec'd, or ran without closing that "
                    "descriptor) has it; a program the node started does not inherit it");
  }
  return handshake(std::move(socket), id, where, hello, handshake_timeout);
}

}  // namespace dcp::detail
