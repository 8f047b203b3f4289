// dcp/patterns/emergency_stop.hpp — a latched emergency stop: halt at once, drop queued work, and let no
// stale command leave the node until an explicit reset.
//
// What it is for: a robot node that computes commands on worker threads must be able to stop the
// robot *now* — not after the backlog of queued work has drained, and without a result computed
// from old sensor data slipping out after the halt. EmergencyStop ties three patterns together:
//
//   dcp::OutputHandler outputs(std::move(node.outputs));
//   dcp::WorkerPool pool({.threads = 4});
//   dcp::EventRouter router(pool);
//   dcp::EmergencyStop estop(outputs, {.halt_output = "safety_state",
//                                      .critical_inputs = {"imu"},
//                                      .watchdog = {{"imu", 200ms}}});
//   estop.protect(router);                                    // before the first dispatch
//   router.on_input("estop", [&](const dcp::InputEvent& in, const dcp::InputContext&) {
//     if (in.data.as_string() == "reset") estop.reset("operator"); else estop.trigger("operator");
//   }, {.execution = dcp::Execution::on_loop});
//   router.on_input("lidar", [&](const dcp::InputEvent& in, const dcp::InputContext& ctx) {
//     outputs.send("command", plan(in, ctx.stop), {}, ctx.epoch);   // tagged with the input's epoch
//   });
//
// The epoch. Every input is stamped (by the router, on the event loop) with the epoch current when
// it arrived. trigger() and reset() each start a new epoch. An output tagged with an epoch leaves the
// node only while that epoch is current and not latched (the OutputHandler's gate); so a result
// computed from an input that arrived before an e-stop — or while it was latched — is dropped and
// counted as stale, however long the computation took. Untagged outputs (status, the halt itself)
// always pass.
//
// trigger(reason), in this order, under the stop's own mutex:
//   1. latch, and start epoch E+1;
//   2. close the output gate (OutputHandler::set_epoch(E+1, latched)): from here on the output thread
//      drops every tagged output;
//   3. send the halt notice on the priority lane: text "halt: <reason>", metadata parameters
//      `latched` = true and `epoch` = E+1. It overtakes every output queued on the normal lane; no
//      output tagged with an epoch <= E+1 is sent after it;
//   4. for every protected router: request stop on every running handler's std::stop_token and
//      discard every queued, not yet started input (the router also refuses to run any input of an
//      older epoch that it finds later);
//   5. after the mutex is released: the on_trigger callbacks.
// None of these steps waits for a worker, so the halt's latency does not depend on the backlog.
// What can fail (allocations: the halt's text and metadata, the copy of the callbacks) is done before
// step 1: if it throws, nothing changed and trigger() may be retried. A protected router that cannot
// make its fresh stop source in step 4 (std::bad_alloc) is skipped: the stop still latches, sends the
// halt, counts the trigger and runs the callbacks, then rethrows; that router's running handlers are
// then not told to stop, and its queued inputs are discarded later by their stale epoch.
// Step 4 runs std::stop_callbacks registered on the handlers' tokens on the triggering thread, while
// the stop's mutex is held: they must not call this EmergencyStop's trigger(), reset() or stats().
// Triggering again while latched changes nothing but the count of repeated triggers (and returns
// false). reset(reason) unlatches, starts epoch E+2 and sends "reset" (`latched` = false, `epoch`)
// on the priority lane; results of inputs that arrived while latched stay stale.
//
// Automatic triggers (set up by protect(router)):
//   - a watchdog: an input listed in Options::watchdog that has not arrived within its deadline
//     triggers "watchdog: no '<input>' for <ms> ms" (the router feeds it on every input);
//   - an upstream crash: InputClosed on an input listed in Options::critical_inputs triggers
//     "input closed: <input>". (Dora cannot tell a crash from a clean end; a node whose safety
//     inputs close is not safe to drive in either case.) An InputClosed with an empty id (under
//     Dora, whose C++ API does not always say which input closed: node.hpp) fails safe: it
//     triggers while some critical input has not been reported closed by name, since it could be
//     that one; the reason names the candidates.
//
// Thread safety: trigger(), reset(), latched(), epoch(), is_current(), stats(), shutdown() may be called from any
// thread concurrently (handlers on the pool, the watchdog thread, the event loop). protect() and
// on_trigger() are set-up calls: on the event-loop thread before events are dispatched. The
// destructor must not run concurrently with any of them, nor with the protected routers' dispatch().
// Blocking: trigger()/reset() take a mutex held only for the non-blocking steps above (the priority
// lane drops its oldest entry rather than wait). shutdown() and the destructor wait for a watchdog
// trigger in progress (the watchdog thread is joined). Nothing else blocks.
// Set-up errors: protect() of a router already protected, or of a router that has dispatched an
// event, throws std::logic_error saying so (nothing changed); protecting several routers is fine.
// on_trigger() may be called any number of times before shutdown (each callback runs).
// Shutdown. shutdown(mode) stops the watchdog thread (no trigger from it runs after shutdown()
// returns) and detaches the hooks left in the protected routers (see "Lifetime"). The stop holds no
// queued work, so drain and cancel do the same. The output gate keeps its last state (a latched stop
// stays latched). The destructor runs shutdown(ShutdownMode::drain).
// After shutdown — one rule for every dcp pattern. Once shutdown() has begun:
//   - a call that submits work (here: trigger(), reset()) never blocks and never throws; it returns
//     its refusal (false) and is counted in stats().refused_after_shutdown;
//   - a configuration call throws std::logic_error naming the class and member (here: protect(),
//     on_trigger(): "dcp::EmergencyStop::<member>: called after shutdown()");
//   - shutdown() again is a no-op (cancel may escalate a drain; here both modes do the same);
//   - stats() and read-only accessors keep working (here latched(), epoch(), is_current()).
// One stop per OutputHandler: the stop owns the handler's epoch gate (set_epoch), so a second stop on
// the same handler would overwrite the first one's gate.
// Lifetime: the OutputHandler must outlive the EmergencyStop (declare the stop after it). The stop
// and the routers it protects may be destroyed in either order:
//   - the stop first (declared after the routers): the hooks protect() installed stay in the router
//     and are safe there — its pooled drainers (still draining during the router's shutdown) and
//     later dispatch() calls see the last epoch, feed a stopped watchdog, and a critical input
//     closing no longer triggers anything;
//   - a router first: destroying it destroys its hooks, which take it off the stop's list, so a
//     later trigger() latches, sends the halt and skips the router that is gone.
// Bodies: patterns/src/emergency_stop.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dcp/core/shutdown.hpp"
#include "dcp/patterns/event_router.hpp"
#include "dcp/patterns/output_handler.hpp"
#include "dcp/patterns/watchdog.hpp"  // kMaxWatchedInputs, the bound of Options::watchdog

