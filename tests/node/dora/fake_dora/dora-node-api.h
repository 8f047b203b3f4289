// tests/node/dora/fake_dora/dora-node-api.h — a FAKE of the header Dora's cxx bridge generates for the
// crate dora-node-api-cxx, written by us to the bridge's declarations (Dora's apis/c++/node/src/lib.rs)
// so that dcp's adapter (node/src/dora/) can be tested without Rust.
//
// Its shape is the real header's, because that is what the adapter is compiled against:
//   - self-contained: the rust:: types come with it (rust_builtins.h), there is no rust/cxx.h and NO
//     rust::Error. A bridge function declared `-> Result<T>` in Rust throws an exception derived from
//     std::exception (the fake throws its own private type, as the real .cc does); every other bridge
//     function is noexcept, as cxx declares it.
//   - the same global names, struct members, enum values (uint8_t) and free functions; Dora's opaque
//     Rust types (Events, OutputSender, DoraEvent, Metadata, ...) are handled only through rust::Box.
//     Metadata cannot be built, copied or moved by the caller.
// Functions the adapter does not use (Arrow, service/action patterns, merged streams, JSON forms)
// are declared and not defined: using one fails to link, which is the signal to fake it too.
//
// Version lines (one fake, two shapes):
//   default        Dora's main as of August 2026 (after v1.0.0-rc.4): event_as_input_with_metadata,
//                  DoraInputWithMetadata and the service/action functions.
//   FAKE_DORA_RC3  v1.0.0-rc.3 and v1.0.0-rc.4 (identical C++ APIs): without those.
//
// Behaviour is scripted by the tests through fake_dora.hpp (queue events, capture sends, inject
// errors); see there.
//
// Thread safety: as Dora's — the Events box on one thread, the OutputSender box on another, both at
// once. Test-only: never part of dcp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "rust_builtins.h"

// Opaque Rust types (their drop() is in fake_dora.cpp, as Dora's is in Rust).
struct Events;
struct OutputSender;
struct DoraEvent;
struct DrainedEvents;
struct MergedEvents;
struct MergedDoraEvent;
struct Metadata;

namespace rust {
inline namespace cxxbridge1 {
#define FAKE_DORA_BOX_DROP(Type)                 \
  template <>                                    \
  struct BoxDrop<::Type> {                       \
    static void drop(::Type* object) noexcept;   \
  };
FAKE_DORA_BOX_DROP(Events)
FAKE_DORA_BOX_DROP(OutputSender)
FAKE_DORA_BOX_DROP(DoraEvent)
FAKE_DORA_BOX_DROP(DrainedEvents)
FAKE_DORA_BOX_DROP(MergedEvents)
FAKE_DORA_BOX_DROP(MergedDoraEvent)
FAKE_DORA_BOX_DROP(Metadata)
#undef FAKE_DORA_BOX_DROP
}  // namespace cxxbridge1
}  // namespace rust

// Fake only: how the tests describe Dora metadata parameters.
namespace fake_dora {
/// A `timestamp` parameter (Dora keeps a DateTime; it crosses the bridge as ns since the epoch).
struct TimestampNs {
  std::int64_t ns = 0;
  bool beyond_i64_ns = false;  ///< a date-time a Rust node set that i64 ns cannot hold (e.g. year 3000)
  friend bool operator==(const TimestampNs&, const TimestampNs&) = default;
};
/// One Dora metadata parameter, by type (in the order of MetadataValueType).
using Parameter = std::variant<bool, std::int64_t, double, std::string, std::vector<std::int64_t>, std::vector<double>,
                               std::vector<std::string>, TimestampNs>;
using Parameters = std::map<std::string, Parameter>;
struct MetadataAccess;  // fake_dora.cpp: makes and reads Metadata
}  // namespace fake_dora

// ---------------------------------------------------------------------------------------------
// Shared types
// ---------------------------------------------------------------------------------------------

