// Tests for dcp/patterns/output_handler.hpp, through dcp::testing::NodeHarness.
//
// A backlog is built honestly, without a test-only hook: an output whose metadata exceeds the limits
// makes OutputSender::send throw on the handler thread, which then delivers the error to
// Options::on_error — and HandlerStall's on_error keeps the handler thread there until the test
// releases it. While it is held, nothing is sent, so whatever the test queues meanwhile is a real
// backlog.
#include "dcp/patterns/output_handler.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <future>
#include <mutex>
#include <set>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "dcp/core/detail/thread_name.hpp"
#include "dcp/core/detail/thread_priority.hpp"
#include "dcp/core/error_report.hpp"
#include "dcp/patterns/status.hpp"
#include "dcp/node/node_harness.hpp"
#include "support/captured_reports.hpp"
#include "support/gate.hpp"
#include "support/hang_timeout.hpp"

#ifndef DCP_STRESS_DIVISOR
#define DCP_STRESS_DIVISOR 1
#endif

namespace {

using namespace std::chrono_literals;
using dcp::Metadata;
using dcp::OutputHandler;
using dcp::ShutdownMode;
using dcp::OutputStatus;
using dcp::testing::CapturedOutput;
using dcp::testing::NodeHarness;
using dcp::test::CapturedReports;
using dcp::test::Gate;

constexpr auto kHang = dcp::test::kHangTimeout;  // only to catch hangs

dcp::testing::NodeHarness make_harness() { return NodeHarness("n", {"tick"}, {"cmd", "halt", "status"}); }

/// prefix + number (built with append: g++ 12 -O3 warns falsely about "literal" + std::string).
std::string label(const char* prefix, std::size_t number) {
  std::string text(prefix);
  text += std::to_string(number);
  return text;
}

/// Metadata beyond the limits: OutputSender::send throws std::invalid_argument for it.
Metadata invalid_metadata() {
  Metadata metadata;
  for (std::size_t i = 0; i <= dcp::kMaxParameters; ++i) {
    metadata.parameters.emplace(label("p", i), static_cast<std::int64_t>(i));
  }
  return metadata;
}

Metadata with_int(const char* key, std::int64_t value) {
  Metadata metadata;
  metadata.parameters.emplace(key, value);
  return metadata;
}

std::vector<std::string> texts(const std::vector<CapturedOutput>& outputs) {
  std::vector<std::string> result;
  for (const auto& o : outputs) result.emplace_back(o.text());
  return result;
}

/// The output id named by a delivered error's message ("send of output '<id>' failed: ...").
std::string failed_output(std::string_view message) {
  constexpr std::string_view kPrefix = "send of output '";
  if (message.substr(0, kPrefix.size()) != kPrefix) return "(not a failed send: " + std::string(message) + ")";
  message.remove_prefix(kPrefix.size());
  return std::string(message.substr(0, message.find('\'')));
}

/// Holds the handler thread inside on_error (see the file comment). Declare it before the handler.
class HandlerStall {
 public:
  /// For Options::on_error: the first failure stalls; every failure is recorded.
  dcp::ErrorCallback on_error() {
    return [this](std::string_view, std::string_view message) {
      {
        std::lock_guard lock(mutex_);
        failed_ids_.push_back(failed_output(message));
      }
      if (!stalled_.exchange(true)) {
        entered_.open();
        (void)release_.wait();
      }
    };
  }

  /// Sends an output that fails, and returns once the handler thread is held in on_error.
  void hold(OutputHandler& out) {
    ASSERT_EQ(out.send("status", "stall", invalid_metadata()), OutputStatus::queued);
    ASSERT_TRUE(entered_.wait()) << "the handler never called on_error";
  }

  void release() { release_.open(); }

  std::vector<std::string> failed_ids() {
    std::lock_guard lock(mutex_);
    return failed_ids_;
  }

 private:
  Gate entered_;
  Gate release_;  // destroyed, it releases the handler thread too
  std::atomic<bool> stalled_{false};
  std::mutex mutex_;
  std::vector<std::string> failed_ids_;
};

/// The set-up of most backlog tests: a harness, an OutputHandler with `options` whose on_error is
/// the stall's, and the handler thread already held in it, so whatever is sent next queues up.
/// Bind the parts by name: `HeldHandler held({.capacity = 2}); auto& [h, stall, out] = held;`
struct HeldHandler {
  NodeHarness h = make_harness();
  HandlerStall stall;  // declared before the handler, which it must outlive
  OutputHandler out;

  explicit HeldHandler(OutputHandler::Options options = {})
      : out(h.node().outputs, with_on_error(std::move(options), stall.on_error())) {
    stall.hold(out);
  }

  static OutputHandler::Options with_on_error(OutputHandler::Options options, dcp::ErrorCallback on_error) {
    options.on_error = std::move(on_error);
    return options;
  }
};

// ---------------------------------------------------------------------------------------------
// Delivery and ordering
// ---------------------------------------------------------------------------------------------

TEST(OutputHandler, SingleOutput_IsSentWithItsIdBytesAndMetadata) {
  NodeHarness h = make_harness();
  OutputHandler out(h.node().outputs);
  Metadata metadata = with_int("frame", 42);
  metadata.timestamp_ns = 12345;
  EXPECT_EQ(out.send("cmd", dcp::Payload::from_string("go"), metadata), OutputStatus::queued);
  const auto sent = h.next_output(kHang);
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->id, "cmd");
  EXPECT_EQ(sent->text(), "go");
  EXPECT_EQ(sent->metadata, metadata);  // passed on untouched, given timestamp kept
  EXPECT_EQ(out.outputs(), (std::vector<std::string>{"cmd", "halt", "status"}));
}

