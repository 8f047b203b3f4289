// The Dora backend (see dora_backend.hpp): dcp's EventSource and OutputSink on Dora's C++ node API.
//
// Written against the functions of dora-node-api.h (the cxx bridge of dora-node-api-cxx, v1.0.0-rc.3
// and later). Dora's generated types live in the global namespace (::DoraNode, ::Events,
// ::OutputSender, ::DoraEvent, ::Metadata, ...); dcp's own Metadata is dcp::Metadata.
//
// Errors: the generated header is self-contained and declares no rust::Error. A bridge function
// declared `-> Result<T>` in Rust throws an exception derived from std::exception (its type is
// private to the generated .cc), so that is what is caught here, always around the bridge call
// alone; functions without Result are noexcept and report failures in DoraResult::error.
//
// The optional part of the API, detected by node/src/dora/CMakeLists.txt from the header:
//   DCP_DORA_HAS_INPUT_METADATA  event_as_input_with_metadata (Dora after v1.0.0-rc.4); without it
//                                inputs arrive without metadata. Sending metadata
//                                (send_output_with_metadata, new_metadata) is in the floor.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "dora-node-api.h"
#include "dora/dora_backend.hpp"
#include "backend.hpp"

#ifndef DCP_DORA_HAS_INPUT_METADATA
#define DCP_DORA_HAS_INPUT_METADATA 0
#endif

