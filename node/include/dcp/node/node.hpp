// dcp/node/node.hpp — the node API: one event stream in, one output sender out, as in Dora.
//
// What it is for: a Dora node is a process that pulls events (inputs, input-closed, stop, errors)
// from one stream and sends outputs. dcp mirrors Dora's C++ node API with two separately owned
// objects, so the event loop and the thread that sends outputs can be different threads:
//
//   dcp::Node node = dcp::init_node();                  // throws dcp::NodeError outside a runner
//   std::jthread output_thread([out = std::move(node.outputs)]() mutable {
//     out.send("status", "ready");                      // the output thread owns the sender
//   });
//   for (dcp::Event& event : node.events) {             // ends once the stream is over
//     if (auto* input = std::get_if<dcp::InputEvent>(&event)) handle(input->id, input->data);
//     else if (std::holds_alternative<dcp::StopEvent>(event)) stop_producing();  // inputs may follow
//   }
//
// Backends. init_node() picks one from the environment: DCP_NODE_FD set means the node was started
// by `dcp run` (the local runner) and inherited its connection as that descriptor (DCP_NODE_ID and
// DCP_NODE_SECRET come with it); DCP_RUNNER_SOCKET alone means a runner socket to connect to;
// DORA_NODE_CONFIG set means Dora started it, and dcp runs on Dora's C++ node API when it was built
// with -DDCP_DORA_DIR (docs/dora.md). Unit tests use dcp::testing::NodeHarness
// (<dcp/node/node_harness.hpp>): scripted events in, captured outputs out, no processes.
//
// Events and the end of the stream. next() returns an EventResult: an Event, or a status saying why
// there is none: `timeout` (next_for / next_until), `empty` (try_next: nothing ready right now) or
// `ended`. ErrorEvent reports a problem the runner wants the node to know about, or a message the
// backend could not hand over (a shared-memory payload it cannot map: "input 'x': a message was
// dropped, ..."); the stream goes on.
//
// The Stop rule (the same under every backend, as Dora's node API delivers it):
//   1. StopEvent comes first, ahead of inputs still queued for the node, so node code can stop
//      producing at once. Its `cause` says why: StopCause::requested (Ctrl-C, `--stop-after`,
//      `dora stop`), StopCause::all_inputs_closed (every input the node reads has closed), or
//      StopCause::unknown where the backend cannot tell (Dora's C++ API does not say).
//   2. Then the InputEvents that were queued before Stop, in their usual order; nothing else (no
//      InputClosed, AllInputsClosed or second Stop) and nothing sent after Stop.
//   3. Then the stream ends: next() returns `ended`.
// So `break` on Stop is allowed (the queued inputs are then dropped with the stream), but a node
// whose queued inputs matter keeps reading until `ended`. AllInputsClosedEvent is the final event
// where the backend knows every input closed without a Stop (`dcp run`, the harness; under Dora
// when the stream closes without a Stop): the stream ends after it. The stream also ends when the
// connection to the runner is lost — then one ErrorEvent ("connection to the dcp runner lost: ...")
// comes first, unless Stop or AllInputsClosed was already delivered. Once ended, every call returns
// `ended` at once.
//
// Input timeouts (Dora's `input_timeout`, per input in the dataflow). Once an input has had a
// message, silence longer than its timeout closes it: InputClosedEvent for it, while the input stays
// subscribed. When data comes again, InputRecoveredEvent for it comes first, then the data. While an
// input is closed this way the node does not get AllInputsClosed (it may recover); if its source
// ends meanwhile, no second InputClosed is sent.
//
// Restarts (Dora's `restart_policy`). When an upstream node ends and is restarted, the node gets
// NodeRestartedEvent naming it and its inputs stay open (a new incarnation will send on them). When
// an upstream node fails for good (non-zero exit, signal, kill; or its restart budget is spent), the
// node gets NodeFailedEvent naming it, the inputs it fed and how it failed, then InputClosed for
// each of those inputs. Both are control events: they come before queued input messages.
//
// Thread safety.
//   - EventStream: move-only, used by one thread at a time (the event loop).
//   - OutputSender: move-only; may be moved to another thread and used there, one thread at a time,
//     while the event loop runs on its own thread — except make_payload(), which any thread may call
//     at the same time as the thread using the sender (dcp::OutputHandler::send_with relies on it).
//   - Node, EventResult, the event structs: plain values.
// What blocks: next() until an event comes or the stream ends; next_for / next_until at most until
// the deadline; try_next never waits for the runner. send() may block while the runner's socket
// buffer is full (backpressure); it never waits for an answer.
//
// Errors. OutputSender throws NodeError for an undeclared output id (the message names it and lists
// the declared outputs), an output already closed, or a lost connection to the runner; and
// std::invalid_argument for metadata or a payload beyond the limits (dcp::kMaxParameters,
// dcp::kMaxParameterKeyLength, dcp::kMaxPayloadSize). A negative timeout throws std::invalid_argument.
// Any operation on a moved-from EventStream or OutputSender throws std::logic_error.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "dcp/core/detail/deadline.hpp"
#include "dcp/node/metadata.hpp"
#include "dcp/node/payload.hpp"

