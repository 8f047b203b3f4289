// dcp/core/detail/thread_name.hpp — naming the calling thread, so `top -H`, gdb and perf show who is who.
//
// Linux limits a thread name to 15 bytes (plus the terminating NUL); longer names are truncated.
// On platforms without pthread_setname_np the name is ignored. Naming is best effort: a failure is
// not reported (a missing name never matters for correctness).
//
// Thread safety: set_current_thread_name names the calling thread only; current_thread_name reads it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#if defined(__linux__) || defined(__APPLE__)
#include <pthread.h>
#endif

namespace dcp::detail {

/// Longest thread name the kernel keeps (Linux: 16 bytes including the NUL).
inline constexpr std::size_t kMaxThreadNameLength = 15;

/// Names the calling thread; empty names are ignored; long names are truncated to 15 characters.
inline void set_current_thread_name(std::string_view name) noexcept {
  if (name.empty()) return;
  char buffer[kMaxThreadNameLength + 1] = {};
  name.copy(buffer, kMaxThreadNameLength);
#if defined(__linux__)
  (void)pthread_setname_np(pthread_self(), buffer);
#elif defined(__APPLE__)
  (void)pthread_setname_np(buffer);
#endif
}

/// The calling thread's name ("" where names are not supported).
inline std::string current_thread_name() {
#if defined(__linux__) || defined(__APPLE__)
  char buffer[64] = {};
  if (pthread_getname_np(pthread_self(), buffer, sizeof buffer) == 0) return buffer;
#endif
  return {};
}

}  // namespace dcp::detail
