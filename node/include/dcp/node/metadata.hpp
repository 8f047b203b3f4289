// dcp/node/metadata.hpp — the metadata that travels with every Dora message: a timestamp and typed
// parameters.
//
// What it is for: Dora attaches metadata to each output (a timestamp set by the sender and
// user parameters such as a frame id or an encoding). dcp mirrors it so the same node code runs on
// the local runner, in the test harness and on Dora: parameters are bool, signed or unsigned 64-bit
// integer, float, string, lists of integers, floats or strings, or a point in time (dcp::Timestamp,
// Dora's `timestamp` parameter), keyed by name.
//
//   dcp::Metadata metadata;
//   metadata.set("seq", seq);                    // any integer type: signed -> int64, unsigned -> uint64
//   metadata.set("encoding", "rgb8");            // const char*, std::string, std::string_view -> string
//   metadata.set_uint("bytes", buffer.size());   // or say the type: set_int, set_uint, set_float, ...
//   metadata.set("captured", dcp::Timestamp::from(std::chrono::system_clock::now()));
//   std::optional<std::uint64_t> seq = input.metadata.get_uint("seq");
//   std::optional<dcp::Timestamp> captured = input.metadata.get_timestamp("captured");
//
// set() picks the alternative from the C++ type (bool stays bool, signed integers become int64,
// unsigned ones uint64, float/double become double, text becomes string, dcp::Timestamp stays a
// timestamp); any other type fails to
// compile with one static_assert saying which types are accepted. Assigning to `parameters[key]`
// directly works for the exact alternative types only: since std::uint64_t became an alternative, a
// std::uint32_t or unsigned short converts equally well to int64 and uint64, and std::variant refuses
// it as ambiguous; set() has no such case.
//
// Integers across backends: Dora's parameters have only a signed 64-bit integer, so on Dora a uint64
// travels as an integer and arrives as int64 (a uint64 above INT64_MAX cannot be sent to Dora: the
// send throws std::invalid_argument naming the key). The local runner and the harness keep uint64
// as it is. So that the same node code reads the same value everywhere, get_uint() also accepts a
// non-negative int64 and get_int() a uint64 up to INT64_MAX; neither ever wraps a value.
//
// Timestamps: a dcp::Timestamp is its own alternative, not an integer: get_int() never reads one and
// get_timestamp() never reads an integer, on every backend. It holds what Dora's C++ bridge hands over
// for a `timestamp` parameter: signed 64-bit nanoseconds since the UNIX epoch, UTC (negative = before
// 1970), so every value round-trips through Dora unchanged. (Metadata::timestamp_ns, the message's own
// send time, is a different thing and is not a parameter.)
//
// Thread safety: plain values. Blocking: none.
// Limits: see dcp::kMaxParameters and dcp::kMaxParameterKeyLength (checked where metadata crosses a
// process boundary: sending it throws std::invalid_argument when a limit is exceeded).
#pragma once

#include <chrono>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace dcp {

/// A point in time carried as a parameter (Dora's `timestamp` parameter): nanoseconds since the
/// UNIX epoch, UTC; negative values are instants before 1970.
struct Timestamp {
  std::int64_t nanoseconds_since_epoch = 0;

  /// `time` in nanoseconds (exact on a system clock that counts nanoseconds, as libstdc++'s does;
  /// finer ticks are truncated toward zero).
  [[nodiscard]] static Timestamp from(std::chrono::system_clock::time_point time) {
    return Timestamp{std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count()};
  }
  /// This instant on the system clock (exact on a clock that counts nanoseconds; coarser ticks
  /// truncate toward zero).
  [[nodiscard]] std::chrono::system_clock::time_point time_point() const {
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(nanoseconds_since_epoch)));
  }

  friend auto operator<=>(const Timestamp&, const Timestamp&) = default;
};

/// One metadata parameter. New alternatives are appended (existing indices stay as they are).
using Parameter = std::variant<bool, std::int64_t, double, std::string, std::vector<std::int64_t>,
                               std::vector<double>, std::vector<std::string>, std::uint64_t, Timestamp>;

/// Most parameters one message may carry.
inline constexpr std::size_t kMaxParameters = 64;
/// Longest parameter key, in bytes.
inline constexpr std::size_t kMaxParameterKeyLength = 256;

namespace detail {
// Plain character types are refused (is 'a' a number or text?); signed/unsigned char are
// std::int8_t/std::uint8_t and count as integers.
template <class T>
inline constexpr bool kIsCharacter = std::is_same_v<T, char> || std::is_same_v<T, wchar_t> ||
                                     std::is_same_v<T, char8_t> || std::is_same_v<T, char16_t> ||
                                     std::is_same_v<T, char32_t>;
template <class>
inline constexpr bool kUnsupportedParameter = false;
}  // namespace detail

struct Metadata {
  /// When the message was sent: nanoseconds since the UNIX epoch (system clock). 0 = unset; the
  /// node layer fills it in when sending.
  std::int64_t timestamp_ns = 0;
  std::map<std::string, Parameter, std::less<>> parameters;

  // ---- typed setters: each replaces any parameter of that key and returns *this ----
  Metadata& set_bool(std::string_view key, bool value) { return put(key, value); }
  Metadata& set_int(std::string_view key, std::int64_t value) { return put(key, value); }
  Metadata& set_uint(std::string_view key, std::uint64_t value) { return put(key, value); }
  Metadata& set_float(std::string_view key, double value) { return put(key, value); }
  Metadata& set_string(std::string_view key, std::string value) { return put(key, std::move(value)); }
  Metadata& set_int_list(std::string_view key, std::vector<std::int64_t> value) { return put(key, std::move(value)); }
  Metadata& set_float_list(std::string_view key, std::vector<double> value) { return put(key, std::move(value)); }
  Metadata& set_string_list(std::string_view key, std::vector<std::string> value) {
    return put(key, std::move(value));
  }
  Metadata& set_timestamp(std::string_view key, Timestamp value) { return put(key, value); }

