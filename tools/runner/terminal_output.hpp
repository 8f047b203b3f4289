// tools/runner/terminal_output.hpp — the runner's own stdout or stderr: bounded, and never blocking
// the runner's event loop.
//
// What it is for: every line a node prints, and the runner's `[dcp] ...` messages, go through one
// TerminalOutput per stream. When the terminal does not take them (a paused pager, a pipe nobody
// reads, a stopped terminal), lines wait in a bounded buffer; when that is full, whole new lines
// are dropped and counted, so the event loop — Ctrl-C included — keeps going:
//
//   TerminalOutput out(STDOUT_FILENO);
//   out.write_line("[camera] ", "frame 12");   // queued; false (and counted) when dropped
//   out.flush();                          // writes what the terminal takes now, never waits
//   if (out.pending()) ...                // retry later (poll out.fd() for POLLOUT)
//
// How it avoids blocking: poll() before every write, and at most PIPE_BUF bytes per write. The
// descriptor itself is left as it is (no O_NONBLOCK: that flag belongs to the open file
// description, which a terminal shares with the shell and every other process writing to it). A
// pipe that polls writable takes PIPE_BUF bytes without blocking; so does a regular file. A tty
// polls writable when it has some room, which may be less than one write: such a write can
// still wait for the terminal, at most once per poll — the remaining gap of this technique.
// When the descriptor fails (EPIPE: the reader went away; any other error), everything queued
// and every later line is dropped and counted.
//
// Constructed from a std::ostream instead (tests, programs embedding the runner), it writes each
// line to the stream at once — blocking as that stream does — and never drops.
//
// Thread safety: one owner (the runner's event loop thread). Blocking: none for a descriptor
// (see above); a stream blocks as the stream does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>

namespace dcp::runner {

class TerminalOutput {
 public:
  /// Bytes of lines waiting for the terminal, per stream; a line that does not fit is dropped.
  /// More than a node line can be (LineSplitter::kMaxLineLength plus its prefix).
  static constexpr std::size_t kDefaultCapacity = 256 * 1024;

  /// Writes to `fd` (not owned, left blocking or not as it is) through a buffer of `capacity` bytes.
  explicit TerminalOutput(int fd, std::size_t capacity = kDefaultCapacity);
  /// Writes to `stream` directly: no buffer, nothing dropped.
  explicit TerminalOutput(std::ostream& stream) noexcept : stream_(&stream) {}

  TerminalOutput(const TerminalOutput&) = delete;
  TerminalOutput& operator=(const TerminalOutput&) = delete;

  /// Queues `prefix` + `text` + '\n' (flush() writes it; when the buffer is full this flushes
  /// first). Returns false when the line was dropped (the buffer is still full, or the descriptor
  /// failed); it is then counted in dropped_lines(). A line is kept or dropped whole.
  bool write_line(std::string_view prefix, std::string_view text);

  /// Writes queued bytes while the terminal takes them; returns at once when it does not.
  void flush();

  /// Bytes queued and not written yet (0 for a stream).
  [[nodiscard]] std::size_t pending() const noexcept { return buffer_.size() - written_; }
  /// The descriptor (to poll for POLLOUT while pending()), -1 for a stream.
  [[nodiscard]] int fd() const noexcept { return fd_; }

  /// Drops what is still queued (the run ends and the terminal still does not take it). Each
  /// queued line none of which was written counts in dropped_lines(); a line the terminal took
  /// part of stays cut short.
  void discard_pending();

  /// Lines dropped so far (not shown at all).
  [[nodiscard]] std::uint64_t dropped_lines() const noexcept { return dropped_; }

 private:
  void fail();  // the descriptor failed: drop everything from now on

  std::ostream* stream_ = nullptr;
  int fd_ = -1;
  std::size_t capacity_ = 0;
  std::string buffer_;       // queued lines; bytes before written_ are written already
  std::size_t written_ = 0;
  bool failed_ = false;
  std::uint64_t dropped_ = 0;
};

}  // namespace dcp::runner
