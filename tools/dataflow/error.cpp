#include "dataflow/error.hpp"

#include <fmt/format.h>

#include <utility>

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

DataflowError::DataflowError(std::string file, SourceLocation location, std::string field,
                             std::string reason)
    : std::runtime_error(format_diagnostic(file, location, field, reason)),
      file_(std::move(file)),
      location_(location),
      field_(std::move(field)),
      reason_(std::move(reason)) {}

}  // namespace dcp::dataflow
