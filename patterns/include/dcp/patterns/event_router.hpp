// dcp/patterns/event_router.hpp — the event loop of a node: each input id goes to its handler, inline or on a
// worker pool, without the loop ever waiting for a busy worker.
//
// What it is for: a Dora node reads ONE event stream. Some inputs are cheap and must be handled at
// once, on the loop (an e-stop button); some are heavy (a lidar scan to plan on) and belong on
// worker threads, in order per input, or several at once. A slow handler must never stall the loop
// (nor the other inputs): each pooled input has its own bounded queue with an overflow policy, and
// what does not fit is dropped and counted.
//
//   dcp::WorkerPool pool({.threads = 4});
//   dcp::EventRouter router(pool, {.status = &status});
//   router.on_input("estop", on_estop, {.execution = dcp::Execution::on_loop})
//         .on_input("lidar", plan, {.execution = dcp::Execution::serial, .queue_capacity = 4})
//         .on_input("camera", detect, {.execution = dcp::Execution::parallel, .max_parallel = 2})
//         .on_input("imu", fuse, dcp::InputOptions::keep_latest())   // only the newest reading waits
//         .on_stop([&] { outputs.send("state", "stopping"); });
//   dcp::RunEnd end = router.run(node.events);   // until the stream ends (after Stop: its queued inputs too)
//   router.shutdown(dcp::ShutdownMode::drain);   // let queued work finish (the destructor does too)
//
// Execution (InputOptions::execution):
//   - on_loop:  the handler runs inline in dispatch(), on the event-loop thread. Never queued.
//   - serial:   on the pool, one at a time per input, in arrival order. Different inputs run in
//               parallel with each other.
//   - parallel: on the pool, up to max_parallel at once (0 = the pool's thread count), started in
//               arrival order. The same handler object is called from several threads at once.
//
// Queues. Every serial/parallel input has its own queue of queue_capacity events (1..kMaxCapacity,
// memory grows on demand up to it). When it is full, InputOptions::overflow decides:
//   - Overflow::drop_oldest: the oldest waiting event is dropped (DispatchOutcome::queued_dropped_oldest);
//   - Overflow::drop_newest: the arriving event is dropped (DispatchOutcome::dropped);
//   - keep latest: InputOptions::keep_latest() = capacity 1 + drop_oldest: only the newest waits.
//   - Overflow::block is refused (std::invalid_argument): the loop must never wait for a worker.
// The event being handled is not in the queue: a serial input holds at most 1 running + capacity
// waiting events. Events are moved, never copied (a Payload is a shared handle to its bytes).
//
// Pool tasks. The router puts no event in the pool's queue. An input with waiting events has at
// most its limit (1 for serial, max_parallel for parallel) "drainer" tasks on the pool; a drainer
// takes the input's events one at a time, and retires when the queue is empty (the emptiness check
// and the retirement happen under the input's lock, so an event queued concurrently either is seen
// by the drainer or starts a new one — never stranded). After 32 events in a row a drainer re-posts
// itself at the back of the pool's queue, so a busy input cannot starve the others on a small pool.
// So the router adds at most (sum of the limits) tasks to the pool's queue. The pool's queue must
// never drop or block: use an unbounded pool queue (WorkerPool's default). With a bounded
// Overflow::block pool queue, dispatch() can block while it is full; with a dropping pool queue a
// dropped drainer makes the router discard its input's waiting events (counted discarded).
//
// Epochs and the emergency stop. Every input is stamped, on the loop, with set_epoch_source()'s value
// (default: no source, epoch 0). Before a queued event starts, its drainer reads the source again:
// an event whose epoch is older than the current one is discarded without running (counted
// discarded) — so work queued before an e-stop never runs, even if it raced with the stop.
// Every handler gets a std::stop_token from the router's stop source. discard_queued_and_cancel()
// drops every waiting event of every input (counted discarded), requests stop on that source (every
// running handler's token reports stop_requested(), and std::stop_callbacks registered on it run on
// the calling thread), and replaces it with a fresh one: handlers started afterwards are not affected.
// An event already taken from its queue but not yet started when the stop is requested is discarded
// too. A running handler is never interrupted: it must look at its token.
//
// Control events (dispatch()):
//   - StopEvent: on_stop(), then the router has ended for everything but inputs: the InputEvents
//     that follow Stop (the inputs queued before it, node.hpp's Stop rule) are still routed as usual,
//     so their work is not lost under any backend; run() goes on until the stream ends, then returns
//     RunEnd::stop. on_stop() is where node code stops producing (set a flag, cancel a job).
//   - InputClosedEvent: the input-closed observers, then on_input_closed(id) (for any id).
//   - InputRecoveredEvent (a timed-out input has data again, node.hpp): on_input_recovered(id);
//     the input's handler then gets its data as usual.
//   - NodeRestartedEvent (an upstream node is being restarted, node.hpp): on_node_restarted(node id);
//     its inputs stay open.
//   - NodeFailedEvent (an upstream node failed for good): on_node_failed(event); the InputClosed
//     events of its inputs follow and are routed as above.
//   - AllInputsClosedEvent: on_all_inputs_closed(), then the router has ended (RunEnd::all_inputs_closed).
//   - ErrorEvent: on_error_event() (default: counted in Stats::error_events and ignored).
//   - An input nobody registered: the input observers, then on_unknown_input() (default: counted in
//     Stats::unknown_inputs and ignored).
// Once ended, dispatch() returns DispatchOutcome::ended for every event (after Stop: every event but
// an InputEvent) and does nothing. Ending does not wait for pooled work: call shutdown() (or let the
// destructor drain it).
//
// Errors. A handler that throws (inline or pooled) never stops the loop or kills a worker: it is
// counted failed (and `input.<id>.failed`), and the error is delivered with dcp::deliver_error
// (<dcp/core/error_report.hpp>) on the thread that ran the handler: source "event router", message
// "input '<id>' handler threw: <what>". That calls Options::on_error when set, else dcp::report_error
// — by default the node's log, and under `dcp run` the run's summary counts the lost work and the run
// fails. A throwing on_error is reported itself, so no error vanishes. A throwing control handler or
// observer is delivered the same way (not counted per input; Stats::control_failures counts them),
// message "on_stop threw: <what>" (likewise on_all_inputs_closed, on_error_event), "on_input_closed
// for input '<id>' threw: <what>" (likewise on_input_recovered, on_unknown_input, "on_node_restarted for node '<id>'
// threw", "on_node_failed for node '<id>' threw", "an input observer", "an input-closed
// observer"). Configuration errors throw:
// std::invalid_argument (duplicate id, empty handler, bad InputOptions — the message names the input
// and the field), std::logic_error (set-up after the first dispatch()).
//
// Status (Options::status, optional; references cached at on_input(), nothing is looked up per
// event): counters input.<id>.received|handled|failed|dropped|discarded, gauge input.<id>.queue
// (events waiting), latency input.<id>.latency (dispatch -> handler returned or threw); counters
// router.unknown_inputs and router.error_events.
//
// Counting (InputStats): every input event of a registered id is `received`; it ends up exactly once
// as handled (returned), failed (threw), dropped (overflow policy, or the pool is shut down),
// discarded (discard_queued_and_cancel(), stale epoch, pool lost the task) or refused_after_shutdown
// (dispatched after shutdown() began); in between it is `queued` or `running`. Once idle:
// received == handled + failed + dropped + discarded + refused_after_shutdown. (If growing an input's
// queue fails, dispatch() counts the event dropped and lets the std::bad_alloc propagate.)
//
// Thread safety.
//   - Set-up (on_input, on_stop, ..., set_epoch_source, add_*_observer): on the event-loop thread,
//     before the first dispatch() (later -> std::logic_error), before other threads use the router.
//   - dispatch(), run(): the event-loop thread only (one thread).
//   - discard_queued_and_cancel(), wait_idle_for(), shutdown(), stats(), input_stats(): any thread,
//     concurrently.
//   - Handlers: on_loop handlers and control handlers on the loop; serial/parallel handlers on pool
//     workers. The epoch source is called on the loop AND on pool workers: it must be thread-safe,
//     cheap and non-throwing (an atomic load, as EmergencyStop::epoch()).
// Blocking: dispatch() only for on_loop and control handlers, and for the input's lock (held for a
//   few pointer moves). discard_queued_and_cancel() never waits for handlers. wait_idle_for() up to
//   its timeout. shutdown() and the destructor wait for every queued (drain) / running handler.
// Shutdown. shutdown(drain) (the default): queued work runs; waits until idle. shutdown(cancel): the
//   same, but discard_queued_and_cancel() first. Idempotent; cancel after drain escalates. Called
//   from one of this router's own handlers it does not wait (a handler cannot wait for itself). The
//   destructor runs shutdown(drain); destroying the router from its own handler aborts the process.
// After shutdown — one rule for every dcp pattern. Once shutdown() has begun:
//   - a call that submits work (here: dispatch() of an input event) never blocks and never throws;
//     it returns its refusal (DispatchOutcome::closed), does not run or queue the input, and is
//     counted in stats().refused_after_shutdown (and per input); control events are still routed
//     (on_stop etc. run) and observers keep working;
//   - a configuration call throws std::logic_error naming the class and member (here: on_input,
//     on_stop, on_input_closed, on_input_recovered, on_all_inputs_closed, on_unknown_input, on_error_event,
//     set_epoch_source and the observers);
//   - shutdown() again is a no-op (cancel may escalate a drain);
//   - stats(), input_stats() and read-only accessors keep working.
// Lifetime: the pool must outlive the router (destroy the router first). Shut the router down before
//   the pool: a pool that shuts down first refuses new drainers, and the router then discards the
//   waiting events of inputs left without one (counted discarded); pool shutdown(cancel) drops them
//   the same way but does not set the handlers' tokens (call router.shutdown(cancel) for that).
// Bodies: patterns/src/event_router.cpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

