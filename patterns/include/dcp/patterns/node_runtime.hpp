// dcp/patterns/node_runtime.hpp — the patterns a node uses, put together once and taken apart in the
// one order that is safe.
//
// What it is for: almost every dcp node is the same five objects — a StatusBoard, an OutputHandler
// that owns the sender, a WorkerPool, an EventRouter on that pool and, for a robot, an EmergencyStop
// guarding the router — plus a few of the node's own (an Aggregator, a BackgroundJob, shared state).
// Each must be destroyed in one particular order (handlers finish before the pool stops, the pool's
// tasks before the aggregator they feed, everything before the output handler that sends their
// results, the node's error count last), and getting it wrong is a use-after-free under load. A
// NodeRuntime owns them all and does it right:
//
//   dcp::NodeRuntime node(dcp::init_node(), {.pool = {.threads = 4},
//                                            .estop = dcp::EmergencyStopOptions{.halt_output = "safety_state"}});
//   auto& world = node.make<World>();                                  // owned: outlives every handler
//   auto& fusion = node.make<dcp::Aggregator<std::int64_t, Part>>(on_frame, {.parts = 4});
//   node.router().on_input("lidar", [&](const dcp::InputEvent& in, const dcp::InputContext& ctx) {
//     node.outputs().send("command", plan(world, in), {}, ctx.epoch);
//   });
//   node.run();   // until Stop / all inputs closed; the destructor then shuts everything down
//
// What it owns, and the order of shutdown() (each stage finishes before the next begins):
//   1. background work: every owned component that has request_stop() (a BackgroundJob) is asked
//      to stop — a long job is abandoned when the node ends (wait for it first to let it finish);
//   2. the router: shutdown(mode) — drain: every queued input is handled; cancel: dropped;
//   3. the pool: shutdown(mode) — the tasks the handlers posted;
//   4. the owned components (make<T>()), newest first: shutdown(mode) for those that have one
//      (an Aggregator flushes its pending keys, a BackgroundJob joins its thread);
//   5. the e-stop: shutdown() — its watchdog stops, no trigger while the outputs drain;
//   6. the outputs: shutdown(mode) — drain: every queued output is sent.
// The destructor runs shutdown(ShutdownMode::drain) unless a shutdown() already went through every
// stage, then destroys in the same order: router, pool,
// components (newest first), e-stop, outputs, status board, and the event stream last — so errors
// reported while shutting down still reach the local runner's count (see dcp::init_node()).
//
// Set-up. The constructor creates the board (named after the node), the output handler (attached
// to the board), the pool, the router (attached to the board) and, when Options::estop is set, the
// e-stop, which protects the router at once (its watchdog deadlines count from construction).
// Handlers and components are added after construction, on the thread that will run the loop,
// before run(). Options::outputs.status and Options::router.status must stay unset: the runtime
// attaches its own board (std::invalid_argument otherwise).
//
// Errors: whatever the parts lose is reported by each part (dcp::deliver_error: stderr and the
// runner's count by default, or the on_error of each part's options); the runtime adds no rule.
// The constructor throws what the parts throw for bad options (std::invalid_argument naming the
// field, prefixed with the part: "NodeRuntime: outputs: ...").
//
// Thread safety: status(), outputs(), pool(), router(), estop() and stats() may be called from any
// thread; the parts keep their own contracts. make(), run() and events() are for the thread that
// runs the event loop. shutdown() may be called from any thread but the runtime's own (a handler, a
// task, a component's callback, the output thread): from there it would wait for itself — end the
// loop instead. Blocking: run() until the stream ends; shutdown() and the destructor until every
// stage is done (a component that never ends keeps them waiting). After shutdown() began, make()
// throws std::logic_error; the parts refuse new work by their own after-shutdown rules.
#pragma once

#include <atomic>
#include <concepts>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dcp/core/shutdown.hpp"
#include "dcp/core/worker_pool.hpp"
#include "dcp/node/node.hpp"
#include "dcp/patterns/emergency_stop.hpp"
#include "dcp/patterns/event_router.hpp"
#include "dcp/patterns/output_handler.hpp"
#include "dcp/patterns/status.hpp"

namespace dcp {

/// The options of a NodeRuntime (NodeRuntime::Options): one block per part it creates.
struct NodeRuntimeOptions {
  /// The output handler's options (status must stay unset: the runtime attaches its board).
  OutputHandlerOptions outputs{};
  /// The worker pool's options.
  WorkerPool::Options pool{};
  /// The router's options (status must stay unset: the runtime attaches its board).
  EventRouterOptions router{};
  /// Set: the runtime creates an EmergencyStop with these options and protects its router.
  std::optional<EmergencyStopOptions> estop{};
};

class NodeRuntime {
 public:
  using Options = NodeRuntimeOptions;

