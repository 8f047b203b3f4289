#include "dataflow/program_search.hpp"

#include <unistd.h>

#include <system_error>

namespace dcp::dataflow {
namespace {

bool runnable(const std::filesystem::path& candidate) {
  std::error_code error;
  return std::filesystem::is_regular_file(candidate, error) && ::access(candidate.c_str(), X_OK) == 0;
}

}  // namespace

std::optional<std::filesystem::path> find_in_search_path(std::string_view name,
                                                         std::string_view search_path) {
  if (name.empty() || name.find('/') != std::string_view::npos) return std::nullopt;
  std::size_t start = 0;
  while (start <= search_path.size()) {
    std::size_t end = search_path.find(':', start);
    if (end == std::string_view::npos) end = search_path.size();
    const std::string_view folder = search_path.substr(start, end - start);
    if (!folder.empty()) {
      std::filesystem::path candidate = std::filesystem::path(folder) / name;
      if (runnable(candidate)) return candidate;
    }
    start = end + 1;
  }
  return std::nullopt;
}

std::optional<std::filesystem::path> find_program(const std::string& program,
                                                  const std::filesystem::path& working_directory,
                                                  std::string_view search_path) {
  if (program.find('/') == std::string::npos) return find_in_search_path(program, search_path);
  std::filesystem::path candidate = working_directory / program;  // an absolute program stays as it is
  if (runnable(candidate)) return candidate;
  return std::nullopt;
}

}  // namespace dcp::dataflow
