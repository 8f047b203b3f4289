// dcp_watchdog_bench — a watchdog feed() under a plain std::mutex against the lock-free feed dcp
// shipped before, side by side in one run, with 1 and 2 feeding threads.
//
// The question (from the issue): "A watchdog feed() under a plain mutex is enough if the benchmark
// shows no loss; measure before choosing." Three feeds, each with 8 watched inputs:
//   lockfree  the previous dcp::Watchdog::feed(), reproduced here: hash the id, scan a compact
//             array of atomic hashes, pin the slot (seq_cst increment), re-check its key, compare
//             the id, exchange the timestamp, unpin.
//   mutex     the same work under one std::mutex (hash, scan, compare, store the timestamp).
//   watchdog  dcp::Watchdog::feed() as shipped now (a mutex feed, with its shutdown check).
//
//   dcp_watchdog_bench                                   Google Benchmark, wall time per feed
//   dcp_watchdog_bench --feeds <lockfree|mutex|watchdog> <n> [threads]
//       runs n feeds per thread and exits: for instruction counts under valgrind --tool=callgrind
//       (run it with two values of n; the difference divided by the extra feeds is the cost of one).
#include <benchmark/benchmark.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "dcp/patterns/watchdog.hpp"
#include "watch_key.hpp"  // patterns/src: the watchdog's private key function

namespace {

using namespace std::chrono_literals;

constexpr std::array<std::string_view, 8> kInputs = {"imu", "lidar", "camera", "odometry",
                                                     "gps", "bumper", "battery", "joystick"};
constexpr std::string_view kFedInput = "odometry";  // the 4th: the scan is not trivially short

/// The input's key, as dcp::Watchdog computes it (patterns/src/watch_key.hpp).
std::uint64_t key_of(std::string_view id) noexcept { return dcp::detail::watch_key(id); }

/// The feed timestamp both feeds store (steady clock, ns).
std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// The alternative: the same feed, under one plain mutex.
class MutexFeed {
 public:
  MutexFeed() {
    for (std::size_t i = 0; i < kInputs.size(); ++i) {
      ids_[i] = std::string(kInputs[i]);
      keys_[i] = key_of(kInputs[i]);
    }
  }

  [[gnu::noinline]] bool feed(std::string_view input_id) noexcept {
    const std::uint64_t key = key_of(input_id);
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < kInputs.size(); ++i) {
      if (keys_[i] != key || ids_[i] != input_id) continue;
      const std::int64_t before = fed_at_[i];
      fed_at_[i] = now_ns() & ~std::int64_t{1};
      if ((before & 1) != 0) wake_pending_ = true;  // the real one would notify the thread here
      return true;
    }
    return false;
  }

 private:
  std::mutex mutex_;
  std::array<std::uint64_t, kInputs.size()> keys_{};
  std::array<std::string, kInputs.size()> ids_;
  std::array<std::int64_t, kInputs.size()> fed_at_{};
  bool wake_pending_ = false;
};

/// One watchdog for every benchmark and thread (function-local static: created once, thread-safe).
/// The lock-free feed dcp::Watchdog had before (watchdog.hpp up to commit 9407c25), reduced to feed().
class LockFreeFeed {
 public:
  LockFreeFeed() {
    for (std::size_t i = 0; i < kInputs.size(); ++i) {
      slots_[i].id = std::string(kInputs[i]);
      keys_[i].store(key_of(kInputs[i]), std::memory_order_relaxed);
    }
  }

  [[gnu::noinline]] bool feed(std::string_view input_id) noexcept {
    const std::uint64_t key = key_of(input_id);
    const std::size_t count = slot_count_.load(std::memory_order_acquire);
    for (std::size_t i = 0; i < count; ++i) {
      if (keys_[i].load(std::memory_order_relaxed) != key) continue;
      Slot& slot = slots_[i];
      slot.pins.fetch_add(1, std::memory_order_seq_cst);
      const bool match = keys_[i].load(std::memory_order_seq_cst) == key && slot.id == input_id;
      std::int64_t before = 0;
      if (match) before = slot.fed_at.exchange(now_ns() & ~std::int64_t{1}, std::memory_order_acq_rel);
      slot.pins.fetch_sub(1, std::memory_order_release);
      if (!match) continue;
      if ((before & 1) != 0) wake_pending_.store(true, std::memory_order_relaxed);  // would take the mutex
      return true;
    }
    return false;
  }

