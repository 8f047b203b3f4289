// dcp/patterns/status.hpp — real-time status metrics of a node: counters, gauges and latency histograms.
//
// What it is for: a Dora node wants to know, while it runs, how many inputs it received, handled,
// dropped; how deep its queues are; how long handling takes. The hot paths record into metrics with
// one relaxed atomic operation (no lock, no allocation); anyone reads a snapshot or the JSON form,
// which a node typically sends as an output on a timer input so a monitor can show it.
//
//   dcp::StatusBoard status("processor");
//   dcp::Counter& received = status.counter("input.imu.received");    // look up once, keep the reference
//   dcp::Gauge& queued = status.gauge("input.imu.queue");
//   dcp::LatencyHistogram& latency = status.latency("input.imu.latency");
//   ...                                                                 // hot path, any thread:
//   received.add();
//   queued.set(static_cast<std::int64_t>(queue.size()));
//   latency.record(std::chrono::steady_clock::now() - started);
//   ...                                                                 // on the status timer:
//   outputs.send("status", status.to_json());
//
// Metrics. Counter: a monotonically growing std::uint64_t (add). Gauge: a std::int64_t that goes up
// and down (set, add). LatencyHistogram: records durations into log-linear buckets (HdrHistogram-like:
// 32 linear sub-buckets per power of two) and summarises them as count, p50, p99 and max.
//   - Range: 0 ns .. kLatencyHistogramRange (2^42 ns, about 73 minutes). A negative duration is
//     recorded as 0; a longer one lands in the last bucket (so its percentiles read as ~73 min), but
//     max is always exact.
//   - Precision: durations below 32 ns are exact; above, a percentile is reported as the middle of
//     its bucket, so its relative error is at most 1/64 (about 1.6 %, kLatencyRelativeError); it is
//     never reported above the exact max.
//   - Percentiles use the nearest-rank definition: p99 is the smallest recorded value that at least
//     99 % of the recorded values do not exceed (within the precision above).
//   - Cost: record() is one relaxed fetch_add on its bucket plus a relaxed load of max (and a CAS
//     only when the max grows); summary() reads all kLatencyBucketCount (1216) buckets (~10 KB).
//
// Names. A metric name is 1..kMaxStatusNameLength characters from [A-Za-z0-9_.:/-] (so any dcp input
// or output id fits in the conventional names below, and the JSON never needs to escape a name).
// A board holds at most kMaxStatusMetrics metrics. A name is one kind for the board's life: asking
// for a counter under a name that is already a gauge (or a histogram) throws. Every violation throws
// std::invalid_argument naming the offending name; is_valid_status_name() checks a name up front.
//
// Naming convention used by the dcp patterns (output handler, event router, ...), <id> being the
// dataflow input or output id:
//   input.<id>.received   counter  events that arrived for the input
//   input.<id>.handled    counter  handled successfully
//   input.<id>.failed     counter  the handler threw / reported an error
//   input.<id>.dropped    counter  dropped by a full queue's overflow policy
//   input.<id>.discarded  counter  thrown away on purpose (stale, superseded, after stop)
//   input.<id>.queue      gauge    events waiting to be handled
//   input.<id>.latency    latency  arrival -> handled
//   output.<id>.sent      counter  sent to the dataflow
//   output.<id>.dropped   counter  dropped by the output queue's overflow policy
//   output.<id>.failed    counter  the send failed
//   output.<id>.stale     counter  discarded because it was older than allowed
//   output.queue          gauge    outputs waiting for the output thread
//   output.<id>.latency   latency  queued -> sent
//
// JSON (to_json; compact, one line, keys in name order; a monitor parses it with any JSON library):
//   {"node":"processor","uptime_ms":1234,"errors_reported":0,
//    "counters":{"input.imu.received":10},
//    "gauges":{"input.imu.queue":0},
//    "latencies":{"input.imu.latency":{"count":10,"p50_us":12.5,"p99_us":40.1,"max_us":52.0}}}
// errors_reported is dcp::reported_errors() at the snapshot: every error the PROCESS reported with
// dcp::report_error so far (work some component lost and nobody was told about, see
// <dcp/core/error_report.hpp>) — so a monitor sees a node that loses work. It counts the whole
// process, not this board. The node id is escaped as a JSON string (quotes, backslashes, control characters; bytes that are
// not valid UTF-8 become U+FFFD). Durations are microseconds as JSON numbers with up to 3 decimals
// (exact nanoseconds, at least one decimal). An empty section is an empty object ({}).
//
// Thread safety: every member of Counter, Gauge and LatencyHistogram may be called from any thread
// concurrently, lock-free (std::atomic<std::uint64_t> must be lock-free: checked at compile time).
// Every StatusBoard member may be called from any thread concurrently. The references counter(),
// gauge() and latency() return stay valid, and keep naming the same object, for the board's life.
// Consistency: a snapshot reads each metric once; values recorded concurrently may or may not be in
// it. A histogram's count and percentiles come from one reading of its buckets; its max is read right
// after, so it may lead or lag them by the values being recorded at that instant (percentiles are
// clamped to it). Different metrics are not read at one instant.
// Blocking: counter()/gauge()/latency() take the board's registration mutex (lookup or creation,
// microseconds) — call them at setup, not per event; snapshot()/to_json() hold it while they read
// every metric. Counter, Gauge and LatencyHistogram never block.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace dcp {

