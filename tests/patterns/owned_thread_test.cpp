// Tests of dcp::detail::OwnedThread (patterns/include/dcp/patterns/detail/owned_thread.hpp), the
// one owned-thread helper of every pattern that runs its own thread.
//
// Synchronisation: std::latch / std::promise between the test and the owned thread; the timeouts
// only catch hangs.
#include "dcp/patterns/detail/owned_thread.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <latch>
#include <mutex>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>

#include "dcp/core/detail/thread_name.hpp"
#include "dcp/core/error_report.hpp"

namespace {

using namespace std::chrono_literals;
using dcp::detail::OwnedThread;

constexpr auto kHang = 10s;

// A capturing reporter (a plain function pointer, as dcp::ErrorReporter requires).
std::atomic<int> g_reported{0};
std::string g_last_source;  // written by the reporting thread, read after its join
std::string g_last_message;
void capture(std::string_view source, std::string_view message) noexcept {
  g_last_source = std::string(source);
  g_last_message = std::string(message);
  g_reported.fetch_add(1, std::memory_order_release);
}

struct CapturedReports {
  CapturedReports() : previous(dcp::set_error_reporter(&capture)) { g_reported.store(0); }
  ~CapturedReports() { dcp::set_error_reporter(previous); }
  dcp::ErrorReporter previous;
};

TEST(OwnedThread, Start_RunsTheBodyOnANamedThreadThatKnowsItIsOwned) {
  OwnedThread thread;
  EXPECT_FALSE(thread.started());
  std::promise<std::pair<std::string, bool>> seen;
  thread.start("dcp-owned-test", [&](std::stop_token) {
    seen.set_value({dcp::detail::current_thread_name(), thread.is_owned_thread()});
  });
  EXPECT_TRUE(thread.started());
  EXPECT_EQ(thread.name(), "dcp-owned-test");
  auto future = seen.get_future();
  ASSERT_EQ(future.wait_for(kHang), std::future_status::ready);
  const auto [name, owned] = future.get();
  EXPECT_EQ(name, "dcp-owned-test");
  EXPECT_TRUE(owned);
  EXPECT_FALSE(thread.is_owned_thread());  // the test thread is not the owned one
  EXPECT_TRUE(thread.join());
}

TEST(OwnedThread, StartTwice_ThrowsLogicError) {
  OwnedThread thread;
  thread.start("first", [](std::stop_token) {});
  EXPECT_THROW(thread.start("second", [](std::stop_token) {}), std::logic_error);
}

TEST(OwnedThread, RequestStop_ReachesTheBodysTokenAndJoinWaitsForItsEnd) {
  OwnedThread thread;
  std::atomic<bool> body_ended{false};
  std::latch running(1);
  thread.start("stop-test", [&](std::stop_token stop) {
    running.count_down();
    std::mutex mutex;
    std::condition_variable_any wake;
    std::unique_lock lock(mutex);
    wake.wait(lock, stop, [] { return false; });  // returns on the stop request
    body_ended.store(true);
  });
  running.wait();
  EXPECT_FALSE(thread.stop_requested());
  EXPECT_TRUE(thread.request_stop());
  EXPECT_FALSE(thread.request_stop());  // already requested
  EXPECT_TRUE(thread.join());
  EXPECT_TRUE(body_ended.load());  // join returned after the body
  EXPECT_TRUE(thread.join());      // idempotent
}

TEST(OwnedThread, RequestStopBeforeStart_BodyStartsWithAStoppedToken) {
  OwnedThread thread;
  thread.request_stop();
  std::promise<bool> stopped;
  thread.start("prestopped", [&](std::stop_token stop) { stopped.set_value(stop.stop_requested()); });
  auto future = stopped.get_future();
  ASSERT_EQ(future.wait_for(kHang), std::future_status::ready);
  EXPECT_TRUE(future.get());
}

TEST(OwnedThread, JoinFromTheOwnedThread_ReturnsFalseWithoutJoining) {
  OwnedThread thread;
  std::promise<bool> joined;
  thread.start("self-join", [&](std::stop_token) { joined.set_value(thread.join()); });
  auto future = joined.get_future();
  ASSERT_EQ(future.wait_for(kHang), std::future_status::ready);
  EXPECT_FALSE(future.get());
  EXPECT_TRUE(thread.join());  // the owner joins afterwards
}

TEST(OwnedThread, JoinWithoutStart_ReturnsTrueAtOnce) {
  OwnedThread thread;
  EXPECT_TRUE(thread.join());
}

TEST(OwnedThread, ConcurrentJoins_AllReturnAfterTheBody) {
  OwnedThread thread;
  std::atomic<bool> body_ended{false};
  thread.start("joined-twice", [&](std::stop_token stop) {
    while (!stop.stop_requested()) std::this_thread::yield();
    body_ended.store(true);
  });
  std::atomic<int> saw_end{0};
  std::thread other([&] {
    if (thread.join() && body_ended.load()) saw_end.fetch_add(1);
  });
  thread.request_stop();
  if (thread.join() && body_ended.load()) saw_end.fetch_add(1);
  other.join();
  EXPECT_EQ(saw_end.load(), 2);
}

TEST(OwnedThread, BodyThrows_ReportedWithTheThreadsName) {
  CapturedReports reports;
  {
    OwnedThread thread;
    thread.start("thrower", [](std::stop_token) { throw std::runtime_error("sensor gone"); });
    ASSERT_TRUE(thread.join());
  }
  ASSERT_EQ(g_reported.load(std::memory_order_acquire), 1);
  EXPECT_EQ(g_last_source, "thread 'thrower'");
  EXPECT_NE(g_last_message.find("sensor gone"), std::string::npos) << g_last_message;
}

TEST(OwnedThread, Destructor_RequestsStopAndJoins) {
  std::atomic<bool> body_ended{false};
  std::latch running(1);
  {
    OwnedThread thread;
    thread.start("destroyed", [&](std::stop_token stop) {
      running.count_down();
      while (!stop.stop_requested()) std::this_thread::yield();
      body_ended.store(true);
    });
    running.wait();
  }
  EXPECT_TRUE(body_ended.load());
}

TEST(OwnedThreadDeathTest, DestroyedFromTheOwnedThread_ReportsAndAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        auto* thread = new OwnedThread;
        std::latch never(1);
        thread->start("suicidal", [thread](std::stop_token) { delete thread; });
        never.wait();  // the owned thread aborts the process first
      },
      "thread 'suicidal': destroyed from its own thread");
}

}  // namespace
