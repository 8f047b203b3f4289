// Tests of the per-node secrets (src/runner/secret.hpp).
#include "runner/secret.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace {

using dcp::runner::make_secret;
using dcp::runner::secrets_equal;

TEST(MakeSecret, Is32LowercaseHexDigits_AndFreshEachTime) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string secret = make_secret();
    ASSERT_EQ(secret.size(), 32u);
    EXPECT_EQ(secret.find_first_not_of("0123456789abcdef"), std::string::npos) << secret;
    seen.insert(secret);
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST(SecretsEqual, EqualOnlyForIdenticalStrings) {
  const std::string secret = make_secret();
  EXPECT_TRUE(secrets_equal(secret, secret));
  std::string other = secret;
  other.back() = other.back() == '0' ? '1' : '0';
  EXPECT_FALSE(secrets_equal(secret, other));
  EXPECT_FALSE(secrets_equal(secret, secret.substr(0, 31)));
  EXPECT_FALSE(secrets_equal(secret, ""));
  EXPECT_TRUE(secrets_equal("", ""));
}

}  // namespace
