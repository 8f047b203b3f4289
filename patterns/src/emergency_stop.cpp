// patterns/src/emergency_stop.cpp — the bodies of dcp::EmergencyStop (contract: emergency_stop.hpp).
#include "dcp/patterns/emergency_stop.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "dcp/node/metadata.hpp"
#include "dcp/node/payload.hpp"
#include "dcp/patterns/watchdog.hpp"

namespace dcp {

class EmergencyStop::Impl {
 public:
  using Options = EmergencyStop::Options;
  using Stats = EmergencyStop::Stats;

  using TriggerCallback = EmergencyStop::TriggerCallback;

  /// The stop starts unlatched at epoch 1 and opens the output gate for it. Throws
  /// std::invalid_argument when halt_output is not an output of the node or a watchdog entry is bad
  /// (empty input id, deadline <= 0, an input listed twice, more than kMaxWatchedInputs entries).
  Impl(OutputHandler& outputs, Options options)
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

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  ~Impl() { shutdown(); }

  void shutdown() {
    closed_.store(true, std::memory_order_seq_cst);
    link_->stop.store(nullptr, std::memory_order_seq_cst);
    if (watchdog_) watchdog_->shutdown();
  }

  /// The set-up calls throw after shutdown (see the header's "After shutdown").
  void check_not_shut_down(const char* member) const {
    if (closed_.load(std::memory_order_seq_cst)) {
      throw std::logic_error(std::string("dcp::EmergencyStop::") + member + ": called after shutdown()");
    }
  }

  bool refuse() noexcept {
    refused_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }

  /// Wires the stop into `router` (see EmergencyStop::protect).
  void protect(EventRouter& router) {
    check_not_shut_down("protect");
    {
      std::lock_guard lock(mutex_);
      for (const EventRouter* protected_router : link_->routers) {
        if (protected_router == &router) {
          throw std::logic_error(
              "dcp::EmergencyStop::protect: this router is already protected (call protect() once per router)");
        }
      }
    }
    // The hooks hold the shared link and watchdog, not `this`: the router may outlive the stop. The
    // first hook is set first: a router that has dispatched refuses it before anything changed.
    try {
      router.set_epoch_source([link = link_] { return link->state.load(std::memory_order_acquire) >> 1; });
    } catch (const std::logic_error& error) {
      throw std::logic_error(std::string("dcp::EmergencyStop::protect: the router has already dispatched events; "
                                         "protect it before its first dispatch() (") + error.what() + ")");
    }
    if (watchdog_) {
      router.add_input_observer([wd = watchdog_](const InputEvent& input) { wd->feed(input.id); });
    }
    // The registration lives in the router's hooks: when the router is destroyed, so are they, and the
    // registration's destructor takes the router off the link's list (the stop never reaches a router
    // that is gone, whichever of the two is destroyed first).
    auto registration = std::make_shared<Registration>(link_, &router);
    router.add_input_closed_observer([link = link_, registration](std::string_view input) {
      Impl* stop = link->stop.load(std::memory_order_seq_cst);
      if (stop == nullptr) return;  // the stop was shut down or destroyed
      stop->input_closed(input);
    });
    {
      std::lock_guard lock(mutex_);
      link_->routers.push_back(&router);
    }
    if (watchdog_ && !watching_) {
      for (const auto& [input, deadline] : options_.watchdog) watchdog_->watch(input, deadline);
      watching_ = true;
    }
  }

  /// Called after every trigger that latched (outside the stop's mutex, on the triggering thread).
  void on_trigger(TriggerCallback callback) {
    check_not_shut_down("on_trigger");
    std::lock_guard lock(mutex_);
    callbacks_.push_back(std::move(callback));
  }

  /// An InputClosed seen by a protected router. A named critical input triggers. An unnamed one
  /// (Dora's C++ API does not always say which input closed) fails safe: it triggers while some
  /// critical input has not been reported closed by name, since it could be that one.
  void input_closed(std::string_view input) {
    std::string reason;
    {
      std::lock_guard lock(closed_mutex_);
      if (input.empty()) {
        std::string candidates;
        for (std::size_t i = 0; i < options_.critical_inputs.size(); ++i) {
          if (critical_closed_[i]) continue;
          candidates += (candidates.empty() ? "" : ", ") + options_.critical_inputs[i];
        }
        if (candidates.empty()) return;
        reason = "input closed: an input the backend did not name (could be critical input(s): " + candidates + ")";
      } else {
        const auto& critical = options_.critical_inputs;
        const auto it = std::find(critical.begin(), critical.end(), input);
        if (it == critical.end()) return;
        critical_closed_[static_cast<std::size_t>(it - critical.begin())] = true;
        reason = "input closed: " + std::string(input);
      }
    }
    trigger(reason);
  }

