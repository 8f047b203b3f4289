// dcp/patterns/output_handler.hpp — one thread owns the node's OutputSender; every other thread sends
// through it.
//
// What it is for: a Dora node's OutputSender may be used by one thread at a time, but results come
// from everywhere — the event loop, worker-pool tasks, background jobs. An OutputHandler takes the
// sender over, starts the one thread that uses it, and lets any thread queue outputs for it:
//
//   dcp::Node node = dcp::init_node();
//   dcp::OutputHandler outputs(std::move(node.outputs), {.capacity = 256, .status = &status});
//   pool.post([&outputs, scan] { outputs.send("obstacles", detect(scan)); });   // any thread
//   outputs.send("status", "ready");                                         // text works too
//   outputs.send_priority("safety_state", "halt");        // overtakes everything queued
//   outputs.send_with("image", image_size, [&](std::span<std::uint8_t> out) { render(out); });  // no copy
//   ...
//   outputs.shutdown();                                   // drain; or let the destructor do it
//
// Lanes. Outputs wait in one of two bounded dcp channels:
//   - the normal lane (Options::capacity, Options::overflow): send(). When it is full,
//     Overflow::drop_oldest drops the oldest queued output (send reports queued_dropped_oldest),
//     Overflow::drop_newest drops the one being sent (send reports dropped), Overflow::block makes
//     send() wait for room;
//   - the priority lane (Options::priority_capacity, always drop_oldest): send_priority(). The
//     handler thread always takes the priority lane first, so a priority output overtakes every
//     normal output still queued. It is meant for few, small, idempotent outputs (a halt).
// Outputs of one lane are sent in the order they were queued (per producer thread: in program
// order). Nothing orders outputs of different lanes except "priority first".
//
// Epoch gate (what dcp::EmergencyStop builds on). send() may tag an output with an epoch (any value
// but kUntagged, at most kMaxEpoch). Until set_epoch() is first called every output passes; after
// that a tagged output e passes iff the gate is not latched and e == current. The gate is checked on
// the handler thread right before the output would be sent; an output that does not pass is
// dropped and counted as `stale`. Untagged and priority outputs are never gated. The gate is one
// atomic word (epoch and latch read together), so:
//   - every output the handler thread takes from a lane after set_epoch(c, l) has returned is
//     judged by (c, l) or by a later set_epoch;
//   - the e-stop guarantee: if set_epoch(E + 1, true) returns before send_priority(halt) is called
//     (on the same thread, or otherwise ordered before it), then no output tagged with an epoch
//     <= E + 1 is sent after the halt — provided no later set_epoch() moves `current` back to an
//     epoch <= E (epochs only grow). At most one tagged output is still inside OutputSender::send
//     when set_epoch returns; it is sent before the halt, never after.
//
// Errors. An output id the node does not declare is a programming error: send*() throw
// dcp::NodeError at once, in the caller (the message names the id and lists the declared outputs).
// Everything else is a result (OutputStatus), never an exception. When OutputSender::send throws on
// the handler thread (connection lost, metadata beyond the limits, output closed), the output is
// counted `failed` and the error is delivered there with dcp::deliver_error (<dcp/core/error_report.hpp>):
// source "output handler '<node id>'", message "send of output '<id>' failed: <what>". That calls
// Options::on_error when set, else dcp::report_error — by default the node's log, and under `dcp run`
// the run's summary counts the lost output and the run fails. Then the handler goes on. A throwing
// on_error is reported itself (deliver_error), so no failure vanishes.
//
// Metadata: passed on untouched; a zero timestamp_ns is filled in by the OutputSender when the
// output is actually sent, so downstream sees the real send time.
//
// Status (Options::status): for every declared output <id>, counters output.<id>.sent,
// output.<id>.dropped (overflow policy), output.<id>.failed, output.<id>.stale, the histogram
// output.<id>.latency (queued -> OutputSender::send returned, sent outputs only), and the gauge
// output.queue (outputs waiting in the normal lane). Metrics are looked up once, in the constructor.
//
// Shutdown. shutdown(ShutdownMode::drain) (the default) closes both lanes, sends everything still
// queued (priority lane first) and joins the thread; shutdown(ShutdownMode::cancel) closes both lanes,
// drops what is queued (counted Stats::discarded) and joins. Both are idempotent and may run on several
// threads at once; cancel escalates a drain in progress. The results are read through stats().
// Called on the handler thread itself (inside on_error) shutdown() starts the shutdown and returns
// without joining (the thread is a detail::OwnedThread: <dcp/patterns/detail/owned_thread.hpp>).
// The destructor runs shutdown(ShutdownMode::drain); destroying the handler from its own thread
// (inside on_error) is a programming error: reported with dcp::report_error (source
// "thread '<Options::name>'"), then the process aborts.
//
// After shutdown — one rule for every dcp pattern. Once shutdown() has begun:
//   - a call that submits work (here: send(), send_with(), send_priority()) never blocks and never
//     throws for a declared id; it returns its refusal (OutputStatus::closed) and is counted in
//     stats().refused_after_shutdown (a producer blocked in send() on a full Overflow::block lane
//     wakes up with closed, counted too; send_with() does not call its fill);
//   - a configuration call throws std::logic_error naming the class and member (here: none);
//   - shutdown() again is a no-op (cancel may escalate a drain);
//   - stats(), outputs(), realtime(), set_epoch() and flush_for() (which returns at once once
//     everything is done) keep working.
//
// Ownership: the OutputHandler owns the OutputSender for its whole life (only the handler thread
// sends through it; send_with() only asks it for a buffer, OutputSender::make_payload, which any
// thread may do) and destroys it in its own destructor, after the thread has been joined. There is no way
// to get the sender back.
//
// Thread safety: send(), send_with(), send_priority(), set_epoch(), stats(), flush_for(), shutdown()
// and outputs() may be called from any thread concurrently — except that flush_for() throws
// std::logic_error on the handler thread itself (inside on_error), where it would wait for itself.
// The destructor must not race with any other call. on_error runs on the handler thread.
// Blocking: send() and send_with() (which also runs fill) only on a full Overflow::block lane, until there is room or shutdown (called on
// the handler thread, it never waits: a full lane then drops the output, reported as dropped);
// flush_for() at most its timeout; shutdown() (off the handler thread) and the destructor until the
// thread is joined (which waits for the OutputSender::send in progress). Everything else returns at once.
// Cost per output: no allocation for the output id (an index into the declared outputs travels);
// send(id, text) and send(id, bytes) make one allocation and one copy of the bytes; send(id, Payload)
// makes none; send_with(id, size, fill) copies nothing: fill writes, on the calling thread, into the
// buffer the node's backend sends (OutputSender::make_payload: shared memory for >= 4 KiB under
// `dcp run`), and the handler thread sends that buffer as it is. The lanes are preallocated rings.
// Bodies: patterns/src/output_handler.cpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "dcp/core/channel.hpp"  // kMaxCapacity, the bound of the lanes
#include "dcp/core/error_report.hpp"
#include "dcp/core/overflow.hpp"
#include "dcp/core/shutdown.hpp"
#include "dcp/node/metadata.hpp"
#include "dcp/node/node.hpp"
#include "dcp/node/payload.hpp"
#include "dcp/patterns/status.hpp"

