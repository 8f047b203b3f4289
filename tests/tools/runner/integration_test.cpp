// Integration tests of `dcp run`: the built dcp binary (DCP_EXECUTABLE) runs the dataflows
// generated into DCP_RUNNER_DATAFLOWS, whose nodes are runner_test_node and runner_bad_node.
//
// Each run gets its own XDG_RUNTIME_DIR, and every run is checked for the runner's cleanup
// promises: the runtime directory is gone afterwards and every node process in the summary has
// been reaped (no process with that pid is left, zombie or not). A run that hangs is killed after
// kRunHangTimeout and fails the test.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

#include "support/file_contents.hpp"
#include "support/hang_timeout.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using dcp::test::kHangTimeout;
using dcp::test::read_file;
// A whole `dcp run`, which may wait out a 30 s stop grace period itself, gets twice as long.
constexpr auto kRunHangTimeout = 2 * kHangTimeout;

std::string dataflow(const std::string& name) { return std::string(DCP_RUNNER_DATAFLOWS) + "/" + name + ".yml"; }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The value of `key=` in the line of `text` that starts with `prefix`, or -1.
long value_in_line(const std::string& text, const std::string& prefix, const std::string& key) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(prefix, 0) != 0) continue;
    const std::size_t at = line.find(" " + key + "=");
    if (at == std::string::npos) return -1;
    return std::strtol(line.c_str() + at + key.size() + 2, nullptr, 10);
  }
  return -1;
}

// The summary's account of one input ("[dcp] input sink/in: 2000 sent, 112 delivered, 1888 dropped
// (...)"): the number before `what` (e.g. " sent", " delivered", " dropped (the runner"), 0 when the
// line does not mention it, -1 when there is no line for the input.
long input_count(const std::string& text, const std::string& input, const std::string& what) {
  const std::string prefix = "[dcp] input " + input + ": ";
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(prefix, 0) != 0) continue;
    const std::size_t at = line.find(what, prefix.size());
    if (at == std::string::npos) return 0;
    std::size_t start = at;
    while (start > 0 && std::isdigit(static_cast<unsigned char>(line[start - 1]))) --start;
    return std::strtol(line.c_str() + start, nullptr, 10);
  }
  return -1;
}

struct SummaryRow {
  std::string pid;
  std::string ended;
  long sent = -1;
  long delivered = -1;
  long dropped = -1;
};

// Splits a table row at runs of two or more spaces (cells hold single spaces only).
std::vector<std::string> split_columns(const std::string& row) {
  std::vector<std::string> cells;
  std::size_t start = 0;
  while (start < row.size()) {
    std::size_t gap = row.find("  ", start);
    if (gap == std::string::npos) gap = row.size();
    cells.push_back(row.substr(start, gap - start));
    start = row.find_first_not_of(' ', gap);
    if (start == std::string::npos) break;
  }
  return cells;
}

// Parses the table printed by format_summary (rows under the header that ends in "inputs dropped").
std::map<std::string, SummaryRow> parse_summary(const std::string& err) {
  std::map<std::string, SummaryRow> rows;
  std::istringstream lines(err);
  bool in_table = false;
  for (std::string line; std::getline(lines, line);) {
    if (!in_table) {
      in_table = line.rfind("  node", 0) == 0 && contains(line, "inputs dropped");
      continue;
    }
    if (line.rfind("  ", 0) != 0) break;
    const std::vector<std::string> cells = split_columns(line.substr(2));
    if (cells.size() != 6) break;
    rows[cells[0]] = SummaryRow{cells[1], cells[2], std::stol(cells[3]), std::stol(cells[4]), std::stol(cells[5])};
  }
  return rows;
}

struct RunResult {
  int exit_code = -1;  // 128 + signal when dcp itself died of a signal
  std::string out;
  std::string err;
  std::chrono::milliseconds elapsed{};
  std::map<std::string, SummaryRow> summary;

  [[nodiscard]] std::string dump() const { return "--- stdout ---\n" + out + "--- stderr ---\n" + err; }

  /// Whether dcp's stdout (stderr) contains `text`; either way the message quotes it and dump().
  [[nodiscard]] ::testing::AssertionResult stdout_has(const std::string& text) const {
    return has("stdout", out, text);
  }
  [[nodiscard]] ::testing::AssertionResult stderr_has(const std::string& text) const {
    return has("stderr", err, text);
  }

 private:
  [[nodiscard]] ::testing::AssertionResult has(const char* stream, const std::string& captured,
                                               const std::string& text) const {
    const bool found = contains(captured, text);
    auto result = found ? ::testing::AssertionSuccess() : ::testing::AssertionFailure();
    return result << stream << (found ? " has \"" : " lacks \"") << text << "\"\n" << dump();
  }
};

// One `dcp run` process with stdout and stderr captured in files and a private XDG_RUNTIME_DIR.
class DcpRun {
 public:
  /// Runs `dcp run <args>`, through `launcher` (e.g. {"prlimit", "--nofile=32:32"}) when given.
  /// With `unread_stdout`, dcp's stdout is a pipe nobody reads (a terminal that takes nothing, as a
  /// paused pager): RunResult::out stays empty.
  explicit DcpRun(const std::vector<std::string>& args, const std::vector<std::string>& launcher = {},
                  bool unread_stdout = false) {
    fs::create_directories(dir_ / "xdg");
    fs::permissions(dir_ / "xdg", fs::perms::owner_all, fs::perm_options::replace);

    std::vector<std::string> arguments = launcher;
    arguments.push_back(DCP_EXECUTABLE);
    arguments.push_back("run");
    arguments.insert(arguments.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& argument : arguments) argv.push_back(argument.data());
    argv.push_back(nullptr);

    std::vector<std::string> environment;
    for (char** variable = environ; *variable != nullptr; ++variable) {
      if (std::string(*variable).rfind("XDG_RUNTIME_DIR=", 0) != 0) environment.emplace_back(*variable);
    }
    environment.push_back("XDG_RUNTIME_DIR=" + (dir_ / "xdg").string());
    std::vector<char*> envp;
    for (std::string& variable : environment) envp.push_back(variable.data());
    envp.push_back(nullptr);

    const std::string out_path = (dir_ / "stdout").string();
    const std::string err_path = (dir_ / "stderr").string();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    int unread[2] = {-1, -1};
    if (unread_stdout && ::pipe2(unread, O_CLOEXEC) == 0) {
      unread_stdout_ = unread[0];  // held open, never read: writes fill the pipe, then block
      posix_spawn_file_actions_adddup2(&actions, unread[1], STDOUT_FILENO);
    } else {
      posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    }
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    started_ = Clock::now();
    const int spawned = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (unread[1] >= 0) ::close(unread[1]);
    if (spawned != 0) {
      ADD_FAILURE() << "cannot start " << argv[0];
      pid_ = -1;
    }
  }

  DcpRun(const DcpRun&) = delete;
  DcpRun& operator=(const DcpRun&) = delete;

