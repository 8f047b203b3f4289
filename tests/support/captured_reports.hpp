// tests/support/captured_reports.hpp — dcp::test::CapturedReports: what dcp::report_error() received
// while it lived. It installs a capturing process reporter (dcp::set_error_reporter) for the test's
// scope and restores the previous one when destroyed.
//
// Thread safety: the reporter may be called from any thread (the pool's workers, a pattern's own
// thread); lines()/take()/counted() may be called from the test thread at any time. One
// CapturedReports at a time per process (they share the capture).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dcp/core/error_report.hpp"

namespace dcp::test {

class CapturedReports {
 public:
  using Report = std::pair<std::string, std::string>;  // source, message

  CapturedReports() : before_(dcp::reported_errors()) {
    (void)take();
    previous_ = dcp::set_error_reporter(&capture);
  }
  ~CapturedReports() { dcp::set_error_reporter(previous_); }
  CapturedReports(const CapturedReports&) = delete;
  CapturedReports& operator=(const CapturedReports&) = delete;

  /// Every report so far as "source: message", in order.
  [[nodiscard]] std::vector<std::string> lines() const {
    std::lock_guard lock(mutex());
    std::vector<std::string> lines;
    for (const auto& [source, message] : reports()) lines.push_back(source + ": " + message);
    return lines;
  }
  /// The reports not taken yet, as (source, message) pairs, in order; forgets them.
  static std::vector<Report> take() {
    std::lock_guard lock(mutex());
    return std::exchange(reports(), {});
  }
  /// How many errors dcp::report_error() counted since construction.
  [[nodiscard]] std::uint64_t counted() const { return dcp::reported_errors() - before_; }

 private:
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  static std::vector<Report>& reports() {
    static std::vector<Report> r;
    return r;
  }
  static void capture(std::string_view source, std::string_view message) noexcept {
    std::lock_guard lock(mutex());
    reports().emplace_back(std::string(source), std::string(message));
  }

  std::uint64_t before_;
  dcp::ErrorReporter previous_ = nullptr;
};

}  // namespace dcp::test
