// dcp/patterns/output_handler.hpp — one thread owns the node's OutputSender; every other thread sends
// through it.
//
// What it is for: a Dora node's OutputSender may be used by one thread at a time, but results come
// from everywhere — the event loop, worker-pool tasks, background jobs. An OutputHandler takes the
// sender over, starts the one thread that uses it, and lets any thread queue outputs for it:
//
//   dcp::Node node = dcp::init_node();
//   dcp::OutputHandler outputs(std::move(node.outputs), {.capacity = 256, .status = &status});
//   pool.post([&outputs, scan] { outputs.send("obstacles", detect(scan)); });   // any thread
//   outputs.send("status", "ready");                                         // text works too
//   outputs.send_priority("safety_state", "halt");        // overtakes everything queued
//   ...
//   outputs.shutdown(dcp::OutputShutdown::drain);         // or let the destructor do it
//
// Lanes. Outputs wait in one of two bounded dcp channels:
//   - the normal lane (Options::capacity, Options::overflow): send(). When it is full,
//     Overflow::drop_oldest drops the oldest queued output (send reports queued_dropped_oldest),
//     Overflow::drop_newest drops the one being sent (send reports dropped), Overflow::block makes
//     send() wait for room;
//   - the priority lane (Options::priority_capacity, always drop_oldest): send_priority(). The
//     handler thread always takes the priority lane first, so a priority output overtakes every
//     normal output still queued. It is meant for few, small, idempotent outputs (a halt).
// Outputs of one lane are sent in the order they were queued (per producer thread: in program
// order). Nothing orders outputs of different lanes except "priority first".
//
// Epoch gate (what dcp::EmergencyStop builds on). send() may tag an output with an epoch (any value
// but kUntagged, at most kMaxEpoch). Until set_epoch() is first called every output passes; after
// that a tagged output e passes iff the gate is not latched and e == current. The gate is checked on
// the handler thread right before the output would be sent; an output that does not pass is
// dropped and counted as `stale`. Untagged and priority outputs are never gated. The gate is one
// atomic word (epoch and latch read together), so:
//   - every output the handler thread takes from a lane after set_epoch(c, l) has returned is
//     judged by (c, l) or by a later set_epoch;
//   - the e-stop guarantee: if set_epoch(E + 1, true) returns before send_priority(halt) is called
//     (on the same thread, or otherwise ordered before it), then no output tagged with an epoch
//     <= E + 1 is sent after the halt — provided no later set_epoch() moves `current` back to an
//     epoch <= E (epochs only grow). At most one tagged output is still inside OutputSender::send
//     when set_epoch returns; it is sent before the halt, never after.
//
// Errors. An output id the node does not declare is a programming error: send*() throw
// dcp::NodeError at once, in the caller (the message names the id and lists the declared outputs).
// Everything else is a result (OutputStatus), never an exception. When OutputSender::send throws on
// the handler thread (connection lost, metadata beyond the limits, output closed), the output is
// counted `failed`, Options::on_error is called there with the exception, and the handler goes on.
// An exception thrown by on_error itself is swallowed and counted (OutputStats::on_error_failures).
//
// Metadata: passed on untouched; a zero timestamp_ns is filled in by the OutputSender when the
// output is actually sent, so downstream sees the real send time.
//
// Status (Options::status): for every declared output <id>, counters output.<id>.sent,
// output.<id>.dropped (overflow policy), output.<id>.failed, output.<id>.stale, the histogram
// output.<id>.latency (queued -> OutputSender::send returned, sent outputs only), and the gauge
// output.queue (outputs waiting in the normal lane). Metrics are looked up once, in the constructor.
//
// Shutdown. shutdown(OutputShutdown::drain) closes both lanes, sends everything still queued
// (priority lane first) and joins the thread; shutdown(OutputShutdown::discard) closes both lanes,
// drops what is queued (counted `discarded`) and joins. Both are idempotent and may run on several
// threads at once; discard escalates a drain in progress. From then on send*() return
// OutputStatus::closed at once, and a producer blocked in send() on a full Overflow::block lane
// wakes up with closed. The destructor runs shutdown(OutputShutdown::drain).
//
// Ownership: the OutputHandler owns the OutputSender for its whole life (only the handler thread
// uses it) and destroys it in its own destructor, after the thread has been joined. There is no way
// to get the sender back.
//
// Thread safety: send(), send_priority(), set_epoch(), stats(), flush_for(), shutdown() and
// outputs() may be called from any thread concurrently — except that flush_for() and shutdown()
// throw std::logic_error on the handler thread itself (inside on_error), where they would wait for
// themselves. The destructor must not race with any other call. on_error runs on the handler thread.
// Blocking: send() only on a full Overflow::block lane, until there is room or shutdown (called on
// the handler thread, it never waits: a full lane then drops the output, reported as dropped);
// flush_for() at most its timeout; shutdown() and the destructor until the thread is joined (which
// waits for the OutputSender::send in progress). Everything else returns at once.
// Cost per output: no allocation for the output id (an index into the declared outputs travels);
// send(id, text) makes one allocation for the bytes; send(id, Payload) makes none. The lanes are
// preallocated rings.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "dcp/core/channel.hpp"
#include "dcp/core/detail/deadline.hpp"
#include "dcp/core/detail/queue_status.hpp"
#include "dcp/core/detail/thread_name.hpp"
#include "dcp/core/detail/thread_priority.hpp"
#include "dcp/node/metadata.hpp"
#include "dcp/node/node.hpp"
#include "dcp/core/overflow.hpp"
#include "dcp/node/payload.hpp"
#include "dcp/core/select.hpp"
#include "dcp/patterns/status.hpp"

