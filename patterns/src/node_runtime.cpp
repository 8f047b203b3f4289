// patterns/src/node_runtime.cpp — the body of dcp::NodeRuntime (contract: dcp/patterns/node_runtime.hpp).
#include "dcp/patterns/node_runtime.hpp"

#include <stdexcept>
#include <string>
#include <utility>

namespace dcp {

namespace {

/// Runs make(), prefixing a std::invalid_argument with the option block it came from, so the user
/// sees which of the runtime's blocks holds the bad field.
template <class Make>
auto made_from(const char* block, Make&& make) {
  try {
    return make();
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(std::string("dcp::NodeRuntime: Options::") + block + ": " + error.what());
  }
}

void require_unset_status(const StatusBoard* status, const char* block) {
  if (status != nullptr) {
    throw std::invalid_argument(std::string("dcp::NodeRuntime: Options::") + block +
                                ".status must stay unset: the runtime attaches its own StatusBoard (status())");
  }
}

}  // namespace

NodeRuntime::NodeRuntime(Node node, Options options) : node_id_(std::move(node.id)), events_(std::move(node.events)) {
  require_unset_status(options.outputs.status, "outputs");
  require_unset_status(options.router.status, "router");
  status_ = std::make_unique<StatusBoard>(node_id_);
  options.outputs.status = status_.get();
  options.router.status = status_.get();
  outputs_ = made_from("outputs", [&] { return std::make_unique<OutputHandler>(std::move(node.outputs), std::move(options.outputs)); });
  if (options.estop) {
    estop_ = made_from("estop", [&] { return std::make_unique<EmergencyStop>(*outputs_, std::move(*options.estop)); });
  }
  pool_ = made_from("pool", [&] { return std::make_unique<WorkerPool>(std::move(options.pool)); });
  router_ = made_from("router", [&] { return std::make_unique<EventRouter>(*pool_, std::move(options.router)); });
  if (estop_) estop_->protect(*router_);
  // A throw after a part was made destroys the made ones in member order (router first) — the order
  // the destructor uses, since no component exists yet.
}

NodeRuntime::~NodeRuntime() {
  if (!shut_down_.load(std::memory_order_acquire)) shutdown(ShutdownMode::drain);
  router_.reset();
  pool_.reset();
  // Newest component first: a component may use the ones made before it.
  while (!components_.empty()) components_.pop_back();
  estop_.reset();
  outputs_.reset();
  status_.reset();
  // events_ goes last, with the members: the node's last error count is sent when the stream and the
  // sender (destroyed with the output handler) are both gone.
}

EmergencyStop& NodeRuntime::estop() {
  if (!estop_) throw std::logic_error("dcp::NodeRuntime::estop(): this runtime has no e-stop (set Options::estop)");
  return *estop_;
}

namespace {
[[noreturn]] void refuse_component() {
  throw std::logic_error("dcp::NodeRuntime::make(): the runtime is shutting down; make components before run()");
}
}  // namespace

void NodeRuntime::check_accepting_components() const {
  std::lock_guard lock(components_mutex_);
  if (shutting_down_) refuse_component();
}

void NodeRuntime::adopt(Component component) {
  std::lock_guard lock(components_mutex_);
  if (shutting_down_) refuse_component();
  components_.push_back(std::move(component));
}

RunEnd NodeRuntime::run() { return router_->run(events_); }

void NodeRuntime::shutdown(ShutdownMode mode) {
  {
    std::lock_guard lock(components_mutex_);
    shutting_down_ = true;  // components_ no longer changes until the destructor
  }
  for (Component& component : components_) {
    if (component.stop != nullptr) component.stop(component.object.get());
  }
  router_->shutdown(mode);
  pool_->shutdown(mode);
  for (auto it = components_.rbegin(); it != components_.rend(); ++it) {
    if (it->shutdown != nullptr) it->shutdown(it->object.get(), mode);
  }
  if (estop_) estop_->shutdown(mode);
  outputs_->shutdown(mode);
  shut_down_.store(true, std::memory_order_release);
}

NodeRuntime::Stats NodeRuntime::stats() const {
  Stats stats{outputs_->stats(), router_->stats(), std::nullopt, pool_->queued(), pool_->running(), 0};
  if (estop_) stats.estop = estop_->stats();
  std::lock_guard lock(components_mutex_);
  stats.components = components_.size();
  return stats;
}

}  // namespace dcp
