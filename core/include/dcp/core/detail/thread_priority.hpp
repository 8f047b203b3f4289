// dcp/core/detail/thread_priority.hpp — asking for real-time scheduling for the calling thread.
//
// Used by threads on a safety path (the output handler that sends an e-stop's halt): with SCHED_FIFO
// a woken thread preempts busy normal threads at once instead of waiting for a time slice.
// Best effort: without CAP_SYS_NICE or a high enough RLIMIT_RTPRIO the kernel refuses, and the thread
// keeps its normal scheduling; the caller learns which from the result.
//
// Thread safety: changes the calling thread only. Blocking: none.
#pragma once

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

namespace dcp::detail {

/// Puts the calling thread under SCHED_FIFO at `priority` (1..99). True if the kernel agreed.
inline bool set_current_thread_realtime(int priority) noexcept {
#if defined(__linux__)
  if (priority < 1 || priority > 99) return false;
  sched_param param{};
  param.sched_priority = priority;
  return pthread_setschedparam(pthread_self(), SCHED_FIFO, &param) == 0;
#else
  (void)priority;
  return false;
#endif
}

}  // namespace dcp::detail