  ~DcpRun() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    if (unread_stdout_ >= 0) ::close(unread_stdout_);
  }  // dir_ (its TempDir) goes after the process

  /// Waits until dcp's stdout (or stderr) contains `text`; false after `timeout`.
  bool wait_for(const std::string& text, bool in_stderr = false, std::chrono::milliseconds timeout = kHangTimeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (contains(read_file(dir_ / (in_stderr ? "stderr" : "stdout")), text)) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  void signal(int number) {
    if (pid_ > 0) ::kill(pid_, number);
  }

  /// Waits for dcp to exit (killing it after kRunHangTimeout), then checks the cleanup promises.
  RunResult finish() {
    RunResult result;
    if (pid_ <= 0) return result;
    int status = 0;
    const auto deadline = started_ + kRunHangTimeout;
    for (;;) {
      const pid_t done = ::waitpid(pid_, &status, WNOHANG);
      if (done == pid_) break;
      if (Clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        ADD_FAILURE() << "dcp run did not finish within " << kRunHangTimeout.count() << " s: killed";
        break;
      }
      std::this_thread::sleep_for(5ms);
    }
    pid_ = -1;
    result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.out = read_file(dir_ / "stdout");
    result.err = read_file(dir_ / "stderr");
    result.summary = parse_summary(result.err);

    // The runtime directory (and its socket) is gone.
    EXPECT_TRUE(fs::is_empty(dir_ / "xdg")) << "runtime directory left behind\n" << result.dump();
    // Every node that started has been reaped: no process (not even a zombie) has its pid.
    for (const auto& [node, row] : result.summary) {
      if (row.pid == "-") continue;
      const pid_t pid = static_cast<pid_t>(std::stol(row.pid));
      EXPECT_TRUE(::kill(pid, 0) != 0 && errno == ESRCH) << "node " << node << " (pid " << pid << ") is still there";
    }
    return result;
  }

 private:
  dcp::test::TempDir temp_{"dcp_runner_test"};
  const fs::path dir_ = temp_.path();
  pid_t pid_ = -1;
  Clock::time_point started_;
  int unread_stdout_ = -1;
};

RunResult run_dcp(const std::vector<std::string>& args, const std::vector<std::string>& launcher = {}) {
  DcpRun run(args, launcher);
  return run.finish();
}

// Lines of `out` that start with `prefix`, in order.
std::vector<std::string> lines_of(const std::string& out, const std::string& prefix) {
  std::vector<std::string> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) lines.push_back(line.substr(prefix.size()));
  }
  return lines;
}

std::size_t index_of(const std::vector<std::string>& lines, const std::string& line) {
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i] == line) return i;
  }
  return lines.size();
}

// The end of a sink's single input, as Dora schedules it: InputClosed once (a control event, it may
// overtake the input's last messages), then AllInputsClosed after every message (`last_input`
// among them), then only the sink's result line.
void expect_closed_then_all_closed(const std::vector<std::string>& sink, const std::string& last_input,
                                   const RunResult& r) {
  const std::size_t closed = index_of(sink, "input_closed in");
  const std::size_t all_closed = index_of(sink, "all_inputs_closed");
  ASSERT_LT(all_closed, sink.size()) << r.dump();
  EXPECT_LT(closed, all_closed) << r.dump();
  EXPECT_EQ(std::count(sink.begin(), sink.end(), "input_closed in"), 1) << r.dump();
  EXPECT_LT(index_of(sink, last_input), all_closed) << r.dump();
  ASSERT_EQ(all_closed + 2, sink.size()) << "only the result line after AllInputsClosed\n" << r.dump();
  EXPECT_EQ(sink.back().rfind("result ", 0), 0u) << r.dump();
}

// ---------------------------------------------------------------------------------------------

TEST(DcpRun, Routing_EveryMessageReachesEveryReaderInOrder_Exit0) {
  const RunResult r = run_dcp({dataflow("routing")});
  ASSERT_EQ(r.exit_code, 0) << r.dump();
  EXPECT_TRUE(r.stdout_has("[sink] result received=50 order=ok"));
  EXPECT_TRUE(r.stdout_has("[direct] result received=50 order=ok"));
  EXPECT_TRUE(r.stdout_has("[forward] result forwarded=50"));
  EXPECT_TRUE(r.stderr_has("[dcp] dataflow succeeded: all 4 nodes exited with code 0"));
  ASSERT_EQ(r.summary.size(), 4u) << r.dump();
  EXPECT_EQ(r.summary.at("source").sent, 50);
  EXPECT_EQ(r.summary.at("forward").delivered, 50);
  EXPECT_EQ(r.summary.at("forward").sent, 50);
  EXPECT_EQ(r.summary.at("sink").delivered, 50);
  EXPECT_EQ(r.summary.at("direct").delivered, 50);
  for (const auto& [node, row] : r.summary) {
    EXPECT_EQ(row.ended, "exit code 0") << node;
    EXPECT_EQ(row.dropped, 0) << node;
  }
  // The sink saw its input close (the forward node ended) and AllInputsClosed after every message.
  expect_closed_then_all_closed(lines_of(r.out, "[sink] "), "input in 49", r);
}

TEST(DcpRun, Timers_TickRoughlyAtTheirRates_UntilStopAfter) {
  const RunResult r = run_dcp({"--stop-after", "1s", dataflow("timers")});
  ASSERT_EQ(r.exit_code, 0) << r.dump();
  EXPECT_TRUE(r.stderr_has("[dcp] --stop-after 1s elapsed: sending Stop to every node; nodes still running in 5s are "
                           "killed (Ctrl-C to kill them now)\n"))
      << "no 'Ctrl-C again' when nobody pressed Ctrl-C\n" << r.dump();
  EXPECT_TRUE(r.stdout_has("[ticker] stop"));
  const long fast = value_in_line(r.out, "[ticker] result", "fast");
  const long slow = value_in_line(r.out, "[ticker] result", "slow");
  // 20 ms and 100 ms periods over about 1 s (minus start-up): ~50 and ~10. Bounds are generous on
  // purpose (sanitizers, loaded machines): this checks the rates, not the scheduler.
  EXPECT_GE(fast, 15) << r.dump();
  EXPECT_LE(fast, 60) << r.dump();
  EXPECT_GE(slow, 3) << r.dump();
  EXPECT_LE(slow, 12) << r.dump();
  EXPECT_GT(fast, 2 * slow) << r.dump();
  EXPECT_TRUE(r.stderr_has("(stopped: --stop-after 1s elapsed)"));
}

TEST(DcpRun, QueueSize_SlowConsumerLosesTheOldestMessages_AndTheSummaryCountsThem) {
  const RunResult r = run_dcp({dataflow("slow_consumer")});
  ASSERT_EQ(r.exit_code, 0) << r.dump();
  const long received = value_in_line(r.out, "[slow] result", "received");
  const SummaryRow& slow = r.summary.at("slow");
  EXPECT_GT(slow.dropped, 0) << r.dump();
  EXPECT_LT(received, 100) << r.dump();
  // Every message was either delivered or dropped; the newest always survives drop-oldest.
  EXPECT_EQ(slow.delivered, received) << r.dump();
  EXPECT_EQ(slow.delivered + slow.dropped, 100) << r.dump();
  EXPECT_EQ(value_in_line(r.out, "[slow] result", "last_in"), 99) << r.dump();
  EXPECT_TRUE(
      r.stderr_has("[dcp] input slow/in: 100 sent, " + std::to_string(slow.delivered) + " delivered, " +
                   std::to_string(slow.dropped) + " dropped (queue full: queue_size 5)\n"))
      << r.dump();
  EXPECT_TRUE(r.stdout_has("[slow] result received=" + std::to_string(received) + " order=ok"));
}

TEST(DcpRun, BackpressureInput_HoldsTenTimesItsQueueSize_ThenDropsTheOldestWithAnErrorLine) {
  const fs::path go = fs::path(DCP_RUNNER_DATAFLOWS) / "backpressure.go";
  fs::remove(go);
  DcpRun run({dataflow("backpressure")});
  ASSERT_TRUE(run.wait_for("[source] result sent=150"));
  ASSERT_TRUE(run.wait_for("[dcp] input sink/in (queue_policy backpressure) reached its limit of 100 queued messages", true));
  std::ofstream(go) << "go\n";  // only now does the sink read: 100 are waiting
  const RunResult r = run.finish();
  fs::remove(go);
  ASSERT_EQ(r.exit_code, 0) << r.dump();
  EXPECT_EQ(value_in_line(r.out, "[sink] result", "received"), 100) << r.dump();
  EXPECT_EQ(value_in_line(r.out, "[sink] result", "last_in"), 149) << r.dump();
  EXPECT_TRUE(r.stdout_has("[sink] input in 50\n")) << "the oldest kept one\n" << r.dump();
  EXPECT_FALSE(r.stdout_has("[sink] input in 49\n")) << r.dump();
  EXPECT_EQ(r.summary.at("sink").dropped, 50) << r.dump();
  EXPECT_TRUE(r.stderr_has("[dcp] input sink/in: 150 sent, 100 delivered, 50 dropped (queue full: queue_policy "
                           "backpressure, at most 100 queued)\n"))
      << r.dump();
}

