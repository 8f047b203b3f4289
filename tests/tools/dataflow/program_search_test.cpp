// Tests of dataflow/program_search.hpp: where a node's `path` or a build line's program is, looked
// up as execvp looks.
#include "dataflow/program_search.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using dcp::dataflow::find_in_search_path;
using dcp::dataflow::find_program;

TEST(FindProgram, BareName_IsSearchedInThePathInOrder_SkippingNonExecutables) {
  const dcp::test::TempDir dir("dcp_find_program");
  fs::create_directories(dir.path() / "first");
  fs::create_directories(dir.path() / "second");
  std::ofstream(dir.path() / "first" / "tool") << "not executable\n";
  std::ofstream(dir.path() / "second" / "tool") << "#!/bin/sh\n";
  fs::permissions(dir.path() / "second" / "tool", fs::perms::owner_all);
  std::string search = ":";  // empty entries are skipped
  search.append((dir.path() / "first").string()).append("::").append((dir.path() / "second").string());
  EXPECT_EQ(find_program("tool", "/", search), dir.path() / "second" / "tool");
  EXPECT_EQ(find_program("missing", "/", search), std::nullopt);
  EXPECT_EQ(find_program("tool", dir.path() / "second", ""), std::nullopt);  // not the working directory
}

TEST(FindProgram, NameWithASlash_IsAPathFromTheWorkingDirectory) {
  const dcp::test::TempDir dir("dcp_find_program");
  fs::create_directories(dir.path() / "bin");
  std::ofstream(dir.path() / "bin" / "gen") << "#!/bin/sh\n";
  fs::permissions(dir.path() / "bin" / "gen", fs::perms::owner_all);
  EXPECT_EQ(find_program("bin/gen", dir.path(), "/usr/bin"), dir.path() / "bin" / "gen");
  EXPECT_EQ(find_program((dir.path() / "bin" / "gen").string(), "/", ""), dir.path() / "bin" / "gen");
  EXPECT_EQ(find_program("bin", dir.path(), ""), std::nullopt);  // a folder is no program
  EXPECT_EQ(find_program("", dir.path(), "/usr/bin"), std::nullopt);
}

TEST(FindInSearchPath, NameWithASlashOrEmpty_IsNeverSearched) {
  EXPECT_EQ(find_in_search_path("bin/sh", "/"), std::nullopt);
  EXPECT_EQ(find_in_search_path("", "/bin:/usr/bin"), std::nullopt);
  EXPECT_EQ(find_in_search_path("sh", "/bin:/usr/bin"), fs::path("/bin/sh"));
}

}  // namespace
