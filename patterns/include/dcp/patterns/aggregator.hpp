// dcp/patterns/aggregator.hpp — gather the results of parallel tasks per key; emit one combined result when all
// parts arrived, or a partial one, flagged, at a deadline.
//
// What it is for: scatter/gather inside a node. One lidar frame is split into N sector tasks on a
// WorkerPool; each task adds its part; the node gets ONE result per frame — complete, or partial when
// a sector was too slow (the robot would rather act on 7 of 8 sectors now than on 8 too late).
//
//   dcp::Aggregator<std::uint64_t, Obstacles> gather(
//       [&results](dcp::Gathered<std::uint64_t, Obstacles>&& frame) {   // any thread: must be thread-safe
//         (void)results.try_send(std::move(frame));                       // e.g. to the output thread
//       },
//       {.parts = 8, .deadline = 30ms, .max_pending = 4, .name = "lidar-gather"});
//   gather.open(frame_id);                                 // optional: the deadline starts at scatter time
//   for (std::size_t s = 0; s < 8; ++s)
//     pool.post([&, frame_id, s] { gather.add(frame_id, s, detect(scan, s)); });
//
// Keys. A key is pending from its first part (or open()) until it is emitted. Each key is emitted
// exactly once, as a Gathered<Key, Part> with one std::optional<Part> slot per expected part and the
// reason:
//   - complete: every slot was filled; emitted by the thread whose add() filled the last slot.
//   - deadline: Options::deadline passed since the key was opened; emitted by the aggregator's own
//     timer thread with the missing slots empty. The timer waits on a condition variable until the
//     earliest deadline (no polling).
//   - evicted:  opening a key while Options::max_pending keys are pending evicts the OLDEST pending
//     key first; it is emitted (partial) by the thread that opened the new key. Nothing vanishes
//     unflagged.
//   - flushed:  flush() or shutdown(drain) emitted it early, on the calling thread.
// Gathered::age is the time from opening (first part or open()) to the emission decision; a deadline
// emission has age >= Options::deadline.
//
// Late and duplicate parts. After emission a key is remembered in a bounded ring of recently emitted
// keys (Options::remembered, default 4 * max_pending, oldest forgotten first): a part for a remembered
// key is `late`, open() of it returns false. A key forgotten by the ring is new again: a later part
// opens it afresh. So choose keys that do not repeat within that window (frame numbers, sequence
// ids). A part for a slot already filled is a `duplicate`. Late and duplicate parts are destroyed and
// counted; the pending key is unchanged. A slot >= Options::parts is `rejected` (and opens nothing).
//
// The callback. on_result runs OUTSIDE the aggregator's lock, so it may call add()/open()/flush()/
// stats() of the same aggregator. It runs on the adding threads (complete), the threads that open keys
// (evicted), the flushing thread (flushed) and the timer thread (deadline) — possibly concurrently on
// several of them, for different keys: it must be thread-safe. Results of different keys are not
// ordered. An exception thrown by on_result never propagates: it is caught on whichever thread
// emitted, counted in stats().callback_errors and delivered with dcp::deliver_error(Options::on_error,
// ...) (unset: dcp::report_error); the key still counts as emitted and the other results of the same
// call are still emitted. on_result may call shutdown() (on the timer thread it starts the shutdown
// and returns without joining); destroying the aggregator from on_result on the timer thread is
// reported with dcp::report_error and aborts the process.
//
// Thread safety: add(), open(), flush(), shutdown() and stats() may be called from any thread
// concurrently. The destructor may not run concurrently with any other call (nor from on_result).
// Blocking: add(), open() and stats() hold one mutex for a short, bounded time (a hash lookup, moving
// the part in; a few allocations when a key opens or is emitted; never a user callback), then run
// on_result outside it when they emitted — so add() returns after the callback of the result it
// completed (or evicted) returned. flush()/shutdown(drain) do the same for every pending key. Nothing
// waits for time to pass except the timer thread.
// Shutdown: shutdown(ShutdownMode::drain) emits every pending key (flushed) on the calling thread;
// shutdown(ShutdownMode::cancel) drops them without calling back, counted in stats().cancelled. Both
// then stop and join the timer thread (waiting for a deadline callback it runs). Idempotent, any
// thread; the destructor calls shutdown(drain).
// After shutdown — one rule for every dcp pattern. Once shutdown() has begun:
//   - a call that submits work (here: add(), open()) never blocks and never throws; it returns its
//     refusal (AddResult::closed / false) and is counted in stats().refused_after_shutdown;
//   - a configuration call throws std::logic_error naming the class and member (here: none);
//   - shutdown() again is a no-op (cancel may escalate a drain);
//   - stats() and read-only accessors keep working (here also flush(), which finds nothing).
// Limits: Options::parts <= kMaxGatherParts, max_pending <= kMaxGatherPending, remembered <=
// kMaxGatherRemembered; a deadline of 100 years or more means "never".
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <iterator>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "dcp/core/detail/deadline.hpp"
#include "dcp/core/error_report.hpp"
#include "dcp/core/shutdown.hpp"
#include "dcp/patterns/detail/aggregator_pending.hpp"
#include "dcp/patterns/detail/owned_thread.hpp"

