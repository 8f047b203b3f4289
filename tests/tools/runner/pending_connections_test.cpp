// Tests of the bounds on connections that have not said Hello (tools/runner/pending_connections.hpp).
#include "runner/pending_connections.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <vector>

namespace {

using dcp::runner::PendingConnections;
using namespace std::chrono_literals;

const PendingConnections::Clock::time_point kStart{};

TEST(PendingConnections, AdmitBeyondTheLimit_IsRefusedAndCounted) {
  PendingConnections pending(2, 5s);
  EXPECT_TRUE(pending.admit(1, kStart));
  EXPECT_TRUE(pending.admit(2, kStart));
  EXPECT_FALSE(pending.admit(3, kStart));
  EXPECT_EQ(pending.refused(), 1u);
  EXPECT_EQ(pending.waiting(), 2u);
}

TEST(PendingConnections, ForgottenConnection_FreesItsPlace) {
  PendingConnections pending(1, 5s);
  EXPECT_TRUE(pending.admit(1, kStart));
  pending.forget(1);
  EXPECT_TRUE(pending.admit(2, kStart));
  EXPECT_EQ(pending.refused(), 0u);
}

TEST(PendingConnections, Expired_ReturnsOnlyThoseWhoseTimeRanOut_OldestFirst) {
  PendingConnections pending(8, 100ms);
  ASSERT_TRUE(pending.admit(1, kStart));
  ASSERT_TRUE(pending.admit(2, kStart + 10ms));
  ASSERT_TRUE(pending.admit(3, kStart + 50ms));
  EXPECT_TRUE(pending.expired(kStart + 99ms).empty());
  EXPECT_EQ(pending.expired(kStart + 110ms), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(pending.timed_out(), 2u);
  EXPECT_EQ(pending.next_deadline(), kStart + 150ms);
}

TEST(PendingConnections, ForgottenConnection_NeverExpires) {
  PendingConnections pending(8, 100ms);
  ASSERT_TRUE(pending.admit(1, kStart));
  pending.forget(1);
  EXPECT_TRUE(pending.expired(kStart + 1s).empty());
  EXPECT_FALSE(pending.next_deadline().has_value());
  EXPECT_EQ(pending.timed_out(), 0u);
}

}  // namespace
