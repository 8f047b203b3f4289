// Tests of dcp::ScopedThread and dcp::ThreadGroup (include/dcp/core/thread.hpp).
//
// Synchronisation: promises, latches and stop tokens; nothing sleeps to "let threads run". Timed waits
// only detect hangs (kHangTimeout, asserted ready).
#include "dcp/core/thread.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <latch>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "dcp/core/detail/thread_name.hpp"
#include "dcp/core/error_report.hpp"

#include "support/hang_timeout.hpp"
#include "support/captured_reports.hpp"

namespace {

using namespace std::chrono_literals;

using dcp::test::kHangTimeout;

using dcp::test::CapturedReports;

/// Blocks until `token` reports stop.
void block_until_stopped(const std::stop_token& token) {
  std::promise<void> stopped;
  std::stop_callback on_stop(token, [&stopped] { stopped.set_value(); });
  stopped.get_future().wait();
}

/// Waits (yielding) until `group` recorded at least `count` errors; false after kHangTimeout.
bool wait_for_errors(const dcp::ThreadGroup& group, std::size_t count) {
  const auto deadline = std::chrono::steady_clock::now() + kHangTimeout;
  while (group.errors().size() < count) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

std::string message_of(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  }
}

// ---------------------------------------------------------------------------------------------------
// ScopedThread
// ---------------------------------------------------------------------------------------------------

TEST(ScopedThread, Join_ThreadReturnedNormally_Returns) {
  std::atomic<bool> ran{false};
  dcp::ScopedThread thread([&ran] { ran = true; });
  EXPECT_TRUE(thread.joinable());
  thread.join();
  EXPECT_TRUE(ran);
  EXPECT_FALSE(thread.joinable());
}

TEST(ScopedThread, Join_ThreadThrew_RethrowsItsException) {
  dcp::ScopedThread thread([] { throw std::runtime_error("imu timeout"); });
  try {
    thread.join();
    FAIL() << "join() must rethrow the thread's exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "imu timeout");
  }
}

TEST(ScopedThread, Join_Twice_ThrowsLogicError) {
  dcp::ScopedThread thread([] {});
  thread.join();
  EXPECT_THROW(thread.join(), std::logic_error);
  dcp::ScopedThread empty;
  EXPECT_THROW(empty.join(), std::logic_error);
}

TEST(ScopedThread, StopToken_SeenByTheThread) {
  std::latch started(1);
  std::promise<bool> saw_stop;
  auto saw_stop_future = saw_stop.get_future();
  dcp::ScopedThread thread([&](std::stop_token stop) {
    started.count_down();
    block_until_stopped(stop);
    saw_stop.set_value(stop.stop_requested());
  });
  started.wait();
  EXPECT_FALSE(thread.get_stop_token().stop_requested());
  EXPECT_TRUE(thread.request_stop());
  EXPECT_FALSE(thread.request_stop()) << "stop was already requested";
  ASSERT_EQ(saw_stop_future.wait_for(kHangTimeout), std::future_status::ready);
  EXPECT_TRUE(saw_stop_future.get());
  thread.join();
}

TEST(ScopedThread, Destructor_RequestsStopAndJoins) {
  std::latch started(1);
  std::atomic<bool> finished{false};
  {
    dcp::ScopedThread thread([&](std::stop_token stop) {
      started.count_down();
      block_until_stopped(stop);  // only the destructor's stop request ends this
      finished = true;
    });
    started.wait();
  }
  EXPECT_TRUE(finished) << "the destructor must have joined the thread";
}

TEST(ScopedThread, Destructor_UncollectedException_ReportedNotThrown) {
  CapturedReports reports;
  {
    dcp::ScopedThread thread([] { throw std::runtime_error("motor driver fault"); }, "motor");
  }  // must not throw or terminate
  EXPECT_EQ(reports.counted(), 1u);
  EXPECT_EQ(reports.lines(), (std::vector<std::string>{
                                 "scoped thread 'motor': the thread exited with an exception that was never "
                                 "joined: motor driver fault"}));
}

TEST(ScopedThread, Destructor_UncollectedExceptionWithoutReporter_WrittenToStderr) {
  testing::internal::CaptureStderr();
  {
    dcp::ScopedThread thread([] { throw std::runtime_error("motor driver fault"); }, "motor");
  }
  const std::string written = testing::internal::GetCapturedStderr();
  EXPECT_EQ(written,
            "dcp: scoped thread 'motor': the thread exited with an exception that was never joined: motor driver fault\n");
}

TEST(ScopedThread, Destructor_ExceptionAlreadyRethrownByJoin_NothingReported) {
  CapturedReports reports;
  {
    dcp::ScopedThread thread([] { throw std::runtime_error("seen"); });
    EXPECT_THROW(thread.join(), std::runtime_error);
  }
  EXPECT_EQ(reports.counted(), 0u);
  EXPECT_TRUE(reports.lines().empty());
}

TEST(ScopedThread, Name_AppliedToTheThread) {
  std::promise<std::string> name;
  auto name_future = name.get_future();
  dcp::ScopedThread thread([&name] { name.set_value(dcp::detail::current_thread_name()); }, "lidar-reader");
  EXPECT_EQ(thread.name(), "lidar-reader");
  EXPECT_EQ(name_future.get(), "lidar-reader");
  thread.join();
}

TEST(ScopedThread, MoveAssignment_JoinsThePreviousThread) {
  std::latch started(1);
  std::atomic<bool> first_finished{false};
  dcp::ScopedThread thread([&](std::stop_token stop) {
    started.count_down();
    block_until_stopped(stop);
    first_finished = true;
  });
  started.wait();
  thread = dcp::ScopedThread([] {});
  EXPECT_TRUE(first_finished) << "move assignment must stop and join the thread it replaces";
  thread.join();
}

TEST(ScopedThread, MoveConstruction_TransfersTheThreadAndItsException) {
  std::latch may_throw(1);
  dcp::ScopedThread original([&may_throw] {
    may_throw.wait();
    throw std::runtime_error("moved");
  });
  dcp::ScopedThread moved(std::move(original));
  EXPECT_FALSE(original.joinable());  // NOLINT(bugprone-use-after-move)
  may_throw.count_down();
  EXPECT_THROW(moved.join(), std::runtime_error);
}

// ---------------------------------------------------------------------------------------------------
// ThreadGroup
// ---------------------------------------------------------------------------------------------------

TEST(ThreadGroup, JoinAll_NoFailures_JoinsEveryThread) {
  std::atomic<int> ran{0};
  dcp::ThreadGroup group;
  for (int i = 0; i < 4; ++i) group.spawn([&ran] { ++ran; });
  EXPECT_EQ(group.size(), 4u);
  group.join_all();
  EXPECT_EQ(ran, 4);
  EXPECT_EQ(group.size(), 0u);
  EXPECT_TRUE(group.errors().empty());
}

TEST(ThreadGroup, JoinAll_RethrowsFirstExceptionAndErrorsKeepsAll) {
  dcp::ThreadGroup group;
  group.spawn([] { throw std::runtime_error("first"); });
  group.spawn([&group] {
    ASSERT_TRUE(wait_for_errors(group, 1));  // fail strictly after "first" was recorded
    throw std::runtime_error("second");
  });
  group.spawn([] {});
  try {
    group.join_all();
    FAIL() << "join_all must rethrow";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "first");
  }
  const auto errors = group.errors();
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(message_of(errors[0]), "first");
  EXPECT_EQ(message_of(errors[1]), "second");
  EXPECT_NO_THROW(group.join_all()) << "each exception is rethrown once";
}

