// dcp/node/node_harness.hpp — unit-test node logic without processes: scripted events in,
// captured outputs out.
//
// What it is for: the node code under test takes a dcp::Node (or its EventStream and OutputSender)
// exactly as it would from dcp::init_node(); the test scripts the events and checks what was sent.
//
//   dcp::testing::NodeHarness harness("filter", {"scan"}, {"obstacles"});
//   std::jthread node_thread([node = harness.node()]() mutable { run_filter(node); });
//   harness.push_input("scan", scan_bytes);
//   auto out = harness.next_output(1s);                 // blocks until the node sends one
//   ASSERT_TRUE(out && out->id == "obstacles");
//   harness.push_stop();                                 // Stop, then the inputs still queued, then ended
//
// The node's side behaves like the local runner's: sending an undeclared or closed output throws
// dcp::NodeError, metadata limits are checked and a zero timestamp is filled in. Scripted events are
// delivered as pushed (no timestamps are added to input metadata, no AllInputsClosed is synthesized)
// except for Stop, which follows node.hpp's Stop rule: it overtakes what the node has not received
// yet, then those inputs come, then `ended`. The stream reports `ended` after AllInputsClosed.
//
// Thread safety: every NodeHarness member may be called from any thread, concurrently with the node
// using its EventStream and OutputSender on other threads. The harness and the Node may be destroyed
// in any order; destroying the harness ends the script (like end()).
// Blocking: next_output waits at most its timeout; everything else returns at once.
// Errors: push_input / push_input_closed for an undeclared input -> std::invalid_argument; push_input
// on an input already closed, push_input_recovered on an open one, and any push after end(), push_stop() or push_all_inputs_closed() ->
// std::logic_error; node() a second time -> std::logic_error.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dcp/node/metadata.hpp"
#include "dcp/node/node.hpp"
#include "dcp/node/payload.hpp"

namespace dcp::detail {
struct HarnessScript;
struct HarnessStore;
}  // namespace dcp::detail

namespace dcp::testing {

/// One output the node sent, in sending order.
struct CapturedOutput {
  std::string id;
  std::vector<std::uint8_t> data;
  Metadata metadata;  ///< timestamp_ns filled in by the sender when it was 0
  /// When the node sent a Payload (OutputSender::send(id, payload)): that payload, kept as it was
  /// handed over — payload.data() is the very buffer the node made, so a test can check that nothing
  /// copied it on the way. Empty when the node sent bytes, text, or used send_with.
  Payload payload;

  /// The bytes seen as characters (valid while this object lives).
  [[nodiscard]] std::string_view text() const noexcept {
    return data.empty() ? std::string_view()
                        : std::string_view(reinterpret_cast<const char*>(data.data()), data.size());
  }
};

class NodeHarness {
 public:
  /// A node `node_id` with the given input and output ids.
  NodeHarness(std::string node_id, std::vector<std::string> inputs, std::vector<std::string> outputs);
  NodeHarness(NodeHarness&&) noexcept = default;
  NodeHarness& operator=(NodeHarness&&) noexcept = default;
  NodeHarness(const NodeHarness&) = delete;
  NodeHarness& operator=(const NodeHarness&) = delete;
  /// Ends the script (see end()).
  ~NodeHarness();

  /// The Node under test. Once: a second call throws std::logic_error.
  Node node();

  // Scripting events (delivered in this order).
  void push_input(std::string_view id, std::span<const std::uint8_t> data, Metadata metadata = {});
  void push_input(std::string_view id, std::string_view text, Metadata metadata = {});
  void push_input(std::string_view id, Payload data, Metadata metadata = {});
  void push_input_closed(std::string_view id);
  /// InputRecovered for `id`, which push_input_closed closed (a timed-out input, node.hpp): push_input
  /// on it is allowed again. std::logic_error when `id` is not closed.
  void push_input_recovered(std::string_view id);
  /// NodeRestarted: upstream node `node_id` is being restarted (node.hpp); inputs stay open.
  void push_node_restarted(std::string_view node_id);
  /// NodeFailed for upstream node `node_id`, which fed `inputs` (each declared and open), then
  /// InputClosed for each of them — as the runner delivers a failure. std::invalid_argument for an
  /// undeclared input, std::logic_error for a closed one (nothing is pushed then).
  void push_node_failed(std::string_view node_id, std::vector<std::string> inputs, std::string error);
  /// The stream ends once the node has received this event.
  void push_all_inputs_closed();
  /// Stop with `cause`, as Dora and the runner deliver it (node.hpp, the Stop rule): the node gets
  /// StopEvent next, ahead of the events pushed before it that it has not received yet; then only
  /// the InputEvents among those (InputClosed / AllInputsClosed / errors are dropped); then `ended`.
  void push_stop(StopCause cause = StopCause::requested);
  void push_error(std::string message);
  /// No more events: the stream reports `ended` once the scripted events are consumed.
  void end();

  // Inspecting outputs.
  /// Everything sent so far, in order (a snapshot).
  [[nodiscard]] std::vector<CapturedOutput> outputs() const;
  /// The next output not yet returned by next_output, waiting up to `timeout` for the node to send
  /// it; std::nullopt on timeout.
  std::optional<CapturedOutput> next_output(std::chrono::milliseconds timeout);
  /// Ids passed to close_outputs (each once), in order.
  [[nodiscard]] std::vector<std::string> closed_outputs() const;
  /// Errors dcp::report_error() counted since this harness was created — what the local runner
  /// would learn from this node. The count is process-wide (dcp::reported_errors()): errors reported
  /// by other code of the test process meanwhile are included.
  [[nodiscard]] std::uint64_t reported_errors() const noexcept;

  [[nodiscard]] const std::string& node_id() const noexcept { return node_id_; }
  [[nodiscard]] const std::vector<std::string>& inputs() const noexcept { return inputs_; }
  [[nodiscard]] const std::vector<std::string>& declared_outputs() const noexcept { return outputs_; }

 private:
  void push(Event event, bool final, const char* operation);
  void check_open_input(std::string_view id, const char* operation);

  std::string node_id_;
  std::vector<std::string> inputs_;
  std::vector<std::string> outputs_;
  std::shared_ptr<detail::HarnessScript> script_;
  std::shared_ptr<detail::HarnessStore> store_;
  std::uint64_t errors_at_start_ = 0;  // dcp::reported_errors() when constructed
};

}  // namespace dcp::testing