namespace dcp::detail {

std::int64_t dora_timestamp_to_ns(std::uint64_t ntp64) noexcept {
  constexpr std::uint64_t kNanosPerSecond = 1'000'000'000;
  const std::uint64_t seconds = ntp64 >> 32;
  const std::uint64_t fraction = ntp64 & 0xFFFF'FFFFu;
  // fraction * 1e9 < 2^32 * 2^30 fits in 64 bits; seconds * 1e9 < 2^32 * 2^30 fits in int64.
  return static_cast<std::int64_t>(seconds * kNanosPerSecond + ((fraction * kNanosPerSecond) >> 32));
}

namespace {

std::string to_std(const rust::String& text) { return std::string(text.data(), text.size()); }

rust::String to_rust(std::string_view text) { return rust::String(text.data(), text.size()); }

std::string comma_separated(const std::vector<std::string>& items) {
  std::string text;
  for (const std::string& item : items) {
    if (!text.empty()) text += ", ";
    text += item;
  }
  return text.empty() ? "none" : text;
}

// ---------------------------------------------------------------------------------------------
// Metadata
// ---------------------------------------------------------------------------------------------

#if DCP_DORA_HAS_INPUT_METADATA
/// Dora's metadata of a received input as dcp::Metadata. Throws (std::exception) if Dora refuses a
/// lookup (it should not: every key comes from list_keys and is read with its own type).
Metadata from_dora(const ::Metadata& dora) {
  Metadata metadata;
  metadata.timestamp_ns = dora_timestamp_to_ns(dora.timestamp());
  const rust::Vec<rust::String> keys = dora.list_keys();
  for (std::size_t i = 0; i < keys.size(); ++i) {
    std::string key = to_std(keys[i]);
    const rust::Str k(key.data(), key.size());
    Parameter value;
    switch (dora.type(k)) {
      case MetadataValueType::Bool: value = dora.get_bool(k); break;
      case MetadataValueType::Integer: value = std::int64_t{dora.get_int(k)}; break;
      case MetadataValueType::Float: value = double{dora.get_float(k)}; break;
      case MetadataValueType::String: value = to_std(dora.get_str(k)); break;
      case MetadataValueType::ListInt: {
        const rust::Vec<std::int64_t> list = dora.get_list_int(k);
        value = std::vector<std::int64_t>(list.data(), list.data() + list.size());
        break;
      }
      case MetadataValueType::ListFloat: {
        const rust::Vec<double> list = dora.get_list_float(k);
        value = std::vector<double>(list.data(), list.data() + list.size());
        break;
      }
      case MetadataValueType::ListString: {
        const rust::Vec<rust::String> list = dora.get_list_string(k);
        std::vector<std::string> strings;
        strings.reserve(list.size());
        for (std::size_t j = 0; j < list.size(); ++j) strings.push_back(to_std(list[j]));
        value = std::move(strings);
        break;
      }
      // Dora keeps a date-time; the bridge hands it over as i64 ns since the epoch, which is what
      // dcp::Timestamp holds (an instant outside that range, ~1677..2262, makes get_timestamp throw).
      case MetadataValueType::Timestamp: value = Timestamp{std::int64_t{dora.get_timestamp(k)}}; break;
      default: continue;  // a type newer than this adapter: left out rather than guessed
    }
    metadata.parameters.emplace(std::move(key), std::move(value));
  }
  return metadata;
}
#endif

/// dcp::Metadata's parameters as Dora metadata for send_output_with_metadata. The timestamp is not
/// carried (Dora stamps the message itself). Throws std::invalid_argument for a string that is not
/// UTF-8 or for a uint64 above INT64_MAX (Dora's integers are signed), and NodeError when Dora refuses
/// a parameter, each naming the output and the key.
rust::Box<::Metadata> to_dora(std::string_view output_id, const Metadata& metadata) {
  rust::Box<::Metadata> dora = new_metadata();
  for (const auto& [key, value] : metadata.parameters) {
    const std::string where = "output '" + std::string(output_id) + "': metadata parameter '" + key + "'";
    try {
      const rust::Str k(key.data(), key.size());
      std::visit(
          [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, bool>) {
              dora->set_bool(k, v);
            } else if constexpr (std::is_same_v<T, std::int64_t>) {
              dora->set_int(k, v);
            } else if constexpr (std::is_same_v<T, std::uint64_t>) {
              // Dora's Parameter has only Integer(i64): a uint64 goes as an integer when it fits
              // (it arrives as int64; Metadata::get_uint reads it back) and is refused when it does not.
              if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
                throw std::out_of_range("unsigned value " + std::to_string(v) +
                                        " exceeds Dora's signed 64-bit integer (at most " +
                                        std::to_string(std::numeric_limits<std::int64_t>::max()) + ")");
              }
              dora->set_int(k, static_cast<std::int64_t>(v));
            } else if constexpr (std::is_same_v<T, Timestamp>) {
              dora->set_timestamp(k, v.nanoseconds_since_epoch);  // every i64 is an instant Dora accepts
            } else if constexpr (std::is_same_v<T, double>) {
              dora->set_float(k, v);
            } else if constexpr (std::is_same_v<T, std::string>) {
              dora->set_string(k, to_rust(v));
            } else if constexpr (std::is_same_v<T, std::vector<std::int64_t>>) {
              rust::Vec<std::int64_t> list;
              list.reserve(v.size());
              for (const std::int64_t item : v) list.push_back(item);
              dora->set_list_int(k, std::move(list));
            } else if constexpr (std::is_same_v<T, std::vector<double>>) {
              rust::Vec<double> list;
              list.reserve(v.size());
              for (const double item : v) list.push_back(item);
              dora->set_list_float(k, std::move(list));
            } else {
              static_assert(std::is_same_v<T, std::vector<std::string>>, "a dcp::Parameter type is not mapped");
              rust::Vec<rust::String> list;
              list.reserve(v.size());
              for (const std::string& item : v) list.push_back(to_rust(item));
              dora->set_list_string(k, std::move(list));
            }
          },
          value);
    } catch (const std::invalid_argument& error) {  // rust::Str / rust::String: not UTF-8
      throw std::invalid_argument(where + ": " + error.what() + " (Dora's keys and strings must be UTF-8)");
    } catch (const std::out_of_range& error) {  // a uint64 above INT64_MAX
      throw std::invalid_argument(where + ": " + error.what());
    } catch (const std::exception& error) {  // a set_* of the bridge failed
      throw NodeError("dcp: " + where + ": Dora refused it: " + error.what());
    }
  }
  return dora;
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

Payload adopt(rust::Vec<std::uint8_t> data) {
  if (data.empty()) return Payload();
  auto owner = std::make_shared<rust::Vec<std::uint8_t>>(std::move(data));  // the buffer does not move
  const std::span<const std::uint8_t> bytes(owner->data(), owner->size());
  return PayloadAccess::adopt(std::move(owner), bytes);
}

class DoraEventSource final : public EventSource {
 public:
  DoraEventSource(rust::Box<::Events> events, std::vector<std::string> data_inputs, bool only_data_inputs) noexcept
      : events_(std::move(events)), data_inputs_(std::move(data_inputs)), only_data_inputs_(only_data_inputs) {}