namespace dcp {

// ---------------------------------------------------------------------------------------------
// Events.
// ---------------------------------------------------------------------------------------------

/// A message arrived on one of the node's inputs.
struct InputEvent {
  std::string id;     ///< the input id, as declared under `inputs:` in the dataflow
  Payload data;       ///< the bytes (zero copy for large messages from the local runner)
  Metadata metadata;  ///< the sender's timestamp and parameters
};

/// The input will receive nothing more (its source closed the output or exited).
struct InputClosedEvent {
  std::string id;  ///< may be empty under Dora, whose C++ API does not say which input closed (docs/dora.md)
};

/// An input that was reported closed because it was silent for its `input_timeout` has data again:
/// its next InputEvent follows. Only timed-out inputs recover; an input whose source closed it or
/// exited never does. (Dora's C++ node API shows this event as one it does not know and dcp skips it
/// there: node code that must run under both treats an InputEvent on an input it saw close as the
/// recovery; docs/dora.md.)
struct InputRecoveredEvent {
  std::string id;  ///< the input id, as declared under `inputs:` in the dataflow
};

/// An upstream node ended and is being restarted (its `restart_policy`): the inputs it feeds stay
/// open and its new incarnation sends on them. State derived from its earlier messages (a pending
/// request, a half-built aggregate) may be stale. (Dora's C++ node API shows this event as one it
/// does not know, and dcp skips it there: docs/dora.md.)
struct NodeRestartedEvent {
  std::string node_id;  ///< the upstream node's id
};

/// An upstream node failed and will not come back: InputClosedEvent for each of `inputs` follows.
/// (Under Dora's C++ node API, which does not deliver it, only the InputClosed events come.)
struct NodeFailedEvent {
  std::string node_id;              ///< the upstream node's id
  std::vector<std::string> inputs;  ///< this node's inputs that read it
  std::string error;                ///< how it failed, e.g. "exit code 3", "signal SIGSEGV"
};

/// Every input of the node is closed: the stream ends after this event.
struct AllInputsClosedEvent {};

/// Why a StopEvent was delivered.
enum class StopCause {
  requested,          ///< the dataflow is stopping: Ctrl-C or `--stop-after` on `dcp run`, `dora stop`
  all_inputs_closed,  ///< every input the node reads has closed
  unknown,            ///< the backend cannot tell (Dora's C++ node API gives no cause)
};

constexpr const char* to_string(StopCause cause) noexcept {
  switch (cause) {
    case StopCause::requested: return "requested";
    case StopCause::all_inputs_closed: return "all_inputs_closed";
    case StopCause::unknown: return "unknown";
  }
  return "unknown";
}

/// The node should stop producing. The inputs queued before it still follow, then the stream ends
/// (the Stop rule in the header comment).
struct StopEvent {
  StopCause cause = StopCause::requested;
};

/// Something went wrong outside the node (the runner reports it, or the connection was lost).
struct ErrorEvent {
  std::string message;
};

using Event = std::variant<InputEvent, InputClosedEvent, InputRecoveredEvent, NodeRestartedEvent, NodeFailedEvent,
                           AllInputsClosedEvent, StopEvent, ErrorEvent>;

enum class EventStatus {
  event,    ///< an event was received
  timeout,  ///< next_for / next_until: the deadline passed first
  empty,    ///< try_next: nothing was ready
  ended,    ///< the stream is over: no event will ever come again
};

constexpr const char* to_string(EventStatus status) noexcept {
  switch (status) {
    case EventStatus::event: return "event";
    case EventStatus::timeout: return "timeout";
    case EventStatus::empty: return "empty";
    case EventStatus::ended: return "ended";
  }
  return "unknown";
}

/// The outcome of one receive: an Event, or the status that says why there is none.
class EventResult {
 public:
  /// An event (status() == EventStatus::event).
  EventResult(Event event) : status_(EventStatus::event), event_(std::move(event)) {}  // NOLINT: implicit
  /// No event: `status` must not be EventStatus::event (std::logic_error otherwise).
  explicit EventResult(EventStatus status) : status_(status) {
    if (status == EventStatus::event) throw std::logic_error("dcp::EventResult: status 'event' needs an event");
  }

