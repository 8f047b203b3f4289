// Tests of the per-node event queue: per-input bounds, drop-oldest with service/action replies
// kept, and Dora's scheduling order — control events first, inputs least recently served first,
// AllInputsClosed last (tools/runner/event_queue.hpp).
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
      case EventKind::input_recovered: events.push_back("input_recovered " + std::to_string(event->input)); break;
      case EventKind::all_inputs_closed: events.emplace_back("all_inputs_closed"); break;
      default: events.push_back("kind " + std::to_string(static_cast<int>(event->kind)));
    }
  }
  return events;
}

TEST(EventQueue, SeveralInputs_ServedRoundRobin_LeastRecentlyServedFirst_EachInOrder) {
  EventQueue queue({10, 10, 10});
  for (std::int64_t s = 0; s < 3; ++s) queue.push_input(input(0, s));  // a fast input
  queue.push_input(input(1, 100));
  queue.push_input(input(2, 200));
  EXPECT_EQ(drain(queue), (std::vector<std::string>{"input 0 seq 0", "input 1 seq 100", "input 2 seq 200",
                                                    "input 0 seq 1", "input 0 seq 2"}));
  EXPECT_TRUE(queue.empty());
  // Input 0 was served last: once all three have data again, 1 and 2 go first.
  queue.push_input(input(0, 3));
  queue.push_input(input(2, 201));
  queue.push_input(input(1, 101));
  EXPECT_EQ(drain(queue), (std::vector<std::string>{"input 1 seq 101", "input 2 seq 201", "input 0 seq 3"}));
}

TEST(EventQueue, FastInput_CannotStarveASlowOneWithASmallQueue) {
  EventQueue queue({100, 1});
  std::vector<std::string> seen;
  for (std::int64_t s = 0; s < 50; ++s) {  // input 0 gets two per pop: its backlog grows
    queue.push_input(input(0, 2 * s));
    queue.push_input(input(0, 2 * s + 1));
    if (s % 10 == 0) queue.push_input(input(1, 1000 + s));
    if (auto event = queue.pop(); event && event->input == 1) seen.push_back(std::to_string(seq(*event)));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"1000", "1010", "1020", "1030", "1040"}))
      << "in arrival order each would wait behind input 0's backlog and be replaced before its turn";
  EXPECT_EQ(queue.dropped(1), 0u);
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
  EXPECT_EQ(drain(queue), (std::vector<std::string>{"input 0 seq 2", "input 1 seq 100", "input 0 seq 3"}));
}

TEST(EventQueue, ControlEventsComeFirst_NeverDropped_AllInputsClosedOnlyWhenNothingElseIsLeft) {
  EventQueue queue({1, 1});
  queue.push_input(input(0, 1));
  queue.push_input_closed(0);
  queue.push_input(input(1, 2));
  queue.push_input(input(1, 3));  // drops 2, never a control event
  queue.push_input_recovered(1);
  queue.push_input_closed(1);
  queue.push_all_inputs_closed();
  EXPECT_EQ(queue.size(), 6u);
  EXPECT_EQ(drain(queue), (std::vector<std::string>{"input_closed 0", "input_recovered 1", "input_closed 1",
                                                    "input 0 seq 1", "input 1 seq 3", "all_inputs_closed"}));
  EXPECT_TRUE(queue.empty());
}

dcp::runner::QueuedEvent reply(std::size_t index, std::int64_t seq, const char* key) {
  QueuedEvent event = input(index, seq);
  event.metadata.parameters[key] = std::string("r") + std::to_string(seq);
  return event;
}

TEST(EventQueue, FullInput_KeepsServiceAndActionMessages_DropsTheOldestOrdinaryOne) {
  EventQueue queue({3});
  queue.push_input(reply(0, 0, "request_id"));
  queue.push_input(input(0, 1));
  queue.push_input(reply(0, 2, "goal_id"));
  EXPECT_TRUE(queue.push_input(input(0, 3)));  // drops 1, the only ordinary one
  EXPECT_EQ(drain(queue), (std::vector<std::string>{"input 0 seq 0", "input 0 seq 2", "input 0 seq 3"}));
  EXPECT_EQ(queue.correlated_dropped(0), 0u);
}

TEST(EventQueue, FullOfCorrelatedMessages_AnOrdinaryNewcomerIsDropped_ACorrelatedOneDropsTheOldest) {
  EventQueue queue({2});
  queue.push_input(reply(0, 0, "request_id"));
  queue.push_input(reply(0, 1, "goal_status"));
  EXPECT_TRUE(queue.push_input(input(0, 2)));  // the newcomer goes
  EXPECT_EQ(queue.queued(0), 2u);
  EXPECT_EQ(queue.correlated_dropped(0), 0u);
  EXPECT_TRUE(queue.push_input(reply(0, 3, "goal_id")));  // all must be kept: the oldest goes, counted
  EXPECT_EQ(queue.correlated_dropped(0), 1u);
  EXPECT_EQ(queue.dropped(0), 2u);
  EXPECT_EQ(drain(queue), (std::vector<std::string>{"input 0 seq 1", "input 0 seq 3"}));
}

TEST(IsCorrelated, AnyOfDorasThreeKeys_OtherParametersNot) {
  dcp::Metadata metadata;
  metadata.parameters["seq"] = std::int64_t{1};
  EXPECT_FALSE(dcp::runner::is_correlated(metadata));
  for (const char* key : {"request_id", "goal_id", "goal_status"}) {
    dcp::Metadata with = metadata;
    with.parameters[key] = std::string("x");
    EXPECT_TRUE(dcp::runner::is_correlated(with)) << key;
  }
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
