// tools/runner/event_queue.hpp — the events waiting for one node: per-input bounded queues that drop
// their oldest message when full, delivered in arrival order.
//
// What it is for: Dora buffers each input of a node separately, at most `queue_size` messages
// (default 10); when a new message arrives on a full input, that input's oldest message is dropped
// (a slow consumer sees the newest data, and other inputs are unaffected). The runner keeps one
// EventQueue per node:
//
//   EventQueue queue({10, 1});                 // input 0: queue_size 10, input 1: queue_size 1
//   queue.push_input(event_on_input_1);        // false: nothing dropped
//   queue.push_input(another_on_input_1);      // true: the first one was dropped (queue_size 1)
//   queue.push_input_closed(1);                // after the data already queued for input 1
//   while (auto event = queue.pop()) deliver(*event);   // oldest first, across all inputs
//
// Order: events come out in the order they were pushed (a global sequence number), except that a
// dropped message is gone. InputClosed, InputRecovered and AllInputsClosed do not count against any
// queue_size and are never dropped. pop() is O(number of inputs); push is O(1).
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
  std::size_t input = 0;    ///< index of the node's input (input and input_closed events)
  Metadata metadata;        ///< input events: the sender's metadata
  ipc::PayloadRef payload;  ///< input events: inline bytes, or the size of the shared memory
  /// Shared-memory payloads: the sealed memfd, shared by every subscriber's copy of the message.
  std::shared_ptr<const ipc::FileDescriptor> shared_memory;
};

class EventQueue {
 public:
  /// One queue per input; `queue_sizes[i]` (>= 1) bounds input i.
  explicit EventQueue(std::vector<std::size_t> queue_sizes);

  /// Queues an input event (event.kind must be input, event.input a valid index). If the input
  /// already holds queue_size events, its oldest is dropped first; returns true in that case.
  bool push_input(QueuedEvent event);
  /// Queues InputClosed for `input`, after everything already queued.
  void push_input_closed(std::size_t input);
  /// Queues InputRecovered for `input` (a timed-out input has data again), after everything already
  /// queued — so ahead of the message that recovered it.
  void push_input_recovered(std::size_t input);
  /// Queues AllInputsClosed, after everything already queued.
  void push_all_inputs_closed();

  /// The oldest queued event, or nullopt when nothing is queued.
  [[nodiscard]] std::optional<QueuedEvent> pop();
  /// Forgets everything queued (the node will not receive it).
  void clear() noexcept;

  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// Input events queued for `input` right now.
  [[nodiscard]] std::size_t queued(std::size_t input) const { return inputs_.at(input).events.size(); }
  /// Input events of `input` dropped because its queue was full, since construction.
  [[nodiscard]] std::uint64_t dropped(std::size_t input) const { return inputs_.at(input).dropped; }
  /// Sum of dropped(i) over all inputs.
  [[nodiscard]] std::uint64_t dropped_total() const noexcept { return dropped_total_; }

 private:
  using Sequenced = std::pair<std::uint64_t, QueuedEvent>;
  struct InputQueue {
    std::size_t capacity = 1;
    std::deque<Sequenced> events;
    std::uint64_t dropped = 0;
  };

  void push_control(ipc::EventKind kind, std::size_t input, const char* operation);

  std::vector<InputQueue> inputs_;
  std::deque<Sequenced> control_;  // InputClosed / InputRecovered / AllInputsClosed
  std::uint64_t next_sequence_ = 0;
  std::size_t size_ = 0;
  std::uint64_t dropped_total_ = 0;
};

}  // namespace dcp::runner
