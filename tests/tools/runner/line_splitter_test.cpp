// Tests of the line splitting behind `[node] ...` output (src/runner/line_splitter.hpp).
#include "runner/line_splitter.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using dcp::runner::LineSplitter;

struct Collect {
  std::vector<std::string> lines;
  LineSplitter::Emit emit() {
    return [this](std::string_view line) { lines.emplace_back(line); };
  }
};

TEST(LineSplitter, LinesSplitAcrossChunks_AreEmittedWhole) {
  LineSplitter splitter;
  Collect c;
  splitter.feed("fra", c.emit());
  EXPECT_TRUE(c.lines.empty());
  EXPECT_TRUE(splitter.has_partial());
  splitter.feed("me 1\nframe 2\nfr", c.emit());
  EXPECT_EQ(c.lines, (std::vector<std::string>{"frame 1", "frame 2"}));
  splitter.feed("ame 3\n", c.emit());
  EXPECT_EQ(c.lines.back(), "frame 3");
  EXPECT_FALSE(splitter.has_partial());
}

TEST(LineSplitter, EmptyLinesAndCarriageReturns_AreKept) {
  LineSplitter splitter;
  Collect c;
  splitter.feed("\n\na\r\n", c.emit());
  EXPECT_EQ(c.lines, (std::vector<std::string>{"", "", "a\r"}));
}

TEST(LineSplitter, Finish_EmitsThePartialLineOnce) {
  LineSplitter splitter;
  Collect c;
  splitter.feed("done\nno newline", c.emit());
  splitter.finish(c.emit());
  splitter.finish(c.emit());
  EXPECT_EQ(c.lines, (std::vector<std::string>{"done", "no newline"}));
}

TEST(LineSplitter, EndlessLine_IsCutIntoPiecesOfTheMaximumLength) {
  LineSplitter splitter;
  Collect c;
  const std::string chunk(LineSplitter::kMaxLineLength / 2 + 7, 'x');
  for (int i = 0; i < 5; ++i) splitter.feed(chunk, c.emit());
  splitter.feed("\n", c.emit());
  std::size_t total = 0;
  for (const std::string& line : c.lines) {
    EXPECT_LE(line.size(), LineSplitter::kMaxLineLength);
    total += line.size();
  }
  EXPECT_EQ(total, chunk.size() * 5);
  EXPECT_EQ(c.lines.size(), 3u);
}

TEST(LineSplitter, LineOfExactlyTheMaximumLength_IsOneLine) {
  LineSplitter splitter;
  Collect c;
  splitter.feed(std::string(LineSplitter::kMaxLineLength, 'y') + "\nz\n", c.emit());
  ASSERT_EQ(c.lines.size(), 2u);
  EXPECT_EQ(c.lines[0].size(), LineSplitter::kMaxLineLength);
  EXPECT_EQ(c.lines[1], "z");
}

}  // namespace