TEST(OutputHandler, ByteSpans_ArriveIntactAsACopyTheCallerMayReuse) {
  NodeHarness h = make_harness();
  OutputHandler out(h.node().outputs);
  std::vector<std::uint8_t> bytes{0, 1, 2, 255};
  const std::byte raw[] = {std::byte{7}, std::byte{0}, std::byte{9}};
  ASSERT_EQ(out.send("cmd", std::span<const std::uint8_t>(bytes), with_int("k", 1)), OutputStatus::queued);
  bytes.assign(4, 42);  // the handler queued its own copy
  ASSERT_EQ(out.send("status", std::span<const std::byte>(raw), {}, 3), OutputStatus::queued);
  ASSERT_TRUE(out.flush_for(kHang));
  const auto sent = h.outputs();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].id, "cmd");
  EXPECT_EQ(sent[0].data, (std::vector<std::uint8_t>{0, 1, 2, 255}));
  EXPECT_EQ(sent[0].metadata.get_int("k"), 1);
  EXPECT_EQ(sent[1].id, "status");
  EXPECT_EQ(sent[1].data, (std::vector<std::uint8_t>{7, 0, 9}));
}

TEST(OutputHandler, SendWith_FillRunsOnTheCallingThreadIntoTheBufferThatIsSentWithoutACopy) {
  NodeHarness h = make_harness();
  OutputHandler out(h.node().outputs);
  constexpr std::size_t kSize = 64 * 1024;
  const std::uint8_t* filled = nullptr;
  std::thread::id fill_thread;
  const OutputStatus status = out.send_with("cmd", kSize, [&](std::span<std::uint8_t> buffer) {
    ASSERT_EQ(buffer.size(), kSize);
    for (std::size_t i = 0; i < buffer.size(); ++i) buffer[i] = static_cast<std::uint8_t>(i * 7);
    filled = buffer.data();
    fill_thread = std::this_thread::get_id();
  }, with_int("frame", 9));
  EXPECT_EQ(status, OutputStatus::queued);
  EXPECT_EQ(fill_thread, std::this_thread::get_id());
  const auto sent = h.next_output(kHang);
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->id, "cmd");
  EXPECT_EQ(sent->metadata.get_int("frame"), 9);
  ASSERT_EQ(sent->data.size(), kSize);
  for (std::size_t i = 0; i < kSize; ++i) ASSERT_EQ(sent->data[i], static_cast<std::uint8_t>(i * 7)) << i;
  // The OutputSender got the very buffer fill wrote (the harness keeps a Payload as it was handed over).
  EXPECT_EQ(sent->payload.data(), filled);
  EXPECT_EQ(sent->payload.size(), kSize);
}

TEST(OutputHandler, SendWith_EmptyPayload_IsSent) {
  NodeHarness h = make_harness();
  OutputHandler out(h.node().outputs);
  bool called = false;
  EXPECT_EQ(out.send_with("cmd", 0, [&](std::span<std::uint8_t> buffer) { called = buffer.empty(); }),
            OutputStatus::queued);
  const auto sent = h.next_output(kHang);
  ASSERT_TRUE(sent);
  EXPECT_TRUE(sent->data.empty());
  EXPECT_TRUE(called);
}

TEST(OutputHandler, SendWith_UndeclaredIdOrTooLarge_ThrowsWithoutFilling_ThrowingFillQueuesNothing) {
  NodeHarness h = make_harness();
  OutputHandler out(h.node().outputs);
  int fills = 0;
  const auto fill = [&](std::span<std::uint8_t>) { ++fills; };
  EXPECT_THROW(out.send_with("nope", 4, fill), dcp::NodeError);
  EXPECT_THROW(out.send_with("cmd", dcp::kMaxPayloadSize + 1, fill), std::invalid_argument);
  EXPECT_EQ(fills, 0);
  EXPECT_THROW(out.send_with("cmd", 4, [](std::span<std::uint8_t>) { throw std::runtime_error("no data"); }),
               std::runtime_error);
  ASSERT_TRUE(out.flush_for(kHang));
  EXPECT_TRUE(h.outputs().empty());
  EXPECT_EQ(out.stats().sent + out.stats().failed + out.stats().dropped, 0u);
}

TEST(OutputHandler, SendWith_AfterShutdown_ReturnsClosedWithoutFilling) {
  NodeHarness h = make_harness();
  OutputHandler out(h.node().outputs);
  out.shutdown();
  int fills = 0;
  EXPECT_EQ(out.send_with("cmd", 4, [&](std::span<std::uint8_t>) { ++fills; }), OutputStatus::closed);
  EXPECT_EQ(fills, 0);
  EXPECT_EQ(out.stats().refused_after_shutdown, 1u);
}

TEST(OutputHandler, ZeroTimestamp_IsFilledInWhenSentNotWhenQueued) {
  HeldHandler held;
  auto& [h, stall, out] = held;
  ASSERT_EQ(out.send("cmd", "late"), OutputStatus::queued);
  const auto queued_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  stall.release();
  const auto sent = h.next_output(kHang);
  ASSERT_TRUE(sent);
  EXPECT_GE(sent->metadata.timestamp_ns, queued_ns);  // stamped by the OutputSender at send time
}

