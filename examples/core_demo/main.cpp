// dcp core demo — a Dora-style node in miniature, built only from the core.
//
// The shape of every dcp node:
//   event loop thread  --(frames)-->  worker pool  --(results)-->  output thread
// The event loop never blocks on heavy work: it hands each frame to the pool. Only the output
// thread "sends outputs" (in a real node it owns Dora's output sender). A stop event closes the
// event stream; the pool drains, the results channel closes, and the output thread ends by itself.
//
// Usage: dcp_core_demo [frames] [workers]     (defaults: 200 frames, 2 workers)
#include <dcp/core/channel.hpp>
#include <dcp/core/select.hpp>
#include <dcp/core/worker_pool.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

struct Frame {
  int seq;
  std::vector<float> ranges;  // a synthetic lidar scan
};

struct Result {
  int seq;
  float nearest;
  std::chrono::steady_clock::duration latency;
};

Frame make_frame(int seq) {
  Frame f{seq, std::vector<float>(20'000)};
  for (std::size_t i = 0; i < f.ranges.size(); ++i) {
    f.ranges[i] = 2.0f + std::sin(static_cast<float>(i) * 0.001f + static_cast<float>(seq) * 0.1f);
  }
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  const int frames = argc > 1 ? std::atoi(argv[1]) : 200;
  const std::size_t workers = argc > 2 ? static_cast<std::size_t>(std::atoi(argv[2])) : 2;
  if (frames <= 0 || workers == 0) {
    std::fprintf(stderr, "usage: dcp_core_demo [frames > 0] [workers > 0]\n");
    return 2;
  }

  // Events as Dora would deliver them: sensor frames, and a separate stop signal.
  auto [frame_tx, frame_rx] = dcp::bounded<Frame>(16);
  auto [stop_tx, stop_rx] = dcp::bounded<bool>(1);
  auto [result_tx, result_rx] = dcp::bounded<Result>(64);

  // The output thread: the only one that "sends outputs". Ends when every result sender is gone.
  std::jthread output([rx = std::move(result_rx), frames]() mutable {
    int received = 0;
    float nearest_overall = 1e9f;
    std::chrono::steady_clock::duration worst{};
    for (Result& r : rx) {
      ++received;
      nearest_overall = std::min(nearest_overall, r.nearest);
      worst = std::max(worst, r.latency);
      if (r.seq % 50 == 0) std::printf("output: frame %4d nearest obstacle %.3f m\n", r.seq, r.nearest);
    }
    std::printf("output: %d of %d frames processed, nearest %.3f m, worst latency %.2f ms\n", received, frames,
                nearest_overall, std::chrono::duration<double, std::milli>(worst).count());
  });

  // A sensor thread produces frames, then the "stop" event.
  std::jthread sensor([tx = std::move(frame_tx), stop = std::move(stop_tx), frames]() mutable {
    for (int seq = 0; seq < frames; ++seq) (void)tx.send(make_frame(seq));
    (void)stop.send(true);
  });

  // The event loop: select over the event sources, hand heavy work to the pool, never block on it.
  dcp::WorkerPool pool(dcp::WorkerPool::Options{.threads = workers, .name = "demo-worker"});
  const auto dispatch = [&pool, &result_tx](Frame frame) {
    pool.post([frame = std::move(frame), tx = result_tx, received_at = std::chrono::steady_clock::now()]() mutable {
      const float nearest = *std::min_element(frame.ranges.begin(), frame.ranges.end());
      (void)tx.send(Result{frame.seq, nearest, std::chrono::steady_clock::now() - received_at});
    });
  };
  bool running = true;
  while (running) {
    switch (dcp::select(frame_rx, stop_rx)) {
      case 0:
        if (auto event = frame_rx.try_recv()) dispatch(std::move(*event));
        break;
      case 1:
        // Stop: take the frames that are still queued, then stop reading events.
        while (auto event = frame_rx.try_recv()) dispatch(std::move(*event));
        running = false;
        break;
    }
  }
  std::printf("event loop: stop received, draining %zu queued tasks\n", pool.queued());
  pool.shutdown(dcp::ShutdownMode::drain);
  result_tx.close();  // the output thread drains what is left and ends
  output.join();
  std::printf("demo: pool completed %llu tasks, %llu failed\n", static_cast<unsigned long long>(pool.completed()),
              static_cast<unsigned long long>(pool.failed()));
  return pool.completed() == static_cast<std::uint64_t>(frames) ? 0 : 1;
}
