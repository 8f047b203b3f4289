// dcp/patterns/watchdog.hpp — notices inputs that went silent.
//
// What it is for: a robot node must react when a sensor stops talking (a cable came loose, the driver
// hung). Each watched input gets a deadline; the node feeds the watchdog whenever the input arrives,
// and when an input stays silent for longer than its deadline the watchdog calls back — typically to
// trigger the emergency stop (dcp/patterns/emergency_stop.hpp wires exactly that).
//
//   dcp::Watchdog watchdog([&](std::string_view input, std::chrono::nanoseconds silent_for) {
//     estop.trigger("no '" + std::string(input) + "' for " + std::to_string(silent_for.count()) + " ns");
//   });
//   watchdog.watch("imu", 50ms);           // armed now: the first "imu" must arrive within 50 ms
//   watchdog.watch("lidar", 200ms);
//   for (dcp::Event& event : events) {
//     if (auto* input = std::get_if<dcp::InputEvent>(&event)) watchdog.feed(input->id);
//     if (auto* closed = std::get_if<dcp::InputClosedEvent>(&event)) watchdog.unwatch(closed->id);
//   }
//
// Firing. An input expires when it has not been fed for longer than its deadline; the callback then
// runs once, with silent_for = time since the last feed (or since watch()) >= the deadline. It does
// not fire again while the input stays silent: the next feed re-arms it, and the next silence fires
// again. expired(id) is true from the firing until the next feed; expirations(id) counts firings.
// A feed that reached the watchdog before it fired prevents the firing: the firing is decided by a
// compare-exchange on the input's timestamp, so a feed racing with the deadline either lands first
// (no firing; the deadline moves) or after (the firing stands and the feed re-arms the input).
//
// Timing. One thread per watchdog sleeps on a condition variable until the earliest deadline (no
// periodic polling); feeds do not wake it (it re-checks the timestamps when the deadline comes), except
// the first feed after an expiry, which re-arms the input. Firing latency is the deadline plus the
// scheduling delay of that thread. Deadlines are measured on std::chrono::steady_clock.
//
// Callback. It runs on the watchdog's own thread (named Options::name), one firing at a time, never
// while the watchdog holds its internal mutex: it may call feed(), watch(), unwatch(), expired() and
// expirations(). It must not call stop() (throws std::logic_error: the thread cannot join itself) nor
// destroy the watchdog (aborts the process). An exception it throws is caught, written to stderr,
// counted in callback_errors(), and the watchdog keeps running. The callback should be short (send a
// message, latch a flag): while it runs, other expired inputs wait for their firing. A firing whose
// input was unwatched between the expiry and the call is skipped.
//
// Limits: at most kMaxWatchedInputs (256) inputs watched at once (watch() throws std::length_error
// beyond); ids are non-empty. The storage for all of them is allocated by the constructor (about
// 35 KB), so nothing allocates afterwards except watch() copying the id.
//
// Thread safety: every member may be called from any thread concurrently, except the destructor (no
// other call may run or start once it begins).
// Cost and blocking:
//   - feed(): lock-free and allocation-free — a hash of the id, a scan of a compact array of
//     hashes, a pin (one atomic increment and decrement) of the matching input and an atomic exchange
//     of its timestamp. The first feed after an expiry also takes the internal mutex briefly to wake
//     the watchdog thread.
//   - watch(), unwatch(), expired(), expirations(): take the internal mutex briefly (a scan of at most
//     kMaxWatchedInputs entries); watch() may spin for a moment while a feed() is reading the slot it
//     wants to reuse.
//   - stop() and the destructor: wait for a callback that is running to return, then join the thread.
//     After they return no callback runs; feed() and the queries keep working, nothing fires.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "dcp/core/error_report.hpp"
#include "dcp/core/thread.hpp"

namespace dcp {

/// Most inputs one Watchdog watches at once.
inline constexpr std::size_t kMaxWatchedInputs = 256;

class Watchdog {
 public:
  /// Called on the watchdog's thread when `input_id` has been silent for `silent_for` (>= deadline).
  using ExpiredCallback = std::function<void(std::string_view input_id, std::chrono::nanoseconds silent_for)>;

  struct Options {
    /// Name of the watchdog's thread (truncated to 15 characters) and of the watchdog in messages.
    std::string name = "dcp-watchdog";
  };

