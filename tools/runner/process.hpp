// tools/runner/process.hpp — starting a node as a child process, and naming how it ended.
//
// What it is for: the runner starts every node with spawn_process():
//   - in its own process group (the child's pid is the group id), so Ctrl-C in the terminal reaches
//     only the runner — which then sends Stop — and the runner can kill a node with everything it
//     started (killpg); a build command instead stays in dcp's group (own_process_group = false),
//     so Ctrl-C stops it as it stops `dora build`'s;
//   - with stdin from /dev/null, stdout and stderr to pipes the runner reads (the read ends are
//     returned non-blocking and close-on-exec);
//   - with an empty signal mask and default signal dispositions (the runner blocks SIGINT,
//     SIGTERM, SIGCHLD and ignores SIGPIPE; a child must not inherit that);
//   - in `working_directory`, with exactly `environment` ("KEY=value" strings);
//   - with `inherit_fd`, when set, as its one extra descriptor: the caller's `fd` becomes the
//     child's descriptor `number` (dup2 in the child, which clears close-on-exec there only). The
//     caller keeps owning `fd` (close-on-exec on its side) and closes it once the child runs.
//   - when `cgroup_procs` is given (node_cgroups.hpp), moved into that cgroup v2 before it
//     executes its program, so everything it starts is born there;
//   - with `nofile_limit`, when set, as its RLIMIT_NOFILE (the runner runs with a raised one).
// Every descriptor the runner holds is close-on-exec, so a child inherits nothing else.
// It forks and, in the child, does only async-signal-safe calls (join the cgroup, its own process
// group, signal state, directory, descriptors, execve); an exec failure (e.g. a missing
// interpreter) comes back through a close-on-exec pipe and is thrown in the parent.
//
// Thread safety: spawn_process may be called from any thread; the helpers are pure.
// Blocking: spawn_process until the child has exec'd (or failed to).
// Errors: spawn_process throws std::system_error naming what failed (pipe, fork, chdir, execve:
// ENOENT ...). Failing to join the cgroup is not an error: the child runs without it and
// SpawnedProcess::cgroup_error says why.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ipc/socket.hpp"

namespace dcp::runner {

/// A descriptor the child gets at a fixed number (its node connection: supervisor.hpp).
struct InheritedDescriptor {
  int fd = -1;      ///< the caller's descriptor (close-on-exec; still the caller's after the spawn)
  int number = -1;  ///< the number it has in the child (> 2: stdin, stdout and stderr are set up first)
};

struct SpawnRequest {
  std::filesystem::path executable;      ///< absolute path of the program
  std::vector<std::string> arguments;    ///< argv, argv[0] included
  std::vector<std::string> environment;  ///< "KEY=value" strings, the whole environment
  std::filesystem::path working_directory;
  bool own_process_group = true;  ///< false: the child stays in the caller's process group
  std::optional<InheritedDescriptor> inherit_fd;  ///< the one descriptor the child inherits, if any
  int cgroup_procs = -1;  ///< an open cgroup.procs of a cgroup v2 the child joins first; -1: none
  std::optional<rlimit> nofile_limit;  ///< RLIMIT_NOFILE for the child (the caller raised its own)
};

struct SpawnedProcess {
  pid_t pid = -1;                 ///< also the child's process group id (own_process_group)
  ipc::FileDescriptor stdout_pipe;  ///< read end of the child's stdout (non-blocking)
  ipc::FileDescriptor stderr_pipe;  ///< read end of the child's stderr (non-blocking)
  std::string cgroup_error;         ///< why it could not join SpawnRequest::cgroup_procs ("" if it did)
};

/// Starts the child described by `request`. Throws std::system_error.
[[nodiscard]] SpawnedProcess spawn_process(const SpawnRequest& request);

/// The current environment (environ) with `overrides` replacing or adding variables; the order is
/// environ's, then the new keys in `overrides` order.
[[nodiscard]] std::vector<std::string> merged_environment(
    const std::vector<std::pair<std::string, std::string>>& overrides);

/// "SIGSEGV", "SIGKILL", ...; "signal 42" for numbers without a name.
[[nodiscard]] std::string signal_name(int signal);

}  // namespace dcp::runner