  [[nodiscard]] EventStatus status() const noexcept { return status_; }
  [[nodiscard]] bool ok() const noexcept { return status_ == EventStatus::event; }
  explicit operator bool() const noexcept { return ok(); }
  [[nodiscard]] bool is_timeout() const noexcept { return status_ == EventStatus::timeout; }
  [[nodiscard]] bool is_empty() const noexcept { return status_ == EventStatus::empty; }
  [[nodiscard]] bool is_ended() const noexcept { return status_ == EventStatus::ended; }

  /// The event; throws std::logic_error naming the status when there is none.
  Event& event() {
    check();
    return *event_;
  }
  const Event& event() const {
    check();
    return *event_;
  }
  Event* operator->() { return &event(); }
  const Event* operator->() const { return &event(); }
  Event& operator*() { return event(); }
  const Event& operator*() const { return event(); }

 private:
  void check() const {
    if (!event_) {
      throw std::logic_error(std::string("dcp::EventResult::event: no event (status: ") + to_string(status_) + ")");
    }
  }
  EventStatus status_;
  std::optional<Event> event_;
};

/// A failure of the node layer: misuse of an output, no runner to talk to, a lost connection.
struct NodeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {
class EventSource;
class OutputSink;
struct NodeAccess;

/// A non-owning reference to the fill callback of OutputSender::send_with.
struct FillRef {
  void (*call)(void* context, std::span<std::uint8_t> bytes);
  void* context;
  void operator()(std::span<std::uint8_t> bytes) const { call(context, bytes); }

  /// A reference to `fill` (callable as fill(std::span<std::uint8_t>)), valid while `fill` lives.
  template <class Fill>
  static FillRef to(Fill& fill) noexcept {
    return FillRef{[](void* c, std::span<std::uint8_t> bytes) { (*static_cast<Fill*>(c))(bytes); },
                   const_cast<void*>(static_cast<const void*>(std::addressof(fill)))};
  }
};
}  // namespace detail

// ---------------------------------------------------------------------------------------------
// EventStream: the receiving half.
// ---------------------------------------------------------------------------------------------

class EventStream {
 public:
  /// An empty stream (every operation throws std::logic_error); Node objects come from init_node().
  EventStream() noexcept;
  EventStream(EventStream&& other) noexcept;
  EventStream& operator=(EventStream&& other) noexcept;
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;
  ~EventStream();

  /// Blocks until the next event, or reports `ended`.
  EventResult next();

  /// Waits at most `timeout`: an event, `timeout`, or `ended`.
  template <class Rep, class Period>
  EventResult next_for(std::chrono::duration<Rep, Period> timeout) {
    return receive(detail::deadline_after(timeout, "dcp::EventStream::next_for"), "next_for");
  }

  /// Waits at most until `deadline`: an event, `timeout`, or `ended`.
  template <class Clock, class Duration>
  EventResult next_until(std::chrono::time_point<Clock, Duration> deadline) {
    return receive(detail::to_steady(deadline), "next_until");
  }

  /// Never waits: an event that is ready, `empty`, or `ended`. (With the local runner an event is
  /// asked for at the first call and is ready for a later one once the runner has answered.)
  EventResult try_next();

  /// The node's input ids, as declared in the dataflow.
  [[nodiscard]] const std::vector<std::string>& inputs() const;
  /// False for a default-constructed or moved-from stream.
  [[nodiscard]] bool valid() const noexcept { return source_ != nullptr; }

  /// Input iterator for range-for: each step is a blocking next(); the loop ends at `ended`.
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Event;
    using difference_type = std::ptrdiff_t;
    using reference = Event&;
    using pointer = Event*;

    Iterator() = default;
    explicit Iterator(EventStream* stream) : stream_(stream) { advance(); }
    Event& operator*() const noexcept { return *current_; }
    Event* operator->() const noexcept { return &*current_; }
    Iterator& operator++() {
      advance();
      return *this;
    }
    void operator++(int) { advance(); }
    friend bool operator==(const Iterator& it, std::default_sentinel_t) noexcept { return it.stream_ == nullptr; }

