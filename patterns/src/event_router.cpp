// patterns/src/event_router.cpp — the bodies of dcp::EventRouter (contract: event_router.hpp).
//
// A pimpl: EventRouter::Impl holds the inputs, their queues (GrowingRing) and the drainers, so these
// private types stay out of the public header.
#include "dcp/patterns/event_router.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <initializer_list>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "dcp/core/detail/deadline.hpp"
#include "dcp/core/error_report.hpp"
#include "item_metrics.hpp"

namespace dcp {

namespace {

/// A FIFO of at most `capacity` values whose storage grows on demand (doubling) up to the capacity:
/// no allocation once it has reached its working size. Not synchronised (the input's lock guards it).
template <class T>
class GrowingRing {
 public:
  explicit GrowingRing(std::size_t capacity) noexcept : capacity_(capacity) {}

  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] bool full() const noexcept { return size_ == capacity_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  /// Precondition: !full().
  void push(T&& value) {
    if (size_ == slots_.size()) grow();
    std::size_t index = head_ + size_;
    if (index >= slots_.size()) index -= slots_.size();
    slots_[index] = std::move(value);
    ++size_;
  }

  /// Precondition: !empty().
  T pop() noexcept {
    T value = std::move(slots_[head_]);
    if (++head_ == slots_.size()) head_ = 0;
    --size_;
    return value;
  }

  /// Takes every value at once (the storage changes hands; nothing is moved one by one): this ring
  /// is empty afterwards, with the same capacity.
  GrowingRing take_all() noexcept {
    GrowingRing taken(capacity_);
    taken.slots_.swap(slots_);
    taken.head_ = std::exchange(head_, 0);
    taken.size_ = std::exchange(size_, 0);
    return taken;
  }

  /// Moves every value out (oldest first) into `out`; the ring is empty afterwards.
  void drain_into(std::vector<T>& out) {
    out.reserve(out.size() + size_);
    while (!empty()) out.push_back(pop());
  }

 private:
  void grow() {
    const std::size_t next_size = std::min(capacity_, std::max<std::size_t>(4, slots_.size() * 2));
    std::vector<T> next(next_size);
    for (std::size_t i = 0; i < size_; ++i) {
      std::size_t index = head_ + i;
      if (index >= slots_.size()) index -= slots_.size();
      next[i] = std::move(slots_[index]);
    }
    slots_.swap(next);
    head_ = 0;
  }

  std::size_t capacity_;
  std::vector<T> slots_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace

class EventRouter::Impl {
 public:
 public:
  using Options = EventRouter::Options;
  using Stats = EventRouter::Stats;

  Impl(WorkerPool& pool, Options options) : pool_(pool), options_(std::move(options)) {
    if (options_.status != nullptr) {
      unknown_metric_ = &options_.status->counter("router.unknown_inputs");
      error_event_metric_ = &options_.status->counter("router.error_events");
    }
  }

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  /// shutdown(ShutdownMode::drain): waits for this router's queued and running handlers (not for
  /// the pool's other work). Never throws.
  ~Impl() {
    if (running_event_router == this) {
      report_error("event router", "destroyed from one of its own handlers, which cannot wait for itself; aborting");
      std::abort();
    }
    try {
      shutdown(ShutdownMode::drain);
    } catch (...) {  // a mutex failed (std::system_error): nothing sensible is left to do but say so
      std::fprintf(stderr, "dcp::EventRouter: shutdown in the destructor failed: %s\n",
                   describe_exception(std::current_exception()).c_str());
    }
  }

  // --- set-up ----------------------------------------------------------------------------------

  /// Registers the handler of input `id`. Throws std::invalid_argument naming the input for a
  /// duplicate id, an empty handler or bad options; std::logic_error after the first dispatch().
  void on_input(std::string id, InputHandler handler, InputOptions options = {}) {
    check_set_up("on_input");
    const std::string where = "dcp::EventRouter::on_input('" + id + "'): ";
    if (!handler) throw std::invalid_argument(where + "the handler is empty");
    if (inputs_.contains(id)) throw std::invalid_argument(where + "a handler for this input is already registered");
    std::size_t limit = 0;
    if (options.execution != Execution::on_loop) {
      if (options.queue_capacity == 0 || options.queue_capacity > kMaxCapacity) {
        throw std::invalid_argument(where + "InputOptions::queue_capacity = " + std::to_string(options.queue_capacity) +
                                    " is out of range 1.." + std::to_string(kMaxCapacity));
      }
      if (options.overflow != Overflow::drop_oldest && options.overflow != Overflow::drop_newest) {
        throw std::invalid_argument(where + "InputOptions::overflow = " + to_string(options.overflow) +
                                    " is not allowed: the event loop must never wait for a worker "
                                    "(use drop_oldest, drop_newest, or InputOptions::keep_latest())");
      }
      limit = 1;
    }
    if (options.execution == Execution::parallel) {
      limit = options.max_parallel == 0 ? std::max<std::size_t>(1, pool_.thread_count()) : options.max_parallel;
    } else if (options.max_parallel != 0) {
      throw std::invalid_argument(where + "InputOptions::max_parallel = " + std::to_string(options.max_parallel) +
                                  " is only for Execution::parallel (this input is " + to_string(options.execution) +
                                  "); leave it 0");
    }

    auto input = std::make_unique<Input>(id, std::move(handler), options, limit);
    if (options_.status != nullptr) {
      StatusBoard& status = *options_.status;
      const std::string prefix = "input." + id + ".";
      input->metrics = InputMetrics(status, prefix, {"received", "handled", "failed", "dropped", "discarded"},
                                    detail::ItemGauge::queue);
    }
    std::lock_guard lock(registry_mutex_);
    inputs_.emplace(std::move(id), std::move(input));
  }

  void on_stop(std::function<void()> handler) {
    check_set_up("on_stop");
    on_stop_ = std::move(handler);
  }
  void on_input_closed(std::function<void(std::string_view input_id)> handler) {
    check_set_up("on_input_closed");
    on_input_closed_ = std::move(handler);
  }
  void on_input_recovered(std::function<void(std::string_view input_id)> handler) {
    check_set_up("on_input_recovered");
    on_input_recovered_ = std::move(handler);
  }
  void on_node_restarted(std::function<void(std::string_view node_id)> handler) {
    check_set_up("on_node_restarted");
    on_node_restarted_ = std::move(handler);
  }
  void on_node_failed(std::function<void(const NodeFailedEvent&)> handler) {
    check_set_up("on_node_failed");
    on_node_failed_ = std::move(handler);
  }
  void on_all_inputs_closed(std::function<void()> handler) {
    check_set_up("on_all_inputs_closed");
    on_all_inputs_closed_ = std::move(handler);
  }
  /// Default: counted in unknown_inputs() and ignored.
  void on_unknown_input(std::function<void(const InputEvent&)> handler) {
    check_set_up("on_unknown_input");
    on_unknown_input_ = std::move(handler);
  }
  /// Default: counted in error_events() and ignored. (Counted in both cases.)
  void on_error_event(std::function<void(const ErrorEvent&)> handler) {
    check_set_up("on_error_event");
    on_error_event_ = std::move(handler);
  }

  /// The epoch every input is stamped with; called on the loop for every input of a registered id
  /// and on pool workers before each queued handler starts (thread-safe, cheap, non-throwing).
  void set_epoch_source(std::function<std::uint64_t()> epoch) {
    check_set_up("set_epoch_source");
    epoch_source_ = std::move(epoch);
  }

  /// Called inline on the loop for every input event (registered or not), before it is dispatched.
  /// Must be cheap (the watchdog's feed).
  void add_input_observer(std::function<void(const InputEvent&)> observer) {
    check_set_up("add_input_observer");
    if (observer) input_observers_.push_back(std::move(observer));
  }

  /// Called inline on the loop for every InputClosedEvent, before on_input_closed().
  void add_input_closed_observer(std::function<void(std::string_view input_id)> observer) {
    check_set_up("add_input_closed_observer");
    if (observer) closed_observers_.push_back(std::move(observer));
  }

  // --- the event loop --------------------------------------------------------------------------

  /// Routes one event (see the header comment). Never waits for a worker.
  DispatchOutcome dispatch(Event event) {
    started_.store(true, std::memory_order_relaxed);
    // After Stop only the inputs queued before it follow (node.hpp's Stop rule): they are routed.
    const bool drained_input = end_ == RunEnd::stop && std::holds_alternative<InputEvent>(event);
    if (end_ && !drained_input) return DispatchOutcome::ended;
    return std::visit([this](auto& e) { return route(e); }, event);
  }

  /// Dispatches events from `events` until the stream ends; after Stop, the inputs that follow it
  /// are still routed. Returns at once after AllInputsClosed (the stream is over then).
  RunEnd run(EventStream& events) {
    while (end_ != RunEnd::all_inputs_closed) {
      EventResult next = events.next();
      if (!next.ok()) return end_.value_or(RunEnd::stream_ended);
      dispatch(std::move(next.event()));
    }
    return *end_;
  }

  /// True after a StopEvent or an AllInputsClosedEvent was dispatched. Loop thread only.
  [[nodiscard]] bool has_ended() const noexcept { return end_.has_value(); }

  // --- any thread ------------------------------------------------------------------------------

  /// Drops every waiting event of every input (counted discarded) and requests stop on the token of
  /// every running handler; later handlers get a fresh token. Returns how many events were dropped.
  /// Never waits for handlers.
  /// Throws std::bad_alloc, before anything changed, when the fresh stop source cannot be made.
  std::size_t discard_queued_and_cancel() {
    std::stop_source fresh;  // allocates: first, so that a failure changes nothing
    std::size_t discarded = 0;
    // Each input's waiting events change hands at once (O(1) per input, whatever the backlog); they
    // are destroyed on the pool, not on the caller's thread — typically the event loop inside an
    // e-stop, which must stay quick so that the halt is not held up by freeing a backlog.
    std::vector<GrowingRing<Pending>> doomed;
    {
      std::lock_guard registry(registry_mutex_);
      doomed.reserve(inputs_.size());  // allocates before anything changes
      for (auto& [id, input] : inputs_) {
        if (input->limit == 0) continue;
        std::lock_guard lock(input->mutex);
        const std::size_t n = input->queue.size();
        if (n == 0) continue;
        doomed.push_back(input->queue.take_all());  // no allocation: reserved above
        input->count_discarded(n);
        input->publish_queue_size();
        discarded += n;
      }
    }
    // After every queue was emptied: a handler whose event left its queue before that holds a token
    // of the old source (taken under the same input lock), so it is requested below.
    std::stop_source old(std::nostopstate);
    {
      std::lock_guard lock(stop_mutex_);
      old = std::exchange(stop_source_, std::move(fresh));
    }
    old.request_stop();
    if (!doomed.empty()) destroy_elsewhere(std::move(doomed));
    return discarded;
  }

  /// True when, within `timeout`, no handler of this router is queued or running. (From one of the
  /// router's own handlers it can only time out: that handler is running.)
  /// A negative timeout throws std::invalid_argument; a huge one (nanoseconds::max()) waits forever.
  bool wait_idle_for(std::chrono::nanoseconds timeout) {
    const detail::SteadyTime deadline = detail::deadline_after(timeout, "dcp::EventRouter::wait_idle_for");
    const auto idle = [this] { return busy_.load(std::memory_order_seq_cst) == 0; };
    std::unique_lock lock(idle_mutex_);
    if (deadline == detail::kNoDeadline) {
      idle_.wait(lock, idle);
      return true;
    }
    return idle_.wait_until(lock, deadline, idle);
  }

  /// See "Shutdown" in the header comment. Idempotent; callable from any thread.
  void shutdown(ShutdownMode mode) {
    closed_.store(true, std::memory_order_seq_cst);
    {
      // A barrier: an enqueue that saw closed_ == false under an input's lock has registered its
      // drainer (busy_) before we get that lock; a later one sees closed_ == true.
      std::lock_guard registry(registry_mutex_);
      for (auto& [id, input] : inputs_) std::lock_guard lock(input->mutex);
    }
    if (mode == ShutdownMode::cancel) discard_queued_and_cancel();
    if (running_event_router == this) return;  // a handler cannot wait for itself
    std::unique_lock lock(idle_mutex_);
    idle_.wait(lock, [this] { return busy_.load(std::memory_order_seq_cst) == 0; });
  }

  /// A snapshot of one input's counts. Unknown id -> std::invalid_argument.
  [[nodiscard]] InputStats input_stats(std::string_view input_id) const {
    const Input* input = nullptr;
    {
      std::lock_guard registry(registry_mutex_);
      auto it = inputs_.find(std::string(input_id));
      if (it == inputs_.end()) {
        throw std::invalid_argument("dcp::EventRouter::input_stats: no input '" + std::string(input_id) + "' is registered");
      }
      input = it->second.get();
    }
    InputStats stats;
    {
      std::lock_guard lock(input->mutex);
      stats.queued = input->queue.size();
    }
    stats.received = input->received.load(std::memory_order_relaxed);
    stats.handled = input->handled.load(std::memory_order_relaxed);
    stats.failed = input->failed.load(std::memory_order_relaxed);
    stats.dropped = input->dropped.load(std::memory_order_relaxed);
    stats.discarded = input->discarded.load(std::memory_order_relaxed);
    stats.running = input->running.load(std::memory_order_relaxed);
    stats.refused_after_shutdown = input->refused.load(std::memory_order_relaxed);
    return stats;
  }

  [[nodiscard]] Stats stats() const noexcept {
    Stats s;
    s.unknown_inputs = unknown_inputs_.load(std::memory_order_relaxed);
    s.error_events = error_events_.load(std::memory_order_relaxed);
    s.control_failures = control_failures_.load(std::memory_order_relaxed);
    s.refused_after_shutdown = refused_.load(std::memory_order_relaxed);
    return s;
  }

  /// The counters of an input on the status board ("input.<id>.<name>", in this order).
  enum InputCount : std::size_t { kReceived, kHandled, kFailed, kDropped, kDiscarded, kInputCounts };
  using InputMetrics = detail::ItemMetrics<kInputCounts>;

  /// One input event on its way to a worker.
  struct Pending {
    InputEvent event;
    std::uint64_t epoch = 0;
    std::chrono::steady_clock::time_point received;
    std::uint64_t sequence = 0;
  };

  struct Input {
    Input(std::string input_id, InputHandler input_handler, InputOptions input_options, std::size_t drainer_limit)
        : id(std::move(input_id)),
          handler(std::move(input_handler)),
          options(input_options),
          limit(drainer_limit),
          queue(input_options.queue_capacity) {}

    const std::string id;
    const InputHandler handler;
    const InputOptions options;
    const std::size_t limit;  ///< most drainers at once: 0 for on_loop, 1 serial, max_parallel
    InputMetrics metrics;  ///< no-ops without a status board

    std::uint64_t next_sequence = 0;  ///< loop thread only

    mutable std::mutex mutex;  ///< guards queue and drainers
    GrowingRing<Pending> queue;
    std::size_t drainers = 0;  ///< drainer tasks posted and not retired

    std::atomic<std::uint64_t> received{0};
    std::atomic<std::uint64_t> handled{0};
    std::atomic<std::uint64_t> failed{0};
    std::atomic<std::uint64_t> dropped{0};
    std::atomic<std::uint64_t> discarded{0};
    std::atomic<std::size_t> running{0};
    std::atomic<std::uint64_t> refused{0};  ///< dispatched after shutdown() began

    void count_dropped(std::uint64_t n = 1) noexcept {
      dropped.fetch_add(n, std::memory_order_relaxed);
      metrics.add(kDropped, n);
    }
    void count_discarded(std::uint64_t n = 1) noexcept {
      discarded.fetch_add(n, std::memory_order_relaxed);
      metrics.add(kDiscarded, n);
    }
    /// Under `mutex`.
    void publish_queue_size() noexcept {
      metrics.set_queue(static_cast<std::int64_t>(queue.size()));
    }
  };

  /// The pool task that empties one input's queue. Destroyed without running (the pool refused or
  /// dropped it), it retires its drainer slot so the router never waits for it.
  class Drainer {
   public:
    Drainer(Impl& router, Input& input) noexcept : router_(&router), input_(&input) {}
    Drainer(Drainer&& other) noexcept
        : router_(other.router_), input_(std::exchange(other.input_, nullptr)) {}
    Drainer& operator=(Drainer&&) = delete;
    ~Drainer() {
      if (input_ != nullptr) router_->drainer_lost(*input_);
    }

    void operator()(std::stop_token pool_stop) {
      Input& input = *std::exchange(input_, nullptr);
      router_->drain(input, pool_stop);
    }

   private:
    Impl* router_;
    Input* input_;
  };

  static constexpr std::size_t kDrainerBatch = 32;  // events before a drainer yields its worker

  // --- routing (loop thread) -------------------------------------------------------------------

  DispatchOutcome route(InputEvent& event) {
    for (const auto& observer : input_observers_) {
      guarded("an input observer", event.id, [&] { observer(event); });
    }
    auto it = inputs_.find(event.id);
    if (it == inputs_.end()) {
      unknown_inputs_.fetch_add(1, std::memory_order_relaxed);
      if (unknown_metric_) unknown_metric_->add();
      if (on_unknown_input_) guarded("on_unknown_input", event.id, [&] { on_unknown_input_(event); });
      return DispatchOutcome::unknown_input;
    }
    Input& input = *it->second;
    Pending pending{std::move(event), epoch_source_ ? epoch_source_() : 0, std::chrono::steady_clock::now(),
                    ++input.next_sequence};
    input.received.fetch_add(1, std::memory_order_relaxed);
    input.metrics.add(kReceived);
    if (input.limit == 0) return run_inline(input, pending);
    return enqueue(input, std::move(pending));
  }

  DispatchOutcome route(InputClosedEvent& event) {
    for (const auto& observer : closed_observers_) {
      guarded("an input-closed observer", event.id, [&] { observer(event.id); });
    }
    if (on_input_closed_) guarded("on_input_closed", event.id, [&] { on_input_closed_(event.id); });
    return DispatchOutcome::handled;
  }

  DispatchOutcome route(InputRecoveredEvent& event) {
    if (on_input_recovered_) guarded("on_input_recovered", event.id, [&] { on_input_recovered_(event.id); });
    return DispatchOutcome::handled;
  }

  DispatchOutcome route(NodeRestartedEvent& event) {
    if (on_node_restarted_) {
      const std::string what = "on_node_restarted for node '" + event.node_id + "'";
      guarded(what.c_str(), {}, [&] { on_node_restarted_(event.node_id); });
    }
    return DispatchOutcome::handled;
  }

  DispatchOutcome route(NodeFailedEvent& event) {
    if (on_node_failed_) {
      const std::string what = "on_node_failed for node '" + event.node_id + "'";
      guarded(what.c_str(), {}, [&] { on_node_failed_(event); });
    }
    return DispatchOutcome::handled;
  }

  DispatchOutcome route(AllInputsClosedEvent&) {
    if (on_all_inputs_closed_) guarded("on_all_inputs_closed", {}, [&] { on_all_inputs_closed_(); });
    end_ = RunEnd::all_inputs_closed;
    return DispatchOutcome::handled;
  }

  DispatchOutcome route(StopEvent&) {
    if (on_stop_) guarded("on_stop", {}, [&] { on_stop_(); });
    end_ = RunEnd::stop;
    return DispatchOutcome::handled;
  }

  DispatchOutcome route(ErrorEvent& event) {
    error_events_.fetch_add(1, std::memory_order_relaxed);
    if (error_event_metric_) error_event_metric_->add();
    if (on_error_event_) guarded("on_error_event", {}, [&] { on_error_event_(event); });
    return DispatchOutcome::handled;
  }

  DispatchOutcome run_inline(Input& input, Pending& pending) {
    // busy_ before closed_ (both seq_cst): a concurrent shutdown() either sees us busy or we see it.
    busy_.fetch_add(1, std::memory_order_seq_cst);
    if (closed_.load(std::memory_order_seq_cst)) {
      release_busy();
      return refuse(input);
    }
    execute(input, pending, current_stop_token());
    release_busy();
    return DispatchOutcome::handled;
  }

  DispatchOutcome enqueue(Input& input, Pending&& pending) {
    DispatchOutcome outcome = DispatchOutcome::queued;
    std::optional<Pending> evicted;  // destroyed after the lock is released
    bool post = false;
    {
      std::lock_guard lock(input.mutex);
      if (closed_.load(std::memory_order_seq_cst)) return refuse(input);
      if (pool_.is_shut_down()) {
        input.count_dropped();
        return DispatchOutcome::dropped;
      }
      if (input.queue.full()) {
        if (input.options.overflow == Overflow::drop_newest) {
          input.count_dropped();
          return DispatchOutcome::dropped;
        }
        evicted.emplace(input.queue.pop());
        input.count_dropped();
        outcome = DispatchOutcome::queued_dropped_oldest;
      }
      try {
        input.queue.push(std::move(pending));  // may grow the ring (only when not full)
      } catch (...) {  // std::bad_alloc: this event is dropped (counted), and the caller told
        input.count_dropped();
        throw;
      }
      input.publish_queue_size();
      if (input.drainers < input.limit) {
        ++input.drainers;
        busy_.fetch_add(1, std::memory_order_seq_cst);  // under the lock: never "queued but idle"
        post = true;
      }
    }
    // Outside the lock: a refused drainer retires itself (drainer_lost) under the same lock.
    if (post) pool_.post(Drainer(*this, input));
    return outcome;
  }

  DispatchOutcome refuse(Input& input) noexcept {
    input.refused.fetch_add(1, std::memory_order_relaxed);
    refused_.fetch_add(1, std::memory_order_relaxed);
    return DispatchOutcome::closed;
  }

  // --- pool side -------------------------------------------------------------------------------

  /// Runs the input's waiting events one by one; retires when the queue is empty.
  void drain(Input& input, const std::stop_token& pool_stop) {
    for (std::size_t batch = 0;; ++batch) {
      std::optional<Pending> next;
      std::stop_token stop;
      std::vector<Pending> doomed;
      {
        std::unique_lock lock(input.mutex);
        if (pool_stop.stop_requested()) {
          // The pool is cancelling: what is waiting here will not run.
          (void)discard_waiting_locked(input, doomed);
        }
        if (input.queue.empty()) {  // checked and retired under one lock: no stranded event
          --input.drainers;
          lock.unlock();
          doomed.clear();
          release_busy();
          return;
        }
        if (batch == kDrainerBatch && !pool_.is_shut_down()) {
          // Yield the worker: the continuation keeps this drainer's slot (or retires it if lost).
          lock.unlock();
          pool_.post(Drainer(*this, input));
          return;
        }
        next.emplace(input.queue.pop());
        input.publish_queue_size();
        input.running.fetch_add(1, std::memory_order_relaxed);
        stop = current_stop_token();  // under the input lock: see discard_queued_and_cancel()
      }
      bool stale = stop.stop_requested();
      if (!stale && epoch_source_) {
        try {
          stale = next->epoch < epoch_source_();
        } catch (...) {
          stale = false;
        }
      }
      if (stale) {
        input.count_discarded();
        input.running.fetch_sub(1, std::memory_order_relaxed);
      } else {
        execute_counted_running(input, *next, std::move(stop));
      }
    }
  }

  /// Under input.mutex: moves every waiting event of `input` into `doomed` (to be destroyed outside
  /// the lock) and counts them discarded. Never throws: without memory for the list, the events are
  /// destroyed here, one by one.
  static std::size_t discard_waiting_locked(Input& input, std::vector<Pending>& doomed) noexcept {
    const std::size_t n = input.queue.size();
    if (n == 0) return 0;
    try {
      input.queue.drain_into(doomed);  // reserves first: throws before moving anything
    } catch (...) {
      while (!input.queue.empty()) (void)input.queue.pop();
    }
    input.count_discarded(n);
    input.publish_queue_size();
    return n;
  }

  /// Destroys discarded events on the pool; here when the pool does not take the task (shut down,
  /// or out of memory).
  void destroy_elsewhere(std::vector<GrowingRing<Pending>>&& doomed) noexcept {
    try {
      (void)pool_.post([rings = std::move(doomed)]() mutable { rings.clear(); });
    } catch (...) {
      // `doomed` (or the task holding it) is destroyed on this thread: correct, only slower.
    }
  }

  /// A drainer task destroyed without running: retire its slot; if it was the input's last one,
  /// nobody will take the waiting events: discard them.
  void drainer_lost(Input& input) noexcept {
    std::vector<Pending> doomed;
    {
      std::lock_guard lock(input.mutex);
      --input.drainers;
      if (input.drainers == 0) (void)discard_waiting_locked(input, doomed);
    }
    doomed.clear();
    release_busy();
  }

  // --- running a handler -----------------------------------------------------------------------

  void execute_counted_running(Input& input, Pending& pending, std::stop_token stop) {
    execute_handler(input, pending, std::move(stop));
    input.running.fetch_sub(1, std::memory_order_relaxed);
  }

  void execute(Input& input, Pending& pending, std::stop_token stop) {
    input.running.fetch_add(1, std::memory_order_relaxed);
    execute_counted_running(input, pending, std::move(stop));
  }

  void execute_handler(Input& input, Pending& pending, std::stop_token stop) {
    const InputContext context{pending.epoch, std::move(stop), pending.received, pending.sequence};
    const Impl* outer = std::exchange(running_event_router, this);
    std::exception_ptr error;
    try {
      input.handler(pending.event, context);
    } catch (...) {
      error = std::current_exception();
    }
    running_event_router = outer;
    input.metrics.record_since(pending.received);
    if (!error) {
      input.handled.fetch_add(1, std::memory_order_relaxed);
      input.metrics.add(kHandled);
      return;
    }
    input.failed.fetch_add(1, std::memory_order_relaxed);
    input.metrics.add(kFailed);
    report({"input '", input.id, "' handler threw: "}, error);
  }

  /// Runs a control handler or observer (`what`, about input `id` when not empty); an exception is
  /// counted and delivered ("<what> threw: ..." / "<what> for input '<id>' threw: ..."), never propagated.
  template <class F>
  void guarded(const char* what, std::string_view id, F&& f) {
    std::exception_ptr error;
    const Impl* outer = std::exchange(running_event_router, this);
    try {
      f();
    } catch (...) {
      error = std::current_exception();
    }
    running_event_router = outer;
    if (!error) return;
    control_failures_.fetch_add(1, std::memory_order_relaxed);
    if (id.empty()) {
      report({what, " threw: "}, error);
    } else {
      report({what, " for input '", id, "' threw: "}, error);
    }
  }

  /// Delivers the concatenated `parts` + what `error` says with dcp::deliver_error: Options::on_error,
  /// else dcp::report_error (the node's log, the run's summary). Never throws, never drops the error.
  void report(std::initializer_list<std::string_view> parts, const std::exception_ptr& error) noexcept {
    try {
      std::string message;
      for (const std::string_view part : parts) message += part;
      message += describe_exception(error);
      deliver_error(options_.on_error, "event router", message);
    } catch (...) {  // the message could not be allocated: still say that work was lost
      deliver_error(options_.on_error, "event router", "a handler threw");
    }
  }

  // --- helpers ---------------------------------------------------------------------------------

  std::stop_token current_stop_token() const {
    std::lock_guard lock(stop_mutex_);
    return stop_source_.get_token();
  }

  /// Ends one unit of work (a drainer, an inline handler). Nothing of the router may be touched
  /// after the count can reach 0: a waiting shutdown()/destructor may then return and free it. So
  /// the last unit decrements under idle_mutex_ and notifies before unlocking.
  void release_busy() noexcept {
    std::size_t count = busy_.load(std::memory_order_relaxed);
    while (count > 1) {
      if (busy_.compare_exchange_weak(count, count - 1, std::memory_order_seq_cst, std::memory_order_relaxed)) return;
    }
    std::lock_guard lock(idle_mutex_);
    if (busy_.fetch_sub(1, std::memory_order_seq_cst) == 1) idle_.notify_all();
  }

  void check_set_up(const char* operation) const {
    if (closed_.load(std::memory_order_seq_cst)) {
      throw std::logic_error(std::string("dcp::EventRouter::") + operation + ": called after shutdown()");
    }
    if (started_.load(std::memory_order_relaxed)) {
      throw std::logic_error(std::string("dcp::EventRouter::") + operation +
                             ": set-up after the first dispatch() (register handlers and hooks before the event loop "
                             "starts)");
    }
  }

  WorkerPool& pool_;
  const Options options_;

  // Set-up data: written before the first dispatch on the loop thread, read-only afterwards.
  // registry_mutex_ guards the map's structure against the any-thread readers during set-up.
  std::unordered_map<std::string, std::unique_ptr<Input>> inputs_;
  mutable std::mutex registry_mutex_;
  std::function<void()> on_stop_;
  std::function<void(std::string_view)> on_input_closed_;
  std::function<void(std::string_view)> on_input_recovered_;
  std::function<void(std::string_view)> on_node_restarted_;
  std::function<void(const NodeFailedEvent&)> on_node_failed_;
  std::function<void()> on_all_inputs_closed_;
  std::function<void(const InputEvent&)> on_unknown_input_;
  std::function<void(const ErrorEvent&)> on_error_event_;
  std::function<std::uint64_t()> epoch_source_;
  std::vector<std::function<void(const InputEvent&)>> input_observers_;
  std::vector<std::function<void(std::string_view)>> closed_observers_;
  Counter* unknown_metric_ = nullptr;
  Counter* error_event_metric_ = nullptr;

  // Loop thread.
  std::optional<RunEnd> end_;
  std::atomic<bool> started_{false};

  std::atomic<bool> closed_{false};  ///< shutdown() began
  std::atomic<std::uint64_t> unknown_inputs_{0};
  std::atomic<std::uint64_t> error_events_{0};
  std::atomic<std::uint64_t> control_failures_{0};
  std::atomic<std::uint64_t> refused_{0};

  mutable std::mutex stop_mutex_;  ///< guards stop_source_ (taken inside an input's lock, never around one)
  std::stop_source stop_source_;

  std::atomic<std::size_t> busy_{0};  ///< drainers alive + inline handlers running
  std::mutex idle_mutex_;
  std::condition_variable idle_;

  /// The router whose handler the calling thread is executing (nullptr otherwise).
  static thread_local const Impl* running_event_router;
};

thread_local const EventRouter::Impl* EventRouter::Impl::running_event_router = nullptr;

EventRouter::EventRouter(WorkerPool& pool, Options options)
    : impl_(std::make_unique<Impl>(pool, std::move(options))) {}
EventRouter::~EventRouter() = default;

EventRouter& EventRouter::on_input(std::string id, InputHandler handler, InputOptions options) {
  impl_->on_input(std::move(id), std::move(handler), options);
  return *this;
}
EventRouter& EventRouter::on_stop(std::function<void()> handler) {
  impl_->on_stop(std::move(handler));
  return *this;
}
EventRouter& EventRouter::on_input_closed(std::function<void(std::string_view)> handler) {
  impl_->on_input_closed(std::move(handler));
  return *this;
}
EventRouter& EventRouter::on_input_recovered(std::function<void(std::string_view)> handler) {
  impl_->on_input_recovered(std::move(handler));
  return *this;
}
EventRouter& EventRouter::on_node_restarted(std::function<void(std::string_view)> handler) {
  impl_->on_node_restarted(std::move(handler));
  return *this;
}
EventRouter& EventRouter::on_node_failed(std::function<void(const NodeFailedEvent&)> handler) {
  impl_->on_node_failed(std::move(handler));
  return *this;
}
EventRouter& EventRouter::on_all_inputs_closed(std::function<void()> handler) {
  impl_->on_all_inputs_closed(std::move(handler));
  return *this;
}
EventRouter& EventRouter::on_unknown_input(std::function<void(const InputEvent&)> handler) {
  impl_->on_unknown_input(std::move(handler));
  return *this;
}
EventRouter& EventRouter::on_error_event(std::function<void(const ErrorEvent&)> handler) {
  impl_->on_error_event(std::move(handler));
  return *this;
}
void EventRouter::set_epoch_source(std::function<std::uint64_t()> epoch) { impl_->set_epoch_source(std::move(epoch)); }
void EventRouter::add_input_observer(std::function<void(const InputEvent&)> observer) {
  impl_->add_input_observer(std::move(observer));
}
void EventRouter::add_input_closed_observer(std::function<void(std::string_view)> observer) {
  impl_->add_input_closed_observer(std::move(observer));
}
DispatchOutcome EventRouter::dispatch(Event event) { return impl_->dispatch(std::move(event)); }
RunEnd EventRouter::run(EventStream& events) { return impl_->run(events); }
bool EventRouter::has_ended() const noexcept { return impl_->has_ended(); }
std::size_t EventRouter::discard_queued_and_cancel() { return impl_->discard_queued_and_cancel(); }
bool EventRouter::wait_idle_for(std::chrono::nanoseconds timeout) { return impl_->wait_idle_for(timeout); }
void EventRouter::shutdown(ShutdownMode mode) { impl_->shutdown(mode); }
EventRouter::Stats EventRouter::stats() const noexcept { return impl_->stats(); }
InputStats EventRouter::input_stats(std::string_view input_id) const { return impl_->input_stats(input_id); }

}  // namespace dcp
