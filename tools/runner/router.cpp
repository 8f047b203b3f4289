// Routing for the runner (see router.hpp).
#include "runner/router.hpp"

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace dcp::runner {
namespace {

std::vector<std::size_t> queue_sizes(const dataflow::Node& spec) {
  std::vector<std::size_t> sizes;
  for (const dataflow::Input& input : spec.inputs) sizes.push_back(input.capacity());
  return sizes;
}

std::size_t node_index(const dataflow::Dataflow& dataflow, std::string_view id) {
  for (std::size_t n = 0; n < dataflow.nodes.size(); ++n) {
    if (dataflow.nodes[n].id == id) return n;
  }
  throw std::logic_error("dcp run: unknown node '" + std::string(id) + "' in a validated dataflow");
}

// The input's input_timeout as a duration; none for a timer input (Dora times only data inputs) and
// for a timeout longer than the clock can hold (it would never fire).
std::optional<NodeInputs::Clock::duration> timeout_of(const dataflow::Input& input) {
  if (!input.input_timeout || input.timer() != nullptr || *input.input_timeout > dataflow::kMaxTimingSeconds) {
    return std::nullopt;
  }
  return std::chrono::duration_cast<NodeInputs::Clock::duration>(std::chrono::duration<double>(*input.input_timeout));
}

}  // namespace

NodeInputs::NodeInputs(const dataflow::Node& spec)
    : queue_(queue_sizes(spec)),
      accounts_(spec.inputs.size()),
      closed_(spec.inputs.size(), false),
      deadlines_(spec.inputs.size()) {
  for (std::size_t i = 0; i < spec.inputs.size(); ++i) {
    const dataflow::Input& input = spec.inputs[i];
    if (input.timer() != nullptr || input.logs() != nullptr) {
      has_never_closing_input_ = true;
    } else {
      ++open_data_inputs_;
    }
    deadlines_[i].timeout = timeout_of(input);
    has_input_timeouts_ = has_input_timeouts_ || deadlines_[i].timeout.has_value();
  }
}

bool NodeInputs::enqueue(QueuedEvent event, Clock::time_point now) {
  const std::size_t input = event.input;
  ++accounts_.at(input).offered;
  if (closed_[input]) {
    ++accounts_[input].discarded;
    return false;
  }
  Deadline& deadline = deadlines_[input];
  if (deadline.timed_out) {  // data again: InputRecovered, then the message
    deadline.timed_out = false;
    ++deadline.recoveries;
    queue_.push_input_recovered(input);
  }
  if (deadline.timeout) deadline.last_message = now;
  const bool dropped = queue_.push_input(std::move(event));
  if (dropped) ++accounts_[input].dropped_queue_full;
  return dropped;
}

void NodeInputs::clear() noexcept {
  for (std::size_t i = 0; i < accounts_.size(); ++i) accounts_[i].discarded += queue_.queued(i);
  queue_.clear();
}

void NodeInputs::discard(std::size_t input) noexcept {
  ++accounts_[input].offered;
  ++accounts_[input].discarded;
}

void NodeInputs::drop_for_descriptors(std::size_t input) noexcept {
  ++accounts_[input].offered;
  ++accounts_[input].dropped_descriptors;
}

bool NodeInputs::evict_for_descriptors(std::size_t input) {
  if (!queue_.evict_shared_memory(input)) return false;
  ++accounts_[input].dropped_descriptors;
  return true;
}

void NodeInputs::count_unsent(std::size_t input) noexcept {
  --accounts_[input].delivered;
  ++accounts_[input].discarded;
}

std::vector<std::size_t> NodeInputs::close_timed_out(Clock::time_point now, bool queue_events) {
  std::vector<std::size_t> timed_out;
  for (std::size_t i = 0; i < deadlines_.size(); ++i) {
    Deadline& deadline = deadlines_[i];
    if (closed_[i] || deadline.timed_out || !deadline.timeout || !deadline.last_message) continue;
    if (now - *deadline.last_message < *deadline.timeout) continue;
    deadline.timed_out = true;
    ++deadline.timeouts;
    if (queue_events) queue_.push_input_closed(i);
    timed_out.push_back(i);
  }
  return timed_out;
}

bool NodeInputs::close(std::size_t input, bool queue_events) {
  if (closed_[input]) return false;
  closed_[input] = true;
  --open_data_inputs_;
  // A timed-out input was reported closed already; it can no longer recover.
  const bool reported = std::exchange(deadlines_[input].timed_out, false);
  if (!queue_events) return true;
  if (!reported) queue_.push_input_closed(input);
  // Timers and dora/logs never close, so a node reading one never gets AllInputsClosed (as in Dora).
  // A timed-out input still counts as open here: it may recover.
  if (open_data_inputs_ == 0 && !has_never_closing_input_) queue_.push_all_inputs_closed();
  return true;
}

std::vector<std::uint64_t> NodeInputs::timeouts() const {
  std::vector<std::uint64_t> counts;
  for (const Deadline& deadline : deadlines_) counts.push_back(deadline.timeouts);
  return counts;
}

std::vector<std::uint64_t> NodeInputs::recoveries() const {
  std::vector<std::uint64_t> counts;
  for (const Deadline& deadline : deadlines_) counts.push_back(deadline.recoveries);
  return counts;
}

std::uint64_t NodeInputs::dropped_total() const noexcept {
  std::uint64_t total = 0;
  for (const InputAccount& account : accounts_) total += account.dropped();
  return total;
}

RouteTable build_routes(const dataflow::Dataflow& dataflow) {
  RouteTable table;
  table.readers.resize(dataflow.nodes.size());
  for (std::size_t n = 0; n < dataflow.nodes.size(); ++n) table.readers[n].resize(dataflow.nodes[n].outputs.size());
  for (std::size_t n = 0; n < dataflow.nodes.size(); ++n) {
    const dataflow::Node& spec = dataflow.nodes[n];
    for (std::size_t i = 0; i < spec.inputs.size(); ++i) {
      const dataflow::Input& input = spec.inputs[i];
      if (const dataflow::Timer* timer = input.timer()) {
        const auto period = timer->period;
        auto group = std::find_if(table.timers.begin(), table.timers.end(),
                                  [&](const TimerGroup& g) { return g.period == period; });
        if (group == table.timers.end()) {
          table.timers.push_back(TimerGroup{period, {}, {}, timer->spec()});
          group = std::prev(table.timers.end());
        }
        group->subscribers.push_back(Subscriber{n, i});
      } else if (const dataflow::DoraLogs* logs = input.logs()) {
        table.log_readers.push_back(LogReader{Subscriber{n, i}, *logs});
      } else if (input.upstream() != nullptr) {
        const dataflow::NodeOutput& upstream = *input.upstream();
        const std::size_t u = node_index(dataflow, upstream.node);
        const dataflow::Node& upstream_spec = dataflow.nodes[u];
        for (std::size_t o = 0; o < upstream_spec.outputs.size(); ++o) {
          if (upstream_spec.outputs[o].id == upstream.output) table.readers[u][o].push_back(Subscriber{n, i});
        }
      }
    }
  }
  return table;
}

bool LogReader::wants(std::size_t node, std::string_view node_id) const noexcept {
  if (node == subscriber.node) return false;  // never its own lines (no loop)
  if (!filter.level.empty() && filter.level != "stdout") return false;
  return filter.node.empty() || filter.node == node_id;
}

std::optional<Answer> next_answer(const dataflow::Node& spec, NodeLifecycle& state, NodeInputs& inputs,
                                  const std::function<void(const std::string&)>& warn) {
  ipc::Event event;
  Answer answer;
  if (state.stream() == StreamState::ended) {
    event.kind = ipc::EventKind::end_of_stream;
    answer.frame = ipc::encode(event);
    return answer;
  }
  if (state.stream() == StreamState::stop_pending) {
    event.kind = ipc::EventKind::stop;
    state.move_to(StreamState::draining);
    answer.frame = ipc::encode(event);
    return answer;
  }
  const bool draining = state.stream() == StreamState::draining;
  for (;;) {
    std::optional<QueuedEvent> queued = inputs.queue().pop();
    if (!queued && draining) {  // the queue was all that was left after Stop: the stream ends
      state.move_to(StreamState::ended);
      event = ipc::Event{};
      event.kind = ipc::EventKind::end_of_stream;
      answer.frame = ipc::encode(event);
      return answer;
    }
    if (!queued) return std::nullopt;  // nothing yet: the NextEvent stays outstanding
    if (draining && queued->kind != ipc::EventKind::input) continue;  // after Stop only the queued inputs
    event = ipc::Event{};
    event.kind = queued->kind;
    if (queued->kind == ipc::EventKind::input || queued->kind == ipc::EventKind::input_closed ||
        queued->kind == ipc::EventKind::input_recovered) {
      event.id = spec.inputs[queued->input].id;
    }
    if (queued->kind == ipc::EventKind::input) {
      event.metadata = std::move(queued->metadata);
      event.payload = std::move(queued->payload);
      answer.fd = std::move(queued->shared_memory);
    }
    try {
      answer.frame = ipc::encode(event);
    } catch (const ipc::ProtocolError& e) {
      // Only possible when a message filled a frame and the input id is longer than the output id
      // it was sent on: the frame for this node would be over the limit.
      warn("node '" + spec.id + "': cannot deliver a message on input '" + event.id + "': " + e.what() + " (dropped)");
      inputs.count_too_large(queued->input);
      answer.fd.reset();
      continue;
    }
    if (queued->kind == ipc::EventKind::all_inputs_closed) state.move_to(StreamState::ended);
    answer.is_input = queued->kind == ipc::EventKind::input;
    answer.input = queued->input;
    return answer;
  }
}

}  // namespace dcp::runner
