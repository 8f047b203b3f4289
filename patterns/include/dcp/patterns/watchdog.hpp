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
// A feed that reached the watchdog before it fired prevents the firing: feeds and the firing decision
// take the same mutex, so a feed racing with the deadline either lands first (no firing; the deadline
// moves) or after (the firing stands and the feed re-arms the input).
//
// Timing. One thread per watchdog sleeps on a condition variable until the earliest deadline (no
// periodic polling); feeds do not wake it (it re-checks the timestamps when the deadline comes), except
// the first feed after an expiry, which re-arms the input. Firing latency is the deadline plus the
// scheduling delay of that thread. Deadlines are measured on std::chrono::steady_clock.
//
// Callback. It runs on the watchdog's own thread (named Options::name), one firing at a time, never
// while the watchdog holds its internal mutex: it may call feed(), watch(), unwatch(), the queries
// and shutdown() (which then starts the shutdown and returns without joining). Destroying the
// watchdog from its callback is a programming error: reported with dcp::report_error, then the
// process aborts. An exception it throws is caught, counted in stats().callback_errors and delivered
// with dcp::deliver_error(Options::on_error, ...) (unset: dcp::report_error); the watchdog keeps
// running. The callback should be short (send a message, latch a flag): while it runs, other expired
// inputs wait for their firing. A firing whose input was unwatched between the expiry and the call is
// skipped.
//
// Shutdown: shutdown(ShutdownMode::drain) stops deciding new firings, delivers the firings already
// decided, and joins the thread; shutdown(ShutdownMode::cancel) skips the decided firings too
// (counted in stats().firings_cancelled). Both wait for a running callback to return. Idempotent, any
// thread; cancel escalates a drain in progress. The destructor calls shutdown(drain).
//
// After shutdown — one rule for every dcp pattern. Once shutdown() has begun:
//   - a call that submits work (here: watch(), feed()) never blocks and never throws; it returns its
//     refusal (false) and is counted in stats().refused_after_shutdown;
//   - a configuration call throws std::logic_error naming the class and member (here: none);
//   - shutdown() again is a no-op (cancel may escalate a drain);
//   - stats() and read-only accessors keep working (here also unwatch()).
//
// Limits: at most kMaxWatchedInputs (256) inputs watched at once (watch() throws std::length_error
// beyond); ids are non-empty. The storage for all of them is allocated by the constructor (about
// 20 KB), so nothing allocates afterwards except watch() copying the id.
//
// Thread safety: every member may be called from any thread concurrently, except the destructor (no
// other call may run or start once it begins).
// Cost and blocking:
//   - feed(): allocation-free, under the watchdog's one plain mutex — a hash of the id, a scan of a
//     compact array of hashes, a store of the timestamp; the first feed after an expiry also wakes the
//     watchdog thread. It waits only while another member or the thread's deadline scan (at most
//     kMaxWatchedInputs entries) holds the mutex. A lock-free feed was measured against it
//     (bench/watchdog_bench.cpp, 1 and 2 feeding threads) and did not win, so the simpler one stays.
//   - watch(), unwatch(), expired(), expirations(), watched(), stats(): the same mutex, briefly (a
//     scan of at most kMaxWatchedInputs entries).
//   - shutdown() and the destructor: wait for a callback that is running to return, then join the
//     thread (from the callback itself: return at once). After they return no callback runs.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dcp/core/error_report.hpp"
#include "dcp/core/shutdown.hpp"
#include "dcp/patterns/detail/owned_thread.hpp"

namespace dcp {

/// Most inputs one Watchdog watches at once.
inline constexpr std::size_t kMaxWatchedInputs = 256;

/// The options of a Watchdog (Watchdog::Options; declared outside the class so that `Options options = {}`
/// works as a default argument — a nested struct's member initialisers cannot be used there).
struct WatchdogOptions {
  /// Name of the watchdog's thread (truncated to 15 characters) and of the watchdog in messages.
  std::string name = "dcp-watchdog";
  /// Where a throwing expiry callback is reported (unset: dcp::report_error).
  ErrorCallback on_error = nullptr;
};

class Watchdog {
 public:
  using Options = WatchdogOptions;

  /// Called on the watchdog's thread when `input_id` has been silent for `silent_for` (>= deadline).
  using ExpiredCallback = std::function<void(std::string_view input_id, std::chrono::nanoseconds silent_for)>;

  /// Counters since construction (a snapshot).
  struct Stats {
    std::size_t watched = 0;                  ///< inputs watched right now
    std::uint64_t expirations = 0;            ///< firings decided (all inputs, since construction)
    std::uint64_t callback_errors = 0;        ///< exceptions the expiry callback threw (each delivered)
    std::uint64_t firings_cancelled = 0;      ///< decided firings skipped by shutdown(cancel)
    std::uint64_t refused_after_shutdown = 0; ///< feed() / watch() calls after shutdown() began
  };

