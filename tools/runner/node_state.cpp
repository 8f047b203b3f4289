// The node state machines (see node_state.hpp): names, transition tables, checked moves.
#include "runner/node_state.hpp"

#include <stdexcept>

namespace dcp::runner {

const char* to_string(ProcessState state) noexcept {
  switch (state) {
    case ProcessState::not_started: return "not_started";
    case ProcessState::running: return "running";
    case ProcessState::killed_after_grace: return "killed_after_grace";
    case ProcessState::killed_on_interrupt: return "killed_on_interrupt";
    case ProcessState::killed_at_start_deadline: return "killed_at_start_deadline";
    case ProcessState::ended: return "ended";
    case ProcessState::failed_to_start: return "failed_to_start";
  }
  return "unknown";
}

const char* to_string(LinkState state) noexcept {
  switch (state) {
    case LinkState::waiting: return "waiting";
    case LinkState::connected: return "connected";
    case LinkState::open: return "open";
    case LinkState::gone: return "gone";
  }
  return "unknown";
}

const char* to_string(StreamState state) noexcept {
  switch (state) {
    case StreamState::open: return "open";
    case StreamState::stop_pending: return "stop_pending";
    case StreamState::draining: return "draining";
    case StreamState::ended: return "ended";
  }
  return "unknown";
}

bool allowed(ProcessState from, ProcessState to) noexcept {
  using enum ProcessState;
  switch (from) {
    case not_started: return to == running || to == failed_to_start;
    case running:
      return to == killed_after_grace || to == killed_on_interrupt || to == killed_at_start_deadline || to == ended;
    case killed_after_grace:
    case killed_on_interrupt:
    case killed_at_start_deadline: return to == ended;
    case ended:
    case failed_to_start: return false;
  }
  return false;
}

bool allowed(LinkState from, LinkState to) noexcept {
  using enum LinkState;
  switch (from) {
    case waiting: return to == connected || to == gone;
    case connected: return to == open || to == gone;
    case open: return to == gone;
    case gone: return false;
  }
  return false;
}

bool allowed(StreamState from, StreamState to) noexcept {
  using enum StreamState;
  switch (from) {
    case open: return to == stop_pending || to == ended;
    case stop_pending: return to == draining || to == ended;
    case draining: return to == ended;
    case ended: return false;
  }
  return false;
}

namespace {
template <class State>
void checked_move(const std::string& node_id, const char* machine, State& current, State next) {
  if (!allowed(current, next)) {
    throw std::logic_error("dcp run: node '" + node_id + "': " + machine + " cannot go from " + to_string(current) +
                           " to " + to_string(next));
  }
  current = next;
}
}  // namespace

void NodeLifecycle::move_to(ProcessState next) { checked_move(node_id_, "process", process_, next); }
void NodeLifecycle::move_to(LinkState next) { checked_move(node_id_, "link", link_, next); }
void NodeLifecycle::move_to(StreamState next) { checked_move(node_id_, "stream", stream_, next); }

}  // namespace dcp::runner
