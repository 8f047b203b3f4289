// Bounds on connections that have not said Hello yet (see pending_connections.hpp).
#include "runner/pending_connections.hpp"

#include <algorithm>

namespace dcp::runner {

bool PendingConnections::admit(std::uint64_t id, Clock::time_point now) {
  if (entries_.size() >= limit_) {
    ++refused_;
    return false;
  }
  entries_.push_back(Entry{id, now + timeout_});
  return true;
}

void PendingConnections::forget(std::uint64_t id) {
  const auto it = std::find_if(entries_.begin(), entries_.end(), [id](const Entry& e) { return e.id == id; });
  if (it != entries_.end()) entries_.erase(it);
}

std::vector<std::uint64_t> PendingConnections::expired(Clock::time_point now) {
  std::vector<std::uint64_t> ids;
  while (!entries_.empty() && entries_.front().deadline <= now) {
    ids.push_back(entries_.front().id);
    entries_.pop_front();
    ++timed_out_;
  }
  return ids;
}

std::optional<PendingConnections::Clock::time_point> PendingConnections::next_deadline() const {
  if (entries_.empty()) return std::nullopt;
  return entries_.front().deadline;
}

}  // namespace dcp::runner