   private:
    void advance() {
      EventResult result = stream_->next();
      if (result.ok()) {
        current_ = std::move(result.event());
      } else {
        current_.reset();
        stream_ = nullptr;
      }
    }
    EventStream* stream_ = nullptr;
    mutable std::optional<Event> current_;
  };

  Iterator begin() { return Iterator(this); }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  friend struct detail::NodeAccess;
  EventStream(std::vector<std::string> inputs, std::unique_ptr<detail::EventSource> source) noexcept;
  EventResult receive(detail::SteadyTime deadline, const char* operation);
  detail::EventSource& source(const char* operation) const;

  std::vector<std::string> inputs_;
  std::unique_ptr<detail::EventSource> source_;
};

// ---------------------------------------------------------------------------------------------
// OutputSender: the sending half.
// ---------------------------------------------------------------------------------------------

class OutputSender {
 public:
  /// An empty sender (every operation throws std::logic_error); Node objects come from init_node().
  OutputSender() noexcept;
  OutputSender(OutputSender&& other) noexcept;
  OutputSender& operator=(OutputSender&& other) noexcept;
  OutputSender(const OutputSender&) = delete;
  OutputSender& operator=(const OutputSender&) = delete;
  ~OutputSender();

  /// Sends `data` on `output_id`. A zero metadata.timestamp_ns is set to now (system clock, ns since
  /// the UNIX epoch). Large payloads (>= 4 KiB with the local runner) go through shared memory.
  void send(std::string_view output_id, std::span<const std::uint8_t> data, Metadata metadata = {});
  /// Sends the characters of `text` (no terminating NUL).
  void send(std::string_view output_id, std::string_view text, Metadata metadata = {});
  /// Sends a payload, e.g. forwards an input; a shared-memory payload is passed on without a copy.
  void send(std::string_view output_id, const Payload& payload, Metadata metadata = {});

  /// Zero copy for large payloads: `fill` (callable as void(std::span<std::uint8_t>)) writes the
  /// `size` bytes straight into the buffer that is sent — shared memory when size >= 4 KiB with the
  /// local runner. If `fill` throws, nothing is sent and the exception propagates.
  template <class Fill>
  void send_with(std::string_view output_id, std::size_t size, Fill&& fill, Metadata metadata = {}) {
    static_assert(std::is_invocable_v<Fill&, std::span<std::uint8_t>>,
                  "dcp::OutputSender::send_with: fill must be callable as fill(std::span<std::uint8_t>)");
    send_with_impl(output_id, size, detail::FillRef::to(fill), std::move(metadata));
  }

  /// A payload of `size` bytes written by `fill` (callable as void(std::span<std::uint8_t>)) straight
  /// into the kind of buffer this sender's backend sends without copying — a sealed shared-memory
  /// buffer when size >= 4 KiB with the local runner, an owned buffer otherwise. send(id, payload)
  /// then passes it on as it is. For a thread that fills outputs another thread sends
  /// (dcp::OutputHandler::send_with): unlike the rest of the sender, make_payload may be called from
  /// any thread, concurrently with the thread using the sender (not with moving or destroying it).
  /// Throws std::invalid_argument for a size above dcp::kMaxPayloadSize, NodeError when the buffer
  /// cannot be created, and what fill throws.
  template <class Fill>
  [[nodiscard]] Payload make_payload(std::size_t size, Fill&& fill) const {
    static_assert(std::is_invocable_v<Fill&, std::span<std::uint8_t>>,
                  "dcp::OutputSender::make_payload: fill must be callable as fill(std::span<std::uint8_t>)");
    return make_payload_impl(size, detail::FillRef::to(fill));
  }
  /// Closes outputs early: their subscribers get InputClosed. Closing a closed output again does
  /// nothing; an undeclared id throws NodeError and closes nothing.
  void close_outputs(std::span<const std::string> output_ids);
  void close_outputs(std::initializer_list<std::string_view> output_ids);

  /// The node's output ids, as declared in the dataflow.
  [[nodiscard]] const std::vector<std::string>& outputs() const;
  /// The id of the node this sender belongs to.
  [[nodiscard]] const std::string& node_id() const;
  /// True when `output_id` was closed by close_outputs.
  [[nodiscard]] bool is_closed(std::string_view output_id) const;
  /// False for a default-constructed or moved-from sender.
  [[nodiscard]] bool valid() const noexcept { return sink_ != nullptr; }