namespace dcp {

/// The epoch tag of an output that is never gated.
inline constexpr std::uint64_t kUntagged = 0;

/// Largest epoch the gate can hold (62 bits; the other two bits of the gate word are flags).
inline constexpr std::uint64_t kMaxEpoch = (std::uint64_t{1} << 62) - 1;

/// What happened to an output handed to send() / send_priority().
enum class OutputStatus {
  queued,                 ///< queued for the handler thread
  queued_dropped_oldest,  ///< queued; the oldest queued output of the lane was dropped to make room
  dropped,                ///< this output was dropped: its lane is full (drop_newest, or send on the handler thread)
  closed,                 ///< the handler is shut down: not sent (counted refused_after_shutdown)
};

constexpr const char* to_string(OutputStatus status) noexcept {
  switch (status) {
    case OutputStatus::queued: return "queued";
    case OutputStatus::queued_dropped_oldest: return "queued_dropped_oldest";
    case OutputStatus::dropped: return "dropped";
    case OutputStatus::closed: return "closed";
  }
  return "unknown";
}

/// The options of a OutputHandler (OutputHandler::Options; declared outside the class so that `Options options = {}`
/// works as a default argument — GCC cannot use a nested struct's member initializers there).
struct OutputHandlerOptions {
  /// Bound of the normal lane: 1 .. dcp::kMaxCapacity.
  std::size_t capacity = 1024;
  /// What send() does when the normal lane is full: drop_oldest, drop_newest, or block (wait).
  Overflow overflow = Overflow::drop_oldest;
  /// Bound of the priority lane (always drop_oldest: priority outputs such as halts are
  /// idempotent, the newest matters): 1 .. dcp::kMaxCapacity.
  std::size_t priority_capacity = 64;
  /// Name of the handler thread (truncated to 15 characters).
  std::string name = "dcp-output";
  /// Optional status board (<dcp/patterns/status.hpp>); must outlive the handler.
  StatusBoard* status = nullptr;
  /// Called on the handler thread with (source, message) when OutputSender::send throws (see
  /// "Errors"); then the handler goes on. Unset: dcp::report_error (the node's log, the run's summary).
  ErrorCallback on_error = nullptr;
  /// 0: the handler thread keeps the default scheduling. 1..99: it asks for SCHED_FIFO at this
  /// priority, so that a halt on the priority lane preempts busy workers instead of waiting for a
  /// time slice on a saturated machine. Needs CAP_SYS_NICE or an RLIMIT_RTPRIO of at least this
  /// value; when refused (or not on Linux) the thread runs normally: realtime() says which.
  int realtime_priority = 0;
};

class OutputHandler {
 public:
  using Options = OutputHandlerOptions;

