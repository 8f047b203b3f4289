// hop_source — the sending node of the "one hop through the runner" benchmark (docs/benchmarks.md).
//
//   hop_source mode=latency|throughput size=BYTES count=N [warmup=W] [window=K] out=FILE
//
// Sends `count` messages of `size` bytes on output `data`, numbered 0..count-1, and reads the sink's
// acknowledgements on input `ack`. Every payload is written by OutputSender::send_with straight into
// the buffer that is sent (a sealed memfd from 4 KiB on; see hop_common.hpp for its layout). The
// metadata carries `seq` and `t`, the steady-clock time taken just before send_with is called.
//
//   latency      one message at a time: send, then wait for the sink's ack of that message (the
//                next send waits for it). Records the round trip: ack received - t - the time the
//                sink spent between receiving the message and sending the ack (`busy` in the ack's
//                metadata: its checks and releasing the payload), so it counts only the two hops.
//   throughput   back to back, with at most `window` messages not yet acknowledged (the sink acks
//                cumulatively every few messages): the flow control that keeps the sink's input
//                queue from overflowing (the runner drops the oldest message of a full queue).
//
// Writes one JSON line to `out` and exits 0, or exits 1 if the run breaks off (the stream ends, Stop,
// or an ack out of order). The first `warmup` round trips are not recorded.
#include <dcp/node/node.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "hop_common.hpp"

namespace {

using dcp_bench::now_ns;

struct Ack {
  std::int64_t seq = -1;
  std::int64_t busy_ns = 0;
  std::int64_t received_ns = 0;
};

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "hop_source: %s\n", message.c_str());
  std::exit(1);
}

/// Blocks until the next ack; anything else that ends the run is a failure.
Ack next_ack(dcp::EventStream& events) {
  for (;;) {
    dcp::EventResult result = events.next();
    if (!result.ok()) fail("the event stream ended while waiting for an ack");
    dcp::Event& event = *result;
    if (auto* input = std::get_if<dcp::InputEvent>(&event)) {
      const std::int64_t received = now_ns();
      if (input->id != "ack") fail("unexpected input '" + input->id + "'");
      const auto seq = input->metadata.get_int("seq");
      if (!seq) fail("an ack without 'seq'");
      return Ack{*seq, input->metadata.get_int("busy").value_or(0), received};
    }
    if (std::holds_alternative<dcp::StopEvent>(event)) fail("stopped before the run was complete");
    if (auto* error = std::get_if<dcp::ErrorEvent>(&event)) fail("error event: " + error->message);
    if (std::holds_alternative<dcp::InputClosedEvent>(event) || std::holds_alternative<dcp::AllInputsClosedEvent>(event)) {
      fail("the sink's ack output closed before the run was complete");
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const dcp_bench::Args args(argc, argv, "hop_source");
  const dcp_bench::HopArgs hop = dcp_bench::hop_args(args);
  const auto& [mode, size, count, warmup, out] = hop;
  const std::int64_t window = args.number("window", 64);
  if (window < 1) args.fail("need window >= 1");

  try {
    dcp::Node node = dcp::init_node();
    std::vector<std::int64_t> round_trip_ns, send_call_ns;
    round_trip_ns.reserve(static_cast<std::size_t>(count));
    send_call_ns.reserve(static_cast<std::size_t>(count));
    std::int64_t acked = -1;  // highest sequence number acknowledged
    std::int64_t first_send_ns = 0;

    for (std::int64_t seq = 0; seq < count; ++seq) {
      if (mode == "throughput") {
        while (seq - acked > window) acked = std::max(acked, next_ack(node.events).seq);
      }
      dcp::Metadata metadata;
      metadata.parameters["seq"] = seq;
      auto& sent_at = metadata.parameters["t"];
      const std::int64_t t_send = now_ns();
      sent_at = t_send;
      node.outputs.send_with(
          "data", size,
          [&](std::span<std::uint8_t> bytes) {
            const std::int64_t fill_begin = now_ns();
            dcp_bench::fill_pattern(bytes, static_cast<std::uint64_t>(seq));
            dcp_bench::write_header(bytes, {static_cast<std::uint64_t>(seq), fill_begin, now_ns()});
          },
          std::move(metadata));
      const std::int64_t t_sent = now_ns();
      if (seq == 0) first_send_ns = t_send;
      if (seq >= warmup) send_call_ns.push_back(t_sent - t_send);

      if (mode == "latency") {
        const Ack ack = next_ack(node.events);
        if (ack.seq != seq) fail("ack for " + std::to_string(ack.seq) + " while waiting for " + std::to_string(seq));
        acked = ack.seq;
        if (seq >= warmup) round_trip_ns.push_back(ack.received_ns - t_send - ack.busy_ns);
      }
    }
    while (acked < count - 1) acked = std::max(acked, next_ack(node.events).seq);
    const std::int64_t last_ack_ns = now_ns();

    dcp_bench::JsonLine line = hop.json_line("source");
    line.field("window", window).field("elapsed_ns", last_ack_ns - first_send_ns)
        .field("send_call_ns", send_call_ns);
    if (mode == "latency") line.field("round_trip_ns", round_trip_ns);
    dcp_bench::write_lines(out, line.str());
    return 0;
  } catch (const std::exception& e) {
    fail(e.what());
  }
}
