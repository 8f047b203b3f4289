// dcp/core/detail/queue_status.hpp — outcomes of the non-blocking queue operations behind a channel.
#pragma once

#include <cstddef>

namespace dcp::detail {

enum class PushStatus { pushed, full, closed };
enum class PopStatus { popped, empty, closed };

/// Cache line size used to keep producer and consumer indices apart (no false sharing).
inline constexpr std::size_t kCacheLine = 64;

}  // namespace dcp::detail