  /// Latches the stop (see the header comment). Returns true if this call latched it, false if it
  /// was already latched.
  bool trigger(std::string_view reason) {
    if (closed_.load(std::memory_order_seq_cst)) return refuse();
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
      for (EventRouter* router : link_->routers) {
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
  bool reset(std::string_view reason) {
    if (closed_.load(std::memory_order_seq_cst)) return refuse();
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

  [[nodiscard]] Stats stats() const {
    std::lock_guard lock(mutex_);
    const std::uint64_t state = state_.load(std::memory_order_relaxed);
    return Stats{triggers_,  repeated_triggers_,          resets_,     discarded_, refused_.load(std::memory_order_relaxed),
                 state >> 1, (state & kLatchedBit) != 0, last_reason_};
  }

  static constexpr std::uint64_t kLatchedBit = 1;

  /// What the hooks in the protected routers hold: shared, so that they outlive the stop.
  struct Link {
    // epoch << 1 | latched, so readers see the pair consistently.
    std::atomic<std::uint64_t> state{std::uint64_t{1} << 1};
    std::atomic<Impl*> stop{nullptr};  // null once the stop is shut down (or destroyed)
    std::mutex mutex;                  // the stop's mutex: guards `routers` and the stop's state
    std::vector<EventRouter*> routers; // the protected routers still alive
  };

  /// Held by a protected router's hooks only: destroyed with them, when the router is destroyed, it
  /// takes the router off the list the stop triggers.
  struct Registration {
    Registration(std::shared_ptr<Link> link, EventRouter* router) noexcept : link(std::move(link)), router(router) {}
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;
    ~Registration() {
      std::lock_guard lock(link->mutex);
      std::erase(link->routers, router);
    }
    const std::shared_ptr<Link> link;
    EventRouter* const router;
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
  std::mutex& mutex_ = link_->mutex;
  std::vector<TriggerCallback> callbacks_;
  std::uint64_t triggers_ = 0;
  std::uint64_t repeated_triggers_ = 0;
  std::uint64_t resets_ = 0;
  std::uint64_t discarded_ = 0;
  std::string last_reason_;
  bool watching_ = false;
  std::mutex closed_mutex_;                   // guards critical_closed_ (observers of several routers)
  std::vector<bool> critical_closed_ = std::vector<bool>(options_.critical_inputs.size(), false);
  std::atomic<bool> closed_{false};           // shutdown() began
  std::atomic<std::uint64_t> refused_{0};     // trigger()/reset() after shutdown
  std::shared_ptr<Watchdog> watchdog_;  // shared with the routers' input observers

  static std::shared_ptr<Link> make_link(Impl* stop) {
    auto link = std::make_shared<Link>();
    link->stop.store(stop, std::memory_order_relaxed);
    return link;
  }
};

EmergencyStop::EmergencyStop(OutputHandler& outputs, Options options)
    : impl_(std::make_unique<Impl>(outputs, std::move(options))) {}
EmergencyStop::~EmergencyStop() = default;
void EmergencyStop::protect(EventRouter& router) { impl_->protect(router); }
void EmergencyStop::on_trigger(TriggerCallback callback) { impl_->on_trigger(std::move(callback)); }
bool EmergencyStop::trigger(std::string_view reason) { return impl_->trigger(reason); }
bool EmergencyStop::reset(std::string_view reason) { return impl_->reset(reason); }
void EmergencyStop::shutdown(ShutdownMode /*mode: nothing is queued here, both modes do the same*/) {
  impl_->shutdown();
}
bool EmergencyStop::latched() const noexcept { return impl_->latched(); }
std::uint64_t EmergencyStop::epoch() const noexcept { return impl_->epoch(); }
bool EmergencyStop::is_current(std::uint64_t input_epoch) const noexcept { return impl_->is_current(input_epoch); }
EmergencyStop::Stats EmergencyStop::stats() const { return impl_->stats(); }

}  // namespace dcp
