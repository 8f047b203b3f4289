// Reading /proc for the runner (see process_table.hpp).
#include "runner/process_table.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string_view>

namespace dcp::runner {
namespace {

std::string read_small_file(const std::string& path) {
  std::string text;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return text;
  char buffer[1024];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof(buffer));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    text.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(fd);
  return text;
}

}  // namespace

std::optional<ProcessInfo> read_process(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  return parse_process_stat(pid, read_small_file("/proc/" + std::to_string(pid) + "/stat"));
}

std::optional<ProcessInfo> parse_process_stat(pid_t pid, std::string_view text) {
  // "pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime
  //  stime cutime cstime priority nice num_threads itrealvalue starttime ...": comm may hold
  // spaces and parentheses, so it ends at the last ')'.
  const std::size_t open = text.find('(');
  const std::size_t close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open || close + 2 >= text.size()) {
    return std::nullopt;
  }
  ProcessInfo info;
  info.pid = pid;
  info.name = std::string(text.substr(open + 1, close - open - 1));
  // The text after the state is copied so strtoll stops at its end (a string_view need not be
  // terminated).
  const std::string rest(text.substr(close + 2));
  const char* cursor = rest.c_str();
  info.state = *cursor;
  ++cursor;
  // Fields after the state: ppid (4), pgrp (5), session (6), ..., starttime (22).
  std::uint64_t fields[19] = {};
  for (std::uint64_t& field : fields) {
    char* end = nullptr;
    field = static_cast<std::uint64_t>(std::strtoll(cursor, &end, 10));
    if (end == cursor) return std::nullopt;
    cursor = end;
  }
  info.parent = static_cast<pid_t>(fields[0]);
  info.process_group = static_cast<pid_t>(fields[1]);
  info.session = static_cast<pid_t>(fields[2]);
  info.start_time = fields[18];
  return info;
}

std::vector<ProcessInfo> list_processes() {
  std::vector<ProcessInfo> processes;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return processes;
  while (const dirent* entry = ::readdir(proc)) {
    const std::string_view name = entry->d_name;
    if (name.empty() || name.find_first_not_of("0123456789") != std::string_view::npos) continue;
    if (auto info = read_process(static_cast<pid_t>(std::strtol(entry->d_name, nullptr, 10)))) {
      processes.push_back(std::move(*info));
    }
  }
  ::closedir(proc);
  return processes;
}

bool still_running(const ProcessInfo& known) {
  const std::optional<ProcessInfo> now = read_process(known.pid);
  return now && now->start_time == known.start_time && now->running();
}

}  // namespace dcp::runner
