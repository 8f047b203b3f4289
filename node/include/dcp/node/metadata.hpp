// dcp/node/metadata.hpp — the metadata that travels with every Dora message: a timestamp and typed
// parameters.
//
// What it is for: Dora attaches metadata to each output (a timestamp set by the sender and
// user parameters such as a frame id or an encoding). dcp mirrors it so the same node code runs on
// the local runner, in the test harness and on Dora: parameters are bool, integer, float, string, or
// lists of integers, floats or strings, keyed by name.
//
// Thread safety: plain values. Blocking: none.
// Limits: see dcp::kMaxParameters and dcp::kMaxParameterKeyLength (checked where metadata crosses a
// process boundary: sending it throws std::invalid_argument when a limit is exceeded).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace dcp {

using Parameter = std::variant<bool, std::int64_t, double, std::string, std::vector<std::int64_t>,
                               std::vector<double>, std::vector<std::string>>;

/// Most parameters one message may carry.
inline constexpr std::size_t kMaxParameters = 64;
/// Longest parameter key, in bytes.
inline constexpr std::size_t kMaxParameterKeyLength = 256;

struct Metadata {
  /// When the message was sent: nanoseconds since the UNIX epoch (system clock). 0 = unset; the
  /// node layer fills it in when sending.
  std::int64_t timestamp_ns = 0;
  std::map<std::string, Parameter, std::less<>> parameters;

  [[nodiscard]] std::optional<bool> get_bool(std::string_view key) const { return get<bool>(key); }
  [[nodiscard]] std::optional<std::int64_t> get_int(std::string_view key) const { return get<std::int64_t>(key); }
  [[nodiscard]] std::optional<double> get_float(std::string_view key) const { return get<double>(key); }
  [[nodiscard]] std::optional<std::string> get_str(std::string_view key) const { return get<std::string>(key); }

  friend bool operator==(const Metadata&, const Metadata&) = default;

 private:
  template <class T>
  std::optional<T> get(std::string_view key) const {
    const auto it = parameters.find(key);
    if (it == parameters.end()) return std::nullopt;
    if (const T* value = std::get_if<T>(&it->second)) return *value;
    return std::nullopt;
  }
};

}  // namespace dcp
