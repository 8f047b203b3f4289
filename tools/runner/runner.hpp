// tools/runner/runner.hpp — the local runner behind `dcp run`: starts every node of a dataflow as a
// child process and routes messages between them, the way Dora's daemon does on one machine.
//
// What it is for:
//
//   const auto flow = dcp::dataflow::load_dataflow("robot.yml");
//   dcp::runner::RunOptions options;
//   options.stop_after = std::chrono::seconds(10);        // like pressing Ctrl-C after 10 s
//   const dcp::runner::RunReport report = dcp::runner::run_dataflow(flow, options);
//   std::cerr << dcp::runner::format_summary(report);
//   return report.success() ? 0 : 1;
//
// run_dataflow() returns when every node process has ended (and has been reaped: no zombies).
// What happens in between (docs/runner.md has the full story and every difference from Dora):
//   - Start. A private runtime directory (mode 0700) gets the listening socket `runner.sock`, which
//     refuses every Hello (no node connects through it). Each node is started in the dataflow
//     file's folder, in its own process group, with its connection: one end of a socket pair made
//     just before, inherited as descriptor 3 (the runner's copy of that end is closed once the
//     node runs), with the inherited environment plus its `env` plus DCP_NODE_FD=3, DCP_NODE_ID,
//     DCP_NODE_SECRET (a fresh 128-bit secret) and DCP_RUNNER_SOCKET, stdin from /dev/null. Its
//     stdout and stderr lines are printed prefixed with `[<id>] ` (to `out`) and `[<id>!] ` (to
//     `err`). A node that cannot be started is reported and counts as failed; the others run.
//   - Connect. A node says Hello with its id and secret on the connection it inherited: the runner
//     knows whose connection that is, and no other process can open it; the Hello must name that
//     node and carry its secret, else the node is refused and fails. The answer (HelloOk)
//     is held back until every node has connected or ended, then the timers start — as Dora starts a
//     dataflow once all its nodes are ready, so no early message is lost. The runner owns the start
//     deadline: a node still alive but not connected RunOptions::start_timeout (default 60 s) after
//     its start is reported ("node 'x' did not connect within 60s of its start"), killed, and the
//     others get Stop; the run fails. Each node is told the deadline (DCP_START_TIMEOUT_MS), so the
//     node library waits at the barrier as long as the runner does.
//   - Route. Each output goes to every input that reads it; each input has its own queue of
//     `queue_size` (default 10) and drops its oldest message when full. Payloads of 4 KiB and more
//     arrive as sealed memfds, checked and forwarded to every reader without a copy.
//   - Close. When a node closes an output, disconnects or exits, the inputs reading it get
//     InputClosed; a node with inputs, none of them timers, gets AllInputsClosed once all are closed.
//   - Stop. On SIGINT, SIGTERM or SIGHUP (or when `stop_after` elapses) every node gets Stop (then
//     the inputs queued before it, then end of stream: node.hpp's Stop rule); nodes still
//     running after `grace` are killed (SIGKILL to the process group). A second signal kills at once.
//   - Strangers. A connection to runner.sock has RunOptions::hello_timeout (default 5 s) to say
//     Hello (which is then refused); at most
//     kMaxPendingConnections (64) wait at once, further ones are closed at once. When accept fails
//     for lack of descriptors, the runner stops accepting for kAcceptRetryDelay. All are counted.
//   - Misbehaviour. A malformed or oversized frame, an undeclared output, a bad shared-memory
//     descriptor or any other protocol violation gets the node an Error message and a disconnect
//     (its outputs close); the node counts as failed. Nothing a node does can crash the runner.
//   - Lost work. A node tells the runner how many errors it reported (dcp::report_error(): a posted
//     task that threw, ...; ipc::ErrorCount). The summary names each node that reported any, and
//     such a run is not a success (RunReport::errors_reported()), even when every node exited 0.
//
// Thread safety: run_dataflow runs everything on the calling thread (one epoll loop). It changes
// process-wide state for its duration: it blocks SIGINT, SIGTERM, SIGHUP and SIGCHLD (to read them
// from a signalfd), ignores SIGPIPE, reaps every child of the process (waitpid(-1)), and, once the
// nodes are started, raises its soft RLIMIT_NOFILE to the hard limit (queued shared-memory messages
// hold descriptors). Run one at a time per process, from a program that starts no other children
// meanwhile.
// Blocking: until the dataflow has ended; then, writing to the descriptors, until the terminal has
// taken the runner's output — unless the run was interrupted (SIGINT, SIGTERM, SIGHUP), or is
// while it waits: then what is left is dropped and counted. Never during the run: node output
// that the terminal does not take (a paused pager) waits in a bounded buffer, then is dropped and
// counted (terminal_output.hpp), so Ctrl-C always works.
// Errors: throws std::system_error when the runner itself cannot be set up (runtime directory,
// socket, epoll); any node already started is then killed and reaped before the exception leaves.
// Problems with nodes are never exceptions: they are in the report.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "dataflow/dataflow.hpp"
#include "runner/input_account.hpp"
#include "runner/pending_connections.hpp"