namespace dcp {

/// The epoch tag of an output that is never gated.
inline constexpr std::uint64_t kUntagged = 0;

/// Largest epoch the gate can hold (62 bits; the other two bits of the gate word are flags).
inline constexpr std::uint64_t kMaxEpoch = (std::uint64_t{1} << 62) - 1;

enum class OutputShutdown {
  drain,    ///< send everything still queued, then stop
  discard,  ///< drop everything still queued (counted `discarded`), then stop
};

constexpr const char* to_string(OutputShutdown mode) noexcept {
  switch (mode) {
    case OutputShutdown::drain: return "drain";
    case OutputShutdown::discard: return "discard";
  }
  return "unknown";
}

/// What happened to an output handed to send() / send_priority().
enum class OutputStatus {
  queued,                 ///< queued for the handler thread
  queued_dropped_oldest,  ///< queued; the oldest queued output of the lane was dropped to make room
  dropped,                ///< this output was dropped: its lane is full (drop_newest, or send on the handler thread)
  closed,                 ///< the handler is shut down: not sent
};

constexpr const char* to_string(OutputStatus status) noexcept {
  switch (status) {
    case OutputStatus::queued: return "queued";
    case OutputStatus::queued_dropped_oldest: return "queued_dropped_oldest";
    case OutputStatus::dropped: return "dropped";
    case OutputStatus::closed: return "closed";
  }
  return "unknown";
}

/// Counters of an OutputHandler (a snapshot; each counter is read once, not all at one instant).
struct OutputStats {
  std::uint64_t sent = 0;           ///< OutputSender::send returned (both lanes)
  std::uint64_t priority_sent = 0;  ///< of which came from the priority lane
  std::uint64_t dropped = 0;        ///< dropped by a full lane (either lane)
  std::uint64_t failed = 0;         ///< OutputSender::send threw
  std::uint64_t stale = 0;          ///< refused by the epoch gate
  std::uint64_t discarded = 0;      ///< thrown away by shutdown(OutputShutdown::discard)
  std::size_t queued = 0;           ///< waiting in either lane right now
  std::uint64_t on_error_failures = 0;  ///< Options::on_error threw (swallowed)
};

namespace detail {

enum class OutputLane : std::uint8_t { normal = 0, priority = 1 };

/// Evictions (drop_oldest) done by the calling thread, so send() can tell it made room by dropping.
inline thread_local std::uint64_t outputs_evicted_on_this_thread = 0;

/// The OutputHandler whose thread is the calling thread (nullptr elsewhere).
inline thread_local const void* current_output_handler = nullptr;

class OutputLedger;

/// One queued output. While it is owned by a lane, `ledger_` is set; whoever decides its fate
/// (the handler thread, or a producer whose send was refused) settles it first. An output destroyed
/// unsettled was dropped inside a lane by its overflow policy — its destructor counts that itself,
/// which is how drops done deep inside the channel are seen.
class QueuedOutput {
 public:
  QueuedOutput(OutputLedger* ledger, OutputLane lane, std::uint32_t output, std::uint64_t epoch,
               std::uint64_t sequence, SteadyTime queued_at, Payload data, Metadata metadata) noexcept
      : ledger_(ledger),
        output_(output),
        lane_(lane),
        epoch_(epoch),
        sequence_(sequence),
        queued_at_(queued_at),
        data_(std::move(data)),
        metadata_(std::move(metadata)) {}
  QueuedOutput(QueuedOutput&& other) noexcept
      : ledger_(std::exchange(other.ledger_, nullptr)),
        output_(other.output_),
        lane_(other.lane_),
        epoch_(other.epoch_),
        sequence_(other.sequence_),
        queued_at_(other.queued_at_),
        data_(std::move(other.data_)),
        metadata_(std::move(other.metadata_)) {}
  QueuedOutput& operator=(QueuedOutput&&) = delete;
  QueuedOutput(const QueuedOutput&) = delete;
  QueuedOutput& operator=(const QueuedOutput&) = delete;
  inline ~QueuedOutput();