  /// Starts the watchdog thread (watching nothing yet). Throws std::invalid_argument when `on_expired`
  /// is empty.
  explicit Watchdog(ExpiredCallback on_expired) : Watchdog(std::move(on_expired), Options{}) {}
  Watchdog(ExpiredCallback on_expired, Options options)
      : on_expired_(std::move(on_expired)), options_(std::move(options)), slots_(new Slot[kSlots]) {
    if (!on_expired_) throw std::invalid_argument("dcp::Watchdog: the expiry callback (on_expired) is empty");
    for (auto& key : keys_) key.store(0, std::memory_order_relaxed);
    fires_.reserve(kSlots);
    thread_ = ScopedThread([this] { run(); }, options_.name);
  }

  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  /// Stops and joins the thread; no callback runs after it returns. Destroying the watchdog from its
  /// own callback aborts the process (a thread cannot join itself).
  ~Watchdog() {
    if (on_watchdog_thread()) {
      std::fprintf(stderr, "dcp::Watchdog '%s': destroyed from its own expiry callback (a thread cannot join itself)\n",
                   options_.name.c_str());
      std::abort();
    }
    stop();
  }

  /// Starts watching `input_id`: armed now, it expires unless fed within `deadline`. Throws
  /// std::invalid_argument for an empty id, a deadline <= 0 or an id already watched, and
  /// std::length_error when kMaxWatchedInputs inputs are already watched.
  void watch(std::string input_id, std::chrono::nanoseconds deadline) {
    if (input_id.empty()) throw std::invalid_argument("dcp::Watchdog::watch: the input id is empty");
    if (deadline <= std::chrono::nanoseconds::zero()) {
      throw std::invalid_argument("dcp::Watchdog::watch: the deadline of input '" + input_id + "' must be > 0 (got " +
                                  std::to_string(deadline.count()) + " ns)");
    }
    const std::uint64_t key = key_of(input_id);
    {
      std::lock_guard lock(mutex_);
      if (find_locked(input_id) != kNotFound) {
        throw std::invalid_argument("dcp::Watchdog::watch: input '" + input_id + "' is already watched");
      }
      if (watched_ == kMaxWatchedInputs) {
        throw std::length_error("dcp::Watchdog::watch: cannot watch input '" + input_id + "': already watching " +
                                std::to_string(kMaxWatchedInputs) + " inputs (kMaxWatchedInputs)");
      }
      const std::size_t index = claim_free_slot_locked();
      Slot& slot = slots_[index];
      slot.id = std::move(input_id);  // nobody reads it: the slot is free and unpinned
      slot.deadline = deadline;
      slot.expirations = 0;
      slot.generation.store(slot.generation.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      slot.fed_at.store(now_ns() & ~kExpiredBit, std::memory_order_relaxed);
      keys_[index].store(key, std::memory_order_seq_cst);  // publishes the fields above
      if (index == slot_count_.load(std::memory_order_relaxed)) {
        slot_count_.store(index + 1, std::memory_order_release);
      }
      ++watched_;
      wake_pending_ = true;  // the new deadline may be the earliest
    }
    wake_.notify_one();
  }

  /// Stops watching `input_id` (e.g. after it closed normally): it will not fire any more, and a
  /// firing already decided but not yet delivered is skipped (unless its callback is running right
  /// now). False when the id was not watched.
  bool unwatch(std::string_view input_id) {
    std::lock_guard lock(mutex_);
    const std::size_t index = find_locked(input_id);
    if (index == kNotFound) return false;
    keys_[index].store(0, std::memory_order_seq_cst);  // feeders and the callback now skip the slot
    --watched_;
    return true;  // the thread may wake once more for the old deadline and find nothing to do
  }

  /// Records that `input_id` arrived now (re-arming it when it had expired). Unknown ids are ignored
  /// (returns false). Any thread; lock-free and allocation-free (see the header comment).
  bool feed(std::string_view input_id) noexcept {
    const std::uint64_t key = key_of(input_id);
    const std::size_t count = slot_count_.load(std::memory_order_acquire);
    for (std::size_t i = 0; i < count; ++i) {
      if (keys_[i].load(std::memory_order_relaxed) != key) continue;  // cheap filter, no pin
      Slot& slot = slots_[i];
      slot.pins.fetch_add(1, std::memory_order_seq_cst);  // watch() cannot rewrite the slot now
      const bool match = keys_[i].load(std::memory_order_seq_cst) == key && slot.id == input_id;
      std::int64_t before = 0;
      if (match) before = slot.fed_at.exchange(now_ns() & ~kExpiredBit, std::memory_order_acq_rel);
      slot.pins.fetch_sub(1, std::memory_order_release);
      if (!match) continue;  // a hash collision, or unwatched meanwhile
      if ((before & kExpiredBit) != 0) wake_for_rearm();
      return true;
    }
    return false;
  }

  /// True while `input_id` is expired: it fired and has not been fed since. False for unknown ids.
  [[nodiscard]] bool expired(std::string_view input_id) const {
    std::lock_guard lock(mutex_);
    const std::size_t index = find_locked(input_id);
    return index != kNotFound && (slots_[index].fed_at.load(std::memory_order_acquire) & kExpiredBit) != 0;
  }

  /// How many times `input_id` fired since it was watched (0 for unknown ids).
  [[nodiscard]] std::uint64_t expirations(std::string_view input_id) const {
    std::lock_guard lock(mutex_);
    const std::size_t index = find_locked(input_id);
    return index == kNotFound ? 0 : slots_[index].expirations;
  }

  /// Inputs watched right now.
  [[nodiscard]] std::size_t watched() const {
    std::lock_guard lock(mutex_);
    return watched_;
  }

  /// Exceptions the expiry callback threw (each caught and written to stderr).
  [[nodiscard]] std::uint64_t callback_errors() const noexcept {
    return callback_errors_.load(std::memory_order_relaxed);
  }

  [[nodiscard]] const std::string& name() const noexcept { return options_.name; }

  /// Stops the watchdog: waits for a running callback to return and joins the thread; nothing fires
  /// afterwards. Idempotent; any thread except the watchdog's own (from the callback it throws
  /// std::logic_error: the thread cannot join itself).
  void stop() {
    if (on_watchdog_thread()) {
      throw std::logic_error("dcp::Watchdog::stop: called from the expiry callback of watchdog '" + options_.name +
                             "' (the watchdog thread cannot join itself)");
    }
    std::lock_guard join_lock(join_mutex_);
    {
      std::lock_guard lock(mutex_);
      stopping_.store(true, std::memory_order_relaxed);
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();  // run() never throws
  }

 private:
  static constexpr std::size_t kSlots = kMaxWatchedInputs + 1;  // one spare: see claim_free_slot_locked
  static constexpr std::size_t kNotFound = std::numeric_limits<std::size_t>::max();
  static constexpr std::int64_t kExpiredBit = 1;  // in Slot::fed_at; timestamps lose their lowest bit
  static constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
  static constexpr std::size_t kCacheLine = 64;

  // One watched input. A slot is free when keys_[i] == 0. Its id, deadline and generation are written
  // only by watch(), under mutex_, while the slot is free and unpinned; readers outside the mutex
  // (feed() and the callback) pin it first and re-check the key, so the slot cannot be rewritten
  // under them (Dekker-style: pin then load the key / store the key then load the pins, all seq_cst).
  struct alignas(kCacheLine) Slot {
    std::atomic<std::uint32_t> pins{0};    // readers outside the mutex right now
    std::atomic<std::int64_t> fed_at{0};   // steady_clock ns of the last feed (or watch); | kExpiredBit once fired
    std::atomic<std::uint64_t> generation{0};  // bumped by every watch() that (re)uses the slot
    std::chrono::nanoseconds deadline{};   // written by watch() only
    std::string id;                        // written by watch() only
    std::uint64_t expirations = 0;         // guarded by mutex_
  };

  struct Fire {
    std::size_t index;
    std::uint64_t generation;
    std::chrono::nanoseconds silent_for;
  };

  /// A non-zero hash of an id (FNV-1a, lowest bit set): 0 marks a free slot.
  static std::uint64_t key_of(std::string_view id) noexcept {
    std::uint64_t hash = 14695981039346656037ULL;
    for (const char c : id) {
      hash ^= static_cast<unsigned char>(c);
      hash *= 1099511628211ULL;
    }
    return hash | 1U;
  }

  static std::int64_t now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  bool on_watchdog_thread() const noexcept {
    return thread_id_.load(std::memory_order_acquire) == std::this_thread::get_id();
  }

  std::size_t find_locked(std::string_view input_id) const noexcept {
    const std::uint64_t key = key_of(input_id);
    const std::size_t count = slot_count_.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < count; ++i) {
      if (keys_[i].load(std::memory_order_relaxed) == key && slots_[i].id == input_id) return i;
    }
    return kNotFound;
  }

  /// A free slot nobody has pinned. With fewer than kMaxWatchedInputs watched there are at least two
  /// free slots (kSlots = limit + 1); the callback pins at most one for as long as it runs, feeders pin
  /// only for a few instructions, so the wait below is short.
  std::size_t claim_free_slot_locked() {
    for (;;) {
      const std::size_t count = slot_count_.load(std::memory_order_relaxed);
      for (std::size_t i = 0; i < count; ++i) {
        if (keys_[i].load(std::memory_order_relaxed) == 0 && slots_[i].pins.load(std::memory_order_seq_cst) == 0) {
          return i;
        }
      }
      if (count < kSlots) return count;  // never used: nobody can pin it
      std::this_thread::yield();
    }
  }

  /// The first feed after an expiry: the thread may be asleep without a deadline for this input.
  void wake_for_rearm() noexcept {
    {
      std::lock_guard lock(mutex_);
      wake_pending_ = true;
    }
    wake_.notify_one();
  }

  void run() noexcept {
    thread_id_.store(std::this_thread::get_id(), std::memory_order_release);
    std::unique_lock lock(mutex_);
    while (!stopping_.load(std::memory_order_relaxed)) {
      wake_pending_ = false;
      const std::int64_t next = collect_expired_locked();
      if (!fires_.empty()) {
        lock.unlock();
        deliver_fires();
        lock.lock();
        continue;  // rescan: feeds and watches may have happened meanwhile
      }
      const auto woken = [this] { return wake_pending_ || stopping_.load(std::memory_order_relaxed); };
      if (next == kNever) {
        wake_.wait(lock, woken);
      } else {
        wake_.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(next)), woken);
      }
    }
    thread_id_.store(std::thread::id(), std::memory_order_release);  // a later thread may reuse the id
  }