namespace dcp::runner {

/// Dora stops nodes after a grace period too; dcp's default (see docs/runner.md).
inline constexpr std::chrono::milliseconds kDefaultGrace{5000};
/// How long a node has from its start to connect (say Hello) before it is killed (docs/runner.md).
inline constexpr std::chrono::milliseconds kDefaultStartTimeout{60000};
/// What a node left running when it ended gets SIGTERM, then SIGKILL after this long
/// (leftovers.hpp, docs/runner.md).
inline constexpr std::chrono::milliseconds kLeftoverGrace{1000};
/// How long processes that got SIGKILL may take to vanish before the runner gives up on them.
inline constexpr std::chrono::milliseconds kLeftoverKillWait{5000};

struct RunOptions {
  /// Stop the dataflow (as Ctrl-C would) after this long; nullopt = run until the nodes end.
  std::optional<std::chrono::milliseconds> stop_after;
  /// After Stop, how long nodes have to exit before they are killed.
  std::chrono::milliseconds grace = kDefaultGrace;
  /// Where node stdout lines go; nullptr = the process's stdout (descriptor 1), written without
  /// ever blocking the runner: lines the terminal does not take wait in a bounded buffer
  /// (TerminalOutput::kDefaultCapacity, terminal_output.hpp), beyond it they are dropped and
  /// counted (RunReport::terminal_lines_dropped). A stream given here is written directly.
  std::ostream* out = nullptr;
  /// Where node stderr lines and the runner's own `[dcp] ...` messages go; nullptr = the process's
  /// stderr (descriptor 2), bounded and non-blocking as `out`.
  std::ostream* err = nullptr;
  /// How long a connection to the runner's socket has to say Hello before it is closed
  /// (kDefaultHelloTimeout, pending_connections.hpp). At most kMaxPendingConnections wait at once.
  std::chrono::milliseconds hello_timeout = kDefaultHelloTimeout;
  /// How long a node has from its start to connect and say Hello. A node still alive and not
  /// connected then is killed (NodeEnd::killed_at_start_deadline) and the others get Stop.
  std::chrono::milliseconds start_timeout = kDefaultStartTimeout;
  /// Also write every node's output lines to `<dataflow folder>/out/<run id>/log_<node>.jsonl`, as
  /// Dora does (node_logs.hpp). `dcp run --no-logs` turns it off.
  bool write_logs = true;
  /// At most this many shared-memory payload descriptors held at once (payload_budget.hpp); nullopt =
  /// derived from the runner's RLIMIT_NOFILE (derived_payload_limit). `dcp run --max-payload-fds N`.
  std::optional<std::size_t> max_payload_descriptors;
};

/// How a node ended.
enum class NodeEnd {
  exited,               ///< exit code in NodeReport::exit_code
  signaled,             ///< killed by a signal it did not get from the runner (NodeReport::signal)
  killed_after_grace,   ///< still running when the grace period after Stop ran out
  killed_on_interrupt,  ///< killed because of a second Ctrl-C / SIGTERM
  killed_at_start_deadline,  ///< alive but not connected RunOptions::start_timeout after its start
  failed_to_start,      ///< its executable could not be started (NodeReport::start_error)
};

/// A process a node started (or one of those started) that was still running when the node had
/// ended (or, for RunReport::unowned_leftovers, when the last node had ended), and was killed.
struct LeftoverProcess {
  int pid = -1;
  std::string name;             ///< its command name (comm), e.g. "sleep"
  bool needed_sigkill = false;  ///< still running kLeftoverGrace after SIGTERM
  bool survived = false;        ///< still there kLeftoverKillWait after SIGKILL (e.g. stuck in the kernel)
};

struct NodeReport {
  std::string id;
  int pid = -1;  ///< -1 when it never started
  NodeEnd end = NodeEnd::exited;
  int exit_code = 0;           ///< NodeEnd::exited
  int signal = 0;              ///< NodeEnd::signaled and the killed_* ends
  std::string start_error;     ///< NodeEnd::failed_to_start
  std::string protocol_error;  ///< non-empty: disconnected for breaking the protocol (a failure)
  std::uint64_t outputs_sent = 0;      ///< messages it sent that the runner accepted
  std::uint64_t inputs_delivered = 0;  ///< input events it received (timer ticks included)
  std::uint64_t inputs_dropped = 0;    ///< input messages dropped because an input queue was full
  std::uint64_t reported_errors = 0;   ///< errors the node reported (dcp::report_error()), as it last told

