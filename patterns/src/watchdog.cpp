// dcp::Watchdog (dcp/patterns/watchdog.hpp): the bodies. The contract is in the header.
#include "dcp/patterns/watchdog.hpp"

#include <stdexcept>
#include <thread>
#include <utility>

namespace dcp {

namespace {

constexpr std::size_t kNotFound = std::numeric_limits<std::size_t>::max();
constexpr std::int64_t kExpiredBit = 1;  // in Slot::fed_at; timestamps lose their lowest bit
constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

/// A non-zero hash of an id (FNV-1a, lowest bit set): 0 marks a free slot.
std::uint64_t key_of(std::string_view id) noexcept {
  std::uint64_t hash = 14695981039346656037ULL;
  for (const char c : id) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return hash | 1U;
}

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Watchdog::Watchdog(ExpiredCallback on_expired, Options options)
    : on_expired_(std::move(on_expired)), options_(std::move(options)), slots_(new Slot[kSlots]) {
  if (!on_expired_) throw std::invalid_argument("dcp::Watchdog: the expiry callback (on_expired) is empty");
  for (auto& key : keys_) key.store(0, std::memory_order_relaxed);
  fires_.reserve(kSlots);
  thread_.start(options_.name, [this](std::stop_token) { run(); });
}

Watchdog::~Watchdog() { shutdown(ShutdownMode::drain); }  // thread_'s destructor aborts on the own thread

bool Watchdog::watch(std::string input_id, std::chrono::nanoseconds deadline) {
  if (phase_.load(std::memory_order_relaxed) != Phase::running) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (input_id.empty()) throw std::invalid_argument("dcp::Watchdog::watch: the input id is empty");
  if (deadline <= std::chrono::nanoseconds::zero()) {
    throw std::invalid_argument("dcp::Watchdog::watch: the deadline of input '" + input_id + "' must be > 0 (got " +
                                std::to_string(deadline.count()) + " ns)");
  }
  const std::uint64_t key = key_of(input_id);
  {
    std::lock_guard lock(mutex_);
    if (phase_.load(std::memory_order_relaxed) != Phase::running) {  // shutdown began meanwhile
      refused_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
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
  return true;
}

bool Watchdog::unwatch(std::string_view input_id) {
  std::lock_guard lock(mutex_);
  const std::size_t index = find_locked(input_id);
  if (index == kNotFound) return false;
  keys_[index].store(0, std::memory_order_seq_cst);  // feeders and the callback now skip the slot
  --watched_;
  return true;  // the thread may wake once more for the old deadline and find nothing to do
}

bool Watchdog::feed(std::string_view input_id) noexcept {
  if (phase_.load(std::memory_order_relaxed) != Phase::running) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
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

bool Watchdog::expired(std::string_view input_id) const {
  std::lock_guard lock(mutex_);
  const std::size_t index = find_locked(input_id);
  return index != kNotFound && (slots_[index].fed_at.load(std::memory_order_acquire) & kExpiredBit) != 0;
}

std::uint64_t Watchdog::expirations(std::string_view input_id) const {
  std::lock_guard lock(mutex_);
  const std::size_t index = find_locked(input_id);
  return index == kNotFound ? 0 : slots_[index].expirations;
}

std::size_t Watchdog::watched() const {
  std::lock_guard lock(mutex_);
  return watched_;
}

Watchdog::Stats Watchdog::stats() const {
  Stats stats;
  {
    std::lock_guard lock(mutex_);
    stats.watched = watched_;
    stats.expirations = expirations_total_;
  }
  stats.callback_errors = callback_errors_.load(std::memory_order_relaxed);
  stats.firings_cancelled = firings_cancelled_.load(std::memory_order_relaxed);
  stats.refused_after_shutdown = refused_.load(std::memory_order_relaxed);
  return stats;
}

void Watchdog::shutdown(ShutdownMode mode) {
  {
    std::lock_guard lock(mutex_);
    const Phase now = phase_.load(std::memory_order_relaxed);
    if (mode == ShutdownMode::cancel) {
      phase_.store(Phase::cancelling, std::memory_order_relaxed);  // also escalates a drain
    } else if (now == Phase::running) {
      phase_.store(Phase::draining, std::memory_order_relaxed);
    }
  }
  wake_.notify_one();
  thread_.request_stop();
  (void)thread_.join();  // from the watchdog's own thread: returns at once; run() never throws
}

std::size_t Watchdog::find_locked(std::string_view input_id) const noexcept {
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
std::size_t Watchdog::claim_free_slot_locked() {
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
void Watchdog::wake_for_rearm() noexcept {
  {
    std::lock_guard lock(mutex_);
    wake_pending_ = true;
  }
  wake_.notify_one();
}

void Watchdog::run() noexcept {
  std::unique_lock lock(mutex_);
  while (phase_.load(std::memory_order_relaxed) == Phase::running) {
    wake_pending_ = false;
    const std::int64_t next = collect_expired_locked();
    if (!fires_.empty()) {
      lock.unlock();
      deliver_fires();
      lock.lock();
      continue;  // rescan: feeds and watches may have happened meanwhile
    }
    const auto woken = [this] { return wake_pending_ || phase_.load(std::memory_order_relaxed) != Phase::running; };
    if (next == kNever) {
      wake_.wait(lock, woken);
    } else {
      wake_.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(next)), woken);
    }
  }
}

/// Marks every input past its deadline expired (into fires_); returns the earliest future deadline.
std::int64_t Watchdog::collect_expired_locked() noexcept {
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
        ++expirations_total_;
        fires_.push_back(Fire{i, slot.generation.load(std::memory_order_relaxed), std::chrono::nanoseconds(now - fed)});
        break;
      }
    }
  }
  return next;
}

/// Calls the callback for each firing, outside the mutex, with the slot pinned so that its id stays.
/// A drain delivers the firings already decided; a cancel skips (and counts) them.
void Watchdog::deliver_fires() noexcept {
  for (const Fire& fire : fires_) {
    if (phase_.load(std::memory_order_relaxed) == Phase::cancelling) {
      firings_cancelled_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    Slot& slot = slots_[fire.index];
    slot.pins.fetch_add(1, std::memory_order_seq_cst);
    const bool still_watched = keys_[fire.index].load(std::memory_order_seq_cst) != 0 &&
                               slot.generation.load(std::memory_order_acquire) == fire.generation;
    if (still_watched) {
      try {
        on_expired_(slot.id, fire.silent_for);
      } catch (...) {
        report_callback_error(slot.id);
      }
    }
    slot.pins.fetch_sub(1, std::memory_order_release);
  }
}

void Watchdog::report_callback_error(const std::string& input_id) noexcept {
  callback_errors_.fetch_add(1, std::memory_order_relaxed);
  try {
    deliver_error(options_.on_error, "watchdog '" + options_.name + "'",
                  "the expiry callback for input '" + input_id + "' threw: " + describe_current_exception());
  } catch (...) {  // the message could not be allocated
    deliver_error(options_.on_error, "watchdog", "an expiry callback threw");
  }
}

}  // namespace dcp
