// tools/runner/duration.hpp — durations on the `dcp run` command line: "500ms", "10s", "1.5s", "2m".
//
// What it is for: `--stop-after` and `--grace` take a human duration. The accepted form is a
// non-negative decimal number followed by a unit: `ms` (milliseconds), `s` (seconds), `m` (minutes)
// or `h` (hours); e.g. `0s`, `250ms`, `1.5s`, `2m`. The result is rounded to whole milliseconds.
// A missing unit, an unknown unit, a negative or absurd value (over 30 days) throws
// std::invalid_argument with a message that shows the accepted form.
//
// Thread safety: pure functions. Blocking: none.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace dcp::runner {

/// Parses "500ms", "10s", "1.5s", "2m", "1h". Throws std::invalid_argument.
[[nodiscard]] std::chrono::milliseconds parse_duration(std::string_view text);

/// The shortest exact spelling parse_duration accepts: 500 -> "500ms", 5000 -> "5s", 1500 -> "1500ms".
[[nodiscard]] std::string format_duration(std::chrono::milliseconds duration);

}  // namespace dcp::runner
