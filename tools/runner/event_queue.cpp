// Per-input bounded event queues with drop-oldest (see event_queue.hpp).
#include "runner/event_queue.hpp"

#include <stdexcept>
#include <string>

namespace dcp::runner {

EventQueue::EventQueue(std::vector<std::size_t> queue_sizes) {
  inputs_.resize(queue_sizes.size());
  for (std::size_t i = 0; i < queue_sizes.size(); ++i) {
    if (queue_sizes[i] == 0) throw std::invalid_argument("dcp::runner::EventQueue: queue size 0 for input " + std::to_string(i));
    inputs_[i].capacity = queue_sizes[i];
  }
}

bool EventQueue::push_input(QueuedEvent event) {
  if (event.kind != ipc::EventKind::input) throw std::invalid_argument("dcp::runner::EventQueue::push_input: not an input event");
  InputQueue& queue = inputs_.at(event.input);
  bool dropped = false;
  if (queue.events.size() >= queue.capacity) {
    queue.events.pop_front();
    --size_;
    ++queue.dropped;
    ++dropped_total_;
    dropped = true;
  }
  queue.events.emplace_back(next_sequence_++, std::move(event));
  ++size_;
  return dropped;
}

void EventQueue::push_input_closed(std::size_t input) { push_control(ipc::EventKind::input_closed, input, "push_input_closed"); }

void EventQueue::push_input_recovered(std::size_t input) {
  push_control(ipc::EventKind::input_recovered, input, "push_input_recovered");
}

void EventQueue::push_control(ipc::EventKind kind, std::size_t input, const char* operation) {
  if (input >= inputs_.size()) {
    throw std::out_of_range(std::string("dcp::runner::EventQueue::") + operation + ": no input " + std::to_string(input));
  }
  QueuedEvent event;
  event.kind = kind;
  event.input = input;
  control_.emplace_back(next_sequence_++, std::move(event));
  ++size_;
}

void EventQueue::push_all_inputs_closed() {
  QueuedEvent event;
  event.kind = ipc::EventKind::all_inputs_closed;
  control_.emplace_back(next_sequence_++, std::move(event));
  ++size_;
}

std::optional<QueuedEvent> EventQueue::pop() {
  std::deque<Sequenced>* oldest = control_.empty() ? nullptr : &control_;
  for (InputQueue& queue : inputs_) {
    if (queue.events.empty()) continue;
    if (oldest == nullptr || queue.events.front().first < oldest->front().first) oldest = &queue.events;
  }
  if (oldest == nullptr) return std::nullopt;
  QueuedEvent event = std::move(oldest->front().second);
  oldest->pop_front();
  --size_;
  return event;
}

void EventQueue::clear() noexcept {
  for (InputQueue& queue : inputs_) queue.events.clear();
  control_.clear();
  size_ = 0;
}

}  // namespace dcp::runner
