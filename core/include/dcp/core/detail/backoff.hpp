// dcp/core/detail/backoff.hpp — exponential backoff for lock-free retry loops.
//
// What it is for: the channel queues retry a compare-and-swap or wait for another thread to finish a
// short critical step (writing a slot, linking a block). Backoff spins with a CPU pause hint first,
// then yields the time slice, and finally reports that the caller should park instead of spinning.
//
// Why so little spinning: long runs of PAUSE instructions are slow on many virtual machines (they
// trip pause-loop exiting, and the vCPU is descheduled) and on 2-core robot computers the thread that
// would end the wait often needs this very core. Measured on the reference machine (bench/,
// ping-pong round trip): 2^6 pauses per step took a median of ~10 us, 2 pauses per step then yields
// ~3.7 us. So: at most 2 pauses per step, then up to 9 yields, then park.
//
// Thread safety: a Backoff is a local object of one thread; never share one.
// Blocking: spin() and snooze() return after at most a few microseconds (or one sched_yield).
#pragma once

#include <cstdint>
#include <thread>

namespace dcp::detail {

/// One CPU "I am spinning" hint; a no-op where the architecture has none.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  asm volatile("yield" ::: "memory");
#endif
}

class Backoff {
 public:
  /// Back off after a failed compare-and-swap: spin only, never yield.
  void spin() noexcept {
    const unsigned limit = step_ < kSpinLimit ? step_ : kSpinLimit;
    for (std::uint32_t i = 0; i < (1u << limit); ++i) cpu_relax();
    if (step_ <= kSpinLimit) ++step_;
  }

  /// Back off while waiting for another thread to make progress: spin, then yield.
  void snooze() noexcept {
    if (step_ <= kSpinLimit) {
      for (std::uint32_t i = 0; i < (1u << step_); ++i) cpu_relax();
    } else {
      std::this_thread::yield();
    }
    if (step_ <= kYieldLimit) ++step_;
  }

  /// True once spinning and yielding have run their course: the caller should block now.
  [[nodiscard]] bool is_completed() const noexcept { return step_ > kYieldLimit; }

  void reset() noexcept { step_ = 0; }

 private:
  static constexpr unsigned kSpinLimit = 1;
  static constexpr unsigned kYieldLimit = 10;
  unsigned step_ = 0;
};

}  // namespace dcp::detail