#include "dcp/core/channel.hpp"  // kMaxCapacity, the bound of the lanes
#include "dcp/core/error_report.hpp"
#include "dcp/core/overflow.hpp"
#include "dcp/core/shutdown.hpp"
#include "dcp/core/worker_pool.hpp"
#include "dcp/node/node.hpp"
#include "dcp/patterns/status.hpp"

namespace dcp {

enum class Execution {
  on_loop,   ///< inline on the event-loop thread, inside dispatch()
  serial,    ///< on the pool, one at a time per input, in arrival order
  parallel,  ///< on the pool, up to max_parallel at once, started in arrival order
};

constexpr const char* to_string(Execution execution) noexcept {
  switch (execution) {
    case Execution::on_loop: return "on_loop";
    case Execution::serial: return "serial";
    case Execution::parallel: return "parallel";
  }
  return "unknown";
}

/// What a handler learns about the event besides the event itself.
struct InputContext {
  /// The epoch set_epoch_source() returned when the input arrived (0 without a source).
  std::uint64_t epoch = 0;
  /// Reports stop_requested() after discard_queued_and_cancel() / shutdown(cancel).
  std::stop_token stop;
  /// steady_clock::now() when dispatch() received the input.
  std::chrono::steady_clock::time_point received;
  /// Per input, 1-based, in arrival order (dropped events use numbers too: gaps show drops).
  std::uint64_t sequence = 0;
};

using InputHandler = std::function<void(const InputEvent& input, const InputContext& context)>;

struct InputOptions {
  Execution execution = Execution::serial;
  /// Waiting events per serial/parallel input (1..kMaxCapacity). Ignored for on_loop.
  std::size_t queue_capacity = 64;
  /// drop_oldest or drop_newest; Overflow::block throws std::invalid_argument. Ignored for on_loop.
  Overflow overflow = Overflow::drop_oldest;
  /// parallel only: handlers running at once; 0 = the pool's thread count. Must be 0 otherwise.
  std::size_t max_parallel = 0;

