// dataflow/error.hpp — the one exception type of the dataflow loader.
//
// What it is for: telling the author of a dataflow YAML file exactly what is wrong and where, in
// the shape compilers use, so editors and terminals can jump to it:
//
//   robot.yml:12:15: nodes[2].inputs.estop: unknown node 'safty' (known nodes: sensors, safety)
//   ^file     ^line ^column ^field path         ^reason
//
// Lines and columns are 1-based. Parts that are unknown are left out: an unreadable file gives
// "robot.yml: cannot read the file: No such file or directory", a YAML syntax error has no field
// path ("robot.yml:3:7: YAML syntax error: end of sequence flow not found").
//
// Thread safety: an immutable value; copy and read it from any thread.
#pragma once

#include <stdexcept>
#include <string>

namespace dcp::dataflow {

/// A position in a dataflow file. 1-based; line 0 means "no position" (e.g. the file is missing).
struct SourceLocation {
  int line = 0;
  int column = 0;

  [[nodiscard]] bool known() const noexcept { return line > 0; }
  friend bool operator==(const SourceLocation&, const SourceLocation&) = default;
};

/// "file:line:column: field: reason", leaving out the parts that are empty or unknown.
[[nodiscard]] std::string format_diagnostic(const std::string& file, SourceLocation location,
                                            const std::string& field, const std::string& reason);

/// Thrown by the loader for every problem with a dataflow: unreadable or oversized file, YAML
/// syntax error, invalid or unsupported content, missing executable. what() is
/// format_diagnostic(...).
class DataflowError : public std::runtime_error {
 public:
  DataflowError(std::string file, SourceLocation location, std::string field, std::string reason);

  /// The file's display name, as given to the loader (the path the user typed, for files).
  [[nodiscard]] const std::string& file() const noexcept { return file_; }
  [[nodiscard]] SourceLocation location() const noexcept { return location_; }
  /// Where in the document, e.g. "nodes[2].inputs.estop"; empty for file-level and syntax errors.
  [[nodiscard]] const std::string& field() const noexcept { return field_; }
  /// What is wrong, without the position, e.g. "unknown node 'safty' (known nodes: ...)".
  [[nodiscard]] const std::string& reason() const noexcept { return reason_; }

 private:
  std::string file_;
  SourceLocation location_;
  std::string field_;
  std::string reason_;
};

}  // namespace dcp::dataflow
