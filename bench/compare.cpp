// dcp_compare: side-by-side comparison of dcp's channel and worker pool against what a user would
// pick instead, on the same workloads, in one run.
//
// Contenders (C++; the Rust peers are in bench/rust/):
//   dcp (bounded, unbounded)                   blocking send when full, blocking recv
//   mutex+condvar+deque (bounded, unbounded)   the queue everyone writes by hand
//   moodycamel::BlockingConcurrentQueue        unbounded only; enqueue / wait_dequeue
//   tbb::concurrent_bounded_queue              bounded (set_capacity) and unbounded; push / pop block
//   boost::lockfree::queue                     bounded (fixed_sized) and unbounded; it has no
//                                              blocking operations, so push-when-full and
//                                              pop-when-empty spin, then yield ("spin/yield")
//
// Workloads (see docs/benchmarks.md):
//   mpsc_throughput  1, 2 and 4 producers each send a numbered sequence to one consumer, which
//                    checks every message (per-producer order, total count, checksum).
//   ping_pong        two threads, two queues; per-round-trip latency, median and p99.
//   thread_per_event E tiny events: dcp::WorkerPool submit-all-then-get-all vs one std::thread
//                    spawned (and later joined) per event.
//
// Output: one JSON object per line on stdout (progress goes to stderr). Any failed check prints
// "CHECK FAILED" to stderr and exits with status 1. Threads are not pinned (the reference machine
// has 2 shared cores); every repetition runs every contender once, so drift hits all of them.

#include <dcp/core/channel.hpp>
#include <dcp/core/worker_pool.hpp>

#include <concurrentqueue/blockingconcurrentqueue.h>

#include <boost/lockfree/policies.hpp>
#include <boost/lockfree/queue.hpp>
#include <tbb/concurrent_queue.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "CHECK FAILED: %s\n", what.c_str());
  std::fflush(stderr);
  std::_Exit(1);  // threads may still be blocked in a queue; do not try to unwind them
}

double seconds_between(Clock::time_point begin, Clock::time_point end) {
  return std::chrono::duration<double>(end - begin).count();
}

// Spin briefly, then give the core away: on 2 cores a pure spin starves the thread it waits for.
class Backoff {
 public:
  void wait() {
    if (spins_ < 64) {
      ++spins_;
    } else {
      std::this_thread::yield();
    }
  }

 private:
  int spins_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Queue adapters. Each has: explicit Adapter(std::size_t capacity) (0 = unbounded),
// producer() -> a handle with push(uint64_t) to move into one producer thread, seal() after all
// producer handles exist, pop() for the single consumer, verify_closed() after producers are done.

class DcpChannel {
 public:
  explicit DcpChannel(std::size_t capacity) {
    if (capacity > 0) {
      auto [sender, receiver] = dcp::bounded<std::uint64_t>(capacity);
      sender_.emplace(std::move(sender));
      receiver_.emplace(std::move(receiver));
    } else {
      auto [sender, receiver] = dcp::unbounded<std::uint64_t>();
      sender_.emplace(std::move(sender));
      receiver_.emplace(std::move(receiver));
    }
  }

  class Producer {
   public:
    explicit Producer(dcp::Sender<std::uint64_t> sender) : sender_(std::move(sender)) {}
    void push(std::uint64_t value) {
      if (!sender_.send(value)) fail("dcp: send failed while the receiver is alive");
    }

   private:
    dcp::Sender<std::uint64_t> sender_;
  };

  Producer producer() { return Producer(*sender_); }
  void seal() { sender_.reset(); }  // from now on only the producers' copies keep it open

  std::uint64_t pop() {
    auto result = receiver_->recv();
    if (!result.ok()) fail("dcp: recv returned no value before all messages arrived");
    return *result;
  }

  // Once every Sender copy is destroyed the receiver must report closed (the queue is drained).
  void verify_closed() {
    auto result = receiver_->recv();
    if (result.status() != dcp::RecvStatus::closed) {
      fail("dcp: recv after the last sender was dropped did not report closed");
    }
  }

