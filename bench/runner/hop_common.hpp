// bench/runner/hop_common.hpp — what hop_source, hop_sink and socket_floor share: the payload
// pattern and its checks, the clock, `key=value` arguments (and the ones both ends of the hop
// take) and JSON output.
//
// What it is for: the "one hop through the runner" benchmark (docs/benchmarks.md, bench/runner_hop.sh).
// The source writes every payload from its sequence number, the sink checks it, and both sides
// stamp times with std::chrono::steady_clock, which is CLOCK_MONOTONIC on Linux: one clock for every
// process of the machine, so a time taken in the source can be subtracted from one taken in the sink.
//
// Payload layout (every multi-byte field little-endian, as the machine is):
//   - size < kHeaderBytes (the 8 B case): every byte is pattern;
//   - otherwise: bytes [0, 8) the sequence number, [8, 16) the steady time at which the source's
//     fill began, [16, 24) the time at which it ended (written last, after the pattern), then the
//     pattern from byte kHeaderBytes on.
// The pattern is a sequence of 64-bit words, word i of message seq being seed(seq) + i * kStep: every
// message and every 8-byte position differ, so a lost, repeated, reordered or misplaced page (or a
// stale message) is caught, and filling runs at memset speed (the compiler vectorises it).
//
// Thread safety: free functions on caller-owned data. Blocking: none.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace dcp_bench {

/// Nanoseconds on the machine-wide monotonic clock.
inline std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline constexpr std::size_t kHeaderBytes = 24;
inline constexpr std::uint64_t kStep = 0x9E3779B97F4A7C15ull;

