// Starting node processes (see process.hpp).
#include "runner/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <system_error>

extern char** environ;

namespace dcp::runner {
namespace {

[[noreturn]] void throw_error(int error, const std::string& what) {
  throw std::system_error(error, std::generic_category(), what);
}

// A pipe whose ends are both close-on-exec; the read end (first) is also non-blocking. The write
// end stays blocking: it becomes the child's stdout or stderr.
std::pair<ipc::FileDescriptor, ipc::FileDescriptor> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_error(errno, "dcp run: pipe2");
  ipc::FileDescriptor read_end(fds[0]);
  ipc::FileDescriptor write_end(fds[1]);
  const int flags = ::fcntl(read_end.get(), F_GETFL);
  if (flags < 0 || ::fcntl(read_end.get(), F_SETFL, flags | O_NONBLOCK) != 0) throw_error(errno, "dcp run: fcntl(O_NONBLOCK)");
  return {std::move(read_end), std::move(write_end)};
}

// What the child tells the parent through the close-on-exec report pipe before it executes its
// program: nothing (the pipe just closes) when all went well.
struct ChildReport {
  enum Stage : int { cgroup = 1, chdir, stdin_null, descriptors, exec } stage;
  int error;
};

void report(int fd, ChildReport::Stage stage, int error) noexcept {
  const ChildReport message{stage, error};
  (void)!::write(fd, &message, sizeof(message));  // a pipe write this small is atomic
}

// A descriptor numbered `lowest` or more for `fd` (the numbers below are about to be replaced:
// 0-2, and the inherited descriptor's number). Async-signal-safe.
int lifted(int fd, int lowest) noexcept { return fd >= lowest ? fd : ::fcntl(fd, F_DUPFD_CLOEXEC, lowest); }

// The child, between fork and execve: async-signal-safe calls only (the parent may have threads).
[[noreturn]] void run_child(const SpawnRequest& request, const char* executable, const char* directory, char** argv,
                            char** envp, int stdout_write, int stderr_write, int report_fd) noexcept {
  // Out of the way of 0-2 and of the inherited descriptor's number.
  const int lowest = request.inherit_fd ? std::max(STDERR_FILENO, request.inherit_fd->number) + 1 : STDERR_FILENO + 1;
  report_fd = lifted(report_fd, lowest);
  const int inherit_from = request.inherit_fd ? lifted(request.inherit_fd->fd, lowest) : -1;
  if (request.cgroup_procs >= 0 && ::write(request.cgroup_procs, "0", 1) != 1) {
    report(report_fd, ChildReport::cgroup, errno);  // not fatal: it runs without its cgroup
  }
  if (request.own_process_group) ::setpgid(0, 0);
  struct sigaction default_action{};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  for (int signal = 1; signal < NSIG; ++signal) ::sigaction(signal, &default_action, nullptr);
  sigset_t empty;
  sigemptyset(&empty);
  ::sigprocmask(SIG_SETMASK, &empty, nullptr);

  if (::chdir(directory) != 0) {
    report(report_fd, ChildReport::chdir, errno);
    ::_exit(127);
  }
  const int out = lifted(stdout_write, lowest);
  const int err = lifted(stderr_write, lowest);
  const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null < 0 || ::dup2(null, STDIN_FILENO) < 0) {
    report(report_fd, ChildReport::stdin_null, errno);
    ::_exit(127);
  }
  if (out < 0 || err < 0 || ::dup2(out, STDOUT_FILENO) < 0 || ::dup2(err, STDERR_FILENO) < 0) {
    report(report_fd, ChildReport::descriptors, errno);
    ::_exit(127);
  }
  if (request.inherit_fd) {
    // From a number above it (lifted), so dup2 always makes a new descriptor: without close-on-exec.
    if (inherit_from < 0 || ::dup2(inherit_from, request.inherit_fd->number) < 0) {
      report(report_fd, ChildReport::descriptors, errno);
      ::_exit(127);
    }
  }
  // Last: until exec the child holds the runner's descriptors, maybe more than the lower limit
  // allows to open (the close-on-exec ones go with the exec; lowering never fails).
  if (request.nofile_limit) (void)::setrlimit(RLIMIT_NOFILE, &*request.nofile_limit);
  ::execve(executable, argv, envp);
  report(report_fd, ChildReport::exec, errno);
  ::_exit(127);
}

}  // namespace