  EventResult next(SteadyTime deadline) override {
    for (;;) {
      if (ended_) return EventResult(EventStatus::ended);
      rust::Box<::DoraEvent> event = receive(deadline);
      const DoraEventType type = event_type(event);
      if (stop_delivered_) {  // the Stop rule (node.hpp): only the inputs queued before Stop, then the end
        switch (type) {
          case DoraEventType::Input: return EventResult(input_event(std::move(event)));
          case DoraEventType::AllInputsClosed: ended_ = true; return EventResult(EventStatus::ended);
          case DoraEventType::Timeout:
          case DoraEventType::Empty: return EventResult(EventStatus::timeout);
          default: continue;  // Dora sends nothing else after Stop; skipped if it did
        }
      }
      switch (type) {
        case DoraEventType::Input: return EventResult(input_event(std::move(event)));
        case DoraEventType::InputClosed: ++inputs_closed_; return EventResult(InputClosedEvent{closed_input_id()});
        case DoraEventType::AllInputsClosed: return last(AllInputsClosedEvent{});
        case DoraEventType::Stop: stop_delivered_ = true; return EventResult(StopEvent{stop_cause()});
        case DoraEventType::Error:
          return EventResult(ErrorEvent{"Dora reported an error event (its C++ node API does not give the message)"});
        case DoraEventType::NodeFailed: return EventResult(node_failed(std::move(event)));
        case DoraEventType::Timeout:
        case DoraEventType::Empty: return EventResult(EventStatus::timeout);
        case DoraEventType::Unknown:
        case DoraEventType::Reload: break;  // skipped (see dora_backend.hpp)
        default: break;                     // a type newer than this adapter: skipped like Unknown
      }
    }
  }

 private:
  rust::Box<::DoraEvent> receive(SteadyTime deadline) {
    if (deadline == kNoDeadline) return next_event(events_);
    if (deadline == kPollOnly) return try_next_event(events_);
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= left.zero()) return try_next_event(events_);
    // Rounded up: Dora must not give up before the deadline.
    const auto milliseconds = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    return next_event_timeout(events_, static_cast<std::uint64_t>(milliseconds));
  }

  Event input_event(rust::Box<::DoraEvent> event) {
#if DCP_DORA_HAS_INPUT_METADATA
    std::optional<::DoraInputWithMetadata> input;
    try {
      input.emplace(event_as_input_with_metadata(std::move(event)));
    } catch (const std::exception& error) {
      return not_bytes(error);
    }
    Metadata metadata;
    try {
      metadata = from_dora(*input->metadata);
    } catch (const std::exception& error) {
      return ErrorEvent{"Dora could not give the metadata of input '" + to_std(input->id) + "': " + error.what()};
    }
    return InputEvent{to_std(input->id), adopt(std::move(input->data)), std::move(metadata)};
#else
    std::optional<::DoraInput> input;
    try {
      input.emplace(event_as_input(std::move(event)));
    } catch (const std::exception& error) {
      return not_bytes(error);
    }
    return InputEvent{to_std(input->id), adopt(std::move(input->data)), Metadata{}};  // timestamp_ns 0: unknown
#endif
  }

  static Event not_bytes(const std::exception& error) {
    return ErrorEvent{std::string("Dora could not hand an input over as bytes (dcp inputs are byte arrays): ") +
                      error.what()};
  }

  /// The final event: the stream has ended after it.
  EventResult last(Event event) {
    ended_ = true;
    return EventResult(std::move(event));
  }

  /// The C++ API gives no cause. Dora stops a node whose inputs all closed (timers and logs never
  /// close): when every data input of a node reading nothing else was reported closed before the
  /// Stop, that is its cause; otherwise it cannot be told.
  StopCause stop_cause() const noexcept {
    const bool all_closed = only_data_inputs_ && !data_inputs_.empty() && inputs_closed_ >= data_inputs_.size();
    return all_closed ? StopCause::all_inputs_closed : StopCause::unknown;
  }

  /// The C++ API does not tell which input closed: named only where there is no doubt (see
  /// dora_backend.hpp), else empty.
  std::string closed_input_id() {
    if (data_inputs_.size() == 1) return data_inputs_.front();
    if (failed_inputs_.size() == 1) return std::exchange(failed_inputs_, {}).front();
    return {};
  }

