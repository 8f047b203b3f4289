// patterns/src/output_handler.cpp — the bodies of dcp::OutputHandler (contract: output_handler.hpp).
//
// The handler is a pimpl: OutputHandler::Impl owns the lanes, the ledger and the thread, so the
// private types (QueuedOutput, OutputLedger, the lanes) stay out of the public header.
#include "dcp/patterns/output_handler.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "dcp/core/channel.hpp"
#include "dcp/core/detail/deadline.hpp"
#include "dcp/core/detail/queue_status.hpp"
#include "dcp/core/detail/thread_priority.hpp"
#include "dcp/core/error_report.hpp"
#include "dcp/core/select.hpp"
#include "dcp/patterns/detail/owned_thread.hpp"
#include "item_metrics.hpp"

namespace dcp {

namespace detail {

enum class OutputLane : std::uint8_t { normal = 0, priority = 1 };

class OutputLedger;

/// One queued output. Plain data: whoever decides its fate counts it — the handler thread when it
/// takes it, the producer when its send is refused or dropped, and the producer again, through the
/// channel's eviction sink (Sender::send(value, on_evicted)), when its send evicts it.
class QueuedOutput {
 public:
  QueuedOutput(OutputLane lane, std::uint32_t output, std::uint64_t epoch, std::uint64_t sequence,
               SteadyTime queued_at, Payload data, Metadata metadata) noexcept
      : output_(output),
        lane_(lane),
        epoch_(epoch),
        sequence_(sequence),
        queued_at_(queued_at),
        data_(std::move(data)),
        metadata_(std::move(metadata)) {}
  QueuedOutput(QueuedOutput&&) noexcept = default;
  QueuedOutput& operator=(QueuedOutput&&) = delete;
  QueuedOutput(const QueuedOutput&) = delete;
  QueuedOutput& operator=(const QueuedOutput&) = delete;
  ~QueuedOutput() = default;

  [[nodiscard]] std::uint32_t output() const noexcept { return output_; }
  [[nodiscard]] OutputLane lane() const noexcept { return lane_; }
  [[nodiscard]] std::uint64_t epoch() const noexcept { return epoch_; }
  [[nodiscard]] std::uint64_t sequence() const noexcept { return sequence_; }
  [[nodiscard]] SteadyTime queued_at() const noexcept { return queued_at_; }
  [[nodiscard]] const Payload& data() const noexcept { return data_; }
  [[nodiscard]] Metadata& metadata() noexcept { return metadata_; }

 private:
  std::uint32_t output_;      // index into the declared outputs
  OutputLane lane_;
  std::uint64_t epoch_;
  std::uint64_t sequence_;    // position among the lane's send attempts (for flush_for)
  SteadyTime queued_at_;      // only with a status board (latency); epoch otherwise
  Payload data_;
  Metadata metadata_;
};

static_assert(std::is_nothrow_move_constructible_v<QueuedOutput> && std::is_nothrow_destructible_v<QueuedOutput>);

/// The counters of a declared output on the status board ("output.<id>.<name>", in this order).
enum OutputCount : std::size_t { kSent, kDropped, kFailed, kStale, kOutputCounts };
using OutputMetrics = ItemMetrics<kOutputCounts>;  // no-ops without a board

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
  };

  /// One flush_for() in progress.
  struct FlushTarget {
    std::array<std::uint64_t, 2> started{};  // `started` of each lane when the flush began
    std::array<std::uint64_t, 2> target{};   // started - rejected, then
    std::array<std::uint64_t, 2> credit{};   // rejections since, of sequence numbers < started
  };

  Lane& lane(OutputLane l) noexcept { return lanes_[static_cast<std::size_t>(l)]; }

  // --- counters (OutputHandler::Stats) ---
  alignas(kCacheLine) std::atomic<std::uint64_t> sent{0};
  std::atomic<std::uint64_t> priority_sent{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> stale{0};
  std::atomic<std::uint64_t> discarded{0};
  std::atomic<std::uint64_t> refused_after_shutdown{0};
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
    metrics[output].add(kDropped);
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

}  // namespace detail

class OutputHandler::Impl {
 public:
  using Options = OutputHandler::Options;
  using Stats = OutputHandler::Stats;

