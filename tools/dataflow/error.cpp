#include "dataflow/error.hpp"

#include <fmt/format.h>

#include <utility>
#include <vector>

namespace dcp::dataflow {

std::string format_diagnostic(const std::string& file, SourceLocation location,
                              const std::string& field, const std::string& reason) {
  std::string out = file;
  if (location.known()) {
    out += fmt::format("{}{}:{}", out.empty() ? "" : ":", location.line, location.column);
  }
  if (!out.empty()) out += ": ";
  if (!field.empty()) {
    out += field;
    out += ": ";
  }
  out += reason;
  return out;
}

namespace {


std::vector<std::string> format_all(const std::string& file,
                                    const std::vector<Diagnostic>& diagnostics,
                                    std::size_t omitted) {
  std::vector<std::string> lines;
  lines.reserve(diagnostics.size() + 1);
  for (const Diagnostic& d : diagnostics) {
    lines.push_back(format_diagnostic(file, d.location, d.field, d.reason));
  }
  if (omitted > 0) {
    lines.push_back(format_diagnostic(
        file, {}, "",
        fmt::format("... and {} more error{} (only the first {} are shown)", omitted,
                    omitted == 1 ? "" : "s", kMaxReportedDiagnostics)));
  }
  return lines;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) {
    if (!out.empty()) out += '\n';
    out += line;
  }
  return out;
}

}  // namespace

DataflowError::Reported DataflowError::at_most_reported(std::vector<Diagnostic> diagnostics, std::size_t omitted) {
  if (diagnostics.empty()) diagnostics.push_back(Diagnostic{{}, "", "invalid dataflow"});
  if (diagnostics.size() > kMaxReportedDiagnostics) {
    omitted += diagnostics.size() - kMaxReportedDiagnostics;
    diagnostics.resize(kMaxReportedDiagnostics);
  }
  return {std::move(diagnostics), omitted};
}

DataflowError::DataflowError(std::string file, SourceLocation location, std::string field,
                             std::string reason)
    : DataflowError(std::move(file), std::vector<Diagnostic>{Diagnostic{
                                         location, std::move(field), std::move(reason)}}) {}

DataflowError::DataflowError(std::string file, std::vector<Diagnostic> diagnostics,
                             std::size_t omitted)
    : DataflowError(std::move(file), at_most_reported(std::move(diagnostics), omitted)) {}

DataflowError::DataflowError(std::string file, Reported reported)
    : std::runtime_error(join_lines(format_all(file, reported.diagnostics, reported.omitted))),
      file_(std::move(file)),
      diagnostics_(std::move(reported.diagnostics)),
      omitted_(reported.omitted) {}

std::vector<std::string> DataflowError::messages() const {
  return format_all(file_, diagnostics_, omitted_);
}

}  // namespace dcp::dataflow
