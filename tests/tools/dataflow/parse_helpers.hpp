// tests/tools/dataflow/parse_helpers.hpp — short ways for the loader tests to parse YAML text.
//
//   parse(text)        the Dataflow (display name "test.yml", base folder /base, no executable
//                      check); a DataflowError fails the test by escaping it
//   parse_error(text)  the DataflowError it throws (a test failure if it throws none)
//   one_node(extra)    "nodes:\n  - id: a\n    path: bin/a\n" + extra (indented as node fields)
//
// Thread safety: pure functions. Blocking: none (no file is read).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "dataflow/loader.hpp"

namespace dcp::dataflow::test {

inline LoadOptions without_exec_check() {
  LoadOptions options;
  options.check_executables = false;
  return options;
}

inline DataflowError parse_error(std::string_view text) {
  try {
    static_cast<void>(parse_dataflow(text, "test.yml", "/base", without_exec_check()));
  } catch (const DataflowError& e) {
    return e;
  }
  ADD_FAILURE() << "parsed without an error:\n" << text;
  return DataflowError("", {}, "", "");
}

inline Dataflow parse(std::string_view text) {
  return parse_dataflow(text, "test.yml", "/base", without_exec_check());
}

inline std::string one_node(std::string_view extra) {
  return "nodes:\n  - id: a\n    path: bin/a\n" + std::string(extra);
}

}  // namespace dcp::dataflow::test
