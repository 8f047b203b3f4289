// tools/dataflow/program_search.hpp — where a program named by a dataflow file is, looked up the
// way execvp looks: the one lookup shared by the loader (a node's `path`) and the runner (the
// first word of a `build` line).
//
// Rule: a name with a `/` is a path, relative to a given folder (an absolute one stays as it is);
// a bare name is searched in the folders of a `PATH` value (`:`-separated, empty entries skipped).
// A match is a regular file the caller may execute (access X_OK); a folder is no program.
//
// Thread safety: pure functions apart from reading the file system.
// Blocking: never (a few stat/access calls).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace dcp::dataflow {

/// The executable file a bare `name` (no `/`) names: the first folder of `search_path` that holds
/// an executable regular file of that name. nullopt for a name with a `/`, an empty name, or no match.
[[nodiscard]] std::optional<std::filesystem::path> find_in_search_path(
    std::string_view name, std::string_view search_path);

/// The executable file `program` names: `working_directory / program` when it has a `/`, else
/// find_in_search_path(program, search_path). nullopt when there is none.
[[nodiscard]] std::optional<std::filesystem::path> find_program(
    const std::string& program, const std::filesystem::path& working_directory,
    std::string_view search_path);

}  // namespace dcp::dataflow
