// Tests of the `dcp` command line (apps/dcp): runs the built binary (DCP_EXECUTABLE) on the
// fixture files and checks exit codes, stdout and stderr.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "run_dcp.hpp"
#include "support/file_contents.hpp"
#include "support/hang_timeout.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using dcp::test::run_dcp;
using dcp::test::RunResult;

std::string fixture(const std::string& relative) {
  return std::string(DCP_DATAFLOW_FIXTURES) + "/" + relative;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

TEST(CliCheck, ValidDataflow_PrintsTheExplanationThenOk_Exit0) {
  const RunResult r = run_dcp({"check", fixture("valid/robot.yml")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(
      r.out.rfind("dataflow " + fixture("valid/robot.yml") + ": 4 nodes, 7 inputs, 2 timers\n", 0),
      0u)
      << r.out;
  EXPECT_NE(r.out.find("    frame <- camera/image, queue 1\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("is not read by any node"), std::string::npos) << r.out;
  EXPECT_TRUE(ends_with(r.out, "\nok\n")) << r.out;
  EXPECT_EQ(r.err, "");
}

TEST(CliCheck, InvalidDataflow_PrintsTheErrorOnStderr_Exit1) {
  const RunResult r = run_dcp({"check", fixture("invalid/unknown_node.yml")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "dcp check: " + fixture("invalid/unknown_node.yml") +
                       ":12:14: nodes[2].inputs.estop: unknown node 'safty' (known nodes: "
                       "sensors, safety, processor)\n");
}

// Each line of `text`.
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return lines;
}

TEST(CliCheck, FileWithManyProblems_PrintsEveryOneWithItsPosition_Exit1) {
  const std::string path = fixture("invalid/many_errors.yml");
  const RunResult r = run_dcp({"check", path});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  const std::vector<std::string> lines = lines_of(r.err);
  ASSERT_EQ(lines.size(), 12u) << r.err;
  EXPECT_EQ(lines.front(), "dcp check: " + path +
                               ":6:9: nodes[0].outputs[1]: duplicate output 'image' (first "
                               "declared at line 5)");
  EXPECT_EQ(lines[9].rfind("dcp check: " + path + ":21:11: nodes[4].path: executable "
                           "'../bin/missing' not found",
                           0),
            0u)
      << lines[9];
  EXPECT_EQ(lines.back(), "dcp check: " + path +
                              ":24:9: deploy: deploy must be a map of machine, working_dir, labels "
                              "and distribute, got a string");
}

TEST(CliGraphAndRun, FileWithManyProblems_AreRefusedWithTheSameMessages) {
  const std::string path = fixture("invalid/many_errors.yml");
  const RunResult check = run_dcp({"check", path});
  const RunResult graph = run_dcp({"graph", "--exec-check", path});
  const RunResult run = run_dcp({"run", path});
  EXPECT_EQ(graph.exit_code, 1);
  EXPECT_EQ(run.exit_code, 1);
  const std::vector<std::string> expected = lines_of(check.err);
  const std::vector<std::string> graph_lines = lines_of(graph.err);
  const std::vector<std::string> run_lines = lines_of(run.err);
  ASSERT_EQ(graph_lines.size(), expected.size()) << graph.err;
  ASSERT_EQ(run_lines.size(), expected.size()) << run.err;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const std::string message = expected[i].substr(std::string("dcp check: ").size());
    EXPECT_EQ(graph_lines[i], "dcp graph: " + message);
    EXPECT_EQ(run_lines[i], "dcp run: " + message);
  }
}

TEST(CliCheck, MissingExecutable_Exit1_UnlessTheCheckIsSkipped) {
  const RunResult checked = run_dcp({"check", fixture("valid/not_built.yml")});
  EXPECT_EQ(checked.exit_code, 1);
  EXPECT_NE(checked.err.find("nodes[0].path: executable 'build/planner' not found"),
            std::string::npos)
      << checked.err;
  const RunResult skipped = run_dcp({"check", "--no-exec-check", fixture("valid/not_built.yml")});
  EXPECT_EQ(skipped.exit_code, 0) << skipped.err;
  EXPECT_TRUE(ends_with(skipped.out, "\nok\n"));
}

TEST(CliCheck, ValidateIsDorasNameForCheck_SameOutput) {
  const RunResult check = run_dcp({"check", fixture("valid/robot.yml")});
  const RunResult validate = run_dcp({"validate", fixture("valid/robot.yml")});
  EXPECT_EQ(validate.exit_code, 0) << validate.err;
  EXPECT_EQ(validate.out, check.out);
  EXPECT_EQ(run_dcp({"validate", fixture("invalid/many_errors.yml")}).exit_code, 1);
}

TEST(CliCheck, MissingFile_Exit1) {
  const RunResult r = run_dcp({"check", fixture("nope.yml")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "dcp check: " + fixture("nope.yml") +
                       ": cannot read the file: No such file or directory\n");
}

// A FIFO with no writer would block a plain open forever (a hang here is caught by ctest's timeout).
TEST(CliCheck, Fifo_IsRefusedAtOnceNamingTheFile_Exit1) {
  const dcp::test::TempDir dir("dcp_cli_test");
  const std::string fifo = (dir.path() / "dataflow.yml").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const RunResult r = run_dcp({"check", fifo});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "dcp check: " + fifo + ": cannot read the file: it is a FIFO, not a regular file\n");
}

TEST(CliCheck, CharacterDevice_IsRefusedAsNotARegularFile_Exit1) {
  const RunResult r = run_dcp({"check", "/dev/null"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "dcp check: /dev/null: cannot read the file: it is a character device, not a regular file\n");
}

TEST(CliCheck, YamlErrorQuotingAControlByte_IsPrintedEscaped) {
  const dcp::test::TempDir dir("dcp_cli_test");
  const std::string file = (dir.path() / "dataflow.yml").string();
  std::ofstream(file) << "nodes:\n  - id: \"\\\x1b[2J\"\n";  // an escape sequence after a backslash
  const RunResult r = run_dcp({"check", file});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("unknown escape character: \\x1b"), std::string::npos) << r.err;
}

TEST(CliGraph, PrintsMermaidWithoutNeedingExecutables_Exit0) {
  const RunResult r = run_dcp({"graph", fixture("valid/not_built.yml")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "flowchart TB\n"
            "  %% dataflow: " +
                fixture("valid/not_built.yml") +
                "\n"
                "  n0[\"planner\"]\n"
                "  n1[\"driver\"]\n"
                "  t0([\"dora/timer/millis/100\"])\n"
                "  t0 -->|\"tick\"| n0\n"
                "  n0 -->|\"plan -> plan\"| n1\n");
  EXPECT_EQ(r.err, "");
}

TEST(CliGraph, ExecCheckFlag_ChecksExecutables) {
  EXPECT_EQ(run_dcp({"graph", "--exec-check", fixture("valid/not_built.yml")}).exit_code, 1);
  EXPECT_EQ(run_dcp({"graph", "--exec-check", fixture("valid/robot.yml")}).exit_code, 0);
}

TEST(CliGraph, InvalidDataflow_Exit1) {
  const RunResult r = run_dcp({"graph", fixture("invalid/malformed_timer.yml")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("dcp graph: " + fixture("invalid/malformed_timer.yml") + ":5:13: ", 0), 0u)
      << r.err;
}

// `dcp run` itself is tested in tests/runner/; here only what it shares with check and graph.
TEST(CliRun, DataflowWithMissingExecutables_Exit1BeforeStartingAnything) {
  const RunResult r = run_dcp({"run", fixture("valid/not_built.yml")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("dcp run: " + fixture("valid/not_built.yml") + ":", 0), 0u) << r.err;
}

// A dataflow in a fresh folder whose node `a` has `build` and whose `path` is what the build makes.
struct BuiltDataflow {
  dcp::test::TempDir dir{"dcp_cli_build"};
  std::string file;

  explicit BuiltDataflow(const std::string& build_lines) {
    file = (dir.path() / "dataflow.yml").string();
    std::ofstream(file) << "nodes:\n  - id: a\n    path: made.sh\n    env: {GREETING: hi}\n"
                           "    build: |\n"
                        << build_lines;
  }
};

TEST(CliBuild, RunsEachLineInTheDataflowFolderWithTheNodeEnv_OutputPrefixedByNode_Exit0) {
  const BuiltDataflow flow("      sh -c \"echo $GREETING from $(basename $PWD)\"\n"
                           "      sh -c \"echo warned >&2\"\n");
  const RunResult r = run_dcp({"build", flow.file});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[a] hi from " + flow.dir.path().filename().string() + "\n");
  EXPECT_NE(r.err.find("[a!] warned\n"), std::string::npos) << r.err;
}

TEST(CliBuild, StopsAtTheFirstFailure_NamingTheNodeAndExitCode_Exit1) {
  const BuiltDataflow flow("      sh -c \"exit 3\"\n      touch second_line_ran\n");
  const RunResult r = run_dcp({"build", flow.file});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("dcp build: node 'a': build command `sh -c \"exit 3\"` failed: exit code 3\n"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(flow.dir.path() / "second_line_ran"));
}

// Dora runs a build line as one program with its arguments, without a shell: so does dcp, or a
// line that only works through a shell would pass here and fail under `dora build`.
TEST(CliBuild, LineRunsWithoutAShell_OperatorsAndVariablesArePlainArguments) {
  const BuiltDataflow flow("      echo $GREETING && touch made_by_a_shell\n");
  const RunResult r = run_dcp({"build", flow.file});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[a] $GREETING && touch made_by_a_shell\n");
  EXPECT_FALSE(fs::exists(flow.dir.path() / "made_by_a_shell"));
}

TEST(CliBuild, QuotedWordsKeepTheirSpaces_QuotesInsideAWordStay) {
  const BuiltDataflow flow("      printf [%s] \"two  words\" x\"y 'single quoted'\n");
  const RunResult r = run_dcp({"build", flow.file});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[a] [two  words][x\"y]['single][quoted']\n");
}

TEST(CliBuild, FailedShellStyleLine_NamesTheShellSyntaxThatWentToTheProgram) {
  const BuiltDataflow flow("      ls no_such_file && echo done\n");
  const RunResult r = run_dcp({"build", flow.file});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("dcp build: node 'a': build command `ls no_such_file && echo done` failed: "
                       "exit code 2 (build lines run without a shell, as in Dora: `&&` went to "
                       "`ls` as argument; write one command per line, or `sh -c \"...\"`)\n"),
            std::string::npos)
      << r.err;
}

TEST(CliBuild, ProgramNotInPath_IsNamed_Exit1) {
  const BuiltDataflow flow("      no-such-build-tool --all\n");
  const RunResult r = run_dcp({"build", flow.file});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("dcp build: node 'a': build command `no-such-build-tool --all` could not "
                       "start: `no-such-build-tool` is not a program in $PATH\n"),
            std::string::npos)
      << r.err;
}

TEST(CliBuild, ProgramWithASlash_IsRelativeToTheDataflowFolder) {
  const BuiltDataflow flow("      ./tools/gen.sh\n");
  fs::create_directory(flow.dir.path() / "tools");
  const fs::path script = flow.dir.path() / "tools" / "gen.sh";
  std::ofstream(script) << "#!/bin/sh\necho generated in $(basename \"$PWD\")\n";
  fs::permissions(script, fs::perms::owner_all);
  const RunResult r = run_dcp({"build", flow.file});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[a] generated in " + flow.dir.path().filename().string() + "\n");
}

// Ctrl-C in a terminal signals the foreground process group: dcp and the build command it is
// running. The command must not be in a group of its own, where it would go on building alone.
TEST(CliBuild, CtrlCInTheTerminal_ReachesTheRunningBuildCommand) {
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);  // the orphaned build command comes back to us
  const BuiltDataflow flow("      sh -c \"echo $$ > build.pid; exec sleep 300\"\n");
  const dcp::test::TempDir logs("dcp_cli_build_logs");
  const std::string out_path = (logs.path() / "stdout").string();
  std::vector<std::string> arguments = {DCP_EXECUTABLE, "build", flow.file};
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, out_path.c_str(), O_WRONLY | O_APPEND, 0600);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setpgroup(&attributes, 0);  // a "terminal" group of its own: dcp is its leader
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  pid_t dcp = 0;
  ASSERT_EQ(posix_spawn(&dcp, argv[0], &actions, &attributes, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);

  // The build command writes its pid (it then execs sleep, keeping the pid).
  const fs::path pid_file = flow.dir.path() / "build.pid";
  pid_t build = 0;
  const auto give_up = std::chrono::steady_clock::now() + dcp::test::kHangTimeout;
  while (build == 0 && std::chrono::steady_clock::now() < give_up) {
    std::ifstream(pid_file) >> build;
    if (build == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_GT(build, 0) << "the build command did not start: " << dcp::test::read_file(out_path);

  ASSERT_EQ(::kill(-dcp, SIGINT), 0);  // what the terminal does on Ctrl-C
  int status = 0;
  ASSERT_EQ(::waitpid(dcp, &status, 0), dcp);
  EXPECT_FALSE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "dcp build succeeded after Ctrl-C";
  // The build command is dcp's child: dcp reaped it (and said how it ended), or it came to us when
  // dcp ended. A command Ctrl-C did not reach would still be sleeping: give up after kHangTimeout.
  pid_t reaped = 0;
  const auto hang = std::chrono::steady_clock::now() + dcp::test::kHangTimeout;
  while ((reaped = ::waitpid(build, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() < hang) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (reaped == 0) ::kill(build, SIGKILL);
  ASSERT_NE(reaped, 0) << "the build command was still running after Ctrl-C";
  if (reaped == build) {
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT) << "status " << status;
  } else {  // ECHILD: dcp reaped it
    EXPECT_NE(dcp::test::read_file(out_path).find("failed: signal SIGINT"), std::string::npos)
        << dcp::test::read_file(out_path);
  }
}

TEST(CliRun, RunsTheBuildFirst_UnlessNoBuild) {
  // The build makes the executable; without it the run fails its executable check.
  const BuiltDataflow flow("      sh -c \"printf '#!/bin/sh\\necho built\\n' > made.sh\"\n      chmod +x made.sh\n");
  const RunResult skipped = run_dcp({"run", "--no-build", flow.file});
  EXPECT_EQ(skipped.exit_code, 1);
  EXPECT_NE(skipped.err.find("executable 'made.sh' not found"), std::string::npos) << skipped.err;
  EXPECT_FALSE(fs::exists(flow.dir.path() / "made.sh"));

  const RunResult built = run_dcp({"run", flow.file});
  EXPECT_EQ(built.exit_code, 0) << built.err;
  EXPECT_NE(built.out.find("[a] built"), std::string::npos) << built.out;
}

TEST(CliRun, FailingBuild_Exit1BeforeStartingAnything) {
  const BuiltDataflow flow("      false\n");
  const RunResult r = run_dcp({"run", flow.file});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("dcp run: node 'a': build command `false` failed: exit code 1"),
            std::string::npos)
      << r.err;
}

TEST(CliRunAndCheck, RunLimitation_CheckAcceptsAndListsIt_RunRefusesBeforeBuilding) {
  const dcp::test::TempDir dir("dcp_cli_limits");
  const std::string file = (dir.path() / "dataflow.yml").string();
  std::ofstream(file) << "nodes:\n  - id: a\n    path: a\n    build: touch built\n"
                         "    inputs:\n      fast: dora/timer/nanos/1000\n";
  const RunResult check = run_dcp({"check", "--no-exec-check", file});
  EXPECT_EQ(check.exit_code, 0) << check.err;
  EXPECT_NE(check.out.find("not supported by dcp run yet (1; dcp check and Dora accept them):\n  " +
                           file + ":6:13: nodes[0].inputs.fast: timer"),
            std::string::npos)
      << check.out;
  const RunResult run = run_dcp({"run", file});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.err.rfind("dcp run: " + file + ":6:13: nodes[0].inputs.fast: timer "
                          "'dora/timer/nanos/1000' ticks every 1000 ns; dcp run honours periods of "
                          "at least 100 us (10000 Hz): not supported by dcp run yet\n",
                          0),
            0u)
      << run.err;
  EXPECT_FALSE(fs::exists(dir.path() / "built"));
}

TEST(CliRun, EveryRunLimitation_IsNamedWithFieldAndLine_Exit1) {
  const dcp::test::TempDir dir("dcp_cli_limits");
  const std::string file = (dir.path() / "dataflow.yml").string();
  std::ofstream(file) << "nodes:\n  - id: a\n    path: a\n    restart_policy: always\n"
                         "    max_log_size: 1000\n";
  const RunResult run = run_dcp({"run", file});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.err,
            "dcp run: " + file +
                ":4:5: nodes[0].restart_policy: 'restart_policy' is not supported by dcp run yet\n"
                "dcp run: " + file +
                ":5:5: nodes[0].max_log_size: 'max_log_size' is not supported by dcp run yet\n");
}

TEST(CliRun, PythonNode_IsRefusedBeforeStartingAnything) {
  const dcp::test::TempDir dir("dcp_cli_python");
  const std::string file = (dir.path() / "dataflow.yml").string();
  std::ofstream(dir.path() / "node.py") << "print('hi')\n";
  std::ofstream(file) << "nodes:\n  - id: py\n    path: node.py\n    build: touch built\n";
  const RunResult check = run_dcp({"check", file});
  EXPECT_EQ(check.exit_code, 0) << check.err;
  const RunResult run = run_dcp({"run", file});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find(":3:11: nodes[0].path: node 'py': python nodes need Dora's Python API"),
            std::string::npos)
      << run.err;
  EXPECT_FALSE(fs::exists(dir.path() / "built"));
}

TEST(CliRun, MalformedDuration_Exit2) {
  const RunResult r = run_dcp({"run", "--stop-after", "10", fixture("valid/robot.yml")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("the unit is missing"), std::string::npos) << r.err;
}

TEST(CliUsage, NoSubcommandOrMissingFile_Exit2WithUsageOnStderr) {
  const RunResult none = run_dcp({});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("subcommand"), std::string::npos) << none.err;
  const RunResult no_file = run_dcp({"check"});
  EXPECT_EQ(no_file.exit_code, 2);
  EXPECT_NE(no_file.err.find("dataflow is required"), std::string::npos) << no_file.err;
  EXPECT_EQ(run_dcp({"frobnicate"}).exit_code, 2);
}

TEST(CliUsage, HelpAndVersion_Exit0) {
  const RunResult help = run_dcp({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* command : {"check", "build", "graph", "run"}) {
    EXPECT_NE(help.out.find(command), std::string::npos) << help.out;
  }
  const RunResult version = run_dcp({"--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.out.rfind("dcp ", 0), 0u) << version.out;
}

}  // namespace
