// The in-process test backend (see dcp/node/node_harness.hpp): a dcp::unbounded channel of
// scripted events feeds the EventStream; the OutputSender appends to a store guarded by a mutex, with
// a condition variable for next_output.
#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "dcp/core/channel.hpp"
#include "dcp/core/error_report.hpp"
#include "dcp/node/node_harness.hpp"
#include "backend.hpp"

namespace dcp {
namespace detail {

static_assert(std::is_nothrow_move_constructible_v<Event> && std::is_nothrow_destructible_v<Event>,
              "dcp channels need nothrow-movable values");

/// The event side: the test thread pushes, the node's event loop receives.
struct HarnessScript {
  std::mutex mutex;
  Sender<Event> sender;
  std::optional<Receiver<Event>> receiver;  // handed to the node's EventStream by node()
  std::vector<bool> closed_inputs;          // parallel to NodeHarness::inputs_
  bool ended = false;                       // end(), push_stop() or push_all_inputs_closed() happened
  std::optional<StopCause> stop;            // push_stop() happened: the Stop to deliver ahead of the queue

  HarnessScript(std::pair<Sender<Event>, Receiver<Event>> channel, std::size_t inputs)
      : sender(std::move(channel.first)), receiver(std::move(channel.second)), closed_inputs(inputs, false) {}
};

/// The output side: the node's output sender appends, the test thread inspects.
struct HarnessStore {
  mutable std::mutex mutex;
  std::condition_variable sent;
  std::vector<testing::CapturedOutput> outputs;
  std::size_t next_unread = 0;  // next_output's cursor
  std::vector<std::string> closed;

  void add(testing::CapturedOutput output) {
    {
      std::lock_guard lock(mutex);
      outputs.push_back(std::move(output));
    }
    sent.notify_all();
  }
};

}  // namespace detail

namespace testing {
namespace {

class HarnessEventSource final : public detail::EventSource {
 public:
  HarnessEventSource(Receiver<Event> receiver, std::shared_ptr<detail::HarnessScript> script)
      : receiver_(std::move(receiver)), script_(std::move(script)) {}

  // The Stop rule (node.hpp): a pushed Stop overtakes the events still queued; after it only the
  // queued inputs come, then `ended`. push_stop() closes the channel, which wakes a waiting receive.
  EventResult next(detail::SteadyTime deadline) override {
    if (ended_) return EventResult(EventStatus::ended);
    if (!stop_delivered_) {
      if (std::optional<StopCause> cause = pushed_stop()) {
        stop_delivered_ = true;
        return EventResult(StopEvent{*cause});
      }
    }
    for (;;) {
      RecvResult<Event> received = deadline == detail::kPollOnly     ? receiver_.try_recv()
                                   : deadline == detail::kNoDeadline ? receiver_.recv()
                                                                     : receiver_.recv_until(deadline);
      if (received.is_closed()) {
        if (!stop_delivered_) {
          if (std::optional<StopCause> cause = pushed_stop()) {  // pushed while we waited
            stop_delivered_ = true;
            return EventResult(StopEvent{*cause});
          }
        }
        ended_ = true;
        return EventResult(EventStatus::ended);
      }
      if (!received.ok()) return EventResult(EventStatus::timeout);
      Event event = std::move(received).value();
      if (stop_delivered_ && !std::holds_alternative<InputEvent>(event)) continue;  // only inputs after Stop
      if (std::holds_alternative<AllInputsClosedEvent>(event)) {
        ended_ = true;  // like the runner: end of stream after the final event
      }
      return EventResult(std::move(event));
    }
  }

 private:
  std::optional<StopCause> pushed_stop() {
    std::lock_guard lock(script_->mutex);
    return script_->stop;
  }

  Receiver<Event> receiver_;
  std::shared_ptr<detail::HarnessScript> script_;
  bool stop_delivered_ = false;
  bool ended_ = false;
};

class HarnessOutputSink final : public detail::OutputSink {
 public:
  explicit HarnessOutputSink(std::shared_ptr<detail::HarnessStore> store) : store_(std::move(store)) {}

