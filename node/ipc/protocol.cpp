// Encoding and decoding of the runner <-> node frames (see protocol.hpp for the layout).
#include "ipc/protocol.hpp"

#include <bit>
#include <cstring>
#include <limits>
#include <string_view>
#include <type_traits>

namespace dcp::ipc {
namespace {

static_assert(std::endian::native == std::endian::little, "dcp's wire format assumes a little-endian host");

enum class ParameterTag : std::uint8_t {
  boolean = 0,
  integer = 1,
  floating = 2,
  string = 3,
  integer_list = 4,
  float_list = 5,
  string_list = 6,
  // Added later; tags are never renumbered, so a decoder that predates one reports "unknown type
  // tag" instead of misreading the value.
  unsigned_integer = 7,
  timestamp = 8,  // i64 ns since the UNIX epoch (dcp::Timestamp)
};

[[noreturn]] void fail(std::string_view message) { throw ProtocolError(std::string(message)); }

class Writer {
 public:
  template <class T>
  void number(T value) {
    static_assert(std::is_arithmetic_v<T>);
    const auto* p = reinterpret_cast<const std::uint8_t*>(&value);
    out_.insert(out_.end(), p, p + sizeof(T));
  }

  void raw(std::span<const std::uint8_t> bytes) {
    check_length(bytes.size(), std::numeric_limits<std::uint32_t>::max(), "bytes");
    number<std::uint32_t>(static_cast<std::uint32_t>(bytes.size()));
    out_.insert(out_.end(), bytes.begin(), bytes.end());
  }

  void text(std::string_view s, std::size_t limit, const char* field) {
    check_length(s.size(), limit, field);
    number<std::uint32_t>(static_cast<std::uint32_t>(s.size()));
    out_.insert(out_.end(), s.begin(), s.end());
  }

  void count(std::size_t n, std::size_t limit, const char* field) {
    check_length(n, limit, field);
    number<std::uint32_t>(static_cast<std::uint32_t>(n));
  }

  /// A count, then each string (Reader::text_list reads it back).
  void text_list(const std::vector<std::string>& list, std::size_t limit, const char* field,
                 const char* element_field = nullptr) {
    count(list.size(), kMaxListLength, field);
    for (const std::string& s : list) text(s, limit, element_field != nullptr ? element_field : field);
  }

  void metadata(const Metadata& m) {
    number<std::int64_t>(m.timestamp_ns);
    count(m.parameters.size(), kMaxParameters, "metadata.parameters");
    for (const auto& [key, value] : m.parameters) {
      text(key, kMaxParameterKeyLength, "metadata parameter key");
      std::visit([this](const auto& v) { parameter(v); }, value);
    }
  }

  void payload(const PayloadRef& p) {
    number<std::uint8_t>(static_cast<std::uint8_t>(p.location));
    if (p.location == PayloadLocation::inline_bytes) {
      if (p.inline_data.size() >= kInlinePayloadLimit) {
        fail("payload: " + std::to_string(p.inline_data.size()) + " bytes inline; payloads of " +
             std::to_string(kInlinePayloadLimit) + " bytes and more must use shared memory");
      }
      raw(p.inline_data);
    } else {
      if (p.shared_size == 0 || p.shared_size > kMaxSharedPayload) {
        fail("payload: shared memory size " + std::to_string(p.shared_size) + " is out of range 1.." +
             std::to_string(kMaxSharedPayload));
      }
      number<std::uint64_t>(p.shared_size);
    }
  }

  std::vector<std::uint8_t> finish(MessageType type) {
    const std::size_t total = kHeaderSize + out_.size();
    if (total > kMaxFrameSize) {
      fail("frame of " + std::to_string(total) + " bytes exceeds the limit of " + std::to_string(kMaxFrameSize));
    }
    std::vector<std::uint8_t> frame;
    frame.reserve(total);
    Writer header;
    header.number<std::uint32_t>(kMagic);
    header.number<std::uint16_t>(static_cast<std::uint16_t>(type));
    header.number<std::uint16_t>(0);
    header.number<std::uint32_t>(static_cast<std::uint32_t>(out_.size()));
    frame.insert(frame.end(), header.out_.begin(), header.out_.end());
    frame.insert(frame.end(), out_.begin(), out_.end());
    return frame;
  }

 private:
  static void check_length(std::size_t n, std::size_t limit, const char* field) {
    if (n > limit) {
      fail(std::string(field) + ": length " + std::to_string(n) + " exceeds the limit of " + std::to_string(limit));
    }
  }