TEST(DcpRun, CloseOutputs_EachInputClosedOnce_EveryMessageInOrder_AllInputsClosedLast) {
  // Dora's scheduling: InputClosed is a control event and may overtake its input's last messages;
  // AllInputsClosed comes only after every queued message.
  const RunResult r = run_dcp({dataflow("closing")});
  ASSERT_EQ(r.exit_code, 0) << r.dump();
  auto sink = lines_of(r.out, "[sink] ");
  ASSERT_FALSE(sink.empty());
  sink.pop_back();  // the result line
  std::map<std::string, std::vector<std::string>> per_input;
  for (const std::string& line : sink) {
    if (line.rfind("input ", 0) == 0) per_input[line.substr(6, 1)].push_back(line);
    if (line.rfind("input_closed ", 0) == 0) per_input["closed"].push_back(line);
  }
  EXPECT_EQ(per_input["a"], (std::vector<std::string>{"input a 0", "input a 1", "input a 2"})) << r.dump();
  EXPECT_EQ(per_input["b"], (std::vector<std::string>{"input b 0", "input b 1", "input b 2"})) << r.dump();
  std::sort(per_input["closed"].begin(), per_input["closed"].end());
  EXPECT_EQ(per_input["closed"], (std::vector<std::string>{"input_closed a", "input_closed b"})) << r.dump();
  EXPECT_EQ(sink.back(), "all_inputs_closed") << r.dump();
}

TEST(DcpRun, StopIgnoringNode_IsKilledAfterTheGracePeriod_ExitNonZero) {
  const RunResult r = run_dcp({"--stop-after", "300ms", "--grace", "500ms", dataflow("stop_grace")});
  EXPECT_EQ(r.exit_code, 1) << r.dump();
  EXPECT_TRUE(r.stdout_has("[stubborn] got stop, ignoring it"));
  EXPECT_TRUE(r.stdout_has("[polite] stop"));
  EXPECT_TRUE(r.stderr_has("[dcp] node 'stubborn' is still running after the 500ms grace period: killing it"));
  EXPECT_EQ(r.summary.at("stubborn").ended, "killed after the 500ms grace period") << r.dump();
  EXPECT_EQ(r.summary.at("polite").ended, "exit code 0") << r.dump();
  EXPECT_TRUE(r.stderr_has("[dcp] dataflow failed: 1 of 2 nodes failed"));
  EXPECT_LT(r.elapsed, 20s);
}

TEST(DcpRun, NodeExitingWithCode3_IsReported_ItsReadersInputsClose_ExitNonZero) {
  const RunResult r = run_dcp({dataflow("crash_exit3")});
  EXPECT_EQ(r.exit_code, 1) << r.dump();
  EXPECT_TRUE(r.stderr_has("[dcp] node 'crasher' failed: exit code 3"));
  EXPECT_EQ(r.summary.at("crasher").ended, "exit code 3") << r.dump();
  EXPECT_EQ(r.summary.at("source").ended, "exit code 0") << r.dump();
  EXPECT_EQ(r.summary.at("sink").ended, "exit code 0") << r.dump();
  expect_closed_then_all_closed(lines_of(r.out, "[sink] "), "input in 4", r);
  EXPECT_TRUE(r.stdout_has("[sink] result received=5 order=ok"));
  EXPECT_TRUE(r.stderr_has("[dcp] dataflow failed: 1 of 3 nodes failed"));
}

TEST(DcpRun, NodesThatReportedErrors_AreNamedInTheSummary_NoSuccess_Exit3) {
  const RunResult r = run_dcp({dataflow("lost_work")});
  EXPECT_EQ(r.exit_code, 3) << r.dump();
  for (const std::string id : {"source", "processor", "oneshot", "fine"}) {
    EXPECT_EQ(r.summary.at(id).ended, "exit code 0") << id << "\n" << r.dump();
  }
  EXPECT_TRUE(r.stdout_has("[processor] result posted=3 inputs=3"));
  EXPECT_TRUE(r.stderr_has("[processor!] dcp: worker pool 'lossy': a posted task threw: result 2 lost"));
  EXPECT_TRUE(r.stderr_has("[oneshot!] dcp: worker pool 'lossy': a posted task threw: result 0 lost"));
  EXPECT_TRUE(r.stderr_has("[dcp] dataflow failed: 2 of 4 nodes reported errors"));
  EXPECT_TRUE(r.stderr_has("[dcp] node 'processor' reported 3 errors that lost work; see its 'dcp:' lines above"));
  EXPECT_TRUE(r.stderr_has("[dcp] node 'oneshot' reported 1 error that lost work; see its 'dcp:' lines above"));
  EXPECT_FALSE(r.stderr_has("node 'fine' reported"));
  EXPECT_FALSE(r.stderr_has("dataflow succeeded"));
}

TEST(DcpRun, RouterAndOutputHandlerErrorsWithoutOnError_AreNamedInTheSummary_NoSuccess_Exit3) {
  const RunResult r = run_dcp({dataflow("lost_routed_work")});
  EXPECT_EQ(r.exit_code, 3) << r.dump();
  EXPECT_EQ(r.summary.at("routed").ended, "exit code 0") << r.dump();
  EXPECT_TRUE(r.stdout_has("[routed] result inputs=3"));
  for (const std::string seq : {"0", "1", "2"}) {
    EXPECT_TRUE(r.stderr_has("[routed!] dcp: event router: input 'in' handler threw: input " + seq + " lost"));
  }
  EXPECT_TRUE(r.stderr_has("[routed!] dcp: output handler 'routed': send of output 'out' failed: output 'out': "
                           "metadata has 65 parameters"));
  EXPECT_TRUE(r.stderr_has("[dcp] dataflow failed: 1 of 2 nodes reported errors"));
  EXPECT_TRUE(r.stderr_has("[dcp] node 'routed' reported 6 errors that lost work; see its 'dcp:' lines above"));
  EXPECT_FALSE(r.stderr_has("node 'source' reported"));
}

TEST(DcpRun, NodeKilledBySigsegv_IsReportedWithTheSignalName) {
  const RunResult r = run_dcp({dataflow("crash_segv")});
  EXPECT_EQ(r.exit_code, 1) << r.dump();
  EXPECT_TRUE(r.stderr_has("[dcp] node 'crasher' failed: killed by signal SIGSEGV"));
  EXPECT_EQ(r.summary.at("crasher").ended, "signal SIGSEGV") << r.dump();
  EXPECT_TRUE(r.stdout_has("[sink] all_inputs_closed"));
}

TEST(DcpRun, BigPayloads_ArriveIntactThroughSharedMemoryFrom4KiB_AlsoWhenForwardedOrSentByAnOutputHandler) {
  const RunResult r = run_dcp({dataflow("big_payloads")});
  ASSERT_EQ(r.exit_code, 0) << r.dump();
  // 6 + 4 (OutputHandler) x 64 KiB + 3 x 4 MiB (forwarded) + 2 x 4096 B in shared memory; 2 x 4095 B inline.
  EXPECT_TRUE(r.stdout_has("[sink] result received=17 order=ok"));
  EXPECT_EQ(value_in_line(r.out, "[sink] result", "big_ok"), 17) << r.dump();
  EXPECT_EQ(value_in_line(r.out, "[sink] result", "big_bad"), 0) << r.dump();
  EXPECT_EQ(value_in_line(r.out, "[sink] result", "shm"), 15) << r.dump();
  EXPECT_TRUE(r.stdout_has("[handled] result sent=4"));
}