  void send(std::string_view output_id, std::span<const std::uint8_t> data, Metadata&& metadata) override {
    store_->add(CapturedOutput{std::string(output_id), {data.begin(), data.end()}, std::move(metadata), {}});
  }

  void send(std::string_view output_id, const Payload& payload, Metadata&& metadata) override {
    const auto bytes = payload.bytes();
    store_->add(CapturedOutput{std::string(output_id), {bytes.begin(), bytes.end()}, std::move(metadata), payload});
  }

  void send_with(std::string_view output_id, std::size_t size, detail::FillRef fill, Metadata&& metadata) override {
    std::vector<std::uint8_t> data(size);
    fill(data);
    store_->add(CapturedOutput{std::string(output_id), std::move(data), std::move(metadata), {}});
  }

  void close_outputs(const std::vector<std::string>& output_ids) override {
    std::lock_guard lock(store_->mutex);
    store_->closed.insert(store_->closed.end(), output_ids.begin(), output_ids.end());
  }

 private:
  std::shared_ptr<detail::HarnessStore> store_;
};

}  // namespace

NodeHarness::NodeHarness(std::string node_id, std::vector<std::string> inputs, std::vector<std::string> outputs)
    : node_id_(std::move(node_id)),
      inputs_(std::move(inputs)),
      outputs_(std::move(outputs)),
      script_(std::make_shared<detail::HarnessScript>(unbounded<Event>(), inputs_.size())),
      store_(std::make_shared<detail::HarnessStore>()),
      errors_at_start_(dcp::reported_errors()) {}

std::uint64_t NodeHarness::reported_errors() const noexcept { return dcp::reported_errors() - errors_at_start_; }

NodeHarness::~NodeHarness() {
  if (script_) end();
}

Node NodeHarness::node() {
  std::optional<Receiver<Event>> receiver;
  {
    std::lock_guard lock(script_->mutex);
    if (!script_->receiver) throw std::logic_error("dcp::testing::NodeHarness::node: the node was already taken");
    receiver = std::move(script_->receiver);
    script_->receiver.reset();
  }
  return Node{node_id_,
              detail::NodeAccess::make_events(inputs_, std::make_unique<HarnessEventSource>(std::move(*receiver), script_)),
              detail::NodeAccess::make_outputs(node_id_, outputs_, std::make_unique<HarnessOutputSink>(store_))};
}

void NodeHarness::check_open_input(std::string_view id, const char* operation) {
  const auto it = std::find(inputs_.begin(), inputs_.end(), id);
  if (it == inputs_.end()) {
    std::string declared;
    for (const auto& input : inputs_) declared += (declared.empty() ? "" : ", ") + input;
    throw std::invalid_argument(std::string("dcp::testing::NodeHarness::") + operation + ": input '" + std::string(id) +
                                "' is not declared by node '" + node_id_ +
                                "' (declared inputs: " + (declared.empty() ? "none" : declared) + ")");
  }
}

void NodeHarness::push(Event event, bool final, const char* operation) {
  std::lock_guard lock(script_->mutex);
  if (script_->ended) {
    throw std::logic_error(std::string("dcp::testing::NodeHarness::") + operation +
                           ": the script has ended (end(), push_stop() or push_all_inputs_closed() came before)");
  }
  if (const auto* input = std::get_if<InputEvent>(&event)) {
    const auto index = static_cast<std::size_t>(std::find(inputs_.begin(), inputs_.end(), input->id) - inputs_.begin());
    if (script_->closed_inputs[index]) {
      throw std::logic_error(std::string("dcp::testing::NodeHarness::") + operation + ": input '" + input->id +
                             "' was closed by push_input_closed");
    }
  } else if (const auto* closed = std::get_if<InputClosedEvent>(&event)) {
    const auto index =
        static_cast<std::size_t>(std::find(inputs_.begin(), inputs_.end(), closed->id) - inputs_.begin());
    script_->closed_inputs[index] = true;
  } else if (const auto* recovered = std::get_if<InputRecoveredEvent>(&event)) {
    const auto index =
        static_cast<std::size_t>(std::find(inputs_.begin(), inputs_.end(), recovered->id) - inputs_.begin());
    if (!script_->closed_inputs[index]) {
      throw std::logic_error(std::string("dcp::testing::NodeHarness::") + operation + ": input '" + recovered->id +
                             "' is open (only an input closed by push_input_closed can recover)");
    }
    script_->closed_inputs[index] = false;
  }
  // The receiver lives until the node's EventStream goes; a send to a gone stream is simply dropped.
  (void)script_->sender.send(std::move(event));
  if (final) {
    script_->sender.close();
    script_->ended = true;
  }
}

void NodeHarness::push_input(std::string_view id, std::span<const std::uint8_t> data, Metadata metadata) {
  push_input(id, Payload::copy_of(data), std::move(metadata));
}

void NodeHarness::push_input(std::string_view id, std::string_view text, Metadata metadata) {
  push_input(id, Payload::from_string(text), std::move(metadata));
}

void NodeHarness::push_input(std::string_view id, Payload data, Metadata metadata) {
  check_open_input(id, "push_input");
  push(InputEvent{std::string(id), std::move(data), std::move(metadata)}, false, "push_input");
}

void NodeHarness::push_input_closed(std::string_view id) {
  check_open_input(id, "push_input_closed");
  push(InputClosedEvent{std::string(id)}, false, "push_input_closed");
}

void NodeHarness::push_input_recovered(std::string_view id) {
  check_open_input(id, "push_input_recovered");
  push(InputRecoveredEvent{std::string(id)}, false, "push_input_recovered");
}

void NodeHarness::push_node_restarted(std::string_view node_id) {
  push(NodeRestartedEvent{std::string(node_id)}, false, "push_node_restarted");
}

void NodeHarness::push_node_failed(std::string_view node_id, std::vector<std::string> inputs, std::string error) {
  for (const std::string& id : inputs) check_open_input(id, "push_node_failed");
  {
    std::lock_guard lock(script_->mutex);
    for (const std::string& id : inputs) {
      const auto index = static_cast<std::size_t>(std::find(inputs_.begin(), inputs_.end(), id) - inputs_.begin());
      if (script_->closed_inputs[index]) {
        throw std::logic_error("dcp::testing::NodeHarness::push_node_failed: input '" + id +
                               "' was closed by push_input_closed");
      }
    }
  }
  const std::vector<std::string> closing = inputs;
  push(NodeFailedEvent{std::string(node_id), std::move(inputs), std::move(error)}, false, "push_node_failed");
  for (const std::string& id : closing) push(InputClosedEvent{id}, false, "push_node_failed");
}

void NodeHarness::push_all_inputs_closed() { push(AllInputsClosedEvent{}, true, "push_all_inputs_closed"); }

void NodeHarness::push_stop(StopCause cause) {
  std::lock_guard lock(script_->mutex);
  if (script_->ended) {
    throw std::logic_error(
        "dcp::testing::NodeHarness::push_stop: the script has ended (end(), push_stop() or push_all_inputs_closed() "
        "came before)");
  }
  script_->stop = cause;  // read by the node's stream before the queued events (the Stop rule)
  script_->sender.close();
  script_->ended = true;
}

void NodeHarness::push_error(std::string message) { push(ErrorEvent{std::move(message)}, false, "push_error"); }

void NodeHarness::end() {
  std::lock_guard lock(script_->mutex);
  if (script_->ended) return;
  script_->sender.close();
  script_->ended = true;
}

std::vector<CapturedOutput> NodeHarness::outputs() const {
  std::lock_guard lock(store_->mutex);
  return store_->outputs;
}

std::optional<CapturedOutput> NodeHarness::next_output(std::chrono::milliseconds timeout) {
  std::unique_lock lock(store_->mutex);
  const bool arrived =
      store_->sent.wait_for(lock, timeout, [&] { return store_->next_unread < store_->outputs.size(); });
  if (!arrived) return std::nullopt;
  return store_->outputs[store_->next_unread++];
}

std::vector<std::string> NodeHarness::closed_outputs() const {
  std::lock_guard lock(store_->mutex);
  return store_->closed;
}

}  // namespace testing
}  // namespace dcp