TEST(OutputHandler, ManyProducers_EveryOutputArrivesExactlyOnceInPerProducerOrder) {
  constexpr int kProducers = 4;
  const int per_producer = 20000 / DCP_STRESS_DIVISOR;
  NodeHarness h = make_harness();
  OutputHandler out(h.node().outputs, {.capacity = 64, .overflow = dcp::Overflow::block});
  {
    std::vector<std::jthread> producers;
    for (int p = 0; p < kProducers; ++p) {
      producers.emplace_back([&out, p, per_producer] {
        for (int i = 0; i < per_producer; ++i) {
          Metadata m;
          m.parameters.emplace("producer", static_cast<std::int64_t>(p));
          m.parameters.emplace("seq", static_cast<std::int64_t>(i));
          ASSERT_EQ(out.send("cmd", "x", std::move(m)), OutputStatus::queued);
        }
      });
    }
  }
  ASSERT_TRUE(out.flush_for(kHang));
  const auto outputs = h.outputs();
  ASSERT_EQ(outputs.size(), static_cast<std::size_t>(kProducers * per_producer));
  std::vector<std::int64_t> next(kProducers, 0);
  for (const auto& o : outputs) {
    const auto p = *o.metadata.get_int("producer");
    ASSERT_EQ(*o.metadata.get_int("seq"), next[static_cast<std::size_t>(p)]) << "producer " << p;
    ++next[static_cast<std::size_t>(p)];
  }
  const auto stats = out.stats();
  EXPECT_EQ(stats.sent, outputs.size());
  EXPECT_EQ(stats.dropped, 0u);
  EXPECT_EQ(stats.queued, 0u);
}

TEST(OutputHandler, PriorityOutput_OvertakesQueuedOutputs) {
  HeldHandler held;  // the handler thread is busy: what follows is a backlog
  auto& [h, stall, out] = held;
  for (int i = 0; i < 10; ++i) ASSERT_EQ(out.send("cmd", label("n", i)), OutputStatus::queued);
  ASSERT_EQ(out.stats().queued, 10u);
  ASSERT_EQ(out.send_priority("halt", "halt"), OutputStatus::queued);
  stall.release();
  ASSERT_TRUE(out.flush_for(kHang));
  EXPECT_EQ(texts(h.outputs()),
            (std::vector<std::string>{"halt", "n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9"}));
  const auto stats = out.stats();
  EXPECT_EQ(stats.sent, 11u);
  EXPECT_EQ(stats.priority_sent, 1u);
  EXPECT_EQ(stats.failed, 1u);
  EXPECT_EQ(stall.failed_ids(), (std::vector<std::string>{"status"}));
}

TEST(OutputHandler, PriorityLane_FullDropsItsOldest) {
  HeldHandler held({.priority_capacity = 2});
  auto& [h, stall, out] = held;
  EXPECT_EQ(out.send_priority("halt", "p0"), OutputStatus::queued);
  EXPECT_EQ(out.send_priority("halt", "p1"), OutputStatus::queued);
  EXPECT_EQ(out.send_priority("halt", dcp::Payload::from_string("p2")), OutputStatus::queued_dropped_oldest);
  stall.release();
  ASSERT_TRUE(out.flush_for(kHang));
  EXPECT_EQ(texts(h.outputs()), (std::vector<std::string>{"p1", "p2"}));
  EXPECT_EQ(out.stats().dropped, 1u);
  EXPECT_EQ(out.stats().priority_sent, 2u);
}

// ---------------------------------------------------------------------------------------------
// Overflow policies
// ---------------------------------------------------------------------------------------------

TEST(OutputHandler, DropOldest_AtCapacity_DropsTheOldestAndCountsIt) {
  dcp::StatusBoard board("n");
  HeldHandler held({.capacity = 4, .status = &board});
  auto& [h, stall, out] = held;
  for (int i = 0; i < 10; ++i) {
    const OutputStatus expected = i < 4 ? OutputStatus::queued : OutputStatus::queued_dropped_oldest;
    EXPECT_EQ(out.send("cmd", label("m", i)), expected) << i;
  }
  EXPECT_EQ(out.stats().queued, 4u);
  EXPECT_EQ(out.stats().dropped, 6u);
  stall.release();
  ASSERT_TRUE(out.flush_for(kHang));
  EXPECT_EQ(texts(h.outputs()), (std::vector<std::string>{"m6", "m7", "m8", "m9"}));
  EXPECT_EQ(board.counter("output.cmd.dropped").value(), 6u);
  EXPECT_EQ(board.counter("output.cmd.sent").value(), 4u);
}

TEST(OutputHandler, DropNewest_AtCapacity_DropsTheNewOutputAndCountsIt) {
  HeldHandler held({.capacity = 4, .overflow = dcp::Overflow::drop_newest});
  auto& [h, stall, out] = held;
  for (int i = 0; i < 10; ++i) {
    const OutputStatus expected = i < 4 ? OutputStatus::queued : OutputStatus::dropped;
    EXPECT_EQ(out.send("cmd", label("m", i)), expected) << i;
  }
  stall.release();
  ASSERT_TRUE(out.flush_for(kHang));
  EXPECT_EQ(texts(h.outputs()), (std::vector<std::string>{"m0", "m1", "m2", "m3"}));
  EXPECT_EQ(out.stats().dropped, 6u);
  EXPECT_EQ(out.stats().sent, 4u);
}

