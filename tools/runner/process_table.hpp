// tools/runner/process_table.hpp — what /proc says about the machine's processes: the facts the
// runner needs to find what a node left behind (parent, process group, session, name, state, and
// the start time that tells a process from a later one that reused its pid).
//
// What it is for: leftovers.hpp decides which processes a node left running after it ended; it
// reads them through these functions. They only read /proc (/proc/<pid>/stat), never signal.
//
// Thread safety: the functions may be called from any thread. Blocking: reading /proc (quick, no
// waiting on other processes). Errors: a process that vanishes while it is read is simply left out
// (read_process returns nullopt); nothing throws except std::bad_alloc.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dcp::runner {

struct ProcessInfo {
  pid_t pid = -1;
  pid_t parent = -1;           ///< ppid
  pid_t process_group = -1;    ///< pgid
  pid_t session = -1;          ///< sid
  char state = '?';            ///< 'R', 'S', 'D', 'Z' (zombie: it has ended), ...
  std::uint64_t start_time = 0;  ///< clock ticks after boot; with `pid`, the process's identity
  std::string name;            ///< its comm (at most 15 characters, e.g. "sleep")

  /// It has not ended (a zombie has: only its parent's wait is missing).
  [[nodiscard]] bool running() const noexcept { return state != 'Z' && state != 'X'; }
};

/// /proc/<pid>/stat of one process; nullopt when there is no such process (or it vanished).
[[nodiscard]] std::optional<ProcessInfo> read_process(pid_t pid);

/// The facts of one /proc/<pid>/stat text (`pid (comm) state ppid pgrp session ... starttime ...`;
/// comm may hold spaces and parentheses: it ends at the last ')'); nullopt when the text is cut
/// short or malformed. read_process is this on the file's text.
[[nodiscard]] std::optional<ProcessInfo> parse_process_stat(pid_t pid, std::string_view text);

/// Every process /proc shows, in no particular order.
[[nodiscard]] std::vector<ProcessInfo> list_processes();

/// The same process as `known` (same pid and start time) is still there and has not ended.
[[nodiscard]] bool still_running(const ProcessInfo& known);

}  // namespace dcp::runner