  /// Its fate is accounted for by the caller: the destructor counts nothing.
  void settle() noexcept { ledger_ = nullptr; }
  [[nodiscard]] bool unsettled() const noexcept { return ledger_ != nullptr; }

  [[nodiscard]] std::uint32_t output() const noexcept { return output_; }
  [[nodiscard]] OutputLane lane() const noexcept { return lane_; }
  [[nodiscard]] std::uint64_t epoch() const noexcept { return epoch_; }
  [[nodiscard]] std::uint64_t sequence() const noexcept { return sequence_; }
  [[nodiscard]] SteadyTime queued_at() const noexcept { return queued_at_; }
  [[nodiscard]] const Payload& data() const noexcept { return data_; }
  [[nodiscard]] Metadata& metadata() noexcept { return metadata_; }

 private:
  OutputLedger* ledger_;
  std::uint32_t output_;      // index into the declared outputs
  OutputLane lane_;
  std::uint64_t epoch_;
  std::uint64_t sequence_;    // position among the lane's send attempts (for flush_for)
  SteadyTime queued_at_;      // only with a status board (latency); epoch otherwise
  Payload data_;
  Metadata metadata_;
};

static_assert(std::is_nothrow_move_constructible_v<QueuedOutput> && std::is_nothrow_destructible_v<QueuedOutput>);

/// The status-board metrics of one declared output (all null without a board).
struct OutputMetrics {
  Counter* sent = nullptr;
  Counter* dropped = nullptr;
  Counter* failed = nullptr;
  Counter* stale = nullptr;
  LatencyHistogram* latency = nullptr;
};

/// The bookkeeping shared by producers, the handler thread and the queued outputs themselves.
///
/// flush_for() is built on per-lane counts, so that it waits for exactly the outputs queued before
/// the call (not for later ones, which could keep it waiting forever):
///   started   sequence numbers handed out, taken BEFORE the push into the lane;
///   departed  outputs that left the lane: taken by the handler thread, evicted (drop_oldest) or
///             discarded. A lane is FIFO and evictions take the oldest, so while an output M is still
///             in the lane, every departed output was pushed before M (hence started before it);
///   rejected  send attempts that never entered the lane (drop_newest, closed), counted under the
///             flush mutex so each flush knows which of its attempts ended that way.
/// A flush taken when `started` was S and `rejected` was R is done with a lane once
/// departed + (rejections since, of sequence numbers < S) >= S - R: if an output pushed before the
/// call were still in the lane, departed could count only outputs pushed before it, all of them
/// among the S - R - (later rejections) attempts that did or will enter the lane, minus itself.
/// That leaves the outputs the handler thread has already taken but not finished: the handler counts
/// its rounds (one round = look at both lanes, handle at most one output), a round's start before it
/// looks, its end after the output is done; the flush then waits until every round that had started
/// is over. (The handler's own `departed` count comes after its pop, so that gap is covered too.)
class OutputLedger {
 public:
  struct Lane {
    alignas(kCacheLine) std::atomic<std::uint64_t> started{0};
    alignas(kCacheLine) std::atomic<std::uint64_t> departed{0};
    std::uint64_t rejected = 0;  // guarded by flush_mutex
    Overflow policy = Overflow::drop_oldest;
  };

  /// One flush_for() in progress.
  struct FlushTarget {
    std::array<std::uint64_t, 2> started{};  // `started` of each lane when the flush began
    std::array<std::uint64_t, 2> target{};   // started - rejected, then
    std::array<std::uint64_t, 2> credit{};   // rejections since, of sequence numbers < started
  };

  Lane& lane(OutputLane l) noexcept { return lanes_[static_cast<std::size_t>(l)]; }

