// tools/dataflow/text.hpp — private helpers for putting text from a dataflow file into messages.
//
// Text from the file may hold anything (control characters, invalid UTF-8, megabytes): these make
// it safe and short enough to print. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dcp::dataflow::detail {

/// Longest excerpt of file text that quote() and quote_double() show before cutting with "...".
inline constexpr std::size_t kMaxQuoted = 80;

/// `text` with control characters (< 0x20, 0x7f) and backslashes escaped: \n \t \r \\ \xNN.
/// Bytes >= 0x80 (UTF-8) pass through.
[[nodiscard]] std::string escape(std::string_view text);

/// 'text' — escaped, cut after kMaxQuoted bytes (at a UTF-8 character boundary) with "...".
[[nodiscard]] std::string quote(std::string_view text);

/// "text" — like quote() but in double quotes, with '"' escaped too; for argv and field paths.
[[nodiscard]] std::string quote_double(std::string_view text, std::size_t max = kMaxQuoted);

}  // namespace dcp::dataflow::detail
