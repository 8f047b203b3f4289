// tools/runner/node_logs.hpp — every node's output lines kept in files, in Dora's place and form.
//
// What it is for: the terminal shows node output live but may drop lines (terminal_output.hpp) and
// scrolls away; Dora also writes each node's stdout and stderr lines to
// `<dataflow folder>/out/<dataflow id>/log_<node>.jsonl`, and so does `dcp run`, so the scripts and
// habits of Dora users keep working. One JSON object per line (JSON Lines), the fields Dora writes:
//
//   {"ts":"2026-12-03T13:45:01.123Z","level":"stdout","node":"camera","stream":"stderr",
//    "msg":"frame 12","target":null,"fields":null}
//
//   ts      the time the runner read the line, UTC, RFC 3339 with milliseconds
//   level   "stdout" (dcp nodes write plain lines; Dora uses this level for every line that is not
//           one of its own structured log records)
//   node    the node id;  stream  "stdout" or "stderr";  msg  the line without its newline (bytes
//           that are not UTF-8 become U+FFFD)
//   target, fields   always null (Dora's structured-log fields)
// The run id is a UUID version 7 (time-ordered, so `ls out/` lists runs in order). Files are written
// line by line (one write(2) each, O_APPEND), so a crash of the runner loses no line it had read.
// A write that fails (disk full) is counted, the first error kept; the run goes on and the summary
// says so.
//
// Thread safety: one owner (the runner's event loop thread). Blocking: each write is one write(2)
// to a regular file (no waiting on readers).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/socket.hpp"

namespace dcp::runner {

class NodeLogs {
 public:
  /// Creates `<base_dir>/out/<run_id>/` and an empty `log_<id>.jsonl` per node. Throws
  /// std::system_error naming the path when the folder or a file cannot be created.
  NodeLogs(const std::filesystem::path& base_dir, const std::string& run_id, const std::vector<std::string>& node_ids);

  /// Appends one record for `line` of node `node` (index into the ids given). Never throws.
  void write(std::size_t node, bool is_stderr, std::string_view line) noexcept;

  [[nodiscard]] const std::filesystem::path& folder() const noexcept { return folder_; }
  /// Records that could not be written, and the first error's text ("" when none).
  [[nodiscard]] std::uint64_t failed_writes() const noexcept { return failed_writes_; }
  [[nodiscard]] const std::string& first_error() const noexcept { return first_error_; }

  /// A fresh run id: a UUID version 7 from the current time and the kernel's random source.
  [[nodiscard]] static std::string make_run_id();
  /// The JSON line (with its '\n') for one output line, as written to the files.
  [[nodiscard]] static std::string record(std::string_view node, bool is_stderr, std::string_view line,
                                          std::chrono::system_clock::time_point when);

 private:
  std::filesystem::path folder_;
  std::vector<std::string> node_ids_;
  std::vector<ipc::FileDescriptor> files_;
  std::uint64_t failed_writes_ = 0;
  std::string first_error_;
};

}  // namespace dcp::runner
