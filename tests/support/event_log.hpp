// tests/support/event_log.hpp — dcp::test::EventLog, what happened and in which order, written from any
// thread: a test logs from handlers, tasks and callbacks and then checks the sequence.
//
//   dcp::test::EventLog log;
//   router.on_input("in", [&](auto&, auto&) { log.add("handler"); });
//   ...
//   EXPECT_EQ(log.entries(), (std::vector<std::string>{"handler", "shutdown"}));
//
// Thread safety: add() and entries() may be called from any thread at once; entries() is a snapshot.
// Blocking: both hold a mutex for the copy only.
#pragma once

#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace dcp::test {

class EventLog {
 public:
  void add(std::string entry) {
    std::lock_guard lock(mutex_);
    entries_.push_back(std::move(entry));
  }
  [[nodiscard]] std::vector<std::string> entries() const {
    std::lock_guard lock(mutex_);
    return entries_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> entries_;
};

}  // namespace dcp::test
