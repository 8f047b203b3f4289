// Tests of runner/command_line.hpp: a build line split as Dora splits it (no shell).
#include "runner/command_line.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using dcp::runner::shell_syntax_in;
using dcp::runner::split_command_line;
using Words = std::vector<std::string>;

TEST(CommandLine, SplitsAtAnyWhitespace_RunsOfItCountOnce) {
  EXPECT_EQ(split_command_line("  cmake\t--build   build \r"), (Words{"cmake", "--build", "build"}));
  EXPECT_EQ(split_command_line(" \t "), Words{});
}

TEST(CommandLine, QuotedWord_KeepsItsSpaces_LosesItsQuotes) {
  EXPECT_EQ(split_command_line(R"(cmake -D "CMAKE_CXX_FLAGS=-O2 -g" -S .)"),
            (Words{"cmake", "-D", "CMAKE_CXX_FLAGS=-O2 -g", "-S", "."}));
  EXPECT_EQ(split_command_line(R"(a "" b)"), (Words{"a", "", "b"}));
  EXPECT_EQ(split_command_line(R"("at the end")"), (Words{"at the end"}));
}

TEST(CommandLine, QuoteEndsOnlyWhereAWordEnds) {
  // The `"` after `a` is followed by `b`, so the word goes on to the last quote.
  EXPECT_EQ(split_command_line(R"(x "a"b c" y)"), (Words{"x", R"(a"b c)", "y"}));
}

TEST(CommandLine, QuotesInsideAWord_SingleQuotesAndBackslashes_AreOrdinaryCharacters) {
  EXPECT_EQ(split_command_line(R"(echo x"y 'two words' a\ b)"),
            (Words{"echo", R"(x"y)", "'two", "words'", R"(a\)", "b"}));
}

TEST(CommandLine, UnclosedQuote_RunsToTheEndOfTheLineUnchanged) {
  EXPECT_EQ(split_command_line(R"(echo "not closed  )"), (Words{"echo", R"("not closed  )"}));
  EXPECT_EQ(split_command_line(R"(echo ")"), (Words{"echo", R"(")"}));
}

TEST(CommandLine, NothingIsExpanded) {
  EXPECT_EQ(split_command_line("echo $HOME ~ *.cpp $(pwd)"),
            (Words{"echo", "$HOME", "~", "*.cpp", "$(pwd)"}));
}

TEST(CommandLine, ShellSyntax_IsFoundAmongTheWords) {
  EXPECT_EQ(shell_syntax_in(split_command_line("make && ./run > log 2>&1 | tee x ; echo $HOME ~/x")),
            (Words{"&&", ">", "2>&1", "|", ";", "$HOME", "~/x"}));
  EXPECT_EQ(shell_syntax_in(split_command_line(R"(sh -c "make && ./run")")), Words{});
}

}  // namespace