  /// Only the newest event waits (capacity 1, drop_oldest): a sensor whose handler only wants the
  /// current reading.
  static constexpr InputOptions keep_latest(Execution execution = Execution::serial) noexcept {
    return InputOptions{execution, 1, Overflow::drop_oldest, 0};
  }
};

/// A snapshot of one input's counts (see "Counting" in the header comment).
struct InputStats {
  std::uint64_t received = 0;   ///< input events dispatched for this id
  std::uint64_t handled = 0;    ///< the handler returned
  std::uint64_t failed = 0;     ///< the handler threw
  std::uint64_t dropped = 0;    ///< overflow policy, or the pool is shut down
  std::uint64_t discarded = 0;  ///< discard_queued_and_cancel(), stale epoch, or the pool lost the task
  std::uint64_t refused_after_shutdown = 0;  ///< dispatched after shutdown() began
  std::size_t queued = 0;       ///< waiting now
  std::size_t running = 0;      ///< handlers executing now
};

enum class DispatchOutcome {
  handled,                ///< ran inline (on_loop), or a control event / its handler ran
  queued,                 ///< waiting for (or taken by) a worker
  queued_dropped_oldest,  ///< queued; the oldest waiting event was dropped to make room
  dropped,                ///< this event was dropped (drop_newest, or the pool is shut down)
  unknown_input,          ///< no handler for this input id
  ended,                  ///< after Stop / AllInputsClosed: nothing was done
  closed,                 ///< the router's shutdown() began: refused, nothing was done
};

constexpr const char* to_string(DispatchOutcome outcome) noexcept {
  switch (outcome) {
    case DispatchOutcome::handled: return "handled";
    case DispatchOutcome::queued: return "queued";
    case DispatchOutcome::queued_dropped_oldest: return "queued_dropped_oldest";
    case DispatchOutcome::dropped: return "dropped";
    case DispatchOutcome::unknown_input: return "unknown_input";
    case DispatchOutcome::ended: return "ended";
    case DispatchOutcome::closed: return "closed";
  }
  return "unknown";
}

enum class RunEnd {
  stop,               ///< a StopEvent was dispatched
  all_inputs_closed,  ///< an AllInputsClosedEvent was dispatched
  stream_ended,       ///< the stream ended without either (e.g. the connection was lost)
};

constexpr const char* to_string(RunEnd end) noexcept {
  switch (end) {
    case RunEnd::stop: return "stop";
    case RunEnd::all_inputs_closed: return "all_inputs_closed";
    case RunEnd::stream_ended: return "stream_ended";
  }
  return "unknown";
}

/// The options of a EventRouter (EventRouter::Options; declared outside the class so that `Options options = {}`
/// works as a default argument — GCC cannot use a nested struct's member initializers there).
struct EventRouterOptions {
  /// Where the per-input metrics go (see the header comment); nullptr = none. Must outlive the router.
  StatusBoard* status = nullptr;
  /// Called with (source, message) when a handler throws (see "Errors"), on the thread that ran it.
  /// Unset: dcp::report_error (the node's log, the run's summary).
  ErrorCallback on_error{};
};

class EventRouter {
 public:
  using Options = EventRouterOptions;

