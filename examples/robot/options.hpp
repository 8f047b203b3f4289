// examples/robot/options.hpp — the command line of the robot example's nodes.
//
// What it is for: each node of the robot dataflow gets its settings from the `args:` line of
// dataflow.yml (`--duration 10s --script 4s:estop,6s:reset`). This header parses them the same way
// for every node, with errors that name the option:
//
//   robot::Options options(argc, argv, "dcp_robot_sensors",
//                          {{"duration", "how long to run (default 10s)"},
//                           {"lidar-points", "points per scan (default 4096)"}});
//   const auto duration = options.duration("duration", std::chrono::seconds(10));
//   const auto points = options.integer("lidar-points", 4096, /*min=*/1, /*max=*/robot::kMaxLidarPoints);
//
// Syntax: `--name value` or `--name=value`; an option may be repeated (values() returns all, the
// getters the last one); `--help` sets help_requested() (print_usage_if_help() answers it). Options
// declared as flags take no value.
// Durations are a number and a unit: `500ms`, `10s`, `1.5s`, `2m`, also `us` and `ns`.
//
// Thread safety: plain values, parse once at start-up. Blocking: none.
// Errors: std::invalid_argument with the program name, the option and what was wrong — an unknown
// option (the message lists the known ones), a missing value, a malformed number or duration, a
// value out of range. Nodes print it and exit with status 2.
#pragma once

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace robot {

/// Parses a duration such as `500ms`, `10s`, `1.5s`, `2m`, `250us`, `100ns` (a non-negative number
/// and a unit). Throws std::invalid_argument naming `what` (e.g. "--duration") otherwise.
inline std::chrono::nanoseconds parse_duration(std::string_view text, std::string_view what) {
  const auto fail = [&](std::string_view why) -> std::chrono::nanoseconds {
    throw std::invalid_argument(std::string(what) + ": " + std::string(why) + " (got '" + std::string(text) +
                                "'; expected a number and a unit: ns, us, ms, s, m, h, e.g. 500ms or 1.5s)");
  };
  std::size_t unit_start = 0;
  while (unit_start < text.size() &&
         ((text[unit_start] >= '0' && text[unit_start] <= '9') || text[unit_start] == '.')) {
    ++unit_start;
  }
  if (unit_start == 0) return fail("no number");
  const std::string number(text.substr(0, unit_start));
  const std::string_view unit = text.substr(unit_start);
  double value = 0;
  const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (error != std::errc() || end != number.data() + number.size()) return fail("malformed number");
  double scale = 0;
  if (unit == "ns") scale = 1;
  else if (unit == "us") scale = 1e3;
  else if (unit == "ms") scale = 1e6;
  else if (unit == "s") scale = 1e9;
  else if (unit == "m") scale = 60e9;
  else if (unit == "h") scale = 3600e9;
  else return fail(unit.empty() ? "no unit" : "unknown unit");
  const double ns = value * scale;
  if (!std::isfinite(ns) || ns > 1e18) return fail("too long");
  return std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(ns)));
}

/// Formats a duration for messages: "250ms", "1.5s", "12us".
inline std::string format_duration(std::chrono::nanoseconds duration) {
  const double ns = static_cast<double>(duration.count());
  char buffer[64];
  if (std::abs(ns) >= 1e9) std::snprintf(buffer, sizeof buffer, "%.3gs", ns / 1e9);
  else if (std::abs(ns) >= 1e6) std::snprintf(buffer, sizeof buffer, "%.3gms", ns / 1e6);
  else if (std::abs(ns) >= 1e3) std::snprintf(buffer, sizeof buffer, "%.3gus", ns / 1e3);
  else std::snprintf(buffer, sizeof buffer, "%.0fns", ns);
  return buffer;
}

/// One option a node accepts.
struct OptionSpec {
  std::string name;         ///< without the leading "--"
  std::string description;  ///< shown by usage()
  bool is_flag = false;     ///< true: takes no value (`--verbose`)
};