TEST(OutputHandler, Block_FullLane_SendWaitsForRoom) {
  HeldHandler held({.capacity = 2, .overflow = dcp::Overflow::block});
  auto& [h, stall, out] = held;
  ASSERT_EQ(out.send("cmd", "a"), OutputStatus::queued);
  ASSERT_EQ(out.send("cmd", "b"), OutputStatus::queued);
  auto third = std::async(std::launch::async, [&out] { return out.send("cmd", "c"); });
  // It cannot complete while the lane is full and the handler is held (a check that cannot fail
  // spuriously: it only could miss a bug).
  EXPECT_EQ(third.wait_for(20ms), std::future_status::timeout);
  stall.release();
  ASSERT_EQ(third.wait_for(kHang), std::future_status::ready);
  EXPECT_EQ(third.get(), OutputStatus::queued);
  ASSERT_TRUE(out.flush_for(kHang));
  EXPECT_EQ(texts(h.outputs()), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(out.stats().dropped, 0u);
}

TEST(OutputHandler, Block_ShutdownWakesABlockedProducerWithClosed) {
  HeldHandler held({.capacity = 1, .overflow = dcp::Overflow::block});
  auto& [h, stall, out] = held;
  ASSERT_EQ(out.send("cmd", "queued"), OutputStatus::queued);
  auto blocked = std::async(std::launch::async, [&out] { return out.send("cmd", "blocked"); });
  EXPECT_EQ(blocked.wait_for(20ms), std::future_status::timeout);
  auto shutdown = std::async(std::launch::async, [&out] {
    out.shutdown(ShutdownMode::cancel);
    return out.stats();
  });
  ASSERT_EQ(blocked.wait_for(kHang), std::future_status::ready) << "shutdown did not wake the blocked producer";
  EXPECT_EQ(blocked.get(), OutputStatus::closed);
  stall.release();  // the join needs the handler thread back
  ASSERT_EQ(shutdown.wait_for(kHang), std::future_status::ready);
  const auto stats = shutdown.get();
  EXPECT_EQ(stats.discarded, 1u);
  EXPECT_EQ(stats.sent, 0u);
  EXPECT_TRUE(h.outputs().empty());
}

TEST(OutputHandler, SendOnHandlerThread_FullBlockingLane_DropsInsteadOfDeadlocking) {
  NodeHarness h = make_harness();
  OutputHandler* handler = nullptr;
  std::vector<OutputStatus> from_handler;
  OutputHandler out(h.node().outputs, {.capacity = 1,
                                       .overflow = dcp::Overflow::block,
                                       .on_error = [&](std::string_view, std::string_view) {
                                         from_handler.push_back(handler->send("cmd", "x"));
                                         from_handler.push_back(handler->send("cmd", "y"));  // lane full
                                       }});
  handler = &out;
  ASSERT_EQ(out.send("status", "fails", invalid_metadata()), OutputStatus::queued);
  ASSERT_TRUE(out.flush_for(kHang));
  ASSERT_TRUE(out.flush_for(kHang));  // "x" was queued by the handler thread during the first flush
  EXPECT_EQ(from_handler, (std::vector<OutputStatus>{OutputStatus::queued, OutputStatus::dropped}));
  EXPECT_EQ(texts(h.outputs()), (std::vector<std::string>{"x"}));
  EXPECT_EQ(out.stats().dropped, 1u);
}

// ---------------------------------------------------------------------------------------------
// Epoch gate
// ---------------------------------------------------------------------------------------------

TEST(OutputHandler, Gate_BeforeSetEpoch_TaggedOutputsPass) {
  NodeHarness h = make_harness();
  OutputHandler out(h.node().outputs);
  out.send("cmd", "e5", {}, 5);
  out.send("cmd", "e7", {}, 7);
  ASSERT_TRUE(out.flush_for(kHang));
  EXPECT_EQ(texts(h.outputs()), (std::vector<std::string>{"e5", "e7"}));
  EXPECT_EQ(out.stats().stale, 0u);
}

TEST(OutputHandler, Gate_OutputsOfOtherEpochsAreDroppedAndCountedStale_UntaggedPass) {
  NodeHarness h = make_harness();
  dcp::StatusBoard board("n");
  OutputHandler out(h.node().outputs, {.status = &board});
  out.set_epoch(3, false);
  out.send("cmd", "e2", {}, 2);
  out.send("cmd", "e3", {}, 3);
  out.send("cmd", "e4", {}, 4);
  out.send("cmd", "untagged");
  ASSERT_TRUE(out.flush_for(kHang));
  EXPECT_EQ(texts(h.outputs()), (std::vector<std::string>{"e3", "untagged"}));
  EXPECT_EQ(out.stats().stale, 2u);
  EXPECT_EQ(board.counter("output.cmd.stale").value(), 2u);
  EXPECT_EQ(board.counter("output.cmd.sent").value(), 2u);
}

TEST(OutputHandler, Gate_Latched_DropsEveryTaggedOutput_PriorityAndUntaggedPass) {
  NodeHarness h = make_harness();
  OutputHandler out(h.node().outputs);
  out.set_epoch(3, true);
  out.send("cmd", "e3", {}, 3);
  out.send("cmd", "e2", {}, 2);
  out.send("cmd", "e4", {}, 4);
  out.send("status", "untagged");
  out.send_priority("halt", "halt");
  ASSERT_TRUE(out.flush_for(kHang));
  const auto sent = texts(h.outputs());
  EXPECT_EQ(std::multiset<std::string>(sent.begin(), sent.end()), (std::multiset<std::string>{"untagged", "halt"}));
  EXPECT_EQ(out.stats().stale, 3u);
}

TEST(OutputHandler, Gate_ResetToANewEpoch_PassesOnlyTheNewEpoch) {
  NodeHarness h = make_harness();
  OutputHandler out(h.node().outputs);
  out.set_epoch(3, true);
  out.set_epoch(4, false);
  out.send("cmd", "e3", {}, 3);
  out.send("cmd", "e4", {}, 4);
  out.send("cmd", "e5", {}, 5);
  ASSERT_TRUE(out.flush_for(kHang));
  EXPECT_EQ(texts(h.outputs()), (std::vector<std::string>{"e4"}));
  EXPECT_EQ(out.stats().stale, 2u);
}

TEST(OutputHandler, Gate_IsCheckedWhenSent_NotWhenQueued) {
  NodeHarness h = make_harness();
  HandlerStall stall;
  OutputHandler out(h.node().outputs, {.on_error = stall.on_error()});
  out.set_epoch(1, false);
  stall.hold(out);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(out.send("cmd", "old", {}, 1), OutputStatus::queued);
  out.set_epoch(2, true);  // e-stop while they wait
  out.send_priority("halt", "halt");
  stall.release();
  ASSERT_TRUE(out.flush_for(kHang));
  EXPECT_EQ(texts(h.outputs()), (std::vector<std::string>{"halt"}));
  EXPECT_EQ(out.stats().stale, 5u);
}

TEST(OutputHandler, Gate_EpochAboveMax_LatchesInsteadOfWrapping) {
  NodeHarness h = make_harness();
  OutputHandler out(h.node().outputs);
  out.set_epoch(dcp::kMaxEpoch + 5, false);
  out.send("cmd", "max", {}, dcp::kMaxEpoch);
  out.send("cmd", "wrapped", {}, 4);  // (kMaxEpoch + 5) mod 2^62
  ASSERT_TRUE(out.flush_for(kHang));
  EXPECT_TRUE(h.outputs().empty());
  EXPECT_EQ(out.stats().stale, 2u);
}

// The e-stop invariant: set_epoch(E + 1, true) then send_priority(halt) — no output tagged <= E
// (here: no tagged output at all, E + 1 being latched) is sent after the halt.
TEST(OutputHandler, Gate_NoOutputOfAnOldEpochIsSentAfterTheHalt) {
  const int iterations = 300 / DCP_STRESS_DIVISOR + 5;
  constexpr int kProducers = 3;
  constexpr int kPerProducer = 200;
  int iterations_with_outputs_before_halt = 0;
  for (int iteration = 0; iteration < iterations; ++iteration) {
    NodeHarness h = make_harness();
    OutputHandler out(h.node().outputs, {.capacity = 64});
    std::atomic<std::uint64_t> epoch{1};  // what the producers tag with (like the router's stamp)
    out.set_epoch(1, false);
    std::atomic<int> started{0};
    {
      std::vector<std::jthread> producers;
      for (int p = 0; p < kProducers; ++p) {
        producers.emplace_back([&] {
          started.fetch_add(1);
          for (int i = 0; i < kPerProducer; ++i) {
            const std::uint64_t tag = epoch.load();
            out.send("cmd", std::to_string(tag), {}, tag);
          }
        });
      }
      std::jthread estop([&] {
        while (started.load() < kProducers) std::this_thread::yield();
        for (int i = 0; i < iteration % 50; ++i) std::this_thread::yield();  // vary the moment
        epoch.store(2);
        out.set_epoch(2, true);
        out.send_priority("halt", "halt");
      });
    }
    out.shutdown(ShutdownMode::drain);
    const auto outputs = h.outputs();
    bool halted = false;
    std::size_t before_halt = 0;
    for (const auto& o : outputs) {
      if (o.id == "halt") {
        ASSERT_FALSE(halted) << "one halt";
        halted = true;
      } else if (halted) {
        FAIL() << "iteration " << iteration << ": output tagged " << o.text() << " was sent after the halt";
      } else {
        ++before_halt;
        ASSERT_EQ(o.text(), "1");  // epoch 2 was latched from the start
      }
    }
    ASSERT_TRUE(halted);
    if (before_halt > 0) ++iterations_with_outputs_before_halt;
    const auto stats = out.stats();
    ASSERT_EQ(stats.sent - stats.priority_sent + stats.stale + stats.dropped,
              static_cast<std::uint64_t>(kProducers * kPerProducer));
  }
  EXPECT_GT(iterations_with_outputs_before_halt, 0);  // the race was really exercised
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

TEST(OutputHandler, UndeclaredOutput_ThrowsNodeErrorNamingItAndTheDeclaredOutputs) {
  NodeHarness h = make_harness();
  OutputHandler out(h.node().outputs);
  try {
    out.send("nope", "x");
    FAIL() << "no exception";
  } catch (const dcp::NodeError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("'nope'"), std::string::npos) << message;
    EXPECT_NE(message.find("cmd, halt, status"), std::string::npos) << message;
  }
  EXPECT_THROW(out.send_priority("nope", "x"), dcp::NodeError);
  EXPECT_THROW(out.send("", dcp::Payload()), dcp::NodeError);
  EXPECT_EQ(out.stats().queued, 0u);
}

TEST(OutputHandler, SenderFailure_IsCountedDeliveredToOnErrorOnTheHandlerThreadAndTheHandlerGoesOn) {
  CapturedReports reports;
  NodeHarness h = make_harness();
  dcp::StatusBoard board("n");
  std::mutex mutex;
  std::vector<std::pair<std::string, std::string>> delivered;  // source, message
  std::string thread_name;
  OutputHandler out(h.node().outputs, {.name = "out-thread",
                                       .status = &board,
                                       .on_error = [&](std::string_view source, std::string_view message) {
                                         std::lock_guard lock(mutex);
                                         delivered.emplace_back(source, message);
                                         thread_name = dcp::detail::current_thread_name();
                                       }});
  out.send("cmd", "bad", invalid_metadata());
  out.send("cmd", "good");
  ASSERT_TRUE(out.flush_for(kHang));
  EXPECT_EQ(texts(h.outputs()), (std::vector<std::string>{"good"}));
  std::lock_guard lock(mutex);
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(delivered[0].first, "output handler 'n'");
  // "send of output 'cmd' failed: " + what OutputSender::send threw (the metadata limit).
  EXPECT_EQ(delivered[0].second.rfind("send of output 'cmd' failed: output 'cmd': metadata has ", 0), 0u)
      << delivered[0].second;
  EXPECT_EQ(thread_name, "out-thread");
  EXPECT_EQ(out.stats().failed, 1u);
  EXPECT_EQ(out.stats().sent, 1u);
  EXPECT_EQ(board.counter("output.cmd.failed").value(), 1u);
  EXPECT_EQ(reports.counted(), 0u);  // on_error took it: nothing reported besides
}

TEST(OutputHandler, SenderFailureWithoutOnError_IsReportedNamingTheNodeAndTheOutput) {
  CapturedReports reports;
  NodeHarness h = make_harness();
  OutputHandler out(h.node().outputs);
  out.send("status", "bad", invalid_metadata());
  ASSERT_TRUE(out.flush_for(kHang));
  ASSERT_EQ(reports.counted(), 1u);
  const auto taken = reports.take();
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].first, "output handler 'n'");
  EXPECT_EQ(taken[0].second.rfind("send of output 'status' failed: output 'status': metadata has ", 0), 0u)
      << taken[0].second;
  EXPECT_EQ(h.reported_errors(), 1u);  // what the runner would learn from this node
}