struct DoraNode final {
  rust::Box<::Events> events;
  rust::Box<::OutputSender> send_output;
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

struct DoraInput final {
  rust::String id;
  rust::Vec<std::uint8_t> data;
};

#ifndef FAKE_DORA_RC3
struct DoraInputWithMetadata final {
  rust::String id;
  rust::Vec<std::uint8_t> data;
  rust::Box<::Metadata> metadata;
};
#endif

struct DoraResult final {
  rust::String error;
};

#ifndef FAKE_DORA_RC3
enum class DoraPatternStatus : std::uint8_t {
  Matched = 0,
  Timeout = 1,
  ServerRestarted = 2,
  StreamEnded = 3,
  StreamError = 4,
  InvalidArgument = 5,
};

struct DoraPatternResult final {
  ::DoraPatternStatus status;
  rust::String error;
  rust::Box<::DoraEvent> event;
};

struct DoraRequestId final {
  rust::String request_id;
  rust::String error;
};
#endif

struct DoraNodeFailed final {
  rust::Vec<rust::String> affected_input_ids;
  rust::String error;
  rust::String source_node_id;
};

struct ArrowInputInfo final {
  rust::String id;
  rust::Box<::Metadata> metadata;
  rust::String error;
};

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

struct CombinedEvent final {
  rust::Box<::MergedDoraEvent> event;
  bool is_dora() const noexcept;
};

struct CombinedEvents final {
  rust::Box<::MergedEvents> events;
  ::CombinedEvent next() noexcept;
};

/// Dora's metadata: a timestamp (uhlc NTP64) and typed parameters. Opaque as in Dora: only
/// new_metadata() and the bridge make one. The getters and type() throw (std::exception-derived)
/// for a missing key or another type, as Dora's do. set_timestamp accepts every i64 (Dora's
/// date-time range is wider than i64 ns); get_timestamp throws for a TimestampNs marked
/// beyond_i64_ns, as Dora's does for a date-time that i64 ns cannot hold.
struct Metadata final {
  Metadata(const Metadata&) = delete;
  Metadata& operator=(const Metadata&) = delete;
  ~Metadata() = default;

  std::uint64_t timestamp() const noexcept;
  bool get_bool(rust::Str key) const;
  double get_float(rust::Str key) const;
  std::int64_t get_int(rust::Str key) const;
  rust::String get_str(rust::Str key) const;
  rust::Vec<std::int64_t> get_list_int(rust::Str key) const;
  rust::Vec<double> get_list_float(rust::Str key) const;
  rust::Vec<rust::String> get_list_string(rust::Str key) const;
  std::int64_t get_timestamp(rust::Str key) const;
  rust::String get_json(rust::Str key) const;
  rust::String to_json() const noexcept;
  rust::Vec<rust::String> list_keys() const noexcept;
  void set_bool(rust::Str key, bool value);
  void set_int(rust::Str key, std::int64_t value);
  void set_float(rust::Str key, double value);
  void set_string(rust::Str key, rust::String value);
  void set_list_int(rust::Str key, rust::Vec<std::int64_t> value);
  void set_list_float(rust::Str key, rust::Vec<double> value);
  void set_list_string(rust::Str key, rust::Vec<rust::String> value);
  void set_timestamp(rust::Str key, std::int64_t value);
  ::MetadataValueType type(rust::Str key) const;
#ifndef FAKE_DORA_RC3
  void set_request_id(rust::String value);
  rust::String request_id() const;
  void set_goal_id(rust::String value);
  rust::String goal_id() const;
  void set_goal_status(rust::String value);
  rust::String goal_status() const;
#endif