  /// Counters of an OutputHandler (a snapshot; each counter is read once, not all at one instant).
  struct Stats {
    std::uint64_t sent = 0;               ///< OutputSender::send returned (both lanes)
    std::uint64_t priority_sent = 0;      ///< of which came from the priority lane
    std::uint64_t dropped = 0;            ///< dropped by a full lane (either lane)
    std::uint64_t failed = 0;             ///< OutputSender::send threw
    std::uint64_t stale = 0;              ///< refused by the epoch gate
    std::uint64_t discarded = 0;          ///< thrown away by shutdown(ShutdownMode::cancel)
    std::uint64_t refused_after_shutdown = 0;  ///< send*() that returned closed
    std::size_t queued = 0;               ///< waiting in either lane right now
  };

  /// Takes over `sender` and starts the handler thread. Throws std::invalid_argument for a bad
  /// option (naming the field) or a sender that is not valid, std::system_error when the thread
  /// cannot be started, and what StatusBoard throws when a metric cannot be created.
  explicit OutputHandler(OutputSender sender, Options options = {});

  OutputHandler(const OutputHandler&) = delete;
  OutputHandler& operator=(const OutputHandler&) = delete;

  /// shutdown(ShutdownMode::drain): sends everything still queued, joins the thread, then destroys
  /// the OutputSender. From the handler thread itself: reported, then std::abort().
  ~OutputHandler();

  /// Queues `data` for `output_id`, tagged with `epoch` (kUntagged: never gated). Throws NodeError
  /// for an undeclared output id; otherwise reports what happened (see OutputStatus).
  OutputStatus send(std::string_view output_id, Payload data, Metadata metadata = {},
                    std::uint64_t epoch = kUntagged);
  /// Queues the characters of `text` (copied; no terminating NUL).
  OutputStatus send(std::string_view output_id, std::string_view text, Metadata metadata = {},
                    std::uint64_t epoch = kUntagged);
  /// Queues a copy of `bytes` (as OutputSender::send(id, span)).
  OutputStatus send(std::string_view output_id, std::span<const std::uint8_t> bytes, Metadata metadata = {},
                    std::uint64_t epoch = kUntagged);
  OutputStatus send(std::string_view output_id, std::span<const std::byte> bytes, Metadata metadata = {},
                    std::uint64_t epoch = kUntagged);

  /// Zero copy (as OutputSender::send_with): `fill` (callable as void(std::span<std::uint8_t>)) writes
  /// the `size` bytes, here on the calling thread, straight into the buffer the node's backend sends
  /// (OutputSender::make_payload); the handler thread then sends that buffer without copying it.
  /// Throws NodeError for an undeclared id (before calling fill), std::invalid_argument for a size
  /// above dcp::kMaxPayloadSize, and what fill throws (then nothing is queued). After shutdown began:
  /// closed, without calling fill. Otherwise like send(id, Payload).
  template <class Fill>
  OutputStatus send_with(std::string_view output_id, std::size_t size, Fill&& fill, Metadata metadata = {},
                         std::uint64_t epoch = kUntagged) {
    static_assert(std::is_invocable_v<Fill&, std::span<std::uint8_t>>,
                  "dcp::OutputHandler::send_with: fill must be callable as fill(std::span<std::uint8_t>)");
    return send_with_impl(output_id, size, detail::FillRef::to(fill), std::move(metadata), epoch);
  }

  /// Queues `data` on the priority lane: sent before any normal output still queued; never gated;
  /// never blocks (a full priority lane drops its oldest output). Throws NodeError for an undeclared id.
  OutputStatus send_priority(std::string_view output_id, Payload data, Metadata metadata = {});
  OutputStatus send_priority(std::string_view output_id, std::string_view text, Metadata metadata = {});

  /// Sets the epoch gate: from now on a tagged output passes iff !latched && its epoch == current
  /// (see the header comment for the exact guarantee). A `current` above kMaxEpoch latches the gate
  /// (nothing tagged passes) rather than wrapping around.
  void set_epoch(std::uint64_t current, bool latched) noexcept;

  [[nodiscard]] Stats stats() const noexcept;

  /// Waits until every output queued (on either lane) before the call has been sent, failed, or
  /// dropped (stale, evicted, discarded) — not for outputs queued meanwhile. False on timeout.
  /// Throws std::invalid_argument for a negative timeout and std::logic_error on the handler thread.
  bool flush_for(std::chrono::nanoseconds timeout);

  /// Closes both lanes, sends (drain) or drops (cancel) what is queued, and joins the thread (not on
  /// the handler thread itself: there it only starts the shutdown). Idempotent; several threads may
  /// call it; cancel escalates a drain in progress. Results: stats().
  void shutdown(ShutdownMode mode = ShutdownMode::drain);

  /// The node's declared output ids (copied from the OutputSender).
  [[nodiscard]] const std::vector<std::string>& outputs() const noexcept;

  /// True when the handler thread runs with the SCHED_FIFO priority of Options::realtime_priority
  /// (waits until the thread has started and tried).
  [[nodiscard]] bool realtime() const noexcept;

 private:
  OutputStatus send_with_impl(std::string_view output_id, std::size_t size, detail::FillRef fill, Metadata metadata,
                              std::uint64_t epoch);

  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dcp
