// The runner's bounded, non-blocking terminal output (see terminal_output.hpp).
#include "runner/terminal_output.hpp"

#include <limits.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ostream>

namespace dcp::runner {

TerminalOutput::TerminalOutput(int fd, std::size_t capacity) : fd_(fd), capacity_(capacity) {
  buffer_.reserve(std::min<std::size_t>(capacity, 64 * 1024));
}

bool TerminalOutput::write_line(std::string_view prefix, std::string_view text) {
  if (stream_ != nullptr) {
    *stream_ << prefix << text << '\n';
    return true;
  }
  const std::size_t size = prefix.size() + text.size() + 1;
  if (!failed_ && pending() + size > capacity_) flush();  // make room if the terminal takes some now
  if (failed_ || pending() + size > capacity_) {
    ++dropped_;
    return false;
  }
  if (written_ > 0 && written_ == buffer_.size()) {  // everything written: start over
    buffer_.clear();
    written_ = 0;
  } else if (written_ > capacity_ / 2) {  // keep the written prefix from growing without bound
    buffer_.erase(0, written_);
    written_ = 0;
  }
  buffer_.append(prefix).append(text).push_back('\n');
  return true;
}

void TerminalOutput::flush() {
  if (stream_ != nullptr) {
    stream_->flush();
    return;
  }
  while (!failed_ && pending() > 0) {
    pollfd ready{fd_, POLLOUT, 0};
    const int polled = ::poll(&ready, 1, 0);
    if (polled < 0 && errno == EINTR) continue;
    if (polled < 0 || (ready.revents & (POLLERR | POLLNVAL)) != 0) return fail();
    if ((ready.revents & POLLOUT) == 0) return;  // full (or hung up with nothing to say: the write tells)
    // PIPE_BUF: what a pipe that polls writable takes without blocking (see the header).
    const std::size_t chunk = std::min<std::size_t>(pending(), PIPE_BUF);
    const ssize_t wrote = ::write(fd_, buffer_.data() + written_, chunk);
    if (wrote > 0) {
      written_ += static_cast<std::size_t>(wrote);
      continue;
    }
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // a non-blocking descriptor we were given
    return fail();
  }
  if (pending() == 0) {
    buffer_.clear();
    written_ = 0;
  }
}

void TerminalOutput::discard_pending() {
  if (pending() == 0) return;
  // The first queued line was partly written when the byte before it is not a newline.
  const bool first_started = written_ > 0 && buffer_[written_ - 1] != '\n';
  std::uint64_t lines = static_cast<std::uint64_t>(std::count(buffer_.begin() + static_cast<std::ptrdiff_t>(written_), buffer_.end(), '\n'));
  if (first_started && lines > 0) --lines;
  dropped_ += lines;
  buffer_.clear();
  written_ = 0;
}

void TerminalOutput::fail() {
  failed_ = true;
  discard_pending();
}

}  // namespace dcp::runner
