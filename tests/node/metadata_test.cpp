// Tests of dcp::Metadata (dcp/node/metadata.hpp): which parameter alternative each C++ type is
// stored as by set(), the typed setters and getters, the integer limits (0, INT64_MIN, INT64_MAX,
// UINT64_MAX), how get_int/get_uint read across signed and unsigned without ever wrapping, and the
// timestamp alternative (distinct from the integers).
#include "dcp/node/metadata.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "support/exception_message.hpp"

namespace {

using dcp::test::error_of;

constexpr std::int64_t kInt64Min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();
constexpr std::uint64_t kUint64Max = std::numeric_limits<std::uint64_t>::max();

/// The alternative set(key, value) stored, as the type it holds.
template <class Expected, class T>
::testing::AssertionResult stores_as(T&& value) {
  dcp::Metadata metadata;
  metadata.set("k", std::forward<T>(value));
  const dcp::Parameter& stored = metadata.parameters.at("k");
  if (std::holds_alternative<Expected>(stored)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "stored as alternative " << stored.index();
}

// Compiling these calls is the compile-time half of the check: every one of these types is accepted
// by set() without a variant-overload error; the assertions say which alternative each picks.
TEST(MetadataSet, EveryIntegerType_PicksInt64WhenSignedAndUint64WhenUnsigned) {
  EXPECT_TRUE(stores_as<std::uint64_t>(std::size_t{3}));
  EXPECT_TRUE(stores_as<std::uint64_t>(std::uint64_t{3}));
  EXPECT_TRUE(stores_as<std::uint64_t>(std::uint32_t{3}));
  EXPECT_TRUE(stores_as<std::uint64_t>(std::uint16_t{3}));
  EXPECT_TRUE(stores_as<std::uint64_t>(std::uint8_t{3}));
  EXPECT_TRUE(stores_as<std::uint64_t>(3u));
  EXPECT_TRUE(stores_as<std::uint64_t>(3ul));
  EXPECT_TRUE(stores_as<std::uint64_t>(3ull));
  EXPECT_TRUE(stores_as<std::int64_t>(3));
  EXPECT_TRUE(stores_as<std::int64_t>(3l));
  EXPECT_TRUE(stores_as<std::int64_t>(3ll));
  EXPECT_TRUE(stores_as<std::int64_t>(std::int8_t{-3}));
  EXPECT_TRUE(stores_as<std::int64_t>(std::int16_t{-3}));
  EXPECT_TRUE(stores_as<std::int64_t>(std::int32_t{-3}));
  EXPECT_TRUE(stores_as<std::int64_t>(std::ptrdiff_t{-3}));
  const long lvalue = -3;
  EXPECT_TRUE(stores_as<std::int64_t>(lvalue));
}

TEST(MetadataSet, BoolFloatsAndText_PickBoolDoubleAndString) {
  EXPECT_TRUE(stores_as<bool>(true));
  EXPECT_TRUE(stores_as<double>(0.5));
  EXPECT_TRUE(stores_as<double>(0.5f));
  EXPECT_TRUE(stores_as<std::string>("rgb8"));
  const char* pointer = "rgb8";
  EXPECT_TRUE(stores_as<std::string>(pointer));
  EXPECT_TRUE(stores_as<std::string>(std::string("rgb8")));
  EXPECT_TRUE(stores_as<std::string>(std::string_view("rgb8")));
  EXPECT_TRUE(stores_as<std::vector<std::int64_t>>(std::vector<std::int64_t>{1, 2}));
  EXPECT_TRUE(stores_as<std::vector<double>>(std::vector<double>{1.5}));
  EXPECT_TRUE(stores_as<std::vector<std::string>>(std::vector<std::string>{"a"}));
  EXPECT_TRUE(stores_as<std::uint64_t>(dcp::Parameter(std::uint64_t{1})));
}

TEST(MetadataSet, NullCString_ThrowsInvalidArgumentNamingTheKey) {
  dcp::Metadata metadata;
  const char* none = nullptr;
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "'label'",
                      error_of<std::invalid_argument>([&] { metadata.set("label", none); }));
  EXPECT_TRUE(metadata.parameters.empty());
}

TEST(MetadataSet, SameKeyAgain_ReplacesValueAndType) {
  dcp::Metadata metadata;
  metadata.set("seq", 7).set("seq", std::uint64_t{8});
  ASSERT_EQ(metadata.parameters.size(), 1u);
  EXPECT_EQ(std::get<std::uint64_t>(metadata.parameters.at("seq")), 8u);
}

TEST(MetadataSet, TypedSetters_StoreTheirAlternativeAndChain) {
  dcp::Metadata metadata;
  metadata.set_bool("b", true)
      .set_int("i", -1)
      .set_uint("u", 1)
      .set_float("f", 2.5)
      .set_string("s", "text")
      .set_int_list("il", {1, 2})
      .set_float_list("fl", {0.5})
      .set_string_list("sl", {"x", "y"});
  EXPECT_EQ(metadata.get_bool("b"), true);
  EXPECT_TRUE(std::holds_alternative<std::int64_t>(metadata.parameters.at("i")));
  EXPECT_TRUE(std::holds_alternative<std::uint64_t>(metadata.parameters.at("u")));
  EXPECT_EQ(metadata.get_int("i"), -1);
  EXPECT_EQ(metadata.get_uint("u"), 1u);
  EXPECT_EQ(metadata.get_float("f"), 2.5);
  EXPECT_EQ(metadata.get_string("s"), "text");
  EXPECT_EQ(metadata.get_str("s"), "text");
  EXPECT_EQ(metadata.get_int_list("il"), (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(metadata.get_float_list("fl"), (std::vector<double>{0.5}));
  EXPECT_EQ(metadata.get_string_list("sl"), (std::vector<std::string>{"x", "y"}));
}

TEST(MetadataGet, AbsentKeyOrOtherType_IsNullopt) {
  dcp::Metadata metadata;
  metadata.set("s", "text").set("f", 1.0).set("b", true);
  EXPECT_EQ(metadata.get_uint("missing"), std::nullopt);
  EXPECT_EQ(metadata.get_uint("s"), std::nullopt);
  EXPECT_EQ(metadata.get_uint("f"), std::nullopt);  // a double is never read as an integer
  EXPECT_EQ(metadata.get_int("b"), std::nullopt);   // nor a bool
  EXPECT_EQ(metadata.get_float("b"), std::nullopt);
  EXPECT_EQ(metadata.get_int_list("s"), std::nullopt);
}

TEST(MetadataGet, LimitValues_ReadBackExactly) {
  dcp::Metadata metadata;
  metadata.set("u0", std::uint64_t{0}).set("umax", kUint64Max).set("imin", kInt64Min).set("imax", kInt64Max);
  EXPECT_EQ(metadata.get_uint("u0"), 0u);
  EXPECT_EQ(metadata.get_uint("umax"), kUint64Max);
  EXPECT_EQ(metadata.get_int("imin"), kInt64Min);
  EXPECT_EQ(metadata.get_int("imax"), kInt64Max);
}

TEST(MetadataGet, AcrossSignedness_ReadsValuesThatFitAndNeverWraps) {
  dcp::Metadata metadata;
  metadata.set("u_fits", static_cast<std::uint64_t>(kInt64Max))
      .set("u_too_big", static_cast<std::uint64_t>(kInt64Max) + 1)
      .set("i_zero", 0)
      .set("i_max", kInt64Max)
      .set("i_negative", -1)
      .set("i_min", kInt64Min);
  EXPECT_EQ(metadata.get_int("u_fits"), kInt64Max);
  EXPECT_EQ(metadata.get_int("u_too_big"), std::nullopt);
  EXPECT_EQ(metadata.get_uint("i_zero"), 0u);  // what a uint sent through Dora arrives as
  EXPECT_EQ(metadata.get_uint("i_max"), static_cast<std::uint64_t>(kInt64Max));
  EXPECT_EQ(metadata.get_uint("i_negative"), std::nullopt);
  EXPECT_EQ(metadata.get_uint("i_min"), std::nullopt);
}

TEST(MetadataCompare, SameNumberOfOtherSignedness_IsNotEqual) {
  dcp::Metadata signed_seven;
  signed_seven.set("seq", 7);
  dcp::Metadata unsigned_seven;
  unsigned_seven.set("seq", 7u);
  EXPECT_NE(signed_seven, unsigned_seven);  // the type is part of the value: nothing is converted silently
}

TEST(MetadataTimestamp, SetAndSetTimestamp_StoreTheTimestampAlternative) {
  EXPECT_TRUE(stores_as<dcp::Timestamp>(dcp::Timestamp{1'700'000'000'000'000'000}));
  const dcp::Timestamp before_1970{-1};
  EXPECT_TRUE(stores_as<dcp::Timestamp>(before_1970));  // a const lvalue as well
  dcp::Metadata metadata;
  metadata.set_timestamp("captured", dcp::Timestamp{kInt64Min}).set_int("seq", 1);
  EXPECT_TRUE(std::holds_alternative<dcp::Timestamp>(metadata.parameters.at("captured")));
  EXPECT_EQ(metadata.get_timestamp("captured"), dcp::Timestamp{kInt64Min});
  EXPECT_EQ(metadata.parameters.at("captured").index(), 8u);  // appended: the older indices keep theirs
}

TEST(MetadataTimestamp, LimitValues_ReadBackExactly) {
  dcp::Metadata metadata;
  metadata.set("min", dcp::Timestamp{kInt64Min}).set("zero", dcp::Timestamp{}).set("max", dcp::Timestamp{kInt64Max});
  EXPECT_EQ(metadata.get_timestamp("min")->nanoseconds_since_epoch, kInt64Min);
  EXPECT_EQ(metadata.get_timestamp("zero")->nanoseconds_since_epoch, 0);
  EXPECT_EQ(metadata.get_timestamp("max")->nanoseconds_since_epoch, kInt64Max);
}

TEST(MetadataTimestamp, IntegersAndTimestamps_AreNeverReadAsEachOther) {
  dcp::Metadata metadata;
  metadata.set("ts", dcp::Timestamp{5}).set("i", std::int64_t{5}).set("u", std::uint64_t{5});
  EXPECT_EQ(metadata.get_int("ts"), std::nullopt);
  EXPECT_EQ(metadata.get_uint("ts"), std::nullopt);
  EXPECT_EQ(metadata.get_timestamp("i"), std::nullopt);
  EXPECT_EQ(metadata.get_timestamp("u"), std::nullopt);
  EXPECT_EQ(metadata.get_timestamp("missing"), std::nullopt);
  dcp::Metadata as_integer;
  as_integer.set("ts", std::int64_t{5});
  dcp::Metadata as_timestamp;
  as_timestamp.set("ts", dcp::Timestamp{5});
  EXPECT_NE(as_integer, as_timestamp);
}

TEST(MetadataTimestamp, SystemClockTimePoint_ConvertsBothWaysToTheNanosecond) {
  const auto epoch = std::chrono::system_clock::time_point{};
  EXPECT_EQ(dcp::Timestamp::from(epoch).nanoseconds_since_epoch, 0);
  const auto later = epoch + std::chrono::seconds(1'700'000'000) + std::chrono::microseconds(250);
  EXPECT_EQ(dcp::Timestamp::from(later).nanoseconds_since_epoch, 1'700'000'000'000'250'000);
  EXPECT_EQ(dcp::Timestamp::from(later).time_point(), later);
  const auto earlier = epoch - std::chrono::seconds(3);
  EXPECT_EQ(dcp::Timestamp::from(earlier).nanoseconds_since_epoch, -3'000'000'000);
  EXPECT_LT(dcp::Timestamp::from(earlier), dcp::Timestamp::from(later));
}

}  // namespace