  /// Router-wide counters (a snapshot; per input: input_stats()).
  struct Stats {
    std::uint64_t unknown_inputs = 0;          ///< input events whose id has no handler
    std::uint64_t error_events = 0;            ///< ErrorEvents dispatched
    std::uint64_t control_failures = 0;        ///< control handlers and observers that threw
    std::uint64_t refused_after_shutdown = 0;  ///< input events dispatched after shutdown() began
  };

  /// A router that runs pooled handlers on `pool` (which must outlive it).
  explicit EventRouter(WorkerPool& pool, Options options = {});

  EventRouter(const EventRouter&) = delete;
  EventRouter& operator=(const EventRouter&) = delete;

  /// shutdown(ShutdownMode::drain): waits for this router's queued and running handlers (not for
  /// the pool's other work). Never throws. From one of its own handlers: reported, then std::abort().
  ~EventRouter();

  // --- set-up (event-loop thread, before the first dispatch) -----------------------------------

  /// Registers the handler of input `id`. Throws std::invalid_argument naming the input for a
  /// duplicate id, an empty handler or bad options; std::logic_error after the first dispatch().
  EventRouter& on_input(std::string id, InputHandler handler, InputOptions options = {});
  EventRouter& on_stop(std::function<void()> handler);
  EventRouter& on_input_closed(std::function<void(std::string_view input_id)> handler);
  /// A timed-out input has data again (InputRecoveredEvent); its data follows. Default: nothing.
  EventRouter& on_input_recovered(std::function<void(std::string_view input_id)> handler);
  /// An upstream node is being restarted (NodeRestartedEvent); reset what depended on it. Default: nothing.
  EventRouter& on_node_restarted(std::function<void(std::string_view node_id)> handler);
  /// An upstream node failed for good (NodeFailedEvent); its inputs' InputClosed follow. Default: nothing.
  EventRouter& on_node_failed(std::function<void(const NodeFailedEvent&)> handler);
  EventRouter& on_all_inputs_closed(std::function<void()> handler);
  /// Default: counted in Stats::unknown_inputs and ignored.
  EventRouter& on_unknown_input(std::function<void(const InputEvent&)> handler);
  /// Default: counted in Stats::error_events and ignored. (Counted in both cases.)
  EventRouter& on_error_event(std::function<void(const ErrorEvent&)> handler);

