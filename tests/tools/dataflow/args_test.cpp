// Tests of dataflow/args.hpp: shell-like splitting of a node's `args` string.
#include "dataflow/args.hpp"

#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using dcp::dataflow::split_args;
using Words = std::vector<std::string>;

TEST(SplitArgs, UnquotedWhitespace_SeparatesWords) {
  EXPECT_EQ(split_args("--rate 100"), (Words{"--rate", "100"}));
  EXPECT_EQ(split_args("  a\t\tb\n c \r\n"), (Words{"a", "b", "c"}));
  EXPECT_EQ(split_args(""), Words{});
  EXPECT_EQ(split_args("   "), Words{});
}

TEST(SplitArgs, SingleQuotes_KeepEverythingLiterally) {
  EXPECT_EQ(split_args(R"('a b' 'c\d' '"e"' '$HOME')"),
            (Words{"a b", R"(c\d)", R"("e")", "$HOME"}));
}

TEST(SplitArgs, DoubleQuotes_KeepSpacesAndUnescapeOnlyTheShellSet) {
  EXPECT_EQ(split_args(R"("front camera")"), (Words{"front camera"}));
  EXPECT_EQ(split_args(R"("a\"b" "c\\d" "e\$f" "g\`h" "i\nj")"),
            (Words{"a\"b", R"(c\d)", "e$f", "g`h", R"(i\nj)"}));
  EXPECT_EQ(split_args("\"a\\\nb\""), (Words{"ab"}));  // backslash-newline disappears
}

TEST(SplitArgs, BackslashOutsideQuotes_EscapesTheNextCharacter) {
  EXPECT_EQ(split_args(R"(x\ y \'z\' \\)"), (Words{"x y", "'z'", "\\"}));
  EXPECT_EQ(split_args("a\\\nb"), (Words{"ab"}));
}

TEST(SplitArgs, AdjacentPieces_JoinIntoOneWord) {
  EXPECT_EQ(split_args(R"(--name="a b"'c'd)"), (Words{"--name=a bcd"}));
}

TEST(SplitArgs, EmptyQuotes_MakeEmptyWords) {
  EXPECT_EQ(split_args(R"(a "" '' b)"), (Words{"a", "", "", "b"}));
}

TEST(SplitArgs, ShellSyntaxBeyondQuoting_IsOrdinaryText) {
  EXPECT_EQ(split_args("$HOME * | > ; ~"), (Words{"$HOME", "*", "|", ">", ";", "~"}));
}

// Quotes `word` the way a shell user would: single quotes, with ' written as '\''.
std::string shell_quote(const std::string& word) {
  std::string out = "'";
  for (const char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

TEST(SplitArgs, AnyWordsQuotedLikeAShellUserWould_SplitBackToThemselves) {
  std::mt19937 random(20240611);
  const std::string alphabet = "ab ' \"\\$\t\n-=*";
  for (int round = 0; round < 500; ++round) {
    Words words(random() % 5);
    std::string args;
    for (std::string& word : words) {
      const std::size_t length = random() % 6;
      for (std::size_t i = 0; i < length; ++i) word += alphabet[random() % alphabet.size()];
      args += shell_quote(word) + (random() % 2 == 0 ? " " : "\t ");
    }
    EXPECT_EQ(split_args(args), words) << args;
  }
}

TEST(SplitArgs, UnterminatedQuotesAndTrailingBackslash_Throw) {
  EXPECT_THROW(static_cast<void>(split_args("'abc")), std::invalid_argument);
  EXPECT_THROW(static_cast<void>(split_args("\"abc")), std::invalid_argument);
  EXPECT_THROW(static_cast<void>(split_args("\"abc\\\"")), std::invalid_argument);
  EXPECT_THROW(static_cast<void>(split_args("abc\\")), std::invalid_argument);
}

}  // namespace
