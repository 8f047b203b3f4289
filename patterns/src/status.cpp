// dcp::StatusBoard and dcp::to_json (dcp/patterns/status.hpp): the bodies. The contract is in the
// header.
#include "dcp/patterns/status.hpp"

#include <stdexcept>
#include <utility>

#include "dcp/core/error_report.hpp"

namespace dcp {

namespace {

void append_json_string(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  std::size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x80) {
      switch (byte) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          if (byte < 0x20 || byte == 0x7f) {
            out += "\\u00";
            out += kHex[byte >> 4];
            out += kHex[byte & 0xf];
          } else {
            out += static_cast<char>(byte);
          }
      }
      ++i;
      continue;
    }
    // A multi-byte UTF-8 sequence: copied when well formed (no overlong forms, no surrogates,
    // <= U+10FFFF), otherwise its first byte becomes U+FFFD and decoding resumes after it.
    std::size_t length = 0;
    std::uint32_t code = 0;
    std::uint32_t minimum = 0;
    if ((byte & 0xe0) == 0xc0) {
      length = 2, code = byte & 0x1fu, minimum = 0x80;
    } else if ((byte & 0xf0) == 0xe0) {
      length = 3, code = byte & 0x0fu, minimum = 0x800;
    } else if ((byte & 0xf8) == 0xf0) {
      length = 4, code = byte & 0x07u, minimum = 0x10000;
    }
    bool valid = length != 0 && i + length <= text.size();
    for (std::size_t k = 1; valid && k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      valid = (next & 0xc0) == 0x80;
      code = (code << 6) | (next & 0x3fu);
    }
    valid = valid && code >= minimum && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff);
    if (valid) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out += "\\ufffd";
      ++i;
    }
  }
  out += '"';
}

/// Nanoseconds as microseconds with up to 3 decimals and at least one: 12500 -> "12.5", 52000 -> "52.0".
void append_microseconds(std::string& out, std::chrono::nanoseconds duration) {
  const std::int64_t ns = std::max<std::int64_t>(duration.count(), 0);  // a recorded latency is never negative
  out += std::to_string(ns / 1000);
  out += '.';
  const int fraction = static_cast<int>(ns % 1000);
  const char digits[3] = {static_cast<char>('0' + fraction / 100), static_cast<char>('0' + fraction / 10 % 10),
                    static_cast<char>('0' + fraction % 10)};
  std::size_t keep = 3;
  while (keep > 1 && digits[keep - 1] == '0') --keep;
  out.append(digits, keep);
}


}  // namespace

std::string to_json(const StatusSnapshot& snapshot) {
  std::string out;
  out.reserve(64 + 48 * (snapshot.counters.size() + snapshot.gauges.size()) + 112 * snapshot.latencies.size());
  out += "{\"node\":";
  append_json_string(out, snapshot.node);
  out += ",\"uptime_ms\":";
  out += std::to_string(snapshot.uptime.count());
  out += ",\"errors_reported\":";
  out += std::to_string(snapshot.errors_reported);
  out += ",\"counters\":{";
  bool first = true;
  for (const auto& [name, value] : snapshot.counters) {
    if (!std::exchange(first, false)) out += ',';
    append_json_string(out, name);
    out += ':';
    out += std::to_string(value);
  }
  out += "},\"gauges\":{";
  first = true;
  for (const auto& [name, value] : snapshot.gauges) {
    if (!std::exchange(first, false)) out += ',';
    append_json_string(out, name);
    out += ':';
    out += std::to_string(value);
  }
  out += "},\"latencies\":{";
  first = true;
  for (const auto& [name, summary] : snapshot.latencies) {
    if (!std::exchange(first, false)) out += ',';
    append_json_string(out, name);
    out += ":{\"count\":";
    out += std::to_string(summary.count);
    out += ",\"p50_us\":";
    append_microseconds(out, summary.p50);
    out += ",\"p99_us\":";
    append_microseconds(out, summary.p99);
    out += ",\"max_us\":";
    append_microseconds(out, summary.max);
    out += '}';
  }
  out += "}}";
  return out;
}

StatusBoard::StatusBoard(std::string node_id) : node_(std::move(node_id)), started_(std::chrono::steady_clock::now()) {}

Counter& StatusBoard::counter(std::string_view name) { return find_or_create(counters_, name, "counter"); }
Gauge& StatusBoard::gauge(std::string_view name) { return find_or_create(gauges_, name, "gauge"); }
LatencyHistogram& StatusBoard::latency(std::string_view name) { return find_or_create(latencies_, name, "latency"); }

StatusSnapshot StatusBoard::snapshot() const {
  snapshots_.fetch_add(1, std::memory_order_relaxed);
  StatusSnapshot snapshot;
  snapshot.node = node_;
  snapshot.uptime = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_);
  snapshot.errors_reported = reported_errors();
  std::lock_guard lock(mutex_);
  for (const auto& [name, metric] : counters_) snapshot.counters.emplace(name, metric->value());
  for (const auto& [name, metric] : gauges_) snapshot.gauges.emplace(name, metric->value());
  for (const auto& [name, metric] : latencies_) snapshot.latencies.emplace(name, metric->summary());
  return snapshot;
}

std::size_t StatusBoard::size() const {
  std::lock_guard lock(mutex_);
  return counters_.size() + gauges_.size() + latencies_.size();
}

StatusBoard::Stats StatusBoard::stats() const {
  Stats stats;
  {
    std::lock_guard lock(mutex_);
    stats.counters = counters_.size();
    stats.gauges = gauges_.size();
    stats.latencies = latencies_.size();
  }
  stats.snapshots = snapshots_.load(std::memory_order_relaxed);
  return stats;
}

template <class Metric>
Metric& StatusBoard::find_or_create(Registry<Metric>& registry, std::string_view name, const char* kind) {
  if (!is_valid_status_name(name)) {
    throw std::invalid_argument(
        "dcp::StatusBoard::" + std::string(kind) + ": invalid metric name '" +
        std::string(name.substr(0, kMaxStatusNameLength + 16)) + (name.size() > kMaxStatusNameLength + 16 ? "..." : "") +
        "' (" + std::to_string(name.size()) + " characters; want 1.." + std::to_string(kMaxStatusNameLength) +
        " of [A-Za-z0-9_.:/-])");
  }
  std::lock_guard lock(mutex_);
  if (auto found = registry.find(name); found != registry.end()) return *found->second;
  const char* other = nullptr;
  if (counters_.contains(name)) other = "counter";
  if (gauges_.contains(name)) other = "gauge";
  if (latencies_.contains(name)) other = "latency";
  if (other != nullptr) {
    throw std::invalid_argument("dcp::StatusBoard::" + std::string(kind) + ": metric '" + std::string(name) +
                                "' is already a " + other);
  }
  if (counters_.size() + gauges_.size() + latencies_.size() >= kMaxStatusMetrics) {
    throw std::invalid_argument("dcp::StatusBoard::" + std::string(kind) + ": cannot add metric '" +
                                std::string(name) + "': the board already holds kMaxStatusMetrics (" +
                                std::to_string(kMaxStatusMetrics) + ") metrics");
  }
  auto metric = std::make_unique<Metric>();
  Metric& result = *metric;
  registry.emplace(std::string(name), std::move(metric));
  return result;
}

}  // namespace dcp
