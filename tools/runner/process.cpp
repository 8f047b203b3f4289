// Starting node processes (see process.hpp).
#include "runner/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

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

// RAII for the posix_spawn attribute objects.
struct SpawnSetup {
  posix_spawn_file_actions_t actions{};
  posix_spawnattr_t attributes{};
  SpawnSetup() {
    if (const int e = posix_spawn_file_actions_init(&actions); e != 0) throw_error(e, "dcp run: posix_spawn_file_actions_init");
    if (const int e = posix_spawnattr_init(&attributes); e != 0) {
      posix_spawn_file_actions_destroy(&actions);
      throw_error(e, "dcp run: posix_spawnattr_init");
    }
  }
  ~SpawnSetup() {
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

void check(int error, const char* what) {
  if (error != 0) throw_error(error, std::string("dcp run: ") + what);
}

}  // namespace

SpawnedProcess spawn_process(const SpawnRequest& request) {
  auto [stdout_read, stdout_write] = make_pipe();
  auto [stderr_read, stderr_write] = make_pipe();

  SpawnSetup setup;
  const std::string directory = request.working_directory.string();
  check(posix_spawn_file_actions_addchdir_np(&setup.actions, directory.c_str()), "posix_spawn_file_actions_addchdir_np");
  check(posix_spawn_file_actions_addopen(&setup.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0),
        "posix_spawn_file_actions_addopen");
  check(posix_spawn_file_actions_adddup2(&setup.actions, stdout_write.get(), STDOUT_FILENO), "posix_spawn_file_actions_adddup2");
  check(posix_spawn_file_actions_adddup2(&setup.actions, stderr_write.get(), STDERR_FILENO), "posix_spawn_file_actions_adddup2");
  if (request.inherit_fd) {
    // Last, so the pipes' descriptors (which may have that number in the runner) are dup'ed first;
    // dup2 onto the same number still clears close-on-exec (glibc >= 2.29, POSIX 2024).
    if (request.inherit_fd->fd < 0 || request.inherit_fd->number <= STDERR_FILENO) throw_error(EINVAL, "dcp run: inherit_fd");
    check(posix_spawn_file_actions_adddup2(&setup.actions, request.inherit_fd->fd, request.inherit_fd->number),
          "posix_spawn_file_actions_adddup2");
  }

  sigset_t empty;
  sigemptyset(&empty);
  sigset_t all;
  sigfillset(&all);
  check(posix_spawnattr_setsigmask(&setup.attributes, &empty), "posix_spawnattr_setsigmask");
  check(posix_spawnattr_setsigdefault(&setup.attributes, &all), "posix_spawnattr_setsigdefault");
  check(posix_spawnattr_setpgroup(&setup.attributes, 0), "posix_spawnattr_setpgroup");
  const short group = request.own_process_group ? POSIX_SPAWN_SETPGROUP : 0;
  check(posix_spawnattr_setflags(&setup.attributes,
                                 static_cast<short>(group | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)),
        "posix_spawnattr_setflags");

  std::vector<char*> argv;
  argv.reserve(request.arguments.size() + 1);
  for (const std::string& argument : request.arguments) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  envp.reserve(request.environment.size() + 1);
  for (const std::string& variable : request.environment) envp.push_back(const_cast<char*>(variable.c_str()));
  envp.push_back(nullptr);

  const std::string executable = request.executable.string();
  pid_t pid = -1;
  const int error = ::posix_spawn(&pid, executable.c_str(), &setup.actions, &setup.attributes, argv.data(), envp.data());
  if (error != 0) throw_error(error, "cannot execute " + executable);

  SpawnedProcess process;
  process.pid = pid;
  process.stdout_pipe = std::move(stdout_read);
  process.stderr_pipe = std::move(stderr_read);
  return process;  // the write ends close here: only the child holds them now
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
