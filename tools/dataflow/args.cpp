#include "dataflow/args.hpp"

#include <algorithm>
#include <stdexcept>

namespace dcp::dataflow {

std::vector<std::string> split_args(std::string_view args) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;  // a word has started (it may still be empty: "" or '')

  std::size_t i = 0;
  const std::size_t n = args.size();
  while (i < n) {
    const char c = args[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (in_word) {
        words.push_back(std::move(word));
        word.clear();
        in_word = false;
      }
      ++i;
    } else if (c == '\'') {
      const std::size_t close = args.find('\'', i + 1);
      if (close == std::string_view::npos) {
        throw std::invalid_argument("unterminated single quote in args");
      }
      word.append(args.substr(i + 1, close - i - 1));
      in_word = true;
      i = close + 1;
    } else if (c == '"') {
      in_word = true;
      ++i;
      bool closed = false;
      while (i < n) {
        const char d = args[i];
        if (d == '"') {
          closed = true;
          ++i;
          break;
        }
        if (d == '\\' && i + 1 < n) {
          const char next = args[i + 1];
          if (next == '"' || next == '\\' || next == '$' || next == '`') {
            word += next;
            i += 2;
            continue;
          }
          if (next == '\n') {
            i += 2;
            continue;
          }
        }
        if (d == '\\') {
          word += d;
          ++i;
          continue;
        }
        // A run of ordinary characters up to the next quote or backslash, in one append.
        const std::size_t end = std::min(args.find_first_of("\"\\", i), n);
        word.append(args.substr(i, end - i));
        i = end;
      }
      if (!closed) throw std::invalid_argument("unterminated double quote in args");
    } else if (c == '\\') {
      if (i + 1 >= n) throw std::invalid_argument("args ends with a lone backslash");
      const char next = args[i + 1];
      if (next != '\n') {
        word += next;
        in_word = true;
      }
      i += 2;
    } else {
      // A run of ordinary characters up to the next separator, quote or backslash, in one append.
      const std::size_t end = std::min(args.find_first_of(" \t\n\r'\"\\", i), n);
      word.append(args.substr(i, end - i));
      in_word = true;
      i = end;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

}  // namespace dcp::dataflow
