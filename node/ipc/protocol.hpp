// node/ipc/protocol.hpp — the wire protocol between `dcp run` (the local runner) and its nodes.
//
// What it is for: a node process talks to the runner over one AF_UNIX SOCK_SEQPACKET connection.
// Every datagram is one frame; a frame is a 12-byte header and a body:
//
//   offset 0  u32  magic "DCP1" (0x31504344, little-endian)
//   offset 4  u16  message type (MessageType)
//   offset 6  u16  reserved, must be 0
//   offset 8  u32  body length; header + body == the datagram's length
//
// All integers are little-endian. Body fields are encoded in the order the structs below list them:
//   string:   u32 length + bytes (ids at most kMaxIdLength, texts at most kMaxTextLength)
//   bytes:    u32 length + bytes (inline payloads at most kInlinePayloadLimit - 1)
//   list<T>:  u32 count + elements (at most kMaxListLength)
//   metadata: i64 timestamp_ns, u32 parameter count, then per parameter: string key, u8 tag,
//             value (tag 0 bool as u8 0/1, 1 i64, 2 f64, 3 string, 4 list<i64>, 5 list<f64>,
//             6 list<string>, 7 u64, 8 timestamp as i64 ns since the UNIX epoch; tags are only
//             ever appended: a decoder meets an unknown one as a ProtocolError "unknown type
//             tag", never as a misread value)
//   payload:  u8 location (0 inline: followed by bytes; 1 shared memory: followed by u64 size, and the
//             datagram carries exactly one file descriptor, a sealed memfd of that size)
//
// Conversation: on the connection it inherited from the runner (one end of a socket pair made before
// the node started: DCP_NODE_FD), the node sends Hello (its id and the secret from its environment,
// checked as defence in depth: the runner already knows whose connection it is); the runner answers
// HelloOk (the node's inputs and outputs) or Error and hangs up. Then the node sends NextEvent
// whenever it wants the next event, and the runner answers each with one Event when one is ready;
// SendOutput and CloseOutputs may be sent at any time and are not answered (sending is
// fire-and-forget; a protocol violation makes the runner send Error and disconnect the node).
//
// Error count: the node also tells the runner how many errors it reported (dcp::reported_errors(),
// dcp/core/error_report.hpp) with ErrorCount, a u64 body. It sends one just before any other frame
// whenever the count grew since the last one it sent — so a node that reports nothing never sends
// one — and a last one when it closes its connection. The count never decreases (the runner
// treats a smaller value as a protocol violation); the runner keeps the latest.
//
// Limits: a frame is at most kMaxFrameSize bytes; payloads of kInlinePayloadLimit bytes and more
// travel in shared memory, at most kMaxSharedPayload bytes. decode() rejects anything malformed,
// oversized or truncated with a ProtocolError that says what and where; it never reads out of
// bounds and never allocates more than the frame's size allows.
//
// Versions (Hello.protocol_version; the runner refuses any other): 1 the first; 2 added the Event
// kind input_recovered.
//
// Thread safety: pure functions. Blocking: none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <variant>
#include <utility>
#include <vector>

#include "dcp/node/metadata.hpp"

namespace dcp::ipc {

inline constexpr std::uint32_t kMagic = 0x31504344;  // "DCP1"
inline constexpr std::uint32_t kProtocolVersion = 3;
inline constexpr std::size_t kHeaderSize = 12;
inline constexpr std::size_t kMaxFrameSize = 64 * 1024;
inline constexpr std::size_t kInlinePayloadLimit = 4 * 1024;
inline constexpr std::uint64_t kMaxSharedPayload = std::uint64_t{1} << 30;  // 1 GiB
inline constexpr std::size_t kMaxIdLength = 256;
inline constexpr std::size_t kMaxTextLength = 8 * 1024;
inline constexpr std::size_t kMaxListLength = 4096;

/// A frame or message that breaks the protocol. what() says which field and why.
struct ProtocolError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class MessageType : std::uint16_t {
  hello = 1,          ///< node -> runner
  hello_ok = 2,       ///< runner -> node
  next_event = 3,     ///< node -> runner
  event = 4,          ///< runner -> node
  send_output = 5,    ///< node -> runner
  close_outputs = 6,  ///< node -> runner
  error = 7,          ///< runner -> node; the runner disconnects after it
  error_count = 8,    ///< node -> runner
};

enum class PayloadLocation : std::uint8_t { inline_bytes = 0, shared_memory = 1 };

/// Where the bytes of a message are. For shared_memory the file descriptor travels beside the frame
/// (SCM_RIGHTS) and is not part of the decoded struct.
struct PayloadRef {
  PayloadLocation location = PayloadLocation::inline_bytes;
  std::vector<std::uint8_t> inline_data;  ///< location == inline_bytes
  std::uint64_t shared_size = 0;          ///< location == shared_memory

