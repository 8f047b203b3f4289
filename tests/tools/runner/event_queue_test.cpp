// Tests of the per-node event queue: per-input bounds, drop-oldest, arrival order
// (src/runner/event_queue.hpp).
#include "runner/event_queue.hpp"

#include <gtest/gtest.h>

#include <memory>
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

TEST(EventQueue, EventsFromSeveralInputs_ComeOutInArrivalOrder) {
  EventQueue queue({10, 10});
  queue.push_input(input(0, 1));
  queue.push_input(input(1, 2));
  queue.push_input(input(0, 3));
  queue.push_input(input(1, 4));
  for (std::int64_t expected = 1; expected <= 4; ++expected) {
    auto event = queue.pop();
    ASSERT_TRUE(event);
    EXPECT_EQ(seq(*event), expected);
  }
  EXPECT_FALSE(queue.pop());
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
  std::vector<std::int64_t> order;
  while (auto event = queue.pop()) order.push_back(seq(*event));
  EXPECT_EQ(order, (std::vector<std::int64_t>{100, 2, 3}));
}

TEST(EventQueue, InputClosed_ComesAfterTheDataAlreadyQueued_AndIsNeverDropped) {
  EventQueue queue({1, 1});
  queue.push_input(input(0, 1));
  queue.push_input_closed(0);
  queue.push_input(input(1, 2));
  queue.push_input(input(1, 3));  // drops 2, not the InputClosed
  queue.push_input_closed(1);
  queue.push_all_inputs_closed();
  auto a = queue.pop();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->kind, EventKind::input);
  EXPECT_EQ(seq(*a), 1);
  auto b = queue.pop();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->kind, EventKind::input_closed);
  EXPECT_EQ(b->input, 0u);
  auto c = queue.pop();
  ASSERT_TRUE(c);
  EXPECT_EQ(seq(*c), 3);
  auto d = queue.pop();
  ASSERT_TRUE(d);
  EXPECT_EQ(d->kind, EventKind::input_closed);
  EXPECT_EQ(d->input, 1u);
  auto e = queue.pop();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, EventKind::all_inputs_closed);
  EXPECT_FALSE(queue.pop());
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