TEST(DcpRun, MisbehavingNodes_AreDisconnectedWithAClearError_OthersComplete) {
  const RunResult r = run_dcp({dataflow("misbehaving")});
  EXPECT_EQ(r.exit_code, 1) << r.dump();  // protocol errors count as failures
  // The healthy pair is untouched.
  EXPECT_TRUE(r.stdout_has("[sink] result received=20 order=ok"));
  EXPECT_EQ(r.summary.at("sink").ended, "exit code 0") << r.dump();
  EXPECT_EQ(r.summary.at("source").ended, "exit code 0") << r.dump();
  // Every bad node saw the Error it expected (and its connection closed).
  for (const char* node : {"malformed", "oversized", "undeclared", "unsealed", "pipe", "empty_frame", "double_hello",
                           "wrong_secret", "via_socket", "hang_up_first"}) {
    EXPECT_TRUE(r.stdout_has(std::string("[") + node + "] bad: ok ")) << node;
    EXPECT_FALSE(r.stdout_has(std::string("[") + node + "] bad: FAILED")) << node;
  }
  // Protocol errors: named, per node, and the node counts as failed.
  EXPECT_TRUE(r.stderr_has("[dcp] node 'malformed': protocol error: malformed frame: header.magic"));
  EXPECT_TRUE(r.stderr_has("[dcp] node 'oversized': protocol error: frame larger than the limit"));
  EXPECT_TRUE(r.stderr_has("[dcp] node 'undeclared': protocol error: output 'nope' is not declared by node "
                              "'undeclared' (declared: out)"));
  EXPECT_TRUE(r.stderr_has("[dcp] node 'unsealed': protocol error: the shared-memory payload's memfd is not sealed"));
  EXPECT_TRUE(r.stderr_has("[dcp] node 'pipe': protocol error: the shared-memory payload's descriptor is not a memfd"));
  EXPECT_TRUE(r.stderr_has("[dcp] node 'double_hello': protocol error: a second Hello"));
  EXPECT_TRUE(r.stderr_has("[dcp] node 'empty_frame': protocol error: empty frame"));
  for (const char* node : {"malformed", "oversized", "undeclared", "unsealed", "pipe", "empty_frame", "double_hello",
                           "wrong_secret"}) {
    EXPECT_EQ(r.summary.at(node).ended, "exit code 0, protocol error") << node << "\n" << r.dump();
  }
  // A wrong Hello on a node's own connection is that node's failure: it cannot connect again.
  EXPECT_TRUE(r.stderr_has("[dcp] node 'wrong_secret': its Hello was refused: wrong secret for node 'wrong_secret' "
                           "(disconnected)"));
  // A Hello through runner.sock is refused whoever sends it, and does not spoil the node's own connection.
  EXPECT_TRUE(r.stderr_has("[dcp] rejected a connection: no node connects through the runner's socket"));
  EXPECT_TRUE(r.stdout_has("[via_socket] bad: connected after the rejection"));
  EXPECT_EQ(r.summary.at("via_socket").ended, "exit code 0") << r.dump();
  // The reader of a disconnected node's output sees it close.
  EXPECT_TRUE(r.stdout_has("[watcher] input_closed bad"));
  EXPECT_TRUE(r.stdout_has("[watcher] all_inputs_closed"));
  // A node that drops its connection unused is named (it cannot connect later).
  // (Which of the two lines depends on whether the runner sees the hang-up before the exit.)
  EXPECT_TRUE(r.stderr_has("[dcp] node 'hang_up_first' closed its connection (descriptor 3) without saying Hello: it "
                           "cannot connect any more") ||
              r.stderr_has("[dcp] node 'hang_up_first' ended without saying Hello"))
      << r.dump();
  EXPECT_EQ(r.summary.at("hang_up_first").ended, "exit code 0") << r.dump();
  EXPECT_TRUE(r.stderr_has("[dcp] dataflow failed: 8 of 13 nodes failed"));
}

TEST(DcpRun, ConnectionsWithoutHelloBeyondTheCap_AreRefused_TheRunStillWorks) {
  const RunResult r = run_dcp({dataflow("strangers_flood")});
  EXPECT_EQ(r.exit_code, 0) << r.dump();
  EXPECT_TRUE(r.stdout_has("[flood] bad: ok too many connections waiting for their Hello")) << r.dump();
  EXPECT_TRUE(r.stdout_has("[flood] bad: still connected after the flood")) << r.dump();
  EXPECT_TRUE(r.stdout_has("[sink] result received=20 order=ok")) << r.dump();
  EXPECT_TRUE(r.stderr_has("[dcp] refused a connection: 64 connections already wait for their Hello")) << r.dump();
  EXPECT_TRUE(r.stderr_has("[dcp] connections without Hello: 1 refused")) << r.dump();
}

TEST(DcpRun, ConnectionWithoutHello_IsClosedAfterTheHelloTimeout) {
  const RunResult r = run_dcp({dataflow("strangers_silent"), "--hello-timeout", "200ms"});
  EXPECT_EQ(r.exit_code, 0) << r.dump();
  EXPECT_TRUE(r.stdout_has("[silent] bad: ok no Hello within 200ms")) << r.dump();
  EXPECT_TRUE(r.stderr_has("[dcp] rejected a connection: no Hello within 200ms")) << r.dump();
  EXPECT_TRUE(r.stderr_has(", 1 timed out")) << r.dump();
}

TEST(DcpRun, AcceptFailingWithEmfile_DoesNotSpinTheRunner) {
  if (!fs::exists("/usr/bin/prlimit")) GTEST_SKIP() << "needs /usr/bin/prlimit (util-linux)";
  // 32 descriptors: the runner (about 15 of its own) runs out while the node (24 connections) does not.
  // --no-logs: a log file would be one more of the runner's descriptors; and under UBSan, a vptr
  // check made while the process has no descriptor left fails (the sanitizer needs a pipe to probe
  // memory) and reports a false "invalid vptr".
  const RunResult r = run_dcp({"--no-logs", dataflow("strangers_emfile")}, {"/usr/bin/prlimit", "--nofile=32:32"});
  EXPECT_EQ(r.exit_code, 0) << r.dump();
  EXPECT_TRUE(r.stderr_has("[dcp] cannot accept a node connection: Too many open files")) << r.dump();
  const std::vector<std::string> lines = lines_of(r.out, "[emfile] bad: runner cpu ticks ");
  ASSERT_EQ(lines.size(), 1u) << r.dump();
  const long ticks = std::stol(lines[0]);
  // Spinning takes ~50 ticks of the 50 in the half-second window; pausing, about none.
  EXPECT_LT(ticks, 10) << r.dump();
}

TEST(DcpRun, UnstartableNode_IsReportedAsFailed_TheOthersRun) {
  const RunResult r = run_dcp({dataflow("unstartable")});
  EXPECT_EQ(r.exit_code, 1) << r.dump();
  EXPECT_TRUE(r.stderr_has("[dcp] node 'broken' failed to start: cannot execute "));
  EXPECT_EQ(r.summary.at("broken").ended, "failed to start: No such file or directory") << r.dump();
  EXPECT_EQ(r.summary.at("broken").pid, "-") << r.dump();
  EXPECT_TRUE(r.stdout_has("[sink] result received=10 order=ok"));
  EXPECT_TRUE(r.stdout_has("[sink] input_closed other"));
  EXPECT_TRUE(r.stdout_has("[sink] all_inputs_closed"));
}