class Options {
 public:
  /// Parses argv[1..argc). Throws std::invalid_argument for an unknown option, a missing value or a
  /// stray positional argument.
  Options(int argc, const char* const* argv, std::string program, std::vector<OptionSpec> specs)
      : program_(std::move(program)), specs_(std::move(specs)) {
    for (int i = 1; i < argc; ++i) {
      const std::string_view arg = argv[i];
      if (arg == "--help" || arg == "-h") {
        help_requested_ = true;
        continue;
      }
      if (arg.size() < 3 || arg.substr(0, 2) != "--") {
        throw std::invalid_argument(program_ + ": unexpected argument '" + std::string(arg) +
                                    "' (options look like --name value)\n" + usage());
      }
      std::string name(arg.substr(2));
      std::optional<std::string> value;
      if (const auto equals = name.find('='); equals != std::string::npos) {
        value = name.substr(equals + 1);
        name.resize(equals);
      }
      const OptionSpec* spec = find(name);
      if (spec == nullptr) {
        throw std::invalid_argument(program_ + ": unknown option --" + name + "\n" + usage());
      }
      if (spec->is_flag) {
        if (value) throw std::invalid_argument(program_ + ": option --" + name + " takes no value");
        values_[name].push_back("true");
        continue;
      }
      if (!value) {
        if (i + 1 >= argc) throw std::invalid_argument(program_ + ": option --" + name + " needs a value");
        value = argv[++i];
      }
      values_[name].push_back(std::move(*value));
    }
  }

  [[nodiscard]] bool help_requested() const noexcept { return help_requested_; }
  /// With --help: prints usage() to stdout and returns true (the node then exits with status 0).
  [[nodiscard]] bool print_usage_if_help() const {
    if (help_requested_) std::fputs(usage().c_str(), stdout);
    return help_requested_;
  }

  /// "usage: <program> [options]" and one line per option.
  [[nodiscard]] std::string usage() const {
    std::string text = "usage: " + program_ + " [options]\n";
    for (const OptionSpec& spec : specs_) {
      std::string left = "  --" + spec.name + (spec.is_flag ? "" : " <value>");
      if (left.size() < 30) left.resize(30, ' ');
      text += left + " " + spec.description + "\n";
    }
    return text;
  }

  /// True when the option was given at least once.
  [[nodiscard]] bool has(std::string_view name) const { return values_.find(name) != values_.end(); }
  /// Every value given for the option, in order.
  [[nodiscard]] std::vector<std::string> values(std::string_view name) const {
    check_known(name);
    const auto it = values_.find(name);
    return it == values_.end() ? std::vector<std::string>{} : it->second;
  }
  /// The last value given, if any.
  [[nodiscard]] std::optional<std::string> get(std::string_view name) const {
    check_known(name);
    const auto it = values_.find(name);
    if (it == values_.end()) return std::nullopt;
    return it->second.back();
  }
  [[nodiscard]] std::string text(std::string_view name, std::string fallback) const {
    return get(name).value_or(std::move(fallback));
  }
  [[nodiscard]] bool flag(std::string_view name) const { return get(name).has_value(); }

  [[nodiscard]] std::chrono::nanoseconds duration(std::string_view name, std::chrono::nanoseconds fallback) const {
    const auto value = get(name);
    return value ? parse_duration(*value, program_ + ": --" + std::string(name)) : fallback;
  }

  /// An integer in [min, max]; throws naming the option when malformed or out of range.
  [[nodiscard]] std::int64_t integer(std::string_view name, std::int64_t fallback,
                                     std::int64_t min = std::numeric_limits<std::int64_t>::min(),
                                     std::int64_t max = std::numeric_limits<std::int64_t>::max()) const {
    const auto value = get(name);
    if (!value) return fallback;
    std::int64_t parsed = 0;
    const auto [end, error] = std::from_chars(value->data(), value->data() + value->size(), parsed);
    if (error != std::errc() || end != value->data() + value->size()) {
      throw std::invalid_argument(program_ + ": --" + std::string(name) + ": expected an integer, got '" + *value + "'");
    }
    if (parsed < min || parsed > max) {
      throw std::invalid_argument(program_ + ": --" + std::string(name) + ": " + *value + " is out of range [" +
                                  std::to_string(min) + ", " + std::to_string(max) + "]");
    }
    return parsed;
  }

 private:
  const OptionSpec* find(std::string_view name) const {
    for (const OptionSpec& spec : specs_) {
      if (spec.name == name) return &spec;
    }
    return nullptr;
  }
  void check_known(std::string_view name) const {
    if (find(name) == nullptr) {
      throw std::logic_error(program_ + ": option --" + std::string(name) + " is read but was never declared");
    }
  }

  std::string program_;
  std::vector<OptionSpec> specs_;
  std::map<std::string, std::vector<std::string>, std::less<>> values_;
  bool help_requested_ = false;
};

}  // namespace robot
