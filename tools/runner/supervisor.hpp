// tools/runner/supervisor.hpp — process supervision for the runner: the process-wide set-up a run
// needs, starting a node's process, killing it, reaping children and naming how one ended.
//
// What it is for: the runner's event loop (runner.cpp) drives each node's process machine
// (node_state.hpp: not_started -> running -> [killed_after_grace | killed_on_interrupt |
// killed_at_start_deadline] -> ended,
// or failed_to_start) with these pieces:
//   - SignalSetup for the run: SIGINT, SIGTERM, SIGHUP and SIGCHLD blocked (read from a signalfd),
//     SIGPIPE ignored; DescriptorLimit: the soft RLIMIT_NOFILE raised to the hard limit;
//     ChildSubreaper: orphaned descendants of the nodes are re-parented to the runner (not init),
//     which reaps them (reap_children) and ends them (leftovers.hpp).
//   - node_spawn_request(): how a node is started (its folder, argv, env + DCP_RUNNER_SOCKET,
//     DCP_NODE_ID, DCP_NODE_SECRET, DCP_NODE_FD, and its end of its connection inherited as
//     descriptor kNodeConnectionFd); process.hpp's spawn_process() starts it in its own group.
//   - kill_process_group(): Stop -> grace -> SIGKILL to the node's process group and the node.
//   - reap_children(): waitpid(-1, WNOHANG) until nothing more has ended; each ended child once.
//   - ended_as(): the NodeEnd of a wait status, given whether the runner had sent the SIGKILL.
//
// Thread safety: SignalSetup and DescriptorLimit change process-wide state (one run at a time per
// process); the functions may be called from any thread. Blocking: kill_and_reap() until the child
// is reaped; everything else returns at once. Errors: SignalSetup throws std::system_error.
#pragma once

#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "dataflow/dataflow.hpp"
#include "runner/node_state.hpp"
#include "runner/process.hpp"
#include "runner/runner.hpp"

namespace dcp::runner {

/// Blocks the signals the loop reads from its signalfd and ignores SIGPIPE (a closed stdout must
/// not kill the runner and orphan the nodes). The destructor swallows what is still pending, then
/// restores the previous mask and SIGPIPE disposition.
class SignalSetup {
 public:
  SignalSetup();
  ~SignalSetup();
  SignalSetup(const SignalSetup&) = delete;
  SignalSetup& operator=(const SignalSetup&) = delete;

  [[nodiscard]] const sigset_t& blocked() const noexcept { return blocked_; }

 private:
  sigset_t blocked_{};
  sigset_t previous_mask_{};
  struct sigaction previous_pipe_{};
};

/// Makes the process a child subreaper (prctl PR_SET_CHILD_SUBREAPER) for the run and restores
/// the previous setting afterwards. Never throws: subreaper() says whether it took (a kernel
/// without it, before 3.4, or a seccomp filter that refuses prctl).
class ChildSubreaper {
 public:
  ChildSubreaper() noexcept;
  ~ChildSubreaper();
  ChildSubreaper(const ChildSubreaper&) = delete;
  ChildSubreaper& operator=(const ChildSubreaper&) = delete;

  [[nodiscard]] bool subreaper() const noexcept { return active_; }

 private:
  int previous_ = 0;
  bool active_ = false;
};

/// Raises the soft limit on open descriptors to the hard limit, before any node starts: each node
/// costs the runner descriptors (its connection, two pipes, its cgroup.procs) and every queued
/// shared-memory message holds one, so under the usual soft limit of 1024 only about 500 nodes
/// could start. Nodes get the soft limit back (original_limit(), SpawnRequest::nofile_limit): some
/// programs close or scan every possible descriptor at start-up. Restored when the run ends.
class DescriptorLimit {
 public:
  DescriptorLimit() noexcept;
  ~DescriptorLimit();
  DescriptorLimit(const DescriptorLimit&) = delete;
  DescriptorLimit& operator=(const DescriptorLimit&) = delete;

  /// The limit before it was raised; nullopt when it was not (already at the hard limit, or refused).
  [[nodiscard]] std::optional<rlimit> original_limit() const noexcept {
    return changed_ ? std::optional<rlimit>(previous_) : std::nullopt;
  }

 private:
  rlimit previous_{};
  bool changed_ = false;
};

/// The descriptor number a node gets its end of its connection to the runner at (as systemd's
/// socket activation, the first after stderr); DCP_NODE_FD tells the node library.
inline constexpr int kNodeConnectionFd = 3;

/// How `node` is started: its executable with its args, in `base_dir` (made absolute), with the
/// inherited environment plus its `env` plus DCP_RUNNER_SOCKET, DCP_NODE_ID, DCP_NODE_SECRET and
/// DCP_NODE_FD=kNodeConnectionFd, and `connection` (the node's end of its socket pair with the
/// runner, close-on-exec in the runner) inherited as descriptor kNodeConnectionFd.
[[nodiscard]] SpawnRequest node_spawn_request(const dataflow::Node& node, const std::filesystem::path& base_dir,
                                              const std::filesystem::path& socket_path, const std::string& secret,
                                              int connection);

/// SIGKILL to the process group `pid` leads (whatever the node started too) and to `pid` itself,
/// should it have left its group.
void kill_process_group(pid_t pid) noexcept;

/// kill_process_group(), then waits for `pid` (error paths: no node outlives the runner).
void kill_and_reap(pid_t pid) noexcept;

/// Calls `on_exit(pid, wait_status)` for every child that has ended, without blocking: nodes and
/// orphans re-parented to the subreaper alike (the caller tells them apart by pid).
void reap_children(const std::function<void(pid_t, int)>& on_exit);

/// How a node ended, from its wait status and its process state just before it was reaped.
struct ProcessEnd {
  NodeEnd end = NodeEnd::exited;
  int exit_code = 0;  ///< NodeEnd::exited
  int signal = 0;     ///< the other ends
};
[[nodiscard]] ProcessEnd ended_as(int wait_status, ProcessState before_reaping) noexcept;

}  // namespace dcp::runner
