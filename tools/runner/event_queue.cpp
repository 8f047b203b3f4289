// Per-input bounded event queues, scheduled as Dora's node API schedules them (see event_queue.hpp).
#include "runner/event_queue.hpp"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

namespace dcp::runner {

bool is_correlated(const Metadata& metadata) noexcept {
  return metadata.parameters.contains("request_id") || metadata.parameters.contains("goal_id") ||
         metadata.parameters.contains("goal_status");
}

EventQueue::EventQueue(std::vector<std::size_t> queue_sizes) {
  inputs_.resize(queue_sizes.size());
  for (std::size_t i = 0; i < queue_sizes.size(); ++i) {
    if (queue_sizes[i] == 0) throw std::invalid_argument("dcp::runner::EventQueue: queue size 0 for input " + std::to_string(i));
    inputs_[i].capacity = queue_sizes[i];
  }
  least_recently_served_.resize(inputs_.size());
  std::iota(least_recently_served_.begin(), least_recently_served_.end(), std::size_t{0});
}

bool EventQueue::push_input(QueuedEvent event) {
  if (event.kind != ipc::EventKind::input) throw std::invalid_argument("dcp::runner::EventQueue::push_input: not an input event");
  InputQueue& queue = inputs_.at(event.input);
  if (queue.events.size() < queue.capacity) {
    queue.events.push_back(std::move(event));
    ++size_;
    return false;
  }
  ++queue.dropped;
  ++dropped_total_;
  const auto ordinary = std::find_if(queue.events.begin(), queue.events.end(),
                                     [](const QueuedEvent& queued) { return !is_correlated(queued.metadata); });
  if (ordinary != queue.events.end()) {
    queue.events.erase(ordinary);
  } else if (!is_correlated(event.metadata)) {
    return true;  // every queued message is a reply someone waits for: the newcomer goes
  } else {
    ++queue.correlated_dropped;
    queue.events.pop_front();
  }
  queue.events.push_back(std::move(event));
  return true;
}

bool EventQueue::evict_shared_memory(std::size_t input) {
  InputQueue& queue = inputs_.at(input);
  const auto holds_descriptor = [](const QueuedEvent& queued) { return queued.shared_memory != nullptr; };
  auto victim = std::find_if(queue.events.begin(), queue.events.end(), [&](const QueuedEvent& queued) {
    return holds_descriptor(queued) && !is_correlated(queued.metadata);
  });
  if (victim == queue.events.end()) victim = std::find_if(queue.events.begin(), queue.events.end(), holds_descriptor);
  if (victim == queue.events.end()) return false;
  queue.events.erase(victim);
  --size_;
  return true;
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
  control_.push_back(std::move(event));
  ++size_;
}

void EventQueue::push_all_inputs_closed() {
  if (all_inputs_closed_) return;
  all_inputs_closed_ = true;
  ++size_;
}

std::optional<QueuedEvent> EventQueue::pop() {
  if (!control_.empty()) {
    QueuedEvent event = std::move(control_.front());
    control_.pop_front();
    --size_;
    return event;
  }
  for (auto it = least_recently_served_.begin(); it != least_recently_served_.end(); ++it) {
    InputQueue& queue = inputs_[*it];
    if (queue.events.empty()) continue;
    QueuedEvent event = std::move(queue.events.front());
    queue.events.pop_front();
    --size_;
    std::rotate(it, std::next(it), least_recently_served_.end());  // served: to the back
    return event;
  }
  if (all_inputs_closed_) {
    all_inputs_closed_ = false;
    --size_;
    QueuedEvent event;
    event.kind = ipc::EventKind::all_inputs_closed;
    return event;
  }
  return std::nullopt;
}

void EventQueue::clear() noexcept {
  for (InputQueue& queue : inputs_) queue.events.clear();
  control_.clear();
  all_inputs_closed_ = false;
  size_ = 0;
}

}  // namespace dcp::runner