namespace dcp {

/// Most parts one key gathers (Options::parts).
inline constexpr std::size_t kMaxGatherParts = 65536;
/// Most keys pending at once (Options::max_pending).
inline constexpr std::size_t kMaxGatherPending = 65536;
/// Most emitted keys remembered to recognise late parts (Options::remembered).
inline constexpr std::size_t kMaxGatherRemembered = std::size_t{1} << 20;

enum class GatherReason {
  complete,  ///< every part arrived
  deadline,  ///< Options::deadline passed first (partial)
  evicted,   ///< the oldest pending key, pushed out by a new key at max_pending (partial)
  flushed,   ///< flush() or shutdown(drain) emitted it early (partial or, with parts == received, full)
};

constexpr const char* to_string(GatherReason reason) noexcept {
  switch (reason) {
    case GatherReason::complete: return "complete";
    case GatherReason::deadline: return "deadline";
    case GatherReason::evicted: return "evicted";
    case GatherReason::flushed: return "flushed";
  }
  return "unknown";
}

/// One emitted key: its parts (empty slots for those that never arrived) and why it was emitted.
template <class Key, class Part>
struct Gathered {
  Key key;
  std::vector<std::optional<Part>> parts;  ///< one slot per expected part (Options::parts)
  std::size_t received = 0;                ///< filled slots
  GatherReason reason = GatherReason::complete;
  std::chrono::nanoseconds age{0};         ///< opening (first part or open()) -> emission

  [[nodiscard]] bool complete() const noexcept { return reason == GatherReason::complete; }
};

enum class AddResult {
  added,      ///< stored; the key waits for more parts
  completed,  ///< stored, and it was the last missing part: the key was emitted by this call
  late,       ///< the key was already emitted (and is still remembered); the part was dropped
  duplicate,  ///< the slot was already filled; the part was dropped
  rejected,   ///< slot out of range; the part was dropped
  closed,     ///< shutdown() has begun; the part was dropped (stats().refused_after_shutdown)
};

constexpr const char* to_string(AddResult result) noexcept {
  switch (result) {
    case AddResult::added: return "added";
    case AddResult::completed: return "completed";
    case AddResult::late: return "late";
    case AddResult::duplicate: return "duplicate";
    case AddResult::rejected: return "rejected";
    case AddResult::closed: return "closed";
  }
  return "unknown";
}

/// The options of an Aggregator (Aggregator<...>::Options; one struct for every Key and Part, declared
/// outside the class so that `Options options = {}` works as a default argument — a nested struct's
/// member initialisers cannot be used there).
struct AggregatorOptions {
  std::size_t parts = 1;                                        ///< slots per key, 1..kMaxGatherParts
  std::chrono::nanoseconds deadline = std::chrono::milliseconds(100);  ///< > 0; from opening
  std::size_t max_pending = 64;                                 ///< 1..kMaxGatherPending
  std::string name = "dcp-gather";                              ///< the timer thread's name
  std::size_t remembered = 0;  ///< emitted keys remembered for `late`; 0 -> 4 * max_pending
  ErrorCallback on_error = nullptr;  ///< where a throwing on_result is reported (unset: dcp::report_error)
};

/// Scatter/gather with a deadline. See the header comment. Key: copyable, hashable with Hash,
/// comparable with KeyEqual. Part: move-constructible (may be move-only).
template <class Key, class Part, class Hash = std::hash<Key>, class KeyEqual = std::equal_to<Key>>
class Aggregator {
  static_assert(std::is_copy_constructible_v<Key>, "dcp::Aggregator: Key must be copyable");
  static_assert(std::is_move_constructible_v<Part>, "dcp::Aggregator: Part must be move-constructible");