  void tag(ParameterTag t) { number<std::uint8_t>(static_cast<std::uint8_t>(t)); }

  void parameter(bool v) {
    tag(ParameterTag::boolean);
    number<std::uint8_t>(v ? 1 : 0);
  }
  void parameter(std::int64_t v) {
    tag(ParameterTag::integer);
    number<std::int64_t>(v);
  }
  void parameter(std::uint64_t v) {
    tag(ParameterTag::unsigned_integer);
    number<std::uint64_t>(v);
  }
  void parameter(Timestamp v) {
    tag(ParameterTag::timestamp);
    number<std::int64_t>(v.nanoseconds_since_epoch);
  }
  void parameter(double v) {
    tag(ParameterTag::floating);
    number<double>(v);
  }
  void parameter(const std::string& v) {
    tag(ParameterTag::string);
    text(v, kMaxTextLength, "metadata string parameter");
  }
  void parameter(const std::vector<std::int64_t>& v) {
    tag(ParameterTag::integer_list);
    count(v.size(), kMaxListLength, "metadata integer list");
    for (auto x : v) number<std::int64_t>(x);
  }
  void parameter(const std::vector<double>& v) {
    tag(ParameterTag::float_list);
    count(v.size(), kMaxListLength, "metadata float list");
    for (auto x : v) number<double>(x);
  }
  void parameter(const std::vector<std::string>& v) {
    tag(ParameterTag::string_list);
    text_list(v, kMaxTextLength, "metadata string list", "metadata string list element");
  }

  std::vector<std::uint8_t> out_;
};

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  template <class T>
  T number(const char* field) {
    static_assert(std::is_arithmetic_v<T>);
    need(sizeof(T), field);
    T value;
    std::memcpy(&value, bytes_.data() + offset_, sizeof(T));
    offset_ += sizeof(T);
    return value;
  }

  std::string text(std::size_t limit, const char* field) {
    const auto n = length(limit, field);
    need(n, field);
    std::string s(reinterpret_cast<const char*>(bytes_.data() + offset_), n);
    offset_ += n;
    return s;
  }

  std::vector<std::uint8_t> raw(std::size_t limit, const char* field) {
    const auto n = length(limit, field);
    need(n, field);
    std::vector<std::uint8_t> v(bytes_.begin() + static_cast<std::ptrdiff_t>(offset_),
                                bytes_.begin() + static_cast<std::ptrdiff_t>(offset_ + n));
    offset_ += n;
    return v;
  }

  /// A u32 count/length, checked against `limit` and against what is left (each element needs at
  /// least `min_element_size` bytes), so a hostile count cannot make us allocate.
  std::size_t length(std::size_t limit, const char* field, std::size_t min_element_size = 1) {
    const auto n = number<std::uint32_t>(field);
    if (n > limit) {
      fail(std::string(field) + ": length " + std::to_string(n) + " exceeds the limit of " + std::to_string(limit));
    }
    if (n * min_element_size > remaining()) {
      fail(std::string(field) + ": length " + std::to_string(n) + " runs past the end of the frame");
    }
    return n;
  }

  std::vector<std::string> text_list(std::size_t limit, const char* field) {
    const auto n = length(kMaxListLength, field, 4);
    std::vector<std::string> v;
    v.reserve(n);
    for (std::size_t i = 0; i < n; ++i) v.push_back(text(limit, field));
    return v;
  }

  Metadata metadata() {
    Metadata m;
    m.timestamp_ns = number<std::int64_t>("metadata.timestamp");
    const auto n = length(kMaxParameters, "metadata.parameters", 6);
    for (std::size_t i = 0; i < n; ++i) {
      std::string key = text(kMaxParameterKeyLength, "metadata parameter key");
      const auto tag = number<std::uint8_t>("metadata parameter type");
      Parameter value;
      switch (static_cast<ParameterTag>(tag)) {
        case ParameterTag::boolean: {
          const auto b = number<std::uint8_t>("metadata bool parameter");
          if (b > 1) fail("metadata parameter '" + key + "': bool value " + std::to_string(b) + " is not 0 or 1");
          value = b == 1;
          break;
        }
        case ParameterTag::integer: value = number<std::int64_t>("metadata integer parameter"); break;
        case ParameterTag::unsigned_integer:
          value = number<std::uint64_t>("metadata unsigned integer parameter");
          break;
        case ParameterTag::timestamp:
          value = Timestamp{number<std::int64_t>("metadata timestamp parameter")};
          break;
        case ParameterTag::floating: value = number<double>("metadata float parameter"); break;
        case ParameterTag::string: value = text(kMaxTextLength, "metadata string parameter"); break;
        case ParameterTag::integer_list: {
          const auto count = length(kMaxListLength, "metadata integer list", 8);
          std::vector<std::int64_t> list(count);
          for (auto& x : list) x = number<std::int64_t>("metadata integer list");
          value = std::move(list);
          break;
        }
        case ParameterTag::float_list: {
          const auto count = length(kMaxListLength, "metadata float list", 8);
          std::vector<double> list(count);
          for (auto& x : list) x = number<double>("metadata float list");
          value = std::move(list);
          break;
        }
        case ParameterTag::string_list: value = text_list(kMaxTextLength, "metadata string list"); break;
        default:
          fail("metadata parameter '" + key + "': unknown type tag " + std::to_string(tag));
      }
      if (!m.parameters.emplace(std::move(key), std::move(value)).second) {
        fail("metadata: duplicate parameter key");
      }
    }
    return m;
  }

