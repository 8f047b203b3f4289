// tools/runner/leftovers.hpp — nothing a node started outlives the node or the run: finding the
// processes a node left running after it ended, ending them (SIGTERM, then SIGKILL after a grace)
// and saying which they were.
//
// What it is for: the runner (a child subreaper, supervisor.hpp: orphans of its nodes are
// re-parented to it instead of init) calls node_ended() when it has reaped a node, check() after
// every round of reaping and when next_deadline() has come, and run_ending() once no node is left.
//
// What belongs to an ended node (a "leftover"), found by reading /proc (process_table.hpp):
//   - every process in the node's cgroup, when there are cgroups (node_cgroups.hpp);
//   - every process in the node's process group (its pid: every node starts its own group);
//   - every orphan re-parented to the runner (its parent is the runner, it is not a node and was
//     not a child of the runner before the run) that belongs to no running node (by cgroup or
//     process group), while some node's clean-up is under way: without cgroups, that is how a
//     process that called setsid() is found once its parent has died. It is put down to the node
//     whose clean-up started last (without cgroups the runner cannot know better);
//   - every descendant of a leftover (its parent is one).
// Each leftover gets SIGTERM (the process group too, with killpg), and what is still running after
// `grace` gets SIGKILL (cgroup.kill for the cgroup). What is still there `kill_wait` after SIGKILL
// is given up on (LeftoverProcess::survived). A clean-up looks again every kPollInterval until it
// is done, so a leftover's own children, re-parented when it dies, are found too.
// run_ending(): every orphan still there (daemons of nodes, found by nobody) is a leftover of the
// run itself (unowned()) and ends the same way. hurry() (a second Ctrl-C) skips the grace.
//
// Thread safety: one owner (the runner's event loop). Blocking: reading /proc and cgroupfs, and
// kill_everything_now() until what it killed is reaped (bounded by kill_wait). Errors: none thrown
// but std::bad_alloc.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <vector>

#include "runner/node_cgroups.hpp"
#include "runner/process_table.hpp"
#include "runner/runner.hpp"

namespace dcp::runner {

class Leftovers {
 public:
  using Clock = std::chrono::steady_clock;
  /// How often a clean-up under way looks again.
  static constexpr std::chrono::milliseconds kPollInterval{50};

  /// `cgroups` must outlive this object.
  Leftovers(const NodeCgroups& cgroups, std::size_t node_count, std::chrono::milliseconds grace = kLeftoverGrace,
            std::chrono::milliseconds kill_wait = kLeftoverKillWait);

  /// Before the nodes start: the runner's children from before the run are never leftovers.
  void note_existing_children();
  void node_started(std::size_t node, pid_t pid);
  /// The node's process has been reaped: find what it left running and send it SIGTERM.
  void node_ended(std::size_t node, Clock::time_point now);
  /// Look again: new leftovers get their signal, SIGKILL when a grace has passed, clean-ups finish.
  void check(Clock::time_point now);
  /// No node runs any more: the orphans still there are the run's own leftovers.
  void run_ending(Clock::time_point now);
  /// No more grace: everything found so far and from now on gets SIGKILL at once.
  void hurry(Clock::time_point now);

  /// A clean-up is under way (the run must not end yet).
  [[nodiscard]] bool busy() const noexcept;
  /// When check() is next due (nullopt: nothing under way).
  [[nodiscard]] std::optional<Clock::time_point> next_deadline() const noexcept;

  [[nodiscard]] std::vector<LeftoverProcess> of(std::size_t node) const;
  [[nodiscard]] std::vector<LeftoverProcess> unowned() const;

  /// Error paths: SIGKILL to every leftover, node group, cgroup and orphan, and reap the runner's
  /// children among them (waits at most kill_wait).
  void kill_everything_now() noexcept;

 private:
  enum class Phase { idle, terminating, killing };
  struct Target {
    ProcessInfo info;
    bool gone = false;
    bool needed_sigkill = false;
    bool survived = false;
  };
  struct Cleanup {
    pid_t group = -1;  ///< the node's pid = its process group id; -1 for the run's own clean-up
    bool ended = false;  ///< the node has been reaped (or this is the run's clean-up, once the run ends)
    Phase phase = Phase::idle;
    Clock::time_point deadline{};
    std::vector<Target> targets;
  };

  void scan(Clock::time_point now);
  void advance(Cleanup& cleanup, std::size_t index, Clock::time_point now);
  void start(Cleanup& cleanup, Clock::time_point now);
  [[nodiscard]] bool is_target(const ProcessInfo& process) const;
  void signal(const Cleanup& cleanup, std::size_t index, int signal) const;
  [[nodiscard]] std::vector<LeftoverProcess> listed(const Cleanup& cleanup) const;

  const NodeCgroups& cgroups_;
  pid_t self_;
  std::chrono::milliseconds grace_;
  std::chrono::milliseconds kill_wait_;
  std::vector<Cleanup> cleanups_;  ///< one per node, then the run's own
  std::vector<ProcessInfo> existing_children_;
  Clock::time_point last_check_{};
  std::optional<std::size_t> latest_;  ///< the node whose clean-up started last
  bool hurry_ = false;
};

}  // namespace dcp::runner
