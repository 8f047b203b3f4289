// tests/support/hang_timeout.hpp — the one timeout the tests use to turn a hang into a failure.
//
// A test waits for an event it expects (a future, a flush, a receive) with kHangTimeout; a correct
// program gets there long before, so the wait never decides a result and nothing sleeps for it. It
// is generous because the machines running the tests are shared and the sanitizer builds are several
// times slower; a shorter wait would only make a slow machine look like a hang.
// Thread safety: a constant. Blocking: none.
#pragma once

#include <chrono>

namespace dcp::test {

/// The longest a test waits for something that should already have happened.
inline constexpr std::chrono::seconds kHangTimeout{30};

}  // namespace dcp::test
