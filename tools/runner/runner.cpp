// The local runner's event loop: one epoll loop that ties the runner's pieces together (see
// runner.hpp and docs/runner.md):
//   supervisor.hpp   starting, killing and reaping the node processes, how each ended;
//   leftovers.hpp    ending what a node left running after it ended (a cgroup per node where
//                    possible, node_cgroups.hpp; else process groups and the child subreaper);
//   connections.hpp  accepting connections, authenticating Hello, sending without blocking;
//   router.hpp       which inputs read each output and timer, per-input queues, NextEvent answers;
//   node_state.hpp   each node's process, link and stream state machines (checked transitions);
//   summary.cpp      the report and the summary table.
// This file owns the descriptors and the nodes, dispatches each ready descriptor to its handler,
// holds the start barrier, and handles Stop, the grace period and signals.
//
// Shape of the loop. Everything is a file descriptor in one epoll set (level-triggered): the
// listening socket, each node's connection (made at its start), each connection accepted on the
// listening socket (only ever refused), each node's stdout and stderr pipes, one timerfd per
// distinct timer period, one-shot timerfds for --stop-after, the grace period, the start-up
// warning and the start deadline, and a signalfd for SIGINT/SIGTERM/SIGHUP/SIGCHLD. Handlers never block: sockets and
// pipes are non-blocking, a frame that cannot be sent yet waits in the connection's outbox.
//
// Robustness. Whatever a node sends is decoded and checked; anything wrong ends in
// fail_connection() (Error frame, disconnect, the node counts as failed). Closing a connection is
// deferred to the end of the current event (process_pending_closes) so no handler ever finds the
// connection it is working on destroyed under it. An illegal state transition (a runner bug) throws
// std::logic_error, which the loop reports as an internal error and answers by stopping the run.
#include "runner/runner.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <deque>
#include <exception>
#include <iostream>
#include <map>
#include <memory>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "ipc/protocol.hpp"
#include "ipc/shared_memory.hpp"
#include "ipc/socket.hpp"
#include "runner/connections.hpp"
#include "runner/duration.hpp"
#include "runner/event_queue.hpp"
#include "runner/leftovers.hpp"
#include "runner/line_splitter.hpp"
#include "runner/node_logs.hpp"
#include "runner/node_cgroups.hpp"
#include "runner/node_state.hpp"
#include "runner/payload_budget.hpp"
#include "runner/pending_connections.hpp"
#include "runner/process.hpp"
#include "runner/router.hpp"
#include "runner/runtime_directory.hpp"
#include "runner/secret.hpp"
#include "runner/supervisor.hpp"
#include "runner/terminal_output.hpp"

namespace dcp::runner {
namespace {

using namespace std::chrono_literals;

// Frames read from one connection per wake-up, so one chatty node cannot starve the others.
constexpr int kFramesPerWakeup = 64;
// Bytes read from one pipe per wake-up.
constexpr std::size_t kPipeBytesPerWakeup = 256 * 1024;
// When the dataflow has not started this long after launch, say which nodes it waits for.
constexpr std::chrono::milliseconds kStartWarningDelay = 10s;
// When accept fails for lack of descriptors, how long the listening socket is left alone (a
// level-triggered listener with a connection it cannot accept would wake the loop at once, forever).
constexpr std::chrono::milliseconds kAcceptRetryDelay = 100ms;
// While the terminal has not taken all of the runner's output, how often the loop retries.
constexpr int kTerminalRetryMs = 20;

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), "dcp run: " + what);
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string join_ids(const std::vector<std::string>& ids) { return fmt::format("{}", fmt::join(ids, ", ")); }

// ---------------------------------------------------------------------------------------------
// epoll tokens: what a ready descriptor is, packed into epoll_event.data.u64.
// ---------------------------------------------------------------------------------------------

enum class Source : std::uint64_t {
  listener = 1,
  signals,
  stop_after,
  grace,
  start_warning,
  start_deadline,
  hello_deadline,
  accept_retry,
  health_check,  // input timeouts
  leftovers,
  timer,        // value: index into timers_
  connection,   // value: connection id (never reused)
  node_stdout,  // value: node index
  node_stderr,  // value: node index
};

constexpr std::uint64_t kValueBits = 56;
constexpr std::uint64_t token(Source source, std::uint64_t value = 0) {
  return (static_cast<std::uint64_t>(source) << kValueBits) | value;
}
constexpr Source source_of(std::uint64_t t) { return static_cast<Source>(t >> kValueBits); }
constexpr std::uint64_t value_of(std::uint64_t t) { return t & ((std::uint64_t{1} << kValueBits) - 1); }

ipc::FileDescriptor make_timerfd() {
  ipc::FileDescriptor fd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!fd) throw_errno("timerfd_create");
  return fd;
}

