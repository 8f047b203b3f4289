// Tests for dcp/patterns/status.hpp: counters, gauges, latency histograms, the board and its JSON.
#include "dcp/patterns/status.hpp"

#include "dcp/core/error_report.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <latch>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#ifndef DCP_STRESS_DIVISOR
#define DCP_STRESS_DIVISOR 1
#endif

namespace {

using namespace std::chrono_literals;
using std::chrono::nanoseconds;

constexpr int kThreads = 8;

// prefix + i. (Not `"m" + std::to_string(i)`: g++ 12 -O3 warns falsely (-Wrestrict) about that.)
std::string indexed_name(const char* prefix, std::size_t i) {
  std::string name(prefix);
  name += std::to_string(i);
  return name;
}

// The exact nearest-rank percentile of `values` (sorted copy).
std::int64_t exact_percentile(std::vector<std::int64_t> values, unsigned percent) {
  std::sort(values.begin(), values.end());
  const std::size_t rank = std::max<std::size_t>(1, (values.size() * percent + 99) / 100);
  return values[rank - 1];
}

// Records `values` (in ns) and checks count, max (exact) and p50/p99 (within the stated error).
void expect_summary_matches(const std::vector<std::int64_t>& values) {
  dcp::LatencyHistogram histogram;
  for (const std::int64_t v : values) histogram.record(nanoseconds(v));
  const dcp::LatencySummary summary = histogram.summary();
  EXPECT_EQ(summary.count, values.size());
  EXPECT_EQ(summary.max.count(), *std::max_element(values.begin(), values.end()));
  for (const unsigned percent : {50U, 99U}) {
    const auto expected = static_cast<double>(exact_percentile(values, percent));
    const auto reported = static_cast<double>(percent == 50 ? summary.p50.count() : summary.p99.count());
    EXPECT_LE(std::abs(reported - expected), expected * dcp::kLatencyRelativeError)
        << "p" << percent << ": reported " << reported << " ns, exact " << expected << " ns";
  }
}

// ---------------------------------------------------------------------------------------------------
// Counter and Gauge
// ---------------------------------------------------------------------------------------------------

TEST(Counter, AddsFromManyThreadsSumExactly) {
  dcp::Counter counter;
  const int per_thread = 200000 / DCP_STRESS_DIVISOR;
  std::vector<std::jthread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) counter.add();
      counter.add(static_cast<std::uint64_t>(t));
    });
  }
  threads.clear();
  EXPECT_EQ(counter.value(), std::uint64_t{kThreads} * per_thread + (kThreads * (kThreads - 1)) / 2);
}

TEST(Gauge, SetAndAddFromManyThreadsAreExact) {
  dcp::Gauge gauge;
  gauge.set(-5);
  EXPECT_EQ(gauge.value(), -5);
  const int per_thread = 100000 / DCP_STRESS_DIVISOR;
  std::vector<std::jthread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < per_thread; ++i) {
        gauge.add(3);
        gauge.add(-1);
      }
    });
  }
  threads.clear();
  EXPECT_EQ(gauge.value(), -5 + std::int64_t{2} * kThreads * per_thread);
  gauge.set(7);
  EXPECT_EQ(gauge.value(), 7);
}

// ---------------------------------------------------------------------------------------------------
// LatencyHistogram
// ---------------------------------------------------------------------------------------------------

TEST(LatencyHistogram, EmptySummaryIsAllZero) {
  const dcp::LatencyHistogram histogram;
  EXPECT_EQ(histogram.summary(), dcp::LatencySummary{});
}

TEST(LatencyHistogram, DurationsBelow32NanosecondsAreExact) {
  for (std::int64_t v = 0; v < 32; ++v) {
    dcp::LatencyHistogram histogram;
    histogram.record(nanoseconds(v));
    const auto summary = histogram.summary();
    EXPECT_EQ(summary.p50.count(), v);
    EXPECT_EQ(summary.p99.count(), v);
    EXPECT_EQ(summary.max.count(), v);
  }
}

TEST(LatencyHistogram, UniformDistributionPercentilesWithinStatedError) {
  std::vector<std::int64_t> values;
  for (std::int64_t v = 1; v <= 100000; ++v) values.push_back(v * 1000);  // 1 us .. 100 ms
  std::shuffle(values.begin(), values.end(), std::mt19937_64(42));
  expect_summary_matches(values);
}

