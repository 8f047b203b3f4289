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
// One DataflowError carries every problem the loader found in a file (see loader.hpp for which
// problems are independent), sorted by position, at most kMaxReportedDiagnostics of them; what()
// is one line per problem, plus "robot.yml: ... and N more errors" when some were left out.
//
// Thread safety: an immutable value; copy and read it from any thread.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace dcp::dataflow {

/// A position in a dataflow file. 1-based; line 0 means "no position" (e.g. the file is missing).
struct SourceLocation {
  int line = 0;
  int column = 0;

  [[nodiscard]] bool known() const noexcept { return line > 0; }
  friend bool operator==(const SourceLocation&, const SourceLocation&) = default;
};

/// At most this many problems are kept in one DataflowError (the first ones by position); the
/// rest are only counted (DataflowError::omitted()). A broken generated file can hold thousands.
inline constexpr std::size_t kMaxReportedDiagnostics = 100;

/// "file:line:column: field: reason", leaving out the parts that are empty or unknown.
[[nodiscard]] std::string format_diagnostic(const std::string& file, SourceLocation location,
                                            const std::string& field, const std::string& reason);

/// One problem in a dataflow file.
struct Diagnostic {
  SourceLocation location;
  /// Where in the document, e.g. "nodes[2].inputs.estop"; empty for file-level and syntax errors.
  std::string field;
  /// What is wrong, without the position, e.g. "unknown node 'safty' (known nodes: ...)".
  std::string reason;

  friend bool operator==(const Diagnostic&, const Diagnostic&) = default;
};

/// Thrown by the loader for every problem with a dataflow: unreadable or oversized file, YAML
/// syntax error, invalid or unsupported content, missing executable. It holds all the problems the
/// loader found (at least one); file(), location(), field() and reason() describe the first.
class DataflowError : public std::runtime_error {
 public:
  /// One problem; what() is format_diagnostic(file, location, field, reason).
  DataflowError(std::string file, SourceLocation location, std::string field, std::string reason);
  /// Several problems (at least one; at most kMaxReportedDiagnostics are kept, the rest are added
  /// to `omitted`), shown in the given order. what() is messages() joined by newlines.
  DataflowError(std::string file, std::vector<Diagnostic> diagnostics, std::size_t omitted = 0);

  /// The file's display name, as given to the loader (the path the user typed, for files).
  [[nodiscard]] const std::string& file() const noexcept { return file_; }
  [[nodiscard]] SourceLocation location() const noexcept { return diagnostics_.front().location; }
  /// Where in the document, e.g. "nodes[2].inputs.estop"; empty for file-level and syntax errors.
  [[nodiscard]] const std::string& field() const noexcept { return diagnostics_.front().field; }
  /// What is wrong, without the position, e.g. "unknown node 'safty' (known nodes: ...)".
  [[nodiscard]] const std::string& reason() const noexcept { return diagnostics_.front().reason; }

  /// Every reported problem, in order (by position, for the loader's). Never empty.
  [[nodiscard]] const std::vector<Diagnostic>& diagnostics() const noexcept {
    return diagnostics_;
  }
  /// How many further problems were found but not kept (beyond kMaxReportedDiagnostics).
  [[nodiscard]] std::size_t omitted() const noexcept { return omitted_; }
  /// One line per diagnostic ("file:line:column: field: reason"), then, if omitted() > 0,
  /// "file: ... and N more errors (only the first kMaxReportedDiagnostics are shown)".
  [[nodiscard]] std::vector<std::string> messages() const;

 private:
  /// The kept problems and the count of the others, computed before either is used.
  struct Reported {
    std::vector<Diagnostic> diagnostics;
    std::size_t omitted = 0;
  };
  DataflowError(std::string file, Reported reported);
  static Reported at_most_reported(std::vector<Diagnostic> diagnostics, std::size_t omitted);

  std::string file_;
  std::vector<Diagnostic> diagnostics_;
  std::size_t omitted_ = 0;
};

}  // namespace dcp::dataflow