TEST(ThreadGroup, StopOnError_FirstFailureStopsSiblings) {
  dcp::ThreadGroup group({.stop_on_error = true});
  std::latch siblings_started(2);
  std::atomic<int> stopped_siblings{0};
  for (int i = 0; i < 2; ++i) {
    group.spawn([&](std::stop_token stop) {
      siblings_started.count_down();
      block_until_stopped(stop);  // nothing else ever requests stop in this test
      ++stopped_siblings;
    });
  }
  siblings_started.wait();
  group.spawn([] { throw std::runtime_error("estop"); });
  EXPECT_THROW(group.join_all(), std::runtime_error);
  EXPECT_EQ(stopped_siblings, 2);
  EXPECT_TRUE(group.get_stop_token().stop_requested());
}

TEST(ThreadGroup, WithoutStopOnError_SiblingsKeepRunning) {
  dcp::ThreadGroup group;
  std::latch sibling_started(1);
  group.spawn([&sibling_started](std::stop_token stop) {
    sibling_started.count_down();
    block_until_stopped(stop);
  });
  sibling_started.wait();
  group.spawn([] { throw std::runtime_error("local failure"); });
  ASSERT_TRUE(wait_for_errors(group, 1));
  EXPECT_FALSE(group.get_stop_token().stop_requested());
  EXPECT_TRUE(group.request_stop());
  EXPECT_THROW(group.join_all(), std::runtime_error);
}

