// tools/runner/command_line.hpp — one line of a node's `build`, turned into a program and its
// arguments the way Dora turns it (no shell), and where that program is.
//
// What it is for: Dora runs each line of `build` as one command without a shell, so dcp must too
// — a line that only works through a shell (`&&`, `|`, `>`, `$VAR`, `~`, globs) would pass under
// `dcp run` and fail under `dora build`. The rule:
//   - the line is split at whitespace;
//   - a word that starts with `"` goes on to the next `"` that ends a word (followed by whitespace
//     or the end of the line), spaces included, and loses those two quotes: `cmake -D "A=x y"` is
//     `cmake`, `-D` and `A=x y`;
//   - every other character is taken as it is: `'`, `\`, `$`, a `"` inside a word, and a word that
//     opens a quote it never closes (that word then runs to the end of the line, unchanged);
//   - nothing is expanded.
// The program (the first word) is looked up with dcp::dataflow::find_program
// (tools/dataflow/program_search.hpp), relative to the build's working directory and in the `PATH`
// the command gets.
//
// Thread safety: pure functions.
// Blocking: never.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dcp::runner {

/// The words of `line` (see the header comment); empty for a blank line.
[[nodiscard]] std::vector<std::string> split_command_line(std::string_view line);

/// The shell operators among `words` (`&&`, `||`, `|`, `;`, `>`, `>>`, `<`, `2>&1`, `&`, and words
/// starting with `$` or `~`): what a line written for a shell gives Dora as plain arguments. Used for
/// the hint when such a line fails.
[[nodiscard]] std::vector<std::string> shell_syntax_in(const std::vector<std::string>& words);

}  // namespace dcp::runner
