// tests/support/exception_message.hpp — the message of the exception a call throws, for tests that
// check what an error says rather than only that it was thrown.
//
//   EXPECT_EQ(dcp::test::error_of<std::logic_error>([&] { (void)tx.send(1); }), "dcp::Sender::send: used after move");
//   EXPECT_PRED_FORMAT2(::testing::IsSubstring, "negative timeout",
//                       dcp::test::error_of<std::invalid_argument>([&] { (void)rx.recv_for(-1ms); }));
//
// error_of<E> is the strict one (a test failure when nothing or another type is thrown);
// message_of takes any std::exception and says "(no exception)" when there was none.
// Thread safety: may be called from any thread (gtest assertions included). Blocking: only what
// `action` blocks for.
#pragma once

#include <gtest/gtest.h>

#include <exception>
#include <functional>
#include <string>

namespace dcp::test {

/// The what() of the exception `action` throws, or "(no exception)".
inline std::string message_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

/// The what() of the E that `action` throws; a test failure (and "") when it throws nothing or
/// something else.
template <class E>
std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected another exception type, got: " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected an exception, nothing was thrown";
  return {};
}

}  // namespace dcp::test
