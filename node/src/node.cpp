// The node API's front ends (see dcp/node/node.hpp): EventStream, OutputSender, init_node().
#include "dcp/node/node.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <memory>
#include <span>
#include <string>
#include <utility>

#include "backend.hpp"
#include "dcp/core/error_report.hpp"
#include "runner_backend.hpp"

#if defined(DCP_WITH_DORA)
#include "dora/dora_backend.hpp"  // built with a Dora build (src/dora/CMakeLists.txt, DCP_DORA_DIR)
#endif

namespace dcp {

namespace {

std::string comma_separated(const std::vector<std::string>& ids) {
  if (ids.empty()) return "none";
  std::string text;
  for (const auto& id : ids) {
    if (!text.empty()) text += ", ";
    text += id;
  }
  return text;
}

void check_metadata_limits(std::string_view output_id, const Metadata& metadata) {
  if (metadata.parameters.size() > kMaxParameters) {
    throw std::invalid_argument("output '" + std::string(output_id) + "': metadata has " +
                                std::to_string(metadata.parameters.size()) + " parameters, more than the limit of " +
                                std::to_string(kMaxParameters));
  }
  for (const auto& [key, value] : metadata.parameters) {
    if (key.size() > kMaxParameterKeyLength) {
      throw std::invalid_argument("output '" + std::string(output_id) + "': metadata parameter key '" +
                                  key.substr(0, 32) + "...' is " + std::to_string(key.size()) +
                                  " bytes long, more than the limit of " + std::to_string(kMaxParameterKeyLength));
    }
  }
}

// The node's error reporter: one line "dcp: <source>: <message>" on the node's stderr, written with
// one write(2) so lines from several threads never interleave (under `dcp run` it is printed as
// "[<id>!] dcp: ..."; under Dora it lands in the node's log). The count (dcp::reported_errors())
// travels to the runner separately (runner_backend.cpp).
void report_to_node_log(std::string_view source, std::string_view message) noexcept {
  char line[4096];
  const int length = std::snprintf(line, sizeof(line), "dcp: %.*s: %.*s\n", static_cast<int>(source.size()),
                                   source.data(), static_cast<int>(message.size()), message.data());
  if (length <= 0) return;
  std::size_t size = std::min(static_cast<std::size_t>(length), sizeof(line) - 1);
  if (static_cast<std::size_t>(length) >= sizeof(line)) line[size - 1] = '\n';  // cut, still one line
  const char* next = line;
  while (size > 0) {
    const ssize_t written = ::write(STDERR_FILENO, next, size);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return;
    next += written;
    size -= static_cast<std::size_t>(written);
  }
}

// Installs report_to_node_log unless the program installed a reporter of its own first.
void install_node_error_reporter() noexcept {
  const ErrorReporter previous = set_error_reporter(&report_to_node_log);
  if (previous != nullptr && previous != &report_to_node_log) set_error_reporter(previous);
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// EventStream
// ---------------------------------------------------------------------------------------------

EventStream::EventStream() noexcept = default;
EventStream::EventStream(std::vector<std::string> inputs, std::unique_ptr<detail::EventSource> source) noexcept
    : inputs_(std::move(inputs)), source_(std::move(source)) {}
EventStream::EventStream(EventStream&& other) noexcept = default;
EventStream& EventStream::operator=(EventStream&& other) noexcept = default;
EventStream::~EventStream() = default;

detail::EventSource& EventStream::source(const char* operation) const {
  if (!source_) throw std::logic_error(std::string("dcp::EventStream::") + operation + ": used after move");
  return *source_;
}

EventResult EventStream::next() { return source("next").next(detail::kNoDeadline); }

EventResult EventStream::receive(detail::SteadyTime deadline, const char* operation) {
  return source(operation).next(deadline);
}

EventResult EventStream::try_next() {
  EventResult result = source("try_next").next(detail::kPollOnly);
  if (result.is_timeout()) return EventResult(EventStatus::empty);
  return result;
}

const std::vector<std::string>& EventStream::inputs() const {
  source("inputs");
  return inputs_;
}

// ---------------------------------------------------------------------------------------------
// OutputSender
// ---------------------------------------------------------------------------------------------

OutputSender::OutputSender() noexcept = default;
OutputSender::OutputSender(std::string node_id, std::vector<std::string> outputs,
                           std::unique_ptr<detail::OutputSink> sink) noexcept
    : node_id_(std::move(node_id)),
      outputs_(std::move(outputs)),
      closed_(outputs_.size(), false),
      sink_(std::move(sink)) {}
OutputSender::OutputSender(OutputSender&& other) noexcept = default;
OutputSender& OutputSender::operator=(OutputSender&& other) noexcept = default;
OutputSender::~OutputSender() = default;

detail::OutputSink& OutputSender::sink(const char* operation) const {
  if (!sink_) throw std::logic_error(std::string("dcp::OutputSender::") + operation + ": used after move");
  return *sink_;
}

detail::OutputSink& OutputSender::prepare(std::string_view output_id, std::size_t size, Metadata& metadata,
                                          const char* operation) {
  detail::OutputSink& target = sink(operation);
  const auto it = std::find(outputs_.begin(), outputs_.end(), output_id);
  if (it == outputs_.end()) {
    throw NodeError("output '" + std::string(output_id) + "' is not declared by node '" + node_id_ +
                    "' (declared outputs: " + comma_separated(outputs_) + ")");
  }
  if (closed_[static_cast<std::size_t>(it - outputs_.begin())]) {
    throw NodeError("output '" + std::string(output_id) + "' of node '" + node_id_ +
                    "' is closed (close_outputs was called for it)");
  }
  if (size > kMaxPayloadSize) {
    throw std::invalid_argument("output '" + std::string(output_id) + "': a payload of " + std::to_string(size) +
                                " bytes is larger than the limit of " + std::to_string(kMaxPayloadSize) + " bytes");
  }
  check_metadata_limits(output_id, metadata);
  if (metadata.timestamp_ns == 0) metadata.timestamp_ns = now_ns();
  return target;
}

void OutputSender::send(std::string_view output_id, std::span<const std::uint8_t> data, Metadata metadata) {
  prepare(output_id, data.size(), metadata, "send").send(output_id, data, std::move(metadata));
}

void OutputSender::send(std::string_view output_id, std::string_view text, Metadata metadata) {
  const auto* first = reinterpret_cast<const std::uint8_t*>(text.data());
  send(output_id, std::span<const std::uint8_t>(first, text.size()), std::move(metadata));
}

void OutputSender::send(std::string_view output_id, const Payload& payload, Metadata metadata) {
  prepare(output_id, payload.size(), metadata, "send").send(output_id, payload, std::move(metadata));
}

void OutputSender::send_with_impl(std::string_view output_id, std::size_t size, detail::FillRef fill,
                                  Metadata metadata) {
  prepare(output_id, size, metadata, "send_with").send_with(output_id, size, fill, std::move(metadata));
}

Payload OutputSender::make_payload_impl(std::size_t size, detail::FillRef fill) const {
  const detail::OutputSink& target = sink("make_payload");
  if (size > kMaxPayloadSize) {
    throw std::invalid_argument("dcp::OutputSender::make_payload: a payload of " + std::to_string(size) +
                                " bytes is larger than the limit of " + std::to_string(kMaxPayloadSize) + " bytes");
  }
  return target.make_payload(size, fill);
}

namespace detail {
Payload OutputSink::make_payload(std::size_t size, FillRef fill) const {
  if (size == 0) {
    fill(std::span<std::uint8_t>());
    return Payload();
  }
#if defined(__cpp_lib_smart_ptr_for_overwrite)
  // One allocation for the control block and the bytes, left uninitialised for fill.
  std::shared_ptr<std::uint8_t[]> bytes = std::make_shared_for_overwrite<std::uint8_t[]>(size);
#else
  std::shared_ptr<std::uint8_t[]> bytes(new std::uint8_t[size]);
#endif
  fill(std::span<std::uint8_t>(bytes.get(), size));
  const std::span<const std::uint8_t> view(bytes.get(), size);
  return PayloadAccess::adopt(std::move(bytes), view);
}
}  // namespace detail

void OutputSender::close_ids(const std::vector<std::string_view>& output_ids) {
  detail::OutputSink& target = sink("close_outputs");
  std::vector<std::size_t> indices;
  for (const std::string_view id : output_ids) {  // validate all first: all or nothing
    const auto it = std::find(outputs_.begin(), outputs_.end(), id);
    if (it == outputs_.end()) {
      throw NodeError("cannot close output '" + std::string(id) + "': it is not declared by node '" + node_id_ +
                      "' (declared outputs: " + comma_separated(outputs_) + ")");
    }
    indices.push_back(static_cast<std::size_t>(it - outputs_.begin()));
  }
  std::vector<std::string> newly_closed;
  for (const std::size_t i : indices) {
    if (closed_[i]) continue;
    if (std::find(newly_closed.begin(), newly_closed.end(), outputs_[i]) == newly_closed.end()) {
      newly_closed.push_back(outputs_[i]);
    }
  }
  if (newly_closed.empty()) return;
  target.close_outputs(newly_closed);
  for (const std::size_t i : indices) closed_[i] = true;
}

void OutputSender::close_outputs(std::span<const std::string> output_ids) {
  close_ids(std::vector<std::string_view>(output_ids.begin(), output_ids.end()));
}

void OutputSender::close_outputs(std::initializer_list<std::string_view> output_ids) {
  close_ids(std::vector<std::string_view>(output_ids));
}

const std::vector<std::string>& OutputSender::outputs() const {
  sink("outputs");
  return outputs_;
}

const std::string& OutputSender::node_id() const {
  sink("node_id");
  return node_id_;
}

bool OutputSender::is_closed(std::string_view output_id) const {
  sink("is_closed");
  const auto it = std::find(outputs_.begin(), outputs_.end(), output_id);
  return it != outputs_.end() && closed_[static_cast<std::size_t>(it - outputs_.begin())];
}

// ---------------------------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------------------------

EventStream detail::NodeAccess::make_events(std::vector<std::string> inputs, std::unique_ptr<EventSource> source) {
  return EventStream(std::move(inputs), std::move(source));
}

OutputSender detail::NodeAccess::make_outputs(std::string node_id, std::vector<std::string> outputs,
                                              std::unique_ptr<OutputSink> sink) {
  return OutputSender(std::move(node_id), std::move(outputs), std::move(sink));
}

namespace {
// The runner's start deadline (DCP_START_TIMEOUT_MS, milliseconds), if it told one.
std::optional<std::chrono::milliseconds> start_timeout_from_environment() {
  const char* text = std::getenv("DCP_START_TIMEOUT_MS");
  if (text == nullptr || *text == '\0') return std::nullopt;
  std::uint64_t value = 0;
  const char* end = text + std::strlen(text);
  const auto [stop, error] = std::from_chars(text, end, value);
  // At most 30 days (the runner's duration limit), so adding the margin cannot overflow.
  if (error != std::errc() || stop != end || value == 0 || value > 30ull * 24 * 3600 * 1000) {
    throw NodeError(std::string("dcp: DCP_START_TIMEOUT_MS is '") + text +
                    "', not a number of milliseconds between 1 and 30 days (it is set by `dcp run --start-timeout`)");
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(value));
}

// The descriptor number in DCP_NODE_FD.
int inherited_connection_from(const char* text) {
  int fd = -1;
  const char* end = text + std::strlen(text);
  const auto [stop, error] = std::from_chars(text, end, fd);
  if (error != std::errc() || stop != end || fd < 0) {
    throw NodeError(std::string("dcp: DCP_NODE_FD is '") + text +
                    "', not a descriptor number (it is set by `dcp run`, with the connection it gives the node)");
  }
  return fd;
}

std::optional<std::chrono::milliseconds> handshake_timeout_for(std::optional<std::chrono::milliseconds> start_timeout) {
  if (!start_timeout) return std::nullopt;
  return *start_timeout + kHandshakeMargin;
}

}  // namespace

Node init_node() {
  install_node_error_reporter();
  const char* inherited = std::getenv("DCP_NODE_FD");
  const char* socket = std::getenv("DCP_RUNNER_SOCKET");
  const bool has_inherited = inherited != nullptr && *inherited != '\0';
  const bool has_socket = socket != nullptr && *socket != '\0';
  if (!has_inherited && !has_socket) {
    // Dora's daemon gives every node it starts its configuration in DORA_NODE_CONFIG (docs/dora.md).
    const char* dora_config = std::getenv("DORA_NODE_CONFIG");
    if (dora_config != nullptr && *dora_config != '\0') {
#if defined(DCP_WITH_DORA)
      return detail::connect_dora_backend(dora_config);
#else
      throw NodeError(
          "dcp: this node was started by Dora (DORA_NODE_CONFIG is set), but this build of dcp has no Dora "
          "backend. Configure dcp with -DDCP_DORA_DIR=<a build of Dora's C++ node API> and rebuild the node "
          "(see docs/dora.md).");
#endif
    }
    throw NodeError(
        "dcp: this program is a dataflow node and must be started by a runner, but neither DCP_NODE_FD nor "
        "DCP_RUNNER_SOCKET is set. Declare it in a dataflow file and run the dataflow with `dcp run dataflow.yml` (or with "
        "`dora run`, when dcp is built with its Dora backend: see docs/dora.md). For unit tests without "
        "processes, use dcp::testing::NodeHarness (<dcp/node/node_harness.hpp>).");
  }
  const std::string given = has_inherited ? std::string("DCP_NODE_FD is set (") + inherited + ")"
                                          : std::string("DCP_RUNNER_SOCKET is set (") + socket + ")";
  const char* node_id = std::getenv("DCP_NODE_ID");
  if (node_id == nullptr || *node_id == '\0') {
    throw NodeError("dcp: " + given + " but DCP_NODE_ID is not: the node must be started by `dcp run`, which sets both");
  }
  const char* secret = std::getenv("DCP_NODE_SECRET");
  if (secret == nullptr) {
    throw NodeError("dcp: " + given + " but DCP_NODE_SECRET is not: the node must be started by `dcp run`, which sets both");
  }
  const auto start_timeout = start_timeout_from_environment();
  if (has_inherited) {
    return detail::connect_inherited_runner_backend(inherited_connection_from(inherited), node_id, secret,
                                                    handshake_timeout_for(start_timeout));
  }
  return connect_to_runner(socket, node_id, secret, start_timeout);
}

Node connect_to_runner(const std::filesystem::path& socket_path, std::string_view node_id, std::string_view secret,
                       std::optional<std::chrono::milliseconds> start_timeout) {
  return detail::connect_runner_backend(socket_path, node_id, secret, handshake_timeout_for(start_timeout));
}

}  // namespace dcp