  Event node_failed(rust::Box<::DoraEvent> event) {
    std::optional<::DoraNodeFailed> failure;
    try {
      failure.emplace(event_as_node_failed(std::move(event)));
    } catch (const std::exception& error) {
      return ErrorEvent{std::string("an upstream node failed (Dora could not say which: ") + error.what() + ")"};
    }
    std::vector<std::string> affected;
    for (std::size_t i = 0; i < failure->affected_input_ids.size(); ++i) {
      affected.push_back(to_std(failure->affected_input_ids[i]));
    }
    failed_inputs_ = affected;  // the InputClosed events Dora sends next are about these
    return ErrorEvent{"upstream node '" + to_std(failure->source_node_id) + "' failed: " + to_std(failure->error) +
                      " (inputs that stop receiving data: " + comma_separated(affected) + ")"};
  }

  rust::Box<::Events> events_;
  std::vector<std::string> data_inputs_;
  std::vector<std::string> failed_inputs_;  // affected_input_ids of the last NodeFailed, until named
  bool only_data_inputs_ = false;           // no timer or logs input: Dora may stop it for all inputs closed
  std::size_t inputs_closed_ = 0;           // InputClosed events received
  bool stop_delivered_ = false;             // Stop was returned: the queued inputs follow, then the end
  bool ended_ = false;
};

// ---------------------------------------------------------------------------------------------
// Outputs
// ---------------------------------------------------------------------------------------------

class DoraOutputSink final : public OutputSink {
 public:
  DoraOutputSink(rust::Box<::OutputSender> sender, std::string node_id) noexcept
      : sender_(std::move(sender)), node_id_(std::move(node_id)) {}

  void send(std::string_view output_id, std::span<const std::uint8_t> data, Metadata&& metadata) override {
    const rust::Slice<const std::uint8_t> bytes(data.data(), data.size());
    if (metadata.parameters.empty()) {
      check(::send_output(sender_, to_rust(output_id), bytes), "send on output", output_id);
      return;
    }
    rust::Box<::Metadata> parameters = to_dora(output_id, metadata);  // may throw: nothing sent yet
    check(::send_output_with_metadata(sender_, to_rust(output_id), bytes, std::move(parameters)), "send on output",
          output_id);
  }

  void send_with(std::string_view output_id, std::size_t size, FillRef fill, Metadata&& metadata) override {
    const auto buffer = std::make_unique_for_overwrite<std::uint8_t[]>(size);
    const std::span<std::uint8_t> bytes(buffer.get(), size);
    fill(bytes);
    send(output_id, bytes, std::move(metadata));
  }

  void close_outputs(const std::vector<std::string>& output_ids) override {
    rust::Vec<rust::String> ids;
    ids.reserve(output_ids.size());
    for (const std::string& id : output_ids) ids.push_back(to_rust(id));
    check(::close_outputs(sender_, std::move(ids)), "close output(s)", comma_separated(output_ids));
  }

 private:
  void check(const ::DoraResult& result, std::string_view what, std::string_view ids) const {
    if (result.error.empty()) return;
    throw NodeError("dcp: Dora refused to " + std::string(what) + " '" + std::string(ids) + "' of node '" + node_id_ +
                    "': " + to_std(result.error));
  }

  rust::Box<::OutputSender> sender_;
  std::string node_id_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Connecting
// ---------------------------------------------------------------------------------------------

Node connect_dora_backend(std::string_view node_config_yaml) {
  DoraNodeConfig config = parse_dora_node_config(node_config_yaml);
  ::DoraNode dora = [&] {
    try {
      return init_dora_node();
    } catch (const std::exception& error) {
      throw NodeError("dcp: node '" + config.node_id + "': Dora's init_dora_node() failed: " + error.what());
    }
  }();
  Node node;
  node.id = config.node_id;
  auto source = std::make_unique<DoraEventSource>(std::move(dora.events), config.data_inputs,
                                                  config.data_inputs.size() == config.inputs.size());
  auto sink = std::make_unique<DoraOutputSink>(std::move(dora.send_output), config.node_id);
  node.events = NodeAccess::make_events(std::move(config.inputs), std::move(source));
  node.outputs = NodeAccess::make_outputs(config.node_id, std::move(config.outputs), std::move(sink));
  return node;
}

}  // namespace dcp::detail
