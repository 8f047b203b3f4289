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
//     inputs close is not safe to drive in either case.)
//
// Thread safety: trigger(), reset(), latched(), epoch(), is_current(), stats() may be called from any
// thread concurrently (handlers on the pool, the watchdog thread, the event loop). protect() and
// on_trigger() are set-up calls: on the event-loop thread before events are dispatched. The
// destructor must not run concurrently with any of them, nor with the protected routers' dispatch().
// Blocking: trigger()/reset() take a mutex held only for the non-blocking steps above (the priority
// lane drops its oldest entry rather than wait). Nothing else blocks. The destructor stops the
// watchdog thread.
// One stop per OutputHandler: the stop owns the handler's epoch gate (set_epoch), so a second stop on
// the same handler would overwrite the first one's gate.
// Lifetime: the OutputHandler and every protected EventRouter must outlive the EmergencyStop (or at
// least its last trigger()/reset()); destroy the stop before them. The hooks protect() installed stay
// in a router that outlives the stop and are safe there: its pooled drainers (still draining during
// the router's shutdown) and later dispatch() calls see the last epoch, feed a stopped watchdog, and
// a critical input closing no longer triggers anything.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dcp/patterns/event_router.hpp"
#include "dcp/node/metadata.hpp"
#include "dcp/patterns/output_handler.hpp"
#include "dcp/node/payload.hpp"
#include "dcp/patterns/watchdog.hpp"

namespace dcp {

/// Counts of what the emergency stop did (a snapshot).
struct EmergencyStopStats {
  std::uint64_t triggers = 0;           ///< trigger() calls that latched the stop
  std::uint64_t repeated_triggers = 0;  ///< trigger() calls while it was already latched
  std::uint64_t resets = 0;             ///< reset() calls that unlatched it
  std::uint64_t discarded = 0;          ///< queued inputs the protected routers discarded on triggers
  std::uint64_t epoch = 1;              ///< the current epoch
  bool latched = false;
  std::string last_reason;              ///< the reason of the last trigger (empty before the first)
};

class EmergencyStop {
 public:
  struct Options {
    /// The output the halt and reset notices are sent on (through the priority lane). Must be one of
    /// the node's outputs.
    std::string halt_output = "safety_state";
    /// Inputs whose InputClosed triggers the stop (a crashed or finished safety-relevant upstream).
    std::vector<std::string> critical_inputs{};
    /// Inputs that must arrive within a deadline (input id, deadline > 0).
    std::vector<std::pair<std::string, std::chrono::nanoseconds>> watchdog{};
  };

  using TriggerCallback = std::function<void(std::uint64_t epoch, std::string_view reason)>;

  /// The stop starts unlatched at epoch 1 and opens the output gate for it. Throws
  /// std::invalid_argument when halt_output is not an output of the node or a watchdog entry is bad
  /// (empty input id, deadline <= 0, an input listed twice, more than kMaxWatchedInputs entries).
  EmergencyStop(OutputHandler& outputs, Options options)
      : outputs_(outputs), options_(std::move(options)) {
    bool declared = false;
    for (const std::string& id : outputs_.outputs()) declared = declared || id == options_.halt_output;
    if (!declared) {
      throw std::invalid_argument("dcp::EmergencyStop: Options::halt_output '" + options_.halt_output +
                                  "' is not an output of the node");
    }
    check_watchdog_entries(options_.watchdog);
    if (!options_.watchdog.empty()) {
      watchdog_ = std::make_shared<Watchdog>(
          [this](std::string_view input, std::chrono::nanoseconds silent) {
            trigger("watchdog: no '" + std::string(input) + "' for " +
                    std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(silent).count()) + " ms");
          },
          Watchdog::Options{.name = "dcp-estop-wd"});
    }
    outputs_.set_epoch(1, false);
  }

  EmergencyStop(const EmergencyStop&) = delete;
  EmergencyStop& operator=(const EmergencyStop&) = delete;