  // --- counters (OutputStats) ---
  alignas(kCacheLine) std::atomic<std::uint64_t> sent{0};
  std::atomic<std::uint64_t> priority_sent{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> stale{0};
  std::atomic<std::uint64_t> discarded{0};
  std::atomic<std::uint64_t> on_error_failures{0};
  std::atomic<std::uint64_t> rounds_started{0};  // the handler thread's rounds (see above)
  std::atomic<std::uint64_t> rounds_ended{0};
  alignas(kCacheLine) std::atomic<std::uint64_t> dropped{0};

  std::vector<OutputMetrics> metrics;  // parallel to the declared outputs; fixed after construction
  Gauge* queue_gauge = nullptr;

  /// A producer is about to push onto `l`.
  std::uint64_t start(OutputLane l) noexcept {
    if (l == OutputLane::normal && queue_gauge != nullptr) queue_gauge->add(1);
    return lane(l).started.fetch_add(1, std::memory_order_seq_cst);
  }

  /// An output left lane `l` (taken by the handler thread, evicted, discarded).
  void departed(OutputLane l, bool wake) noexcept {
    if (l == OutputLane::normal && queue_gauge != nullptr) queue_gauge->add(-1);
    lane(l).departed.fetch_add(1, std::memory_order_seq_cst);
    if (wake) wake_flushers();
  }

  /// A send attempt (sequence number `sequence`) on lane `l` never entered it.
  void rejected(OutputLane l, std::uint64_t sequence) noexcept {
    if (l == OutputLane::normal && queue_gauge != nullptr) queue_gauge->add(-1);
    {
      std::lock_guard lock(flush_mutex_);
      const auto index = static_cast<std::size_t>(l);
      ++lanes_[index].rejected;
      for (FlushTarget* flush : flushes_) {
        if (sequence < flush->started[index]) ++flush->credit[index];
      }
    }
    if (flush_waiters_.load(std::memory_order_seq_cst) != 0) flush_cv_.notify_all();
  }

  /// Counts one output dropped by an overflow policy.
  void count_dropped(std::uint32_t output) noexcept {
    dropped.fetch_add(1, std::memory_order_relaxed);
    if (Counter* c = metrics[output].dropped) c->add();
  }

  /// The handler thread is about to look at the lanes.
  void round_starts() noexcept { rounds_started.fetch_add(1, std::memory_order_seq_cst); }
  /// ... and is done with what it took (if anything).
  void round_ends() noexcept {
    rounds_ended.fetch_add(1, std::memory_order_seq_cst);
    wake_flushers();
  }

  void wake_flushers() noexcept {
    if (flush_waiters_.load(std::memory_order_seq_cst) == 0) return;
    { std::lock_guard lock(flush_mutex_); }  // a waiter between its check and its sleep cannot miss it
    flush_cv_.notify_all();
  }

  /// Waits until every output queued before the call was sent or dropped, or until `deadline`.
  bool flush_until(SteadyTime deadline) {
    std::unique_lock lock(flush_mutex_);
    FlushTarget flush;
    for (std::size_t i = 0; i < 2; ++i) {
      flush.started[i] = lanes_[i].started.load(std::memory_order_seq_cst);
      flush.target[i] = flush.started[i] - lanes_[i].rejected;
    }
    flushes_.push_back(&flush);
    flush_waiters_.fetch_add(1, std::memory_order_seq_cst);
    bool lanes_done = false;
    std::uint64_t rounds_then = 0;
    const auto done = [&] {
      if (!lanes_done) {
        for (std::size_t i = 0; i < 2; ++i) {
          if (lanes_[i].departed.load(std::memory_order_seq_cst) + flush.credit[i] < flush.target[i]) return false;
        }
        lanes_done = true;
        rounds_then = rounds_started.load(std::memory_order_seq_cst);  // covers every pop counted above
      }
      return rounds_ended.load(std::memory_order_seq_cst) >= rounds_then;
    };
    bool result = false;
    try {
      if (deadline == kNoDeadline) {
        flush_cv_.wait(lock, done);
        result = true;
      } else {
        result = flush_cv_.wait_until(lock, deadline, done);
      }
    } catch (...) {
      forget(flush);
      throw;
    }
    forget(flush);
    return result;
  }

 private:
  void forget(FlushTarget& flush) noexcept {  // flush_mutex_ held
    flushes_.erase(std::find(flushes_.begin(), flushes_.end(), &flush));
    flush_waiters_.fetch_sub(1, std::memory_order_seq_cst);
  }

  std::array<Lane, 2> lanes_{};
  std::mutex flush_mutex_;
  std::condition_variable flush_cv_;
  std::vector<FlushTarget*> flushes_;            // guarded by flush_mutex_
  std::atomic<std::size_t> flush_waiters_{0};
};

inline QueuedOutput::~QueuedOutput() {
  if (ledger_ == nullptr) return;
  // Dropped inside a lane by its overflow policy, on the sending thread, inside the channel's send.
  ledger_->count_dropped(output_);
  if (ledger_->lane(lane_).policy == Overflow::drop_newest) {
    ledger_->rejected(lane_, sequence_);  // the output being sent: it never entered the lane
  } else {
    ++outputs_evicted_on_this_thread;  // the oldest queued output made room for a new one
    ledger_->departed(lane_, true);
  }
}

}  // namespace detail

class OutputHandler {
 public:
  struct Options {
    /// Bound of the normal lane: 1 .. dcp::kMaxCapacity.
    std::size_t capacity = 1024;
    /// What send() does when the normal lane is full: drop_oldest, drop_newest, or block (wait).
    Overflow overflow = Overflow::drop_oldest;
    /// Bound of the priority lane (always drop_oldest: priority outputs such as halts are
    /// idempotent, the newest matters): 1 .. dcp::kMaxCapacity.
    std::size_t priority_capacity = 64;
    /// Name of the handler thread (truncated to 15 characters).
    std::string name = "dcp-output";
    /// Optional status board (<dcp/patterns/status.hpp>); must outlive the handler.
    StatusBoard* status = nullptr;
    /// Called on the handler thread when OutputSender::send throws; then the handler goes on.
    std::function<void(std::string_view output_id, std::exception_ptr error)> on_error = nullptr;
    /// 0: the handler thread keeps the default scheduling. 1..99: it asks for SCHED_FIFO at this
    /// priority, so that a halt on the priority lane preempts busy workers instead of waiting for a
    /// time slice on a saturated machine. Needs CAP_SYS_NICE or an RLIMIT_RTPRIO of at least this
    /// value; when refused (or not on Linux) the thread runs normally: realtime() says which.
    int realtime_priority = 0;
  };