TEST(DcpRun, NodeEnvironment_FolderArgsEnvPrivateRuntimeDirAndOutputPrefixes) {
  const RunResult r = run_dcp({dataflow("inspect")});
  ASSERT_EQ(r.exit_code, 0) << r.dump();
  EXPECT_TRUE(r.stdout_has("[inspect] cwd=" + fs::canonical(DCP_RUNNER_DATAFLOWS).string() + "\n"));
  // Lines of different nodes may interleave: look at the inspect node's own lines.
  const auto inspect = lines_of(r.out, "[inspect] ");
  const std::size_t first_arg = index_of(inspect, "arg=--name");
  ASSERT_LT(first_arg + 2, inspect.size()) << r.dump();
  EXPECT_EQ(inspect[first_arg + 1], "arg=front camera") << r.dump();
  EXPECT_EQ(inspect[first_arg + 2], "arg=a b") << r.dump();
  EXPECT_TRUE(r.stdout_has("[inspect] env RUNNER_TEST_VALUE=hello world\n"));
  EXPECT_TRUE(r.stdout_has("[inspect] env DCP_NODE_ID=inspect\n"));
  EXPECT_TRUE(r.stdout_has("[inspect] runtime_dir_mode=700\n"));
  EXPECT_TRUE(r.stdout_has("[inspect] stdin=eof\n"));
  EXPECT_TRUE(r.stdout_has("[inspect] own_process_group=yes\n"));
  EXPECT_TRUE(r.stderr_has("[inspect!] to stderr\n"));
  // A last line without a newline is still shown when the node ends.
  EXPECT_TRUE(r.stdout_has("[inspect] partial line without newline\n"));
}

TEST(DcpRun, ImpostorWithTheSocketPathAndSecretInTheNodesProcessGroup_IsRefused_TheNodeStillConnects) {
  // The impostor (a same-uid process: it read the victim's environment in /proc, then joined its
  // process group) says Hello as 'victim' through runner.sock before the victim connects. Before
  // nodes had their own connections, the runner's checks (secret, SO_PEERCRED pid in the node's
  // process group) took it for the victim, and the victim was refused ("already connected").
  const RunResult r = run_dcp({dataflow("impersonation"), "--start-timeout", "30s"});
  EXPECT_EQ(r.exit_code, 0) << r.dump();
  EXPECT_TRUE(r.stdout_has("[impostor] bad: ok impostor refused: no node connects through the runner's socket")) << r.dump();
  EXPECT_TRUE(r.stdout_has("[victim] bad: ok victim connected over its own connection")) << r.dump();
  EXPECT_TRUE(r.stdout_has("[impostor] bad: impostor connected as itself")) << r.dump();
  EXPECT_FALSE(r.out.find("bad: FAILED") != std::string::npos) << r.dump();
  EXPECT_EQ(r.summary.at("victim").ended, "exit code 0") << r.dump();
  EXPECT_TRUE(r.stderr_has("[dcp] rejected a connection: no node connects through the runner's socket")) << r.dump();
}

TEST(DcpRun, HundredNodesStartingAtOnce_AllConnect_NoneIsRefusedByTheCapOnConnectionsWithoutHello) {
  // When nodes connected through runner.sock, those beyond kMaxPendingConnections (64) that
  // connected while the runner was still starting the others were refused.
  const RunResult r = run_dcp({dataflow("many_nodes")});
  EXPECT_EQ(r.exit_code, 0) << r.dump();
  EXPECT_TRUE(r.stderr_has("[dcp] dataflow succeeded: all 100 nodes exited with code 0")) << r.dump();
  EXPECT_FALSE(r.stderr_has("refused a connection")) << r.dump();
}

TEST(DcpRun, NodesConnection_IsInheritedAsDescriptor3_AndNotByTheProgramsTheNodeStarts) {
  const RunResult r = run_dcp({dataflow("inspect")});
  ASSERT_EQ(r.exit_code, 0) << r.dump();
  EXPECT_TRUE(r.stdout_has("[inspect] env DCP_NODE_FD=3\n")) << r.dump();
  EXPECT_TRUE(r.stdout_has("[inspect] inherited_fd_cloexec=yes\n")) << r.dump();
  // `ls -l /proc/self/fd`, run by the node after init_node(): stdin, the pipes, ls's own directory; no socket.
  const std::vector<std::string> fds = lines_of(r.out, "[inspect] child_fd ");
  EXPECT_GE(fds.size(), 4u) << r.dump();  // "total 0" and descriptors 0-2 at least
  EXPECT_TRUE(std::any_of(fds.begin(), fds.end(), [](const std::string& l) { return l.find(" 0 -> /dev/null") != std::string::npos; }))
      << r.dump();
  for (const std::string& line : fds) EXPECT_EQ(line.find("socket:"), std::string::npos) << line;
}

TEST(DcpRun, WrapperScript_ItsChildInheritsTheNodesConnection_AndConnectsOverIt) {
  const RunResult r = run_dcp({dataflow("wrapper")});
  ASSERT_EQ(r.exit_code, 0) << r.dump();
  EXPECT_TRUE(r.stdout_has("[sink] result received=5 order=ok"));
}

TEST(DcpRun, CtrlC_EveryNodeGetsStop_AndTheRunEndsCleanly) {
  DcpRun run({dataflow("ctrl_c")});
  ASSERT_TRUE(run.wait_for("[ticker] input tick"));  // the dataflow has started
  ASSERT_TRUE(run.wait_for("[waiter] ready"));
  run.signal(SIGINT);
  const RunResult r = run.finish();
  EXPECT_EQ(r.exit_code, 0) << r.dump();
  EXPECT_TRUE(r.stdout_has("[ticker] stop"));
  EXPECT_TRUE(r.stdout_has("[waiter] stop"));
  EXPECT_TRUE(r.stderr_has("[dcp] interrupted by SIGINT: sending Stop to every node"));
  EXPECT_TRUE(r.stderr_has("(stopped: interrupted by SIGINT)"));
  EXPECT_EQ(r.summary.at("ticker").ended, "exit code 0") << r.dump();
  EXPECT_EQ(r.summary.at("waiter").ended, "exit code 0") << r.dump();
  EXPECT_GT(r.summary.at("ticker").delivered, 0) << r.dump();
}

// node.hpp's Stop rule under `dcp run`: Stop first, then the inputs queued before it, in order,
// then the end of the stream — nothing lost, nothing else.
TEST(DcpRun, StopWithInputsQueued_StopComesFirst_ThenTheQueuedInputs_ThenTheEnd) {
  const fs::path go = fs::path(DCP_RUNNER_DATAFLOWS) / "stop_drain.go";
  fs::remove(go);
  DcpRun run({dataflow("stop_drain")});
  ASSERT_TRUE(run.wait_for("[source] sent 20"));
  run.signal(SIGINT);
  ASSERT_TRUE(run.wait_for("[dcp] interrupted by SIGINT: sending Stop to every node", true));
  std::ofstream(go) << "go\n";  // only now does the sink read its first event
  const RunResult r = run.finish();
  fs::remove(go);
  ASSERT_EQ(r.exit_code, 0) << r.dump();
  std::vector<std::string> sink;  // the sink's lines, in order
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("[sink] ", 0) == 0 && line != "[sink] ready") sink.push_back(line.substr(7));
  }
  ASSERT_FALSE(sink.empty()) << r.dump();
  EXPECT_EQ(sink.front(), "stop") << r.dump();
  long inputs = 0;
  for (std::size_t i = 1; i + 1 < sink.size(); ++i) {
    EXPECT_EQ(sink[i], "input in " + std::to_string(inputs)) << "line " << i << "\n" << r.dump();
    ++inputs;
  }
  EXPECT_EQ(inputs, 20) << "every input queued before Stop is delivered after it\n" << r.dump();
  EXPECT_EQ(sink.back().rfind("result received=20 order=ok", 0), 0u) << r.dump();
  EXPECT_EQ(r.summary.at("sink").delivered, 20) << r.dump();
  EXPECT_EQ(r.summary.at("sink").dropped, 0) << r.dump();
}

TEST(DcpRun, StopBeforeNodesConnect_TheyGetStopWhenTheyConnect) {
  const RunResult r = run_dcp({"--stop-after", "0s", dataflow("ctrl_c")});
  EXPECT_EQ(r.exit_code, 0) << r.dump();
  EXPECT_TRUE(r.stdout_has("[ticker] stop"));
  EXPECT_TRUE(r.stdout_has("[waiter] stop"));
  EXPECT_TRUE(r.stderr_has("(stopped: --stop-after 0s elapsed)"));
}

