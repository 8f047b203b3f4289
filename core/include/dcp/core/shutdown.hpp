// dcp/core/shutdown.hpp — the shutdown vocabulary shared by the worker pool and every pattern.
//
// ShutdownMode says how an owner of queued work stops: `drain` finishes what is queued, `cancel`
// requests stop on what runs and drops what is queued. TaskCancelled is what a caller gets for work
// that never ran; PoolClosed is what a caller gets for work offered after shutdown began.
// Plain types: no state, no blocking, safe from any thread.
#pragma once

#include <stdexcept>

namespace dcp {

enum class ShutdownMode {
  drain,   ///< finish everything queued, then stop
  cancel,  ///< request stop on running work, drop everything queued, then stop
};

constexpr const char* to_string(ShutdownMode mode) noexcept {
  switch (mode) {
    case ShutdownMode::drain: return "drain";
    case ShutdownMode::cancel: return "cancel";
  }
  return "unknown";
}

/// Thrown by TaskHandle::get() when the task never ran: cancelled through its handle before it
/// started, dropped by the queue's overflow policy, or dropped by shutdown(ShutdownMode::cancel).
/// A task or job body may throw it to end early on a stop request.
struct TaskCancelled : std::runtime_error {
  TaskCancelled()
      : std::runtime_error(
            "dcp::TaskCancelled: the task never ran (cancelled before it started, dropped by the queue's "
            "overflow policy, or dropped by WorkerPool::shutdown(ShutdownMode::cancel))") {}
  using std::runtime_error::runtime_error;
};

/// Thrown by WorkerPool::submit()/try_submit() once the pool's shutdown has begun.
struct PoolClosed : std::logic_error {
  using std::logic_error::logic_error;
};

}  // namespace dcp
