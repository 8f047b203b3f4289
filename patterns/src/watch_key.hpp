// patterns/src/watch_key.hpp — the slot key of a watched input id (private to dcp::patterns; the
// watchdog benchmark includes it too, so that it measures the key the watchdog really uses).
//
// Thread safety: a pure function; any thread. Blocking: none.
#pragma once

#include <cstdint>
#include <string_view>

namespace dcp::detail {

/// A non-zero hash of an id (FNV-1a, lowest bit set): 0 marks a free slot.
inline std::uint64_t watch_key(std::string_view id) noexcept {
  std::uint64_t hash = 14695981039346656037ULL;
  for (const char c : id) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return hash | 1U;
}

}  // namespace dcp::detail