namespace dcp {

/// The options of a EmergencyStop (EmergencyStop::Options; declared outside the class so that `Options options = {}`
/// works as a default argument — GCC cannot use a nested struct's member initializers there).
struct EmergencyStopOptions {
  /// The output the halt and reset notices are sent on (through the priority lane). Must be one of
  /// the node's outputs.
  std::string halt_output = "safety_state";
  /// Inputs whose InputClosed triggers the stop (a crashed or finished safety-relevant upstream);
  /// an unnamed InputClosed triggers too while one of them is still open (fail safe).
  std::vector<std::string> critical_inputs{};
  /// Inputs that must arrive within a deadline (input id, deadline > 0).
  std::vector<std::pair<std::string, std::chrono::nanoseconds>> watchdog{};
};

class EmergencyStop {
 public:
  using Options = EmergencyStopOptions;

  /// Counts of what the emergency stop did (a snapshot).
  struct Stats {
    std::uint64_t triggers = 0;           ///< trigger() calls that latched the stop
    std::uint64_t repeated_triggers = 0;  ///< trigger() calls while it was already latched
    std::uint64_t resets = 0;             ///< reset() calls that unlatched it
    std::uint64_t discarded = 0;          ///< queued inputs the protected routers discarded on triggers
    std::uint64_t refused_after_shutdown = 0;  ///< trigger()/reset() after shutdown() began
    std::uint64_t epoch = 1;              ///< the current epoch
    bool latched = false;
    std::string last_reason;              ///< the reason of the last trigger (empty before the first)
  };

  using TriggerCallback = std::function<void(std::uint64_t epoch, std::string_view reason)>;

  /// The stop starts unlatched at epoch 1 and opens the output gate for it. Throws
  /// std::invalid_argument when halt_output is not an output of the node or a watchdog entry is bad
  /// (empty input id, deadline <= 0, an input listed twice, more than kMaxWatchedInputs entries).
  explicit EmergencyStop(OutputHandler& outputs, Options options = {});

  EmergencyStop(const EmergencyStop&) = delete;
  EmergencyStop& operator=(const EmergencyStop&) = delete;

  /// shutdown(ShutdownMode::drain).
  ~EmergencyStop();

  /// Wires the stop into `router`: inputs are stamped with the stop's epoch, a trigger discards the
  /// router's queued work and cancels its running handlers, every input feeds the watchdog, and
  /// InputClosed on a critical input triggers. The watchdog deadlines start counting at the first
  /// protect(). Set-up time only: throws std::logic_error (nothing changed) once shutdown() has
  /// begun, for a router already protected, and for a router that has dispatched an event.
  void protect(EventRouter& router);

  /// Called after every trigger that latched (outside the stop's mutex, on the triggering thread).
  /// Throws std::logic_error once shutdown() has begun.
  void on_trigger(TriggerCallback callback);

  /// Latches the stop (see the header comment). Returns true if this call latched it, false if it
  /// was already latched or the stop is shut down.
  bool trigger(std::string_view reason);

  /// Unlatches the stop and starts a new epoch; sends "reset" on the halt output. Returns true if
  /// it was latched, false (and does nothing) otherwise or after shutdown.
  bool reset(std::string_view reason = "reset");

  /// Stops the watchdog and detaches the router hooks (see "Shutdown"). Idempotent, any thread.
  void shutdown(ShutdownMode mode = ShutdownMode::drain);

  [[nodiscard]] bool latched() const noexcept;
  /// The current epoch (starts at 1; every trigger and reset adds one).
  [[nodiscard]] std::uint64_t epoch() const noexcept;
  /// True when a result computed from an input of `input_epoch` may still leave the node: that epoch
  /// is current and the stop is not latched. Handlers use it to skip work that would be dropped.
  [[nodiscard]] bool is_current(std::uint64_t input_epoch) const noexcept;

  [[nodiscard]] Stats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dcp
