// The fake Dora node API (dora-node-api.h) and its scripting interface (fake_dora.hpp).
#include "fake_dora.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

namespace fake_dora {
namespace {

struct FakeEvent {
  DoraEventType type = DoraEventType::Unknown;
  std::string id;
  std::vector<std::uint8_t> data;
  std::uint64_t timestamp_ntp64 = 0;
  Parameters parameters;
  std::optional<std::string> not_bytes;  // event_as_input throws this
  std::string error;                     // NodeFailed
  std::vector<std::string> affected;     // NodeFailed
};

struct Script {
  // The event side (Events box, push_*).
  std::mutex events_mutex;
  std::condition_variable arrived;
  std::deque<FakeEvent> queue;
  bool stream_closed = false;
  Calls calls;
  std::optional<std::string> init_error;

  // The output side (OutputSender box, sent()).
  std::mutex outputs_mutex;
  std::condition_variable accepted;
  std::vector<Sent> sent;
  std::vector<std::vector<std::string>> closed;
  std::optional<std::string> send_error;
  std::optional<std::string> close_error;
};

/// What a failing bridge function throws. Like the rust::Error of Dora's generated .cc, the caller
/// cannot name its type (it is not in dora-node-api.h): it catches std::exception.
class BridgeError final : public std::exception {
 public:
  explicit BridgeError(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

std::mutex g_mutex;
std::shared_ptr<Script> g_script = std::make_shared<Script>();
std::atomic<const std::uint8_t*> g_last_input_buffer{nullptr};

std::shared_ptr<Script> current() {
  std::lock_guard lock(g_mutex);
  return g_script;
}

void enqueue(FakeEvent event) {
  const std::shared_ptr<Script> script = current();
  {
    std::lock_guard lock(script->events_mutex);
    script->queue.push_back(std::move(event));
  }
  script->arrived.notify_all();
}

/// The system clock in ns since the UNIX epoch (a Sent's timestamp).
std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

rust::String to_rust(const std::string& text) { return rust::String(text.data(), text.size()); }

rust::Vec<std::uint8_t> to_rust_bytes(const std::vector<std::uint8_t>& bytes) {
  rust::Vec<std::uint8_t> vec;
  vec.reserve(bytes.size());
  for (const std::uint8_t byte : bytes) vec.push_back(byte);
  return vec;
}

}  // namespace

/// Makes and reads the opaque ::Metadata (its state is private, as Dora's is in Rust).
struct MetadataAccess {
  static rust::Box<::Metadata> make(std::uint64_t timestamp_ntp64, Parameters parameters) {
    auto* metadata = new ::Metadata();
    metadata->timestamp_ntp64_ = timestamp_ntp64;
    metadata->parameters_ = std::move(parameters);
    return rust::Box<::Metadata>::from_raw(metadata);
  }
  static const Parameters& parameters(const ::Metadata& metadata) { return metadata.parameters_; }
  static Parameters& parameters(::Metadata& metadata) { return metadata.parameters_; }
  static std::uint64_t timestamp(const ::Metadata& metadata) { return metadata.timestamp_ntp64_; }
};

void reset() {
  std::lock_guard lock(g_mutex);
  g_script = std::make_shared<Script>();
}

void fail_init(std::string error) {
  const std::shared_ptr<Script> script = current();
  std::lock_guard lock(script->events_mutex);
  script->init_error = std::move(error);
}

void push_input(std::string id, std::vector<std::uint8_t> data, std::uint64_t timestamp_ntp64, Parameters parameters) {
  FakeEvent event;
  event.type = DoraEventType::Input;
  event.id = std::move(id);
  event.data = std::move(data);
  event.timestamp_ntp64 = timestamp_ntp64;
  event.parameters = std::move(parameters);
  enqueue(std::move(event));
}

void push_input_not_bytes(std::string id, std::string error) {
  FakeEvent event;
  event.type = DoraEventType::Input;
  event.id = std::move(id);
  event.not_bytes = std::move(error);
  enqueue(std::move(event));
}

void push(DoraEventType type) {
  FakeEvent event;
  event.type = type;
  enqueue(std::move(event));
}

void push_node_failed(std::string source_node_id, std::string error, std::vector<std::string> affected_input_ids) {
  FakeEvent event;
  event.type = DoraEventType::NodeFailed;
  event.id = std::move(source_node_id);
  event.error = std::move(error);
  event.affected = std::move(affected_input_ids);
  enqueue(std::move(event));
}

void close_stream() {
  const std::shared_ptr<Script> script = current();
  {
    std::lock_guard lock(script->events_mutex);
    script->stream_closed = true;
  }
  script->arrived.notify_all();
}

Calls calls() {
  const std::shared_ptr<Script> script = current();
  std::lock_guard lock(script->events_mutex);
  return script->calls;
}

const std::uint8_t* last_input_buffer() { return g_last_input_buffer.load(); }

std::vector<Sent> sent() {
  const std::shared_ptr<Script> script = current();
  std::lock_guard lock(script->outputs_mutex);
  return script->sent;
}

bool wait_for_sends(std::size_t count, std::chrono::milliseconds timeout) {
  const std::shared_ptr<Script> script = current();
  std::unique_lock lock(script->outputs_mutex);
  return script->accepted.wait_for(lock, timeout, [&] { return script->sent.size() >= count; });
}

std::vector<std::vector<std::string>> closed() {
  const std::shared_ptr<Script> script = current();
  std::lock_guard lock(script->outputs_mutex);
  return script->closed;
}

void fail_next_send(std::string error) {
  const std::shared_ptr<Script> script = current();
  std::lock_guard lock(script->outputs_mutex);
  script->send_error = std::move(error);
}

void fail_next_close(std::string error) {
  const std::shared_ptr<Script> script = current();
  std::lock_guard lock(script->outputs_mutex);
  script->close_error = std::move(error);
}

}  // namespace fake_dora

// ---------------------------------------------------------------------------------------------
// The fake API
// ---------------------------------------------------------------------------------------------

struct Events {
  std::shared_ptr<fake_dora::Script> script;
};

struct OutputSender {
  std::shared_ptr<fake_dora::Script> script;
};

struct DoraEvent {
  fake_dora::FakeEvent event;
};

namespace rust {
inline namespace cxxbridge1 {
void BoxDrop<::Events>::drop(::Events* object) noexcept { delete object; }
void BoxDrop<::OutputSender>::drop(::OutputSender* object) noexcept { delete object; }
void BoxDrop<::DoraEvent>::drop(::DoraEvent* object) noexcept { delete object; }
void BoxDrop<::Metadata>::drop(::Metadata* object) noexcept { delete object; }
}  // namespace cxxbridge1
}  // namespace rust

namespace {

rust::Box<DoraEvent> make_event(fake_dora::FakeEvent event) {
  return rust::Box<DoraEvent>::from_raw(new DoraEvent{std::move(event)});
}

rust::Box<DoraEvent> make_event(DoraEventType type) {
  fake_dora::FakeEvent event;
  event.type = type;
  return make_event(std::move(event));
}

/// Pops the next event (events_mutex held), or AllInputsClosed once the stream has ended, or
/// nothing when the queue is empty.
std::optional<rust::Box<DoraEvent>> take(fake_dora::Script& script) {
  if (!script.queue.empty()) {
    fake_dora::FakeEvent event = std::move(script.queue.front());
    script.queue.pop_front();
    return make_event(std::move(event));
  }
  if (script.stream_closed) return make_event(DoraEventType::AllInputsClosed);
  return std::nullopt;
}

const fake_dora::FakeEvent& input_of(const rust::Box<DoraEvent>& event) {
  if (event->event.type != DoraEventType::Input) throw fake_dora::BridgeError("not an input event");
  if (event->event.not_bytes) throw fake_dora::BridgeError(*event->event.not_bytes);
  return event->event;
}

}  // namespace

DoraNode init_dora_node() {
  const std::shared_ptr<fake_dora::Script> script = fake_dora::current();
  {
    std::lock_guard lock(script->events_mutex);
    ++script->calls.init;
    if (script->init_error) throw fake_dora::BridgeError(*std::exchange(script->init_error, std::nullopt));
  }
  return DoraNode{rust::Box<Events>::from_raw(new Events{script}),
                  rust::Box<OutputSender>::from_raw(new OutputSender{script})};
}

rust::Box<DoraEvent> next_event(rust::Box<Events>& events) noexcept {
  fake_dora::Script& script = *events->script;
  std::unique_lock lock(script.events_mutex);
  ++script.calls.next_event;
  script.arrived.wait(lock, [&] { return !script.queue.empty() || script.stream_closed; });
  return *take(script);
}

rust::Box<DoraEvent> next_event_timeout(rust::Box<Events>& events, std::uint64_t timeout_ms) noexcept {
  fake_dora::Script& script = *events->script;
  std::unique_lock lock(script.events_mutex);
  ++script.calls.next_event_timeout;
  script.calls.timeouts_ms.push_back(timeout_ms);
  script.arrived.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                          [&] { return !script.queue.empty() || script.stream_closed; });
  if (auto event = take(script)) return std::move(*event);
  return make_event(DoraEventType::Timeout);
}

rust::Box<DoraEvent> try_next_event(rust::Box<Events>& events) noexcept {
  fake_dora::Script& script = *events->script;
  std::lock_guard lock(script.events_mutex);
  ++script.calls.try_next_event;
  if (auto event = take(script)) return std::move(*event);
  return make_event(DoraEventType::Empty);
}

DoraEventType event_type(const rust::Box<DoraEvent>& event) noexcept { return event->event.type; }

DoraInput event_as_input(rust::Box<DoraEvent> event) {
  const fake_dora::FakeEvent& input = input_of(event);
  DoraInput result{fake_dora::to_rust(input.id), fake_dora::to_rust_bytes(input.data)};
  fake_dora::g_last_input_buffer.store(result.data.data());
  return result;
}

DoraResult send_output(rust::Box<OutputSender>& output_sender, rust::String id,
                       rust::Slice<const std::uint8_t> data) noexcept {
  fake_dora::Script& script = *output_sender->script;
  {
    std::lock_guard lock(script.outputs_mutex);
    if (script.send_error) return DoraResult{fake_dora::to_rust(*std::exchange(script.send_error, std::nullopt))};
    script.sent.push_back(
        fake_dora::Sent{std::string(id), std::vector<std::uint8_t>(data.begin(), data.end()), false, {}, fake_dora::now_ns()});
  }
  script.accepted.notify_all();
  return DoraResult{};
}

DoraResult close_outputs(rust::Box<OutputSender>& output_sender, rust::Vec<rust::String> output_ids) noexcept {
  fake_dora::Script& script = *output_sender->script;
  std::lock_guard lock(script.outputs_mutex);
  if (script.close_error) return DoraResult{fake_dora::to_rust(*std::exchange(script.close_error, std::nullopt))};
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < output_ids.size(); ++i) ids.emplace_back(output_ids[i]);
  script.closed.push_back(std::move(ids));
  return DoraResult{};
}

