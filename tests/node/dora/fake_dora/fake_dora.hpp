// tests/node/dora/fake_dora/fake_dora.hpp — scripting the fake Dora node API (dora-node-api.h here).
//
// What it is for: tests of dcp's Dora adapter queue the events "Dora" delivers, look at what the
// node sent and closed, and inject Dora's errors:
//
//   fake_dora::reset();                                   // a fresh script for this test
//   fake_dora::push_input("scan", {1, 2, 3}, fake_dora::ntp64(1'700'000'000, 0), {{"frame", std::int64_t{7}}});
//   fake_dora::push(DoraEventType::Stop);
//   dcp::Node node = dcp::init_node();                    // with DORA_NODE_CONFIG set
//   ... node.outputs.send("obstacles", "x");
//   ASSERT_TRUE(fake_dora::wait_for_sends(1, 10s));
//   EXPECT_EQ(fake_dora::sent()[0].id, "obstacles");
//
// The script. init_dora_node() binds the node's two boxes to the current script; reset() starts a
// new one (nodes of earlier scripts keep theirs). Events are delivered in the order pushed; once the
// queue is empty and close_stream() was called, every receive returns AllInputsClosed (as Dora does
// when its stream has ended). next_event blocks until there is an event; next_event_timeout waits at
// most its timeout and returns Timeout; try_next_event returns Empty.
//
// Thread safety: every function here may be called from any thread, concurrently with the node
// using its boxes on other threads (events and outputs have separate locks, like Dora's halves).
// Blocking: wait_for_sends at most its timeout; nothing else blocks.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "dora-node-api.h"

namespace fake_dora {

/// Dora's timestamp format (uhlc NTP64): seconds since the UNIX epoch, then 2^-32 s fractions.
constexpr std::uint64_t ntp64(std::uint32_t seconds, std::uint32_t fraction) noexcept {
  return (std::uint64_t{seconds} << 32) | fraction;
}

/// One send_output / send_output_with_metadata call that Dora accepted.
struct Sent {
  std::string id;
  std::vector<std::uint8_t> data;
  bool with_metadata = false;  ///< send_output_with_metadata was used
  Parameters parameters;       ///< the metadata's parameters (with_metadata only)
  /// When the fake accepted the send: the system clock in ns since the UNIX epoch, taken under the
  /// lock that appends to sent(), so sent() is in timestamp order. Dora stamps every message with
  /// its clock when it is sent; this is the timestamp a receiver would see.
  std::int64_t timestamp_ns = 0;
};

/// How often each receive function was called (and the timeouts given to next_event_timeout).
struct Calls {
  std::size_t init = 0;
  std::size_t next_event = 0;
  std::size_t next_event_timeout = 0;
  std::size_t try_next_event = 0;
  std::vector<std::uint64_t> timeouts_ms;
  [[nodiscard]] std::size_t receives() const noexcept { return next_event + next_event_timeout + try_next_event; }
};

/// A fresh script: no events, nothing captured, no injected errors.
void reset();

/// The next init_dora_node() throws (an exception derived from std::exception, what() == error).
void fail_init(std::string error);

// --- events, delivered in the order pushed -------------------------------------------------------

void push_input(std::string id, std::vector<std::uint8_t> data, std::uint64_t timestamp_ntp64 = 0,
                Parameters parameters = {});
/// An input Dora cannot give as bytes: event_as_input(_with_metadata) throws (std::exception, what() == error).
void push_input_not_bytes(std::string id, std::string error);
/// An event without payload: Stop, InputClosed, Error, Unknown, AllInputsClosed or Reload.
void push(DoraEventType type);
void push_node_failed(std::string source_node_id, std::string error, std::vector<std::string> affected_input_ids);
/// The stream ends once the queue is empty: from then on every receive returns AllInputsClosed.
void close_stream();

[[nodiscard]] Calls calls();
/// data() of the rust::Vec that the last event_as_input(_with_metadata) returned.
[[nodiscard]] const std::uint8_t* last_input_buffer();

// --- outputs ---------------------------------------------------------------------------------------

[[nodiscard]] std::vector<Sent> sent();
/// Waits until at least `count` sends were accepted; false on timeout.
bool wait_for_sends(std::size_t count, std::chrono::milliseconds timeout);
/// Each accepted close_outputs call, with its ids.
[[nodiscard]] std::vector<std::vector<std::string>> closed();
/// The next send (either function) returns DoraResult{error} and sends nothing.
void fail_next_send(std::string error);
/// The next close_outputs returns DoraResult{error} and closes nothing.
void fail_next_close(std::string error);

}  // namespace fake_dora