 private:
  std::optional<dcp::Sender<std::uint64_t>> sender_;
  std::optional<dcp::Receiver<std::uint64_t>> receiver_;
};

// The hand-written queue: one mutex, two condition variables, a deque.
class MutexQueue {
 public:
  explicit MutexQueue(std::size_t capacity) : capacity_(capacity) {}

  void push(std::uint64_t value) {
    std::unique_lock lock(mutex_);
    if (capacity_ > 0) not_full_.wait(lock, [&] { return items_.size() < capacity_; });
    items_.push_back(value);
    lock.unlock();
    not_empty_.notify_one();
  }

  std::uint64_t pop() {
    std::unique_lock lock(mutex_);
    not_empty_.wait(lock, [&] { return !items_.empty(); });
    std::uint64_t value = items_.front();
    items_.pop_front();
    lock.unlock();
    if (capacity_ > 0) not_full_.notify_one();
    return value;
  }

 private:
  std::size_t capacity_;
  std::mutex mutex_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<std::uint64_t> items_;
};

class MoodycamelQueue {
 public:
  explicit MoodycamelQueue(std::size_t /*unbounded only*/) {}
  void push(std::uint64_t value) {
    if (!queue_.enqueue(value)) fail("moodycamel: enqueue failed (allocation)");
  }
  std::uint64_t pop() {
    std::uint64_t value = 0;
    queue_.wait_dequeue(value);
    return value;
  }

 private:
  moodycamel::BlockingConcurrentQueue<std::uint64_t> queue_;
};

class TbbQueue {
 public:
  explicit TbbQueue(std::size_t capacity) {
    if (capacity > 0) queue_.set_capacity(static_cast<std::ptrdiff_t>(capacity));
  }
  void push(std::uint64_t value) { queue_.push(value); }
  std::uint64_t pop() {
    std::uint64_t value = 0;
    queue_.pop(value);
    return value;
  }

 private:
  tbb::concurrent_bounded_queue<std::uint64_t> queue_;
};

// boost::lockfree::queue has only non-blocking push/pop; waiting is spin-then-yield.
// Bounded: fixed_sized node pool of `capacity` (push fails when full). Unbounded: the node pool
// grows on demand.
class BoostLockfreeQueue {
 public:
  explicit BoostLockfreeQueue(std::size_t capacity)
      : bounded_(capacity > 0), queue_(capacity > 0 ? capacity : 1024) {}

  void push(std::uint64_t value) {
    Backoff backoff;
    if (bounded_) {
      while (!queue_.bounded_push(value)) backoff.wait();
    } else {
      while (!queue_.push(value)) backoff.wait();
    }
  }

  std::uint64_t pop() {
    std::uint64_t value = 0;
    Backoff backoff;
    while (!queue_.pop(value)) backoff.wait();
    return value;
  }

 private:
  bool bounded_;
  boost::lockfree::queue<std::uint64_t> queue_;
};

// Gives a plain thread-safe queue the adapter shape (producer handles are just pointers).
template <class Queue>
class Shared {
 public:
  explicit Shared(std::size_t capacity) : queue_(capacity) {}

  class Producer {
   public:
    explicit Producer(Queue* queue) : queue_(queue) {}
    void push(std::uint64_t value) { queue_->push(value); }

   private:
    Queue* queue_;
  };

  Producer producer() { return Producer(&queue_); }
  void seal() {}
  std::uint64_t pop() { return queue_.pop(); }
  void verify_closed() {}

 private:
  Queue queue_;
};

// ---------------------------------------------------------------------------------------------
// Workloads.

// A message carries its producer in the top bits and its sequence number in the low 40 bits.
constexpr int kSequenceBits = 40;
constexpr std::uint64_t kSequenceMask = (std::uint64_t{1} << kSequenceBits) - 1;

std::uint64_t encode(int producer, std::uint64_t sequence) {
  return (static_cast<std::uint64_t>(producer) << kSequenceBits) | sequence;
}

// Waits until `count` threads have arrived, then releases them all at once.
class StartLine {
 public:
  void arrive_and_wait() {
    arrived_.fetch_add(1);
    while (!go_.load(std::memory_order_acquire)) std::this_thread::yield();
  }
  void wait_for(int count) const {
    while (arrived_.load() < count) std::this_thread::yield();
  }
  void release() { go_.store(true, std::memory_order_release); }