  /// Takes over `sender` and starts the handler thread. Throws std::invalid_argument for a bad
  /// option (naming the field) or a sender that is not valid, std::system_error when the thread
  /// cannot be started, and what StatusBoard throws when a metric cannot be created.
  explicit OutputHandler(OutputSender sender) : OutputHandler(std::move(sender), Options{}) {}
  OutputHandler(OutputSender sender, Options options)
      : options_(checked(std::move(options), sender)),
        outputs_(sender.outputs()),
        node_id_(sender.node_id()),
        sender_(std::move(sender)),
        normal_(bounded<detail::QueuedOutput>(options_.capacity, options_.overflow)),
        priority_(bounded<detail::QueuedOutput>(options_.priority_capacity, Overflow::drop_oldest)) {
    ledger_.lane(detail::OutputLane::normal).policy = options_.overflow;
    ledger_.lane(detail::OutputLane::priority).policy = Overflow::drop_oldest;
    ledger_.metrics.resize(outputs_.size());
    if (StatusBoard* board = options_.status) {
      for (std::size_t i = 0; i < outputs_.size(); ++i) {
        const std::string prefix = "output." + outputs_[i] + ".";
        detail::OutputMetrics& m = ledger_.metrics[i];
        m.sent = &board->counter(prefix + "sent");
        m.dropped = &board->counter(prefix + "dropped");
        m.failed = &board->counter(prefix + "failed");
        m.stale = &board->counter(prefix + "stale");
        m.latency = &board->latency(prefix + "latency");
      }
      ledger_.queue_gauge = &board->gauge("output.queue");
    }
    thread_ = std::thread([this]() noexcept { run(); });
  }

  OutputHandler(const OutputHandler&) = delete;
  OutputHandler& operator=(const OutputHandler&) = delete;

  /// shutdown(OutputShutdown::drain): sends everything still queued, joins the thread, then destroys
  /// the OutputSender.
  ~OutputHandler() {
    if (on_handler_thread()) {
      std::fputs("dcp::OutputHandler: destroyed from its own handler thread (inside on_error); aborting\n", stderr);
      std::abort();
    }
    shutdown(OutputShutdown::drain);
  }

  /// Queues `data` for `output_id`, tagged with `epoch` (kUntagged: never gated). Throws NodeError
  /// for an undeclared output id; otherwise reports what happened (see OutputStatus).
  OutputStatus send(std::string_view output_id, Payload data, Metadata metadata = {},
                    std::uint64_t epoch = kUntagged) {
    return enqueue(detail::OutputLane::normal, index_of(output_id, "send"), std::move(data), std::move(metadata),
                   epoch);
  }
  /// Queues the characters of `text` (copied; no terminating NUL).
  OutputStatus send(std::string_view output_id, std::string_view text, Metadata metadata = {},
                    std::uint64_t epoch = kUntagged) {
    const std::uint32_t index = index_of(output_id, "send");
    return enqueue(detail::OutputLane::normal, index, text_payload(text), std::move(metadata), epoch);
  }