inline std::uint64_t seed_of(std::uint64_t seq) noexcept {
  std::uint64_t z = seq + 0xD1B54A32D192ED03ull;  // splitmix64 finaliser
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// The pattern byte at offset `offset` of message `seq`.
inline std::uint8_t pattern_byte(std::uint64_t seq, std::size_t offset) noexcept {
  const std::uint64_t word = seed_of(seq) + static_cast<std::uint64_t>(offset / 8) * kStep;
  return static_cast<std::uint8_t>(word >> (8 * (offset % 8)));
}

/// Writes the pattern of message `seq` over all of `bytes` (header included; write_header after).
inline void fill_pattern(std::span<std::uint8_t> bytes, std::uint64_t seq) noexcept {
  const std::uint64_t seed = seed_of(seq);
  const std::size_t words = bytes.size() / 8;
  std::uint8_t* data = bytes.data();
  for (std::size_t i = 0; i < words; ++i) {
    const std::uint64_t word = seed + static_cast<std::uint64_t>(i) * kStep;
    std::memcpy(data + i * 8, &word, 8);
  }
  for (std::size_t j = words * 8; j < bytes.size(); ++j) data[j] = pattern_byte(seq, j);
}

struct Header {
  std::uint64_t seq = 0;
  std::int64_t fill_begin_ns = 0;
  std::int64_t fill_end_ns = 0;
};

inline void write_header(std::span<std::uint8_t> bytes, const Header& header) noexcept {
  if (bytes.size() < kHeaderBytes) return;
  std::memcpy(bytes.data(), &header.seq, 8);
  std::memcpy(bytes.data() + 8, &header.fill_begin_ns, 8);
  std::memcpy(bytes.data() + 16, &header.fill_end_ns, 8);
}

inline Header read_header(std::span<const std::uint8_t> bytes) noexcept {
  Header header;
  if (bytes.size() < kHeaderBytes) return header;
  std::memcpy(&header.seq, bytes.data(), 8);
  std::memcpy(&header.fill_begin_ns, bytes.data() + 8, 8);
  std::memcpy(&header.fill_end_ns, bytes.data() + 16, 8);
  return header;
}

/// Checks the pattern of message `seq` in `bytes` from `first` on. Full: every byte. Sampled: the
/// first and last 64 bytes and the 8-byte word at every 4096-byte offset (one read per page, so
/// every page of a shared-memory payload is touched, as a reader would).
inline bool check_pattern(std::span<const std::uint8_t> bytes, std::uint64_t seq, std::size_t first, bool full) noexcept {
  const std::size_t size = bytes.size();
  auto same = [&](std::size_t from, std::size_t to) {
    for (std::size_t j = std::max(from, first); j < std::min(to, size); ++j) {
      if (bytes[j] != pattern_byte(seq, j)) return false;
    }
    return true;
  };
  if (full) {
    const std::uint64_t seed = seed_of(seq);
    const std::size_t begin_word = (first + 7) / 8;
    const std::size_t words = size / 8;
    if (!same(first, begin_word * 8)) return false;
    std::uint64_t mismatch = 0;  // branch-free: one pass at memory speed
    for (std::size_t i = begin_word; i < words; ++i) {
      std::uint64_t word;
      std::memcpy(&word, bytes.data() + i * 8, 8);
      mismatch |= word ^ (seed + static_cast<std::uint64_t>(i) * kStep);
    }
    return mismatch == 0 && same(words * 8, size);
  }
  if (!same(0, 64) || !same(size >= 64 ? size - 64 : 0, size)) return false;
  for (std::size_t page = 4096; page + 8 <= size; page += 4096) {
    if (!same(page, page + 8)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Arguments: `key=value` words, as the dataflow's `args:` gives them.
// ---------------------------------------------------------------------------------------------

class Args {
 public:
  Args(int argc, char** argv, std::string_view program) : program_(program) {
    for (int i = 1; i < argc; ++i) {
      const std::string word = argv[i];
      const auto equals = word.find('=');
      if (equals == std::string::npos || equals == 0) fail("argument '" + word + "' is not key=value");
      values_[word.substr(0, equals)] = word.substr(equals + 1);
    }
  }

  [[nodiscard]] std::string text(const std::string& key, const std::string& fallback) const {
    const auto it = values_.find(key);
    return it == values_.end() ? fallback : it->second;
  }
  [[nodiscard]] std::string text(const std::string& key) const {
    const auto it = values_.find(key);
    if (it == values_.end()) fail("missing argument " + key + "=...");
    return it->second;
  }
  [[nodiscard]] std::int64_t number(const std::string& key, std::int64_t fallback) const {
    return values_.count(key) != 0 ? number(key) : fallback;
  }
  [[nodiscard]] std::int64_t number(const std::string& key) const {
    const std::string value = text(key);
    char* end = nullptr;
    const long long parsed = std::strtoll(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || parsed < 0) fail(key + "=" + value + " is not a non-negative integer");
    return parsed;
  }

  [[noreturn]] void fail(const std::string& message) const {
    std::fprintf(stderr, "%s: %s\n", program_.c_str(), message.c_str());
    std::exit(2);
  }

 private:
  std::string program_;
  std::map<std::string, std::string> values_;
};

// ---------------------------------------------------------------------------------------------
// JSON output: one object per line, built by hand (numbers and plain ASCII strings only).
// ---------------------------------------------------------------------------------------------

class JsonLine {
 public:
  JsonLine& field(std::string_view key, std::string_view value) {
    start(key);
    line_ += '"';
    line_ += value;  // callers pass identifiers: no escaping needed
    line_ += '"';
    return *this;
  }
  JsonLine& field(std::string_view key, const char* value) { return field(key, std::string_view(value)); }
  JsonLine& field(std::string_view key, std::int64_t value) {
    start(key);
    line_ += std::to_string(value);
    return *this;
  }
  JsonLine& field(std::string_view key, double value) {
    start(key);
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.6g", value);
    line_ += buffer;
    return *this;
  }
  JsonLine& field(std::string_view key, bool value) {
    start(key);
    line_ += value ? "true" : "false";
    return *this;
  }
  JsonLine& field(std::string_view key, const std::vector<std::int64_t>& values) {
    start(key);
    line_ += '[';
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i != 0) line_ += ',';
      line_ += std::to_string(values[i]);
    }
    line_ += ']';
    return *this;
  }
  [[nodiscard]] std::string str() const { return line_ + "}\n"; }

 private:
  void start(std::string_view key) {
    line_ += line_.empty() ? "{" : ",";
    line_ += '"';
    line_ += key;
    line_ += "\":";
  }
  std::string line_;
};

// ---------------------------------------------------------------------------------------------
// The arguments both ends of the hop take, and the JSON fields that echo them.
// ---------------------------------------------------------------------------------------------

/// mode=latency|throughput size=BYTES count=N [warmup=W] out=FILE (each end adds its own).
struct HopArgs {
  std::string mode;
  std::size_t size = 0;
  std::int64_t count = 0;
  std::int64_t warmup = 0;
  std::string out;

  /// A result line that starts with `role` and the arguments above.
  [[nodiscard]] JsonLine json_line(std::string_view role) const {
    JsonLine line;
    line.field("role", role).field("mode", mode).field("size", static_cast<std::int64_t>(size))
        .field("count", count).field("warmup", warmup);
    return line;
  }
};

/// Reads and checks the shared arguments; a bad one ends the program (Args::fail, status 2).
inline HopArgs hop_args(const Args& args) {
  HopArgs hop{args.text("mode"), static_cast<std::size_t>(args.number("size")), args.number("count"),
              args.number("warmup", 0), args.text("out")};
  if (hop.mode != "latency" && hop.mode != "throughput") args.fail("mode must be latency or throughput");
  if (hop.size == 0 || hop.count <= hop.warmup) args.fail("need size >= 1, count > warmup");
  return hop;
}

/// Writes `lines` to `path` (replacing it); "-" means stdout. Throws std::runtime_error.
inline void write_lines(const std::string& path, const std::string& lines) {
  if (path == "-") {
    std::fputs(lines.c_str(), stdout);
    std::fflush(stdout);
    return;
  }
  std::FILE* file = std::fopen(path.c_str(), "w");
  if (file == nullptr) throw std::runtime_error("cannot open " + path + " for writing");
  const bool ok = std::fputs(lines.c_str(), file) >= 0;
  if (std::fclose(file) != 0 || !ok) throw std::runtime_error("cannot write " + path);
}

}  // namespace dcp_bench
