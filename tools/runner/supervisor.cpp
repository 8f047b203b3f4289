// Process supervision for the runner (see supervisor.hpp).
#include "runner/supervisor.hpp"

#include <sys/prctl.h>
#include <sys/wait.h>

#include <cerrno>
#include <ctime>
#include <system_error>
#include <utility>
#include <vector>

namespace dcp::runner {

SignalSetup::SignalSetup() {
  sigemptyset(&blocked_);
  for (const int signal : {SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&blocked_, signal);
  if (const int e = ::pthread_sigmask(SIG_BLOCK, &blocked_, &previous_mask_); e != 0) {
    throw std::system_error(e, std::generic_category(), "dcp run: pthread_sigmask");
  }
  struct sigaction ignore{};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  ::sigaction(SIGPIPE, &ignore, &previous_pipe_);
}

SignalSetup::~SignalSetup() {
  const timespec zero{};
  while (::sigtimedwait(&blocked_, nullptr, &zero) > 0) {
  }
  ::sigaction(SIGPIPE, &previous_pipe_, nullptr);
  ::pthread_sigmask(SIG_SETMASK, &previous_mask_, nullptr);
}

ChildSubreaper::ChildSubreaper() noexcept {
  if (::prctl(PR_GET_CHILD_SUBREAPER, &previous_) != 0) previous_ = 0;
  active_ = ::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0;
}

ChildSubreaper::~ChildSubreaper() {
  if (active_ && previous_ == 0) ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

DescriptorLimit::DescriptorLimit() noexcept {
  if (::getrlimit(RLIMIT_NOFILE, &previous_) != 0) return;
  rlimit raised = previous_;
  raised.rlim_cur = previous_.rlim_max;
  changed_ = raised.rlim_cur != previous_.rlim_cur && ::setrlimit(RLIMIT_NOFILE, &raised) == 0;
}

DescriptorLimit::~DescriptorLimit() {
  if (changed_) ::setrlimit(RLIMIT_NOFILE, &previous_);
}

SpawnRequest node_spawn_request(const dataflow::Node& node, const std::filesystem::path& base_dir,
                                const std::filesystem::path& socket_path, const std::string& secret,
                                int connection) {
  SpawnRequest request;
  request.executable = node.executable;
  request.arguments.push_back(node.executable.string());
  request.arguments.insert(request.arguments.end(), node.argv.begin(), node.argv.end());
  std::vector<std::pair<std::string, std::string>> variables(node.env.begin(), node.env.end());
  variables.emplace_back("DCP_RUNNER_SOCKET", socket_path.string());
  variables.emplace_back("DCP_NODE_ID", node.id);
  variables.emplace_back("DCP_NODE_SECRET", secret);
  variables.emplace_back("DCP_NODE_FD", std::to_string(kNodeConnectionFd));
  request.inherit_fd = InheritedDescriptor{connection, kNodeConnectionFd};
  request.environment = merged_environment(variables);
  request.working_directory = std::filesystem::absolute(base_dir);
  return request;
}

void kill_process_group(pid_t pid) noexcept {
  ::kill(-pid, SIGKILL);  // its process group: whatever it started too
  ::kill(pid, SIGKILL);   // and itself, should it have left its group
}

void kill_and_reap(pid_t pid) noexcept {
  kill_process_group(pid);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

void reap_children(const std::function<void(pid_t, int)>& on_exit) {
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      on_exit(pid, status);
      continue;
    }
    if (pid < 0 && errno == EINTR) continue;
    return;  // 0: children left but none has ended; -1/ECHILD: no children at all
  }
}

ProcessEnd ended_as(int wait_status, ProcessState before_reaping) noexcept {
  ProcessEnd end;
  if (WIFEXITED(wait_status)) {
    end.end = NodeEnd::exited;
    end.exit_code = WEXITSTATUS(wait_status);
  } else if (WIFSIGNALED(wait_status)) {
    end.signal = WTERMSIG(wait_status);
    if (end.signal == SIGKILL && before_reaping == ProcessState::killed_after_grace) {
      end.end = NodeEnd::killed_after_grace;
    } else if (end.signal == SIGKILL && before_reaping == ProcessState::killed_on_interrupt) {
      end.end = NodeEnd::killed_on_interrupt;
    } else if (end.signal == SIGKILL && before_reaping == ProcessState::killed_at_start_deadline) {
      end.end = NodeEnd::killed_at_start_deadline;
    } else {
      end.end = NodeEnd::signaled;
    }
  }
  return end;
}

}  // namespace dcp::runner
