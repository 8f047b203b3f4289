// tools/runner/line_splitter.hpp — cuts a node's stdout or stderr byte stream into lines.
//
// What it is for: the runner reads each node's stdout and stderr pipes in chunks of whatever size
// the kernel hands over and prints every line prefixed with the node id (`[camera] frame 12`).
// A LineSplitter keeps the unfinished tail of the last chunk until its newline arrives:
//
//   LineSplitter lines;
//   lines.feed("fra", emit);           // nothing yet
//   lines.feed("me 1\nframe 2\nfr", emit);   // emit("frame 1"), emit("frame 2")
//   lines.finish(emit);                // emit("fr") — the partial line at exit
//
// Lines are passed without their '\n' (a trailing '\r' is kept: it is the node's byte). A line
// longer than kMaxLineLength is emitted in pieces of that length, so a node that never writes a
// newline cannot make the runner buffer without bound.
//
// Thread safety: one owner (the runner's event loop thread). Blocking: none.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace dcp::runner {

class LineSplitter {
 public:
  /// Longest line held back waiting for its newline; longer lines are cut into pieces.
  static constexpr std::size_t kMaxLineLength = 64 * 1024;

  using Emit = std::function<void(std::string_view line)>;

  /// Appends `chunk`; calls `emit` once per completed line, in order.
  void feed(std::string_view chunk, const Emit& emit);
  /// Emits the unfinished last line, if any (at end of stream).
  void finish(const Emit& emit);
  /// True when an unfinished line is held back.
  [[nodiscard]] bool has_partial() const noexcept { return !partial_.empty(); }

 private:
  std::string partial_;
};

}  // namespace dcp::runner