 public:
  using Options = AggregatorOptions;
  using Result = Gathered<Key, Part>;
  using Callback = std::function<void(Result&&)>;

  /// Counts since construction (emissions by reason, dropped parts) and the keys pending now.
  struct Stats {
    std::uint64_t completed = 0;
    std::uint64_t partial = 0;  ///< emitted at their deadline
    std::uint64_t evicted = 0;
    std::uint64_t flushed = 0;  ///< by flush() or shutdown(drain)
    std::uint64_t late = 0;
    std::uint64_t duplicates = 0;
    std::size_t pending = 0;
    std::uint64_t rejected = 0;                ///< parts with an out-of-range slot
    std::uint64_t cancelled = 0;               ///< pending keys dropped by shutdown(cancel)
    std::uint64_t callback_errors = 0;         ///< exceptions on_result threw (each delivered)
    std::uint64_t refused_after_shutdown = 0;  ///< add() / open() calls after shutdown() began
  };

  /// Starts the timer thread. Throws std::invalid_argument naming the field for bad options or an
  /// empty on_result.
  explicit Aggregator(Callback on_result, Options options = {})
      : options_(validated(std::move(options), on_result)), on_result_(std::move(on_result)) {
    remembered_capacity_ = options_.remembered != 0 ? options_.remembered : 4 * options_.max_pending;
    index_.reserve(options_.max_pending);
    timer_.start(options_.name, [this](std::stop_token) { run_timer(); });
  }

  Aggregator(const Aggregator&) = delete;
  Aggregator& operator=(const Aggregator&) = delete;

  /// shutdown(ShutdownMode::drain): pending keys are emitted (flushed) on this thread.
  ~Aggregator() { shutdown(ShutdownMode::drain); }  // timer_'s destructor aborts on the timer thread

  /// Opens `key` now, so its deadline runs from the scatter rather than from its first part. False
  /// (and nothing changes) when the key is pending, remembered as emitted, or shutdown() has begun
  /// (counted in stats().refused_after_shutdown). May evict the oldest pending key (emitted on this
  /// thread, reason evicted).
  bool open(const Key& key) {
    std::optional<Result> evicted;
    bool wake = false;
    {
      std::lock_guard lock(mutex_);
      if (closed_) {
        ++stats_.refused_after_shutdown;
        return false;
      }
      if (index_.contains(key) || remembered_.contains(key)) return false;
      wake = open_locked(key, evicted);
    }
    if (wake) wake_timer_.notify_one();
    if (evicted) emit(std::move(*evicted));
    return true;
  }