  /// Every input, in the node's input order: what became of each message routed to it
  /// (input_account.hpp; balanced() holds for each at the end of a run). Their dropped() values add
  /// up to inputs_dropped.
  struct InputReport {
    std::string input;
    std::size_t queue_size = 0;    ///< what bounds its queue (Input::capacity())
    bool backpressure = false;     ///< queue_policy backpressure: queue_size is its capacity, 10 x the file's
    InputAccount account;
    std::uint64_t correlated_dropped = 0;  ///< of dropped_queue_full, service/action messages (request_id, goal_id, goal_status)
  };
  std::vector<InputReport> inputs;

  /// The inputs that timed out (input_timeout) at least once, in the node's input order.
  struct InputTimeouts {
    std::string input;
    double input_timeout = 0;    ///< seconds
    std::uint64_t timeouts = 0;  ///< times it was closed for silence
    std::uint64_t recoveries = 0;  ///< times data came again afterwards
  };
  std::vector<InputTimeouts> timeouts;
  /// What it left running after it ended, in the order found; every one was killed (docs/runner.md).
  std::vector<LeftoverProcess> leftovers;

  /// A non-zero exit, a signal, a kill, a failed start or a protocol error.
  [[nodiscard]] bool failed() const noexcept;
  /// "exit code 0", "exit code 3", "signal SIGSEGV", "killed after the 5s grace period",
  /// "killed (second interrupt)", "killed: did not connect within 60s", "failed to start: ...",
  /// each + ", protocol error" when there was one.
  [[nodiscard]] std::string describe_end(std::chrono::milliseconds grace,
                                         std::chrono::milliseconds start_timeout = kDefaultStartTimeout) const;
};

struct RunReport {
  std::string dataflow;            ///< Dataflow::name
  std::vector<NodeReport> nodes;   ///< in the dataflow's order
  std::chrono::milliseconds grace = kDefaultGrace;
  std::chrono::milliseconds start_timeout = kDefaultStartTimeout;
  std::string stop_reason;         ///< why Stop was sent ("" when the nodes ended by themselves)
  /// Connections without a Hello: refused because kMaxPendingConnections already waited, and
  /// closed because they did not say Hello within RunOptions::hello_timeout.
  std::uint64_t connections_refused = 0;
  std::uint64_t connections_timed_out = 0;
  /// Times accepting a connection failed for lack of descriptors (EMFILE, ENFILE, ...): the
  /// runner then stops accepting for a short while instead of retrying at once.
  std::uint64_t accept_pauses = 0;
  /// Lines (node output, and the runner's own messages on stderr) the terminal did not take: the
  /// bounded buffer was full, the terminal failed, or the run ended on an interrupt before the
  /// terminal took them. Only when writing to the descriptors (RunOptions::out / err nullptr).
  std::uint64_t terminal_lines_dropped = 0;
  /// Timers (one per distinct period) that skipped ticks because the runner was busy.
  struct TimerTicks {
    std::string timer;  ///< e.g. "dora/timer/millis/10"
    std::uint64_t ticks = 0;
    std::uint64_t missed = 0;
  };
  std::vector<TimerTicks> timers_missed;
  /// The shared-memory payload descriptor budget (payload_budget.hpp): its limit, the most held at
  /// once, the times a message found it full (the messages dropped for it are counted per input,
  /// InputAccount::dropped_descriptors), and the payloads the runner had no descriptor free to receive.
  std::size_t payload_descriptor_limit = 0;
  std::size_t payload_descriptors_peak = 0;
  std::uint64_t payload_budget_full = 0;
  std::uint64_t payload_descriptors_lost = 0;
  /// Where the node logs were written ("" with RunOptions::write_logs off), and how many lines
  /// could not be (the first error's text in log_error).
  std::string log_folder;
  std::uint64_t log_writes_failed = 0;
  std::string log_error;
  /// Orphans re-parented to the runner that no node could be named for (without cgroups, a
  /// process that left its node's process group and whose parent was still alive when its node
  /// ended), killed after the last node had ended.
  std::vector<LeftoverProcess> unowned_leftovers;
  /// How leftovers were found: "a cgroup v2 per node (<dir>)", or "process groups and the child
  /// subreaper (no cgroup: <why>)".
  std::string leftover_tracking;