TEST(LatencyHistogram, BimodalDistributionPercentilesWithinStatedError) {
  std::mt19937_64 random(7);
  std::uniform_int_distribution<std::int64_t> fast(100'000, 120'000);         // 100..120 us
  std::uniform_int_distribution<std::int64_t> slow(10'000'000, 12'000'000);   // 10..12 ms
  std::vector<std::int64_t> values;
  for (int i = 0; i < 9700; ++i) values.push_back(fast(random));
  for (int i = 0; i < 300; ++i) values.push_back(slow(random));
  std::shuffle(values.begin(), values.end(), random);
  expect_summary_matches(values);
  // And the modes are where they should be: p50 in the fast mode, p99 in the slow one.
  dcp::LatencyHistogram histogram;
  for (const auto v : values) histogram.record(nanoseconds(v));
  EXPECT_LT(histogram.summary().p50, 130us);
  EXPECT_GT(histogram.summary().p99, 9ms);
}

TEST(LatencyHistogram, OneHugeOutlierKeepsMaxExactAndP99Correct) {
  std::vector<std::int64_t> values(9999, 1'000'000);  // 1 ms
  values.push_back(std::int64_t{3'599'999'999'999});  // ~1 h
  expect_summary_matches(values);
  dcp::LatencyHistogram histogram;
  for (const auto v : values) histogram.record(nanoseconds(v));
  const auto summary = histogram.summary();
  EXPECT_EQ(summary.max, nanoseconds(3'599'999'999'999));
  EXPECT_LT(summary.p99, 1020us);
}

TEST(LatencyHistogram, LogUniformRandomPercentilesWithinStatedError) {
  std::mt19937_64 random(1234);
  std::uniform_real_distribution<double> exponent(0.0, 12.0);  // 1 ns .. 1000 s
  for (int round = 0; round < 20; ++round) {
    std::vector<std::int64_t> values;
    const int n = 1 + round * 97;
    for (int i = 0; i < n; ++i) values.push_back(static_cast<std::int64_t>(std::pow(10.0, exponent(random))));
    expect_summary_matches(values);
  }
}

TEST(LatencyHistogram, NegativeRecordsAsZero) {
  dcp::LatencyHistogram histogram;
  histogram.record(nanoseconds(-5));
  histogram.record(-1s);
  const auto summary = histogram.summary();
  EXPECT_EQ(summary.count, 2U);
  EXPECT_EQ(summary.p50, 0ns);
  EXPECT_EQ(summary.max, 0ns);
}

TEST(LatencyHistogram, BeyondRangeLandsInLastBucketWithExactMax) {
  dcp::LatencyHistogram histogram;
  histogram.record(3h);
  histogram.record(nanoseconds::max());
  const auto summary = histogram.summary();
  EXPECT_EQ(summary.count, 2U);
  EXPECT_EQ(summary.max, nanoseconds::max());
  // Both percentiles read as the top of the range (within the stated error), not as garbage.
  const auto top = static_cast<double>(dcp::kLatencyHistogramRange.count());
  EXPECT_LE(std::abs(static_cast<double>(summary.p50.count()) - top), top * dcp::kLatencyRelativeError);
  EXPECT_LE(summary.p99, dcp::kLatencyHistogramRange);
}

TEST(LatencyHistogram, PercentilesNeverExceedMax) {
  dcp::LatencyHistogram histogram;
  histogram.record(nanoseconds(1'000'001));  // its bucket's middle lies above it
  EXPECT_LE(histogram.summary().p50, histogram.summary().max);
  EXPECT_LE(histogram.summary().p99, histogram.summary().max);
}

TEST(LatencyHistogram, RecordsFromManyThreadsCountExactly) {
  dcp::LatencyHistogram histogram;
  const int per_thread = 50000 / DCP_STRESS_DIVISOR;
  std::vector<std::jthread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) histogram.record(nanoseconds(1000 + t));
    });
  }
  threads.clear();
  const auto summary = histogram.summary();
  EXPECT_EQ(summary.count, std::uint64_t{kThreads} * per_thread);
  EXPECT_EQ(summary.max, nanoseconds(1000 + kThreads - 1));
}

// ---------------------------------------------------------------------------------------------------
// StatusBoard: names, kinds, limits
// ---------------------------------------------------------------------------------------------------

TEST(StatusBoard, SameNameReturnsSameObject) {
  dcp::StatusBoard board("node");
  dcp::Counter& a = board.counter("input.imu.received");
  dcp::Counter& b = board.counter(std::string("input.imu.received"));
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(&board.gauge("input.imu.queue"), &board.gauge("input.imu.queue"));
  EXPECT_EQ(&board.latency("input.imu.latency"), &board.latency("input.imu.latency"));
  EXPECT_EQ(board.size(), 3U);
  EXPECT_EQ(board.node_id(), "node");
}

