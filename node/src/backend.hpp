// node/src/backend.hpp — the internal interface between the node API (dcp/node/node.hpp) and its backends.
//
// What it is for: EventStream and OutputSender are thin front ends. What actually delivers events and
// transmits outputs is a backend: the local runner client (runner_backend.cpp), the in-process test
// harness (harness.cpp), and later Dora's C++ API. A backend provides two halves, owned separately by
// the front ends so they can live on different threads:
//   EventSource  owned by the EventStream; called by one thread at a time (the event loop).
//   OutputSink   owned by the OutputSender; called by one thread at a time, possibly another thread
//                than the EventSource's, concurrently with it — but make_payload() by any thread,
//                concurrently with everything. Halves that share state (a socket, a store)
//                synchronize it themselves.
//
// The front ends do what is common to every backend: output ids are checked (declared, not closed),
// metadata limits are checked and the timestamp filled in, before the sink is called; the stream's
// statuses are mapped (`empty` for try_next) by EventStream.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dcp/core/detail/deadline.hpp"
#include "dcp/node/node.hpp"

namespace dcp::detail {

/// try_next's deadline: look once, never wait.
inline constexpr SteadyTime kPollOnly = SteadyTime::min();

class EventSource {
 public:
  virtual ~EventSource() = default;
  /// The next event, waiting at most until `deadline` (kNoDeadline: forever; kPollOnly: do not wait).
  /// Returns an event, EventStatus::timeout, or EventStatus::ended (and ended forever after that).
  /// Never throws for a lost connection: that is an ErrorEvent, then `ended`.
  virtual EventResult next(SteadyTime deadline) = 0;
};

class OutputSink {
 public:
  virtual ~OutputSink() = default;
  /// Transmits `data` on an output the front end has already validated. Throws NodeError when it
  /// cannot (connection lost).
  virtual void send(std::string_view output_id, std::span<const std::uint8_t> data, Metadata&& metadata) = 0;
  /// Transmits a payload; the default copies its bytes through send().
  virtual void send(std::string_view output_id, const Payload& payload, Metadata&& metadata) {
    send(output_id, payload.bytes(), std::move(metadata));
  }
  /// Transmits `size` bytes written by `fill` into the buffer that travels.
  virtual void send_with(std::string_view output_id, std::size_t size, FillRef fill, Metadata&& metadata) = 0;
  /// A payload of `size` (checked) bytes written by `fill`, in the buffer send(id, payload) passes on
  /// without a copy. Called from any thread, concurrently with the other members: it must only read
  /// immutable state. The default: an owned buffer (one allocation).
  virtual Payload make_payload(std::size_t size, FillRef fill) const;
  /// Closes validated, newly closed outputs.
  virtual void close_outputs(const std::vector<std::string>& output_ids) = 0;
};

/// Builds the front ends around a backend's halves.
struct NodeAccess {
  static EventStream make_events(std::vector<std::string> inputs, std::unique_ptr<EventSource> source);
  static OutputSender make_outputs(std::string node_id, std::vector<std::string> outputs,
                                   std::unique_ptr<OutputSink> sink);
};

}  // namespace dcp::detail
