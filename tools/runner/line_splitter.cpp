// Splits a byte stream into lines (see line_splitter.hpp).
#include "runner/line_splitter.hpp"

namespace dcp::runner {

void LineSplitter::feed(std::string_view chunk, const Emit& emit) {
  while (!chunk.empty()) {
    const std::size_t newline = chunk.find('\n');
    const std::size_t take = newline == std::string_view::npos ? chunk.size() : newline;
    const std::size_t room = kMaxLineLength - partial_.size();
    if (take > room) {
      // The line would grow past the limit: emit a full piece and go on with the rest.
      partial_.append(chunk.substr(0, room));
      emit(partial_);
      partial_.clear();
      chunk.remove_prefix(room);
      continue;
    }
    if (newline == std::string_view::npos) {
      partial_.append(chunk);
      return;
    }
    if (partial_.empty()) {
      emit(chunk.substr(0, newline));
    } else {
      partial_.append(chunk.substr(0, newline));
      emit(partial_);
      partial_.clear();
    }
    chunk.remove_prefix(newline + 1);
  }
}

void LineSplitter::finish(const Emit& emit) {
  if (partial_.empty()) return;
  emit(partial_);
  partial_.clear();
}

}  // namespace dcp::runner