  /// The epoch every input is stamped with; called on the loop for every input of a registered id
  /// and on pool workers before each queued handler starts (thread-safe, cheap, non-throwing).
  void set_epoch_source(std::function<std::uint64_t()> epoch);
  /// Called inline on the loop for every input event (registered or not), before it is dispatched.
  /// Must be cheap (the watchdog's feed).
  void add_input_observer(std::function<void(const InputEvent&)> observer);
  /// Called inline on the loop for every InputClosedEvent, before on_input_closed().
  void add_input_closed_observer(std::function<void(std::string_view input_id)> observer);

  // --- the event loop --------------------------------------------------------------------------

  /// Routes one event (see the header comment). Never waits for a worker.
  DispatchOutcome dispatch(Event event);
  /// Dispatches events from `events` until the stream ends — after Stop, the inputs that follow it
  /// are still routed, then RunEnd::stop — or AllInputsClosed was dispatched. Does not wait for
  /// pooled work (call shutdown() for that). Returns at once after AllInputsClosed; after Stop it
  /// routes what is left of the stream.
  RunEnd run(EventStream& events);
  /// True after a StopEvent or an AllInputsClosedEvent was dispatched. Loop thread only.
  [[nodiscard]] bool has_ended() const noexcept;

  // --- any thread ------------------------------------------------------------------------------

  /// Drops every waiting event of every input (counted discarded) and requests stop on the token of
  /// every running handler; later handlers get a fresh token. Returns how many events were dropped.
  /// Never waits for handlers. Throws std::bad_alloc, before anything changed, when the fresh stop
  /// source cannot be made.
  std::size_t discard_queued_and_cancel();
  /// True when, within `timeout`, no handler of this router is queued or running. (From one of the
  /// router's own handlers it can only time out: that handler is running.)
  /// A negative timeout throws std::invalid_argument; a huge one (nanoseconds::max()) waits forever.
  bool wait_idle_for(std::chrono::nanoseconds timeout);
  /// See "Shutdown" in the header comment. Idempotent; callable from any thread.
  void shutdown(ShutdownMode mode = ShutdownMode::drain);

  [[nodiscard]] Stats stats() const noexcept;
  /// A snapshot of one input's counts. Unknown id -> std::invalid_argument.
  [[nodiscard]] InputStats input_stats(std::string_view input_id) const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dcp