// ---------------------------------------------------------------------------------------------
// Metadata
// ---------------------------------------------------------------------------------------------

namespace {

template <class T>
const T& lookup(const fake_dora::Parameters& parameters, rust::Str key, const char* type_name) {
  const std::string name(key);
  const auto it = parameters.find(name);
  if (it == parameters.end()) throw fake_dora::BridgeError("metadata missing key '" + name + "'");
  const T* value = std::get_if<T>(&it->second);
  if (value == nullptr) throw fake_dora::BridgeError("metadata key '" + name + "' is not of type '" + type_name + "'");
  return *value;
}

}  // namespace

std::uint64_t Metadata::timestamp() const noexcept { return timestamp_ntp64_; }
bool Metadata::get_bool(rust::Str key) const { return lookup<bool>(parameters_, key, "bool"); }
double Metadata::get_float(rust::Str key) const { return lookup<double>(parameters_, key, "float"); }
std::int64_t Metadata::get_int(rust::Str key) const { return lookup<std::int64_t>(parameters_, key, "integer"); }
rust::String Metadata::get_str(rust::Str key) const {
  return fake_dora::to_rust(lookup<std::string>(parameters_, key, "string"));
}
rust::Vec<std::int64_t> Metadata::get_list_int(rust::Str key) const {
  rust::Vec<std::int64_t> list;
  for (const std::int64_t item : lookup<std::vector<std::int64_t>>(parameters_, key, "list<int>")) list.push_back(item);
  return list;
}
rust::Vec<double> Metadata::get_list_float(rust::Str key) const {
  rust::Vec<double> list;
  for (const double item : lookup<std::vector<double>>(parameters_, key, "list<float>")) list.push_back(item);
  return list;
}
rust::Vec<rust::String> Metadata::get_list_string(rust::Str key) const {
  rust::Vec<rust::String> list;
  for (const std::string& item : lookup<std::vector<std::string>>(parameters_, key, "list<string>")) {
    list.push_back(fake_dora::to_rust(item));
  }
  return list;
}
std::int64_t Metadata::get_timestamp(rust::Str key) const {
  const fake_dora::TimestampNs& value = lookup<fake_dora::TimestampNs>(parameters_, key, "timestamp");
  if (value.beyond_i64_ns) throw fake_dora::BridgeError("timestamp out of range for nanoseconds");
  return value.ns;
}
rust::Vec<rust::String> Metadata::list_keys() const noexcept {
  rust::Vec<rust::String> keys;
  for (const auto& entry : parameters_) keys.push_back(fake_dora::to_rust(entry.first));
  return keys;
}
void Metadata::set_bool(rust::Str key, bool value) { parameters_[std::string(key)] = value; }
void Metadata::set_int(rust::Str key, std::int64_t value) { parameters_[std::string(key)] = value; }
void Metadata::set_float(rust::Str key, double value) { parameters_[std::string(key)] = value; }
void Metadata::set_string(rust::Str key, rust::String value) { parameters_[std::string(key)] = std::string(value); }
void Metadata::set_list_int(rust::Str key, rust::Vec<std::int64_t> value) {
  parameters_[std::string(key)] = std::vector<std::int64_t>(value.begin(), value.end());
}
void Metadata::set_list_float(rust::Str key, rust::Vec<double> value) {
  parameters_[std::string(key)] = std::vector<double>(value.begin(), value.end());
}
void Metadata::set_list_string(rust::Str key, rust::Vec<rust::String> value) {
  std::vector<std::string> list;
  for (std::size_t i = 0; i < value.size(); ++i) list.emplace_back(value[i]);
  parameters_[std::string(key)] = std::move(list);
}
void Metadata::set_timestamp(rust::Str key, std::int64_t value) {
  parameters_[std::string(key)] = fake_dora::TimestampNs{value};
}
MetadataValueType Metadata::type(rust::Str key) const {
  const std::string name(key);
  const auto it = parameters_.find(name);
  if (it == parameters_.end()) throw fake_dora::BridgeError("metadata missing key '" + name + "'");
  return static_cast<MetadataValueType>(it->second.index());  // the variant follows the enum's order
}

