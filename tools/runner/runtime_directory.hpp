// tools/runner/runtime_directory.hpp — the private directory holding the runner's socket.
//
// What it is for: `dcp run` listens on a Unix domain socket that only the user running it may
// reach. The socket lives in a fresh directory of mode 0700 —
// $XDG_RUNTIME_DIR/dcp-run-XXXXXX when XDG_RUNTIME_DIR is set and usable (an absolute path to a
// directory we can create in, short enough for a socket address), else /tmp/dcp-run-XXXXXX — so
// other users cannot connect at all, whatever the socket's own mode. The directory and everything
// in it are removed when the RuntimeDirectory is destroyed (or remove() is called), on success
// and on error paths alike.
//
// Thread safety: one owner. Blocking: a few file system calls.
// Errors: create() throws std::system_error when no directory can be made.
#pragma once

#include <filesystem>

namespace dcp::runner {

class RuntimeDirectory {
 public:
  /// Creates the directory (mode 0700). Throws std::system_error.
  static RuntimeDirectory create();

  RuntimeDirectory(RuntimeDirectory&& other) noexcept;
  RuntimeDirectory& operator=(RuntimeDirectory&& other) noexcept;
  RuntimeDirectory(const RuntimeDirectory&) = delete;
  RuntimeDirectory& operator=(const RuntimeDirectory&) = delete;
  ~RuntimeDirectory();

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  /// Where the runner's listening socket goes: <path>/runner.sock.
  [[nodiscard]] std::filesystem::path socket_path() const { return path_ / "runner.sock"; }

  /// Removes the directory and its contents now (idempotent, never throws).
  void remove() noexcept;

 private:
  explicit RuntimeDirectory(std::filesystem::path path) noexcept : path_(std::move(path)) {}
  std::filesystem::path path_;
};

}  // namespace dcp::runner
