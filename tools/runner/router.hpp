// tools/runner/router.hpp — routing for the runner: which inputs read each output and each timer,
// the per-node input queues with their open/closed bookkeeping, and what answers a node's NextEvent.
//
// What it is for: the event loop (runner.cpp) builds the RouteTable once from the validated
// dataflow, then for every message a node sends queues one event per reading input
// (NodeInputs::enqueue: the input's queue drops its oldest message when full, queue_size), closes
// inputs when their upstream output closes (NodeInputs::close: InputClosed, a control event that
// event_queue.hpp hands out ahead of queued messages, as Dora does, and AllInputsClosed once the
// last non-timer input closed, after every queued message — never for a node reading a timer or
// dora/logs, as in Dora), times out silent inputs (NodeInputs::close_timed_out: Dora's `input_timeout`,
// below), and answers an outstanding NextEvent with next_answer(), which also moves the
// node's stream machine (node_state.hpp: open -> stop_pending -> draining -> ended: Stop first, then
// the inputs queued before it, then end of stream, as Dora's node API delivers Stop).
//
// Input timeouts, as Dora's daemon does them: an input with `input_timeout` is armed by its first
// message; every message queued for it refreshes its deadline. When the event loop's health check
// (every `health_check_interval`) finds it silent for longer, the input is "timed out": InputClosed
// is queued for it, but it stays subscribed. Its next message queues InputRecovered first, then
// itself, and re-arms the deadline. While an input is timed out the node gets no AllInputsClosed
// (the input may recover); if its upstream closes meanwhile, no second InputClosed is queued and
// AllInputsClosed follows as usual. Timer inputs never time out.
//
// Thread safety: one owner (the event loop thread). Blocking: none. Errors: build_routes throws
// std::logic_error for a dataflow that names an unknown node (validation prevents it).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dataflow/dataflow.hpp"
#include "ipc/protocol.hpp"
#include "ipc/socket.hpp"
#include "runner/event_queue.hpp"
#include "runner/input_account.hpp"
#include "runner/node_state.hpp"

namespace dcp::runner {

/// One input of one node (indices into Dataflow::nodes and that node's inputs).
struct Subscriber {
  std::size_t node = 0;
  std::size_t input = 0;
};

/// Every timer input of one period: one timerfd ticks them all (the event loop owns `fd`).
struct TimerGroup {
  std::chrono::nanoseconds period{};
  ipc::FileDescriptor fd;
  std::vector<Subscriber> subscribers;
  std::string spec;           ///< the first input's source text with this period, e.g. "dora/timer/millis/10"
  std::uint64_t ticks = 0;    ///< ticks delivered (one event per subscriber each)
  std::uint64_t missed = 0;   ///< periods that passed while the runner was busy: skipped, as in Dora
};

/// The input side of one node: its queue and which of its inputs are still open.
class NodeInputs {
 public:
  using Clock = std::chrono::steady_clock;

  explicit NodeInputs(const dataflow::Node& spec);

  /// Queues an input event (counted as offered) unless its input is closed (then it is discarded);
  /// `now` arms or refreshes the input's timeout, and a message on a timed-out input queues
  /// InputRecovered first. True when a message was dropped to make room (dropped_queue_full).
  bool enqueue(QueuedEvent event, Clock::time_point now = Clock::now());
  /// Times out every input whose input_timeout has passed at `now` (armed, open, not timed out
  /// already): InputClosed is queued for each when `queue_events`, and each counts one timeout.
  /// Returns their indices, in input order.
  std::vector<std::size_t> close_timed_out(Clock::time_point now, bool queue_events);
  /// Whether any input has an input_timeout (the event loop checks only then).
  [[nodiscard]] bool has_input_timeouts() const noexcept { return has_input_timeouts_; }
  /// Whether `input` is timed out now (closed for the node, waiting for data to recover).
  [[nodiscard]] bool timed_out(std::size_t input) const { return deadlines_.at(input).timed_out; }
  /// Times each input timed out, in the node's input order.
  [[nodiscard]] std::vector<std::uint64_t> timeouts() const;
  /// Times each input recovered (data came after a timeout), in the node's input order.
  [[nodiscard]] std::vector<std::uint64_t> recoveries() const;
  /// Marks `input` closed; false when it already was. With `queue_events`, InputClosed is queued
  /// (unless a timeout already reported it) and, once no non-timer input is open and the node reads no
  /// timer, AllInputsClosed.
  bool close(std::size_t input, bool queue_events);
  /// Drops everything queued (Stop, or the node is gone): the queued messages count as discarded.
  void clear() noexcept;

