// tools/runner/event_queue.hpp — the events waiting for one node: per-input bounded queues that drop
// their oldest message when full, handed out in the order Dora's node-side scheduler hands them out.
//
// What it is for: Dora buffers each input of a node separately, at most `queue_size` messages
// (default 10); when a new message arrives on a full input, that input's oldest message is dropped
// (a slow consumer sees the newest data, and other inputs are unaffected). The runner keeps one
// EventQueue per node:
//
//   EventQueue queue({10, 1});                 // input 0: queue_size 10, input 1: queue_size 1
//   queue.push_input(event_on_input_1);        // false: nothing dropped
//   queue.push_input(another_on_input_1);      // true: the first one was dropped (queue_size 1)
//   queue.push_input_closed(1);
//   while (auto event = queue.pop()) deliver(*event);
//
// Order (Dora's scheduler, apis/rust/node event_stream/scheduler.rs):
//   1. control events first, oldest first: InputClosed and InputRecovered — so an InputClosed can
//      overtake the last messages of its input, as under Dora;
//   2. then input messages, one input at a time in least-recently-served order: the input served
//      last goes to the back, so a fast input cannot starve a slow one; within an input, oldest first;
//   3. AllInputsClosed last, once nothing else is queued (dcp's stream ends after it, so it must not
//      overtake inputs; under Dora it arrives as a Stop, after which the queued inputs still come).
// Eviction (a full input): the oldest message that carries no `request_id`, `goal_id` or
// `goal_status` parameter is dropped; if every queued message carries one, the newcomer is dropped
// instead — unless it carries one too, then the oldest is dropped and counted in
// correlated_dropped() (Dora logs an error for it). Control events never count against any
// queue_size and are never dropped. pop() is O(number of inputs); push is O(queue_size) at worst.
//
// Thread safety: one owner (the runner's event loop thread). Blocking: none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "dcp/node/metadata.hpp"
#include "ipc/protocol.hpp"
#include "ipc/socket.hpp"

namespace dcp::runner {

/// One event waiting for delivery to a node.
struct QueuedEvent {
  ipc::EventKind kind = ipc::EventKind::input;
  std::size_t input = 0;    ///< index of the node's input (input, input_closed, input_recovered events)
  Metadata metadata;        ///< input events: the sender's metadata
  ipc::PayloadRef payload;  ///< input events: inline bytes, or the size of the shared memory
  /// Shared-memory payloads: the sealed memfd, shared by every subscriber's copy of the message.
  std::shared_ptr<const ipc::FileDescriptor> shared_memory;
};

/// Whether a message belongs to a service or action exchange (Dora's pattern correlation keys
/// `request_id`, `goal_id`, `goal_status`): such messages are the last a full queue gives up.
[[nodiscard]] bool is_correlated(const Metadata& metadata) noexcept;

class EventQueue {
 public:
  /// One queue per input; `queue_sizes[i]` (>= 1) bounds input i.
  explicit EventQueue(std::vector<std::size_t> queue_sizes);

  /// Queues an input event (event.kind must be input, event.input a valid index). If the input
  /// already holds queue_size events, one message is dropped first (the eviction rule above);
  /// returns true in that case (the dropped one may be the newcomer).
  bool push_input(QueuedEvent event);
  /// Removes the oldest queued message of `input` that holds a shared-memory descriptor (one without
  /// a correlation key first, as above), for the runner's descriptor budget; false when none is
  /// queued. Not counted in dropped(): the caller counts it.
  bool evict_shared_memory(std::size_t input);
  /// Queues InputClosed for `input` (a control event: it comes before queued input messages).
  void push_input_closed(std::size_t input);
  /// Queues InputRecovered for `input` (a timed-out input has data again): a control event, so it
  /// comes before the message that recovered it.
  void push_input_recovered(std::size_t input);
  /// Queues AllInputsClosed: handed out once nothing else is queued.
  void push_all_inputs_closed();

  /// The next event by the order above, or nullopt when nothing is queued.
  [[nodiscard]] std::optional<QueuedEvent> pop();
  /// Forgets everything queued (the node will not receive it).
  void clear() noexcept;

  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// Input events queued for `input` right now.
  [[nodiscard]] std::size_t queued(std::size_t input) const { return inputs_.at(input).events.size(); }
  /// Input events of `input` dropped because its queue was full, since construction.
  [[nodiscard]] std::uint64_t dropped(std::size_t input) const { return inputs_.at(input).dropped; }
  /// Of those, messages that carried a correlation key (a service reply or action result lost).
  [[nodiscard]] std::uint64_t correlated_dropped(std::size_t input) const {
    return inputs_.at(input).correlated_dropped;
  }
  /// Sum of dropped(i) over all inputs.
  [[nodiscard]] std::uint64_t dropped_total() const noexcept { return dropped_total_; }

 private:
  struct InputQueue {
    std::size_t capacity = 1;
    std::deque<QueuedEvent> events;
    std::uint64_t dropped = 0;
    std::uint64_t correlated_dropped = 0;
  };

  void push_control(ipc::EventKind kind, std::size_t input, const char* operation);

  std::vector<InputQueue> inputs_;
  std::vector<std::size_t> least_recently_served_;  // input indices; the front is served first
  std::deque<QueuedEvent> control_;                 // InputClosed / InputRecovered
  bool all_inputs_closed_ = false;                  // AllInputsClosed queued
  std::size_t size_ = 0;
  std::uint64_t dropped_total_ = 0;
};

}  // namespace dcp::runner