  /// Stops the watchdog (no trigger from it runs after the destructor returns) and detaches the
  /// hooks left in the protected routers (see "Lifetime").
  ~EmergencyStop() {
    link_->stop.store(nullptr, std::memory_order_seq_cst);
    if (watchdog_) watchdog_->shutdown();
  }

  /// Wires the stop into `router`: inputs are stamped with the stop's epoch, a trigger discards the
  /// router's queued work and cancels its running handlers, every input feeds the watchdog, and
  /// InputClosed on a critical input triggers. The watchdog deadlines start counting now.
  /// Set-up time only (before the router dispatches its first event).
  void protect(EventRouter& router) {
    // The hooks hold the shared link and watchdog, not `this`: the router may outlive the stop.
    router.set_epoch_source([link = link_] { return link->state.load(std::memory_order_acquire) >> 1; });
    if (watchdog_) {
      router.add_input_observer([wd = watchdog_](const InputEvent& input) { wd->feed(input.id); });
    }
    router.add_input_closed_observer([link = link_](std::string_view input) {
      EmergencyStop* stop = link->stop.load(std::memory_order_seq_cst);
      if (stop == nullptr) return;  // the stop was destroyed
      for (const std::string& critical : stop->options_.critical_inputs) {
        if (critical == input) {
          stop->trigger("input closed: " + std::string(input));
          return;
        }
      }
    });
    {
      std::lock_guard lock(mutex_);
      routers_.push_back(&router);
    }
    if (watchdog_ && !watching_) {
      for (const auto& [input, deadline] : options_.watchdog) watchdog_->watch(input, deadline);
      watching_ = true;
    }
  }

  /// Called after every trigger that latched (outside the stop's mutex, on the triggering thread).
  void on_trigger(TriggerCallback callback) {
    std::lock_guard lock(mutex_);
    callbacks_.push_back(std::move(callback));
  }

  /// Latches the stop (see the header comment). Returns true if this call latched it, false if it
  /// was already latched.
  bool trigger(std::string_view reason) {
    std::uint64_t epoch_now = 0;
    std::vector<TriggerCallback> callbacks;
    std::exception_ptr router_failure;
    {
      std::lock_guard lock(mutex_);
      const std::uint64_t state = state_.load(std::memory_order_relaxed);
      if (state & kLatchedBit) {
        ++repeated_triggers_;
        return false;
      }
      epoch_now = (state >> 1) + 1;
      // Everything that allocates, before anything changes (see the header comment).
      Metadata metadata;
      metadata.parameters["latched"] = true;
      metadata.parameters["epoch"] = static_cast<std::int64_t>(epoch_now);
      Payload halt = Payload::from_string("halt: " + std::string(reason));
      std::string reason_copy(reason);
      callbacks = callbacks_;

      state_.store((epoch_now << 1) | kLatchedBit, std::memory_order_seq_cst);
      outputs_.set_epoch(epoch_now, true);
      outputs_.send_priority(options_.halt_output, std::move(halt), std::move(metadata));
      for (EventRouter* router : routers_) {
        try {
          discarded_ += router->discard_queued_and_cancel();
        } catch (...) {  // its fresh stop source could not be made: the other steps still happen
          if (!router_failure) router_failure = std::current_exception();
        }
      }
      ++triggers_;
      last_reason_ = std::move(reason_copy);
    }
    for (const TriggerCallback& callback : callbacks) {
      try {
        callback(epoch_now, reason);
      } catch (...) {
        // A failing observer must not undo or block the stop; the stop itself already happened.
      }
    }
    if (router_failure) std::rethrow_exception(router_failure);
    return true;
  }

  /// Unlatches the stop and starts a new epoch; sends "reset" on the halt output. Returns true if
  /// it was latched, false (and does nothing) otherwise.
  bool reset(std::string_view reason = "reset") {
    std::lock_guard lock(mutex_);
    const std::uint64_t state = state_.load(std::memory_order_relaxed);
    if (!(state & kLatchedBit)) return false;
    const std::uint64_t epoch_now = (state >> 1) + 1;
    // Everything that allocates, before anything changes: a failure leaves the stop latched.
    Metadata metadata;
    metadata.parameters["latched"] = false;
    metadata.parameters["epoch"] = static_cast<std::int64_t>(epoch_now);
    metadata.parameters["reason"] = std::string(reason);
    Payload notice = Payload::from_string("reset");
    state_.store(epoch_now << 1, std::memory_order_seq_cst);
    outputs_.set_epoch(epoch_now, false);
    outputs_.send_priority(options_.halt_output, std::move(notice), std::move(metadata));
    ++resets_;
    return true;
  }

