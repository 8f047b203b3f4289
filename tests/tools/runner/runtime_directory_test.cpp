// Tests of the runner's private runtime directory (src/runner/runtime_directory.hpp).
#include "runner/runtime_directory.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using dcp::runner::RuntimeDirectory;

// Sets XDG_RUNTIME_DIR for the scope of the object, then restores it.
class ScopedXdg {
 public:
  explicit ScopedXdg(const std::optional<std::string>& value) {
    if (const char* old = std::getenv("XDG_RUNTIME_DIR")) old_ = old;
    if (value) {
      ::setenv("XDG_RUNTIME_DIR", value->c_str(), 1);
    } else {
      ::unsetenv("XDG_RUNTIME_DIR");
    }
  }
  ~ScopedXdg() {
    if (old_) {
      ::setenv("XDG_RUNTIME_DIR", old_->c_str(), 1);
    } else {
      ::unsetenv("XDG_RUNTIME_DIR");
    }
  }

 private:
  std::optional<std::string> old_;
};


TEST(RuntimeDirectory, UsableXdgRuntimeDir_HoldsAPrivateDirectoryRemovedWithItsContents) {
  const dcp::test::TempDir temp("dcp_runtime_dir_test");
  const fs::path xdg = temp.path();
  fs::path made;
  {
    ScopedXdg scoped(xdg.string());
    const RuntimeDirectory dir = RuntimeDirectory::create();
    made = dir.path();
    EXPECT_EQ(made.parent_path(), xdg);
    EXPECT_EQ(made.filename().string().rfind("dcp-run-", 0), 0u) << made;
    struct stat status{};
    ASSERT_EQ(::stat(made.c_str(), &status), 0);
    EXPECT_EQ(status.st_mode & 0777, 0700u);
    EXPECT_EQ(dir.socket_path(), made / "runner.sock");
    std::ofstream(made / "leftover") << "x";
  }
  EXPECT_FALSE(fs::exists(made));
  EXPECT_TRUE(fs::is_empty(xdg));
}

TEST(RuntimeDirectory, UnsetMissingOrRelativeXdgRuntimeDir_FallsBackToTmp) {
  for (const std::optional<std::string>& value :
       {std::optional<std::string>(), std::optional<std::string>("/nonexistent/dcp"), std::optional<std::string>("relative")}) {
    ScopedXdg scoped(value);
    RuntimeDirectory dir = RuntimeDirectory::create();
    EXPECT_EQ(dir.path().parent_path(), fs::path("/tmp")) << dir.path();
    const fs::path made = dir.path();
    dir.remove();
    EXPECT_FALSE(fs::exists(made));
  }
}

TEST(RuntimeDirectory, XdgPathTooLongForASocketAddress_FallsBackToTmp) {
  const dcp::test::TempDir temp("dcp_runtime_dir_test_long");
  const fs::path xdg = temp.path() / std::string(100, 'd');
  fs::create_directories(xdg);
  ScopedXdg scoped(xdg.string());
  const RuntimeDirectory dir = RuntimeDirectory::create();
  EXPECT_EQ(dir.path().parent_path(), fs::path("/tmp"));
}

}  // namespace
