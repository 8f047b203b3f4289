// dcp::Watchdog (dcp/patterns/watchdog.hpp): the bodies. The contract is in the header.
#include "dcp/patterns/watchdog.hpp"

#include "watch_key.hpp"

#include <stdexcept>
#include <utility>

namespace dcp {

namespace {

constexpr std::size_t kNotFound = std::numeric_limits<std::size_t>::max();
constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

std::uint64_t key_of(std::string_view id) noexcept { return detail::watch_key(id); }

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Watchdog::Watchdog(ExpiredCallback on_expired, Options options)
    : on_expired_(std::move(on_expired)), options_(std::move(options)), slots_(new Slot[kSlots]), delivering_(kSlots) {
  if (!on_expired_) throw std::invalid_argument("dcp::Watchdog: the expiry callback (on_expired) is empty");
  fires_.reserve(kSlots);
  thread_.start(options_.name, [this](std::stop_token) { run(); });
}

Watchdog::~Watchdog() { shutdown(ShutdownMode::drain); }  // thread_'s destructor aborts on the own thread

bool Watchdog::refuse() noexcept {
  refused_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

bool Watchdog::watch(std::string input_id, std::chrono::nanoseconds deadline) {
  {
    std::lock_guard lock(mutex_);
    if (phase_ != Phase::running) return refuse();
  }
  if (input_id.empty()) throw std::invalid_argument("dcp::Watchdog::watch: the input id is empty");
  if (deadline <= std::chrono::nanoseconds::zero()) {
    throw std::invalid_argument("dcp::Watchdog::watch: the deadline of input '" + input_id + "' must be > 0 (got " +
                                std::to_string(deadline.count()) + " ns)");
  }
  {
    std::lock_guard lock(mutex_);
    if (phase_ != Phase::running) return refuse();  // shutdown began meanwhile
    if (find_locked(input_id) != kNotFound) {
      throw std::invalid_argument("dcp::Watchdog::watch: input '" + input_id + "' is already watched");
    }
    if (watched_ == kMaxWatchedInputs) {
      throw std::length_error("dcp::Watchdog::watch: cannot watch input '" + input_id + "': already watching " +
                              std::to_string(kMaxWatchedInputs) + " inputs (kMaxWatchedInputs)");
    }
    const std::size_t index = claim_free_slot_locked();
    Slot& slot = slots_[index];
    keys_[index] = key_of(input_id);
    slot.id = std::move(input_id);
    slot.deadline = deadline;
    slot.fed_at = now_ns();
    slot.expired = false;
    slot.expirations = 0;
    ++slot.generation;
    if (index == slot_count_) ++slot_count_;
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
  keys_[index] = 0;  // the thread and feeds now skip the slot; its id stays until watch() reuses it
  --watched_;
  return true;  // the thread may wake once more for the old deadline and find nothing to do
}

bool Watchdog::feed(std::string_view input_id) noexcept {
  const std::int64_t now = now_ns();  // outside the mutex: it is held as briefly as possible
  bool rearmed = false;
  {
    std::lock_guard lock(mutex_);
    if (phase_ != Phase::running) return refuse();
    const std::size_t index = find_locked(input_id);
    if (index == kNotFound) return false;
    Slot& slot = slots_[index];
    slot.fed_at = now;
    rearmed = std::exchange(slot.expired, false);
    if (rearmed) wake_pending_ = true;  // the thread may sleep without a deadline for this input
  }
  if (rearmed) wake_.notify_one();
  return true;
}

bool Watchdog::expired(std::string_view input_id) const {
  std::lock_guard lock(mutex_);
  const std::size_t index = find_locked(input_id);
  return index != kNotFound && slots_[index].expired;
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
    if (mode == ShutdownMode::cancel) {
      phase_ = Phase::cancelling;  // also escalates a drain
    } else if (phase_ == Phase::running) {
      phase_ = Phase::draining;
    }
  }
  wake_.notify_one();
  thread_.request_stop();
  (void)thread_.join();  // from the watchdog's own thread: returns at once; run() never throws
}

std::size_t Watchdog::find_locked(std::string_view input_id) const noexcept {
  const std::uint64_t key = key_of(input_id);
  for (std::size_t i = 0; i < slot_count_; ++i) {
    if (keys_[i] == key && slots_[i].id == input_id) return i;
  }
  return kNotFound;
}

/// A free slot the callback is not reading. With fewer than kMaxWatchedInputs watched there are at
/// least two free slots (kSlots = limit + 1), and the callback reads at most one.
std::size_t Watchdog::claim_free_slot_locked() const noexcept {
  for (std::size_t i = 0; i < slot_count_; ++i) {
    if (keys_[i] == 0 && i != delivering_) return i;
  }
  return slot_count_;  // never used (< kSlots by the argument above)
}

void Watchdog::run() noexcept {
  std::unique_lock lock(mutex_);
  while (phase_ == Phase::running) {
    wake_pending_ = false;
    const std::int64_t next = collect_expired_locked();
    if (!fires_.empty()) {
      deliver_fires(lock);
      continue;  // rescan: feeds and watches may have happened meanwhile
    }
    const auto woken = [this] { return wake_pending_ || phase_ != Phase::running; };
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
  const std::int64_t now = now_ns();
  std::int64_t next = kNever;
  for (std::size_t i = 0; i < slot_count_; ++i) {
    if (keys_[i] == 0) continue;
    Slot& slot = slots_[i];
    if (slot.expired) continue;  // fired already: waits for the next feed
    const std::int64_t deadline = slot.deadline.count();
    const std::int64_t due = deadline > kNever - slot.fed_at ? kNever : slot.fed_at + deadline;
    if (due > now) {
      if (due < next) next = due;
      continue;
    }
    slot.expired = true;
    ++slot.expirations;
    ++expirations_total_;
    fires_.push_back(Fire{i, slot.generation, std::chrono::nanoseconds(now - slot.fed_at)});
  }
  return next;
}

/// Calls the callback for each firing, outside the mutex (held on entry and on return), with
/// delivering_ naming the slot so that its id stays. A drain delivers the firings already decided; a
/// cancel skips (and counts) them.
void Watchdog::deliver_fires(std::unique_lock<std::mutex>& lock) noexcept {
  for (const Fire& fire : fires_) {
    if (phase_ == Phase::cancelling) {
      firings_cancelled_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    const Slot& slot = slots_[fire.index];
    if (keys_[fire.index] == 0 || slot.generation != fire.generation) continue;  // unwatched meanwhile
    delivering_ = fire.index;
    lock.unlock();
    try {
      on_expired_(slot.id, fire.silent_for);
    } catch (...) {
      report_callback_error(slot.id);
    }
    lock.lock();
    delivering_ = kSlots;
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
