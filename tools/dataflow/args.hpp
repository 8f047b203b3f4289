// dataflow/args.hpp — splits a node's `args` string into argv words, the way a POSIX shell
// would.
//
// What it is for: Dora's `args` is one string; the runner needs the argument vector to exec the
// node.
//
//   split_args(R"(--rate 100 --name "front camera" --filter 'a b' x\ y)")
//     == {"--rate", "100", "--name", "front camera", "--filter", "a b", "x y"}
//
// Rules (the quoting subset of sh, nothing else):
//   - unquoted spaces, tabs, carriage returns and newlines separate words;
//   - '...' keeps everything literally up to the next single quote;
//   - "..." keeps everything literally except \" \\ \$ \` (the backslash goes) and
//   backslash-newline
//     (both go);
//   - outside quotes a backslash keeps the next character literally (backslash-newline: both go);
//   - adjacent pieces join into one word ("a"'b'c is abc); "" and '' make an empty word.
//   - No variable expansion, globbing, command substitution, pipes or redirection: `$HOME`, `*`,
//     `|` and `>` are ordinary characters.
// An unterminated quote or a trailing lone backslash throws std::invalid_argument (the loader
// turns that into a DataflowError at the `args` field).
//
// Thread safety: a pure function. Blocking: none.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dcp::dataflow {

[[nodiscard]] std::vector<std::string> split_args(std::string_view args);

}  // namespace dcp::dataflow