TEST(DcpRun, SigtermThenSecondSignal_KillsAtOnceWithoutWaitingForTheGracePeriod) {
  DcpRun run({"--grace", "30s", dataflow("stubborn")});
  ASSERT_TRUE(run.wait_for("[stubborn] ready"));
  run.signal(SIGTERM);
  ASSERT_TRUE(run.wait_for("[stubborn] got stop, ignoring it"));
  run.signal(SIGINT);
  const RunResult r = run.finish();
  EXPECT_EQ(r.exit_code, 1) << r.dump();
  EXPECT_LT(r.elapsed, 20s) << r.dump();
  EXPECT_TRUE(r.stderr_has("[dcp] SIGINT while stopping: killing every node now"));
  EXPECT_EQ(r.summary.at("stubborn").ended, "killed (second interrupt)") << r.dump();
}

TEST(DcpRun, NodeNotConnectedByTheStartDeadline_IsNamedAndKilled_OthersStopCleanly_Exit1) {
  const RunResult r = run_dcp({"--start-timeout", "2s", dataflow("start_deadline")});
  EXPECT_EQ(r.exit_code, 1) << r.dump();
  EXPECT_TRUE(r.stderr_has("[dcp] node 'sleeper' did not connect within 2s of its start (--start-timeout): killing it"));
  EXPECT_TRUE(r.stderr_has("(stopped: node 'sleeper' did not connect within 2s of its start)"));
  EXPECT_TRUE(r.stderr_has("[dcp] dataflow failed: 1 of 2 nodes failed"));
  EXPECT_EQ(r.summary.at("sleeper").ended, "killed: did not connect within 2s") << r.dump();
  // The node that had connected waited at the start barrier, then got Stop and exited normally.
  EXPECT_TRUE(r.stdout_has("[waiter] ready"));
  EXPECT_TRUE(r.stdout_has("[waiter] stop"));
  EXPECT_EQ(r.summary.at("waiter").ended, "exit code 0") << r.dump();
  EXPECT_LT(r.elapsed, 20s) << r.dump();  // the deadline, not the sleeper's 10 minutes
}

TEST(DcpRun, NodeConnectingLateWithinTheStartDeadline_ItsReaderWaitsAtTheBarrier_RunSucceeds) {
  // `early` connects at once and waits for `late` (3 s); its own env asks for a 200 ms start
  // timeout (200 ms + the 2 s margin < 3 s), but the runner tells it its own deadline instead.
  const RunResult r = run_dcp({"--start-timeout", "20s", dataflow("late_connect")});
  EXPECT_EQ(r.exit_code, 0) << r.dump();
  EXPECT_TRUE(r.stdout_has("[early] result received=5 order=ok"));
  EXPECT_TRUE(r.stdout_has("[late] result sent=5"));
  EXPECT_EQ(r.summary.at("early").ended, "exit code 0") << r.dump();
}

TEST(DcpRun, StartTimeoutOfZero_IsAUsageError_Exit2) {
  const RunResult r = run_dcp({"--start-timeout", "0s", dataflow("routing")});
  EXPECT_EQ(r.exit_code, 2) << r.dump();
  EXPECT_TRUE(r.stderr_has("--start-timeout must be longer than 0s"));
}

TEST(DcpRun, UsageErrors_MalformedDurationExit2_InvalidDataflowExit1) {
  const RunResult bad_duration = run_dcp({"--grace", "5", dataflow("routing")});
  EXPECT_EQ(bad_duration.exit_code, 2);
  EXPECT_TRUE(contains(bad_duration.err, "invalid duration '5': the unit is missing")) << bad_duration.dump();
  const RunResult missing = run_dcp({dataflow("no_such_dataflow")});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(contains(missing.err, "dcp run: ")) << missing.dump();
}

TEST(DcpRun, InputTimeout_SilentInputClosed_DataAgainRecoversIt_ThenItClosesForGood) {
  const fs::path go = fs::path(DCP_RUNNER_DATAFLOWS) / "input_timeout.go";
  fs::remove(go);
  DcpRun run({dataflow("input_timeout")});
  ASSERT_TRUE(run.wait_for("[sink] input_closed in"));  // the source is paused: only the timeout closes it
  std::ofstream(go) << "go\n";
  const RunResult r = run.finish();
  fs::remove(go);
  ASSERT_EQ(r.exit_code, 0) << r.dump();
  std::vector<std::string> sink = lines_of(r.out, "[sink] ");
  sink.erase(sink.begin());  // "ready"
  // Control events may overtake queued messages (Dora's scheduling), so the order is checked where
  // it is defined: every message once and in order, InputRecovered before the message that
  // recovered the input, two InputClosed (the timeout, the end), AllInputsClosed last.
  std::vector<std::string> inputs;
  for (const std::string& line : sink) {
    if (line.rfind("input in ", 0) == 0) inputs.push_back(line);
  }
  EXPECT_EQ(inputs, (std::vector<std::string>{"input in 0", "input in 1", "input in 2", "input in 3", "input in 4",
                                              "input in 5"}))
      << r.dump();
  EXPECT_EQ(std::count(sink.begin(), sink.end(), "input_closed in"), 2) << r.dump();
  EXPECT_EQ(std::count(sink.begin(), sink.end(), "input_recovered in"), 1) << r.dump();
  EXPECT_LT(index_of(sink, "input_closed in"), index_of(sink, "input_recovered in")) << r.dump();
  EXPECT_LT(index_of(sink, "input_recovered in"), index_of(sink, "input in 3")) << r.dump();
  ASSERT_GE(sink.size(), 2u);
  EXPECT_EQ(sink[sink.size() - 2], "all_inputs_closed") << r.dump();
  EXPECT_EQ(sink.back(), "result received=6 order=ok in=6 last_in=5 big_ok=0 big_bad=0 shm=0") << r.dump();
  EXPECT_TRUE(r.stderr_has("[dcp] input sink/in had no message for its input_timeout (0.2 s): it is closed for the "
                           "node until data comes again"))
      << r.dump();
  EXPECT_TRUE(r.stderr_has("[dcp] input sink/in timed out once (input_timeout 0.2 s), recovered once")) << r.dump();
  EXPECT_EQ(r.summary.at("sink").delivered, 6) << r.dump();
}

TEST(DcpRun, InputTimeout_SourceEndsWhileTimedOut_AllInputsClosedWithoutASecondInputClosed) {
  const fs::path go = fs::path(DCP_RUNNER_DATAFLOWS) / "input_timeout_end.go";
  fs::remove(go);
  DcpRun run({dataflow("input_timeout_end")});
  ASSERT_TRUE(run.wait_for("[sink] input_closed in"));
  std::ofstream(go) << "go\n";
  const RunResult r = run.finish();
  fs::remove(go);
  ASSERT_EQ(r.exit_code, 0) << r.dump();
  std::vector<std::string> sink = lines_of(r.out, "[sink] ");
  sink.erase(sink.begin());  // "ready"
  std::sort(sink.begin(), sink.end() - 2);  // the message and the timeout's InputClosed: either order
  EXPECT_EQ(sink, (std::vector<std::string>{"input in 0", "input_closed in", "all_inputs_closed",
                                            "result received=1 order=ok in=1 last_in=0 big_ok=0 big_bad=0 shm=0"}))
      << r.dump();
  EXPECT_TRUE(r.stderr_has("[dcp] input sink/in timed out once (input_timeout 0.2 s), recovered 0 times")) << r.dump();
}

TEST(DcpRun, Timer_FirstTickComesWhenTheDataflowStarts_NotAPeriodLater) {
  DcpRun run({dataflow("timer_ticks")});
  ASSERT_TRUE(run.wait_for("[ticker] input hourly -1")) << "an hourly timer ticks at the start";
  run.signal(SIGINT);
  const RunResult r = run.finish();
  EXPECT_EQ(r.exit_code, 0) << r.dump();
  const auto ticker = lines_of(r.out, "[ticker] ");
  EXPECT_EQ(std::count(ticker.begin(), ticker.end(), "input hourly -1"), 1) << r.dump();
}