 private:
  std::atomic<int> arrived_{0};
  std::atomic<bool> go_{false};
};

// Returns messages per second; checks every message.
template <class Adapter>
double run_throughput(const std::string& label, std::size_t capacity, int producers,
                      std::uint64_t per_producer) {
  Adapter channel(capacity);
  StartLine start;
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(producers));
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&start, p, per_producer, handle = channel.producer()]() mutable {
      auto local = std::move(handle);  // destroyed when this thread is done, not later
      start.arrive_and_wait();
      for (std::uint64_t s = 0; s < per_producer; ++s) local.push(encode(p, s));
    });
  }
  channel.seal();
  start.wait_for(producers);

  const std::uint64_t total = per_producer * static_cast<std::uint64_t>(producers);
  std::vector<std::uint64_t> next(static_cast<std::size_t>(producers), 0);
  std::uint64_t checksum = 0;
  const auto begin = Clock::now();
  start.release();
  for (std::uint64_t i = 0; i < total; ++i) {
    const std::uint64_t value = channel.pop();
    const std::uint64_t producer = value >> kSequenceBits;
    const std::uint64_t sequence = value & kSequenceMask;
    if (producer >= next.size() || sequence != next[producer]) {
      fail(label + ": message " + std::to_string(i) + " is producer " + std::to_string(producer) +
           " seq " + std::to_string(sequence) + ", expected seq " +
           (producer < next.size() ? std::to_string(next[producer]) : std::string("<none>")));
    }
    ++next[producer];
    checksum += value;
  }
  const auto end = Clock::now();
  for (auto& thread : threads) thread.join();
  channel.verify_closed();

  std::uint64_t expected = 0;
  for (int p = 0; p < producers; ++p) {
    expected += encode(p, 0) * per_producer + per_producer * (per_producer - 1) / 2;
  }
  if (checksum != expected) fail(label + ": checksum mismatch");
  return static_cast<double>(total) / seconds_between(begin, end);
}

struct Latency {
  double median_ns;
  double p99_ns;
  double round_trips_per_sec;
};

// The value at `fraction` (0.5 = median, 0.99 = p99) of `values`: sorted[fraction * (n - 1)].
double percentile(std::vector<double> values, double fraction) {
  std::sort(values.begin(), values.end());
  const auto index = static_cast<std::size_t>(fraction * static_cast<double>(values.size() - 1));
  return values[index];
}

// The main thread sends i and waits for i + 1 from the echo thread; each round trip is timed.
template <class Adapter>
Latency run_ping_pong(const std::string& label, std::size_t capacity, std::uint64_t round_trips) {
  const std::uint64_t warmup = std::min<std::uint64_t>(1000, round_trips / 10);
  const std::uint64_t total = warmup + round_trips;
  Adapter ping(capacity);
  Adapter pong(capacity);
  auto ping_producer = ping.producer();
  StartLine start;
  std::thread echo([&ping, &start, total, handle = pong.producer()]() mutable {
    auto reply = std::move(handle);
    start.arrive_and_wait();
    for (std::uint64_t i = 0; i < total; ++i) reply.push(ping.pop() + 1);
  });
  ping.seal();
  pong.seal();
  start.wait_for(1);
  start.release();

  std::vector<double> samples;
  samples.reserve(round_trips);
  Clock::time_point measured_begin;
  for (std::uint64_t i = 0; i < total; ++i) {
    if (i == warmup) measured_begin = Clock::now();
    const auto sent = Clock::now();
    ping_producer.push(i);
    const std::uint64_t reply = pong.pop();
    const auto received = Clock::now();
    if (reply != i + 1) fail(label + ": ping-pong reply " + std::to_string(reply) + " for " + std::to_string(i));
    if (i >= warmup) samples.push_back(std::chrono::duration<double, std::nano>(received - sent).count());
  }
  const auto measured_end = Clock::now();
  echo.join();
  {
    [[maybe_unused]] auto last_ping_sender = std::move(ping_producer);  // destroyed here
  }
  ping.verify_closed();
  pong.verify_closed();

  Latency latency{};
  latency.median_ns = percentile(samples, 0.50);
  latency.p99_ns = percentile(samples, 0.99);
  latency.round_trips_per_sec = static_cast<double>(round_trips) / seconds_between(measured_begin, measured_end);
  return latency;
}