  /// Queues `data` on the priority lane: sent before any normal output still queued; never gated;
  /// never blocks (a full priority lane drops its oldest output). Throws NodeError for an undeclared id.
  OutputStatus send_priority(std::string_view output_id, Payload data, Metadata metadata = {}) {
    return enqueue(detail::OutputLane::priority, index_of(output_id, "send_priority"), std::move(data),
                   std::move(metadata), kUntagged);
  }
  OutputStatus send_priority(std::string_view output_id, std::string_view text, Metadata metadata = {}) {
    const std::uint32_t index = index_of(output_id, "send_priority");
    return enqueue(detail::OutputLane::priority, index, text_payload(text), std::move(metadata), kUntagged);
  }

  /// Sets the epoch gate: from now on a tagged output passes iff !latched && its epoch == current
  /// (see the header comment for the exact guarantee). A `current` above kMaxEpoch latches the gate
  /// (nothing tagged passes) rather than wrapping around.
  void set_epoch(std::uint64_t current, bool latched) noexcept {
    if (current > kMaxEpoch) {
      current = kMaxEpoch;
      latched = true;
    }
    gate_.store(kGateSet | (latched ? kGateLatched : 0) | (current << 2), std::memory_order_seq_cst);
  }

  [[nodiscard]] OutputStats stats() const noexcept {
    OutputStats s;
    s.sent = ledger_.sent.load(std::memory_order_relaxed);
    s.priority_sent = ledger_.priority_sent.load(std::memory_order_relaxed);
    s.dropped = ledger_.dropped.load(std::memory_order_relaxed);
    s.failed = ledger_.failed.load(std::memory_order_relaxed);
    s.stale = ledger_.stale.load(std::memory_order_relaxed);
    s.discarded = ledger_.discarded.load(std::memory_order_relaxed);
    s.queued = normal_.first.size() + priority_.first.size();
    s.on_error_failures = ledger_.on_error_failures.load(std::memory_order_relaxed);
    return s;
  }

  /// Waits until every output queued (on either lane) before the call has been sent, failed, or
  /// dropped (stale, evicted, discarded) — not for outputs queued meanwhile. False on timeout.
  /// Throws std::invalid_argument for a negative timeout and std::logic_error on the handler thread.
  bool flush_for(std::chrono::nanoseconds timeout) {
    if (on_handler_thread()) {
      throw std::logic_error("dcp::OutputHandler::flush_for: called on the handler thread (inside on_error), "
                             "where it would wait for itself");
    }
    return ledger_.flush_until(detail::deadline_after(timeout, "dcp::OutputHandler::flush_for"));
  }

  /// Closes both lanes, sends (drain) or drops (discard) what is queued, and joins the thread.
  /// Idempotent; several threads may call it; discard escalates a drain in progress. Returns the
  /// stats after the thread was joined. Throws std::logic_error on the handler thread.
  OutputStats shutdown(OutputShutdown mode) {
    if (on_handler_thread()) {
      throw std::logic_error("dcp::OutputHandler::shutdown: called on the handler thread (inside on_error), "
                             "which cannot join itself");
    }
    if (mode == OutputShutdown::discard) discard_.store(true, std::memory_order_seq_cst);
    closed_.store(true, std::memory_order_seq_cst);
    normal_.first.close();
    priority_.first.close();
    {
      std::lock_guard lock(join_mutex_);
      if (thread_.joinable()) thread_.join();
    }
    ledger_.wake_flushers();
    return stats();
  }

  /// The node's declared output ids (copied from the OutputSender).
  [[nodiscard]] const std::vector<std::string>& outputs() const noexcept { return outputs_; }

  /// True when the handler thread runs with the SCHED_FIFO priority of Options::realtime_priority
  /// (waits until the thread has started and tried).
  [[nodiscard]] bool realtime() const noexcept {
    realtime_known_.wait(false, std::memory_order_acquire);
    return realtime_.load(std::memory_order_acquire);
  }

 private:
  static constexpr std::uint64_t kGateSet = 1;      // set_epoch() was called
  static constexpr std::uint64_t kGateLatched = 2;  // ... with latched = true; bits 2..63: current