  /// Starts the watchdog thread (watching nothing yet). Throws std::invalid_argument when `on_expired`
  /// is empty.
  explicit Watchdog(ExpiredCallback on_expired, Options options = {});

  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  /// shutdown(ShutdownMode::drain). From the watchdog's own thread: reported, then aborts.
  ~Watchdog();

  /// Starts watching `input_id`: armed now, it expires unless fed within `deadline`. True when
  /// watched; false once shutdown() has begun (refused before the arguments are checked: nothing
  /// done, nothing thrown, counted in stats().refused_after_shutdown). Otherwise throws
  /// std::invalid_argument for an empty id, a deadline <= 0 or an id already watched, and
  /// std::length_error when kMaxWatchedInputs inputs are already watched; nothing changes then.
  bool watch(std::string input_id, std::chrono::nanoseconds deadline);

  /// Stops watching `input_id` (e.g. after it closed normally): it will not fire any more, and a
  /// firing already decided but not yet delivered is skipped (unless its callback is running right
  /// now). False when the id was not watched. Works after shutdown too.
  bool unwatch(std::string_view input_id);

  /// Records that `input_id` arrived now (re-arming it when it had expired). False for unknown ids
  /// and once shutdown() has begun (then counted in stats().refused_after_shutdown). Any thread;
  /// allocation-free, under the watchdog's mutex (see the header comment).
  bool feed(std::string_view input_id) noexcept;

  /// True while `input_id` is expired: it fired and has not been fed since. False for unknown ids.
  [[nodiscard]] bool expired(std::string_view input_id) const;

  /// How many times `input_id` fired since it was watched (0 for unknown ids).
  [[nodiscard]] std::uint64_t expirations(std::string_view input_id) const;

  /// Inputs watched right now.
  [[nodiscard]] std::size_t watched() const;

  [[nodiscard]] Stats stats() const;

  [[nodiscard]] const std::string& name() const noexcept { return options_.name; }

  /// Stops the watchdog (see the header comment): no new firings; drain delivers the decided ones,
  /// cancel skips them. Waits for a running callback and joins the thread, except when called from
  /// the watchdog's own thread (the callback): then it returns at once and the destructor joins.
  /// Idempotent; any thread; cancel escalates a drain in progress.
  void shutdown(ShutdownMode mode = ShutdownMode::drain);

 private:
  enum class Phase : std::uint8_t { running, draining, cancelling };

  static constexpr std::size_t kSlots = kMaxWatchedInputs + 1;  // one spare: see claim_free_slot_locked

  // One watched input; every field guarded by mutex_. A slot is free when keys_[i] == 0. The callback
  // reads `id` outside the mutex while `delivering_` names its slot: watch() does not reuse that slot
  // then, and nothing else writes an id.
  struct Slot {
    std::string id;
    std::chrono::nanoseconds deadline{};
    std::int64_t fed_at = 0;         // steady_clock ns of the last feed (or watch)
    bool expired = false;            // fired and not fed since
    std::uint64_t expirations = 0;
    std::uint64_t generation = 0;    // bumped by every watch() that (re)uses the slot
  };

  struct Fire {
    std::size_t index;
    std::uint64_t generation;
    std::chrono::nanoseconds silent_for;
  };

  bool refuse() noexcept;  // counts a call refused after shutdown; false
  std::size_t find_locked(std::string_view input_id) const noexcept;
  std::size_t claim_free_slot_locked() const noexcept;
  void run() noexcept;
  std::int64_t collect_expired_locked() noexcept;
  void deliver_fires(std::unique_lock<std::mutex>& lock) noexcept;
  void report_callback_error(const std::string& input_id) noexcept;

  const ExpiredCallback on_expired_;
  const Options options_;

  mutable std::mutex mutex_;       // guards everything below but the atomics and thread_
  std::condition_variable wake_;
  std::array<std::uint64_t, kSlots> keys_{};  // hash of each slot's id, 0 = free: a compact scan
  std::unique_ptr<Slot[]> slots_;
  std::size_t slot_count_ = 0;     // slots ever used (grows only): scans cover [0, slot_count_)
  std::size_t delivering_;         // slot whose id the callback is reading (kSlots: none)
  std::size_t watched_ = 0;
  bool wake_pending_ = false;
  std::uint64_t expirations_total_ = 0;
  std::vector<Fire> fires_;        // the watchdog thread's; reserved for kSlots (no allocation later)
  Phase phase_ = Phase::running;
  std::atomic<std::uint64_t> callback_errors_{0};
  std::atomic<std::uint64_t> firings_cancelled_{0};
  std::atomic<std::uint64_t> refused_{0};
  detail::OwnedThread thread_;     // last: started after everything above exists, joined first
};

}  // namespace dcp
