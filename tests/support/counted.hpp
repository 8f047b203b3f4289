// tests/support/counted.hpp — a value type that counts its constructions, copies and destructions,
// so tests can assert "no copies on the hot path" and "nothing leaked or destroyed twice".
#pragma once

#include <atomic>
#include <cstdint>

namespace dcp::test {

struct CountedStats {
  std::atomic<std::int64_t> constructed{0};  // every constructor, copies and moves included
  std::atomic<std::int64_t> copied{0};
  std::atomic<std::int64_t> destroyed{0};
  std::int64_t alive() const { return constructed.load() - destroyed.load(); }
};

class Counted {
 public:
  Counted(CountedStats& stats, std::uint64_t id) : stats_(&stats), id_(id) { stats_->constructed++; }
  Counted(const Counted& o) : stats_(o.stats_), id_(o.id_) {
    stats_->constructed++;
    stats_->copied++;
  }
  Counted(Counted&& o) noexcept : stats_(o.stats_), id_(o.id_) { stats_->constructed++; }
  Counted& operator=(const Counted&) = delete;
  Counted& operator=(Counted&&) = delete;
  ~Counted() { stats_->destroyed++; }
  std::uint64_t id() const { return id_; }

 private:
  CountedStats* stats_;
  std::uint64_t id_;
};

}  // namespace dcp::test
