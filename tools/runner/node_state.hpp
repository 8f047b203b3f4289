// tools/runner/node_state.hpp — the state of one node in the runner, as three explicit state
// machines instead of a handful of booleans.
//
// What it is for: the runner's pieces (supervisor.hpp: the process; connections.hpp: the
// connection; router.hpp: the event stream) each move one machine, and every move is checked: an
// illegal transition throws std::logic_error naming the node, the machine and both states (a bug in
// the runner, caught by the event loop as an internal error, never a crash).
//
//   Process (supervisor.hpp): whether the node's process runs.
//     not_started --spawned--> running --reaped--> ended
//     not_started --spawn failed--> failed_to_start
//     running --SIGKILL after the grace period--> killed_after_grace --reaped--> ended
//     running --SIGKILL on a second interrupt--> killed_on_interrupt --reaped--> ended
//     running --SIGKILL, not connected by the start deadline--> killed_at_start_deadline --reaped--> ended
//
//   Link (connections.hpp): the node's connection.
//     waiting --Hello accepted--> connected --HelloOk sent (start barrier released)--> open
//     waiting | connected | open --disconnected, exited, never started--> gone
//
//   Stream (router.hpp): what the node's NextEvent requests are answered with.
//     open: input events from the node's queue;
//     open --Stop requested--> stop_pending (Stop goes out with the next answer, ahead of the queue);
//     stop_pending --Stop delivered--> draining (the inputs queued before Stop go out; nothing new
//     is queued; queued InputClosed / AllInputsClosed are dropped, as Dora does);
//     draining --the last queued input delivered--> ended;
//     open --AllInputsClosed delivered--> ended; open | stop_pending | draining --the node is gone--> ended
//     (every later NextEvent gets end_of_stream).
//
// Besides the machines a node has one request slot, `next_event_outstanding` (the protocol allows
// one unanswered NextEvent), which is not a lifecycle state.
//
// Thread safety: one owner (the runner's event loop thread). Blocking: none.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace dcp::runner {

enum class ProcessState {
  not_started,
  running,
  killed_after_grace,
  killed_on_interrupt,
  killed_at_start_deadline,
  ended,
  failed_to_start,
};
enum class LinkState { waiting, connected, open, gone };
enum class StreamState { open, stop_pending, draining, ended };

[[nodiscard]] const char* to_string(ProcessState state) noexcept;
[[nodiscard]] const char* to_string(LinkState state) noexcept;
[[nodiscard]] const char* to_string(StreamState state) noexcept;

/// Whether the machine may move from `from` to `to` (the diagrams above; staying put is not a move).
[[nodiscard]] bool allowed(ProcessState from, ProcessState to) noexcept;
[[nodiscard]] bool allowed(LinkState from, LinkState to) noexcept;
[[nodiscard]] bool allowed(StreamState from, StreamState to) noexcept;

/// The three machines of one node. Every setter checks its transition.
class NodeLifecycle {
 public:
  explicit NodeLifecycle(std::string node_id) : node_id_(std::move(node_id)) {}

  [[nodiscard]] ProcessState process() const noexcept { return process_; }
  [[nodiscard]] LinkState link() const noexcept { return link_; }
  [[nodiscard]] StreamState stream() const noexcept { return stream_; }

  /// Throws std::logic_error when the transition is not allowed.
  void move_to(ProcessState next);
  void move_to(LinkState next);
  void move_to(StreamState next);

  /// Started and not reaped yet (running or being killed).
  [[nodiscard]] bool process_alive() const noexcept {
    return process_ == ProcessState::running || kill_sent();
  }
  /// A SIGKILL was sent (after the grace period, on a second interrupt, or at the start deadline).
  [[nodiscard]] bool kill_sent() const noexcept {
    return process_ == ProcessState::killed_after_grace || process_ == ProcessState::killed_on_interrupt ||
           process_ == ProcessState::killed_at_start_deadline;
  }
  /// Its authenticated connection is open (HelloOk sent or held back).
  [[nodiscard]] bool has_connection() const noexcept {
    return link_ == LinkState::connected || link_ == LinkState::open;
  }
  /// New input events may still be queued for it.
  [[nodiscard]] bool accepting_events() const noexcept {
    return process_alive() && link_ != LinkState::gone && stream_ == StreamState::open;
  }

 private:
  std::string node_id_;
  ProcessState process_ = ProcessState::not_started;
  LinkState link_ = LinkState::waiting;
  StreamState stream_ = StreamState::open;
};

}  // namespace dcp::runner
