// tests/support/file_contents.hpp — dcp::test::read_file: a whole file's bytes as a string, for
// tests that check what a process wrote (captured stdout/stderr, generated files).
//
// A file that does not exist or cannot be read reads as "" (the caller's assertion on the contents
// then fails with what it expected). Thread safety: none needed (no shared state). Blocking: the read.
#pragma once

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace dcp::test {

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace dcp::test