  [[nodiscard]] std::size_t failed_count() const noexcept;
  /// Processes nodes left running that the runner had to kill (NodeReport::leftovers and
  /// unowned_leftovers together).
  [[nodiscard]] std::size_t leftover_count() const noexcept;
  /// Nodes with NodeReport::reported_errors > 0 (failed or not).
  [[nodiscard]] std::size_t reported_errors_count() const noexcept;
  /// True when no node failed, none reported errors and none left processes running.
  [[nodiscard]] bool success() const noexcept {
    return failed_count() == 0 && reported_errors_count() == 0 && leftover_count() == 0;
  }
};

/// Runs `dataflow` to the end. See the header comment.
[[nodiscard]] RunReport run_dataflow(const dataflow::Dataflow& dataflow, const RunOptions& options = {});

/// The table printed at the end of `dcp run`, then one line per node that reported errors and one
/// per input that did not get every message sent to it (each loss named by its cause):
///   [dcp] dataflow failed: 1 of 3 nodes failed, 1 reported errors
///     node    pid    ended          outputs sent  inputs delivered  inputs dropped
///     source  4242   exit code 0              10                 0               0
///     ...
///   [dcp] node 'processor' reported 3 errors that lost work; see its 'dcp:' lines above
///   [dcp] input slow/in: 200 sent, 107 delivered, 93 dropped (queue full: queue_size 5)
///   [dcp] 1200 lines of node output were not shown: the terminal did not take them
/// "dataflow succeeded" only when success().
///   [dcp] warning: node 'camera' left 2 processes running after it ended (pids 4250, 4251: sleep); they were killed
/// "dataflow succeeded" only when success(): never while a leftover process goes unnamed.
[[nodiscard]] std::string format_summary(const RunReport& report);

}  // namespace dcp::runner