  PayloadRef payload() {
    PayloadRef p;
    const auto location = number<std::uint8_t>("payload.location");
    if (location == static_cast<std::uint8_t>(PayloadLocation::inline_bytes)) {
      p.location = PayloadLocation::inline_bytes;
      p.inline_data = raw(kInlinePayloadLimit - 1, "payload.inline");
    } else if (location == static_cast<std::uint8_t>(PayloadLocation::shared_memory)) {
      p.location = PayloadLocation::shared_memory;
      p.shared_size = number<std::uint64_t>("payload.shared_size");
      if (p.shared_size == 0 || p.shared_size > kMaxSharedPayload) {
        fail("payload.shared_size: " + std::to_string(p.shared_size) + " is out of range 1.." +
             std::to_string(kMaxSharedPayload));
      }
    } else {
      fail("payload.location: unknown value " + std::to_string(location));
    }
    return p;
  }

  void expect_end(const char* message_name) const {
    if (remaining() != 0) {
      fail(std::string(message_name) + ": " + std::to_string(remaining()) + " unexpected trailing bytes");
    }
  }

  [[nodiscard]] std::size_t remaining() const noexcept { return bytes_.size() - offset_; }

 private:
  void need(std::size_t n, const char* field) const {
    if (n > remaining()) {
      fail(std::string(field) + ": needs " + std::to_string(n) + " bytes, the frame has " +
           std::to_string(remaining()) + " left");
    }
  }

  std::span<const std::uint8_t> bytes_;
  std::size_t offset_ = 0;
};

// ErrorCount: one u64. Its own functions, so the message can change without touching the others.
void encode_error_count(Writer& w, const ErrorCount& m) { w.number<std::uint64_t>(m.reported_errors); }

ErrorCount decode_error_count(Reader& r) {
  ErrorCount m;
  m.reported_errors = r.number<std::uint64_t>("error_count.reported_errors");
  r.expect_end("error_count");
  return m;
}

}  // namespace

MessageType type_of(const Message& message) noexcept {
  struct Visitor {
    MessageType operator()(const Hello&) const { return MessageType::hello; }
    MessageType operator()(const HelloOk&) const { return MessageType::hello_ok; }
    MessageType operator()(const NextEvent&) const { return MessageType::next_event; }
    MessageType operator()(const Event&) const { return MessageType::event; }
    MessageType operator()(const SendOutput&) const { return MessageType::send_output; }
    MessageType operator()(const CloseOutputs&) const { return MessageType::close_outputs; }
    MessageType operator()(const Error&) const { return MessageType::error; }
    MessageType operator()(const ErrorCount&) const { return MessageType::error_count; }
  };
  return std::visit(Visitor{}, message);
}