 private:
  friend struct fake_dora::MetadataAccess;
  Metadata() = default;
  std::uint64_t timestamp_ntp64_ = 0;
  fake_dora::Parameters parameters_;
};

// ---------------------------------------------------------------------------------------------
// Free functions (the ones without noexcept throw on failure)
// ---------------------------------------------------------------------------------------------

::DoraNode init_dora_node();
::CombinedEvents dora_events_into_combined(rust::Box<::Events> events) noexcept;
::CombinedEvents empty_combined_events() noexcept;
rust::Box<::DoraEvent> next_event(rust::Box<::Events>& events) noexcept;
rust::Box<::DoraEvent> next_event_timeout(rust::Box<::Events>& events, std::uint64_t timeout_ms) noexcept;
rust::Box<::DoraEvent> try_next_event(rust::Box<::Events>& events) noexcept;
bool events_is_empty(const rust::Box<::Events>& events) noexcept;
rust::Box<::DrainedEvents> drain_events(rust::Box<::Events>& events) noexcept;
std::size_t drained_events_len(const rust::Box<::DrainedEvents>& drained) noexcept;
rust::Box<::DoraEvent> drained_events_next(rust::Box<::DrainedEvents>& drained) noexcept;
::DoraEventType event_type(const rust::Box<::DoraEvent>& event) noexcept;
::DoraInput event_as_input(rust::Box<::DoraEvent> event);
#ifndef FAKE_DORA_RC3
::DoraInputWithMetadata event_as_input_with_metadata(rust::Box<::DoraEvent> event);
#endif
::DoraNodeFailed event_as_node_failed(rust::Box<::DoraEvent> event);
::DoraResult close_outputs(rust::Box<::OutputSender>& output_sender, rust::Vec<rust::String> output_ids) noexcept;
rust::String node_config_json(const rust::Box<::OutputSender>& output_sender);
rust::String dataflow_descriptor_json(const rust::Box<::OutputSender>& output_sender);
::DoraResult send_output(rust::Box<::OutputSender>& output_sender, rust::String id,
                         rust::Slice<const std::uint8_t> data) noexcept;
::DoraResult log_message(const rust::Box<::OutputSender>& output_sender, rust::String level,
                         rust::String message) noexcept;
::DoraResult send_output_with_metadata(rust::Box<::OutputSender>& output_sender, rust::String id,
                                       rust::Slice<const std::uint8_t> data, rust::Box<::Metadata> metadata) noexcept;
#ifndef FAKE_DORA_RC3
rust::String new_request_id() noexcept;
rust::String new_goal_id() noexcept;
rust::String goal_status_succeeded() noexcept;
rust::String goal_status_aborted() noexcept;
rust::String goal_status_canceled() noexcept;
::DoraRequestId send_service_request(rust::Box<::OutputSender>& output_sender, rust::String output_id,
                                     rust::Slice<const std::uint8_t> data, rust::Box<::Metadata> metadata) noexcept;
::DoraRequestId send_arrow_service_request(rust::Box<::OutputSender>& output_sender, rust::String output_id,
                                           std::uint8_t* array_ptr, std::uint8_t* schema_ptr,
                                           rust::Box<::Metadata> metadata) noexcept;
::DoraResult send_service_response(rust::Box<::OutputSender>& output_sender, rust::String output_id,
                                   rust::Slice<const std::uint8_t> data, rust::Box<::Metadata> metadata) noexcept;
::DoraPatternResult recv_service_response(rust::Box<::Events>& events, rust::Str request_id,
                                          rust::Str server_node_id, std::uint64_t timeout_ms) noexcept;
::DoraPatternResult recv_action_result(rust::Box<::Events>& events, rust::Str goal_id, rust::Str server_node_id,
                                       std::uint64_t timeout_ms) noexcept;
#endif
rust::Box<::DoraEvent> downcast_dora(::CombinedEvent event);
::DoraResult send_arrow_output(rust::Box<::OutputSender>& output_sender, rust::String id, std::uint8_t* array_ptr,
                               std::uint8_t* schema_ptr) noexcept;
::DoraResult send_arrow_output(rust::Box<::OutputSender>& output_sender, rust::String id, std::uint8_t* array_ptr,
                               std::uint8_t* schema_ptr, rust::Box<::Metadata> metadata) noexcept;
::DoraResult event_as_arrow_input(rust::Box<::DoraEvent> event, std::uint8_t* out_array,
                                  std::uint8_t* out_schema) noexcept;
::ArrowInputInfo event_as_arrow_input_with_info(rust::Box<::DoraEvent> event, std::uint8_t* out_array,
                                                std::uint8_t* out_schema) noexcept;
rust::Box<::Metadata> new_metadata() noexcept;