rust::Box<Metadata> new_metadata() noexcept { return fake_dora::MetadataAccess::make(0, {}); }

#ifndef FAKE_DORA_RC3
DoraInputWithMetadata event_as_input_with_metadata(rust::Box<DoraEvent> event) {
  const fake_dora::FakeEvent& input = input_of(event);
  rust::Box<Metadata> metadata = fake_dora::MetadataAccess::make(input.timestamp_ntp64, input.parameters);
  DoraInputWithMetadata result{fake_dora::to_rust(input.id), fake_dora::to_rust_bytes(input.data), std::move(metadata)};
  fake_dora::g_last_input_buffer.store(result.data.data());
  return result;
}
#endif

DoraNodeFailed event_as_node_failed(rust::Box<DoraEvent> event) {
  if (event->event.type != DoraEventType::NodeFailed) throw fake_dora::BridgeError("not a NodeFailed event");
  rust::Vec<rust::String> affected;
  for (const std::string& id : event->event.affected) affected.push_back(fake_dora::to_rust(id));
  return DoraNodeFailed{std::move(affected), fake_dora::to_rust(event->event.error),
                        fake_dora::to_rust(event->event.id)};
}

DoraResult send_output_with_metadata(rust::Box<OutputSender>& output_sender, rust::String id,
                                     rust::Slice<const std::uint8_t> data, rust::Box<Metadata> metadata) noexcept {
  fake_dora::Script& script = *output_sender->script;
  {
    std::lock_guard lock(script.outputs_mutex);
    if (script.send_error) return DoraResult{fake_dora::to_rust(*std::exchange(script.send_error, std::nullopt))};
    script.sent.push_back(fake_dora::Sent{std::string(id), std::vector<std::uint8_t>(data.begin(), data.end()), true,
                                          std::move(fake_dora::MetadataAccess::parameters(*metadata)),
                                          fake_dora::now_ns()});
  }
  script.accepted.notify_all();
  return DoraResult{};
}

static_assert(std::variant_size_v<fake_dora::Parameter> == 8 &&
                  std::is_same_v<std::variant_alternative_t<7, fake_dora::Parameter>, fake_dora::TimestampNs>,
              "Metadata::type maps the variant index to MetadataValueType");