timespec to_timespec(std::chrono::nanoseconds duration) {
  timespec t{};
  t.tv_sec = static_cast<time_t>(duration.count() / 1'000'000'000);
  t.tv_nsec = static_cast<long>(duration.count() % 1'000'000'000);
  return t;
}

// Arms `fd` to fire once after `delay` (a zero delay fires at once: timerfd reads 0 as "disarm").
void arm_once(int fd, std::chrono::milliseconds delay) {
  itimerspec spec{};
  spec.it_value = to_timespec(std::max<std::chrono::nanoseconds>(delay, 1ns));
  if (::timerfd_settime(fd, 0, &spec, nullptr) != 0) throw_errno("timerfd_settime");
}

// Arms `fd` to fire every `period`: the first time after one period, or at once (Dora's timers
// tick first when the dataflow starts).
void arm_periodic(int fd, std::chrono::nanoseconds period, bool first_tick_now = false) {
  itimerspec spec{};
  spec.it_value = to_timespec(first_tick_now ? std::chrono::nanoseconds(1) : period);
  spec.it_interval = to_timespec(period);
  if (::timerfd_settime(fd, 0, &spec, nullptr) != 0) throw_errno("timerfd_settime");
}

// How often input timeouts are checked: the file's health_check_interval (Dora's default when
// unset), never below kMinHealthCheckInterval.
std::chrono::nanoseconds health_check_period(const dataflow::Dataflow& dataflow) {
  const double seconds = std::max(dataflow.health_check_interval.value_or(dataflow::kDefaultHealthCheckInterval),
                                  dataflow::kMinHealthCheckInterval);
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(seconds));
}

// ---------------------------------------------------------------------------------------------
// The runner.
// ---------------------------------------------------------------------------------------------

struct NodeState {
  explicit NodeState(const dataflow::Node& node_spec) : spec(&node_spec), state(node_spec.id), inputs(node_spec) {}

  const dataflow::Node* spec;
  std::string secret;
  pid_t pid = -1;
  std::chrono::steady_clock::time_point started_at;  // when it was spawned: its start deadline counts from here
  NodeLifecycle state;                   // process, link and stream machines (node_state.hpp)
  std::uint64_t connection = 0;          // its connection's id (made at its start) until it is gone
  bool next_event_outstanding = false;   // the one NextEvent the protocol allows waits for its answer
  bool warned_send_after_close = false;  // said once that it sends on a closed output

  NodeInputs inputs;                            // its queue and open inputs (router.hpp)
  std::vector<bool> output_closed;
  std::vector<std::vector<Subscriber>> routes;  // per output: the inputs reading it

  ipc::FileDescriptor stdout_pipe;
  ipc::FileDescriptor stderr_pipe;
  LineSplitter stdout_lines;
  LineSplitter stderr_lines;

  NodeReport report;
};

class Runner {
 public:
  Runner(const dataflow::Dataflow& dataflow, const RunOptions& options)
      : dataflow_(dataflow),
        options_(options),
        out_(terminal(options.out, STDOUT_FILENO)),
        err_(terminal(options.err, STDERR_FILENO)),
        pending_(kMaxPendingConnections, options.hello_timeout),
        cgroups_(dataflow.nodes.size()),
        leftovers_(cgroups_, dataflow.nodes.size()) {}

  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Error paths only: whatever is still running is killed and reaped, so no node (nor anything a
  // node started) outlives us.
  ~Runner() {
    for (NodeState& node : nodes_) {
      if (node.state.process_alive()) kill_and_reap(node.pid);
    }
    leftovers_.kill_everything_now();
  }

  RunReport run() {
    build_nodes();
    set_up();
    say("starting " + std::to_string(nodes_.size()) + (nodes_.size() == 1 ? " node" : " nodes") + " of " +
        dataflow_.name + " (runtime directory " + runtime_->path().string() + ")");
    if (options_.write_logs) {
      std::vector<std::string> ids;
      for (const NodeState& node : nodes_) ids.push_back(node.spec->id);
      try {
        logs_.emplace(dataflow_.base_dir, NodeLogs::make_run_id(), ids);
        say("node output is also written to " + logs_->folder().string() + "/log_<node>.jsonl");
      } catch (const std::system_error& e) {  // e.g. a read-only dataflow folder: run anyway
        say(std::string("cannot write the node logs (") + e.what() + "); going on without them (--no-logs: do not try)");
      }
    }
    if (!cgroups_.available()) {
      say("no cgroup per node (" + cgroups_.reason() +
          "): processes nodes leave behind are found by process group and as orphans re-parented to the runner");
    }
    leftovers_.note_existing_children();
    descriptor_limit_.emplace();  // before spawning: each node costs descriptors; nodes get the old one back
    set_up_payload_budget();
    for (NodeState& node : nodes_) spawn(node);
    for (NodeState& node : nodes_) {
      if (node.state.process() == ProcessState::failed_to_start) node_gone(node);
    }
    check_barrier();
    if (options_.stop_after) arm_once(stop_after_timer_.get(), *options_.stop_after);
    if (!released_) {
      if (kStartWarningDelay < options_.start_timeout) arm_once(start_warning_timer_.get(), kStartWarningDelay);
      arm_start_deadline();
    }
    flush();

    std::array<epoll_event, 64> events{};
    for (;;) {
      // The run ends when no node runs and nothing a node left is still being ended.
      if (running_count_ == 0) {
        if (!run_ending_) {
          run_ending_ = true;
          leftovers_.run_ending(std::chrono::steady_clock::now());
        }
        if (!leftovers_.busy()) break;
      }
      arm_leftover_timer();
      // Output the terminal did not take yet is retried soon (it is not in the epoll set: a regular
      // file cannot be, and watching a shared terminal for POLLOUT all the time would spin).
      const int timeout = out_->pending() > 0 || err_->pending() > 0 ? kTerminalRetryMs : -1;
      const int ready = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), timeout);
      if (ready < 0) {
        if (errno == EINTR) continue;
        throw_errno("epoll_wait");
      }
      for (int i = 0; i < ready; ++i) {
        try {
          dispatch(events[static_cast<std::size_t>(i)]);
          process_pending_closes();
        } catch (const std::exception& e) {
          internal_error(e.what());
        }
      }
      flush();
    }
    finish();
    return std::move(report_);
  }

 private:
  // ----- set-up --------------------------------------------------------------------------------

  void build_nodes() {
    RouteTable table = build_routes(dataflow_);
    nodes_.reserve(dataflow_.nodes.size());
    for (std::size_t n = 0; n < dataflow_.nodes.size(); ++n) {
      const dataflow::Node& spec = dataflow_.nodes[n];
      NodeState& node = nodes_.emplace_back(spec);
      node.report.id = spec.id;
      node.output_closed.assign(spec.outputs.size(), false);
      node.routes = std::move(table.readers[n]);
    }
    timers_ = std::move(table.timers);
    log_readers_ = std::move(table.log_readers);
  }

  void set_up() {
    runtime_.emplace(RuntimeDirectory::create());
    epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_) throw_errno("epoll_create1");

    signal_fd_.reset(::signalfd(-1, &signals_.blocked(), SFD_NONBLOCK | SFD_CLOEXEC));
    if (!signal_fd_) throw_errno("signalfd");
    watch(signal_fd_.get(), token(Source::signals));

    listener_ = ipc::listen_seqpacket(runtime_->socket_path());
    watch(listener_.get(), token(Source::listener));

    stop_after_timer_ = make_timerfd();
    watch(stop_after_timer_.get(), token(Source::stop_after));
    grace_timer_ = make_timerfd();
    watch(grace_timer_.get(), token(Source::grace));
    start_warning_timer_ = make_timerfd();
    watch(start_warning_timer_.get(), token(Source::start_warning));
    start_deadline_timer_ = make_timerfd();
    watch(start_deadline_timer_.get(), token(Source::start_deadline));
    hello_deadline_timer_ = make_timerfd();
    watch(hello_deadline_timer_.get(), token(Source::hello_deadline));
    accept_retry_timer_ = make_timerfd();
    watch(accept_retry_timer_.get(), token(Source::accept_retry));
    health_check_timer_ = make_timerfd();
    watch(health_check_timer_.get(), token(Source::health_check));
    leftover_timer_ = make_timerfd();
    watch(leftover_timer_.get(), token(Source::leftovers));
    for (std::size_t t = 0; t < timers_.size(); ++t) {
      timers_[t].fd = make_timerfd();
      watch(timers_[t].fd.get(), token(Source::timer, t));
    }
  }

  void spawn(NodeState& node) {
    const dataflow::Node& spec = *node.spec;
    try {
      node.secret = make_secret();
      const std::size_t index = static_cast<std::size_t>(&node - nodes_.data());
      // The node's connection, made before it starts: it inherits one end, so the runner knows who
      // is at the other end and no other process can open it (connections.hpp).
      ipc::SocketPair pair = ipc::seqpacket_pair();
      SpawnRequest request =
          node_spawn_request(spec, dataflow_.base_dir, runtime_->socket_path(), node.secret, pair.second.get());
      tell_start_timeout(request.environment);
      request.nofile_limit = descriptor_limit_->original_limit();
      request.cgroup_procs = cgroups_.procs_descriptor(index);
      node.started_at = std::chrono::steady_clock::now();
      SpawnedProcess process = spawn_process(request);
      pair.second.reset();  // the node's end: only the node holds it now
      if (!process.cgroup_error.empty()) {
        say("node '" + spec.id + "' could not join its cgroup (" + process.cgroup_error +
            "): what it leaves behind is found by process group and as orphans only");
      }
      leftovers_.node_started(index, process.pid);
      node.pid = process.pid;
      node.report.pid = process.pid;
      node.state.move_to(ProcessState::running);
      ++running_count_;
      node.stdout_pipe = std::move(process.stdout_pipe);
      node.stderr_pipe = std::move(process.stderr_pipe);
      watch(node.stdout_pipe.get(), token(Source::node_stdout, index));
      watch(node.stderr_pipe.get(), token(Source::node_stderr, index));
      adopt_inherited_connection(node, std::move(pair.first));
    } catch (const std::system_error& e) {
      node.state.move_to(ProcessState::failed_to_start);
      node.report.end = NodeEnd::failed_to_start;
      node.report.start_error = e.code().message();
      say("node '" + spec.id + "' failed to start: " + e.what());
    }
  }

  // The runner's end of the connection `node` inherited: watched from the start, bound to the node.
  void adopt_inherited_connection(NodeState& node, ipc::FileDescriptor socket) {
    const std::uint64_t id = next_connection_id_++;
    Connection connection;
    connection.id = id;
    connection.socket = std::move(socket);
    connection.inherited_by = static_cast<std::size_t>(&node - nodes_.data());
    watch(connection.socket.get(), token(Source::connection, id));
    connections_.emplace(id, std::move(connection));
    node.connection = id;
  }

  // The node library waits for HelloOk as long as the runner lets it start (runner_backend.cpp):
  // DCP_START_TIMEOUT_MS, replacing any value the node's `env` or the inherited environment has.
  void tell_start_timeout(std::vector<std::string>& environment) const {
    static constexpr std::string_view kName = "DCP_START_TIMEOUT_MS=";
    std::erase_if(environment, [](const std::string& variable) { return variable.starts_with(kName); });
    environment.push_back(std::string(kName) + std::to_string(options_.start_timeout.count()));
  }

  // ----- epoll plumbing --------------------------------------------------------------------------

  void watch(int fd, std::uint64_t t, std::uint32_t events = EPOLLIN) {
    epoll_event event{};
    event.events = events;
    event.data.u64 = t;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0) throw_errno("epoll_ctl(ADD)");
  }

  void rewatch(int fd, std::uint64_t t, std::uint32_t events) {
    epoll_event event{};
    event.events = events;
    event.data.u64 = t;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &event) != 0) throw_errno("epoll_ctl(MOD)");
  }

  void unwatch(int fd) noexcept { ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr); }

  void dispatch(const epoll_event& event) {
    const std::uint64_t value = value_of(event.data.u64);
    switch (source_of(event.data.u64)) {
      case Source::listener: on_listener(); break;
      case Source::signals: on_signals(); break;
      case Source::stop_after:
        if (consume_timer(stop_after_timer_.get()) > 0) {
          request_stop("--stop-after " + format_duration(*options_.stop_after) + " elapsed");
        }
        break;
      case Source::grace:
        if (consume_timer(grace_timer_.get()) > 0) on_grace_expired();
        break;
      case Source::start_warning:
        if (consume_timer(start_warning_timer_.get()) > 0) on_start_warning();
        break;
      case Source::start_deadline:
        if (consume_timer(start_deadline_timer_.get()) > 0) on_start_deadline();
        break;
      case Source::hello_deadline:
        if (consume_timer(hello_deadline_timer_.get()) > 0) on_hello_deadline();
        break;
      case Source::accept_retry:
        if (consume_timer(accept_retry_timer_.get()) > 0 && listener_paused_) {
          listener_paused_ = false;
          watch(listener_.get(), token(Source::listener));
        }
        break;
      case Source::health_check:
        if (consume_timer(health_check_timer_.get()) > 0) on_health_check();
        break;
      case Source::leftovers:
        if (consume_timer(leftover_timer_.get()) > 0) leftovers_.check(std::chrono::steady_clock::now());
        break;
      case Source::timer: on_timer(static_cast<std::size_t>(value)); break;
      case Source::connection: on_connection(value, event.events); break;
      case Source::node_stdout: read_pipe(nodes_.at(static_cast<std::size_t>(value)), false, false); break;
      case Source::node_stderr: read_pipe(nodes_.at(static_cast<std::size_t>(value)), true, false); break;
    }
  }

  // Expirations since the last read (0 when none, e.g. a stale wake-up).
  static std::uint64_t consume_timer(int fd) {
    std::uint64_t expirations = 0;
    const ssize_t got = ::read(fd, &expirations, sizeof(expirations));
    return got == static_cast<ssize_t>(sizeof(expirations)) ? expirations : 0;
  }

  // ----- messages ----------------------------------------------------------------------------------

  // The runner's stdout or stderr: `stream` when given, else the descriptor, bounded and never
  // blocking (terminal_output.hpp).
  static std::unique_ptr<TerminalOutput> terminal(std::ostream* stream, int fd) {
    return stream != nullptr ? std::make_unique<TerminalOutput>(*stream) : std::make_unique<TerminalOutput>(fd);
  }

  void say(const std::string& text) { (void)err_->write_line("[dcp] ", text); }

  void flush() {
    out_->flush();
    err_->flush();
  }

  // At the end: waits until the terminal has taken the runner's output, except after an interrupt
  // (Ctrl-C, SIGTERM, SIGHUP) — then, or when one arrives while waiting, what is left is dropped
  // and counted, so a paused pager cannot keep the run from ending once the user asked it to.
  void drain_terminal() {
    for (;;) {
      flush();
      if (out_->pending() == 0 && err_->pending() == 0) return;
      if (interrupted_) break;
      std::array<pollfd, 3> waits{};
      nfds_t count = 0;
      waits[count++] = pollfd{signal_fd_.get(), POLLIN, 0};
      for (const TerminalOutput* terminal : {out_.get(), err_.get()}) {
        if (terminal->pending() > 0) waits[count++] = pollfd{terminal->fd(), POLLOUT, 0};
      }
      if (::poll(waits.data(), count, -1) < 0 && errno != EINTR) break;
      if ((waits[0].revents & POLLIN) != 0) {
        signalfd_siginfo info{};
        while (::read(signal_fd_.get(), &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
          if (info.ssi_signo != SIGCHLD) interrupted_ = true;
        }
      }
    }
    out_->discard_pending();
    err_->discard_pending();
  }

  void internal_error(const std::string& what) {
    say("internal error: " + what);
    if (!stopping_) request_stop("internal error");
  }

  // ----- node output (stdout / stderr pipes) ---------------------------------------------------------

  // Reads what the pipe holds and prints it line by line. `to_end`: keep going until the pipe is
  // empty (used when the node has exited and at the very end), else stop after a fair share.
  // One line of a node's stdout or stderr: to its log file (complete, whatever the terminal takes),
  // then to the terminal, prefixed `[id] ` or `[id!] `.
  void output_line(const NodeState& node, bool is_stderr, std::string_view line) {
    const auto index = static_cast<std::size_t>(&node - nodes_.data());
    if (logs_) logs_->write(index, is_stderr, line);
    const std::string prefix = "[" + node.spec->id + (is_stderr ? "!] " : "] ");
    (void)(is_stderr ? *err_ : *out_).write_line(prefix, line);
    deliver_log_line(index, is_stderr, line);
  }

  // A node's output line to every dora/logs input that wants it: the log file's record (node_logs.hpp)
  // without its newline, inline below kInlinePayloadLimit, else in a sealed memfd shared by all.
  // Lines count as offered only to readers still reading (as timer ticks).
  void deliver_log_line(std::size_t index, bool is_stderr, std::string_view line) {
    std::vector<Subscriber> readers;
    for (const LogReader& reader : log_readers_) {
      if (reader.wants(index, nodes_[index].spec->id) && nodes_[reader.subscriber.node].state.accepting_events()) {
        readers.push_back(reader.subscriber);
      }
    }
    if (readers.empty()) return;
    QueuedEvent message;
    try {
      message = log_message(index, is_stderr, line, readers);
    } catch (const std::system_error& e) {  // no memfd for a long line: this line is lost to the readers
      say("cannot pass a log line of node '" + nodes_[index].spec->id + "' to dora/logs inputs: " + e.what());
      drop_for_descriptors(readers);
      return;
    }
    if (message.payload.location == ipc::PayloadLocation::shared_memory && !message.shared_memory) {
      drop_for_descriptors(readers);  // over the payload budget
      return;
    }
    for (const Subscriber& reader : readers) {
      QueuedEvent event = message;
      event.input = reader.input;
      enqueue_input(nodes_[reader.node], std::move(event));
    }
  }

  // The shared-memory payload descriptor budget (payload_budget.hpp), once the descriptor limit is raised.
  void set_up_payload_budget() {
    std::size_t limit = 0;
    if (options_.max_payload_descriptors) {
      limit = *options_.max_payload_descriptors;
    } else {
      rlimit nofile{};
      if (::getrlimit(RLIMIT_NOFILE, &nofile) != 0) throw_errno("getrlimit(RLIMIT_NOFILE)");
      limit = derived_payload_limit(nofile.rlim_cur, nodes_.size(), timers_.size(), kMaxPendingConnections);
    }
    payload_budget_.emplace(limit);
    report_.payload_descriptor_limit = limit;
    if (limit < kFewPayloadDescriptors) {
      say("the runner can hold only " + std::to_string(limit) + " shared-memory payloads at once (" +
          (options_.max_payload_descriptors ? std::string("--max-payload-fds")
                                            : "its descriptor limit, RLIMIT_NOFILE, is low") +
          "): larger messages will be dropped when readers fall behind (counted per input)");
    }
  }

  // Whether one more shared-memory payload for `readers` fits the budget, after applying each
  // reader's overflow rule (its oldest queued shared-memory message goes) while it is full.
  bool room_for_payload(const std::vector<Subscriber>& readers) {
    if (!payload_budget_->full()) return true;
    ++report_.payload_budget_full;
    if (!warned_payload_budget_) {
      warned_payload_budget_ = true;
      say("the runner holds " + std::to_string(payload_budget_->held()) + " shared-memory payloads, its limit (" +
          (options_.max_payload_descriptors ? std::string("--max-payload-fds") : "derived from RLIMIT_NOFILE") +
          "): the oldest such messages queued for the readers are dropped to make room, or the new one "
          "(counted per input in the summary)");
    }
    for (const Subscriber& reader : readers) {
      if (!payload_budget_->full()) break;
      (void)nodes_[reader.node].inputs.evict_for_descriptors(reader.input);
    }
    return !payload_budget_->full();
  }

  // A message whose shared-memory payload the runner cannot hold: lost for each of `readers`.
  void drop_for_descriptors(const std::vector<Subscriber>& readers) {
    for (const Subscriber& reader : readers) {
      NodeState& node = nodes_[reader.node];
      if (node.state.accepting_events()) {
        node.inputs.drop_for_descriptors(reader.input);
      } else {
        node.inputs.discard(reader.input);
      }
    }
  }

  // The dora/logs message for one line; a long line's shared memory only when the budget has room
  // for it (else `shared_memory` stays empty).
  QueuedEvent log_message(std::size_t index, bool is_stderr, std::string_view line, const std::vector<Subscriber>& readers) {
    std::string record = NodeLogs::record(nodes_[index].spec->id, is_stderr, line, std::chrono::system_clock::now());
    record.pop_back();  // the newline
    QueuedEvent event;
    event.kind = ipc::EventKind::input;
    event.metadata.timestamp_ns = now_ns();
    const auto bytes = std::span(reinterpret_cast<const std::uint8_t*>(record.data()), record.size());
    if (record.size() < ipc::kInlinePayloadLimit) {
      event.payload = ipc::PayloadRef{ipc::PayloadLocation::inline_bytes, {bytes.begin(), bytes.end()}, 0};
    } else {
      event.payload = ipc::PayloadRef{ipc::PayloadLocation::shared_memory, {}, record.size()};
      if (!room_for_payload(readers)) return event;
      const ipc::SharedBuffer shared = ipc::SharedBuffer::copy_of(bytes);
      ipc::FileDescriptor fd(::fcntl(shared.fd(), F_DUPFD_CLOEXEC, 3));
      if (!fd) throw_errno("fcntl(F_DUPFD_CLOEXEC) for a dora/logs payload");
      event.shared_memory = payload_budget_->adopt(std::move(fd));
    }
    return event;
  }

  void read_pipe(NodeState& node, bool is_stderr, bool to_end) {
    ipc::FileDescriptor& pipe = is_stderr ? node.stderr_pipe : node.stdout_pipe;
    LineSplitter& lines = is_stderr ? node.stderr_lines : node.stdout_lines;
    const LineSplitter::Emit emit = [&](std::string_view line) { output_line(node, is_stderr, line); };
    std::array<char, 64 * 1024> buffer{};
    std::size_t total = 0;
    // Even "to the end" is bounded: a node's child may still hold the pipe and keep writing.
    const std::size_t limit = to_end ? kPipeBytesPerWakeup * 256 : kPipeBytesPerWakeup;
    while (pipe && total < limit) {
      const ssize_t got = ::read(pipe.get(), buffer.data(), buffer.size());
      if (got > 0) {
        lines.feed(std::string_view(buffer.data(), static_cast<std::size_t>(got)), emit);
        total += static_cast<std::size_t>(got);
        continue;
      }
      if (got < 0 && errno == EINTR) continue;
      if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      // End of file (every writer is gone) or an error: the stream is over.
      lines.finish(emit);
      unwatch(pipe.get());
      pipe.reset();
    }
  }

  // ----- connections -------------------------------------------------------------------------------

  void on_listener() {
    for (int i = 0; i < kFramesPerWakeup; ++i) {
      const int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        return pause_accepting(errno);
      }
      const std::uint64_t id = next_connection_id_++;
      Connection connection;
      connection.id = id;
      connection.socket.reset(fd);
      if (!pending_.admit(id, PendingConnections::Clock::now())) {
        ++report_.connections_refused;
        if (report_.connections_refused == 1) {
          say("refused a connection: " + std::to_string(kMaxPendingConnections) +
              " connections already wait for their Hello (later refusals are counted in the summary)");
        }
        send_error_and_close_now(connection, "too many connections waiting for their Hello");
        continue;
      }
      watch(fd, token(Source::connection, id));
      connections_.emplace(id, std::move(connection));
      arm_hello_deadline();
    }
  }

  // accept failed with EMFILE, ENFILE, ENOBUFS, ENOMEM, ...: stop watching the listening socket
  // for kAcceptRetryDelay (the connection waits in the backlog) instead of spinning on it.
  void pause_accepting(int error) {
    ++report_.accept_pauses;
    if (report_.accept_pauses == 1) {
      say(std::string("cannot accept a node connection: ") + std::strerror(error) + "; retrying every " +
          format_duration(kAcceptRetryDelay));
    }
    if (listener_paused_) return;
    unwatch(listener_.get());
    listener_paused_ = true;
    arm_once(accept_retry_timer_.get(), kAcceptRetryDelay);
  }

  // Arms the Hello deadline timer for the oldest connection still waiting for its Hello.
  void arm_hello_deadline() {
    const auto deadline = pending_.next_deadline();
    if (!deadline) {
      itimerspec off{};
      ::timerfd_settime(hello_deadline_timer_.get(), 0, &off, nullptr);
      return;
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - PendingConnections::Clock::now());
    arm_once(hello_deadline_timer_.get(), std::max(left, std::chrono::milliseconds(0)));
  }

  void on_hello_deadline() {
    for (const std::uint64_t id : pending_.expired(PendingConnections::Clock::now())) {
      ++report_.connections_timed_out;
      if (Connection* connection = find_connection(id); connection != nullptr && !connection->closing) {
        reject(*connection, "no Hello within " + format_duration(options_.hello_timeout));
      }
    }
    arm_hello_deadline();
  }

  // For a connection that was never watched nor stored: best-effort Error, then closed here.
  static void send_error_and_close_now(Connection& connection, const std::string& reason) {
    try {
      (void)ipc::send_frame(connection.socket.get(), ipc::encode(ipc::Error{reason}));
    } catch (const std::exception&) {
    }
    connection.socket.reset();
  }

  Connection* find_connection(std::uint64_t id) {
    const auto it = connections_.find(id);
    return it == connections_.end() ? nullptr : &it->second;
  }

  void on_connection(std::uint64_t id, std::uint32_t events) {
    Connection* connection = find_connection(id);
    if (connection == nullptr || connection->closing) return;  // closed earlier in this batch
    try {
      if ((events & EPOLLOUT) != 0) flush(*connection);
      if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) read_frames(*connection, false);
    } catch (const std::exception& e) {
      fail_connection(*connection, std::string("the runner could not handle its message: ") + e.what());
    }
  }

  // Reads and handles frames. `to_end`: until the socket is empty (the node has exited).
  void read_frames(Connection& connection, bool to_end) {
    for (int i = 0; (to_end || i < kFramesPerWakeup) && !connection.closing; ++i) {
      ipc::IoStatus status = ipc::IoStatus::closed;
      try {
        status = ipc::receive_frame(connection.socket.get(), frame_);
      } catch (const ipc::ProtocolError& e) {
        fail_connection(connection, e.what());
        return;
      } catch (const std::system_error& e) {
        fail_connection(connection, e.what());
        return;
      }
      if (status == ipc::IoStatus::would_block) return;
      if (status == ipc::IoStatus::closed) {
        if (connection.inherited_by && !connection.node) {
          // Its end is closed: by the node (or a wrapper that closes what it inherits), or at its exit.
          const NodeState& node = nodes_[*connection.inherited_by];
          say("node '" + node.spec->id + "' " +
              (node.state.process_alive() ? "closed its connection (descriptor " + std::to_string(kNodeConnectionFd) +
                                                ") without saying Hello: it cannot connect any more"
                                          : "ended without saying Hello (a node connects in dcp::init_node())"));
        }
        close_connection(connection);
        return;
      }
      handle_frame(connection, frame_);
    }
  }

  void handle_frame(Connection& connection, ipc::ReceivedFrame& frame) {
    ipc::Message message;
    try {
      message = ipc::decode(frame.bytes);
    } catch (const ipc::ProtocolError& e) {
      fail_connection(connection, std::string("malformed frame: ") + e.what());
      return;
    }
    if (!connection.node) {
      authenticate(connection, message, frame.fd || frame.descriptor_lost);
    } else {
      handle_message(connection, nodes_[*connection.node], message, std::move(frame.fd), frame.descriptor_lost);
    }
  }

  void authenticate(Connection& connection, const ipc::Message& message, bool came_with_fd) {
    pending_.forget(connection.id);  // it said something: accepted or rejected below
    std::vector<NodeCredentials> credentials;
    credentials.reserve(nodes_.size());
    for (const NodeState& node : nodes_) credentials.push_back({node.spec->id, node.secret, &node.state});
    const HelloVerdict verdict = authenticate_hello(message, came_with_fd, credentials, connection.inherited_by);
    if (!verdict.node) return reject(connection, verdict.rejection);
    NodeState* node = &nodes_[*verdict.node];
    const std::size_t index = static_cast<std::size_t>(node - nodes_.data());
    connection.node = index;
    node->state.move_to(LinkState::connected);
    node->connection = connection.id;
    if (released_) {
      send_hello_ok(*node);
    } else {
      check_barrier();
    }
  }

  void reject(Connection& connection, const std::string& reason) {
    if (connection.inherited_by) {
      // The node's own connection: whoever holds it is the node (or what it started); it cannot
      // connect again, and counts as failed.
      NodeState& node = nodes_[*connection.inherited_by];
      say("node '" + node.spec->id + "': its Hello was refused: " + printable(reason, 400) + " (disconnected)");
      if (node.report.protocol_error.empty()) node.report.protocol_error = printable(reason, 400);
    } else {
      say("rejected a connection: " + printable(reason, 400));
    }
    send_error_and_close(connection, reason);
  }

  // A node broke the protocol: tell it why, disconnect it, remember it as failed.
  void fail_connection(Connection& connection, const std::string& reason) {
    if (connection.closing) return;
    if (!connection.node) return reject(connection, reason);
    NodeState& node = nodes_[*connection.node];
    say("node '" + node.spec->id + "': protocol error: " + printable(reason, 400) + " (disconnected)");
    if (node.report.protocol_error.empty()) node.report.protocol_error = printable(reason, 400);
    send_error_and_close(connection, reason);
  }

  void send_error_and_close(Connection& connection, const std::string& reason) {
    try {
      const std::vector<std::uint8_t> frame = ipc::encode(ipc::Error{printable(reason, ipc::kMaxTextLength / 4)});
      if (connection.outbox.empty()) ipc::send_frame(connection.socket.get(), frame);  // best effort
    } catch (const std::exception&) {
    }
    close_connection(connection);
  }

  // `descriptor_lost`: a descriptor came with the frame, but the runner had no room for it.
  void handle_message(Connection& connection, NodeState& node, ipc::Message& message, ipc::FileDescriptor fd,
                      bool descriptor_lost) {
    if (auto* send = std::get_if<ipc::SendOutput>(&message)) {
      return on_send_output(connection, node, *send, std::move(fd), descriptor_lost);
    }
    if (fd || descriptor_lost) {
      return fail_connection(connection, std::string("a file descriptor came with a ") + message_name(message) + " message");
    }
    if (std::holds_alternative<ipc::NextEvent>(message)) {
      if (node.next_event_outstanding) {
        return fail_connection(connection, "NextEvent sent while the previous one is still unanswered");
      }
      node.next_event_outstanding = true;
      deliver(node);
      return;
    }
    if (auto* close = std::get_if<ipc::CloseOutputs>(&message)) {
      std::vector<std::size_t> outputs;
      for (const std::string& id : close->outputs) {
        const auto index = output_index(node, id);
        if (!index) return fail_connection(connection, undeclared_output(node, id));
        outputs.push_back(*index);
      }
      for (const std::size_t o : outputs) close_output(node, o);
      return;
    }
    if (auto* count = std::get_if<ipc::ErrorCount>(&message)) {
      if (count->reported_errors < node.report.reported_errors) {
        return fail_connection(connection, "ErrorCount went down from " + std::to_string(node.report.reported_errors) +
                                               " to " + std::to_string(count->reported_errors));
      }
      node.report.reported_errors = count->reported_errors;
      return;
    }
    if (std::holds_alternative<ipc::Hello>(message)) return fail_connection(connection, "a second Hello on a connected node");
    fail_connection(connection, std::string("unexpected ") + message_name(message) +
                                    " message (it goes from the runner to nodes, not back)");
  }

  static std::optional<std::size_t> output_index(const NodeState& node, std::string_view id) {
    for (std::size_t o = 0; o < node.spec->outputs.size(); ++o) {
      if (node.spec->outputs[o].id == id) return o;
    }
    return std::nullopt;
  }

  static std::string undeclared_output(const NodeState& node, std::string_view id) {
    std::vector<std::string> declared;
    for (const dataflow::Output& output : node.spec->outputs) declared.push_back(output.id);
    return "output " + in_quotes(id) + " is not declared by node '" + node.spec->id + "' (" +
           (declared.empty() ? std::string("it declares no outputs") : "declared: " + join_ids(declared)) + ")";
  }

  void on_send_output(Connection& connection, NodeState& node, ipc::SendOutput& send, ipc::FileDescriptor fd,
                      bool descriptor_lost) {
    const auto output = output_index(node, send.output_id);
    if (!output) return fail_connection(connection, undeclared_output(node, send.output_id));
    const bool shared_memory = send.payload.location == ipc::PayloadLocation::shared_memory;
    if (shared_memory && !fd && !descriptor_lost) {
      return fail_connection(connection, "a shared-memory payload came without its file descriptor");
    }
    if (!shared_memory && (fd || descriptor_lost)) {
      return fail_connection(connection, "a file descriptor came with an inline payload");
    }
    if (fd) {
      if (const std::string problem = check_shared_memory(fd.get(), send.payload.shared_size); !problem.empty()) {
        return fail_connection(connection, problem);
      }
    }
    if (node.output_closed[*output]) {
      if (!node.warned_send_after_close) {
        say("node '" + node.spec->id + "' sent on output '" + node.spec->outputs[*output].id +
            "' after closing it; such messages are dropped");
        node.warned_send_after_close = true;
      }
      return;
    }
    ++node.report.outputs_sent;
    const std::vector<Subscriber>& readers = node.routes[*output];
    std::shared_ptr<const ipc::FileDescriptor> shared;
    if (descriptor_lost) {
      // The runner's own limit, not the sender's fault: the message is lost, the sender stays connected.
      if (report_.payload_descriptors_lost++ == 0) {
        say("the runner had no file descriptor free to receive a shared-memory message of node '" + node.spec->id +
            "' on output '" + send.output_id + "' (RLIMIT_NOFILE): such messages are dropped (counted per input)");
      }
      return drop_for_descriptors(readers);
    }
    if (shared_memory) {
      if (!room_for_payload(readers)) return drop_for_descriptors(readers);
      shared = payload_budget_->adopt(std::move(fd));
    }
    for (const Subscriber& subscriber : readers) {
      QueuedEvent event;
      event.kind = ipc::EventKind::input;
      event.input = subscriber.input;
      event.metadata = send.metadata;
      event.payload = send.payload;
      event.shared_memory = shared;
      enqueue_input(nodes_[subscriber.node], std::move(event));
    }
  }

  // ----- event delivery --------------------------------------------------------------------------

  void enqueue_input(NodeState& node, QueuedEvent event) {
    const std::size_t input = event.input;
    if (!node.state.accepting_events()) return node.inputs.discard(input);
    const std::uint64_t correlated_before = node.inputs.queue().correlated_dropped(input);
    const bool dropped = node.inputs.enqueue(std::move(event));  // a drop is counted by the node's inputs
    const dataflow::Input& spec = node.spec->inputs[input];
    if (dropped && spec.queue_policy == dataflow::QueuePolicy::backpressure && node.inputs.accounts()[input].dropped_queue_full == 1) {
      say("input " + node.spec->id + "/" + spec.id + " (queue_policy backpressure) reached its limit of " +
          std::to_string(spec.capacity()) + " queued messages (10 x queue_size, at least 100): the oldest are "
          "dropped from now on (counted in the summary)");
    }
    if (node.inputs.queue().correlated_dropped(input) != correlated_before && correlated_before == 0) {
      say("input " + node.spec->id + "/" + node.spec->inputs[input].id + " is full of service or action messages "
          "(request_id, goal_id or goal_status): the oldest was dropped, so a reply someone waits for is lost; "
          "raise its queue_size (further ones are counted in the summary)");
    }
    deliver(node);
  }

  // Answers the node's outstanding NextEvent, if there is one and something to answer with.
  void deliver(NodeState& node) {
    if (!node.next_event_outstanding || node.state.link() != LinkState::open) return;
    Connection* connection = find_connection(node.connection);
    if (connection == nullptr || connection->closing || connection->peer_gone) return;

    std::optional<Answer> answer =
        next_answer(*node.spec, node.state, node.inputs, [this](const std::string& warning) { say(warning); });
    if (!answer) return;  // nothing yet: the NextEvent stays outstanding
    node.next_event_outstanding = false;
    const std::optional<std::size_t> input = answer->is_input ? std::optional(answer->input) : std::nullopt;
    const SendOutcome outcome = send(*connection, std::move(answer->frame), std::move(answer->fd), input);
    if (!input) return;
    if (outcome == SendOutcome::sent || outcome == SendOutcome::queued) {
      node.inputs.count_delivered(*input);  // undone should the outbox be dropped (account_unsent)
    } else {
      node.inputs.discard_taken(*input);
    }
  }

  // Input messages dropped from a connection's outbox unsent: discarded, not delivered.
  void account_unsent(Connection& connection) {
    if (connection.unsent_inputs.empty()) return;
    const std::optional<std::size_t> node = connection.node;
    if (node) {
      for (const std::size_t input : connection.unsent_inputs) nodes_[*node].inputs.count_unsent(input);
    }
    connection.unsent_inputs.clear();
  }

  // Sends a frame, or queues it until the socket can take it. When the node has hung up, frames
  // are dropped but the connection stays open until everything it sent before has been read (a
  // node's last outputs often follow a NextEvent whose answer it no longer waits for).
  SendOutcome send(Connection& connection, std::vector<std::uint8_t> frame, std::shared_ptr<const ipc::FileDescriptor> fd,
                   std::optional<std::size_t> input = {}) {
    SendOutcome outcome = SendOutcome::dropped;
    try {
      outcome = send_or_queue(connection, std::move(frame), std::move(fd), input);
    } catch (const std::system_error& e) {
      say("connection of " + connection_name(connection) + ": " + e.what());
      close_connection(connection);
      return SendOutcome::dropped;
    }
    if (outcome == SendOutcome::queued && !connection.want_write) {
      rewatch(connection.socket.get(), token(Source::connection, connection.id), EPOLLIN | EPOLLOUT);
      connection.want_write = true;
    }
    return outcome;
  }

  void flush(Connection& connection) {
    bool drained = false;
    try {
      drained = flush_outbox(connection);
    } catch (const std::system_error& e) {
      say("connection of " + connection_name(connection) + ": " + e.what());
      close_connection(connection);
      return;
    }
    account_unsent(connection);
    if (drained && connection.want_write && !connection.closing) {
      rewatch(connection.socket.get(), token(Source::connection, connection.id), EPOLLIN);
      connection.want_write = false;
    }
  }

  std::string connection_name(const Connection& connection) const {
    if (connection.node) return "node '" + nodes_[*connection.node].spec->id + "'";
    if (connection.inherited_by) return "node '" + nodes_[*connection.inherited_by].spec->id + "' (before its Hello)";
    return "an unauthenticated client";
  }

  void send_hello_ok(NodeState& node) {
    Connection* connection = find_connection(node.connection);
    if (connection == nullptr || connection->closing) return;
    ipc::HelloOk hello_ok;
    for (const dataflow::Input& input : node.spec->inputs) hello_ok.inputs.push_back(input.id);
    for (const dataflow::Output& output : node.spec->outputs) hello_ok.outputs.push_back(output.id);
    node.state.move_to(LinkState::open);
    send(*connection, ipc::encode(hello_ok), nullptr);
    deliver(node);
  }

  // ----- closing ---------------------------------------------------------------------------------

  void close_connection(Connection& connection) {
    if (connection.closing) return;
    connection.closing = true;
    pending_closes_.push_back(connection.id);
  }

  void process_pending_closes() {
    while (!pending_closes_.empty()) {
      const std::uint64_t id = pending_closes_.front();
      pending_closes_.pop_front();
      const auto it = connections_.find(id);
      if (it == connections_.end()) continue;
      const std::optional<std::size_t> node = it->second.node ? it->second.node : it->second.inherited_by;
      pending_.forget(id);
      unwatch(it->second.socket.get());
      drop_outbox(it->second);
      account_unsent(it->second);
      connections_.erase(it);
      if (node) node_gone(nodes_[*node]);
    }
  }

  // The node will never receive anything again: it disconnected, exited, or never started. Its
  // outputs close (downstream InputClosed).
  void node_gone(NodeState& node) {
    if (node.state.link() == LinkState::gone &&
        std::all_of(node.output_closed.begin(), node.output_closed.end(), [](bool c) { return c; })) {
      return;
    }
    if (node.state.link() != LinkState::gone) node.state.move_to(LinkState::gone);
    if (node.state.stream() != StreamState::ended) node.state.move_to(StreamState::ended);
    node.connection = 0;
    node.next_event_outstanding = false;
    node.inputs.clear();
    for (std::size_t o = 0; o < node.output_closed.size(); ++o) close_output(node, o);
    check_barrier();
  }

  void close_output(NodeState& node, std::size_t output) {
    if (node.output_closed[output]) return;
    node.output_closed[output] = true;
    for (const Subscriber& subscriber : node.routes[output]) close_input(nodes_[subscriber.node], subscriber.input);
  }

  void close_input(NodeState& node, std::size_t input) {
    const bool queue_events = node.state.accepting_events();
    if (node.inputs.close(input, queue_events) && queue_events) deliver(node);
  }

  // ----- start barrier -------------------------------------------------------------------------

  // The dataflow starts (HelloOk to everyone, timers on) once no started node is still to connect.
  void check_barrier() {
    if (released_) return;
    for (const NodeState& node : nodes_) {
      if (node.state.process_alive() && node.state.link() == LinkState::waiting) return;
    }
    release_barrier();
  }

  void release_barrier() {
    if (released_) return;
    released_ = true;
    for (NodeState& node : nodes_) {
      if (node.state.link() == LinkState::connected) send_hello_ok(node);
    }
    for (TimerGroup& timer : timers_) arm_periodic(timer.fd.get(), timer.period, /*first_tick_now=*/true);
    if (std::any_of(nodes_.begin(), nodes_.end(), [](const NodeState& n) { return n.inputs.has_input_timeouts(); })) {
      arm_periodic(health_check_timer_.get(), health_check_period(dataflow_));
    }
  }

  void on_start_warning() {
    if (released_) return;
    std::vector<std::string> waiting;
    for (const NodeState& node : nodes_) {
      if (node.state.process_alive() && node.state.link() == LinkState::waiting) waiting.push_back("'" + node.spec->id + "'");
    }
    say("still waiting for " + join_ids(waiting) +
        " to connect; the dataflow starts once every node has connected (a node connects in dcp::init_node()); "
        "a node not connected " + format_duration(options_.start_timeout) + " after its start is killed (--start-timeout)");
  }

  // The start deadline: a node alive but still waiting to connect start_timeout after its start.
  [[nodiscard]] bool waiting_to_connect(const NodeState& node) const {
    return node.state.process() == ProcessState::running && node.state.link() == LinkState::waiting;
  }

  // Arms the start-deadline timer for the earliest deadline of a node still waiting to connect.
  void arm_start_deadline() {
    std::optional<std::chrono::steady_clock::time_point> earliest;
    for (const NodeState& node : nodes_) {
      if (!waiting_to_connect(node)) continue;
      const auto deadline = node.started_at + options_.start_timeout;
      if (!earliest || deadline < *earliest) earliest = deadline;
    }
    if (!earliest) return;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(*earliest - std::chrono::steady_clock::now());
    arm_once(start_deadline_timer_.get(), std::max(left, std::chrono::milliseconds(0)));
  }

  // Nodes past their deadline are named and killed; the others get Stop (the run fails: a killed
  // node counts as failed). Once the barrier is released (everyone connected, or Stop already
  // sent) the grace period deals with stragglers instead.
  void on_start_deadline() {
    if (released_ || stopping_) return;
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::string> late;
    for (NodeState& node : nodes_) {
      if (!waiting_to_connect(node) || now < node.started_at + options_.start_timeout) continue;
      late.push_back("'" + node.spec->id + "'");
      say("node '" + node.spec->id + "' did not connect within " + format_duration(options_.start_timeout) +
          " of its start (--start-timeout): killing it");
      kill_node(node);
      node.state.move_to(ProcessState::killed_at_start_deadline);
    }
    if (late.empty()) return arm_start_deadline();
    request_stop((late.size() == 1 ? "node " : "nodes ") + join_ids(late) + " did not connect within " +
                 format_duration(options_.start_timeout) + " of " + (late.size() == 1 ? "its" : "their") + " start");
  }

  // ----- input timeouts --------------------------------------------------------------------------

  // Dora's health check: inputs silent for longer than their input_timeout are closed for their
  // node (InputClosed) until data comes again (router.hpp).
  void on_health_check() {
    const auto now = std::chrono::steady_clock::now();
    for (NodeState& node : nodes_) {
      if (!node.inputs.has_input_timeouts()) continue;
      const bool queue_events = node.state.accepting_events();
      const std::vector<std::size_t> timed_out = node.inputs.close_timed_out(now, queue_events);
      for (const std::size_t input : timed_out) {
        const dataflow::Input& spec = node.spec->inputs[input];
        say("input " + node.spec->id + "/" + spec.id + " had no message for its input_timeout (" +
            fmt::format("{:g}", *spec.input_timeout) + " s): it is closed for the node until data comes again");
      }
      if (!timed_out.empty() && queue_events) deliver(node);
    }
  }

  // ----- timers ----------------------------------------------------------------------------------

  void on_timer(std::size_t index) {
    TimerGroup& timer = timers_.at(index);
    // Ticks missed while the runner was busy are not replayed (one event per wake-up, as in Dora),
    // but counted.
    const std::uint64_t expirations = consume_timer(timer.fd.get());
    if (expirations == 0) return;
    ++timer.ticks;
    timer.missed += expirations - 1;
    const std::int64_t now = now_ns();
    for (const Subscriber& subscriber : timer.subscribers) {
      if (!nodes_[subscriber.node].state.accepting_events()) continue;  // ticks count only while a node reads
      QueuedEvent event;
      event.kind = ipc::EventKind::input;
      event.input = subscriber.input;
      event.metadata.timestamp_ns = now;
      enqueue_input(nodes_[subscriber.node], std::move(event));
    }
  }

  // ----- stopping ----------------------------------------------------------------------------------

  void request_stop(const std::string& reason) {
    if (stopping_) return;
    stopping_ = true;
    report_.stop_reason = reason;
    say(reason + ": sending Stop to every node; nodes still running in " + format_duration(options_.grace) +
        " are killed (Ctrl-C to kill them now)");
    release_barrier();  // nodes still waiting for HelloOk get it, then Stop
    for (NodeState& node : nodes_) {
      if (!node.state.process_alive() || node.state.link() == LinkState::gone ||
          node.state.stream() != StreamState::open) {
        continue;
      }
      node.state.move_to(StreamState::stop_pending);  // the queued inputs follow Stop (node.hpp)
      deliver(node);
    }
    arm_once(grace_timer_.get(), options_.grace);
  }

  void on_grace_expired() {
    for (NodeState& node : nodes_) {
      if (!node.state.process_alive() || node.state.kill_sent()) continue;
      say("node '" + node.spec->id + "' is still running after the " + format_duration(options_.grace) +
          " grace period: killing it");
      kill_node(node);
      node.state.move_to(ProcessState::killed_after_grace);
    }
  }

  void kill_all_now(const std::string& reason) {
    say(reason + ": killing every node now");
    for (NodeState& node : nodes_) {
      if (!node.state.process_alive() || node.state.kill_sent()) continue;
      kill_node(node);
      node.state.move_to(ProcessState::killed_on_interrupt);
    }
    leftovers_.hurry(std::chrono::steady_clock::now());  // and what they left, without a grace
  }

  // The leftover timer fires when the clean-up of what nodes left running is next due.
  void arm_leftover_timer() {
    const auto due = leftovers_.next_deadline();
    if (!due) return;  // a stale expiry is harmless: check() only does what is due
    arm_once(leftover_timer_.get(), std::chrono::ceil<std::chrono::milliseconds>(due.value() - std::chrono::steady_clock::now()));
  }

  static void kill_node(const NodeState& node) { kill_process_group(node.pid); }

  // ----- signals and child processes ---------------------------------------------------------------

  void on_signals() {
    signalfd_siginfo info{};
    for (;;) {
      const ssize_t got = ::read(signal_fd_.get(), &info, sizeof(info));
      if (got != static_cast<ssize_t>(sizeof(info))) break;
      const int signal = static_cast<int>(info.ssi_signo);
      if (signal == SIGCHLD) continue;
      interrupted_ = true;
      if (!stopping_) {
        request_stop("interrupted by " + signal_name(signal));
      } else {
        kill_all_now(signal_name(signal) + " while stopping");
      }
    }
    reap_children([this](pid_t pid, int status) { on_exit(pid, status); });
    leftovers_.check(std::chrono::steady_clock::now());  // leftovers that ended, orphans that arrived
  }

  void on_exit(pid_t pid, int status) {
    NodeState* found = nullptr;
    for (NodeState& node : nodes_) {
      if (node.state.process_alive() && node.pid == pid) found = &node;
    }
    if (found == nullptr) return;  // not a node: an orphan re-parented to the runner (leftovers.hpp)
    NodeState& node = *found;
    const ProcessState before = node.state.process();
    node.state.move_to(ProcessState::ended);
    --running_count_;
    // What it left running (its process group, its cgroup, its orphans) gets SIGTERM now.
    leftovers_.node_ended(static_cast<std::size_t>(found - nodes_.data()), std::chrono::steady_clock::now());

    // What it sent and printed before it exited comes first (a Hello too, on a connection that
    // has not said it yet).
    Connection* connection = find_connection(node.connection);
    if (connection != nullptr && !connection->closing) {
      read_frames(*connection, true);
      close_connection(*connection);
    }
    read_pipe(node, false, true);
    read_pipe(node, true, true);

    NodeReport& report = node.report;
    const ProcessEnd end = ended_as(status, before);
    report.end = end.end;
    report.exit_code = end.exit_code;
    report.signal = end.signal;
    if (end.end == NodeEnd::exited && end.exit_code != 0) {
      say("node '" + node.spec->id + "' failed: exit code " + std::to_string(end.exit_code));
    } else if (end.end == NodeEnd::signaled) {
      say("node '" + node.spec->id + "' failed: killed by signal " + signal_name(end.signal));
    }
    if (connection == nullptr) node_gone(node);  // else: when its connection closes
  }

  // ----- the end -------------------------------------------------------------------------------------

  void finish() {
    process_pending_closes();
    // Orphans that ended last are still zombies: reap them (no node is left to match).
    reap_children([this](pid_t pid, int status) { on_exit(pid, status); });
    // Output still buffered in the pipes (a node's own children may still hold them open: take
    // what is there and stop listening).
    for (NodeState& node : nodes_) {
      for (const bool is_stderr : {false, true}) {
        read_pipe(node, is_stderr, true);
        ipc::FileDescriptor& pipe = is_stderr ? node.stderr_pipe : node.stdout_pipe;
        LineSplitter& lines = is_stderr ? node.stderr_lines : node.stdout_lines;
        if (pipe) {
          lines.finish([&](std::string_view line) { output_line(node, is_stderr, line); });
          unwatch(pipe.get());
          pipe.reset();
        }
      }
    }
    for (auto& [id, connection] : connections_) {
      drop_outbox(connection);
      account_unsent(connection);
    }
    connections_.clear();
    listener_.reset();
    runtime_->remove();
    drain_terminal();
    report_.terminal_lines_dropped = out_->dropped_lines() + err_->dropped_lines();
    if (logs_) {
      report_.log_folder = logs_->folder().string();
      report_.log_writes_failed = logs_->failed_writes();
      report_.log_error = logs_->first_error();
    }
    for (const TimerGroup& timer : timers_) {
      if (timer.missed > 0) report_.timers_missed.push_back(RunReport::TimerTicks{timer.spec, timer.ticks, timer.missed});
    }
    if (payload_budget_) report_.payload_descriptors_peak = payload_budget_->peak();

    report_.dataflow = dataflow_.name;
    report_.grace = options_.grace;
    report_.start_timeout = options_.start_timeout;
    report_.unowned_leftovers = leftovers_.unowned();
    report_.leftover_tracking =
        cgroups_.available() ? "a cgroup v2 per node (" + cgroups_.run_directory().string() + ")"
                             : "process groups and the child subreaper (no cgroup: " + cgroups_.reason() + ")";
    for (NodeState& node : nodes_) {
      node.report.leftovers = leftovers_.of(static_cast<std::size_t>(&node - nodes_.data()));
      node.inputs.clear();  // anything still queued was never delivered
      node.report.inputs_dropped = node.inputs.dropped_total();
      const std::vector<std::uint64_t> timeouts = node.inputs.timeouts();
      const std::vector<std::uint64_t> recoveries = node.inputs.recoveries();
      for (std::size_t i = 0; i < timeouts.size(); ++i) {
        if (timeouts[i] == 0) continue;
        const dataflow::Input& input = node.spec->inputs[i];
        node.report.timeouts.push_back(NodeReport::InputTimeouts{input.id, *input.input_timeout, timeouts[i], recoveries[i]});
      }
      for (std::size_t i = 0; i < node.spec->inputs.size(); ++i) {
        const dataflow::Input& input = node.spec->inputs[i];
        const InputAccount& account = node.inputs.accounts()[i];
        node.report.inputs_delivered += account.delivered;
        node.report.inputs.push_back(NodeReport::InputReport{input.id, input.capacity(),
                                                             input.queue_policy == dataflow::QueuePolicy::backpressure,
                                                             account, node.inputs.queue().correlated_dropped(i)});
      }
      report_.nodes.push_back(node.report);
    }
  }

  // ----- state -------------------------------------------------------------------------------------

  const dataflow::Dataflow& dataflow_;
  const RunOptions& options_;
  std::unique_ptr<TerminalOutput> out_;  // never null
  std::unique_ptr<TerminalOutput> err_;  // never null

  SignalSetup signals_;
  ChildSubreaper subreaper_;  // before any node starts: their orphans come to us, not to init
  std::optional<DescriptorLimit> descriptor_limit_;
  std::optional<PayloadBudget> payload_budget_;  // set once the limit is raised
  bool warned_payload_budget_ = false;
  std::optional<RuntimeDirectory> runtime_;
  ipc::FileDescriptor epoll_;
  ipc::FileDescriptor signal_fd_;
  ipc::FileDescriptor listener_;
  ipc::FileDescriptor stop_after_timer_;
  ipc::FileDescriptor grace_timer_;
  ipc::FileDescriptor start_warning_timer_;
  ipc::FileDescriptor start_deadline_timer_;
  ipc::FileDescriptor hello_deadline_timer_;
  ipc::FileDescriptor accept_retry_timer_;
  ipc::FileDescriptor health_check_timer_;
  std::optional<NodeLogs> logs_;
  ipc::FileDescriptor leftover_timer_;
  PendingConnections pending_;
  bool listener_paused_ = false;
  NodeCgroups cgroups_;   // before leftovers_, which reads them
  Leftovers leftovers_;
  bool run_ending_ = false;

  std::vector<NodeState> nodes_;
  std::vector<TimerGroup> timers_;
  std::vector<LogReader> log_readers_;
  std::map<std::uint64_t, Connection> connections_;
  std::deque<std::uint64_t> pending_closes_;
  std::uint64_t next_connection_id_ = 1;
  ipc::ReceivedFrame frame_;

  std::size_t running_count_ = 0;
  bool released_ = false;
  bool stopping_ = false;
  bool interrupted_ = false;  // a SIGINT, SIGTERM or SIGHUP arrived
  RunReport report_;
};

}  // namespace

RunReport run_dataflow(const dataflow::Dataflow& dataflow, const RunOptions& options) {
  // What the program wrote through std::cout / std::cerr comes before what the runner writes to
  // the descriptors directly.
  if (options.out == nullptr) std::cout.flush();
  if (options.err == nullptr) std::cerr.flush();
  Runner runner(dataflow, options);
  return runner.run();
}

}  // namespace dcp::runner
