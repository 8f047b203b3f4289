// Unit tests of dcp/node/payload.hpp: copies share the bytes, factories own what they hold, the bytes
// outlive their source.
#include "dcp/node/payload.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

TEST(Payload, DefaultConstructed_IsEmpty) {
  const dcp::Payload payload;
  EXPECT_TRUE(payload.empty());
  EXPECT_EQ(payload.size(), 0u);
  EXPECT_EQ(payload.data(), nullptr);
  EXPECT_TRUE(payload.bytes().empty());
  EXPECT_EQ(payload.as_string(), "");
  EXPECT_FALSE(payload.is_shared_memory());
}

TEST(Payload, CopyOf_TakesItsOwnCopy_SourceChangesDoNotShow) {
  std::vector<std::uint8_t> source{1, 2, 3};
  const auto payload = dcp::Payload::copy_of(source);
  source[0] = 99;
  EXPECT_NE(payload.data(), source.data());
  EXPECT_EQ(payload.to_vector(), (std::vector<std::uint8_t>{1, 2, 3}));
}

TEST(Payload, FromVector_TakesTheBufferOverWithoutCopying) {
  std::vector<std::uint8_t> source(1000, 7);
  const std::uint8_t* original = source.data();
  const auto payload = dcp::Payload::from_vector(std::move(source));
  EXPECT_EQ(payload.data(), original);
  EXPECT_EQ(payload.size(), 1000u);
  EXPECT_FALSE(payload.is_shared_memory());
}

TEST(Payload, FromString_HoldsTheCharactersWithoutTerminator) {
  std::string text = "hello";
  const auto payload = dcp::Payload::from_string(text);
  text = "changed";
  EXPECT_EQ(payload.size(), 5u);
  EXPECT_EQ(payload.as_string(), "hello");
  EXPECT_TRUE(dcp::Payload::from_string("").empty());
}

TEST(Payload, Copies_ShareTheSameBytes) {
  const auto original = dcp::Payload::from_string("shared bytes");
  const dcp::Payload copy = original;  // NOLINT(performance-unnecessary-copy-initialization): the point
  EXPECT_EQ(copy.data(), original.data());
  EXPECT_EQ(copy.size(), original.size());
  EXPECT_EQ(copy, original);
}

TEST(Payload, BytesOutliveTheOriginalPayload) {
  std::unique_ptr<dcp::Payload> original = std::make_unique<dcp::Payload>(dcp::Payload::from_string("still here"));
  const dcp::Payload copy = *original;
  original.reset();
  EXPECT_EQ(copy.as_string(), "still here");
}

TEST(Payload, MovedFrom_IsEmptyAndTheTargetKeepsTheBytes) {
  auto source = dcp::Payload::from_string("moving");
  const std::uint8_t* bytes = source.data();
  const dcp::Payload target = std::move(source);
  EXPECT_EQ(target.data(), bytes);
  EXPECT_EQ(target.as_string(), "moving");
}

TEST(Payload, Equality_ComparesBytesNotStorage) {
  const std::vector<std::uint8_t> bytes{'a', 'b'};
  EXPECT_EQ(dcp::Payload::copy_of(bytes), dcp::Payload::from_string("ab"));
  EXPECT_FALSE(dcp::Payload::from_string("ab") == dcp::Payload::from_string("abc"));
  EXPECT_EQ(dcp::Payload(), dcp::Payload::from_string(""));
}

TEST(Payload, CopiesReadFromSeveralThreads_SeeTheSameBytes) {
  const auto payload = dcp::Payload::from_vector(std::vector<std::uint8_t>(4096, 5));
  std::vector<std::thread> readers;
  std::vector<std::uint64_t> sums(4, 0);
  for (std::size_t i = 0; i < sums.size(); ++i) {
    readers.emplace_back([copy = payload, &sum = sums[i]] {
      for (const std::uint8_t b : copy.bytes()) sum += b;
    });
  }
  for (auto& reader : readers) reader.join();
  for (const auto sum : sums) EXPECT_EQ(sum, 4096u * 5);
}

}  // namespace
