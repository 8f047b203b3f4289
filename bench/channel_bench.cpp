// dcp_channel_bench: Google Benchmark microbenchmarks of dcp channels on their own.
// For the comparison against other queues use dcp_compare / bench/run.sh instead.
//
//   BM_TrySendTryRecv_Uncontended  one thread: try_send then try_recv (no waiting, no contention)
//   BM_SendRecv_SPSC               one producer thread, the benchmark thread receives
//   BM_SendRecv_MPSC_2Producers    two producer threads, the benchmark thread receives
//
// Each benchmark runs for a bounded channel (argument = capacity) and an unbounded one
// (argument 0). Items/s is messages received per second.

#include <dcp/core/channel.hpp>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <thread>
#include <utility>
#include <vector>

namespace {

// Argument 0 means unbounded; anything else is the capacity of a bounded channel.
auto make_channel(std::int64_t capacity) {
  return capacity > 0 ? dcp::bounded<std::uint64_t>(static_cast<std::size_t>(capacity))
                      : dcp::unbounded<std::uint64_t>();
}

void BM_TrySendTryRecv_Uncontended(benchmark::State& state) {
  auto [sender, receiver] = make_channel(state.range(0));
  std::uint64_t value = 0;
  for (auto _ : state) {
    auto sent = sender.try_send(value++);
    auto received = receiver.try_recv();
    if (!sent.ok() || !received.ok()) {
      state.SkipWithError("try_send/try_recv failed on an empty channel");
      break;
    }
    benchmark::DoNotOptimize(*received);
  }
  state.SetItemsProcessed(state.iterations());
}

// Receives state.max_iterations messages sent by `producers` threads (the benchmark thread is
// the consumer; thread start-up happens before the timed loop).
void send_recv_with_producers(benchmark::State& state, int producers) {
  auto [sender, receiver] = make_channel(state.range(0));
  const auto total = static_cast<std::uint64_t>(state.max_iterations);
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    const std::uint64_t count = total / producers + (p < static_cast<int>(total % producers) ? 1 : 0);
    threads.emplace_back([copy = sender, count]() mutable {
      for (std::uint64_t i = 0; i < count; ++i) {
        if (!copy.send(i)) return;
      }
    });
  }
  {
    auto drop = std::move(sender);  // only the producers' copies keep the channel open
  }
  for (auto _ : state) {
    auto received = receiver.recv();
    if (!received.ok()) {
      state.SkipWithError("channel closed before every message arrived");
      break;
    }
    benchmark::DoNotOptimize(*received);
  }
  state.SetItemsProcessed(state.iterations());
  for (auto& thread : threads) thread.join();
}

void BM_SendRecv_SPSC(benchmark::State& state) { send_recv_with_producers(state, 1); }
void BM_SendRecv_MPSC_2Producers(benchmark::State& state) { send_recv_with_producers(state, 2); }

}  // namespace

BENCHMARK(BM_TrySendTryRecv_Uncontended)->Arg(1024)->Arg(0);
BENCHMARK(BM_SendRecv_SPSC)->Arg(1024)->Arg(0)->UseRealTime();
BENCHMARK(BM_SendRecv_MPSC_2Producers)->Arg(1024)->Arg(0)->UseRealTime();

BENCHMARK_MAIN();
