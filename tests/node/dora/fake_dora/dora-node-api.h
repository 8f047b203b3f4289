// tests/node/dora/fake_dora/dora-node-api.h — a FAKE of the header Dora's cxx bridge generates for the
// crate dora-node-api-cxx, written to the functions listed in /work/shared/dora-reference.md and
// the signatures of dora's apis/c++/node/src/lib.rs (cxx maps `&mut Box<T>` to rust::Box<T>&,
// `&[u8]` to rust::Slice<const uint8_t>, `Result<T>` to "returns T, throws rust::Error").
//
// Behaviour is scripted by the tests through fake_dora.hpp (queue events, capture sends, inject
// errors); see there. Defining FAKE_DORA_MINIMAL leaves out what older Dora versions lack
// (event_as_input_with_metadata, send_output_with_metadata, Metadata, event_as_node_failed), so the
// adapter can also be tested in that configuration.
//
// Thread safety: as Dora's — the Events box on one thread, the OutputSender box on another, both at
// once. Test-only: never part of dcp.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "rust/cxx.h"

// Opaque Rust types (their drop() is in fake_dora.cpp, as Dora's is in Rust).
struct Events;
struct OutputSender;
struct DoraEvent;

namespace rust {
inline namespace cxxbridge1 {
template <>
struct BoxDrop<::Events> {
  static void drop(::Events* object) noexcept;
};
template <>
struct BoxDrop<::OutputSender> {
  static void drop(::OutputSender* object) noexcept;
};
template <>
struct BoxDrop<::DoraEvent> {
  static void drop(::DoraEvent* object) noexcept;
};
}  // namespace cxxbridge1
}  // namespace rust

// Fake only: how the tests describe Dora metadata parameters (also in the minimal configuration,
// where they can be scripted but never reach the adapter).
namespace fake_dora {
/// A `timestamp` parameter (Dora keeps a DateTime; it crosses the bridge as ns since the epoch).
struct TimestampNs {
  std::int64_t ns = 0;
  friend bool operator==(const TimestampNs&, const TimestampNs&) = default;
};
/// One Dora metadata parameter, by type.
using Parameter = std::variant<bool, std::int64_t, double, std::string, std::vector<std::int64_t>, std::vector<double>,
                               std::vector<std::string>, TimestampNs>;
using Parameters = std::map<std::string, Parameter>;
}  // namespace fake_dora

struct DoraNode {
  rust::Box<Events> events;
  rust::Box<OutputSender> send_output;
};

enum class DoraEventType : std::uint8_t {
  Stop = 0,
  Input = 1,
  InputClosed = 2,
  Error = 3,
  Unknown = 4,
  AllInputsClosed = 5,
  Empty = 6,
  Timeout = 7,
  NodeFailed = 8,
  Reload = 9,
};

struct DoraInput {
  rust::String id;
  rust::Vec<std::uint8_t> data;
};

struct DoraResult {
  rust::String error;
};

DoraNode init_dora_node();
rust::Box<DoraEvent> next_event(rust::Box<Events>& events);
rust::Box<DoraEvent> next_event_timeout(rust::Box<Events>& events, std::uint64_t timeout_ms);
rust::Box<DoraEvent> try_next_event(rust::Box<Events>& events);
DoraEventType event_type(const rust::Box<DoraEvent>& event) noexcept;
DoraInput event_as_input(rust::Box<DoraEvent> event);
DoraResult send_output(rust::Box<OutputSender>& output_sender, rust::String id, rust::Slice<const std::uint8_t> data);
DoraResult close_outputs(rust::Box<OutputSender>& output_sender, rust::Vec<rust::String> output_ids);

#ifndef FAKE_DORA_MINIMAL

enum class MetadataValueType : std::uint8_t {
  Bool = 0,
  Integer = 1,
  Float = 2,
  String = 3,
  ListInt = 4,
  ListFloat = 5,
  ListString = 6,
  Timestamp = 7,
};

/// Dora's metadata: a timestamp (uhlc NTP64) and typed parameters. The getters throw rust::Error
/// for a missing key or another type, as Dora's do.
struct Metadata final {
  std::uint64_t timestamp() const noexcept;
  bool get_bool(rust::Str key) const;
  double get_float(rust::Str key) const;
  std::int64_t get_int(rust::Str key) const;
  rust::String get_str(rust::Str key) const;
  rust::Vec<std::int64_t> get_list_int(rust::Str key) const;
  rust::Vec<double> get_list_float(rust::Str key) const;
  rust::Vec<rust::String> get_list_string(rust::Str key) const;
  std::int64_t get_timestamp(rust::Str key) const;
  rust::Vec<rust::String> list_keys() const noexcept;
  void set_bool(rust::Str key, bool value);
  void set_int(rust::Str key, std::int64_t value);
  void set_float(rust::Str key, double value);
  void set_string(rust::Str key, rust::String value);
  void set_list_int(rust::Str key, rust::Vec<std::int64_t> value);
  void set_list_float(rust::Str key, rust::Vec<double> value);
  void set_list_string(rust::Str key, rust::Vec<rust::String> value);
  void set_timestamp(rust::Str key, std::int64_t value);
  MetadataValueType type(rust::Str key) const;

  // Fake only: the state the tests script and inspect.
  std::uint64_t timestamp_ntp64 = 0;
  fake_dora::Parameters parameters;
};

struct DoraInputWithMetadata {
  rust::String id;
  rust::Vec<std::uint8_t> data;
  rust::Box<Metadata> metadata;
};

struct DoraNodeFailed {
  rust::Vec<rust::String> affected_input_ids;
  rust::String error;
  rust::String source_node_id;
};

rust::Box<Metadata> new_metadata();
DoraInputWithMetadata event_as_input_with_metadata(rust::Box<DoraEvent> event);
DoraNodeFailed event_as_node_failed(rust::Box<DoraEvent> event);
DoraResult send_output_with_metadata(rust::Box<OutputSender>& output_sender, rust::String id,
                                     rust::Slice<const std::uint8_t> data, rust::Box<Metadata> metadata);

#endif  // FAKE_DORA_MINIMAL
