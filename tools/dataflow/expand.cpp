#include "dataflow/expand.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace dcp::dataflow {
namespace {

bool is_name_character(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Rust's i64 FromStr: an optional sign, then decimal digits only.
std::optional<std::int64_t> rust_integer(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty() || text.front() == '+') return std::nullopt;
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// Rust's f64 FromStr: an optional sign, decimal digits with '.' and/or an exponent, "inf",
// "infinity" or "nan" in any case.
std::optional<double> rust_float(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty() || text.front() == '+') return std::nullopt;
  if (text.find('(') != std::string_view::npos) return std::nullopt;  // from_chars' "nan(...)"
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// Rust's Display of an f64: the shortest digits that read back the same, never an exponent.
std::string rust_float_text(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value,
                                    std::chars_format::scientific);
  std::string_view text(buffer, static_cast<std::size_t>(result.ptr - buffer));  // -d.ddde+XX
  std::string sign;
  if (text.front() == '-') {
    sign = "-";
    text.remove_prefix(1);
  }
  const std::size_t e = text.find('e');
  std::string digits(text.substr(0, e));
  if (digits.size() > 1) digits.erase(1, 1);  // drop the '.'
  const int exponent = std::atoi(std::string(text.substr(e + 1)).c_str());
  const int point = exponent + 1;  // digits before the decimal point
  std::string out;
  if (point <= 0) {
    out = "0." + std::string(static_cast<std::size_t>(-point), '0') + digits;
  } else if (static_cast<std::size_t>(point) >= digits.size()) {
    out = digits + std::string(static_cast<std::size_t>(point) - digits.size(), '0');
  } else {
    out = digits.substr(0, static_cast<std::size_t>(point)) + "." +
          digits.substr(static_cast<std::size_t>(point));
  }
  return sign + out;
}

}  // namespace

std::string expand_variables(std::string_view text, const VariableLookup& lookup,
                             UnsetVariable unset) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c != '$' || i + 1 >= text.size()) {
      out += c;
      ++i;
      continue;
    }
    std::string_view name;
    std::optional<std::string_view> fallback;
    std::size_t end = 0;  // one past the reference
    if (text[i + 1] == '{') {
      const std::size_t close = text.find('}', i + 2);
      if (close == std::string_view::npos) {  // no closing brace: not a reference
        out += c;
        ++i;
        continue;
      }
      std::string_view inner = text.substr(i + 2, close - i - 2);
      if (const std::size_t dash = inner.find(":-"); dash != std::string_view::npos) {
        fallback = inner.substr(dash + 2);
        inner = inner.substr(0, dash);
      }
      name = inner;
      end = close + 1;
    } else {
      std::size_t j = i + 1;
      while (j < text.size() && is_name_character(text[j])) ++j;
      name = text.substr(i + 1, j - i - 1);
      end = j;
    }
    bool valid = !name.empty();
    for (const char n : name) valid = valid && is_name_character(n);
    if (!valid) {
      out += c;
      ++i;
      continue;
    }
    if (std::optional<std::string> value = lookup(name)) {
      out += *value;
    } else if (fallback) {
      out += *fallback;
    } else if (unset == UnsetVariable::fail) {
      throw std::invalid_argument(fmt::format("environment variable '{}' is not set", name));
    } else {
      out += text.substr(i, end - i);
    }
    i = end;
  }
  return out;
}

std::optional<std::string> process_variable(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::string env_value_text(std::string_view text, bool plain) {
  if (plain) {
    if (text == "True" || text == "TRUE") return "true";
    if (text == "False" || text == "FALSE") return "false";
    for (const auto& [prefix, base] : {std::pair<std::string_view, int>{"0x", 16}, {"0o", 8}}) {
      if (text.size() > 2 && text.substr(0, 2) == prefix) {
        std::int64_t value = 0;
        const char* first = text.data() + 2;
        const char* last = text.data() + text.size();
        const auto [end, error] = std::from_chars(first, last, value, base);
        if (error == std::errc() && end == last) return std::to_string(value);
      }
    }
    if (text == ".inf" || text == ".Inf" || text == ".INF" || text == "+.inf") return "inf";
    if (text == "-.inf" || text == "-.Inf" || text == "-.INF") return "-inf";
    if (text == ".nan" || text == ".NaN" || text == ".NAN") return "NaN";
  }
  if (text == "true" || text == "false") return std::string(text);
  if (const auto integer = rust_integer(text)) return std::to_string(*integer);
  if (const auto number = rust_float(text)) return rust_float_text(*number);
  return std::string(text);
}

}  // namespace dcp::dataflow
