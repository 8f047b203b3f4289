// Tests of tools/runner/process_table: parsing /proc/<pid>/stat, and reading real processes.
#include "runner/process_table.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

namespace dcp::runner {
namespace {

TEST(ParseProcessStat, CommWithSpacesAndParentheses_EndsAtTheLastParenthesis) {
  const auto info = parse_process_stat(
      42, "42 (a) b (c)) S 7 8 9 0 -1 4194304 1 0 0 0 0 0 0 0 20 0 1 0 123456 0 0");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->pid, 42);
  EXPECT_EQ(info->name, "a) b (c)");
  EXPECT_EQ(info->state, 'S');
  EXPECT_EQ(info->parent, 7);
  EXPECT_EQ(info->process_group, 8);
  EXPECT_EQ(info->session, 9);
  EXPECT_EQ(info->start_time, 123456U);
  EXPECT_TRUE(info->running());
}

TEST(ParseProcessStat, Zombie_IsNotRunning) {
  const auto info = parse_process_stat(5, "5 (sleep) Z 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0");
  ASSERT_TRUE(info.has_value());
  EXPECT_FALSE(info->running());
}

TEST(ParseProcessStat, TextCutShortOrMalformed_IsNullopt) {
  EXPECT_FALSE(parse_process_stat(1, "").has_value());
  EXPECT_FALSE(parse_process_stat(1, "1 (init").has_value());
  EXPECT_FALSE(parse_process_stat(1, "1 (init) S").has_value());
  EXPECT_FALSE(parse_process_stat(1, "1 (init) S 0 1 1 0 -1").has_value());  // no start time
  EXPECT_FALSE(parse_process_stat(1, "1 )init( S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9").has_value());
}

TEST(ReadProcess, ThisProcess_MatchesWhatTheKernelSays) {
  const auto info = read_process(getpid());
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->parent, getppid());
  EXPECT_EQ(info->process_group, getpgrp());
  EXPECT_EQ(info->session, getsid(0));
  EXPECT_TRUE(info->running());
  EXPECT_TRUE(still_running(*info));
}

TEST(ReadProcess, NoSuchPid_IsNullopt) {
  EXPECT_FALSE(read_process(0).has_value());
  EXPECT_FALSE(read_process(-1).has_value());
}

TEST(StillRunning, ChildThatEndedAndWasReaped_IsNotRunning) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    char byte = 0;
    (void)!read(ready[0], &byte, 1);  // waits until the parent has read its stat
    _exit(0);
  }
  const auto info = read_process(child);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->parent, getpid());
  EXPECT_TRUE(still_running(*info));
  EXPECT_EQ(write(ready[1], "x", 1), 1);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_FALSE(still_running(*info));
  close(ready[0]);
  close(ready[1]);
}

TEST(ListProcesses, IncludesThisProcess) {
  bool found = false;
  for (const ProcessInfo& p : list_processes()) found = found || p.pid == getpid();
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace dcp::runner
