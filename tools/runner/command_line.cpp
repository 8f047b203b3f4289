#include "runner/command_line.hpp"

#include <unistd.h>

#include <array>
#include <system_error>

namespace dcp::runner {
namespace {

bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

}  // namespace

std::vector<std::string> split_command_line(std::string_view line) {
  std::vector<std::string> words;
  std::size_t at = 0;
  while (true) {
    while (at < line.size() && is_space(line[at])) ++at;
    if (at == line.size()) return words;
    if (line[at] == '"') {
      // The quoted word ends at the first later `"` that is followed by whitespace or the end;
      // without one it is the rest of the line, as it is.
      std::size_t close = at + 1;
      while (close < line.size() &&
             !(line[close] == '"' && (close + 1 == line.size() || is_space(line[close + 1])))) {
        ++close;
      }
      if (close == line.size()) {
        words.emplace_back(line.substr(at));
        return words;
      }
      words.emplace_back(line.substr(at + 1, close - at - 1));
      at = close + 1;
      continue;
    }
    const std::size_t start = at;
    while (at < line.size() && !is_space(line[at])) ++at;
    words.emplace_back(line.substr(start, at - start));
  }
}

std::optional<std::filesystem::path> find_program(const std::string& program,
                                                  const std::filesystem::path& working_directory,
                                                  std::string_view search_path) {
  const auto runnable = [](const std::filesystem::path& candidate) {
    std::error_code error;
    return std::filesystem::is_regular_file(candidate, error) && ::access(candidate.c_str(), X_OK) == 0;
  };
  if (program.empty()) return std::nullopt;
  if (program.find('/') != std::string::npos) {
    std::filesystem::path candidate = working_directory / program;  // an absolute program stays as it is
    if (runnable(candidate)) return candidate;
    return std::nullopt;
  }
  std::size_t start = 0;
  while (start <= search_path.size()) {
    std::size_t end = search_path.find(':', start);
    if (end == std::string_view::npos) end = search_path.size();
    const std::string_view folder = search_path.substr(start, end - start);
    if (!folder.empty()) {
      std::filesystem::path candidate = std::filesystem::path(folder) / program;
      if (runnable(candidate)) return candidate;
    }
    start = end + 1;
  }
  return std::nullopt;
}

std::vector<std::string> shell_syntax_in(const std::vector<std::string>& words) {
  static constexpr std::array<std::string_view, 11> operators{"&&", "||", "|", ";", ">", ">>", "<",
                                                              "2>", "2>&1", ">&2", "&"};
  std::vector<std::string> found;
  for (const std::string& word : words) {
    bool shell = !word.empty() && (word.front() == '$' || word.front() == '~');
    for (const std::string_view op : operators) shell = shell || word == op;
    if (shell) found.push_back(word);
  }
  return found;
}

}  // namespace dcp::runner
