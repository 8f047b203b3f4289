// tests/tools/dataflow/run_dcp.hpp — runs the built `dcp` binary (DCP_EXECUTABLE) for the CLI
// tests and captures what it printed.
//
//   const RunResult r = run_dcp({"check", "dataflow.yml"});   // r.exit_code, r.out, r.err
//
// stdout and stderr go to files in a fresh temporary folder (no pipe can fill up and block).
// Thread safety: call from one thread at a time per test. Blocking: until dcp exits.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "support/file_contents.hpp"
#include "support/temp_dir.hpp"

extern char** environ;

namespace dcp::test {

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `dcp <args...>` with stdout and stderr captured in temporary files.
inline RunResult run_dcp(const std::vector<std::string>& args) {
  const dcp::test::TempDir dir("dcp_cli_test");
  const std::string out_path = (dir.path() / "stdout").string();
  const std::string err_path = (dir.path() / "stderr").string();

  std::vector<std::string> arguments = {DCP_EXECUTABLE};
  arguments.insert(arguments.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);

  RunResult result;
  if (spawned != 0) {
    ADD_FAILURE() << "cannot start " << argv[0];
    return result;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = dcp::test::read_file(out_path);
  result.err = dcp::test::read_file(err_path);
  return result;
}

}  // namespace dcp::test
