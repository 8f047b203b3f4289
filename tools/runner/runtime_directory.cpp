// The runner's private runtime directory (see runtime_directory.hpp).
#include "runner/runtime_directory.hpp"

#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace dcp::runner {
namespace {

// The longest directory path that still leaves room for "/runner.sock" in a sockaddr_un.
constexpr std::size_t kMaxDirectoryLength = sizeof(sockaddr_un{}.sun_path) - 1 - std::char_traits<char>::length("/runner.sock");

// mkdtemp in `parent`; an empty path when that is impossible. `error` gets errno on failure.
std::filesystem::path make_in(const std::string& parent, int& error) {
  std::string pattern = parent;
  if (!pattern.empty() && pattern.back() != '/') pattern += '/';
  pattern += "dcp-run-XXXXXX";
  if (pattern.size() > kMaxDirectoryLength) {
    error = ENAMETOOLONG;
    return {};
  }
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (::mkdtemp(buffer.data()) == nullptr) {
    error = errno;
    return {};
  }
  // mkdtemp creates the directory with mode 0700 already; say so explicitly all the same.
  if (::chmod(buffer.data(), S_IRWXU) != 0) {
    error = errno;
    ::rmdir(buffer.data());
    return {};
  }
  return std::filesystem::path(buffer.data());
}

}  // namespace

RuntimeDirectory RuntimeDirectory::create() {
  int error = 0;
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg != nullptr && xdg[0] == '/') {
    struct stat status{};
    if (::stat(xdg, &status) == 0 && S_ISDIR(status.st_mode)) {
      std::filesystem::path made = make_in(xdg, error);
      if (!made.empty()) return RuntimeDirectory(std::move(made));
    }
  }
  std::filesystem::path made = make_in("/tmp", error);
  if (made.empty()) {
    throw std::system_error(error, std::generic_category(), "dcp run: cannot create a runtime directory in /tmp");
  }
  return RuntimeDirectory(std::move(made));
}

RuntimeDirectory::RuntimeDirectory(RuntimeDirectory&& other) noexcept : path_(std::exchange(other.path_, {})) {}

RuntimeDirectory& RuntimeDirectory::operator=(RuntimeDirectory&& other) noexcept {
  if (this != &other) {
    remove();
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

RuntimeDirectory::~RuntimeDirectory() { remove(); }

void RuntimeDirectory::remove() noexcept {
  if (path_.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
  path_.clear();
}

}  // namespace dcp::runner
