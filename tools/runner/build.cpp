#include "runner/build.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <optional>
#include <string_view>
#include <cerrno>
#include <system_error>
#include <utility>
#include <vector>

#include "dataflow/program_search.hpp"
#include "runner/command_line.hpp"
#include "runner/line_splitter.hpp"
#include "runner/process.hpp"

namespace dcp::runner {
namespace {

// The non-empty lines of `build`, without surrounding spaces.
std::vector<std::string> command_lines(const std::string& build) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start <= build.size()) {
    std::size_t end = build.find('\n', start);
    if (end == std::string::npos) end = build.size();
    std::string line = build.substr(start, end - start);
    const std::size_t first = line.find_first_not_of(" \t\r");
    if (first != std::string::npos) {
      const std::size_t last = line.find_last_not_of(" \t\r");
      lines.push_back(line.substr(first, last - first + 1));
    }
    start = end + 1;
  }
  return lines;
}

// Copies both pipes to the streams, prefixed, until both reach end of file.
void forward_output(SpawnedProcess& process, const std::string& node_id, std::ostream& out,
                    std::ostream& err) {
  std::array<LineSplitter, 2> splitters;
  std::array<pollfd, 2> fds{pollfd{process.stdout_pipe.get(), POLLIN, 0},
                            pollfd{process.stderr_pipe.get(), POLLIN, 0}};
  const std::array<std::string, 2> prefixes{"[" + node_id + "] ", "[" + node_id + "!] "};
  const std::array<std::ostream*, 2> streams{&out, &err};
  std::array<char, 16 * 1024> buffer{};
  int open = 2;
  while (open > 0) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "dcp build: poll");
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const auto emit = [&](std::string_view line) {
        *streams[i] << prefixes[i] << line << '\n';
        streams[i]->flush();
      };
      const ssize_t got = ::read(fds[i].fd, buffer.data(), buffer.size());
      if (got > 0) {
        splitters[i].feed(std::string_view(buffer.data(), static_cast<std::size_t>(got)), emit);
      } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
        splitters[i].finish(emit);
        fds[i].fd = -1;  // poll ignores negative descriptors
        --open;
      }
    }
  }
}

// The value of `name` in a "KEY=value" environment ("" when it is not set).
std::string_view variable(const std::vector<std::string>& environment, std::string_view name) {
  for (const std::string& entry : environment) {
    if (entry.size() > name.size() && entry.compare(0, name.size(), name) == 0 && entry[name.size()] == '=') {
      return std::string_view(entry).substr(name.size() + 1);
    }
  }
  return {};
}

// For a failed line that was written for a shell: what Dora (and dcp) made of it.
std::string shell_hint(const std::vector<std::string>& words) {
  const std::vector<std::string> syntax = shell_syntax_in(words);
  if (syntax.empty()) return {};
  std::string listed;
  for (const std::string& word : syntax) listed += (listed.empty() ? "`" : ", `") + word + "`";
  return fmt::format(" (build lines run without a shell, as in Dora: {} went to `{}` as "
                     "argument{}; write one command per line, or `sh -c \"...\"`)",
                     listed, words.front(), syntax.size() == 1 ? "" : "s");
}

// "exit code 2", "signal SIGSEGV".
std::string describe_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exit code {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "signal " + signal_name(WTERMSIG(status));
  return "unknown status";
}

}  // namespace

BuildResult run_builds(const dataflow::Dataflow& dataflow, std::ostream& out, std::ostream& err) {
  BuildResult result;
  for (const dataflow::Node& node : dataflow.nodes) {
    if (node.build.empty()) continue;
    const std::vector<std::pair<std::string, std::string>> variables(node.env.begin(),
                                                                     node.env.end());
    for (const std::string& line : command_lines(node.build)) {
      err << fmt::format("[dcp] building {}: {}\n", node.id, line);
      err.flush();
      ++result.commands_run;
      const std::vector<std::string> words = split_command_line(line);
      SpawnRequest request;
      request.environment = merged_environment(variables);
      request.working_directory = dataflow.base_dir;
      request.own_process_group = false;  // Ctrl-C in the terminal stops the build, as in Dora
      const std::string hint = shell_hint(words);
      const std::optional<std::filesystem::path> program =
          dcp::dataflow::find_program(words.front(), dataflow.base_dir, variable(request.environment, "PATH"));
      if (!program) {
        result.ok = false;
        result.failure = fmt::format(
            "node '{}': build command `{}` could not start: `{}` {}{}", node.id, line,
            words.front(),
            words.front().find('/') == std::string::npos ? "is not a program in $PATH"
                                                         : "is not an executable file",
            hint);
        return result;
      }
      request.executable = *program;
      request.arguments = words;
      SpawnedProcess process;
      try {
        process = spawn_process(request);
      } catch (const std::system_error& e) {
        result.ok = false;
        result.failure = fmt::format("node '{}': build command `{}` could not start: {}", node.id,
                                     line, e.what());
        return result;
      }
      forward_output(process, node.id, out, err);
      int status = 0;
      while (::waitpid(process.pid, &status, 0) < 0) {
        if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "waitpid");
      }
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        result.ok = false;
        result.failure = fmt::format("node '{}': build command `{}` failed: {}{}", node.id, line,
                                     describe_status(status), hint);
        return result;
      }
    }
  }
  return result;
}

}  // namespace dcp::runner
