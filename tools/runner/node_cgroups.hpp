// tools/runner/node_cgroups.hpp — one cgroup v2 per node, where the machine lets the runner make
// them, so everything a node started can be found and killed, even what left its process group.
//
// What it is for: the runner creates, under its own cgroup, `dcp-run-<runner pid>/` with one
// `node-<index>/` per node. A node's process is moved into its cgroup before it executes its
// program (process.hpp: SpawnRequest::cgroup_procs), so every process it starts is born there and
// cannot leave it (moving out needs write access to an ancestor the node does not have unless it
// runs as the same privileged user and tries hard). When the node has ended, members() lists what
// is still there and kill_all() ends it (cgroup.kill where the kernel has it, Linux 5.14+, else
// SIGKILL to every pid in cgroup.procs). The destructor removes the directories (those still
// holding a process stay, and the reason is not reported).
//
// Not available (available() false, reason() says why, nothing else is done) when the environment
// sets DCP_RUN_NO_CGROUPS (to anything but "" or "0": for tests of the fallback, and for machines
// where a cgroup per node is unwanted), when there is no
// cgroup v2 hierarchy, the runner's cgroup cannot be found in it, or the runner may not create a
// cgroup under its own (no delegated, writable subtree: the usual case for a user in a systemd
// session that did not delegate, or in a container). The runner then finds leftovers by process
// group and as orphans re-parented to it (it is a child subreaper): see leftovers.hpp.
//
// Thread safety: one owner (the runner's event loop); const members may be called from any
// thread. Blocking: file-system calls on cgroupfs only. Errors: nothing throws but std::bad_alloc.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "ipc/socket.hpp"

namespace dcp::runner {

class NodeCgroups {
 public:
  /// Creates the cgroups for `node_count` nodes, or finds out why it cannot (never throws).
  explicit NodeCgroups(std::size_t node_count);
  ~NodeCgroups();
  NodeCgroups(const NodeCgroups&) = delete;
  NodeCgroups& operator=(const NodeCgroups&) = delete;

  [[nodiscard]] bool available() const noexcept { return available_; }
  /// Why not available ("" when available).
  [[nodiscard]] const std::string& reason() const noexcept { return reason_; }
  /// The run's directory, e.g. /sys/fs/cgroup/user.slice/.../dcp-run-4242 (empty when not available).
  [[nodiscard]] const std::filesystem::path& run_directory() const noexcept { return run_directory_; }

  /// The node's cgroup.procs, open for writing (write "0" in the child to move it there), or -1.
  [[nodiscard]] int procs_descriptor(std::size_t node) const noexcept;
  /// The pids in the node's cgroup now (empty when not available).
  [[nodiscard]] std::vector<pid_t> members(std::size_t node) const;
  /// The cgroup that holds `pid` is this node's.
  [[nodiscard]] bool holds(std::size_t node, pid_t pid) const;
  /// Sends `signal` to every member.
  void signal_members(std::size_t node, int signal) const;
  /// SIGKILL to everything in the node's cgroup: cgroup.kill when present, else each member.
  void kill_all(std::size_t node) const;

 private:
  bool available_ = false;
  std::string reason_;
  std::filesystem::path run_directory_;
  std::vector<std::filesystem::path> node_directories_;
  std::vector<ipc::FileDescriptor> procs_;
};

}  // namespace dcp::runner
