// Tests of the runner's node log files (runner/node_logs.hpp): Dora's place (out/<run id>/
// log_<node>.jsonl) and record form, UUID v7 run ids, failed writes counted.
#include "runner/node_logs.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <string>
#include <vector>

#include "support/file_contents.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using dcp::runner::NodeLogs;

TEST(NodeLogRecord, HasDorasFieldsInDorasOrder_TimeInUtcWithMilliseconds) {
  const auto when = std::chrono::sys_days{std::chrono::year{2026} / 12 / 3} + std::chrono::hours{13} +
                    std::chrono::minutes{45} + std::chrono::seconds{1} + std::chrono::microseconds{123'456};
  EXPECT_EQ(NodeLogs::record("camera", true, "frame 12", when),
            R"({"ts":"2026-12-03T13:45:01.123Z","level":"stdout","node":"camera","stream":"stderr","msg":"frame 12",)"
            R"("target":null,"fields":null})"
            "\n");
  EXPECT_NE(NodeLogs::record("camera", false, "x", when).find(R"("stream":"stdout")"), std::string::npos);
}

TEST(NodeLogRecord, ControlCharactersEscaped_InvalidUtf8Replaced_OneLineAlways) {
  const std::string record = NodeLogs::record("n", false, std::string("a\"\tb\x1b[2J\xff\xfe", 10), {});
  // Non-ASCII is written as UTF-8, as Dora's serde_json writes it; U+FFFD is EF BF BD.
  EXPECT_NE(record.find(R"("msg":"a\"\tb\u001b[2J)" "\xef\xbf\xbd\xef\xbf\xbd\""), std::string::npos) << record;
  EXPECT_EQ(record.find('\n'), record.size() - 1);
}

TEST(NodeLogRunId, IsAUuidVersion7_LaterIdsSortAfterEarlierOnes) {
  const std::string first = NodeLogs::make_run_id();
  ASSERT_EQ(first.size(), 36u);
  for (const std::size_t dash : {8u, 13u, 18u, 23u}) EXPECT_EQ(first[dash], '-') << first;
  EXPECT_EQ(first[14], '7') << first;
  EXPECT_NE(std::string("89ab").find(first[19]), std::string::npos) << first;
  const std::string second = NodeLogs::make_run_id();
  EXPECT_NE(first, second);
  EXPECT_LE(first.substr(0, 13), second.substr(0, 13)) << "the first 48 bits are the time in ms";
}

TEST(NodeLogs, OneFilePerNodeUnderOutRunId_LinesAppendedInOrder) {
  const dcp::test::TempDir dir("dcp_node_logs");
  NodeLogs logs(dir.path(), "run-1", {"camera", "planner"});
  EXPECT_EQ(logs.folder(), dir.path() / "out" / "run-1");
  logs.write(0, false, "one");
  logs.write(1, true, "two");
  logs.write(0, true, "three");
  const std::string camera = dcp::test::read_file(dir.path() / "out" / "run-1" / "log_camera.jsonl");
  EXPECT_LT(camera.find(R"("msg":"one")"), camera.find(R"("msg":"three")")) << camera;
  EXPECT_EQ(std::count(camera.begin(), camera.end(), '\n'), 2);
  const std::string planner = dcp::test::read_file(dir.path() / "out" / "run-1" / "log_planner.jsonl");
  EXPECT_NE(planner.find(R"("node":"planner","stream":"stderr","msg":"two")"), std::string::npos) << planner;
  EXPECT_EQ(logs.failed_writes(), 0u);
}

TEST(NodeLogs, WriteThatFails_IsCountedWithTheFirstError_NeverThrows) {
  const dcp::test::TempDir dir("dcp_node_logs");
  fs::create_directories(dir.path() / "out" / "run-1");
  fs::create_symlink("/dev/full", dir.path() / "out" / "run-1" / "log_camera.jsonl");  // every write: ENOSPC
  NodeLogs logs(dir.path(), "run-1", {"camera"});
  EXPECT_NO_THROW(logs.write(0, false, "lost"));
  EXPECT_NO_THROW(logs.write(0, false, "lost too"));
  EXPECT_EQ(logs.failed_writes(), 2u);
  EXPECT_NE(logs.first_error().find("No space left on device"), std::string::npos) << logs.first_error();
}

TEST(NodeLogs, FolderThatCannotBeCreated_ThrowsNamingIt) {
  const dcp::test::TempDir dir("dcp_node_logs");
  std::ofstream(dir.path() / "out") << "a file, not a folder\n";
  try {
    NodeLogs logs(dir.path(), "run-1", {"camera"});
    FAIL() << "no error";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find((dir.path() / "out" / "run-1").string()), std::string::npos) << e.what();
  }
}

}  // namespace
