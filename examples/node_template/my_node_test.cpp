// my_node_test.cpp — the template node's logic (my_node.hpp) under dcp::testing::NodeHarness:
// scripted inputs in, the results it sends out, no processes and no runner.
#include "my_node.hpp"

#include <chrono>
#include <cstdint>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <dcp/core/error_report.hpp>
#include <dcp/node/node_harness.hpp>
#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;

// Only a hang: every wait below ends as soon as the node has sent (or ended).
constexpr auto kTimeout = 10s;

/// run_my_node() on its own thread; join() waits for it to end and rethrows what it threw.
class RunningNode {
 public:
  RunningNode(dcp::testing::NodeHarness& harness, my_node::Options options = {})
      : thread_([this, node = harness.node(), options = std::move(options)]() mutable {
          try {
            my_node::run_my_node(std::move(node), std::move(options));
          } catch (...) {
            error_ = std::current_exception();
          }
        }) {}
  ~RunningNode() {
    if (thread_.joinable()) thread_.join();
  }
  void join() {
    thread_.join();
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::exception_ptr error_;
  std::thread thread_;
};

dcp::testing::NodeHarness make_harness() { return dcp::testing::NodeHarness("my_node", {"tick", "value"}, {"result"}); }

std::vector<std::string> texts(const std::vector<dcp::testing::CapturedOutput>& outputs) {
  std::vector<std::string> result;
  for (const auto& output : outputs) result.push_back(output.id + " " + std::string(output.text()));
  return result;
}

}  // namespace

TEST(CollatzSteps, CountsTheStepsToOne) {
  EXPECT_EQ(my_node::collatz_steps(0), 0u);
  EXPECT_EQ(my_node::collatz_steps(1), 0u);
  EXPECT_EQ(my_node::collatz_steps(6), 8u);
  EXPECT_EQ(my_node::collatz_steps(27), 111u);
}

TEST(ParseValue, AcceptsDecimalDigitsOnly) {
  const auto bytes = [](std::string_view text) {
    return std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
  };
  EXPECT_EQ(my_node::parse_value(bytes("27")), 27u);
  EXPECT_THROW((void)my_node::parse_value(bytes("")), std::invalid_argument);
  EXPECT_THROW((void)my_node::parse_value(bytes("27x")), std::invalid_argument);
  EXPECT_THROW((void)my_node::parse_value(bytes("-1")), std::invalid_argument);
}

TEST(MyNode, Ticks_SendOneResultEachInTickOrderAndAllBeforeTheNodeEnds) {
  auto harness = make_harness();
  RunningNode node(harness);
  harness.push_input("tick", "");
  harness.push_input("tick", "");
  harness.push_input("tick", "");
  harness.push_stop();
  node.join();  // returns once the stream ended, the work is done and the results are sent
  EXPECT_EQ(texts(harness.outputs()),
            (std::vector<std::string>{"result tick 1: 0 steps", "result tick 2: 1 steps", "result tick 3: 7 steps"}));
}

TEST(MyNode, Value_SendsItsCollatzSteps) {
  auto harness = make_harness();
  RunningNode node(harness);
  harness.push_input("value", "27");
  const auto result = harness.next_output(kTimeout);
  ASSERT_TRUE(result.has_value()) << "no result within " << kTimeout.count() << " s";
  EXPECT_EQ(result->id, "result");
  EXPECT_EQ(result->text(), "value 27: 111 steps");
  harness.push_stop();
  node.join();
}

TEST(MyNode, ValueThatIsNotANumber_IsReportedAndTheNodeGoesOn) {
  std::mutex mutex;
  std::vector<std::string> errors;
  my_node::Options options;
  options.on_error = [&](std::string_view source, std::string_view message) {
    std::lock_guard lock(mutex);
    errors.push_back(std::string(source) + ": " + std::string(message));
  };
  auto harness = make_harness();
  RunningNode node(harness, options);
  harness.push_input("value", "abc");
  harness.push_input("value", "6");
  harness.push_all_inputs_closed();
  node.join();
  EXPECT_EQ(texts(harness.outputs()), (std::vector<std::string>{"result value 6: 8 steps"}));
  std::lock_guard lock(mutex);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "event router: input 'value' handler threw: 'abc' is not a decimal number");
}

TEST(MyNode, ErrorWithoutOnError_IsReportedSoTheRunSaysWorkWasLost) {
  const std::uint64_t before = dcp::reported_errors();
  auto harness = make_harness();
  RunningNode node(harness);  // no Options::on_error: the default reporting
  harness.push_input("value", "not a number");
  harness.push_all_inputs_closed();
  node.join();
  EXPECT_TRUE(harness.outputs().empty());
  EXPECT_EQ(dcp::reported_errors() - before, 1u);
}
