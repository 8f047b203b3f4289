// tests/support/temp_dir.hpp — dcp::test::TempDir, a fresh private directory under the system's
// temporary directory for one test (or one helper object), removed with everything in it when the
// TempDir is destroyed.
//
//   const dcp::test::TempDir dir("dcp_cli_test");   // e.g. /tmp/dcp_cli_test-Ab12Cd
//   std::ofstream(dir.path() / "dataflow.yml") << text;
//
// The name is made by mkdtemp(3): unique even across test processes running at once, mode 0700.
// Creation failing throws std::system_error; removal failing is ignored (a leftover in /tmp must not
// turn into a second failure). Thread safety: path() may be called from any thread; the directory's
// contents are the test's business. Blocking: the file-system calls only.
#pragma once

#include <stdlib.h>  // mkdtemp (POSIX)

#include <cerrno>
#include <filesystem>
#include <string>
#include <system_error>

namespace dcp::test {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "dcp-test") {
    std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
    }
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace dcp::test