  /// Stores `part` in `slot` of `key`, opening the key when it is not pending. Returns completed when
  /// this filled the last slot — the result was then emitted by this call, before it returns. Never
  /// throws for expected outcomes (see AddResult) nor for on_result (reported, see the header
  /// comment); throws std::bad_alloc.
  AddResult add(const Key& key, std::size_t slot, Part part) {
    std::optional<Result> evicted;
    std::optional<Result> finished;
    bool wake = false;
    AddResult result = AddResult::added;
    {
      std::lock_guard lock(mutex_);
      if (closed_) {
        ++stats_.refused_after_shutdown;
        return AddResult::closed;
      }
      if (slot >= options_.parts) {
        ++stats_.rejected;
        return AddResult::rejected;
      }
      auto found = index_.find(key);
      if (found == index_.end()) {
        if (remembered_.contains(key)) {
          ++stats_.late;
          return AddResult::late;
        }
        wake = open_locked(key, evicted);
        found = index_.find(key);
      }
      Pending& pending = *found->second;
      if (pending.parts[slot].has_value()) {
        ++stats_.duplicates;
        result = AddResult::duplicate;
      } else {
        pending.parts[slot].emplace(std::move(part));
        if (++pending.received == options_.parts) {
          finished.emplace(take_locked(found, GatherReason::complete, Clock::now()));
          ++stats_.completed;
          result = AddResult::completed;
        }
      }
    }
    if (wake) wake_timer_.notify_one();
    if (evicted) emit(std::move(*evicted));  // first: it is the older key
    if (finished) emit(std::move(*finished));
    return result;
  }

  /// Emits every pending key now (reason flushed) on this thread; returns how many.
  std::size_t flush() {
    std::vector<Result> flushed = take_all(Take::flush);
    for (Result& result : flushed) emit(std::move(result));
    return flushed.size();
  }

  /// drain: emits every pending key (flushed) on this thread; cancel: drops them (counted in
  /// stats().cancelled). Then stops and joins the timer thread (from the timer thread itself: returns
  /// without joining). Refuses every later add() and open(). Idempotent; any thread.
  void shutdown(ShutdownMode mode = ShutdownMode::drain) {
    std::vector<Result> flushed = take_all(mode == ShutdownMode::drain ? Take::close_flush : Take::close_drop);
    wake_timer_.notify_all();
    for (Result& result : flushed) emit(std::move(result));
    flushed.clear();
    timer_.request_stop();
    (void)timer_.join();
  }

  [[nodiscard]] Stats stats() const {
    std::lock_guard lock(mutex_);
    Stats stats = stats_;
    stats.pending = index_.size();
    return stats;
  }

  [[nodiscard]] const Options& options() const noexcept { return options_; }

 private:
  using Clock = std::chrono::steady_clock;
  using Pending = detail::AggregatorPending<Key, Part>;
  using PendingList = detail::AggregatorPendingList<Key, Part>;
  using Index = detail::AggregatorIndex<Key, Part, Hash, KeyEqual>;
  enum class Take { flush, close_flush, close_drop };

  static Options validated(Options options, const Callback& on_result) {
    detail::check_aggregator_range("parts", options.parts, 1, kMaxGatherParts);
    if (options.deadline <= std::chrono::nanoseconds::zero()) {
      detail::aggregator_option_error("Options::deadline must be positive, got " +
                                      std::to_string(options.deadline.count()) + " ns");
    }
    detail::check_aggregator_range("max_pending", options.max_pending, 1, kMaxGatherPending);
    detail::check_aggregator_range("remembered", options.remembered, 0, kMaxGatherRemembered, " (0: 4 * max_pending)");
    if (!on_result) detail::aggregator_option_error("on_result must not be empty");
    return options;
  }

  // Opens `key` (not pending, not remembered). Evicts the oldest pending key into `evicted` when
  // max_pending keys are pending. Returns true when the timer must learn about a new earliest deadline.
  bool open_locked(const Key& key, std::optional<Result>& evicted) {
    const Clock::time_point now = Clock::now();
    // Allocate everything first: if that throws, nothing changed.
    PendingList fresh;
    fresh.push_back(Pending{key, std::vector<std::optional<Part>>(options_.parts), 0, now, deadline_from(now)});
    const bool full = index_.size() >= options_.max_pending;
    const auto [slot, inserted] = index_.emplace(key, pending_.end());
    (void)inserted;  // the caller checked that the key is not pending
    if (full) {
      evicted.emplace(take_locked(index_.find(pending_.front().key), GatherReason::evicted, now));
      ++stats_.evicted;
    }
    const bool was_empty = pending_.empty();
    pending_.splice(pending_.end(), fresh);
    slot->second = std::prev(pending_.end());
    return was_empty;
  }