// The "event": a small, fixed amount of arithmetic (about a hundred dependent multiply-adds).
std::uint64_t tiny_event(std::uint64_t seed) {
  std::uint64_t x = seed;
  for (int k = 0; k < 100; ++k) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
  return x;
}

std::uint64_t expected_event_sum(std::uint64_t events) {
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < events; ++i) sum += tiny_event(i);
  return sum;
}

struct TinyEvent {
  std::uint64_t seed;
  std::uint64_t operator()() const { return tiny_event(seed); }
};

// Events per second through dcp::WorkerPool: submit every event, then get every result.
// Pool start-up and shutdown are outside the timed region (a node creates its pool once).
double run_worker_pool(std::uint64_t events, unsigned threads, std::uint64_t expected_sum) {
  dcp::WorkerPool::Options options;
  options.threads = threads;
  dcp::WorkerPool pool(options);
  using Handle = decltype(pool.submit(TinyEvent{0}));
  std::vector<Handle> handles;
  handles.reserve(events);
  const auto begin = Clock::now();
  for (std::uint64_t i = 0; i < events; ++i) handles.push_back(pool.submit(TinyEvent{i}));
  std::uint64_t sum = 0;
  for (auto& handle : handles) sum += handle.get();
  const auto end = Clock::now();
  pool.shutdown(dcp::ShutdownMode::drain);
  if (sum != expected_sum) fail("dcp::WorkerPool: event results checksum mismatch");
  return static_cast<double>(events) / seconds_between(begin, end);
}

// Events per second when every event gets its own std::thread. At most kLiveThreads run at once;
// spawning past that first joins the oldest (a node cannot keep unbounded threads alive either).
constexpr std::size_t kLiveThreads = 64;

double run_thread_per_event(std::uint64_t events, std::uint64_t expected_sum) {
  std::vector<std::uint64_t> results(events, 0);
  std::deque<std::thread> live;
  const auto begin = Clock::now();
  for (std::uint64_t i = 0; i < events; ++i) {
    if (live.size() == kLiveThreads) {
      live.front().join();
      live.pop_front();
    }
    live.emplace_back([&results, i] { results[i] = tiny_event(i); });
  }
  for (auto& thread : live) thread.join();
  std::uint64_t sum = 0;
  for (auto value : results) sum += value;
  const auto end = Clock::now();
  if (sum != expected_sum) fail("std::thread per event: event results checksum mismatch");
  return static_cast<double>(events) / seconds_between(begin, end);
}

// ---------------------------------------------------------------------------------------------
// Contenders, repetitions, output.

struct Contender {
  std::string impl;
  bool bounded;
  std::string wait;  // "blocking" or "spin/yield"
  std::function<double(int producers, std::uint64_t per_producer)> throughput;
  std::function<Latency(std::uint64_t round_trips)> ping_pong;
};

template <class Adapter>
Contender make_contender(std::string impl, bool bounded, std::string wait, std::size_t capacity) {
  const std::size_t cap = bounded ? capacity : 0;
  std::string label = impl + (bounded ? " (bounded)" : " (unbounded)");
  Contender contender{std::move(impl), bounded, std::move(wait), {}, {}};
  contender.throughput = [label, cap](int producers, std::uint64_t per_producer) {
    return run_throughput<Adapter>(label, cap, producers, per_producer);
  };
  contender.ping_pong = [label, cap](std::uint64_t round_trips) {
    return run_ping_pong<Adapter>(label, cap, round_trips);
  };
  return contender;
}