  Impl(OutputSender sender, Options options)
      : options_(checked(std::move(options), sender)),
        outputs_(sender.outputs()),
        node_id_(sender.node_id()),
        sender_(std::move(sender)),
        normal_(bounded<detail::QueuedOutput>(options_.capacity, options_.overflow)),
        priority_(bounded<detail::QueuedOutput>(options_.priority_capacity, Overflow::drop_oldest)) {
    ledger_.metrics.resize(outputs_.size());
    if (StatusBoard* board = options_.status) {
      for (std::size_t i = 0; i < outputs_.size(); ++i) {
        const std::string prefix = "output." + outputs_[i] + ".";
        ledger_.metrics[i] =
            detail::OutputMetrics(*board, prefix, {"sent", "dropped", "failed", "stale"}, detail::ItemGauge::none);
      }
      ledger_.queue_gauge = &board->gauge("output.queue");
    }
    thread_.start(options_.name, [this](std::stop_token) { run(); });  // the lanes' closing ends it
  }

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  ~Impl() { shutdown(ShutdownMode::drain); }  // thread_'s destructor aborts on the handler thread

  /// Queues `data` for `output_id`, tagged with `epoch` (kUntagged: never gated). Throws NodeError
  /// for an undeclared output id; otherwise reports what happened (see OutputStatus).
  OutputStatus send(std::string_view output_id, Payload data, Metadata metadata = {},
                    std::uint64_t epoch = kUntagged) {
    return enqueue(detail::OutputLane::normal, index_of(output_id, "send"), std::move(data), std::move(metadata),
                   epoch);
  }
  /// Queues a copy of `bytes`.
  OutputStatus send(std::string_view output_id, std::span<const std::uint8_t> bytes, Metadata metadata,
                    std::uint64_t epoch) {
    const std::uint32_t index = index_of(output_id, "send");
    return enqueue(detail::OutputLane::normal, index, copied_payload(bytes), std::move(metadata), epoch);
  }

  /// Queues what `fill` wrote, on this thread, into a payload made by the node's backend.
  OutputStatus send_with(std::string_view output_id, std::size_t size, detail::FillRef fill, Metadata metadata,
                         std::uint64_t epoch) {
    const std::uint32_t index = index_of(output_id, "send_with");
    if (closed_.load(std::memory_order_acquire)) return refused();  // do not fill what will not be sent
    // make_payload may run on any thread next to the handler thread's sends (node.hpp).
    Payload data = sender_.make_payload(size, fill);
    return enqueue(detail::OutputLane::normal, index, std::move(data), std::move(metadata), epoch);
  }