SpawnedProcess spawn_process(const SpawnRequest& request) {
  if (request.inherit_fd && (request.inherit_fd->fd < 0 || request.inherit_fd->number <= STDERR_FILENO)) {
    throw_error(EINVAL, "dcp run: inherit_fd");
  }
  auto [stdout_read, stdout_write] = make_pipe();
  auto [stderr_read, stderr_write] = make_pipe();
  int report_fds[2];
  if (::pipe2(report_fds, O_CLOEXEC) != 0) throw_error(errno, "dcp run: pipe2");
  ipc::FileDescriptor report_read(report_fds[0]);
  ipc::FileDescriptor report_write(report_fds[1]);

  // Everything the child needs is made before fork: it must not allocate.
  std::vector<char*> argv;
  argv.reserve(request.arguments.size() + 1);
  for (const std::string& argument : request.arguments) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  envp.reserve(request.environment.size() + 1);
  for (const std::string& variable : request.environment) envp.push_back(const_cast<char*>(variable.c_str()));
  envp.push_back(nullptr);
  const std::string executable = request.executable.string();
  const std::string directory = request.working_directory.string();

  const pid_t pid = ::fork();
  if (pid < 0) throw_error(errno, "dcp run: fork");
  if (pid == 0) {
    run_child(request, executable.c_str(), directory.c_str(), argv.data(), envp.data(), stdout_write.get(),
              stderr_write.get(), report_write.get());
  }
  report_write.reset();  // the parent's copy: the pipe reads end-of-file once the child has exec'd
  stdout_write.reset();  // only the child holds the write ends now
  stderr_write.reset();

  SpawnedProcess process;
  process.pid = pid;
  for (;;) {
    ChildReport message{};
    const ssize_t got = ::read(report_read.get(), &message, sizeof(message));
    if (got < 0 && errno == EINTR) continue;
    if (got != static_cast<ssize_t>(sizeof(message))) break;  // end of file: it executes its program
    if (message.stage == ChildReport::cgroup) {
      process.cgroup_error = std::strerror(message.error);
      continue;
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    switch (message.stage) {
      case ChildReport::chdir: throw_error(message.error, "cannot change to the directory " + directory);
      case ChildReport::stdin_null: throw_error(message.error, "cannot open /dev/null for " + executable);
      case ChildReport::descriptors: throw_error(message.error, "cannot set up stdout and stderr for " + executable);
      default: throw_error(message.error, "cannot execute " + executable);
    }
  }
  process.stdout_pipe = std::move(stdout_read);
  process.stderr_pipe = std::move(stderr_read);
  return process;
}

std::vector<std::string> merged_environment(const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::vector<std::string> result;
  auto overridden = [&](std::string_view variable) {
    const std::size_t equals = variable.find('=');
    const std::string_view key = variable.substr(0, equals);
    for (const auto& [name, value] : overrides) {
      if (name == key) return true;
    }
    return false;
  };
  for (char** variable = environ; variable != nullptr && *variable != nullptr; ++variable) {
    if (!overridden(*variable)) result.emplace_back(*variable);
  }
  for (const auto& [name, value] : overrides) {
    bool seen = false;
    for (std::string& existing : result) {
      if (existing.compare(0, name.size() + 1, name + "=") == 0) {
        existing = name + "=" + value;  // a later override of the same key wins
        seen = true;
      }
    }
    if (!seen) result.push_back(name + "=" + value);
  }
  return result;
}

std::string signal_name(int signal) {
  if (const char* abbreviation = ::sigabbrev_np(signal); abbreviation != nullptr) {
    return std::string("SIG") + abbreviation;
  }
  return "signal " + std::to_string(signal);
}

}  // namespace dcp::runner
