// hop_sink — the receiving node of the "one hop through the runner" benchmark (docs/benchmarks.md).
//
//   hop_sink mode=latency|throughput size=BYTES count=N [warmup=W] [ack_every=K] [full_every=F] out=FILE
//
// Receives hop_source's messages on input `data` and acknowledges them on output `ack`. Every message
// is checked: sequence numbers 0..count-1 in order with none missing (the runner drops the oldest
// message of a full queue, which would show here), the size, shared memory exactly from 4 KiB on,
// the header, and the pattern (hop_common.hpp): sampled — first and last 64 bytes and one word per
// 4 KiB page — for every message, every byte for message 0 and every `full_every`-th.
//
//   latency      per message: one-hop latency = the moment next() returned it - `t` (the source's
//                steady-clock time just before send_with), recorded after the first `warmup`
//                messages; then the checks, releasing the payload, and an ack carrying `seq` and
//                `busy` (the time from receipt to the ack, which the source subtracts from its round
//                trip). From the payload header it also splits the hop: before the fill (allocating
//                the memfd), the fill itself, and from the end of the fill to receipt (sealing, the
//                two socket hops, the runner, mapping).
//   throughput   acks cumulatively every `ack_every` messages and at the last one; measures
//                messages/s and bytes/s from the receipt of message `warmup` to that of the last.
//
// Exits at AllInputsClosed (or Stop) after writing one JSON line to `out`: status 0 if all `count`
// messages arrived intact and in order, 1 otherwise (and a line on stderr saying what was wrong).
#include <dcp/node/node.hpp>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <variant>
#include <vector>

#include "hop_common.hpp"

namespace {

using dcp_bench::now_ns;

constexpr std::size_t kSharedMemoryThreshold = 4096;  // the local runner's inline limit

struct Failures {
  std::int64_t count = 0;
  void add(const std::string& what) {
    if (count++ < 10) std::fprintf(stderr, "hop_sink: %s\n", what.c_str());
  }
};

}  // namespace

int main(int argc, char** argv) {
  const dcp_bench::Args args(argc, argv, "hop_sink");
  const dcp_bench::HopArgs hop = dcp_bench::hop_args(args);
  const auto& [mode, size, count, warmup, out] = hop;
  const std::int64_t ack_every = args.number("ack_every", 1);
  const std::int64_t full_every = args.number("full_every", 16);
  if (ack_every < 1 || full_every < 1) args.fail("need ack_every >= 1, full_every >= 1");
  const bool latency = mode == "latency";

  try {
    dcp::Node node = dcp::init_node();
    std::vector<std::int64_t> hop_ns, before_fill_ns, fill_ns, after_fill_ns, busy_ns;
    if (latency) {
      for (auto* samples : {&hop_ns, &before_fill_ns, &fill_ns, &after_fill_ns, &busy_ns}) {
        samples->reserve(static_cast<std::size_t>(count));
      }
    }
    Failures failures;
    std::int64_t expected = 0, full_checks = 0, first_ns = 0, last_ns = 0;
    bool stopped = false;

    for (dcp::Event& event : node.events) {
      auto* input = std::get_if<dcp::InputEvent>(&event);
      if (input == nullptr) {
        if (std::holds_alternative<dcp::StopEvent>(event)) stopped = true;
        if (auto* error = std::get_if<dcp::ErrorEvent>(&event)) failures.add("error event: " + error->message);
        continue;
      }
      const std::int64_t t_receive = now_ns();
      const std::int64_t seq = input->metadata.get_int("seq").value_or(-1);
      const std::int64_t t_send = input->metadata.get_int("t").value_or(0);
      const auto bytes = input->data.bytes();

      if (input->id != "data") failures.add("unexpected input '" + input->id + "'");
      if (seq != expected) {
        failures.add("message " + std::to_string(seq) + " where " + std::to_string(expected) + " was expected");
      }
      expected = seq + 1;  // report each gap once
      const dcp_bench::Header header = dcp_bench::read_header(bytes);
      if (bytes.size() != size) {
        failures.add("message " + std::to_string(seq) + " has " + std::to_string(bytes.size()) + " bytes, not " +
                     std::to_string(size));
      } else if (input->data.is_shared_memory() != (size >= kSharedMemoryThreshold)) {
        failures.add("message " + std::to_string(seq) + (input->data.is_shared_memory() ? " came" : " did not come") +
                     " through shared memory");
      } else {
        const bool full = seq % full_every == 0;
        full_checks += full ? 1 : 0;
        const std::size_t first = size >= dcp_bench::kHeaderBytes ? dcp_bench::kHeaderBytes : 0;
        if ((first != 0 && header.seq != static_cast<std::uint64_t>(seq)) ||
            !dcp_bench::check_pattern(bytes, static_cast<std::uint64_t>(seq), first, full)) {
          failures.add("message " + std::to_string(seq) + ": payload does not match its pattern");
        }
      }

      if (latency) {
        if (seq >= warmup) {
          hop_ns.push_back(t_receive - t_send);
          if (size >= dcp_bench::kHeaderBytes) {
            before_fill_ns.push_back(header.fill_begin_ns - t_send);
            fill_ns.push_back(header.fill_end_ns - header.fill_begin_ns);
            after_fill_ns.push_back(t_receive - header.fill_end_ns);
          }
        }
        input->data = dcp::Payload();  // unmap (and, as the last holder, free) before the ack
        dcp::Metadata ack;
        ack.parameters["seq"] = seq;
        auto& busy = ack.parameters["busy"];
        const std::int64_t busy_for = now_ns() - t_receive;
        busy = busy_for;
        if (seq >= warmup) busy_ns.push_back(busy_for);
        node.outputs.send("ack", std::string_view(), std::move(ack));
      } else {
        if (seq == warmup) first_ns = t_receive;
        if (seq == count - 1) last_ns = t_receive;
        if ((seq + 1) % ack_every == 0 || seq == count - 1) {
          dcp::Metadata ack;
          ack.parameters["seq"] = seq;
          node.outputs.send("ack", std::string_view(), std::move(ack));
        }
      }
    }

    if (stopped) failures.add("stopped (Stop event) before the source ended");
    if (expected != count) {
      failures.add("received up to message " + std::to_string(expected - 1) + ", expected " + std::to_string(count - 1));
    }

    dcp_bench::JsonLine line = hop.json_line("sink");
    line.field("received", expected).field("full_checks", full_checks).field("failures", failures.count);
    if (latency) {
      line.field("hop_ns", hop_ns).field("before_fill_ns", before_fill_ns).field("fill_ns", fill_ns)
          .field("after_fill_ns", after_fill_ns).field("busy_ns", busy_ns);
    } else {
      const std::int64_t measured = count - 1 - warmup;
      const double seconds = static_cast<double>(last_ns - first_ns) / 1e9;
      line.field("measured_messages", measured).field("seconds", seconds)
          .field("msgs_per_sec", seconds > 0 ? static_cast<double>(measured) / seconds : 0.0)
          .field("bytes_per_sec", seconds > 0 ? static_cast<double>(measured) * static_cast<double>(size) / seconds : 0.0);
    }
    dcp_bench::write_lines(out, line.str());
    return failures.count == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hop_sink: %s\n", e.what());
    return 1;
  }
}
