// dcp/node/payload.hpp — the bytes of a Dora message: immutable, shared, cheap to copy.
//
// What it is for: an input's data (dcp::InputEvent::data) and anything a node wants to keep or
// forward. A Payload is a read-only view plus shared ownership of what it views, which is either
//   - an owned buffer (copy_of, from_vector, from_string), or
//   - a read-only mapping of the sender's shared memory (a sealed memfd, see src/ipc/): large inputs
//     reach the node without a single copy (is_shared_memory() is then true).
// Copying a Payload copies a pointer and bumps a reference count; the bytes live until the last copy
// goes. The bytes never change while any Payload views them (memfd payloads are sealed by the sender).
//
//   dcp::Payload p = dcp::Payload::from_string("hello");
//   std::jthread worker([p] { use(p.bytes()); });       // a copy shares the same bytes
//
// Thread safety: a Payload is a value; distinct Payload objects (copies included) may be used from
// different threads at once, and the bytes may be read from any number of threads. Blocking: none.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dcp {

/// Largest payload a node may send: 1 GiB (the local runner's shared-memory limit).
inline constexpr std::size_t kMaxPayloadSize = std::size_t{1} << 30;

namespace detail {
struct PayloadAccess;
}

class Payload {
 public:
  /// An empty payload (size() == 0).
  Payload() noexcept = default;

  /// A payload holding its own copy of `bytes`.
  static Payload copy_of(std::span<const std::uint8_t> bytes) {
    if (bytes.empty()) return Payload();
    // Built in place (not through from_vector): g++ 12 -O3 otherwise warns falsely about freeing
    // the moved-from temporary (-Wfree-nonheap-object).
    return from_owner(std::make_shared<const std::vector<std::uint8_t>>(bytes.begin(), bytes.end()));
  }

  /// A payload that takes over `bytes` without copying them.
  static Payload from_vector(std::vector<std::uint8_t> bytes) {
    if (bytes.empty()) return Payload();
    return from_owner(std::make_shared<const std::vector<std::uint8_t>>(std::move(bytes)));
  }

  /// A payload holding a copy of the characters of `text` (no terminating NUL).
  static Payload from_string(std::string_view text) {
    const auto* first = reinterpret_cast<const std::uint8_t*>(text.data());
    return copy_of(std::span<const std::uint8_t>(first, text.size()));
  }

  [[nodiscard]] std::span<const std::uint8_t> bytes() const noexcept { return {data_, size_}; }
  /// The first byte; nullptr for an empty payload.
  [[nodiscard]] const std::uint8_t* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  /// The bytes seen as characters (no copy; valid while this Payload or a copy of it lives).
  [[nodiscard]] std::string_view as_string() const noexcept {
    return size_ == 0 ? std::string_view() : std::string_view(reinterpret_cast<const char*>(data_), size_);
  }
  /// A copy of the bytes that the caller owns.
  [[nodiscard]] std::vector<std::uint8_t> to_vector() const { return {data_, data_ + size_}; }

  /// True when the bytes are a read-only mapping of the sender's shared memory (received zero-copy).
  [[nodiscard]] bool is_shared_memory() const noexcept { return shared_memory_fd_ >= 0; }

  /// Byte-wise equality (where the bytes live does not matter).
  friend bool operator==(const Payload& a, const Payload& b) noexcept {
    return std::ranges::equal(a.bytes(), b.bytes());
  }

 private:
  static Payload from_owner(std::shared_ptr<const std::vector<std::uint8_t>> owner) {
    const std::span<const std::uint8_t> view(*owner);
    return Payload(std::move(owner), view, -1);
  }

  friend struct detail::PayloadAccess;

  Payload(std::shared_ptr<const void> owner, std::span<const std::uint8_t> bytes, int shared_memory_fd) noexcept
      : owner_(std::move(owner)), data_(bytes.data()), size_(bytes.size()), shared_memory_fd_(shared_memory_fd) {}

  std::shared_ptr<const void> owner_;  // keeps the bytes alive (a vector or a shared-memory mapping)
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  int shared_memory_fd_ = -1;  // the sealed memfd behind a shared-memory payload, owned via owner_
};

namespace detail {
/// For the node backends: wrap bytes owned by some object, and find a shared-memory payload's memfd.
struct PayloadAccess {
  /// `owner` keeps `bytes` valid and unchanged; `shared_memory_fd` (owned through `owner`) is the
  /// sealed memfd the bytes are mapped from, or -1.
  static Payload adopt(std::shared_ptr<const void> owner, std::span<const std::uint8_t> bytes,
                       int shared_memory_fd = -1) noexcept {
    return Payload(std::move(owner), bytes, shared_memory_fd);
  }
  /// The memfd behind a shared-memory payload (valid while the payload lives), or -1.
  static int shared_memory_fd(const Payload& payload) noexcept { return payload.shared_memory_fd_; }
};
}  // namespace detail

}  // namespace dcp
