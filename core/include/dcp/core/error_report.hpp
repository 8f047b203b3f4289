// dcp/core/error_report.hpp — where an error goes when no caller can be told about it.
//
// What it is for: a fire-and-forget task that throws, an output the output thread failed to send, a
// handler that threw on a pool thread — each loses work, and the thread that loses it has nobody to
// return an error to. Such errors are never dropped silently: the component calls report_error(),
// which counts the error and hands it to the process's reporter. The default reporter writes one line
// to stderr: "dcp: <source>: <message>". The node library installs its own reporter (the node's log,
// and the local runner's summary learns the count), so a node that lost results cannot end in a run
// that says it succeeded.
//
// Opting out: every component that reports this way takes an `on_error` callback in its Options;
// when one is set, the component calls it instead and reports nothing (the node handles its errors).
//
// Also here: describe_exception(), a printable description of a std::exception_ptr, for every
// `on_error` user.
//
// Thread safety: every function may be called from any thread at any time, concurrently. A reporter
// is called on the thread that reports, possibly from several threads at once; it must be
// thread-safe and must not throw. Blocking: report_error() blocks only as long as the reporter does
// (the default one: one write to stderr).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <string>
#include <string_view>

namespace dcp {

/// what() of the exception (std::exception or derived), a fixed text for anything else, "no
/// exception" for a null pointer. Never throws (an empty string when memory is exhausted).
inline std::string describe_exception(const std::exception_ptr& error) noexcept {
  if (!error) return "no exception";
  try {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      return e.what();
    } catch (...) {
      return "unknown exception (not derived from std::exception)";
    }
  } catch (...) {  // std::string could not allocate
    return {};
  }
}

/// describe_exception(std::current_exception()): call it inside a catch block.
inline std::string describe_current_exception() noexcept { return describe_exception(std::current_exception()); }

/// A reporter: `source` names who lost the work ("worker pool 'planner'", "output handler",
/// "router input 'lidar'"), `message` says what was lost and why. Called for every reported error.
using ErrorReporter = void (*)(std::string_view source, std::string_view message) noexcept;

namespace detail {
// Relaxed is enough for both: the reporter is a plain function pointer (its code needs no
// publication), and the count is a statistic read without ordering against anything else.
inline std::atomic<ErrorReporter> error_reporter{nullptr};
inline std::atomic<std::uint64_t> reported_error_count{0};

inline void report_to_stderr(std::string_view source, std::string_view message) noexcept {
  std::fprintf(stderr, "dcp: %.*s: %.*s\n", static_cast<int>(source.size()), source.data(),
               static_cast<int>(message.size()), message.data());
}
}  // namespace detail

/// Installs `reporter` for the whole process (nullptr: the default, stderr) and returns the previous
/// one (nullptr when it was the default).
inline ErrorReporter set_error_reporter(ErrorReporter reporter) noexcept {
  return detail::error_reporter.exchange(reporter, std::memory_order_relaxed);
}

/// Counts the error, then hands it to the installed reporter (default: one line on stderr).
inline void report_error(std::string_view source, std::string_view message) noexcept {
  detail::reported_error_count.fetch_add(1, std::memory_order_relaxed);
  ErrorReporter reporter = detail::error_reporter.load(std::memory_order_relaxed);
  (reporter != nullptr ? reporter : &detail::report_to_stderr)(source, message);
}

/// How many errors report_error() has counted in this process so far.
inline std::uint64_t reported_errors() noexcept {
  return detail::reported_error_count.load(std::memory_order_relaxed);
}

/// The `on_error` of a component's Options: when set, the component calls it instead of
/// report_error() (the node handles its errors itself). Same arguments as an ErrorReporter.
using ErrorCallback = std::function<void(std::string_view source, std::string_view message)>;

/// Calls `on_error` when it is set, else report_error(source, message). A callback that throws is
/// itself reported (with what it threw), so the error still does not vanish.
inline void deliver_error(const ErrorCallback& on_error, std::string_view source, std::string_view message) noexcept {
  if (!on_error) {
    report_error(source, message);
    return;
  }
  try {
    on_error(source, message);
  } catch (...) {
    report_error(source, message);
    try {
      report_error(source, "its on_error callback threw: " + describe_current_exception());
    } catch (...) {  // the message could not be allocated
      report_error(source, "its on_error callback threw");
    }
  }
}

}  // namespace dcp
