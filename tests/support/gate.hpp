// tests/support/gate.hpp — dcp::test::Gate, a one-shot latch a test uses to hold a handler or a task
// until it chooses to let it go.
//
//   dcp::test::Gate release;
//   pool.submit([opened = release.opened()] { opened.wait(); });  // held
//   ...check what must hold while it is held...
//   release.open();                                                // let go
//
// open() opens it once and for all (later calls do nothing); wait() blocks until it is open and
// returns false after dcp::test::kHangTimeout (a hang, for the caller to report). Code that may
// outlive the Gate (a task still queued when an ASSERT returns) captures opened(), a shared_future,
// by value: destroying the Gate then releases it too (broken promise), so a pool can still be joined.
// Thread safety: every member may be called from any thread at once. Blocking: wait() (bounded) and
// opened().wait() (unbounded, released by open() or by the Gate's destruction).
#pragma once

#include <chrono>
#include <future>
#include <mutex>

#include "support/hang_timeout.hpp"

namespace dcp::test {

class Gate {
 public:
  Gate() = default;
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;

  /// Opens the gate; every waiter, present and future, goes on. Idempotent.
  void open() {
    std::call_once(opened_once_, [this] { promise_.set_value(); });
  }

  /// Waits until open(); false after kHangTimeout.
  [[nodiscard]] bool wait() const { return opened_.wait_for(kHangTimeout) == std::future_status::ready; }

  [[nodiscard]] bool is_open() const { return opened_.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }

  /// What a task captures by value: ready once open() was called or the Gate was destroyed.
  [[nodiscard]] std::shared_future<void> opened() const { return opened_; }

 private:
  std::promise<void> promise_;
  std::shared_future<void> opened_ = promise_.get_future().share();
  std::once_flag opened_once_;
};

}  // namespace dcp::test