std::vector<Contender> all_contenders(std::size_t capacity) {
  std::vector<Contender> list;
  for (bool bounded : {true, false}) {
    list.push_back(make_contender<DcpChannel>("dcp", bounded, "blocking", capacity));
    list.push_back(make_contender<Shared<MutexQueue>>("mutex+condvar+deque", bounded, "blocking", capacity));
    if (!bounded) {
      list.push_back(make_contender<Shared<MoodycamelQueue>>("moodycamel::BlockingConcurrentQueue",
                                                             bounded, "blocking", capacity));
    }
    list.push_back(make_contender<Shared<TbbQueue>>("tbb::concurrent_bounded_queue", bounded, "blocking", capacity));
    list.push_back(make_contender<Shared<BoostLockfreeQueue>>("boost::lockfree::queue", bounded, "spin/yield", capacity));
  }
  return list;
}

struct Options {
  std::uint64_t messages = 2'000'000;
  std::uint64_t round_trips = 100'000;
  std::uint64_t events = 20'000;
  std::size_t capacity = 1024;
  int reps = 5;
  unsigned pool_threads = std::max(1u, std::thread::hardware_concurrency());
  std::string workload = "all";
  std::string impl_filter;
};

void print_usage() {
  std::fprintf(stderr,
               "usage: dcp_compare [--quick] [--messages N] [--round-trips N] [--events N]\n"
               "                   [--capacity N] [--reps R] [--pool-threads N]\n"
               "                   [--workload all|mpsc_throughput|ping_pong|thread_per_event]\n"
               "                   [--impl SUBSTRING]\n"
               "Prints one JSON object per line; medians over R repetitions.\n");
}

Options parse_options(int argc, char** argv) {
  Options options;
  auto number = [&](int& i) -> std::uint64_t {
    if (i + 1 >= argc) {
      print_usage();
      std::exit(2);
    }
    return std::stoull(argv[++i]);
  };
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--quick") {
      options.messages = 100'000;
      options.round_trips = 5'000;
      options.events = 2'000;
      options.reps = 1;
    } else if (arg == "--messages") {
      options.messages = number(i);
    } else if (arg == "--round-trips") {
      options.round_trips = number(i);
    } else if (arg == "--events") {
      options.events = number(i);
    } else if (arg == "--capacity") {
      options.capacity = number(i);
    } else if (arg == "--reps") {
      options.reps = static_cast<int>(number(i));
    } else if (arg == "--pool-threads") {
      options.pool_threads = static_cast<unsigned>(number(i));
    } else if (arg == "--workload" && i + 1 < argc) {
      options.workload = argv[++i];
    } else if (arg == "--impl" && i + 1 < argc) {
      options.impl_filter = argv[++i];
    } else {
      print_usage();
      std::exit(arg == "--help" || arg == "-h" ? 0 : 2);
    }
  }
  if (options.reps < 1 || options.capacity < 1 || options.messages < 4 || options.round_trips < 1 ||
      options.events < 1) {
    std::fprintf(stderr, "dcp_compare: sizes and --reps must be positive (--messages >= 4)\n");
    std::exit(2);
  }
  return options;
}

double median(std::vector<double> values) { return percentile(std::move(values), 0.5); }

std::string number_json(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.6g", value);
  return buffer;
}

struct Row {
  std::string workload;
  std::string impl;
  std::string wait;
  std::optional<int> producers;
  std::optional<bool> bounded;
  std::vector<double> rate;       // per repetition: messages, round trips or events per second
  std::vector<double> median_ns;  // ping_pong only
  std::vector<double> p99_ns;     // ping_pong only
};