 private:
  struct alignas(64) Slot {
    std::atomic<std::uint32_t> pins{0};
    std::atomic<std::int64_t> fed_at{0};
    std::string id;
  };
  std::array<std::atomic<std::uint64_t>, kInputs.size()> keys_{};
  std::array<Slot, kInputs.size()> slots_;
  std::atomic<std::size_t> slot_count_{kInputs.size()};
  std::atomic<bool> wake_pending_{false};
};

LockFreeFeed& shared_lock_free_feed() {
  static LockFreeFeed feed;
  return feed;
}

dcp::Watchdog& shared_watchdog() {
  static dcp::Watchdog* const watchdog = [] {
    auto* w = new dcp::Watchdog([](std::string_view, std::chrono::nanoseconds) {}, {.name = "bench-watchdog"});
    for (std::string_view id : kInputs) w->watch(std::string(id), 1h);  // never fires during the run
    return w;
  }();
  return *watchdog;
}

MutexFeed& shared_mutex_feed() {
  static MutexFeed feed;
  return feed;
}

void BM_Feed_LockFree(benchmark::State& state) {
  LockFreeFeed& feed = shared_lock_free_feed();
  for (auto _ : state) benchmark::DoNotOptimize(feed.feed(kFedInput));
  state.SetItemsProcessed(state.iterations());
}

void BM_Feed_Watchdog(benchmark::State& state) {
  dcp::Watchdog& watchdog = shared_watchdog();
  for (auto _ : state) benchmark::DoNotOptimize(watchdog.feed(kFedInput));
  state.SetItemsProcessed(state.iterations());
}

void BM_Feed_Mutex(benchmark::State& state) {
  MutexFeed& feed = shared_mutex_feed();
  for (auto _ : state) benchmark::DoNotOptimize(feed.feed(kFedInput));
  state.SetItemsProcessed(state.iterations());
}

// Interleaved so that both see the same machine load.
BENCHMARK(BM_Feed_LockFree)->Threads(1)->UseRealTime();
BENCHMARK(BM_Feed_Mutex)->Threads(1)->UseRealTime();
BENCHMARK(BM_Feed_Watchdog)->Threads(1)->UseRealTime();
BENCHMARK(BM_Feed_LockFree)->Threads(2)->UseRealTime();
BENCHMARK(BM_Feed_Mutex)->Threads(2)->UseRealTime();
BENCHMARK(BM_Feed_Watchdog)->Threads(2)->UseRealTime();

int run_feeds(std::string_view impl, long feeds, int threads) {
  std::vector<std::thread> workers;
  std::atomic<long> landed{0};
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      long ok = 0;
      if (impl == "lockfree") {
        LockFreeFeed& feed = shared_lock_free_feed();
        for (long i = 0; i < feeds; ++i) ok += feed.feed(kFedInput) ? 1 : 0;
      } else if (impl == "watchdog") {
        dcp::Watchdog& watchdog = shared_watchdog();
        for (long i = 0; i < feeds; ++i) ok += watchdog.feed(kFedInput) ? 1 : 0;
      } else {
        MutexFeed& feed = shared_mutex_feed();
        for (long i = 0; i < feeds; ++i) ok += feed.feed(kFedInput) ? 1 : 0;
      }
      landed += ok;
    });
  }
  for (auto& w : workers) w.join();
  std::cout << impl << ": " << landed.load() << " feeds landed on " << threads << " thread(s)\n";
  return landed.load() == feeds * threads ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 4 && std::strcmp(argv[1], "--feeds") == 0) {
    const std::string_view impl = argv[2];
    if (impl != "lockfree" && impl != "mutex" && impl != "watchdog") {
      std::cerr << "dcp_watchdog_bench: --feeds wants lockfree, mutex or watchdog\n";
      return 2;
    }
    return run_feeds(impl, std::atol(argv[3]), argc >= 5 ? std::atoi(argv[4]) : 1);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