  /// Queues `data` on the priority lane: sent before any normal output still queued; never gated;
  /// never blocks (a full priority lane drops its oldest output). Throws NodeError for an undeclared id.
  OutputStatus send_priority(std::string_view output_id, Payload data, Metadata metadata = {}) {
    return enqueue(detail::OutputLane::priority, index_of(output_id, "send_priority"), std::move(data),
                   std::move(metadata), kUntagged);
  }
  OutputStatus send_priority(std::string_view output_id, std::string_view text, Metadata metadata = {}) {
    const std::uint32_t index = index_of(output_id, "send_priority");
    return enqueue(detail::OutputLane::priority, index, copied_payload(as_bytes(text)), std::move(metadata),
                   kUntagged);
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

  [[nodiscard]] Stats stats() const noexcept {
    Stats s;
    s.sent = ledger_.sent.load(std::memory_order_relaxed);
    s.priority_sent = ledger_.priority_sent.load(std::memory_order_relaxed);
    s.dropped = ledger_.dropped.load(std::memory_order_relaxed);
    s.failed = ledger_.failed.load(std::memory_order_relaxed);
    s.stale = ledger_.stale.load(std::memory_order_relaxed);
    s.discarded = ledger_.discarded.load(std::memory_order_relaxed);
    s.queued = normal_.first.size() + priority_.first.size();
    s.refused_after_shutdown = ledger_.refused_after_shutdown.load(std::memory_order_relaxed);
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

  void shutdown(ShutdownMode mode) {
    if (mode == ShutdownMode::cancel) discard_.store(true, std::memory_order_seq_cst);
    closed_.store(true, std::memory_order_seq_cst);
    normal_.first.close();
    priority_.first.close();
    // On the handler thread join() returns false at once: the thread ends once it is back from on_error.
    if (!thread_.join()) return;
    ledger_.wake_flushers();
  }

  /// The node's declared output ids (copied from the OutputSender).
  [[nodiscard]] const std::vector<std::string>& outputs() const noexcept { return outputs_; }

  /// True when the handler thread runs with the SCHED_FIFO priority of Options::realtime_priority
  /// (waits until the thread has started and tried).
  [[nodiscard]] bool realtime() const noexcept {
    realtime_known_.wait(false, std::memory_order_acquire);
    return realtime_.load(std::memory_order_acquire);
  }

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

  static std::span<const std::uint8_t> as_bytes(std::string_view text) noexcept {
    return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
  }

  static Payload copied_payload(std::span<const std::uint8_t> source) {
    if (source.empty()) return Payload();
#if defined(__cpp_lib_smart_ptr_for_overwrite)
    // One allocation for the control block and the bytes (Payload::copy_of makes two).
    std::shared_ptr<std::uint8_t[]> bytes = std::make_shared_for_overwrite<std::uint8_t[]>(source.size());
    std::memcpy(bytes.get(), source.data(), source.size());
    const std::span<const std::uint8_t> view(bytes.get(), source.size());
    return detail::PayloadAccess::adopt(std::move(bytes), view);
#else
    return Payload::copy_of(source);
#endif
  }

  [[nodiscard]] bool on_handler_thread() const noexcept { return thread_.is_owned_thread(); }

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
    if (closed_.load(std::memory_order_acquire)) return refused();
    const detail::SteadyTime queued_at =
        options_.status != nullptr ? std::chrono::steady_clock::now() : detail::SteadyTime{};
    const std::uint64_t sequence = ledger_.start(lane);
    detail::QueuedOutput output_value(lane, output, epoch, sequence, queued_at, std::move(data), std::move(metadata));
    Sender<detail::QueuedOutput>& lane_sender = lane == detail::OutputLane::normal ? normal_.first : priority_.first;
    // An older output this send evicts (drop_oldest) left its lane: counted here, on this thread.
    const auto on_evicted = [this](detail::QueuedOutput&& evicted) noexcept {
      ledger_.count_dropped(evicted.output());
      ledger_.departed(evicted.lane(), true);
    };
    try {
      // On the handler thread a blocking send would wait for the thread itself: never block there.
      const bool may_block = !(lane == detail::OutputLane::normal && options_.overflow == Overflow::block &&
                               on_handler_thread());
      const SendResult<detail::QueuedOutput> result = may_block
                                                          ? lane_sender.send(std::move(output_value), on_evicted)
                                                          : lane_sender.try_send(std::move(output_value), on_evicted);
      switch (result.status()) {
        case SendStatus::sent:
          return result.evicted_oldest() ? OutputStatus::queued_dropped_oldest : OutputStatus::queued;
        case SendStatus::dropped:  // drop_newest: this output never entered the lane
        case SendStatus::full:     // only on the handler thread, Overflow::block
          ledger_.count_dropped(output);
          ledger_.rejected(lane, sequence);
          return OutputStatus::dropped;
        case SendStatus::timeout:
        case SendStatus::closed:
          break;
      }
      ledger_.rejected(lane, sequence);
      return refused();
    } catch (...) {  // std::bad_alloc while parking (Overflow::block): the output never entered the lane
      ledger_.rejected(lane, sequence);
      throw;
    }
  }

  OutputStatus refused() noexcept {
    ledger_.refused_after_shutdown.fetch_add(1, std::memory_order_relaxed);
    return OutputStatus::closed;
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
  }

  void handle(detail::QueuedOutput& output) noexcept {
    const detail::OutputLane lane = output.lane();
    const std::uint32_t index = output.output();
    ledger_.departed(lane, false);
    const detail::OutputMetrics& metrics = ledger_.metrics[index];
    if (discard_.load(std::memory_order_acquire)) {
      ledger_.discarded.fetch_add(1, std::memory_order_relaxed);
    } else if (lane == detail::OutputLane::normal && !gate_passes(output.epoch())) {
      ledger_.stale.fetch_add(1, std::memory_order_relaxed);
      metrics.add(detail::kStale);
    } else {
      std::exception_ptr error;
      try {
        sender_.send(outputs_[index], output.data(), std::move(output.metadata()));
      } catch (...) {
        error = std::current_exception();
      }
      if (!error) {
        metrics.record_since(output.queued_at());
        ledger_.sent.fetch_add(1, std::memory_order_relaxed);
        if (lane == detail::OutputLane::priority) ledger_.priority_sent.fetch_add(1, std::memory_order_relaxed);
        metrics.add(detail::kSent);
      } else {
        ledger_.failed.fetch_add(1, std::memory_order_relaxed);
        metrics.add(detail::kFailed);
        report(outputs_[index], error);
      }
    }
  }

  /// Delivers a failed send: Options::on_error, else dcp::report_error (never vanishes).
  void report(std::string_view output_id, const std::exception_ptr& error) noexcept {
    try {
      std::string message = "send of output '";
      message += output_id;
      message += "' failed: ";
      message += describe_exception(error);
      deliver_error(options_.on_error, source_, message);
    } catch (...) {  // the message could not be allocated: still say that an output was lost
      deliver_error(options_.on_error, source_, "send of an output failed");
    }
  }

  const Options options_;
  const std::vector<std::string> outputs_;
  const std::string node_id_;
  const std::string source_ = "output handler '" + node_id_ + "'";  // of the errors it delivers
  OutputSender sender_;  // used by the handler thread only
  detail::OutputLedger ledger_;  // outlives the lanes: outputs dropped inside a lane report to it
  std::atomic<std::uint64_t> gate_{0};
  std::atomic<bool> closed_{false};
  std::atomic<bool> discard_{false};
  std::pair<Sender<detail::QueuedOutput>, Receiver<detail::QueuedOutput>> normal_;
  std::pair<Sender<detail::QueuedOutput>, Receiver<detail::QueuedOutput>> priority_;
  std::atomic<bool> realtime_{false};
  std::atomic<bool> realtime_known_{false};
  detail::OwnedThread thread_;  // last: joined before the members run() uses are destroyed
};

OutputHandler::OutputHandler(OutputSender sender, Options options)
    : impl_(std::make_unique<Impl>(std::move(sender), std::move(options))) {}

OutputHandler::~OutputHandler() = default;

OutputStatus OutputHandler::send(std::string_view output_id, Payload data, Metadata metadata, std::uint64_t epoch) {
  return impl_->send(output_id, std::move(data), std::move(metadata), epoch);
}
OutputStatus OutputHandler::send(std::string_view output_id, std::string_view text, Metadata metadata,
                                 std::uint64_t epoch) {
  return impl_->send(output_id, Impl::as_bytes(text), std::move(metadata), epoch);
}
OutputStatus OutputHandler::send(std::string_view output_id, std::span<const std::uint8_t> bytes, Metadata metadata,
                                 std::uint64_t epoch) {
  return impl_->send(output_id, bytes, std::move(metadata), epoch);
}
OutputStatus OutputHandler::send(std::string_view output_id, std::span<const std::byte> bytes, Metadata metadata,
                                 std::uint64_t epoch) {
  const std::span<const std::uint8_t> view(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  return impl_->send(output_id, view, std::move(metadata), epoch);
}
OutputStatus OutputHandler::send_with_impl(std::string_view output_id, std::size_t size, detail::FillRef fill,
                                           Metadata metadata, std::uint64_t epoch) {
  return impl_->send_with(output_id, size, fill, std::move(metadata), epoch);
}
OutputStatus OutputHandler::send_priority(std::string_view output_id, Payload data, Metadata metadata) {
  return impl_->send_priority(output_id, std::move(data), std::move(metadata));
}
OutputStatus OutputHandler::send_priority(std::string_view output_id, std::string_view text, Metadata metadata) {
  return impl_->send_priority(output_id, text, std::move(metadata));
}
void OutputHandler::set_epoch(std::uint64_t current, bool latched) noexcept { impl_->set_epoch(current, latched); }
OutputHandler::Stats OutputHandler::stats() const noexcept { return impl_->stats(); }
bool OutputHandler::flush_for(std::chrono::nanoseconds timeout) { return impl_->flush_for(timeout); }
void OutputHandler::shutdown(ShutdownMode mode) { impl_->shutdown(mode); }
const std::vector<std::string>& OutputHandler::outputs() const noexcept { return impl_->outputs(); }
bool OutputHandler::realtime() const noexcept { return impl_->realtime(); }

}  // namespace dcp
