// Human durations for the `dcp run` command line (see duration.hpp).
#include "runner/duration.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

namespace dcp::runner {
namespace {

constexpr std::int64_t kMaxMillis = std::int64_t{30} * 24 * 3600 * 1000;  // 30 days

[[noreturn]] void invalid(std::string_view text, std::string_view why) {
  throw std::invalid_argument("invalid duration '" + std::string(text) + "': " + std::string(why) +
                              " (write a number and a unit: 500ms, 10s, 1.5s, 2m, 1h)");
}

}  // namespace

std::chrono::milliseconds parse_duration(std::string_view text) {
  std::size_t i = 0;
  std::int64_t whole = 0;
  std::size_t whole_digits = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    if (whole > kMaxMillis) invalid(text, "too long");
    whole = whole * 10 + (text[i] - '0');
    ++i;
    ++whole_digits;
  }
  // Fraction, kept as numerator / denominator with at most 9 digits (finer than a millisecond).
  std::int64_t fraction = 0;
  std::int64_t denominator = 1;
  std::size_t fraction_digits = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (fraction_digits < 9) {
        fraction = fraction * 10 + (text[i] - '0');
        denominator *= 10;
      }
      ++i;
      ++fraction_digits;
    }
    if (fraction_digits == 0) invalid(text, "a digit must follow the decimal point");
  }
  if (whole_digits == 0 && fraction_digits == 0) {
    if (!text.empty() && text[0] == '-') invalid(text, "a duration cannot be negative");
    invalid(text, "it does not start with a number");
  }
  const std::string_view unit = text.substr(i);
  std::int64_t unit_millis = 0;
  if (unit == "ms") {
    unit_millis = 1;
  } else if (unit == "s") {
    unit_millis = 1000;
  } else if (unit == "m" || unit == "min") {
    unit_millis = 60 * 1000;
  } else if (unit == "h") {
    unit_millis = 3600 * 1000;
  } else if (unit.empty()) {
    invalid(text, "the unit is missing");
  } else {
    invalid(text, "unknown unit '" + std::string(unit) + "'");
  }
  if (whole > kMaxMillis / unit_millis) invalid(text, "longer than 30 days");
  // Round the fractional part to the nearest millisecond.
  const std::int64_t fraction_millis = (fraction * unit_millis * 2 + denominator) / (denominator * 2);
  const std::int64_t total = whole * unit_millis + fraction_millis;
  if (total > kMaxMillis) invalid(text, "longer than 30 days");
  return std::chrono::milliseconds(total);
}

std::string format_duration(std::chrono::milliseconds duration) {
  const auto ms = duration.count();
  if (ms != 0 && ms % (3600 * 1000) == 0) return std::to_string(ms / (3600 * 1000)) + "h";
  if (ms != 0 && ms % (60 * 1000) == 0) return std::to_string(ms / (60 * 1000)) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace dcp::runner