  static Options checked(Options options, const OutputSender& sender) {
    if (options.capacity == 0 || options.capacity > kMaxCapacity) {
      throw std::invalid_argument("dcp::OutputHandler: Options::capacity = " + std::to_string(options.capacity) +
                                  " is out of range 1.." + std::to_string(kMaxCapacity));
    }
    if (options.priority_capacity == 0 || options.priority_capacity > kMaxCapacity) {
      throw std::invalid_argument("dcp::OutputHandler: Options::priority_capacity = " +
                                  std::to_string(options.priority_capacity) + " is out of range 1.." +
                                  std::to_string(kMaxCapacity));
    }
    if (options.overflow != Overflow::block && options.overflow != Overflow::drop_oldest &&
        options.overflow != Overflow::drop_newest) {
      throw std::invalid_argument("dcp::OutputHandler: Options::overflow = " +
                                  std::to_string(static_cast<int>(options.overflow)) +
                                  " is not an Overflow (block, drop_oldest, drop_newest)");
    }
    if (options.realtime_priority < 0 || options.realtime_priority > 99) {
      throw std::invalid_argument("dcp::OutputHandler: Options::realtime_priority = " +
                                  std::to_string(options.realtime_priority) + " is out of range 0..99");
    }
    if (!sender.valid()) {
      throw std::invalid_argument(
          "dcp::OutputHandler: the OutputSender is not valid (moved from or default-constructed)");
    }
    if (sender.outputs().size() > UINT32_MAX) {
      throw std::invalid_argument("dcp::OutputHandler: the node declares too many outputs");
    }
    return options;
  }

  static Payload text_payload(std::string_view text) {
    if (text.empty()) return Payload();
#if defined(__cpp_lib_smart_ptr_for_overwrite)
    // One allocation for the control block and the bytes (Payload::from_string makes two).
    std::shared_ptr<std::uint8_t[]> bytes = std::make_shared_for_overwrite<std::uint8_t[]>(text.size());
    std::memcpy(bytes.get(), text.data(), text.size());
    const std::span<const std::uint8_t> view(bytes.get(), text.size());
    return detail::PayloadAccess::adopt(std::move(bytes), view);
#else
    return Payload::from_string(text);
#endif
  }

  [[nodiscard]] bool on_handler_thread() const noexcept { return detail::current_output_handler == this; }

  std::uint32_t index_of(std::string_view output_id, const char* operation) const {
    for (std::size_t i = 0; i < outputs_.size(); ++i) {
      if (outputs_[i] == output_id) return static_cast<std::uint32_t>(i);
    }
    std::string declared;
    for (const std::string& id : outputs_) declared += (declared.empty() ? "" : ", ") + id;
    throw NodeError("dcp::OutputHandler::" + std::string(operation) + ": output '" + std::string(output_id) +
                    "' is not declared by node '" + node_id_ +
                    "' (declared outputs: " + (declared.empty() ? "none" : declared) + ")");
  }

  OutputStatus enqueue(detail::OutputLane lane, std::uint32_t output, Payload data, Metadata metadata,
                       std::uint64_t epoch) {
    if (closed_.load(std::memory_order_acquire)) return OutputStatus::closed;
    const detail::SteadyTime queued_at =
        options_.status != nullptr ? std::chrono::steady_clock::now() : detail::SteadyTime{};
    const std::uint64_t sequence = ledger_.start(lane);
    detail::QueuedOutput output_value(&ledger_, lane, output, epoch, sequence, queued_at, std::move(data),
                                      std::move(metadata));
    Sender<detail::QueuedOutput>& lane_sender = lane == detail::OutputLane::normal ? normal_.first : priority_.first;
    const std::uint64_t evicted_before = detail::outputs_evicted_on_this_thread;
    try {
      // On the handler thread a blocking send would wait for the thread itself: never block there.
      const bool may_block = !(lane == detail::OutputLane::normal && options_.overflow == Overflow::block &&
                               on_handler_thread());
      SendResult<detail::QueuedOutput> result =
          may_block ? lane_sender.send(std::move(output_value)) : lane_sender.try_send(std::move(output_value));
      switch (result.status()) {
        case SendStatus::sent:
          return detail::outputs_evicted_on_this_thread != evicted_before ? OutputStatus::queued_dropped_oldest
                                                                          : OutputStatus::queued;
        case SendStatus::dropped:  // drop_newest: counted by the output's destructor
          return OutputStatus::dropped;
        case SendStatus::full:  // only on the handler thread, Overflow::block
          result.value().settle();
          ledger_.count_dropped(output);
          ledger_.rejected(lane, sequence);
          return OutputStatus::dropped;
        case SendStatus::timeout:
        case SendStatus::closed:
          break;
      }
      result.value().settle();
      ledger_.rejected(lane, sequence);
      return OutputStatus::closed;
    } catch (...) {  // std::bad_alloc while parking: the output never entered the lane
      if (output_value.unsettled()) {
        output_value.settle();
        ledger_.rejected(lane, sequence);
      }
      throw;
    }
  }