TEST(DcpRun, TimerTicksMissedWhileTheRunnerWasBusy_AreSkippedAndCountedInTheSummary) {
  DcpRun run({dataflow("timer_ticks")});
  ASSERT_TRUE(run.wait_for("[ticker] input fast -1"));
  run.signal(SIGSTOP);  // the runner cannot tick for a while: that is the stimulus, not a wait for an event
  std::this_thread::sleep_for(300ms);
  run.signal(SIGCONT);
  run.signal(SIGINT);
  const RunResult r = run.finish();
  EXPECT_EQ(r.exit_code, 0) << r.dump();
  const std::size_t at = r.err.find("[dcp] timer dora/timer/millis/10: ");
  ASSERT_NE(at, std::string::npos) << r.dump();
  const long missed = std::strtol(r.err.c_str() + at + std::string("[dcp] timer dora/timer/millis/10: ").size(), nullptr, 10);
  EXPECT_GE(missed, 10) << "about 30 periods passed while it was stopped\n" << r.dump();
  EXPECT_TRUE(r.stderr_has("ticks skipped (the runner was busy; as in Dora, missed ticks are not replayed)")) << r.dump();
  EXPECT_EQ(r.err.find("[dcp] timer dora/timer/secs/3600"), std::string::npos) << "it missed none\n" << r.dump();
}

TEST(DcpRun, NodeOutput_IsAlsoWrittenToDorasLogFiles_EveryLineOnceAsJson) {
  const RunResult r = run_dcp({dataflow("routing")});
  ASSERT_EQ(r.exit_code, 0) << r.dump();
  const std::string intro = "[dcp] node output is also written to ";
  const std::size_t at = r.err.find(intro);
  ASSERT_NE(at, std::string::npos) << r.dump();
  const std::string shown = r.err.substr(at + intro.size(), r.err.find('\n', at) - at - intro.size());
  const fs::path folder = fs::path(shown).parent_path();
  EXPECT_EQ(folder.parent_path(), fs::path(DCP_RUNNER_DATAFLOWS) / "out") << "Dora's place: out/<run id>/ beside the file";
  for (const std::string node : {"source", "forward", "sink", "direct"}) {
    const std::string log = dcp::test::read_file(folder / ("log_" + node + ".jsonl"));
    const std::vector<std::string> shown_lines = lines_of(r.out, "[" + node + "] ");
    std::vector<std::string> logged;
    std::istringstream lines(log);
    for (std::string line; std::getline(lines, line);) {
      EXPECT_EQ(line.rfind(R"({"ts":")", 0), 0u) << line;
      const std::string tail = R"(","target":null,"fields":null})";
      ASSERT_GT(line.size(), tail.size());
      EXPECT_EQ(line.substr(line.size() - tail.size()), tail) << line;
      const std::string head = R"("node":")" + node + R"(","stream":"stdout","msg":")";
      const std::size_t msg = line.find(head);
      ASSERT_NE(msg, std::string::npos) << line;
      logged.push_back(line.substr(msg + head.size(), line.size() - tail.size() - msg - head.size()));
    }
    EXPECT_EQ(logged, shown_lines) << node;
  }
  fs::remove_all(folder);
}

TEST(DcpRun, NoLogs_WritesNoLogFolder) {
  const RunResult r = run_dcp({"--no-logs", dataflow("routing")});
  ASSERT_EQ(r.exit_code, 0) << r.dump();
  EXPECT_EQ(r.err.find("node output is also written"), std::string::npos) << r.dump();
}

TEST(DcpRun, DoraLogsInputs_GetTheMatchingNodesLinesAsRecords_NeverTheirOwn_NeverClose) {
  DcpRun run({"--no-logs", dataflow("logs_input")});
  ASSERT_TRUE(run.wait_for("[watcher] log all sink stdout result received=2"));
  ASSERT_TRUE(run.wait_for("[watcher] log source_only source stdout result sent=2"));
  run.signal(SIGINT);
  const RunResult r = run.finish();
  EXPECT_EQ(r.exit_code, 0) << r.dump();
  const auto watcher = lines_of(r.out, "[watcher] ");
  const auto has = [&](const std::string& line) { return std::find(watcher.begin(), watcher.end(), line) != watcher.end(); };
  EXPECT_TRUE(has("log all source stdout ready")) << r.dump();
  EXPECT_TRUE(has("log all source stdout " + std::string(40, 'x') + "... (5000 bytes, shm)")) << r.dump();
  EXPECT_TRUE(has("log source_only source stdout ready")) << r.dump();
  for (const std::string& line : watcher) {
    EXPECT_EQ(line.rfind("log source_only sink", 0), std::string::npos) << "the node filter: " << line;
    EXPECT_EQ(line.rfind("log info ", 0), std::string::npos) << "plain lines do not pass level info: " << line;
    EXPECT_EQ(line.rfind("log all watcher", 0), std::string::npos) << "never its own lines: " << line;
  }
  EXPECT_TRUE(has("stop")) << "dora/logs never closes: only Stop ends the watcher\n" << r.dump();
  EXPECT_FALSE(has("all_inputs_closed")) << r.dump();
}

// ----- what nodes leave running ---------------------------------------------------------------

/// The helper pid a leave_behind node wrote to `<dataflows>/<name>.pid` (-1 when there is none).
pid_t helper_pid(const std::string& name) {
  std::ifstream file(fs::path(DCP_RUNNER_DATAFLOWS) / (name + ".pid"));
  long pid = -1;
  file >> pid;
  return static_cast<pid_t>(pid);
}

/// Whether `pid` is a live process (a zombie does not count: it has ended).
bool alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const std::size_t close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

/// Runs `dcp run` on leave_<how> (through `launcher`), returns the result and checks the helper is
/// gone; kills it if it is not, so a failing test leaves nothing behind either.
RunResult run_leaver(const std::string& how, const std::vector<std::string>& launcher, bool interrupt) {
  // A dataflow (and pid file) per variant: ctest runs the tests in parallel.
  const std::string name = "leave_" + how + (launcher.empty() ? "" : "_nocgroups");
  fs::remove(fs::path(DCP_RUNNER_DATAFLOWS) / (name + ".pid"));
  DcpRun run({dataflow(name)}, launcher);
  EXPECT_TRUE(run.wait_for("[leaver] started helper"));
  if (interrupt) run.signal(SIGINT);
  RunResult r = run.finish();
  const pid_t pid = helper_pid(name);
  EXPECT_GT(pid, 0) << r.dump();
  if (pid > 0) {
    EXPECT_FALSE(alive(pid)) << "the helper " << pid << " outlived the run\n" << r.dump();
    if (alive(pid)) ::kill(pid, SIGKILL);
  }
  r.out += "\n(helper pid " + std::to_string(pid) + ")";
  return r;
}

/// The summary names the leftover (by its pid and name: `sleep`, or the test node's name when it
/// was found before it executed sleep) and how it was found; exit status 4. Without cgroups, a
/// process that left its node's session is found as an orphan of the runner once its parent (the
/// node) is gone, possibly after the node's own clean-up: then it is the run's (`owned` false).
void expect_named_leftover(const RunResult& r, const std::string& tracking, bool owned = true) {
  EXPECT_EQ(r.exit_code, 4) << "no failure, but a process had to be killed\n" << r.dump();
  const std::string named = owned ? "[dcp] warning: node 'leaver' left 1 process running after it ended (pid "
                                  : "[dcp] warning: 1 process that nodes started was still running when the last "
                                    "node had ended (which node's is unknown) (pid ";
  EXPECT_TRUE(r.stderr_has(named)) << r.dump();
  EXPECT_TRUE(r.stderr_has("); it was killed")) << r.dump();
  EXPECT_TRUE(r.stderr_has("[dcp] leftover processes were found through " + tracking)) << r.dump();
  EXPECT_FALSE(r.stderr_has("dataflow succeeded")) << "never a plain success with a leftover\n" << r.dump();
}