/// Most metrics one StatusBoard holds (counters, gauges and histograms together).
inline constexpr std::size_t kMaxStatusMetrics = 4096;

/// Longest metric name: "output." + the longest dcp id (256) + a suffix fits.
inline constexpr std::size_t kMaxStatusNameLength = 288;

/// Upper end of a LatencyHistogram's range: longer durations land in the last bucket.
inline constexpr std::chrono::nanoseconds kLatencyHistogramRange{std::int64_t{1} << 42};

/// Largest relative error of a reported percentile (half a bucket: 1/64).
inline constexpr double kLatencyRelativeError = 1.0 / 64.0;

/// True if `name` can name a metric: 1..kMaxStatusNameLength characters from [A-Za-z0-9_.:/-].
[[nodiscard]] constexpr bool is_valid_status_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > kMaxStatusNameLength) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == ':' || c == '/' || c == '-';
    if (!ok) return false;
  }
  return true;
}

static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "dcp::status needs lock-free 64-bit atomics");
static_assert(std::atomic<std::int64_t>::is_always_lock_free, "dcp::status needs lock-free 64-bit atomics");

/// A monotonically growing count (events received, sent, dropped). Wraps around at 2^64.
class Counter {
 public:
  Counter() noexcept = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  void add(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

/// A value that goes up and down (queue depth, connected peers).
class Gauge {
 public:
  Gauge() noexcept = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void set(std::int64_t v) noexcept { value_.store(v, std::memory_order_relaxed); }
  /// Wraps around (two's complement) instead of overflowing.
  void add(std::int64_t delta) noexcept { value_.fetch_add(delta, std::memory_order_relaxed); }
  [[nodiscard]] std::int64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

/// What a LatencyHistogram recorded so far. All zero when nothing was recorded.
struct LatencySummary {
  std::uint64_t count = 0;
  std::chrono::nanoseconds p50{0}, p99{0}, max{0};

  friend bool operator==(const LatencySummary&, const LatencySummary&) = default;
};

namespace detail {

inline constexpr unsigned kLatencySubBucketBits = 5;                              // 32 per octave
inline constexpr std::uint64_t kLatencySubBuckets = std::uint64_t{1} << kLatencySubBucketBits;
inline constexpr unsigned kLatencyRangeBits = 42;                                 // 2^42 ns

/// Bucket of a duration in ns: values < 32 map to themselves; from 32 on, each power of two
/// [2^k, 2^(k+1)) is split into 32 buckets of width 2^(k-5).
constexpr std::size_t latency_bucket_of(std::uint64_t ns) noexcept {
  if (ns < kLatencySubBuckets) return static_cast<std::size_t>(ns);
  const unsigned octave = static_cast<unsigned>(std::bit_width(ns)) - 1;  // >= 5
  const unsigned shift = octave - kLatencySubBucketBits;
  return static_cast<std::size_t>(shift * kLatencySubBuckets + (ns >> shift));
}

inline constexpr std::size_t kLatencyBucketCount = latency_bucket_of((std::uint64_t{1} << kLatencyRangeBits) - 1) + 1;

/// Lowest duration (ns) of a bucket, and its width.
constexpr std::uint64_t latency_bucket_low(std::size_t bucket) noexcept {
  if (bucket < kLatencySubBuckets) return bucket;
  const std::uint64_t shift = bucket / kLatencySubBuckets - 1;
  const std::uint64_t sub = bucket % kLatencySubBuckets + kLatencySubBuckets;
  return sub << shift;
}
constexpr std::uint64_t latency_bucket_width(std::size_t bucket) noexcept {
  if (bucket < kLatencySubBuckets) return 1;
  return std::uint64_t{1} << (bucket / kLatencySubBuckets - 1);
}

static_assert(latency_bucket_of(31) == 31 && latency_bucket_of(32) == 32 && latency_bucket_of(63) == 63);
static_assert(latency_bucket_of(64) == 64 && latency_bucket_of(65) == 64 && latency_bucket_of(66) == 65);
static_assert(latency_bucket_low(latency_bucket_of(1000)) <= 1000 &&
              1000 < latency_bucket_low(latency_bucket_of(1000)) + latency_bucket_width(latency_bucket_of(1000)));
static_assert(kLatencyBucketCount == 1216);

}  // namespace detail

/// Number of buckets of a LatencyHistogram (each a std::atomic<std::uint64_t>).
inline constexpr std::size_t kLatencyBucketCount = detail::kLatencyBucketCount;

/// Durations in log-linear buckets; lock-free record(), percentiles within kLatencyRelativeError.
class LatencyHistogram {
 public:
  LatencyHistogram() noexcept = default;
  LatencyHistogram(const LatencyHistogram&) = delete;
  LatencyHistogram& operator=(const LatencyHistogram&) = delete;

  /// Records one duration. Negative -> 0; beyond kLatencyHistogramRange -> the last bucket (max stays
  /// exact). Lock-free, never blocks, never allocates.
  void record(std::chrono::nanoseconds latency) noexcept {
    const std::uint64_t ns = latency.count() < 0 ? 0 : static_cast<std::uint64_t>(latency.count());
    const std::size_t bucket = std::min(detail::latency_bucket_of(ns), kLatencyBucketCount - 1);
    buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
    std::uint64_t seen = max_.load(std::memory_order_relaxed);
    while (ns > seen && !max_.compare_exchange_weak(seen, ns, std::memory_order_relaxed)) {
    }
  }

  /// count, p50, p99 and max of everything recorded so far (see the header comment for precision).
  [[nodiscard]] LatencySummary summary() const {
    std::array<std::uint64_t, kLatencyBucketCount> counts;  // one reading, so count and ranks agree
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < kLatencyBucketCount; ++i) {
      counts[i] = buckets_[i].load(std::memory_order_relaxed);
      total += counts[i];
    }
    LatencySummary summary;
    if (total == 0) return summary;
    const std::uint64_t max = max_.load(std::memory_order_relaxed);
    summary.count = total;
    summary.max = std::chrono::nanoseconds(static_cast<std::int64_t>(max));
    summary.p50 = percentile(counts, total, 50, max);
    summary.p99 = percentile(counts, total, 99, max);
    return summary;
  }

 private:
  // The value at nearest rank ceil(total * percent / 100): the middle of its bucket, never above max.
  static std::chrono::nanoseconds percentile(const std::array<std::uint64_t, kLatencyBucketCount>& counts,
                                             std::uint64_t total, unsigned percent, std::uint64_t max) noexcept {
    // ceil(total * percent / 100) without overflowing for huge totals.
    const std::uint64_t rank =
        std::max<std::uint64_t>(1, total / 100 * percent + ((total % 100) * percent + 99) / 100);
    std::uint64_t seen = 0;
    std::size_t bucket = 0;
    for (; bucket < kLatencyBucketCount; ++bucket) {
      seen += counts[bucket];
      if (seen >= rank) break;
    }
    bucket = std::min(bucket, kLatencyBucketCount - 1);
    const std::uint64_t middle =
        detail::latency_bucket_low(bucket) + (detail::latency_bucket_width(bucket) - 1) / 2;
    return std::chrono::nanoseconds(static_cast<std::int64_t>(std::min(middle, max)));
  }

  std::array<std::atomic<std::uint64_t>, kLatencyBucketCount> buckets_{};
  std::atomic<std::uint64_t> max_{0};
};

/// Every metric of a board, read at one moment per metric.
struct StatusSnapshot {
  std::string node;
  std::chrono::milliseconds uptime{0};
  std::uint64_t errors_reported = 0;  ///< dcp::reported_errors() when the snapshot was taken (process-wide)
  std::map<std::string, std::uint64_t, std::less<>> counters;
  std::map<std::string, std::int64_t, std::less<>> gauges;
  std::map<std::string, LatencySummary, std::less<>> latencies;
};

/// The JSON form described in the header comment.
[[nodiscard]] std::string to_json(const StatusSnapshot& snapshot);

/// A node's named metrics. See the header comment for names, limits, JSON and thread safety.
class StatusBoard {
 public:
  /// What the board holds, and how often it was read (a snapshot).
  struct Stats {
    std::size_t counters = 0;
    std::size_t gauges = 0;
    std::size_t latencies = 0;
    std::uint64_t snapshots = 0;  ///< snapshot() / to_json() calls so far
  };

  /// `node_id` is reported as "node" in snapshots (any text; escaped in the JSON).
  explicit StatusBoard(std::string node_id = {});

  StatusBoard(const StatusBoard&) = delete;
  StatusBoard& operator=(const StatusBoard&) = delete;

  /// The counter called `name`, created (zero) at first use. Throws std::invalid_argument when the
  /// name is invalid, already names a gauge or histogram, or the board is full.
  Counter& counter(std::string_view name);

  /// The gauge called `name`, created (zero) at first use. Throws like counter().
  Gauge& gauge(std::string_view name);

  /// The latency histogram called `name`, created (empty) at first use. Throws like counter().
  LatencyHistogram& latency(std::string_view name);

  /// Every metric's current value, the node id, the time since the board was created and
  /// dcp::reported_errors().
  [[nodiscard]] StatusSnapshot snapshot() const;

  /// dcp::to_json(snapshot()).
  [[nodiscard]] std::string to_json() const { return dcp::to_json(snapshot()); }

  /// The node id given at construction.
  [[nodiscard]] const std::string& node_id() const noexcept { return node_; }

  /// Metrics on the board (all kinds).
  [[nodiscard]] std::size_t size() const;

  [[nodiscard]] Stats stats() const;

 private:
  template <class Metric>
  using Registry = std::map<std::string, std::unique_ptr<Metric>, std::less<>>;

  template <class Metric>
  Metric& find_or_create(Registry<Metric>& registry, std::string_view name, const char* kind);

  const std::string node_;
  const std::chrono::steady_clock::time_point started_;
  mutable std::mutex mutex_;  // guards the three registries (not the metrics: they are atomic)
  Registry<Counter> counters_;
  Registry<Gauge> gauges_;
  Registry<LatencyHistogram> latencies_;
  mutable std::atomic<std::uint64_t> snapshots_{0};
};

}  // namespace dcp