  [[nodiscard]] bool latched() const noexcept { return (state_.load(std::memory_order_acquire) & kLatchedBit) != 0; }
  /// The current epoch (starts at 1; every trigger and reset adds one).
  [[nodiscard]] std::uint64_t epoch() const noexcept { return state_.load(std::memory_order_acquire) >> 1; }
  /// True when a result computed from an input of `input_epoch` may still leave the node: that epoch
  /// is current and the stop is not latched. Handlers use it to skip work that would be dropped.
  [[nodiscard]] bool is_current(std::uint64_t input_epoch) const noexcept {
    return state_.load(std::memory_order_acquire) == (input_epoch << 1);
  }

  [[nodiscard]] EmergencyStopStats stats() const {
    std::lock_guard lock(mutex_);
    const std::uint64_t state = state_.load(std::memory_order_relaxed);
    return EmergencyStopStats{triggers_, repeated_triggers_, resets_, discarded_, state >> 1,
                              (state & kLatchedBit) != 0, last_reason_};
  }

  /// The watchdog behind Options::watchdog (nullptr when none was asked for).
  [[nodiscard]] Watchdog* watchdog() noexcept { return watchdog_.get(); }

 private:
  static constexpr std::uint64_t kLatchedBit = 1;

  /// What the hooks in the protected routers hold: shared, so that they outlive the stop.
  struct Link {
    // epoch << 1 | latched, so readers see the pair consistently.
    std::atomic<std::uint64_t> state{std::uint64_t{1} << 1};
    std::atomic<EmergencyStop*> stop{nullptr};  // null once the stop is destroyed
  };

  static void check_watchdog_entries(const std::vector<std::pair<std::string, std::chrono::nanoseconds>>& entries) {
    if (entries.size() > kMaxWatchedInputs) {
      throw std::invalid_argument("dcp::EmergencyStop: Options::watchdog has " + std::to_string(entries.size()) +
                                  " entries; at most " + std::to_string(kMaxWatchedInputs) + " (kMaxWatchedInputs)");
    }
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const auto& [input, deadline] = entries[i];
      if (input.empty()) throw std::invalid_argument("dcp::EmergencyStop: Options::watchdog has an empty input id");
      if (deadline <= std::chrono::nanoseconds::zero()) {
        throw std::invalid_argument("dcp::EmergencyStop: Options::watchdog: the deadline of input '" + input +
                                    "' must be > 0 (got " + std::to_string(deadline.count()) + " ns)");
      }
      for (std::size_t j = 0; j < i; ++j) {
        if (entries[j].first == input) {
          throw std::invalid_argument("dcp::EmergencyStop: Options::watchdog lists input '" + input + "' twice");
        }
      }
    }
  }

  OutputHandler& outputs_;
  const Options options_;
  const std::shared_ptr<Link> link_ = make_link(this);
  std::atomic<std::uint64_t>& state_ = link_->state;
  mutable std::mutex mutex_;
  std::vector<EventRouter*> routers_;
  std::vector<TriggerCallback> callbacks_;
  std::uint64_t triggers_ = 0;
  std::uint64_t repeated_triggers_ = 0;
  std::uint64_t resets_ = 0;
  std::uint64_t discarded_ = 0;
  std::string last_reason_;
  bool watching_ = false;
  std::shared_ptr<Watchdog> watchdog_;  // shared with the routers' input observers

  static std::shared_ptr<Link> make_link(EmergencyStop* stop) {
    auto link = std::make_shared<Link>();
    link->stop.store(stop, std::memory_order_relaxed);
    return link;
  }
};

}  // namespace dcp