bool cgroups_here() {
  // What the runner says when it cannot make them; without that line it used them.
  const RunResult r = run_dcp({"--no-logs", dataflow("routing")});
  return !r.stderr_has("[dcp] no cgroup per node (");
}

TEST(DcpRun, HelperLeftRunningInTheBackground_IsKilledNamed_Exit4) {
  const RunResult r = run_leaver("background", {}, false);
  expect_named_leftover(r, cgroups_here() ? "a cgroup v2 per node" : "process groups and the child subreaper");
}

TEST(DcpRun, HelperThatCalledSetsid_IsFoundAndKilled_WithCgroupsWhereThereAreAny) {
  const RunResult r = run_leaver("setsid", {}, false);
  expect_named_leftover(r, cgroups_here() ? "a cgroup v2 per node" : "process groups and the child subreaper");
}

TEST(DcpRun, HelperThatCalledSetsid_IsFoundAsAnOrphanOfTheSubreaper_WithoutCgroups) {
  const RunResult r = run_leaver("setsid", {"/usr/bin/env", "DCP_RUN_NO_CGROUPS=1"}, false);
  EXPECT_TRUE(r.stderr_has("[dcp] no cgroup per node (turned off by DCP_RUN_NO_CGROUPS)")) << r.dump();
  // Named by the node when its clean-up was still under way as the orphan appeared, else as the run's.
  const bool owned = r.stderr_has("[dcp] warning: node 'leaver' left");
  expect_named_leftover(r, "process groups and the child subreaper (no cgroup: turned off by DCP_RUN_NO_CGROUPS)", owned);
}

TEST(DcpRun, HelperLeftInTheBackground_WithoutCgroups_IsKilledThroughTheProcessGroup) {
  const RunResult r = run_leaver("background", {"/usr/bin/env", "DCP_RUN_NO_CGROUPS=1"}, false);
  expect_named_leftover(r, "process groups and the child subreaper (no cgroup: turned off by DCP_RUN_NO_CGROUPS)");
}

TEST(DcpRun, HelperIgnoringSigterm_GetsSigkillAfterTheLeftoverGrace) {
  const RunResult r = run_leaver("stubborn", {}, true);  // the node ends on Stop; its helper ignores SIGTERM
  EXPECT_EQ(r.exit_code, 4) << r.dump();
  EXPECT_TRUE(r.stdout_has("[leaver] stop")) << r.dump();
  EXPECT_TRUE(r.stderr_has("; it was killed, with SIGKILL")) << r.dump();
}

TEST(DcpRun, RunWithoutLeftovers_SaysNothingAboutThem_Exit0) {
  const RunResult r = run_dcp({"--no-logs", dataflow("routing")});
  EXPECT_EQ(r.exit_code, 0) << r.dump();
  EXPECT_FALSE(r.stderr_has("left ")) << r.dump();
  EXPECT_FALSE(r.stderr_has("leftover")) << r.dump();
}

TEST(DcpRun, StdoutNobodyReads_CtrlCStillStopsTheRun_DroppedLinesCountedAndLogged) {
  // Before the bounded terminal output, the runner blocked in write() on its full stdout and never
  // saw the SIGINT: this run hung until the test killed it.
  DcpRun run({dataflow("chatty")}, {}, /*unread_stdout=*/true);
  ASSERT_TRUE(run.wait_for("[chatty!] done", true)) << "the node printed everything: the pipe is full";
  run.signal(SIGINT);
  const RunResult r = run.finish();
  EXPECT_LT(r.elapsed, 20s);
  EXPECT_EQ(r.exit_code, 0) << r.dump();
  EXPECT_TRUE(r.stderr_has("[dcp] interrupted by SIGINT: sending Stop to every node")) << r.dump();
  const std::string counted = " of node output were not shown: the terminal did not take them";
  const std::size_t at = r.err.find(counted);
  ASSERT_NE(at, std::string::npos) << r.dump();
  const std::size_t start = r.err.rfind("[dcp] ", at) + 6;
  const long dropped = std::strtol(r.err.c_str() + start, nullptr, 10);
  EXPECT_GT(dropped, 0) << r.dump();
  EXPECT_LT(dropped, 20000) << "some went into the pipe and the buffer\n" << r.dump();
  // The log file has every line, whatever the terminal took.
  const std::string intro = "[dcp] node output is also written to ";
  const std::size_t log_at = r.err.find(intro);
  ASSERT_NE(log_at, std::string::npos) << r.dump();
  const fs::path folder =
      fs::path(r.err.substr(log_at + intro.size(), r.err.find('\n', log_at) - log_at - intro.size())).parent_path();
  const std::string log = dcp::test::read_file(folder / "log_chatty.jsonl");
  EXPECT_NE(log.find(R"("msg":"line 19999 of node output)"), std::string::npos);
  EXPECT_GE(std::count(log.begin(), log.end(), '\n'), 20000 + 3) << "every line, plus ready, done and stop";
  fs::remove_all(folder);
}

TEST(DcpRun, ManyNodesUnderALowSoftDescriptorLimit_AllStart_NodesKeepTheOriginalLimit) {
  // 41 nodes need ~130 descriptors in the runner: more than the soft limit of 64 it was started with.
  const RunResult r = run_dcp({"--no-logs", dataflow("low_nofile")}, {"/usr/bin/prlimit", "--nofile=64:4096"});
  EXPECT_EQ(r.exit_code, 0) << r.dump();
  EXPECT_TRUE(r.stderr_has("[dcp] dataflow succeeded: all 41 nodes exited with code 0")) << r.dump();
  EXPECT_TRUE(r.stdout_has("[inspector] nofile_soft=64\n")) << "nodes get the soft limit dcp had\n" << r.dump();
}

// Issue: one slow reader with queue_size 30000 of 8 KiB shared-memory messages exhausted the
// runner's descriptors in under a second, and the producer was disconnected as a "protocol error".
// The runner now holds at most its budget of payload descriptors; at it, the reader's rule applies
// (the oldest go), every message is accounted for, and nobody is blamed.
TEST(DcpRun, SlowReaderWithAHugeQueueOfSharedMemory_StaysWithinTheDescriptorBudget_OldestDropped_NobodyBlamed) {
  const fs::path go = fs::path(DCP_RUNNER_DATAFLOWS) / "payload_budget.go";
  fs::remove(go);
  DcpRun run({"--no-logs", dataflow("payload_budget")}, {"/usr/bin/prlimit", "--nofile=256:256"});
  ASSERT_TRUE(run.wait_for("[source] result sent=2000"));
  ASSERT_TRUE(run.wait_for("shared-memory payloads, its limit (derived from RLIMIT_NOFILE)", true));
  std::ofstream(go) << "go\n";  // only now does the sink read
  const RunResult r = run.finish();
  fs::remove(go);
  EXPECT_EQ(r.exit_code, 0) << r.dump();
  EXPECT_FALSE(contains(r.err, "protocol error")) << r.dump();
  EXPECT_EQ(r.summary.at("source").ended, "exit code 0") << r.dump();
  EXPECT_EQ(r.summary.at("source").sent, 2000) << r.dump();
  const long delivered = input_count(r.err, "sink/in", " delivered");
  const long dropped = input_count(r.err, "sink/in", " dropped (the runner could not hold more shared-memory payloads");
  EXPECT_EQ(input_count(r.err, "sink/in", " sent"), 2000) << r.dump();
  EXPECT_GT(dropped, 0) << r.dump();
  EXPECT_GE(delivered, 100) << "what the budget held was delivered\n" << r.dump();
  EXPECT_EQ(delivered + dropped, 2000) << r.dump();
  EXPECT_EQ(r.summary.at("sink").delivered, delivered) << r.dump();
  EXPECT_EQ(value_in_line(r.out, "[sink] result", "received"), delivered) << r.dump();
  EXPECT_EQ(value_in_line(r.out, "[sink] result", "big_bad"), 0) << r.dump();
  EXPECT_EQ(value_in_line(r.out, "[sink] result", "last_in"), 1999) << "the newest are kept\n" << r.dump();
}

}  // namespace
