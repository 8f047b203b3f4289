// Tests of the per-node event queue: per-input bounds, drop-oldest, arrival order
// (src/runner/event_queue.hpp).
#include "runner/event_queue.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace {

using dcp::ipc::EventKind;
using dcp::runner::EventQueue;
using dcp::runner::QueuedEvent;

QueuedEvent input(std::size_t index, std::int64_t seq) {
  QueuedEvent event;
  event.kind = EventKind::input;
  event.input = index;
  event.metadata.parameters["seq"] = seq;
  return event;
}

std::int64_t seq(const QueuedEvent& event) { return *event.metadata.get_int("seq"); }

/// What pop() hands out until the queue is empty, one line per event: "input 0 seq 1",
/// "input_closed 0", "all_inputs_closed" (other kinds by number: the runner queues only these).
std::vector<std::string> drain(EventQueue& queue) {
  std::vector<std::string> events;
  while (auto event = queue.pop()) {
    switch (event->kind) {
      case EventKind::input:
        events.push_back("input " + std::to_string(event->input) + " seq " + std::to_string(seq(*event)));
        break;
      case EventKind::input_closed: events.push_back("input_closed " + std::to_string(event->input)); break;
      case EventKind::all_inputs_closed: events.emplace_back("all_inputs_closed"); break;
      default: events.push_back("kind " + std::to_string(static_cast<int>(event->kind)));
    }
  }
  return events;
}

TEST(EventQueue, EventsFromSeveralInputs_ComeOutInArrivalOrder) {
  EventQueue queue({10, 10});
  queue.push_input(input(0, 1));
  queue.push_input(input(1, 2));
  queue.push_input(input(0, 3));
  queue.push_input(input(1, 4));
  EXPECT_EQ(drain(queue), (std::vector<std::string>{"input 0 seq 1", "input 1 seq 2", "input 0 seq 3", "input 1 seq 4"}));
  EXPECT_TRUE(queue.empty());
}

TEST(EventQueue, FullInput_DropsItsOwnOldestAndCountsIt_OtherInputsUntouched) {
  EventQueue queue({2, 5});
  EXPECT_FALSE(queue.push_input(input(1, 100)));
  EXPECT_FALSE(queue.push_input(input(0, 0)));
  EXPECT_FALSE(queue.push_input(input(0, 1)));
  EXPECT_TRUE(queue.push_input(input(0, 2)));  // drops 0
  EXPECT_TRUE(queue.push_input(input(0, 3)));  // drops 1
  EXPECT_EQ(queue.queued(0), 2u);
  EXPECT_EQ(queue.queued(1), 1u);
  EXPECT_EQ(queue.dropped(0), 2u);
  EXPECT_EQ(queue.dropped(1), 0u);
  EXPECT_EQ(queue.dropped_total(), 2u);
  EXPECT_EQ(queue.size(), 3u);
  EXPECT_EQ(drain(queue), (std::vector<std::string>{"input 1 seq 100", "input 0 seq 2", "input 0 seq 3"}));
}

TEST(EventQueue, InputClosed_ComesAfterTheDataAlreadyQueued_AndIsNeverDropped) {
  EventQueue queue({1, 1});
  queue.push_input(input(0, 1));
  queue.push_input_closed(0);
  queue.push_input(input(1, 2));
  queue.push_input(input(1, 3));  // drops 2, not the InputClosed
  queue.push_input_closed(1);
  queue.push_all_inputs_closed();
  EXPECT_EQ(drain(queue), (std::vector<std::string>{"input 0 seq 1", "input_closed 0", "input 1 seq 3", "input_closed 1",
                                                    "all_inputs_closed"}));
  EXPECT_TRUE(queue.empty());
}

TEST(EventQueue, SharedMemoryDescriptor_IsReleasedWhenTheEventIsDropped) {
  EventQueue queue({1});
  auto fd = std::make_shared<const dcp::ipc::FileDescriptor>();
  QueuedEvent first = input(0, 1);
  first.shared_memory = fd;
  queue.push_input(std::move(first));
  EXPECT_EQ(fd.use_count(), 2);
  queue.push_input(input(0, 2));
  EXPECT_EQ(fd.use_count(), 1);
}

TEST(EventQueue, Clear_ForgetsEverything_ButKeepsTheDropCounts) {
  EventQueue queue({1});
  queue.push_input(input(0, 1));
  queue.push_input(input(0, 2));
  queue.push_input_closed(0);
  queue.clear();
  EXPECT_TRUE(queue.empty());
  EXPECT_FALSE(queue.pop());
  EXPECT_EQ(queue.dropped(0), 1u);
}

TEST(EventQueue, ZeroQueueSize_IsRejected) {
  EXPECT_THROW(EventQueue({3, 0}), std::invalid_argument);
}

}  // namespace
