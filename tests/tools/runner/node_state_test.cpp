// Tests of the runner's node state machines (tools/runner/node_state.hpp): every allowed
// transition is accepted, every other one is refused, and a refused move throws and changes nothing.
#include "runner/node_state.hpp"

#include <gtest/gtest.h>

#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

using dcp::runner::LinkState;
using dcp::runner::NodeLifecycle;
using dcp::runner::ProcessState;
using dcp::runner::StreamState;

const std::vector<ProcessState> kProcessStates = {
    ProcessState::not_started,         ProcessState::running,
    ProcessState::killed_after_grace,  ProcessState::killed_on_interrupt,
    ProcessState::killed_at_start_deadline, ProcessState::ended,
    ProcessState::failed_to_start};
const std::vector<LinkState> kLinkStates = {LinkState::waiting, LinkState::connected, LinkState::open, LinkState::gone};
const std::vector<StreamState> kStreamStates = {StreamState::open, StreamState::stop_pending, StreamState::draining,
                                               StreamState::ended};

// Checks `allowed` against the exact set of edges of the diagram in node_state.hpp.
template <class State>
void expect_exactly(const std::vector<State>& states, const std::set<std::pair<State, State>>& edges) {
  for (const State from : states) {
    for (const State to : states) {
      EXPECT_EQ(dcp::runner::allowed(from, to), edges.count({from, to}) == 1)
          << to_string(from) << " -> " << to_string(to);
    }
  }
}

TEST(NodeState, ProcessTransitions_ExactlyTheDiagramsEdges) {
  using enum ProcessState;
  expect_exactly<ProcessState>(kProcessStates, {{not_started, running},
                                                {not_started, failed_to_start},
                                                {running, killed_after_grace},
                                                {running, killed_on_interrupt},
                                                {running, killed_at_start_deadline},
                                                {running, ended},
                                                {killed_after_grace, ended},
                                                {killed_on_interrupt, ended},
                                                {killed_at_start_deadline, ended}});
}

TEST(NodeState, LinkTransitions_ExactlyTheDiagramsEdges) {
  using enum LinkState;
  expect_exactly<LinkState>(kLinkStates,
                            {{waiting, connected}, {waiting, gone}, {connected, open}, {connected, gone}, {open, gone}});
}

TEST(NodeState, StreamTransitions_ExactlyTheDiagramsEdges) {
  using enum StreamState;
  expect_exactly<StreamState>(kStreamStates, {{open, stop_pending},
                                              {open, ended},
                                              {stop_pending, draining},
                                              {stop_pending, ended},
                                              {draining, ended}});
}

TEST(NodeLifecycle, NewNode_NotStartedWaitingOpen) {
  const NodeLifecycle node("camera");
  EXPECT_EQ(node.process(), ProcessState::not_started);
  EXPECT_EQ(node.link(), LinkState::waiting);
  EXPECT_EQ(node.stream(), StreamState::open);
  EXPECT_FALSE(node.process_alive());
  EXPECT_FALSE(node.accepting_events()) << "not started: nothing is queued for it";
}

TEST(NodeLifecycle, NormalLife_RunningConnectedOpenStopEndedGone) {
  NodeLifecycle node("camera");
  node.move_to(ProcessState::running);
  EXPECT_TRUE(node.accepting_events()) << "events queue up before the node connects";
  node.move_to(LinkState::connected);
  EXPECT_TRUE(node.has_connection());
  node.move_to(LinkState::open);
  node.move_to(StreamState::stop_pending);
  EXPECT_FALSE(node.accepting_events()) << "after Stop is requested nothing new is queued";
  node.move_to(StreamState::ended);
  node.move_to(ProcessState::ended);
  node.move_to(LinkState::gone);
  EXPECT_FALSE(node.process_alive());
  EXPECT_FALSE(node.has_connection());
}

TEST(NodeLifecycle, KilledAfterGrace_StillAliveUntilReaped) {
  NodeLifecycle node("stubborn");
  node.move_to(ProcessState::running);
  node.move_to(ProcessState::killed_after_grace);
  EXPECT_TRUE(node.process_alive());
  EXPECT_TRUE(node.kill_sent());
  node.move_to(ProcessState::ended);
  EXPECT_FALSE(node.process_alive());
}

TEST(NodeLifecycle, IllegalMove_ThrowsNamingNodeMachineAndStates_StateUnchanged) {
  NodeLifecycle node("planner");
  node.move_to(LinkState::gone);
  try {
    node.move_to(LinkState::connected);
    FAIL() << "gone -> connected must be refused";
  } catch (const std::logic_error& e) {
    EXPECT_EQ(std::string(e.what()), "dcp run: node 'planner': link cannot go from gone to connected");
  }
  EXPECT_EQ(node.link(), LinkState::gone);
  EXPECT_THROW(node.move_to(ProcessState::ended), std::logic_error) << "never started: cannot be reaped";
  EXPECT_EQ(node.process(), ProcessState::not_started);
  node.move_to(StreamState::ended);
  EXPECT_THROW(node.move_to(StreamState::stop_pending), std::logic_error) << "an ended stream cannot be stopped";
  EXPECT_THROW(node.move_to(StreamState::ended), std::logic_error) << "staying put is not a move";
}

}  // namespace