TEST(OutputHandler, OnErrorThrowing_TheFailureAndWhatItThrewAreReported) {
  CapturedReports reports;
  NodeHarness h = make_harness();
  OutputHandler out(h.node().outputs,
                    {.on_error = [](std::string_view, std::string_view) { throw std::runtime_error("oops"); }});
  out.send("cmd", "bad", invalid_metadata());
  out.send("cmd", "good");
  ASSERT_TRUE(out.flush_for(kHang));
  EXPECT_EQ(texts(h.outputs()), (std::vector<std::string>{"good"}));
  EXPECT_EQ(out.stats().failed, 1u);
  const auto taken = reports.take();
  ASSERT_EQ(taken.size(), 2u);
  EXPECT_EQ(failed_output(taken[0].second), "cmd");
  EXPECT_EQ(taken[1], (CapturedReports::Report{"output handler 'n'", "its on_error callback threw: oops"}));
}

TEST(OutputHandler, OnTheHandlerThread_FlushThrowsLogicError_ShutdownStartsWithoutJoining) {
  NodeHarness h = make_harness();
  OutputHandler* handler = nullptr;
  int logic_errors = 0;
  std::optional<OutputStatus> after_shutdown;
  Gate returned;
  OutputHandler out(h.node().outputs, {.on_error = [&](std::string_view, std::string_view) {
                                         try {
                                           handler->flush_for(1s);
                                         } catch (const std::logic_error&) {
                                           ++logic_errors;
                                         }
                                         handler->shutdown(ShutdownMode::drain);  // must not join itself
                                         after_shutdown = handler->send("cmd", "late");
                                         returned.open();
                                       }});
  handler = &out;
  out.send("cmd", "bad", invalid_metadata());
  ASSERT_TRUE(returned.wait()) << "shutdown() hung on its own thread";
  out.shutdown();  // joins the thread, which ends once it is back from on_error
  EXPECT_EQ(logic_errors, 1);
  EXPECT_EQ(after_shutdown, OutputStatus::closed);
  EXPECT_EQ(out.stats().refused_after_shutdown, 1u);
  EXPECT_TRUE(h.outputs().empty());
}