  // The accounting (input_account.hpp) of what the queue does not see:
  /// A message for `input` that the node will not read (it stopped reading): offered, discarded.
  void discard(std::size_t input) noexcept;
  /// A message for `input` whose shared-memory payload the runner could not hold: offered, dropped.
  void drop_for_descriptors(std::size_t input) noexcept;
  /// Makes room under the descriptor budget: drops the oldest queued message of `input` that holds a
  /// shared-memory descriptor (EventQueue::evict_shared_memory); false when none is queued.
  bool evict_for_descriptors(std::size_t input);
  /// A queued message of `input` taken out because its frame would be too large for the protocol.
  void count_too_large(std::size_t input) noexcept { ++accounts_[input].dropped_too_large; }
  /// A queued message of `input` handed to the node's connection.
  void count_delivered(std::size_t input) noexcept { ++accounts_[input].delivered; }
  /// A message taken from the queue whose frame could not be sent (the connection failed): discarded.
  void discard_taken(std::size_t input) noexcept { ++accounts_[input].discarded; }
  /// A message counted as delivered whose frame never left: the connection failed first.
  void count_unsent(std::size_t input) noexcept;

  [[nodiscard]] EventQueue& queue() noexcept { return queue_; }
  [[nodiscard]] const EventQueue& queue() const noexcept { return queue_; }
  /// Per input, in the node's input order.
  [[nodiscard]] const std::vector<InputAccount>& accounts() const noexcept { return accounts_; }
  /// Messages dropped on all inputs, for every reason.
  [[nodiscard]] std::uint64_t dropped_total() const noexcept;

 private:
  struct Deadline {
    std::optional<Clock::duration> timeout;  ///< none: no input_timeout, a timer, or too long to time
    std::optional<Clock::time_point> last_message;  ///< unarmed until the first message
    bool timed_out = false;
    std::uint64_t timeouts = 0;
    std::uint64_t recoveries = 0;
  };

  EventQueue queue_;
  std::vector<InputAccount> accounts_;
  std::vector<bool> closed_;
  std::vector<Deadline> deadlines_;
  bool has_input_timeouts_ = false;
  std::size_t open_data_inputs_ = 0;  // inputs from other nodes still open (timers never close)
  bool has_never_closing_input_ = false;  // a timer or dora/logs input
};

/// An input reading `dora/logs[/<level>[/<node>]]`: the output lines of the matching nodes.
struct LogReader {
  Subscriber subscriber;
  dataflow::DoraLogs filter;
  /// Whether a line (a plain output line: Dora's level "stdout") of node `node` (index) goes to
  /// this reader: never its own lines; the level must be unset or "stdout" (a plain line does not
  /// pass a minimum level such as "info", as in Dora); the node filter, if any, must name it.
  [[nodiscard]] bool wants(std::size_t node, std::string_view node_id) const noexcept;
};

/// Who reads what, for every node of a dataflow.
struct RouteTable {
  /// readers[node][output]: the inputs reading that output.
  std::vector<std::vector<std::vector<Subscriber>>> readers;
  /// One group per distinct timer period, in the order the periods first appear (fds not created).
  std::vector<TimerGroup> timers;
  /// Every dora/logs input, in node then input order.
  std::vector<LogReader> log_readers;
};
[[nodiscard]] RouteTable build_routes(const dataflow::Dataflow& dataflow);

/// The frame that answers a NextEvent, with the shared-memory descriptor that goes with it.
struct Answer {
  std::vector<std::uint8_t> frame;
  std::shared_ptr<const ipc::FileDescriptor> fd;
  bool is_input = false;  ///< an input message: count it delivered (or unsent) on `input`
  std::size_t input = 0;
};

/// What answers `node`'s NextEvent now, by its stream state: end_of_stream once ended; Stop when
/// pending (ahead of the queue; the stream then drains); while draining, the next queued input
/// (other queued events are skipped) and end_of_stream once none is left; else the oldest queued
/// event (the stream ends after AllInputsClosed); nullopt when nothing is queued (the request
/// stays outstanding).
/// A queued message whose frame would break the protocol's limits is dropped: `warn` is told, the
/// drop counted (dropped_too_large), and the next one taken. The caller counts an input answer as
/// delivered once its frame is sent or queued on the connection.
[[nodiscard]] std::optional<Answer> next_answer(const dataflow::Node& spec, NodeLifecycle& state, NodeInputs& inputs,
                                                const std::function<void(const std::string&)>& warn);

}  // namespace dcp::runner
