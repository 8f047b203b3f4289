#include "text.hpp"

#include <fmt/format.h>

namespace dcp::dataflow::detail {
namespace {

void append_escaped(std::string& out, std::string_view text, bool escape_double_quote) {
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += escape_double_quote ? "\\\"" : "\"";
        break;
      default:
        if (byte < 0x20 || byte == 0x7f) {
          out += fmt::format("\\x{:02x}", byte);
        } else {
          out += c;
        }
    }
  }
}

// The first `max` bytes of `text`, backed up to a UTF-8 character boundary.
std::string_view cut(std::string_view text, std::size_t max) {
  if (text.size() <= max) return text;
  std::size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

}  // namespace

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  append_escaped(out, text, false);
  return out;
}

std::string quote(std::string_view text) {
  const std::string_view shown = cut(text, kMaxQuoted);
  std::string out = "'";
  append_escaped(out, shown, false);
  if (shown.size() < text.size()) out += "...";
  out += '\'';
  return out;
}

std::string quote_double(std::string_view text, std::size_t max) {
  const std::string_view shown = cut(text, max);
  std::string out = "\"";
  append_escaped(out, shown, true);
  if (shown.size() < text.size()) out += "...";
  out += '"';
  return out;
}

}  // namespace dcp::dataflow::detail
