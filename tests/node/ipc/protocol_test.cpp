// Tests of the runner <-> node wire protocol (node/ipc/protocol.hpp): round trips of every message,
// limits, and clear errors for malformed frames.
#include "ipc/protocol.hpp"
#include "support/exception_message.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

namespace {

using namespace dcp::ipc;

dcp::Metadata rich_metadata() {
  dcp::Metadata m;
  m.timestamp_ns = 1'700'000'000'123'456'789;
  m.parameters["flag"] = true;
  m.parameters["frame"] = std::int64_t{-42};
  m.parameters["bytes"] = std::uint64_t{18'446'744'073'709'551'615u};
  m.parameters["gain"] = 0.25;
  m.parameters["encoding"] = std::string("rgb8");
  m.parameters["shape"] = std::vector<std::int64_t>{480, 640, 3};
  m.parameters["weights"] = std::vector<double>{0.5, 1.5};
  m.parameters["names"] = std::vector<std::string>{"front", "rear"};
  m.set("captured", dcp::Timestamp{-1'234'567'890});
  return m;
}

/// What decode() says about `frame` (a test failure when it accepts it).
std::string error_of(std::span<const std::uint8_t> frame) {
  return dcp::test::error_of<ProtocolError>([&] { (void)decode(frame); });
}

template <class M>
void expect_round_trip(const M& message) {
  const auto frame = encode(message);
  ASSERT_LE(frame.size(), kMaxFrameSize);
  const Message decoded = decode(frame);
  ASSERT_TRUE(std::holds_alternative<M>(decoded));
  EXPECT_EQ(std::get<M>(decoded), message);
}

TEST(Protocol, EveryMessageType_SurvivesARoundTrip) {
  expect_round_trip(Hello{kProtocolVersion, "camera", "0123456789abcdef"});
  expect_round_trip(HelloOk{{"tick", "estop"}, {"image", "status"}});
  expect_round_trip(NextEvent{});
  expect_round_trip(Event{EventKind::input, "image", rich_metadata(), PayloadRef{PayloadLocation::inline_bytes, {1, 2, 3}, 0}});
  expect_round_trip(Event{EventKind::input, "cloud", {}, PayloadRef{PayloadLocation::shared_memory, {}, 4 << 20}});
  expect_round_trip(Event{EventKind::input_closed, "image", {}, {}});
  expect_round_trip(Event{EventKind::input_recovered, "image", {}, {}});
  expect_round_trip(Event{EventKind::node_restarted, "camera", {}, {}});
  expect_round_trip(Event{EventKind::node_failed, "camera", {}, {}, {"image", "depth"}, "exit code 3"});
  expect_round_trip(Event{EventKind::all_inputs_closed, "", {}, {}});
  expect_round_trip(Event{EventKind::stop, "", {}, {}});
  expect_round_trip(Event{EventKind::error, "upstream node 'x' failed", {}, {}});
  expect_round_trip(Event{EventKind::end_of_stream, "", {}, {}});
  expect_round_trip(SendOutput{"status", rich_metadata(), PayloadRef{PayloadLocation::inline_bytes, {9, 8}, 0}});
  expect_round_trip(CloseOutputs{{"a", "b"}});
  expect_round_trip(Error{"secret does not match"});
  expect_round_trip(ErrorCount{0});
  expect_round_trip(ErrorCount{~std::uint64_t{0}});
}

TEST(ProtocolDecode, ErrorCount_IsHeaderPlusOneU64AndRejectsATruncatedBody) {
  auto frame = encode(ErrorCount{3});
  ASSERT_EQ(frame.size(), kHeaderSize + 8);
  EXPECT_EQ(frame[kHeaderSize], 3);
  frame.pop_back();
  frame[8] = 7;  // body_length 7 to match the shorter body
  EXPECT_NE(error_of(frame).find("error_count.reported_errors"), std::string::npos) << error_of(frame);
}

TEST(Protocol, InlinePayloadJustBelowTheLimit_IsEncoded) {
  SendOutput m{"out", {}, PayloadRef{PayloadLocation::inline_bytes, std::vector<std::uint8_t>(kInlinePayloadLimit - 1, 7), 0}};
  expect_round_trip(m);
}

TEST(Protocol, InlinePayloadAtTheLimit_IsRefusedWithAHintToUseSharedMemory) {
  SendOutput m{"out", {}, PayloadRef{PayloadLocation::inline_bytes, std::vector<std::uint8_t>(kInlinePayloadLimit, 7), 0}};
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "must use shared memory",
                      dcp::test::error_of<ProtocolError>([&] { (void)encode(m); }));
}

TEST(Protocol, IdLongerThanTheLimit_IsRefused) {
  EXPECT_THROW((void)encode(Hello{kProtocolVersion, std::string(kMaxIdLength + 1, 'a'), "s"}), ProtocolError);
}

TEST(Protocol, TooManyParameters_IsRefused) {
  SendOutput m{"out", {}, {}};
  for (std::size_t i = 0; i <= dcp::kMaxParameters; ++i) m.metadata.parameters["p" + std::to_string(i)] = true;
  EXPECT_THROW((void)encode(m), ProtocolError);
}

TEST(Protocol, SharedSizeZero_IsRefused) {
  EXPECT_THROW((void)encode(SendOutput{"out", {}, PayloadRef{PayloadLocation::shared_memory, {}, 0}}), ProtocolError);
}

TEST(ProtocolDecode, ShortFrame_NamesTheHeader) {
  const std::vector<std::uint8_t> frame{1, 2, 3};
  EXPECT_EQ(error_of(frame), "frame of 3 bytes is shorter than the 12-byte header");
}

TEST(ProtocolDecode, WrongMagic_IsRejected) {
  auto frame = encode(NextEvent{});
  frame[0] ^= 0xFF;
  EXPECT_EQ(error_of(frame), "header.magic: not a dcp frame (wrong magic number)");
}

TEST(ProtocolDecode, UnknownType_IsRejected) {
  auto frame = encode(NextEvent{});
  frame[4] = 99;
  EXPECT_EQ(error_of(frame), "header.type: unknown message type 99");
}

TEST(ProtocolDecode, BodyLengthMismatch_IsRejected) {
  auto frame = encode(Error{"x"});
  frame.push_back(0);
  EXPECT_EQ(error_of(frame), "header.body_length: says 5 bytes, the frame has 6");
}

TEST(ProtocolDecode, TruncatedString_NamesTheField) {
  auto frame = encode(Hello{kProtocolVersion, "camera", "secret"});
  frame.resize(frame.size() - 2);
  const std::uint32_t body = static_cast<std::uint32_t>(frame.size() - kHeaderSize);
  std::memcpy(frame.data() + 8, &body, 4);
  EXPECT_EQ(error_of(frame), "hello.secret: length 6 runs past the end of the frame");
}

TEST(ProtocolDecode, HugeCount_IsRejectedWithoutAllocating) {
  auto frame = encode(CloseOutputs{{"a"}});
  const std::uint32_t huge = 0xFFFFFFFF;
  std::memcpy(frame.data() + kHeaderSize, &huge, 4);
  EXPECT_EQ(error_of(frame), "close_outputs.outputs: length 4294967295 exceeds the limit of 4096");
}

TEST(ProtocolDecode, CountPastTheEnd_IsRejected) {
  auto frame = encode(CloseOutputs{{"a"}});
  const std::uint32_t count = 100;
  std::memcpy(frame.data() + kHeaderSize, &count, 4);
  EXPECT_EQ(error_of(frame), "close_outputs.outputs: length 100 runs past the end of the frame");
}

TEST(ProtocolDecode, TrailingBytes_AreRejected) {
  auto frame = encode(NextEvent{});
  frame.push_back(0);
  const std::uint32_t body = 1;
  std::memcpy(frame.data() + 8, &body, 4);
  EXPECT_EQ(error_of(frame), "next_event: 1 unexpected trailing bytes");
}

TEST(ProtocolDecode, UnknownEventKind_IsRejected) {
  auto frame = encode(Event{EventKind::stop, "", {}, {}});
  frame[kHeaderSize] = 0;
  EXPECT_EQ(error_of(frame), "event.kind: unknown value 0");
}

TEST(ProtocolDecode, EventKindAfterTheLastKnown_IsRejected) {
  auto frame = encode(Event{EventKind::stop, "", {}, {}});
  frame[kHeaderSize] = static_cast<std::uint8_t>(EventKind::node_failed) + 1;
  EXPECT_EQ(error_of(frame), "event.kind: unknown value 10");
}

TEST(ProtocolDecode, BadBoolParameter_IsRejected) {
  SendOutput m{"o", {}, {}};
  m.metadata.parameters["b"] = true;
  auto frame = encode(m);
  // Layout: id (4+1) | timestamp 8 | count 4 | key (4+1) | tag 1 | value 1 | payload...
  const std::size_t value_offset = kHeaderSize + 5 + 8 + 4 + 5 + 1;
  ASSERT_EQ(frame[value_offset], 1);
  frame[value_offset] = 2;
  EXPECT_EQ(error_of(frame), "metadata parameter 'b': bool value 2 is not 0 or 1");
}

TEST(Protocol, IntegerParametersAtTheirLimits_SurviveARoundTripWithTheirSignedness) {
  dcp::Metadata m;
  m.set("u_zero", std::uint64_t{0})
      .set("u_max", std::numeric_limits<std::uint64_t>::max())
      .set("i_zero", std::int64_t{0})
      .set("i_min", std::numeric_limits<std::int64_t>::min())
      .set("i_max", std::numeric_limits<std::int64_t>::max())
      .set("size", std::size_t{1} << 40);
  const Message decoded = decode(encode(SendOutput{"o", m, {}}));
  const dcp::Metadata& back = std::get<SendOutput>(decoded).metadata;
  EXPECT_EQ(back, m);  // value and alternative: a uint64 stays a uint64, an int64 an int64
  EXPECT_TRUE(std::holds_alternative<std::uint64_t>(back.parameters.at("u_zero")));
  EXPECT_TRUE(std::holds_alternative<std::int64_t>(back.parameters.at("i_zero")));
  EXPECT_EQ(back.get_uint("u_max"), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(back.get_int("i_min"), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(back.get_uint("size"), std::uint64_t{1} << 40);
}

// The tags of the first format keep their numbers; the unsigned integer has a new one (7), so a
// peer that predates it fails with "unknown type tag 7" rather than reading the value as something else.
TEST(ProtocolDecode, IntegerTags_SignedKeepsTag1_UnsignedHasTag7AndLittleEndianValue) {
  // Layout: id (4+1) | timestamp 8 | count 4 | key (4+1) | tag 1 | value 8 | payload...
  const std::size_t tag_offset = kHeaderSize + 5 + 8 + 4 + 5;
  SendOutput with_signed{"o", {}, {}};
  with_signed.metadata.set("i", -2);
  EXPECT_EQ(encode(with_signed)[tag_offset], 1);

  SendOutput with_unsigned{"o", {}, {}};
  with_unsigned.metadata.set("u", std::uint64_t{0x0102030405060708u});
  const auto frame = encode(with_unsigned);
  ASSERT_EQ(frame[tag_offset], 7);
  const std::vector<std::uint8_t> value(frame.begin() + static_cast<std::ptrdiff_t>(tag_offset + 1),
                                        frame.begin() + static_cast<std::ptrdiff_t>(tag_offset + 9));
  EXPECT_EQ(value, (std::vector<std::uint8_t>{8, 7, 6, 5, 4, 3, 2, 1}));
}

TEST(ProtocolDecode, UnknownParameterTag_IsRejectedNamingTheKey) {
  SendOutput m{"o", {}, {}};
  m.metadata.set("u", std::uint64_t{1});
  auto frame = encode(m);
  const std::size_t tag_offset = kHeaderSize + 5 + 8 + 4 + 5;
  ASSERT_EQ(frame[tag_offset], 7);
  frame[tag_offset] = 9;  // the first tag not yet assigned
  EXPECT_EQ(error_of(frame), "metadata parameter 'u': unknown type tag 9");
}

// The timestamp is its own tag (8), appended after the others: a peer that predates it refuses it
// as "unknown type tag 8" instead of reading it as an integer.
TEST(ProtocolDecode, TimestampParameter_HasTag8AndLittleEndianI64Value) {
  const std::size_t tag_offset = kHeaderSize + 5 + 8 + 4 + 5;
  SendOutput m{"o", {}, {}};
  m.metadata.set("t", dcp::Timestamp{-2});  // 0xFFFF'FFFF'FFFF'FFFE
  const auto frame = encode(m);
  ASSERT_EQ(frame[tag_offset], 8);
  const std::vector<std::uint8_t> value(frame.begin() + static_cast<std::ptrdiff_t>(tag_offset + 1),
                                        frame.begin() + static_cast<std::ptrdiff_t>(tag_offset + 9));
  EXPECT_EQ(value, (std::vector<std::uint8_t>{0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}));
}

TEST(Protocol, TimestampParametersAtTheirLimits_SurviveARoundTripAsTimestamps) {
  dcp::Metadata m;
  m.set("min", dcp::Timestamp{std::numeric_limits<std::int64_t>::min()})
      .set("zero", dcp::Timestamp{})
      .set("max", dcp::Timestamp{std::numeric_limits<std::int64_t>::max()})
      .set("same_as_int", std::int64_t{7})
      .set("same_as_timestamp", dcp::Timestamp{7});
  const Message decoded = decode(encode(SendOutput{"o", m, {}}));
  const dcp::Metadata& back = std::get<SendOutput>(decoded).metadata;
  EXPECT_EQ(back, m);
  EXPECT_TRUE(std::holds_alternative<dcp::Timestamp>(back.parameters.at("zero")));
  EXPECT_TRUE(std::holds_alternative<std::int64_t>(back.parameters.at("same_as_int")));
  EXPECT_EQ(back.get_timestamp("min"), dcp::Timestamp{std::numeric_limits<std::int64_t>::min()});
}

TEST(ProtocolDecode, TruncatedTimestampParameter_IsRejectedNamingTheField) {
  SendOutput m{"o", {}, {}};
  m.metadata.set("t", dcp::Timestamp{1});
  auto frame = encode(m);
  // Layout: id (4+1) | timestamp 8 | count 4 | key (4+1) | tag 1 | value 8 | payload (location 1, length 4)
  const std::size_t value_offset = kHeaderSize + 5 + 8 + 4 + 5 + 1;
  ASSERT_EQ(frame[value_offset - 1], 8);
  frame.resize(value_offset + 3);  // 3 of the timestamp's 8 bytes
  const std::uint32_t body = static_cast<std::uint32_t>(frame.size() - kHeaderSize);
  std::memcpy(frame.data() + 8, &body, 4);
  EXPECT_EQ(error_of(frame), "metadata timestamp parameter: needs 8 bytes, the frame has 3 left");
}

TEST(ProtocolDecode, OversizedFrame_IsRejected) {
  std::vector<std::uint8_t> frame(kMaxFrameSize + 1, 0);
  EXPECT_EQ(error_of(frame), "frame of 65537 bytes exceeds the limit of 65536");
}

TEST(ProtocolDecode, EveryTruncationOfAValidFrame_IsRejectedCleanly) {
  const auto frame = encode(Event{EventKind::input, "image", rich_metadata(), PayloadRef{PayloadLocation::inline_bytes, {1, 2, 3}, 0}});
  for (std::size_t n = 0; n < frame.size(); ++n) {
    auto cut = std::vector<std::uint8_t>(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(n));
    if (n >= kHeaderSize) {
      const std::uint32_t body = static_cast<std::uint32_t>(n - kHeaderSize);
      std::memcpy(cut.data() + 8, &body, 4);
    }
    EXPECT_THROW((void)decode(cut), ProtocolError) << "cut at " << n;
  }
}

}  // namespace