void print_row(const Row& row, const Options& options) {
  std::string line = "{\"workload\":\"" + row.workload + "\",\"impl\":\"" + row.impl + "\",\"lang\":\"c++\"";
  line += ",\"producers\":" + (row.producers ? std::to_string(*row.producers) : std::string("null"));
  line += ",\"bounded\":" + (row.bounded ? std::string(*row.bounded ? "true" : "false") : std::string("null"));
  line += ",\"capacity\":" + (row.bounded.value_or(false) ? std::to_string(options.capacity) : std::string("null"));
  line += ",\"wait\":\"" + row.wait + "\"";
  line += ",\"reps\":" + std::to_string(row.rate.size());
  line += ",\"msgs_per_sec\":" + number_json(median(row.rate));
  line += ",\"msgs_per_sec_min\":" + number_json(*std::min_element(row.rate.begin(), row.rate.end()));
  line += ",\"msgs_per_sec_max\":" + number_json(*std::max_element(row.rate.begin(), row.rate.end()));
  line += ",\"median_ns\":" + (row.median_ns.empty() ? std::string("null") : number_json(median(row.median_ns)));
  line += ",\"p99_ns\":" + (row.p99_ns.empty() ? std::string("null") : number_json(median(row.p99_ns)));
  if (row.workload == "mpsc_throughput") line += ",\"messages\":" + std::to_string(options.messages / 4 * 4);
  if (row.workload == "ping_pong") line += ",\"round_trips\":" + std::to_string(options.round_trips);
  if (row.workload == "thread_per_event") {
    line += ",\"events\":" + std::to_string(options.events);
    if (row.impl == "dcp::WorkerPool") line += ",\"threads\":" + std::to_string(options.pool_threads);
  }
  line += "}";
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  const bool all = options.workload == "all";
  const bool do_throughput = all || options.workload == "mpsc_throughput";
  const bool do_ping_pong = all || options.workload == "ping_pong";
  const bool do_events = all || options.workload == "thread_per_event";
  if (!do_throughput && !do_ping_pong && !do_events) {
    print_usage();
    return 2;
  }

  std::vector<Contender> contenders;
  for (auto& contender : all_contenders(options.capacity)) {
    if (contender.impl.find(options.impl_filter) != std::string::npos) contenders.push_back(std::move(contender));
  }
  const int producer_counts[] = {1, 2, 4};
  // Every producer count gets the same total, so runs are comparable across producer counts.
  const std::uint64_t total_messages = options.messages / 4 * 4;

  // Rows in a fixed order; key = index into `rows`.
  std::vector<Row> rows;
  std::map<std::string, std::size_t> index;
  auto row_for = [&](const std::string& key, Row prototype) -> Row& {
    auto [it, inserted] = index.try_emplace(key, rows.size());
    if (inserted) rows.push_back(std::move(prototype));
    return rows[it->second];
  };

  const std::uint64_t expected_sum = do_events ? expected_event_sum(options.events) : 0;
  const bool run_pool = do_events && std::string("dcp::WorkerPool").find(options.impl_filter) != std::string::npos;
  const bool run_threads =
      do_events && std::string("std::thread per event").find(options.impl_filter) != std::string::npos;

  for (int rep = 1; rep <= options.reps; ++rep) {
    std::fprintf(stderr, "dcp_compare: repetition %d/%d\n", rep, options.reps);
    if (do_throughput) {
      for (int producers : producer_counts) {
        for (const auto& contender : contenders) {
          const std::string key = "t/" + contender.impl + "/" + std::to_string(producers) + "/" +
                                  (contender.bounded ? "b" : "u");
          Row& row = row_for(key, Row{"mpsc_throughput", contender.impl, contender.wait, producers,
                                      contender.bounded, {}, {}, {}});
          row.rate.push_back(contender.throughput(producers, total_messages / static_cast<std::uint64_t>(producers)));
        }
      }
    }
    if (do_ping_pong) {
      for (const auto& contender : contenders) {
        const std::string key = "p/" + contender.impl + "/" + (contender.bounded ? "b" : "u");
        Row& row = row_for(key, Row{"ping_pong", contender.impl, contender.wait, 1, contender.bounded, {}, {}, {}});
        const Latency latency = contender.ping_pong(options.round_trips);
        row.rate.push_back(latency.round_trips_per_sec);
        row.median_ns.push_back(latency.median_ns);
        row.p99_ns.push_back(latency.p99_ns);
      }
    }
    if (run_pool) {
      Row& row = row_for("e/pool", Row{"thread_per_event", "dcp::WorkerPool", "blocking", {}, {}, {}, {}, {}});
      row.rate.push_back(run_worker_pool(options.events, options.pool_threads, expected_sum));
    }
    if (run_threads) {
      Row& row = row_for("e/thread", Row{"thread_per_event", "std::thread per event", "join", {}, {}, {}, {}, {}});
      row.rate.push_back(run_thread_per_event(options.events, expected_sum));
    }
  }

  for (const auto& row : rows) print_row(row, options);
  return 0;
}
