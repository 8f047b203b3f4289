// dcp/core/overflow.hpp — what a bounded channel (or a bounded work queue) does when it is full.
#pragma once

namespace dcp {

enum class Overflow {
  block,        ///< send waits for room; try_send reports SendStatus::full (the default)
  drop_oldest,  ///< the oldest queued value is discarded to make room; never blocks
  drop_newest,  ///< the value being sent is discarded (SendStatus::dropped); never blocks
};

constexpr const char* to_string(Overflow o) noexcept {
  switch (o) {
    case Overflow::block: return "block";
    case Overflow::drop_oldest: return "drop_oldest";
    case Overflow::drop_newest: return "drop_newest";
  }
  return "unknown";
}

}  // namespace dcp