  Clock::time_point deadline_from(Clock::time_point now) const noexcept {
    if (!(std::chrono::duration<double>(options_.deadline) < detail::kForever)) return detail::kNoDeadline;
    return now + std::chrono::duration_cast<Clock::duration>(options_.deadline);
  }

  // Removes a pending key and remembers it as emitted. The caller counts it and emits the result.
  Result take_locked(typename Index::iterator found, GatherReason reason, Clock::time_point now) {
    const typename PendingList::iterator entry = found->second;
    index_.erase(found);
    remember_locked(entry->key);
    Result result{std::move(entry->key), std::move(entry->parts), entry->received, reason,
                  std::chrono::duration_cast<std::chrono::nanoseconds>(now - entry->opened)};
    pending_.erase(entry);
    return result;
  }

  void remember_locked(const Key& key) {
    try {
      if (remembered_order_.size() >= remembered_capacity_) {
        remembered_.erase(remembered_order_.front());
        remembered_order_.pop_front();
      }
      remembered_order_.push_back(key);
      try {
        remembered_.insert(key);
      } catch (...) {
        remembered_order_.pop_back();
        throw;
      }
    } catch (...) {
      // Out of memory: the key is emitted but not remembered, so a later part would reopen it.
      // Emitting matters more than recognising late parts.
    }
  }

  std::vector<Result> take_all(Take take) {
    std::vector<Result> results;
    std::lock_guard lock(mutex_);
    if (take != Take::flush) closed_ = true;
    if (take == Take::close_drop) {
      stats_.cancelled += index_.size();
      index_.clear();
      pending_.clear();
      return results;
    }
    results.reserve(index_.size());
    const Clock::time_point now = Clock::now();
    while (!pending_.empty()) {
      results.push_back(take_locked(index_.find(pending_.front().key), GatherReason::flushed, now));
      ++stats_.flushed;
    }
    return results;
  }

  // Calls on_result; an exception is counted and delivered, never propagated.
  void emit(Result&& result) noexcept {
    try {
      on_result_(std::move(result));
    } catch (...) {
      {
        std::lock_guard lock(mutex_);
        ++stats_.callback_errors;
      }
      try {
        deliver_error(options_.on_error, "aggregator '" + options_.name + "'",
                      "on_result threw: " + describe_current_exception());
      } catch (...) {  // the message could not be allocated
        deliver_error(options_.on_error, "aggregator", "on_result threw");
      }
    }
  }

  // The timer thread: sleeps until the earliest deadline (or until woken by a first key or the
  // shutdown), then emits the expired keys one by one, each outside the lock.
  void run_timer() noexcept {
    std::unique_lock lock(mutex_);
    while (!closed_) {
      if (pending_.empty() || pending_.front().deadline == detail::kNoDeadline) {
        wake_timer_.wait(lock);
        continue;
      }
      const Clock::time_point earliest = pending_.front().deadline;
      const Clock::time_point now = Clock::now();
      if (now < earliest) {
        wake_timer_.wait_until(lock, earliest);
        continue;
      }
      Result expired = take_locked(index_.find(pending_.front().key), GatherReason::deadline, now);
      ++stats_.partial;
      lock.unlock();
      emit(std::move(expired));
      lock.lock();
    }
  }

  const Options options_;
  const Callback on_result_;
  std::size_t remembered_capacity_ = 0;

  mutable std::mutex mutex_;          // guards everything below but timer_
  std::condition_variable wake_timer_;
  PendingList pending_;               // oldest (earliest deadline) first
  Index index_;                       // key -> its entry in pending_
  std::deque<Key> remembered_order_;  // recently emitted keys, oldest first
  std::unordered_set<Key, Hash, KeyEqual> remembered_;
  Stats stats_;
  bool closed_ = false;               // shutdown() has begun

  detail::OwnedThread timer_;  // last: started after, and joined before, everything it uses
};

}  // namespace dcp