  [[nodiscard]] bool gate_passes(std::uint64_t epoch) const noexcept {
    if (epoch == kUntagged) return true;
    const std::uint64_t gate = gate_.load(std::memory_order_seq_cst);
    if ((gate & kGateSet) == 0) return true;
    if ((gate & kGateLatched) != 0) return false;
    return epoch == (gate >> 2);
  }

  // The handler thread.
  void run() noexcept {
    detail::current_output_handler = this;
    detail::set_current_thread_name(options_.name);
    if (options_.realtime_priority > 0) {
      realtime_.store(detail::set_current_thread_realtime(options_.realtime_priority), std::memory_order_release);
    }
    realtime_known_.store(true, std::memory_order_release);
    realtime_known_.notify_all();
    Receiver<detail::QueuedOutput>& normal = normal_.second;
    Receiver<detail::QueuedOutput>& priority = priority_.second;
    for (;;) {
      bool handled = false;
      bool closed = false;
      ledger_.round_starts();
      {
        RecvResult<detail::QueuedOutput> urgent = priority.try_recv();  // the priority lane first, always
        if (urgent.ok()) {
          handle(*urgent);
          handled = true;
        } else {
          RecvResult<detail::QueuedOutput> next = normal.try_recv();
          if (next.ok()) {
            handle(*next);
            handled = true;
          } else {
            closed = urgent.is_closed() && next.is_closed();  // both closed and drained
          }
        }
      }
      ledger_.round_ends();
      if (handled) continue;
      if (closed) break;
      (void)dcp::select(priority, normal);  // sleeps until either lane has something (or closes)
    }
    detail::current_output_handler = nullptr;
  }

  void handle(detail::QueuedOutput& output) noexcept {
    const detail::OutputLane lane = output.lane();
    const std::uint32_t index = output.output();
    output.settle();  // its fate is decided here
    ledger_.departed(lane, false);
    const detail::OutputMetrics& metrics = ledger_.metrics[index];
    if (discard_.load(std::memory_order_acquire)) {
      ledger_.discarded.fetch_add(1, std::memory_order_relaxed);
    } else if (lane == detail::OutputLane::normal && !gate_passes(output.epoch())) {
      ledger_.stale.fetch_add(1, std::memory_order_relaxed);
      if (metrics.stale != nullptr) metrics.stale->add();
    } else {
      std::exception_ptr error;
      try {
        sender_.send(outputs_[index], output.data(), std::move(output.metadata()));
      } catch (...) {
        error = std::current_exception();
      }
      if (!error) {
        if (metrics.latency != nullptr) metrics.latency->record(std::chrono::steady_clock::now() - output.queued_at());
        ledger_.sent.fetch_add(1, std::memory_order_relaxed);
        if (lane == detail::OutputLane::priority) ledger_.priority_sent.fetch_add(1, std::memory_order_relaxed);
        if (metrics.sent != nullptr) metrics.sent->add();
      } else {
        ledger_.failed.fetch_add(1, std::memory_order_relaxed);
        if (metrics.failed != nullptr) metrics.failed->add();
        report(outputs_[index], std::move(error));
      }
    }
  }

  void report(std::string_view output_id, std::exception_ptr error) noexcept {
    if (!options_.on_error) return;
    try {
      options_.on_error(output_id, std::move(error));
    } catch (...) {
      ledger_.on_error_failures.fetch_add(1, std::memory_order_relaxed);
    }
  }

  const Options options_;
  const std::vector<std::string> outputs_;
  const std::string node_id_;
  OutputSender sender_;  // used by the handler thread only
  detail::OutputLedger ledger_;  // outlives the lanes: outputs dropped inside a lane report to it
  std::atomic<std::uint64_t> gate_{0};
  std::atomic<bool> closed_{false};
  std::atomic<bool> discard_{false};
  std::pair<Sender<detail::QueuedOutput>, Receiver<detail::QueuedOutput>> normal_;
  std::pair<Sender<detail::QueuedOutput>, Receiver<detail::QueuedOutput>> priority_;
  std::mutex join_mutex_;
  std::atomic<bool> realtime_{false};
  std::atomic<bool> realtime_known_{false};
  std::thread thread_;
};

}  // namespace dcp