  friend bool operator==(const PayloadRef&, const PayloadRef&) = default;
};

struct Hello {
  std::uint32_t protocol_version = kProtocolVersion;
  std::string node_id;
  std::string secret;
  friend bool operator==(const Hello&, const Hello&) = default;
};

struct HelloOk {
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  friend bool operator==(const HelloOk&, const HelloOk&) = default;
};

struct NextEvent {
  friend bool operator==(const NextEvent&, const NextEvent&) = default;
};

enum class EventKind : std::uint8_t {
  input = 1,
  input_closed = 2,
  all_inputs_closed = 3,
  stop = 4,
  error = 5,
  end_of_stream = 6,  ///< no event will ever come again (after stop or all_inputs_closed was delivered)
  input_recovered = 7,  ///< a timed-out input has data again (protocol version 2)
  node_restarted = 8,   ///< an upstream node is being restarted; its outputs stay open (version 3)
  node_failed = 9,      ///< an upstream node failed for good; InputClosed follows (version 3)
};

struct Event {
  Event() = default;
  Event(EventKind kind_, std::string id_, Metadata metadata_ = {}, PayloadRef payload_ = {},
        std::vector<std::string> inputs_ = {}, std::string text_ = {})
      : kind(kind_), id(std::move(id_)), metadata(std::move(metadata_)), payload(std::move(payload_)),
        inputs(std::move(inputs_)), text(std::move(text_)) {}

  EventKind kind = EventKind::input;
  /// input id (input, input_closed, input_recovered); error text (error); the upstream node's id
  /// (node_restarted, node_failed); empty otherwise
  std::string id;
  Metadata metadata;    ///< input only
  PayloadRef payload;   ///< input only
  std::vector<std::string> inputs;  ///< node_failed only: this node's inputs that read the failed node
  std::string text;                 ///< node_failed only: how it failed ("exit code 3", "signal SIGSEGV", ...)
  friend bool operator==(const Event&, const Event&) = default;
};

struct SendOutput {
  std::string output_id;
  Metadata metadata;
  PayloadRef payload;
  friend bool operator==(const SendOutput&, const SendOutput&) = default;
};

struct CloseOutputs {
  std::vector<std::string> outputs;
  friend bool operator==(const CloseOutputs&, const CloseOutputs&) = default;
};

struct Error {
  std::string message;
  friend bool operator==(const Error&, const Error&) = default;
};

/// How many errors the node has reported so far (dcp::reported_errors()); see the header comment.
struct ErrorCount {
  std::uint64_t reported_errors = 0;
  friend bool operator==(const ErrorCount&, const ErrorCount&) = default;
};

using Message = std::variant<Hello, HelloOk, NextEvent, Event, SendOutput, CloseOutputs, Error, ErrorCount>;

/// The type tag of a message.
[[nodiscard]] MessageType type_of(const Message& message) noexcept;

/// Encodes one frame. Throws ProtocolError when the message breaks a limit (an id too long, an inline
/// payload of kInlinePayloadLimit bytes or more, a frame over kMaxFrameSize, ...).
[[nodiscard]] std::vector<std::uint8_t> encode(const Message& message);

/// Decodes one frame (one whole datagram). Throws ProtocolError on anything malformed.
[[nodiscard]] Message decode(std::span<const std::uint8_t> frame);

}  // namespace dcp::ipc
