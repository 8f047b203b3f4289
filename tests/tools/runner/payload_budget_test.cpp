// Tests of the runner's shared-memory payload budget (payload_budget.hpp) and of the per-input
// accounting it feeds (router.hpp's NodeInputs, input_account.hpp): descriptors count until the
// last copy goes, the budget's eviction takes the input's oldest shared-memory message, and every
// message offered to an input ends in exactly one counter.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "ipc/socket.hpp"
#include "runner/payload_budget.hpp"
#include "runner/router.hpp"
#include "node_inputs_fixtures.hpp"

namespace {

using namespace dcp::runner;
using dcp::runner::test::input_on;
using dcp::runner::test::sink_spec;

dcp::ipc::FileDescriptor some_descriptor() { return dcp::ipc::FileDescriptor(::open("/dev/null", O_RDONLY | O_CLOEXEC)); }

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

TEST(PayloadBudget, CountsEachDescriptorUntilItsLastCopyGoes_FullAtTheLimit) {
  PayloadBudget budget(2);
  EXPECT_FALSE(budget.full());
  auto first = budget.adopt(some_descriptor());
  auto copy = first;  // a second reader's copy of the same message: still one descriptor
  EXPECT_EQ(budget.held(), 1u);
  auto second = budget.adopt(some_descriptor());
  EXPECT_TRUE(budget.full());
  const int fd = first->get();
  first.reset();
  EXPECT_EQ(budget.held(), 2u) << "a copy still holds it";
  EXPECT_TRUE(is_open(fd));
  copy.reset();
  EXPECT_EQ(budget.held(), 1u);
  EXPECT_FALSE(is_open(fd)) << "the last copy closed it";
  EXPECT_FALSE(budget.full());
  EXPECT_EQ(budget.peak(), 2u);
}

TEST(PayloadBudget, ALimitOfZero_IsAlwaysFull) {
  PayloadBudget budget(0);
  EXPECT_TRUE(budget.full());
}

TEST(PayloadBudget, DescriptorsMayOutliveTheBudget) {
  std::shared_ptr<const dcp::ipc::FileDescriptor> kept;
  {
    PayloadBudget budget(4);
    kept = budget.adopt(some_descriptor());
  }
  kept.reset();  // its deleter still has the counts (ASan would see a use after free otherwise)
  SUCCEED();
}

TEST(PayloadBudget, DerivedLimit_IsTheDescriptorLimitLessWhatTheRunNeeds_NeverBelowZero) {
  EXPECT_EQ(derived_payload_limit(256, 2, 0, 64), 256u - kRunnerOwnDescriptors - 2 * kDescriptorsPerNode - 64);
  EXPECT_EQ(derived_payload_limit(1'048'576, 10, 3, 64),
            1'048'576u - kRunnerOwnDescriptors - 10 * kDescriptorsPerNode - 3 - 64);
  EXPECT_EQ(derived_payload_limit(100, 50, 0, 64), 0u);
}

QueuedEvent shared_on(std::size_t input, PayloadBudget& budget, std::int64_t seq) {
  QueuedEvent event = input_on(input);
  event.shared_memory = budget.adopt(some_descriptor());
  event.metadata.parameters["seq"] = seq;
  return event;
}

TEST(NodeInputsAccounting, EvictionForTheBudget_TakesTheOldestSharedMemoryMessageOfThatInput_AndFreesIt) {
  const dcp::dataflow::Node spec = sink_spec();
  NodeInputs inputs(spec);
  PayloadBudget budget(8);
  EXPECT_FALSE(inputs.enqueue(input_on(0)));  // inline: holds no descriptor, never evicted for the budget
  EXPECT_FALSE(inputs.enqueue(shared_on(0, budget, 1)));
  EXPECT_FALSE(inputs.enqueue(shared_on(0, budget, 2)));
  EXPECT_FALSE(inputs.enqueue(shared_on(1, budget, 3)));
  EXPECT_EQ(budget.held(), 3u);

  EXPECT_TRUE(inputs.evict_for_descriptors(0));
  EXPECT_EQ(budget.held(), 2u);
  EXPECT_EQ(inputs.accounts()[0].dropped_descriptors, 1u);
  EXPECT_EQ(inputs.queue().queued(0), 2u);
  EXPECT_EQ(inputs.queue().queued(1), 1u) << "other inputs keep theirs";
  // What is left on input 0: the inline message, then seq 2 (seq 1 was the oldest holding a descriptor).
  std::vector<std::int64_t> left;
  while (auto event = inputs.queue().pop()) {
    if (event->input == 0) left.push_back(event->metadata.get_int("seq").value_or(-1));
  }
  EXPECT_EQ(left, (std::vector<std::int64_t>{-1, 2}));
  EXPECT_FALSE(inputs.evict_for_descriptors(0)) << "nothing left to evict";
}

TEST(NodeInputsAccounting, EveryOfferedMessageEndsInExactlyOneCounter) {
  dcp::dataflow::Node spec = sink_spec();
  spec.inputs[0].queue_size = 2;
  NodeInputs inputs(spec);
  PayloadBudget budget(8);
  for (int i = 0; i < 5; ++i) (void)inputs.enqueue(input_on(0));  // 3 dropped: queue full
  inputs.drop_for_descriptors(0);                                  // 1 lost to the budget
  inputs.discard(0);                                               // 1 after the node stopped reading
  EXPECT_EQ(inputs.accounts()[0].offered, 7u);
  EXPECT_TRUE(inputs.accounts()[0].balanced(inputs.queue().queued(0)));

  // One delivered, one delivered but its frame dropped from the outbox unsent.
  auto taken = inputs.queue().pop();
  ASSERT_TRUE(taken);
  inputs.count_delivered(0);
  taken = inputs.queue().pop();
  ASSERT_TRUE(taken);
  inputs.count_delivered(0);
  inputs.count_unsent(0);
  EXPECT_TRUE(inputs.accounts()[0].balanced(inputs.queue().queued(0)));

  (void)inputs.enqueue(input_on(0));
  (void)inputs.enqueue(input_on(1));
  (void)inputs.close(1, false);
  (void)inputs.enqueue(input_on(1));  // on a closed input: discarded
  inputs.clear();                     // the queued ones are discarded too
  const InputAccount& a = inputs.accounts()[0];
  const InputAccount& b = inputs.accounts()[1];
  EXPECT_EQ(a.offered, 8u);
  EXPECT_EQ(a.delivered, 1u);
  EXPECT_EQ(a.dropped_queue_full, 3u);
  EXPECT_EQ(a.dropped_descriptors, 1u);
  EXPECT_EQ(a.discarded, 3u);
  EXPECT_TRUE(a.balanced());
  EXPECT_EQ(b.offered, 2u);
  EXPECT_EQ(b.discarded, 2u);
  EXPECT_TRUE(b.balanced());
  EXPECT_EQ(inputs.dropped_total(), 4u);
}

}  // namespace