 private:
  friend struct detail::NodeAccess;
  OutputSender(std::string node_id, std::vector<std::string> outputs,
               std::unique_ptr<detail::OutputSink> sink) noexcept;
  detail::OutputSink& sink(const char* operation) const;
  /// Checks the id (declared, not closed) and the metadata limits; sets the timestamp.
  detail::OutputSink& prepare(std::string_view output_id, std::size_t size, Metadata& metadata, const char* operation);
  void send_with_impl(std::string_view output_id, std::size_t size, detail::FillRef fill, Metadata metadata);
  [[nodiscard]] Payload make_payload_impl(std::size_t size, detail::FillRef fill) const;
  void close_ids(const std::vector<std::string_view>& output_ids);

  std::string node_id_;
  std::vector<std::string> outputs_;
  std::vector<bool> closed_;  // parallel to outputs_
  std::unique_ptr<detail::OutputSink> sink_;
};

// ---------------------------------------------------------------------------------------------
// Node and the backends.
// ---------------------------------------------------------------------------------------------

/// A running node: its id, its event stream and its output sender, separately owned.
struct Node {
  std::string id;
  EventStream events;
  OutputSender outputs;
};

/// Connects the node to whatever started it, chosen from the environment:
///   DCP_NODE_FD set -> the local runner (`dcp run`) over the connection it gave the node: the
///     descriptor DCP_NODE_FD names (one end of a socket pair made before the node started, so no
///     other process can open it), with DCP_NODE_ID and DCP_NODE_SECRET. init_node() makes it
///     close-on-exec, so programs the node starts do not inherit it (a wrapper script that runs the
///     node must leave it open); a descriptor that is not such a socket is a NodeError naming it;
///   otherwise DCP_RUNNER_SOCKET set -> connect_to_runner() with DCP_NODE_ID and DCP_NODE_SECRET
///     (`dcp run` keeps that socket but refuses every node there: its nodes use DCP_NODE_FD);
///   otherwise DORA_NODE_CONFIG set -> Dora's C++ node API (only in a build with -DDCP_DORA_DIR;
///   without it, a NodeError says so).
/// Otherwise throws NodeError explaining how to run the node. Also throws NodeError when the runner
/// cannot be reached, refuses the node (the runner's reason is in the message), closes the connection,
/// or does not answer the handshake in time. Blocks for the handshake only: under `dcp run` the
/// answer (HelloOk) is held back until every node has connected (the start barrier), and the node
/// waits as long as the runner lets nodes start — DCP_START_TIMEOUT_MS, set by the runner from
/// `--start-timeout` — plus kHandshakeMargin (without it: as long as the runner keeps the connection
/// open). A malformed DCP_START_TIMEOUT_MS is a NodeError too. None of these is an abort: catch
/// NodeError in main() and return an exit code.
/// Errors nobody can receive (dcp::report_error(), <dcp/core/error_report.hpp>: a posted task that
/// threw, ...): init_node() installs a reporter that writes each as one line "dcp: <source>:
/// <message>" to the node's stderr (unless the program installed its own reporter before), and under
/// `dcp run` the runner learns how many there were: a node that reported errors fails the run. The
/// last count is sent when the node's EventStream and OutputSender are both destroyed, so let a
/// WorkerPool whose posted tasks may throw end before them (declare it after the Node); an error
/// reported after that is still printed, but not counted by the runner.
Node init_node();

/// How much longer than the runner's start deadline (DCP_START_TIMEOUT_MS) a node waits for the
/// handshake's answer: at its deadline the runner answers (HelloOk, then Stop) or kills the node, so
/// the node gives up only when the runner is stuck.
inline constexpr std::chrono::milliseconds kHandshakeMargin{2000};

/// What init_node() does when only DCP_RUNNER_SOCKET is set, with the values given explicitly: connects
/// to the runner's socket at `socket_path`, says hello, and returns the node the runner knows.
/// `start_timeout`: the runner's start deadline; the answer is waited for that long plus
/// kHandshakeMargin (nullopt: as long as the runner keeps the connection open). Throws NodeError as
/// init_node() does.
Node connect_to_runner(const std::filesystem::path& socket_path, std::string_view node_id, std::string_view secret,
                       std::optional<std::chrono::milliseconds> start_timeout = std::nullopt);

}  // namespace dcp