TEST(StatusBoard, ReferencesStayValidAsMoreMetricsAreAdded) {
  dcp::StatusBoard board;
  dcp::Counter& first = board.counter("first");
  first.add(3);
  for (std::size_t i = 0; i < 1000; ++i) board.counter(indexed_name("c", i)).add();
  first.add(4);
  EXPECT_EQ(board.snapshot().counters.at("first"), 7U);
  EXPECT_EQ(&board.counter("first"), &first);
}

TEST(StatusBoard, NameUsedForAnotherKindThrowsNamingIt) {
  dcp::StatusBoard board;
  board.counter("output.cmd.sent");
  board.gauge("output.queue");
  board.latency("output.cmd.latency");
  auto expect_clash = [](auto&& call, const std::string& name) {
    try {
      call();
      ADD_FAILURE() << "no exception for " << name;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  };
  expect_clash([&] { board.gauge("output.cmd.sent"); }, "output.cmd.sent");
  expect_clash([&] { board.latency("output.cmd.sent"); }, "output.cmd.sent");
  expect_clash([&] { board.counter("output.queue"); }, "output.queue");
  expect_clash([&] { board.latency("output.queue"); }, "output.queue");
  expect_clash([&] { board.counter("output.cmd.latency"); }, "output.cmd.latency");
  expect_clash([&] { board.gauge("output.cmd.latency"); }, "output.cmd.latency");
  EXPECT_EQ(board.size(), 3U);
}

TEST(StatusBoard, InvalidNamesThrowNamingThem) {
  dcp::StatusBoard board;
  for (const std::string name : {"", "has space", "quote\"", "back\\slash", "new\nline", "caf\xc3\xa9", "a,b",
                                 "{x}"}) {
    try {
      board.counter(name);
      ADD_FAILURE() << "accepted '" << name << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("'" + name + "'"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(board.size(), 0U);
  EXPECT_NO_THROW(board.counter("Aa0_.:/-"));
}

TEST(StatusBoard, NameLengthLimitIsEnforced) {
  dcp::StatusBoard board;
  const std::string longest(dcp::kMaxStatusNameLength, 'x');
  EXPECT_NO_THROW(board.gauge(longest));
  EXPECT_THROW(board.gauge(longest + "x"), std::invalid_argument);
  EXPECT_TRUE(dcp::is_valid_status_name(longest));
  EXPECT_FALSE(dcp::is_valid_status_name(longest + "x"));
  // Every dcp id (<= 256 characters) fits the conventional names.
  EXPECT_TRUE(dcp::is_valid_status_name("output." + std::string(256, 'i') + ".discarded"));
}

TEST(StatusBoard, MetricCountLimitIsEnforced) {
  dcp::StatusBoard board;
  for (std::size_t i = 0; i < dcp::kMaxStatusMetrics; ++i) {
    const std::string name = indexed_name("m", i);
    if (i % 3 == 0) board.counter(name);
    else if (i % 3 == 1) board.gauge(name);
    else board.latency(name);
  }
  EXPECT_EQ(board.size(), dcp::kMaxStatusMetrics);
  try {
    board.counter("one.too.many");
    ADD_FAILURE() << "a board took more than kMaxStatusMetrics metrics";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("one.too.many"), std::string::npos) << e.what();
  }
  EXPECT_THROW(board.latency("another"), std::invalid_argument);
  EXPECT_NO_THROW(board.counter("m0"));  // existing metrics are still found
  EXPECT_EQ(board.size(), dcp::kMaxStatusMetrics);
}

// ---------------------------------------------------------------------------------------------------
// Snapshot and JSON
// ---------------------------------------------------------------------------------------------------

TEST(StatusBoard, SnapshotCarriesEveryMetric) {
  dcp::StatusBoard board("processor");
  board.counter("input.imu.received").add(10);
  board.gauge("input.imu.queue").set(-3);
  board.latency("input.imu.latency").record(5us);
  const dcp::StatusSnapshot snapshot = board.snapshot();
  EXPECT_EQ(snapshot.node, "processor");
  EXPECT_GE(snapshot.uptime, 0ms);
  EXPECT_EQ(snapshot.counters.at("input.imu.received"), 10U);
  EXPECT_EQ(snapshot.gauges.at("input.imu.queue"), -3);
  EXPECT_EQ(snapshot.latencies.at("input.imu.latency").count, 1U);
  EXPECT_EQ(snapshot.latencies.at("input.imu.latency").max, 5us);
}

TEST(StatusJson, FormatIsExactlyAsDocumented) {
  dcp::StatusSnapshot snapshot;
  snapshot.node = "processor";
  snapshot.uptime = 1234ms;
  snapshot.errors_reported = 3;
  snapshot.counters.emplace("input.imu.received", 10);
  snapshot.counters.emplace("input.imu.dropped", 0);
  snapshot.gauges.emplace("input.imu.queue", -2);
  snapshot.latencies.emplace("input.imu.latency", dcp::LatencySummary{10, 12500ns, 40100ns, 52000ns});
  snapshot.latencies.emplace("output.cmd.latency", dcp::LatencySummary{1, 7ns, 1234567ns, 1234567891ns});
  EXPECT_EQ(dcp::to_json(snapshot),
            R"({"node":"processor","uptime_ms":1234,"errors_reported":3,)"
            R"("counters":{"input.imu.dropped":0,"input.imu.received":10},)"
            R"("gauges":{"input.imu.queue":-2},)"
            R"("latencies":{"input.imu.latency":{"count":10,"p50_us":12.5,"p99_us":40.1,"max_us":52.0},)"
            R"("output.cmd.latency":{"count":1,"p50_us":0.007,"p99_us":1234.567,"max_us":1234567.891}}})");
}

void ignore_report(std::string_view, std::string_view) noexcept {}

TEST(StatusJson, ErrorsReported_IsTheProcessWideCountOfReportedErrors) {
  const dcp::ErrorReporter previous = dcp::set_error_reporter(&ignore_report);
  const dcp::StatusBoard board("processor");
  const std::uint64_t before = nlohmann::json::parse(board.to_json()).at("errors_reported").get<std::uint64_t>();
  EXPECT_EQ(before, dcp::reported_errors());
  dcp::report_error("test", "one lost result");
  dcp::deliver_error(nullptr, "test", "another, through deliver_error");
  const std::uint64_t after = nlohmann::json::parse(board.to_json()).at("errors_reported").get<std::uint64_t>();
  dcp::set_error_reporter(previous);
  EXPECT_EQ(after, before + 2);
  EXPECT_EQ(board.snapshot().errors_reported, after);
}

TEST(StatusBoard, Stats_CountMetricsByKindAndSnapshots) {
  dcp::StatusBoard board("n");
  board.counter("a");
  board.counter("b");
  board.gauge("c");
  board.latency("d");
  (void)board.snapshot();
  (void)board.to_json();
  const dcp::StatusBoard::Stats stats = board.stats();
  EXPECT_EQ(stats.counters, 2u);
  EXPECT_EQ(stats.gauges, 1u);
  EXPECT_EQ(stats.latencies, 1u);
  EXPECT_EQ(stats.snapshots, 2u);
}

TEST(StatusJson, EmptyBoardIsValidJsonWithEmptySections) {
  const dcp::StatusBoard board;
  const auto json = nlohmann::json::parse(board.to_json());
  EXPECT_EQ(json.at("node"), "");
  EXPECT_TRUE(json.at("counters").is_object() && json.at("counters").empty());
  EXPECT_TRUE(json.at("gauges").is_object() && json.at("gauges").empty());
  EXPECT_TRUE(json.at("latencies").is_object() && json.at("latencies").empty());
}

TEST(StatusJson, ParsesWithNlohmannAndCarriesTheValues) {
  dcp::StatusBoard board("processor");
  board.counter("input.imu.received").add(10);
  board.counter("output.cmd.sent").add(std::uint64_t{1} << 40);
  board.gauge("input.imu.queue").set(-42);
  board.gauge("output.queue").set(INT64_MAX);
  auto& latency = board.latency("input.imu.latency");
  for (int i = 1; i <= 100; ++i) latency.record(std::chrono::microseconds(i));
  const dcp::LatencySummary expected = latency.summary();

  const auto json = nlohmann::json::parse(board.to_json());
  EXPECT_EQ(json.at("node"), "processor");
  EXPECT_TRUE(json.at("uptime_ms").is_number_integer());
  EXPECT_EQ(json.at("counters").at("input.imu.received"), 10);
  EXPECT_EQ(json.at("counters").at("output.cmd.sent").get<std::uint64_t>(), std::uint64_t{1} << 40);
  EXPECT_EQ(json.at("gauges").at("input.imu.queue"), -42);
  EXPECT_EQ(json.at("gauges").at("output.queue").get<std::int64_t>(), INT64_MAX);
  const auto& summary = json.at("latencies").at("input.imu.latency");
  EXPECT_EQ(summary.at("count"), 100);
  EXPECT_DOUBLE_EQ(summary.at("p50_us").get<double>(), static_cast<double>(expected.p50.count()) / 1000.0);
  EXPECT_DOUBLE_EQ(summary.at("p99_us").get<double>(), static_cast<double>(expected.p99.count()) / 1000.0);
  EXPECT_DOUBLE_EQ(summary.at("max_us").get<double>(), 100.0);
  EXPECT_NEAR(summary.at("p50_us").get<double>(), 50.0, 50.0 * dcp::kLatencyRelativeError);
  EXPECT_NEAR(summary.at("p99_us").get<double>(), 99.0, 99.0 * dcp::kLatencyRelativeError);
  EXPECT_EQ(board.to_json().find('\n'), std::string::npos);  // one line
}

TEST(StatusJson, NodeIdIsEscaped) {
  const std::string node = std::string("a\"b\\c/d\n\t\r\b\f") + '\x01' + '\x1f' + '\x7f' + "caf\xc3\xa9 \xe2\x82\xac" +
                           std::string(1, '\0') + "end";
  dcp::StatusBoard board(node);
  const std::string text = board.to_json();
  const auto json = nlohmann::json::parse(text);
  EXPECT_EQ(json.at("node").get<std::string>(), node);
  EXPECT_NE(text.find(R"(a\"b\\c)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(\u0001)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(\u0000end)"), std::string::npos) << text;
}

TEST(StatusJson, InvalidUtf8InNodeIdBecomesReplacementCharacter) {
  // A stray continuation byte, a truncated sequence, an overlong '/', a surrogate, and > U+10FFFF.
  const std::string node = "x\x80y\xe2\x82z\xc0\xafw\xed\xa0\x80v\xf4\x90\x80\x80u\xff";
  const auto json = nlohmann::json::parse(dcp::StatusBoard(node).to_json());
  const std::string parsed = json.at("node").get<std::string>();
  const std::string fffd = "\xef\xbf\xbd";
  EXPECT_EQ(parsed, "x" + fffd + "y" + fffd + fffd + "z" + fffd + fffd + "w" + fffd + fffd + fffd + "v" + fffd +
                        fffd + fffd + fffd + "u" + fffd);
}

TEST(StatusBoard, SnapshotWhileRecordingAndRegisteringIsConsistent) {
  dcp::StatusBoard board("stress");
  const int per_thread = 20000 / DCP_STRESS_DIVISOR;
  std::atomic<bool> done{false};
  std::latch started(kThreads + 1);
  std::latch reader_ran(1);  // the writers' second half waits for the reader's first snapshots
  std::vector<std::jthread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      dcp::Counter& received = board.counter("input.imu.received");
      dcp::Gauge& queue = board.gauge("input.imu.queue");
      dcp::LatencyHistogram& latency = board.latency("input.imu.latency");
      started.arrive_and_wait();
      for (int i = 0; i < per_thread; ++i) {
        if (i == per_thread / 2) reader_ran.wait();
        received.add();
        queue.add(1);
        latency.record(nanoseconds(100 + i));
        queue.add(-1);
        if (i % 1000 == 0) board.counter("thread." + std::to_string(t) + "." + std::to_string(i)).add();
      }
    });
  }
  started.arrive_and_wait();
  std::uint64_t last_count = 0;
  int snapshots = 0;
  std::jthread reader([&] {
    while (!done.load()) {
      if (snapshots == 3) reader_ran.count_down();
      const auto snapshot = board.snapshot();
      const auto& latency = snapshot.latencies.at("input.imu.latency");
      // Monotonic counts; percentiles within the recorded range and never above max.
      EXPECT_GE(latency.count, last_count);
      last_count = latency.count;
      if (latency.count > 0) {
        EXPECT_LE(latency.p50, latency.max);
        EXPECT_LE(latency.p99, latency.max);
      }
      EXPECT_TRUE(nlohmann::json::accept(dcp::to_json(snapshot)));
      ++snapshots;
    }
  });
  threads.clear();
  done = true;
  reader.join();
  EXPECT_GE(snapshots, 3);
  const auto snapshot = board.snapshot();
  EXPECT_EQ(snapshot.counters.at("input.imu.received"), std::uint64_t{kThreads} * per_thread);
  EXPECT_EQ(snapshot.gauges.at("input.imu.queue"), 0);
  EXPECT_EQ(snapshot.latencies.at("input.imu.latency").count, std::uint64_t{kThreads} * per_thread);
  EXPECT_EQ(snapshot.latencies.at("input.imu.latency").max, nanoseconds(100 + per_thread - 1));
}

}  // namespace
