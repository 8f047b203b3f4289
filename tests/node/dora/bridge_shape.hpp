// tests/node/dora/bridge_shape.hpp — the shape of Dora's C++ node API that dcp's adapter relies on, as
// compile-time checks: exact signatures (with noexcept) of the bridge functions it calls, enum values,
// Metadata being opaque, and no rust::Error. Compiled against the fake (bridge_shape_test.cpp), and
// meant to be compiled against a header generated from Dora's real lib.rs as well (see docs/dora.md),
// so that the fake cannot drift from the real header unnoticed.
//
// Set DCP_DORA_HAS_INPUT_METADATA to 1 for a header with event_as_input_with_metadata (Dora's main).
// Nothing here runs; it has no thread-safety concerns and blocks nothing.
#pragma once

#include <cstdint>
#include <type_traits>

#include "dora-node-api.h"

#ifndef DCP_DORA_HAS_INPUT_METADATA
#error "define DCP_DORA_HAS_INPUT_METADATA (1: the header has event_as_input_with_metadata)"
#endif
#ifdef CXXBRIDGE1_RUST_ERROR
#error "this header declares rust::Error; the generated dora-node-api.h does not"
#endif

namespace dcp_dora_shape {

template <class Expected, class Actual>
inline constexpr bool kSame = std::is_same_v<Expected, Actual>;

// ---- functions without Result<T> in Rust: noexcept -----------------------------------------------
static_assert(kSame<rust::Box<::DoraEvent> (*)(rust::Box<::Events>&) noexcept, decltype(&::next_event)>);
static_assert(kSame<rust::Box<::DoraEvent> (*)(rust::Box<::Events>&, std::uint64_t) noexcept,
                    decltype(&::next_event_timeout)>);
static_assert(kSame<rust::Box<::DoraEvent> (*)(rust::Box<::Events>&) noexcept, decltype(&::try_next_event)>);
static_assert(kSame<::DoraEventType (*)(const rust::Box<::DoraEvent>&) noexcept, decltype(&::event_type)>);
static_assert(kSame<::DoraResult (*)(rust::Box<::OutputSender>&, rust::String, rust::Slice<const std::uint8_t>) noexcept,
                    decltype(&::send_output)>);
static_assert(kSame<::DoraResult (*)(rust::Box<::OutputSender>&, rust::String, rust::Slice<const std::uint8_t>,
                                     rust::Box<::Metadata>) noexcept,
                    decltype(&::send_output_with_metadata)>);
static_assert(kSame<::DoraResult (*)(rust::Box<::OutputSender>&, rust::Vec<rust::String>) noexcept,
                    decltype(&::close_outputs)>);
static_assert(kSame<rust::Box<::Metadata> (*)() noexcept, decltype(&::new_metadata)>);
static_assert(kSame<std::uint64_t (::Metadata::*)() const noexcept, decltype(&::Metadata::timestamp)>);
static_assert(kSame<rust::Vec<rust::String> (::Metadata::*)() const noexcept, decltype(&::Metadata::list_keys)>);

// ---- functions with Result<T> in Rust: they throw ----------------------------------------------------
static_assert(kSame<::DoraNode (*)(), decltype(&::init_dora_node)>);
static_assert(kSame<::DoraInput (*)(rust::Box<::DoraEvent>), decltype(&::event_as_input)>);
static_assert(kSame<::DoraNodeFailed (*)(rust::Box<::DoraEvent>), decltype(&::event_as_node_failed)>);
#if DCP_DORA_HAS_INPUT_METADATA
static_assert(kSame<::DoraInputWithMetadata (*)(rust::Box<::DoraEvent>), decltype(&::event_as_input_with_metadata)>);
static_assert(kSame<rust::Box<::Metadata>, decltype(::DoraInputWithMetadata::metadata)>);
#endif
static_assert(kSame<::MetadataValueType (::Metadata::*)(rust::Str) const, decltype(&::Metadata::type)>);
static_assert(kSame<bool (::Metadata::*)(rust::Str) const, decltype(&::Metadata::get_bool)>);
static_assert(kSame<std::int64_t (::Metadata::*)(rust::Str) const, decltype(&::Metadata::get_int)>);
static_assert(kSame<double (::Metadata::*)(rust::Str) const, decltype(&::Metadata::get_float)>);
static_assert(kSame<rust::String (::Metadata::*)(rust::Str) const, decltype(&::Metadata::get_str)>);
static_assert(kSame<rust::Vec<std::int64_t> (::Metadata::*)(rust::Str) const, decltype(&::Metadata::get_list_int)>);
static_assert(kSame<rust::Vec<double> (::Metadata::*)(rust::Str) const, decltype(&::Metadata::get_list_float)>);
static_assert(kSame<rust::Vec<rust::String> (::Metadata::*)(rust::Str) const,
                    decltype(&::Metadata::get_list_string)>);
static_assert(kSame<std::int64_t (::Metadata::*)(rust::Str) const, decltype(&::Metadata::get_timestamp)>);
static_assert(kSame<void (::Metadata::*)(rust::Str, bool), decltype(&::Metadata::set_bool)>);
static_assert(kSame<void (::Metadata::*)(rust::Str, std::int64_t), decltype(&::Metadata::set_int)>);
static_assert(kSame<void (::Metadata::*)(rust::Str, double), decltype(&::Metadata::set_float)>);
static_assert(kSame<void (::Metadata::*)(rust::Str, rust::String), decltype(&::Metadata::set_string)>);
static_assert(kSame<void (::Metadata::*)(rust::Str, rust::Vec<std::int64_t>), decltype(&::Metadata::set_list_int)>);
static_assert(kSame<void (::Metadata::*)(rust::Str, rust::Vec<double>), decltype(&::Metadata::set_list_float)>);
static_assert(kSame<void (::Metadata::*)(rust::Str, rust::Vec<rust::String>), decltype(&::Metadata::set_list_string)>);
static_assert(kSame<void (::Metadata::*)(rust::Str, std::int64_t), decltype(&::Metadata::set_timestamp)>);

// ---- types -------------------------------------------------------------------------------------------
static_assert(kSame<rust::Box<::Events>, decltype(::DoraNode::events)>);
static_assert(kSame<rust::Box<::OutputSender>, decltype(::DoraNode::send_output)>);
static_assert(kSame<rust::String, decltype(::DoraInput::id)>);
static_assert(kSame<rust::Vec<std::uint8_t>, decltype(::DoraInput::data)>);
static_assert(kSame<rust::String, decltype(::DoraResult::error)>);
static_assert(kSame<rust::Vec<rust::String>, decltype(::DoraNodeFailed::affected_input_ids)>);
static_assert(kSame<rust::String, decltype(::DoraNodeFailed::error)>);
static_assert(kSame<rust::String, decltype(::DoraNodeFailed::source_node_id)>);
static_assert(!std::is_default_constructible_v<::Metadata> && !std::is_copy_constructible_v<::Metadata>,
              "Metadata is opaque: only the bridge makes one");

static_assert(kSame<std::uint8_t, std::underlying_type_t<::DoraEventType>>);
static_assert(static_cast<int>(::DoraEventType::Stop) == 0 && static_cast<int>(::DoraEventType::Input) == 1 &&
              static_cast<int>(::DoraEventType::InputClosed) == 2 && static_cast<int>(::DoraEventType::Error) == 3 &&
              static_cast<int>(::DoraEventType::Unknown) == 4 &&
              static_cast<int>(::DoraEventType::AllInputsClosed) == 5 &&
              static_cast<int>(::DoraEventType::Empty) == 6 && static_cast<int>(::DoraEventType::Timeout) == 7 &&
              static_cast<int>(::DoraEventType::NodeFailed) == 8 && static_cast<int>(::DoraEventType::Reload) == 9);
static_assert(kSame<std::uint8_t, std::underlying_type_t<::MetadataValueType>>);
static_assert(static_cast<int>(::MetadataValueType::Bool) == 0 && static_cast<int>(::MetadataValueType::Integer) == 1 &&
              static_cast<int>(::MetadataValueType::Float) == 2 && static_cast<int>(::MetadataValueType::String) == 3 &&
              static_cast<int>(::MetadataValueType::ListInt) == 4 &&
              static_cast<int>(::MetadataValueType::ListFloat) == 5 &&
              static_cast<int>(::MetadataValueType::ListString) == 6 &&
              static_cast<int>(::MetadataValueType::Timestamp) == 7);

}  // namespace dcp_dora_shape
