// dcp/patterns/detail/aggregator_pending.hpp — the private types of dcp::Aggregator (a template, so
// they live in a header): one pending key, the list and index that hold them, and the validation of
// the options. Not part of the public API; the contract is in dcp/patterns/aggregator.hpp.
// Plain data and pure functions: no locking of their own (the aggregator's mutex guards them).
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace dcp::detail {

/// One key waiting for its parts.
template <class Key, class Part>
struct AggregatorPending {
  Key key;
  std::vector<std::optional<Part>> parts;
  std::size_t received = 0;
  std::chrono::steady_clock::time_point opened;
  std::chrono::steady_clock::time_point deadline;  // opened + Options::deadline; kNoDeadline for "never"
};

/// Pending keys in opening order == deadline order (the deadline is the same for every key), and the
/// index from a key to its entry.
template <class Key, class Part>
using AggregatorPendingList = std::list<AggregatorPending<Key, Part>>;
template <class Key, class Part, class Hash, class KeyEqual>
using AggregatorIndex =
    std::unordered_map<Key, typename AggregatorPendingList<Key, Part>::iterator, Hash, KeyEqual>;

/// Throws std::invalid_argument("dcp::Aggregator: <what>").
[[noreturn]] inline void aggregator_option_error(const std::string& what) {
  throw std::invalid_argument("dcp::Aggregator: " + what);
}

/// Checks one size option against [low, high]; throws naming it.
inline void check_aggregator_range(const char* field, std::size_t value, std::size_t low, std::size_t high,
                                   const char* note = "") {
  if (value < low || value > high) {
    aggregator_option_error(std::string("Options::") + field + " must be " + std::to_string(low) + ".." +
                            std::to_string(high) + note + ", got " + std::to_string(value));
  }
}

}  // namespace dcp::detail