std::vector<std::uint8_t> encode(const Message& message) {
  Writer w;
  struct Visitor {
    Writer& w;
    void operator()(const Hello& m) const {
      w.number<std::uint32_t>(m.protocol_version);
      w.text(m.node_id, kMaxIdLength, "hello.node_id");
      w.text(m.secret, kMaxIdLength, "hello.secret");
    }
    void operator()(const HelloOk& m) const {
      w.text_list(m.inputs, kMaxIdLength, "hello_ok.inputs");
      w.text_list(m.outputs, kMaxIdLength, "hello_ok.outputs");
    }
    void operator()(const NextEvent&) const {}
    void operator()(const Event& m) const {
      w.number<std::uint8_t>(static_cast<std::uint8_t>(m.kind));
      w.text(m.id, m.kind == EventKind::error ? kMaxTextLength : kMaxIdLength, "event.id");
      if (m.kind == EventKind::input) {
        w.metadata(m.metadata);
        w.payload(m.payload);
      }
      if (m.kind == EventKind::node_failed) {
        w.text_list(m.inputs, kMaxIdLength, "event.inputs");
        w.text(m.text, kMaxTextLength, "event.text");
      }
    }
    void operator()(const SendOutput& m) const {
      w.text(m.output_id, kMaxIdLength, "send_output.output_id");
      w.metadata(m.metadata);
      w.payload(m.payload);
    }
    void operator()(const CloseOutputs& m) const {
      w.text_list(m.outputs, kMaxIdLength, "close_outputs.outputs");
    }
    void operator()(const Error& m) const { w.text(m.message, kMaxTextLength, "error.message"); }
    void operator()(const ErrorCount& m) const { encode_error_count(w, m); }
  };
  std::visit(Visitor{w}, message);
  return w.finish(type_of(message));
}

Message decode(std::span<const std::uint8_t> frame) {
  if (frame.size() > kMaxFrameSize) {
    fail("frame of " + std::to_string(frame.size()) + " bytes exceeds the limit of " + std::to_string(kMaxFrameSize));
  }
  Reader header(frame);
  if (frame.size() < kHeaderSize) {
    fail("frame of " + std::to_string(frame.size()) + " bytes is shorter than the " + std::to_string(kHeaderSize) +
         "-byte header");
  }
  const auto magic = header.number<std::uint32_t>("header.magic");
  if (magic != kMagic) fail("header.magic: not a dcp frame (wrong magic number)");
  const auto type = header.number<std::uint16_t>("header.type");
  const auto reserved = header.number<std::uint16_t>("header.reserved");
  if (reserved != 0) fail("header.reserved: must be 0");
  const auto body_length = header.number<std::uint32_t>("header.body_length");
  if (body_length != frame.size() - kHeaderSize) {
    fail("header.body_length: says " + std::to_string(body_length) + " bytes, the frame has " +
         std::to_string(frame.size() - kHeaderSize));
  }

  Reader r(frame.subspan(kHeaderSize));
  switch (static_cast<MessageType>(type)) {
    case MessageType::hello: {
      Hello m;
      m.protocol_version = r.number<std::uint32_t>("hello.protocol_version");
      m.node_id = r.text(kMaxIdLength, "hello.node_id");
      m.secret = r.text(kMaxIdLength, "hello.secret");
      r.expect_end("hello");
      return m;
    }
    case MessageType::hello_ok: {
      HelloOk m;
      m.inputs = r.text_list(kMaxIdLength, "hello_ok.inputs");
      m.outputs = r.text_list(kMaxIdLength, "hello_ok.outputs");
      r.expect_end("hello_ok");
      return m;
    }
    case MessageType::next_event:
      r.expect_end("next_event");
      return NextEvent{};
    case MessageType::event: {
      Event m;
      const auto kind = r.number<std::uint8_t>("event.kind");
      if (kind < static_cast<std::uint8_t>(EventKind::input) || kind > static_cast<std::uint8_t>(EventKind::node_failed)) {
        fail("event.kind: unknown value " + std::to_string(kind));
      }
      m.kind = static_cast<EventKind>(kind);
      m.id = r.text(m.kind == EventKind::error ? kMaxTextLength : kMaxIdLength, "event.id");
      if (m.kind == EventKind::input) {
        m.metadata = r.metadata();
        m.payload = r.payload();
      }
      if (m.kind == EventKind::node_failed) {
        m.inputs = r.text_list(kMaxIdLength, "event.inputs");
        m.text = r.text(kMaxTextLength, "event.text");
      }
      r.expect_end("event");
      return m;
    }
    case MessageType::send_output: {
      SendOutput m;
      m.output_id = r.text(kMaxIdLength, "send_output.output_id");
      m.metadata = r.metadata();
      m.payload = r.payload();
      r.expect_end("send_output");
      return m;
    }
    case MessageType::close_outputs: {
      CloseOutputs m;
      m.outputs = r.text_list(kMaxIdLength, "close_outputs.outputs");
      r.expect_end("close_outputs");
      return m;
    }
    case MessageType::error: {
      Error m;
      m.message = r.text(kMaxTextLength, "error.message");
      r.expect_end("error");
      return m;
    }
    case MessageType::error_count: return decode_error_count(r);
  }
  fail("header.type: unknown message type " + std::to_string(type));
}

}  // namespace dcp::ipc