  /// Marks every input past its deadline expired (into fires_); returns the earliest future deadline.
  std::int64_t collect_expired_locked() noexcept {
    fires_.clear();
    const std::int64_t now = now_ns();  // sampled before the timestamps are read
    std::int64_t next = kNever;
    const std::size_t count = slot_count_.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < count; ++i) {
      if (keys_[i].load(std::memory_order_relaxed) == 0) continue;
      Slot& slot = slots_[i];
      std::int64_t fed = slot.fed_at.load(std::memory_order_acquire);
      for (;;) {
        if ((fed & kExpiredBit) != 0) break;  // fired already: waits for the next feed
        const std::int64_t deadline = slot.deadline.count();
        const std::int64_t due = deadline > kNever - fed ? kNever : fed + deadline;
        if (due > now) {
          if (due < next) next = due;
          break;
        }
        // Due. The exchange fails when a feed landed since the load: re-evaluate with its timestamp.
        if (slot.fed_at.compare_exchange_weak(fed, fed | kExpiredBit, std::memory_order_acq_rel,
                                              std::memory_order_acquire)) {
          ++slot.expirations;
          fires_.push_back(Fire{i, slot.generation.load(std::memory_order_relaxed), std::chrono::nanoseconds(now - fed)});
          break;
        }
      }
    }
    return next;
  }

  /// Calls the callback for each firing, outside the mutex, with the slot pinned so that its id stays.
  void deliver_fires() noexcept {
    for (const Fire& fire : fires_) {
      if (stopping_.load(std::memory_order_relaxed)) return;
      Slot& slot = slots_[fire.index];
      slot.pins.fetch_add(1, std::memory_order_seq_cst);
      const bool still_watched = keys_[fire.index].load(std::memory_order_seq_cst) != 0 &&
                                 slot.generation.load(std::memory_order_acquire) == fire.generation;
      if (still_watched) {
        try {
          on_expired_(slot.id, fire.silent_for);
        } catch (...) {
          callback_errors_.fetch_add(1, std::memory_order_relaxed);
          std::fprintf(stderr, "dcp::Watchdog '%s': the expiry callback for input '%s' threw: %s\n",
                       options_.name.c_str(), slot.id.c_str(), describe_exception(std::current_exception()).c_str());
        }
      }
      slot.pins.fetch_sub(1, std::memory_order_release);
    }
  }

  const ExpiredCallback on_expired_;
  const Options options_;
  std::array<std::atomic<std::uint64_t>, kSlots> keys_;  // compact, so that feed() scans few cache lines
  std::unique_ptr<Slot[]> slots_;
  std::atomic<std::size_t> slot_count_{0};  // slots ever used (grows only): feed() scans [0, count)

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::size_t watched_ = 0;        // guarded by mutex_
  bool wake_pending_ = false;      // guarded by mutex_
  std::atomic<bool> stopping_{false};  // written under mutex_
  std::vector<Fire> fires_;        // the watchdog thread's; reserved for kSlots (no allocation later)
  std::atomic<std::uint64_t> callback_errors_{0};
  std::atomic<std::thread::id> thread_id_{};
  std::mutex join_mutex_;          // serialises concurrent stop() calls
  ScopedThread thread_;            // last: started after everything above exists
};

}  // namespace dcp
