// dcp/core/detail/queue_status.hpp — what the two queue flavors behind a channel share: the
// outcomes of their non-blocking operations, what they ask of a value type, the cache line size.
// Thread safety and blocking: only types and constants.
#pragma once

#include <cstddef>
#include <type_traits>

namespace dcp::detail {

enum class PushStatus { pushed, full, closed };
enum class PopStatus { popped, empty, closed };

/// A value the queues can hold: moved into a slot and out of it, and destroyed there, with no way
/// to undo a half-done step, so neither may throw.
template <class T>
inline constexpr bool kIsChannelValue = std::is_nothrow_move_constructible_v<T> && std::is_nothrow_destructible_v<T>;

/// Cache line size used to keep producer and consumer indices apart (no false sharing).
inline constexpr std::size_t kCacheLine = 64;

}  // namespace dcp::detail