TEST(ThreadGroup, RequestStop_SeenByEveryThread) {
  dcp::ThreadGroup group;
  constexpr int kThreads = 3;
  std::latch started(kThreads);
  std::atomic<int> saw_stop{0};
  for (int i = 0; i < kThreads; ++i) {
    group.spawn([&](std::stop_token stop) {
      started.count_down();
      block_until_stopped(stop);
      if (stop.stop_requested()) ++saw_stop;
    });
  }
  started.wait();
  group.request_stop();
  group.join_all();
  EXPECT_EQ(saw_stop, kThreads);
}

TEST(ThreadGroup, Destructor_RequestsStopAndJoinsEveryThread) {
  std::atomic<int> finished{0};
  {
    dcp::ThreadGroup group;
    std::latch started(2);
    for (int i = 0; i < 2; ++i) {
      group.spawn([&](std::stop_token stop) {
        started.count_down();
        block_until_stopped(stop);
        ++finished;
      });
    }
    group.spawn([&finished] { ++finished; });  // a plain f() is fine too
    started.wait();
  }
  EXPECT_EQ(finished, 3);
}

TEST(ThreadGroup, Destructor_UncollectedExceptions_EachReportedNotThrown) {
  CapturedReports reports;
  {
    dcp::ThreadGroup group;
    group.spawn([] { throw std::runtime_error("gripper jammed"); }, "gripper");
    group.spawn([] { throw std::runtime_error("no name"); });
    ASSERT_TRUE(wait_for_errors(group, 2));
  }
  EXPECT_EQ(reports.counted(), 2u);
  std::vector<std::string> lines = reports.lines();
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "thread group thread 'gripper': the thread exited with an exception that was never joined: "
                       "gripper jammed",
                       "thread group thread (unnamed): the thread exited with an exception that was never joined: no name"}));
}

TEST(ThreadGroup, Names_AppliedToEachThread) {
  dcp::ThreadGroup group;
  std::promise<std::string> a;
  std::promise<std::string> b;
  group.spawn([&a] { a.set_value(dcp::detail::current_thread_name()); }, "camera-left");
  group.spawn([&b] { b.set_value(dcp::detail::current_thread_name()); }, "camera-right-stereo");
  EXPECT_EQ(a.get_future().get(), "camera-left");
  EXPECT_EQ(b.get_future().get(), "camera-right-st");  // truncated to 15 characters
  group.join_all();
}

TEST(ThreadGroup, Spawn_AfterRequestStop_ThreadStartsStopped) {
  dcp::ThreadGroup group;
  group.request_stop();
  std::promise<bool> stopped;
  group.spawn([&stopped](std::stop_token stop) { stopped.set_value(stop.stop_requested()); });
  EXPECT_TRUE(stopped.get_future().get());
  group.join_all();
}

}  // namespace
