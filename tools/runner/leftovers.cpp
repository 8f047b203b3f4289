// Ending what nodes left running (see leftovers.hpp).
#include "runner/leftovers.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <thread>

namespace dcp::runner {
namespace {

bool same_process(const ProcessInfo& a, const ProcessInfo& b) { return a.pid == b.pid && a.start_time == b.start_time; }

}  // namespace

Leftovers::Leftovers(const NodeCgroups& cgroups, std::size_t node_count, std::chrono::milliseconds grace,
                     std::chrono::milliseconds kill_wait)
    : cgroups_(cgroups), self_(::getpid()), grace_(grace), kill_wait_(kill_wait), cleanups_(node_count + 1) {}

void Leftovers::note_existing_children() {
  existing_children_.clear();
  for (ProcessInfo& process : list_processes()) {
    if (process.parent == self_) existing_children_.push_back(std::move(process));
  }
}

void Leftovers::node_started(std::size_t node, pid_t pid) { cleanups_.at(node).group = pid; }

void Leftovers::node_ended(std::size_t node, Clock::time_point now) {
  cleanups_.at(node).ended = true;
  latest_ = node;
  check(now);
}

void Leftovers::run_ending(Clock::time_point now) {
  cleanups_.back().ended = true;
  check(now);
}

void Leftovers::hurry(Clock::time_point now) {
  hurry_ = true;
  for (Cleanup& cleanup : cleanups_) {
    if (cleanup.phase == Phase::terminating) cleanup.deadline = now;  // advance() sends SIGKILL
  }
  check(now);
}

void Leftovers::check(Clock::time_point now) {
  scan(now);
  for (std::size_t i = 0; i < cleanups_.size(); ++i) advance(cleanups_[i], i, now);
  last_check_ = now;
}

bool Leftovers::is_target(const ProcessInfo& process) const {
  for (const Cleanup& cleanup : cleanups_) {
    for (const Target& target : cleanup.targets) {
      if (same_process(target.info, process)) return true;
    }
  }
  return false;
}

void Leftovers::scan(Clock::time_point now) {
  const std::vector<ProcessInfo> processes = list_processes();
  const std::size_t run = cleanups_.size() - 1;

  std::map<pid_t, std::size_t> in_cgroup;  // pid -> node, from the nodes' cgroup.procs
  if (cgroups_.available()) {
    for (std::size_t n = 0; n < run; ++n) {
      for (const pid_t pid : cgroups_.members(n)) in_cgroup[pid] = n;
    }
  }
  auto owner_of = [&](const ProcessInfo& process) -> std::optional<std::size_t> {
    if (const auto it = in_cgroup.find(process.pid); it != in_cgroup.end()) return it->second;
    for (std::size_t n = 0; n < run; ++n) {
      if (cleanups_[n].group > 0 && cleanups_[n].group == process.process_group) return n;
    }
    for (std::size_t c = 0; c < cleanups_.size(); ++c) {  // a leftover's child is a leftover
      for (const Target& target : cleanups_[c].targets) {
        if (!target.gone && target.info.pid == process.parent) return c;
      }
    }
    if (process.parent != self_) return std::nullopt;
    // An orphan re-parented to the runner that no node's cgroup or group claims.
    if (latest_ && cleanups_[*latest_].phase != Phase::idle) return *latest_;
    if (cleanups_[run].ended) return run;
    return std::nullopt;
  };
  auto excluded = [&](const ProcessInfo& process) {
    if (process.pid == self_ || !process.running()) return true;
    for (std::size_t n = 0; n < run; ++n) {
      if (!cleanups_[n].ended && cleanups_[n].group == process.pid) return true;  // a running node
    }
    return std::any_of(existing_children_.begin(), existing_children_.end(),
                       [&](const ProcessInfo& child) { return same_process(child, process); });
  };

  // Descendants of new leftovers are found in later passes (a parent is listed after its child as
  // often as before it).
  for (bool found = true; found;) {
    found = false;
    for (const ProcessInfo& process : processes) {
      if (excluded(process) || is_target(process)) continue;
      const std::optional<std::size_t> owner = owner_of(process);
      if (!owner || !cleanups_[*owner].ended) continue;  // its node still runs: not a leftover yet
      Cleanup& cleanup = cleanups_[*owner];
      if (cleanup.phase == Phase::idle) start(cleanup, now);
      Target& target = cleanup.targets.emplace_back(Target{process});
      if (cleanup.phase == Phase::killing) {
        target.needed_sigkill = true;
        ::kill(process.pid, SIGKILL);
      } else {
        ::kill(process.pid, SIGTERM);
      }
      found = true;
    }
  }

  for (Cleanup& cleanup : cleanups_) {
    for (Target& target : cleanup.targets) {
      if (target.gone) continue;
      const auto now_there = std::find_if(processes.begin(), processes.end(),
                                          [&](const ProcessInfo& p) { return same_process(p, target.info); });
      target.gone = now_there == processes.end() || !now_there->running();
    }
  }
}

void Leftovers::start(Cleanup& cleanup, Clock::time_point now) {
  if (hurry_) {
    cleanup.phase = Phase::killing;
    cleanup.deadline = now + kill_wait_;
  } else {
    cleanup.phase = Phase::terminating;
    cleanup.deadline = now + grace_;
  }
  const std::size_t index = static_cast<std::size_t>(&cleanup - cleanups_.data());
  signal(cleanup, index, hurry_ ? SIGKILL : SIGTERM);
}

void Leftovers::signal(const Cleanup& cleanup, std::size_t index, int signal) const {
  // The group id cannot have been reused while a member lives: signal it only then.
  if (cleanup.group > 0 && std::any_of(cleanup.targets.begin(), cleanup.targets.end(), [&](const Target& t) {
        return !t.gone && t.info.process_group == cleanup.group;
      })) {
    ::killpg(cleanup.group, signal);
  }
  if (index + 1 < cleanups_.size()) {
    if (signal == SIGKILL) {
      cgroups_.kill_all(index);
    } else {
      cgroups_.signal_members(index, signal);
    }
  }
  for (const Target& target : cleanup.targets) {
    if (!target.gone) ::kill(target.info.pid, signal);
  }
}

void Leftovers::advance(Cleanup& cleanup, std::size_t index, Clock::time_point now) {
  if (cleanup.phase == Phase::idle) return;
  const bool all_gone = std::all_of(cleanup.targets.begin(), cleanup.targets.end(),
                                    [](const Target& t) { return t.gone || t.survived; });
  if (all_gone) {
    cleanup.phase = Phase::idle;
    return;
  }
  if (now < cleanup.deadline) return;
  if (cleanup.phase == Phase::terminating) {
    for (Target& target : cleanup.targets) {
      if (!target.gone) target.needed_sigkill = true;
    }
    signal(cleanup, index, SIGKILL);
    cleanup.phase = Phase::killing;
    cleanup.deadline = now + kill_wait_;
    return;
  }
  for (Target& target : cleanup.targets) {
    if (!target.gone) target.survived = true;  // given up on
  }
  cleanup.phase = Phase::idle;
}

bool Leftovers::busy() const noexcept {
  return std::any_of(cleanups_.begin(), cleanups_.end(), [](const Cleanup& c) { return c.phase != Phase::idle; });
}

std::optional<Leftovers::Clock::time_point> Leftovers::next_deadline() const noexcept {
  std::optional<Clock::time_point> next;
  for (const Cleanup& cleanup : cleanups_) {
    if (cleanup.phase == Phase::idle) continue;
    const Clock::time_point due = std::min(cleanup.deadline, last_check_ + kPollInterval);
    if (!next || due < *next) next = due;
  }
  return next;
}

std::vector<LeftoverProcess> Leftovers::listed(const Cleanup& cleanup) const {
  std::vector<LeftoverProcess> list;
  for (const Target& target : cleanup.targets) {
    list.push_back(LeftoverProcess{target.info.pid, target.info.name, target.needed_sigkill, target.survived});
  }
  return list;
}

std::vector<LeftoverProcess> Leftovers::of(std::size_t node) const { return listed(cleanups_.at(node)); }

std::vector<LeftoverProcess> Leftovers::unowned() const { return listed(cleanups_.back()); }

void Leftovers::kill_everything_now() noexcept {
  try {
    hurry_ = true;
    for (Cleanup& cleanup : cleanups_) cleanup.ended = true;
    const Clock::time_point give_up = Clock::now() + kill_wait_;
    for (;;) {
      const Clock::time_point now = Clock::now();
      check(now);
      for (std::size_t n = 0; n + 1 < cleanups_.size(); ++n) cgroups_.kill_all(n);
      for (const Cleanup& cleanup : cleanups_) {
        for (const Target& target : cleanup.targets) {
          int status = 0;  // ECHILD when it is not (or no longer) the runner's child
          ::waitpid(target.info.pid, &status, WNOHANG);
        }
      }
      if (!busy() || now > give_up) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // SIGKILL sent: waiting for the kernel
    }
  } catch (...) {
    // error paths only: nothing more can be done
  }
}

}  // namespace dcp::runner
