// The runner's cap on held shared-memory payload descriptors (see payload_budget.hpp).
#include "runner/payload_budget.hpp"

#include <algorithm>
#include <utility>

namespace dcp::runner {

std::size_t derived_payload_limit(std::uint64_t nofile, std::size_t nodes, std::size_t timers,
                                  std::size_t pending_connections) noexcept {
  const std::uint64_t reserved = kRunnerOwnDescriptors + kDescriptorsPerNode * std::uint64_t{nodes} + timers +
                                 pending_connections;
  return nofile > reserved ? static_cast<std::size_t>(nofile - reserved) : 0;
}

PayloadBudget::PayloadBudget(std::size_t limit) : limit_(limit), counts_(std::make_shared<Counts>()) {}

std::shared_ptr<const ipc::FileDescriptor> PayloadBudget::adopt(ipc::FileDescriptor fd) {
  auto owned = std::make_unique<const ipc::FileDescriptor>(std::move(fd));
  ++counts_->held;
  counts_->peak = std::max(counts_->peak, counts_->held);
  return std::shared_ptr<const ipc::FileDescriptor>(owned.release(), [counts = counts_](const ipc::FileDescriptor* p) {
    --counts->held;
    delete p;
  });
}

}  // namespace dcp::runner