  /// Sets `key` to `value`, the alternative chosen from the type (see the top of this header).
  /// A null `const char*` throws std::invalid_argument.
  template <class T>
  Metadata& set(std::string_view key, T&& value) {
    using V = std::remove_cvref_t<T>;
    if constexpr (std::is_same_v<V, Parameter>) {
      return put(key, std::forward<T>(value));
    } else if constexpr (std::is_same_v<V, bool>) {
      return set_bool(key, value);
    } else if constexpr (std::is_same_v<V, Timestamp>) {
      return set_timestamp(key, value);
    } else if constexpr (detail::kIsCharacter<V>) {
      static_assert(detail::kUnsupportedParameter<V>,
                    "dcp::Metadata::set: a character is not a parameter type; pass std::string(1, c) for text "
                    "or cast it to an integer type");
      return *this;
    } else if constexpr (std::is_integral_v<V> && std::is_signed_v<V>) {
      static_assert(sizeof(V) <= sizeof(std::int64_t), "dcp::Metadata::set: integers wider than 64 bits are not supported");
      return set_int(key, static_cast<std::int64_t>(value));
    } else if constexpr (std::is_integral_v<V>) {
      static_assert(sizeof(V) <= sizeof(std::uint64_t), "dcp::Metadata::set: integers wider than 64 bits are not supported");
      return set_uint(key, static_cast<std::uint64_t>(value));
    } else if constexpr (std::is_same_v<V, float> || std::is_same_v<V, double>) {
      return set_float(key, static_cast<double>(value));
    } else if constexpr (std::is_same_v<V, const char*> || std::is_same_v<V, char*>) {
      if (value == nullptr) throw std::invalid_argument("dcp::Metadata::set: parameter '" + std::string(key) + "': null string");
      return set_string(key, std::string(value));
    } else if constexpr (std::is_same_v<V, std::string>) {
      return set_string(key, std::forward<T>(value));
    } else if constexpr (std::is_convertible_v<T, std::string_view>) {
      return set_string(key, std::string(std::string_view(value)));
    } else if constexpr (std::is_same_v<V, std::vector<std::int64_t>> || std::is_same_v<V, std::vector<double>> ||
                         std::is_same_v<V, std::vector<std::string>>) {
      return put(key, std::forward<T>(value));
    } else {
      static_assert(detail::kUnsupportedParameter<V>,
                    "dcp::Metadata::set: unsupported parameter type; use bool, an integer type (signed -> int64, "
                    "unsigned -> uint64), float or double, a string (const char*, std::string, std::string_view), "
                    "std::vector<std::int64_t>, std::vector<double>, std::vector<std::string> or dcp::Timestamp");
      return *this;
    }
  }

  // ---- typed getters: nullopt when the key is absent or holds another type ----
  [[nodiscard]] std::optional<bool> get_bool(std::string_view key) const { return get<bool>(key); }
  /// An int64, or a uint64 up to INT64_MAX (a larger one: nullopt, never wrapped).
  [[nodiscard]] std::optional<std::int64_t> get_int(std::string_view key) const {
    if (const auto value = get<std::int64_t>(key)) return value;
    if (const auto value = get<std::uint64_t>(key)) {
      if (*value <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return static_cast<std::int64_t>(*value);
      }
    }
    return std::nullopt;
  }
  /// A uint64, or an int64 that is not negative (a negative one: nullopt, never wrapped).
  [[nodiscard]] std::optional<std::uint64_t> get_uint(std::string_view key) const {
    if (const auto value = get<std::uint64_t>(key)) return value;
    if (const auto value = get<std::int64_t>(key)) {
      if (*value >= 0) return static_cast<std::uint64_t>(*value);
    }
    return std::nullopt;
  }
  [[nodiscard]] std::optional<double> get_float(std::string_view key) const { return get<double>(key); }
  [[nodiscard]] std::optional<std::string> get_str(std::string_view key) const { return get<std::string>(key); }
  [[nodiscard]] std::optional<std::string> get_string(std::string_view key) const { return get<std::string>(key); }
  [[nodiscard]] std::optional<std::vector<std::int64_t>> get_int_list(std::string_view key) const {
    return get<std::vector<std::int64_t>>(key);
  }
  [[nodiscard]] std::optional<std::vector<double>> get_float_list(std::string_view key) const {
    return get<std::vector<double>>(key);
  }
  [[nodiscard]] std::optional<std::vector<std::string>> get_string_list(std::string_view key) const {
    return get<std::vector<std::string>>(key);
  }
  /// A dcp::Timestamp only (an integer parameter is never read as one).
  [[nodiscard]] std::optional<Timestamp> get_timestamp(std::string_view key) const { return get<Timestamp>(key); }

  friend bool operator==(const Metadata&, const Metadata&) = default;

 private:
  /// Stores exactly the alternative V (no converting construction of the variant).
  template <class V>
  Metadata& put(std::string_view key, V&& value) {
    using Alternative = std::remove_cvref_t<V>;
    if constexpr (std::is_same_v<Alternative, Parameter>) {
      parameters.insert_or_assign(std::string(key), std::forward<V>(value));
    } else {
      parameters.insert_or_assign(std::string(key), Parameter(std::in_place_type<Alternative>, std::forward<V>(value)));
    }
    return *this;
  }

  template <class T>
  std::optional<T> get(std::string_view key) const {
    const auto it = parameters.find(key);
    if (it == parameters.end()) return std::nullopt;
    if (const T* value = std::get_if<T>(&it->second)) return *value;
    return std::nullopt;
  }
};

}  // namespace dcp
