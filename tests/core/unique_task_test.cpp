// Tests of dcp::detail::UniqueTask (core/include/dcp/core/detail/unique_task.hpp), the move-only type-erased
// callable the WorkerPool queues.
#include "dcp/core/detail/unique_task.hpp"

#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

namespace {

using dcp::detail::UniqueTask;

static_assert(std::is_nothrow_move_constructible_v<UniqueTask<void()>>, "dcp channels require it");
static_assert(std::is_nothrow_move_assignable_v<UniqueTask<void()>>);
static_assert(std::is_nothrow_destructible_v<UniqueTask<void()>>);
static_assert(!std::is_copy_constructible_v<UniqueTask<void()>>);

/// Counts live instances, so tests can check that every callable is destroyed exactly once.
struct Tracked {
  static inline int alive = 0;
  int* calls;
  explicit Tracked(int* c) : calls(c) { ++alive; }
  Tracked(Tracked&& other) noexcept : calls(other.calls) { ++alive; }
  Tracked(const Tracked&) = delete;
  ~Tracked() { --alive; }
  void operator()() const { ++*calls; }
};

/// Too large to be stored inline.
struct Large {
  std::array<char, 256> bytes{};
  int operator()(int x) const { return x + bytes[0]; }
};

/// Stored on the heap because its move constructor may throw.
struct ThrowingMove {
  ThrowingMove() = default;
  ThrowingMove(ThrowingMove&&) noexcept(false) {}
  int operator()() const { return 5; }
};

TEST(UniqueTask, Empty_ByDefault) {
  UniqueTask<void()> task;
  EXPECT_FALSE(task);
}

TEST(UniqueTask, Invoke_SmallCallable_ReturnsItsResult) {
  UniqueTask<int(int, int)> add([](int a, int b) { return a + b; });
  ASSERT_TRUE(add);
  EXPECT_EQ(add(2, 3), 5);
}

TEST(UniqueTask, Invoke_LargeCallable_StoredOnHeapAndWorks) {
  Large large;
  large.bytes[0] = 1;
  UniqueTask<int(int)> task(large);
  EXPECT_EQ(task(41), 42);
  UniqueTask<int(int)> moved(std::move(task));
  EXPECT_FALSE(task);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(moved(1), 2);
}

TEST(UniqueTask, Invoke_ThrowingMoveCallable_StillNothrowMovable) {
  UniqueTask<int()> task{ThrowingMove{}};
  UniqueTask<int()> moved(std::move(task));
  EXPECT_EQ(moved(), 5);
}

TEST(UniqueTask, MoveOnlyCallable_IsAccepted) {
  auto value = std::make_unique<std::string>("frame");
  UniqueTask<std::string()> task([value = std::move(value)] { return *value; });
  UniqueTask<std::string()> moved = std::move(task);
  EXPECT_EQ(moved(), "frame");
}

TEST(UniqueTask, Destruction_DestroysTheCallableExactlyOnce) {
  int calls = 0;
  {
    UniqueTask<void()> task{Tracked(&calls)};
    EXPECT_EQ(Tracked::alive, 1);
    UniqueTask<void()> moved(std::move(task));
    EXPECT_EQ(Tracked::alive, 1);
    moved();
    UniqueTask<void()> assigned;
    assigned = std::move(moved);
    assigned();
    EXPECT_EQ(Tracked::alive, 1);
  }
  EXPECT_EQ(Tracked::alive, 0);
  EXPECT_EQ(calls, 2);
}

TEST(UniqueTask, MoveAssignment_DestroysThePreviousCallable) {
  int calls = 0;
  UniqueTask<void()> task{Tracked(&calls)};
  task = UniqueTask<void()>([] {});
  EXPECT_EQ(Tracked::alive, 0);
  task.reset();
  EXPECT_FALSE(task);
}

TEST(UniqueTask, VoidSignature_DiscardsTheResult) {
  int calls = 0;
  UniqueTask<void()> task([&calls] { return ++calls; });
  task();
  EXPECT_EQ(calls, 1);
}

}  // namespace
