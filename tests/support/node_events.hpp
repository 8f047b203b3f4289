// tests/support/node_events.hpp — checking what a node sees, shared by the tests of every node
// backend (harness, local runner client, Dora): the event inside an EventResult, the message of
// the NodeError a call throws (message_of and error_of come with it from exception_message.hpp),
// and a fixture that gives each test a clean environment.
//
//   auto result = node.events.next();
//   EXPECT_EQ(dcp::test::event_as<dcp::InputEvent>(result).id, "tick");
//   EXPECT_NE(dcp::test::node_error_of([] { (void)dcp::init_node(); }).find("DCP_RUNNER_SOCKET"), npos);
//
// Thread safety: the functions may be called from any thread (gtest assertions included); the
// fixture changes the process environment and so belongs to tests that start no thread before
// SetUp or keep one past TearDown. Blocking: none.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <variant>

#include "dcp/node/node.hpp"
#include "support/exception_message.hpp"

namespace dcp::test {

/// The T inside `result`; throws std::runtime_error (a test failure naming what came instead) when
/// the result has no event or another alternative.
template <class T>
T& event_as(dcp::EventResult& result) {
  if (!result.ok()) throw std::runtime_error(std::string("expected an event, got status ") + dcp::to_string(result.status()));
  T* value = std::get_if<T>(&result.event());
  if (value == nullptr) {
    throw std::runtime_error("unexpected event alternative (index " + std::to_string(result.event().index()) + ")");
  }
  return *value;
}

/// The what() of the dcp::NodeError `action` throws (see error_of).
inline std::string node_error_of(const std::function<void()>& action) { return error_of<dcp::NodeError>(action); }

/// Each test starts and ends with none of the variables init_node() reads (a node started by
/// neither the dcp runner nor Dora), so what one test sets never reaches the next.
class CleanNodeEnvironment : public ::testing::Test {
 public:
  static void clear() {
    for (const char* name : {"DCP_NODE_FD", "DCP_RUNNER_SOCKET", "DCP_NODE_ID", "DCP_NODE_SECRET", "DORA_NODE_CONFIG"}) {
      ::unsetenv(name);
    }
  }

 protected:
  void SetUp() override { clear(); }
  void TearDown() override { clear(); }
};

}  // namespace dcp::test