TEST(OutputHandlerDeathTest, DestroyedFromOnError_ReportsAndAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        NodeHarness h = make_harness();
        OutputHandler* self = nullptr;
        Gate never;
        self = new OutputHandler(h.node().outputs,
                                 {.name = "out-suicide", .on_error = [&](std::string_view, std::string_view) {
                                    delete self;
                                  }});
        self->send("cmd", "bad", invalid_metadata());
        (void)never.wait();
      },
      "thread 'out-suicide': destroyed from its own thread");
}

TEST(OutputHandler, BadOptions_ThrowInvalidArgumentNamingTheField) {
  const auto message_of = [](OutputHandler::Options options) -> std::string {
    NodeHarness h = make_harness();
    try {
      OutputHandler out(h.node().outputs, std::move(options));
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "no exception";
  };
  EXPECT_NE(message_of({.capacity = 0}).find("Options::capacity"), std::string::npos);
  EXPECT_NE(message_of({.capacity = dcp::kMaxCapacity + 1}).find("Options::capacity"), std::string::npos);
  EXPECT_NE(message_of({.priority_capacity = 0}).find("Options::priority_capacity"), std::string::npos);
  EXPECT_NE(message_of({.overflow = static_cast<dcp::Overflow>(42)}).find("Options::overflow"), std::string::npos);
  EXPECT_THROW(OutputHandler(dcp::OutputSender{}), std::invalid_argument);
  EXPECT_NE(message_of({.realtime_priority = -1}).find("Options::realtime_priority"), std::string::npos);
  EXPECT_NE(message_of({.realtime_priority = 100}).find("Options::realtime_priority"), std::string::npos);
}

TEST(OutputHandler, RealtimePriority_GrantedExactlyWhenThisProcessMayUseSchedFifo_AndSendingWorksEitherWay) {
  // What the kernel grants a fresh thread of this process decides the expected answer: root or
  // CAP_SYS_NICE -> SCHED_FIFO, otherwise normal scheduling (and no error).
  bool allowed = false;
  std::thread probe([&] { allowed = dcp::detail::set_current_thread_realtime(10); });
  probe.join();

  NodeHarness h = make_harness();
  OutputHandler out(h.node().outputs, {.realtime_priority = 10});
  EXPECT_EQ(out.realtime(), allowed);
  OutputHandler::Options normal;
  NodeHarness h2 = make_harness();
  OutputHandler plain(h2.node().outputs, normal);
  EXPECT_FALSE(plain.realtime());

  out.send_priority("halt", "stop");
  const std::optional<CapturedOutput> sent = h.next_output(kHang);
  ASSERT_TRUE(sent.has_value());
  EXPECT_EQ(sent->text(), "stop");
}

// ---------------------------------------------------------------------------------------------
// Shutdown
// ---------------------------------------------------------------------------------------------

TEST(OutputHandler, ShutdownDrain_SendsEverythingQueuedPriorityFirst) {
  HeldHandler held;
  auto& [h, stall, out] = held;
  for (int i = 0; i < 5; ++i) out.send("cmd", label("n", i));
  out.send_priority("halt", "p0");
  out.send_priority("halt", "p1");
  auto shutdown = std::async(std::launch::async, [&out] {
    out.shutdown(ShutdownMode::drain);
    return out.stats();
  });
  stall.release();
  ASSERT_EQ(shutdown.wait_for(kHang), std::future_status::ready);
  const auto stats = shutdown.get();
  EXPECT_EQ(stats.sent, 7u);
  EXPECT_EQ(stats.discarded, 0u);
  EXPECT_EQ(stats.queued, 0u);
  EXPECT_EQ(texts(h.outputs()), (std::vector<std::string>{"p0", "p1", "n0", "n1", "n2", "n3", "n4"}));
}

TEST(OutputHandler, ShutdownDiscard_DropsWhatIsQueuedAndCountsIt) {
  HeldHandler held;
  auto& [h, stall, out] = held;
  for (int i = 0; i < 5; ++i) out.send("cmd", label("n", i));
  out.send_priority("halt", "p0");
  auto shutdown = std::async(std::launch::async, [&out] {
    out.shutdown(ShutdownMode::cancel);
    return out.stats();
  });
  // Release the handler only once the lanes are closed (so the discard is decided): probe with
  // sends until one reports closed. Probes that got in before are discarded too.
  std::uint64_t probes = 0;
  while (out.send("cmd", "probe") != OutputStatus::closed) {
    ++probes;
    std::this_thread::yield();
  }
  stall.release();
  ASSERT_EQ(shutdown.wait_for(kHang), std::future_status::ready);
  const auto stats = shutdown.get();
  EXPECT_EQ(stats.sent, 0u);
  EXPECT_EQ(stats.discarded + stats.dropped, 6u + probes);
  EXPECT_EQ(stats.failed, 1u);
  EXPECT_TRUE(h.outputs().empty());
}

TEST(OutputHandler, Shutdown_IsIdempotentAndMayRunConcurrently_ThenSendsReportClosed) {
  NodeHarness h = make_harness();
  OutputHandler out(h.node().outputs);
  for (int i = 0; i < 100; ++i) out.send("cmd", std::to_string(i));
  std::vector<std::future<OutputHandler::Stats>> calls;
  for (int i = 0; i < 4; ++i) {
    calls.push_back(std::async(std::launch::async, [&out, i] {
      out.shutdown(i % 2 == 0 ? ShutdownMode::drain : ShutdownMode::cancel);
      return out.stats();
    }));
  }
  for (auto& call : calls) ASSERT_EQ(call.wait_for(kHang), std::future_status::ready);
  std::vector<OutputHandler::Stats> results;
  for (auto& call : calls) results.push_back(call.get());
  out.shutdown();  // again: nothing changes
  const auto stats = out.stats();
  EXPECT_EQ(stats.sent + stats.discarded, 100u);
  EXPECT_EQ(h.outputs().size(), stats.sent);
  for (const auto& r : results) {
    EXPECT_EQ(r.sent, stats.sent);  // every call returns after the join
    EXPECT_EQ(r.discarded, stats.discarded);
  }
  EXPECT_EQ(out.send("cmd", "late"), OutputStatus::closed);
  EXPECT_EQ(out.send("cmd", dcp::Payload::from_string("late"), {}, 3), OutputStatus::closed);
  EXPECT_EQ(out.send_priority("halt", "late"), OutputStatus::closed);
  EXPECT_EQ(out.send_priority("halt", dcp::Payload::from_string("late")), OutputStatus::closed);
  EXPECT_EQ(out.stats().refused_after_shutdown, 4u);  // refused, counted, nothing sent
  EXPECT_TRUE(out.flush_for(0s));
  EXPECT_EQ(h.outputs().size(), stats.sent);
}

TEST(OutputHandler, Destructor_DrainsWhatIsQueued) {
  NodeHarness h = make_harness();
  {
    OutputHandler out(h.node().outputs, {.overflow = dcp::Overflow::block});
    for (int i = 0; i < 50; ++i) out.send("cmd", std::to_string(i));
  }
  EXPECT_EQ(h.outputs().size(), 50u);
}

// ---------------------------------------------------------------------------------------------
// flush_for
// ---------------------------------------------------------------------------------------------

TEST(OutputHandler, FlushFor_TimesOutWhileTheHandlerIsHeld_ThenWaitsForEverythingQueuedBefore) {
  NodeHarness h = make_harness();
  HandlerStall stall;
  OutputHandler out(h.node().outputs, {.on_error = stall.on_error()});
  EXPECT_TRUE(out.flush_for(0s));  // nothing queued
  stall.hold(out);
  out.send("cmd", "a");
  out.send_priority("halt", "b");
  out.send("cmd", "c");
  EXPECT_FALSE(out.flush_for(10ms));
  stall.release();
  ASSERT_TRUE(out.flush_for(kHang));
  EXPECT_EQ(h.outputs().size(), 3u);  // all three sent by the time flush_for returned
  EXPECT_THROW(out.flush_for(-1ns), std::invalid_argument);
}

TEST(OutputHandler, FlushFor_DoesNotWaitForOutputsQueuedDuringTheCall) {
  NodeHarness h = make_harness();
  OutputHandler out(h.node().outputs, {.capacity = 8, .overflow = dcp::Overflow::block});
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> queued{0};
  std::jthread producer([&] {
    while (!stop.load()) {
      if (out.send("cmd", "x") == OutputStatus::queued) queued.fetch_add(1);
    }
  });
  for (int i = 0; i < 50; ++i) {
    const auto before = queued.load();
    ASSERT_TRUE(out.flush_for(kHang)) << "flush " << i << " waited for later outputs";
    EXPECT_GE(out.stats().sent, before);
  }
  stop.store(true);
}

TEST(OutputHandler, FlushFor_WithDropNewestRejectionsRacing_StillReturns) {
  NodeHarness h = make_harness();
  OutputHandler out(h.node().outputs, {.capacity = 2, .overflow = dcp::Overflow::drop_newest});
  std::atomic<bool> stop{false};
  std::vector<std::jthread> producers;
  for (int p = 0; p < 3; ++p) {
    producers.emplace_back([&] {
      while (!stop.load()) out.send("cmd", "x");
    });
  }
  for (int i = 0; i < 200 / DCP_STRESS_DIVISOR + 10; ++i) ASSERT_TRUE(out.flush_for(kHang));
  stop.store(true);
  producers.clear();
  ASSERT_TRUE(out.flush_for(kHang));
  const auto stats = out.stats();
  EXPECT_EQ(stats.queued, 0u);
  EXPECT_EQ(h.outputs().size(), stats.sent);
}

// ---------------------------------------------------------------------------------------------
// Status
// ---------------------------------------------------------------------------------------------

TEST(OutputHandler, StatusCounters_MatchStats) {
  NodeHarness h = make_harness();
  HandlerStall stall;
  dcp::StatusBoard board("n");
  OutputHandler out(h.node().outputs, {.capacity = 3,
                                       .overflow = dcp::Overflow::drop_newest,
                                       .status = &board,
                                       .on_error = stall.on_error()});
  out.set_epoch(7, false);
  stall.hold(out);  // one failure on "status"
  EXPECT_EQ(board.gauge("output.queue").value(), 0);
  out.send("cmd", "a", {}, 7);
  out.send("cmd", "stale", {}, 6);
  out.send("cmd", "b");
  EXPECT_EQ(board.gauge("output.queue").value(), 3);
  EXPECT_EQ(out.send("cmd", "dropped"), OutputStatus::dropped);
  EXPECT_EQ(board.gauge("output.queue").value(), 3);
  out.send_priority("halt", "h");
  stall.release();
  ASSERT_TRUE(out.flush_for(kHang));
  out.send("cmd", "bad", invalid_metadata());
  ASSERT_TRUE(out.flush_for(kHang));

  const auto stats = out.stats();
  EXPECT_EQ(stats.sent, 3u);
  EXPECT_EQ(stats.stale, 1u);
  EXPECT_EQ(stats.dropped, 1u);
  EXPECT_EQ(stats.failed, 2u);
  const auto snapshot = board.snapshot();
  std::uint64_t sent = 0, stale = 0, dropped = 0, failed = 0;
  for (const std::string& id : out.outputs()) {
    sent += snapshot.counters.at("output." + id + ".sent");
    stale += snapshot.counters.at("output." + id + ".stale");
    dropped += snapshot.counters.at("output." + id + ".dropped");
    failed += snapshot.counters.at("output." + id + ".failed");
    EXPECT_EQ(snapshot.latencies.at("output." + id + ".latency").count, snapshot.counters.at("output." + id + ".sent"));
  }
  EXPECT_EQ(sent, stats.sent);
  EXPECT_EQ(stale, stats.stale);
  EXPECT_EQ(dropped, stats.dropped);
  EXPECT_EQ(failed, stats.failed);
  EXPECT_EQ(snapshot.counters.at("output.cmd.sent"), 2u);
  EXPECT_EQ(snapshot.counters.at("output.halt.sent"), 1u);
  EXPECT_EQ(snapshot.counters.at("output.status.failed"), 1u);
  EXPECT_EQ(snapshot.gauges.at("output.queue"), 0);
}

}  // namespace
