#include "runner/command_line.hpp"

#include <array>

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