  /// A snapshot of the parts' counters.
  struct Stats {
    OutputHandler::Stats outputs;
    EventRouter::Stats router;
    std::optional<EmergencyStop::Stats> estop;  ///< set when the runtime has an e-stop
    std::size_t pool_queued = 0;                ///< tasks waiting in the pool
    std::size_t pool_running = 0;               ///< tasks running on the pool
    std::size_t components = 0;                 ///< objects made with make()
  };

  /// Takes the node over (its sender goes to the output handler, its stream stays here for run())
  /// and creates the parts (see "Set-up"). Throws std::invalid_argument for a bad option (see
  /// "Errors") and what the parts throw (std::system_error when a thread cannot start).
  explicit NodeRuntime(Node node, Options options = {});

  NodeRuntime(const NodeRuntime&) = delete;
  NodeRuntime& operator=(const NodeRuntime&) = delete;

  /// shutdown(ShutdownMode::drain) unless one already ended, then destroys the parts in the order of
  /// the header comment.
  ~NodeRuntime();

  [[nodiscard]] const std::string& node_id() const noexcept { return node_id_; }
  [[nodiscard]] StatusBoard& status() noexcept { return *status_; }
  [[nodiscard]] OutputHandler& outputs() noexcept { return *outputs_; }
  [[nodiscard]] WorkerPool& pool() noexcept { return *pool_; }
  [[nodiscard]] EventRouter& router() noexcept { return *router_; }
  /// True when Options::estop was set.
  [[nodiscard]] bool has_estop() const noexcept { return estop_ != nullptr; }
  /// The e-stop; std::logic_error when Options::estop was not set.
  [[nodiscard]] EmergencyStop& estop();
  /// The node's event stream, for a loop of one's own (router().dispatch() on each event).
  [[nodiscard]] EventStream& events() noexcept { return events_; }

  /// Constructs a T the runtime owns (arguments forwarded) and returns it. It lives until the
  /// runtime's destructor, which destroys it after the router and the pool and before the e-stop and
  /// the outputs (newest component first) — so handlers and tasks may use it, and it may use the
  /// outputs. A T with shutdown(ShutdownMode) is shut down in stage 4, one with request_stop() is
  /// asked to stop in stage 1 (see the header comment); any other T is only destroyed. Throws what
  /// T's constructor throws, and std::logic_error once shutdown() began.
  template <class T, class... Args>
  T& make(Args&&... args) {
    check_accepting_components();  // before T starts any thread
    auto owned = std::make_unique<T>(std::forward<Args>(args)...);
    T& object = *owned;
    Component component;
    if constexpr (requires(T& t) { t.request_stop(); }) {
      component.stop = [](void* p) { static_cast<T*>(p)->request_stop(); };
    }
    if constexpr (requires(T& t, ShutdownMode mode) { t.shutdown(mode); }) {
      component.shutdown = [](void* p, ShutdownMode mode) { static_cast<T*>(p)->shutdown(mode); };
    }
    component.object = std::unique_ptr<void, void (*)(void*)>(owned.release(), [](void* p) { delete static_cast<T*>(p); });
    adopt(std::move(component));
    return object;
  }

  /// router().run(events()): dispatches until Stop, AllInputsClosed or the end of the stream.
  RunEnd run();

  /// Takes the node apart in the order of the header comment, each part with `mode`. Every call goes
  /// through every stage (the parts' shutdowns are idempotent, so a later call only waits for what
  /// is still in progress, and cancel escalates a drain in progress): a component's shutdown(mode)
  /// must be idempotent too. Not from the runtime's own threads (see "Thread safety").
  void shutdown(ShutdownMode mode = ShutdownMode::drain);

  [[nodiscard]] Stats stats() const;

 private:
  /// A make()d object, type-erased, with the stages it takes part in.
  struct Component {
    std::unique_ptr<void, void (*)(void*)> object{nullptr, nullptr};
    void (*stop)(void*) = nullptr;
    void (*shutdown)(void*, ShutdownMode) = nullptr;
  };

  /// std::logic_error once shutdown() began.
  void check_accepting_components() const;
  /// Appends `component` (std::logic_error once shutdown() began; the component is then destroyed).
  void adopt(Component component);

  // Members in construction order; the destructor destroys them explicitly in the documented order
  // (the components sit between the pool and the e-stop, which member order alone cannot express).
  std::string node_id_;
  EventStream events_;
  std::unique_ptr<StatusBoard> status_;
  std::unique_ptr<OutputHandler> outputs_;
  std::unique_ptr<EmergencyStop> estop_;
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<EventRouter> router_;
  mutable std::mutex components_mutex_;
  std::vector<Component> components_;  // guarded by components_mutex_; in make() order
  bool shutting_down_ = false;         // guarded by components_mutex_
  std::atomic<bool> shut_down_{false};  // a shutdown() went through every stage
};

}  // namespace dcp
