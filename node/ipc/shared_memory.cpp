// Sealed memfd buffers (see shared_memory.hpp).
#include "ipc/shared_memory.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>

#include "ipc/protocol.hpp"

namespace dcp::ipc {
namespace {

constexpr int kRequiredSeals = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

void unmap(const void* data, std::size_t size) noexcept {
  if (data != nullptr) ::munmap(const_cast<void*>(data), size);
}

}  // namespace

SharedBuffer::SharedBuffer(FileDescriptor fd, const std::uint8_t* data, std::size_t size) noexcept
    : fd_(std::move(fd)), data_(data), size_(size) {}

SharedBuffer::SharedBuffer(SharedBuffer&& other) noexcept
    : fd_(std::move(other.fd_)), data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

SharedBuffer& SharedBuffer::operator=(SharedBuffer&& other) noexcept {
  if (this != &other) {
    unmap(data_, size_);
    fd_ = std::move(other.fd_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SharedBuffer::~SharedBuffer() { unmap(data_, size_); }

SharedBuffer SharedBuffer::copy_of(std::span<const std::uint8_t> bytes) {
  auto writable = WritableSharedBuffer::allocate(bytes.size());
  std::copy(bytes.begin(), bytes.end(), writable.data().begin());
  return std::move(writable).seal();
}

SharedBuffer SharedBuffer::map(FileDescriptor fd, std::uint64_t size) {
  if (size == 0 || size > kMaxSharedPayload) {
    throw ProtocolError("shared memory payload: size " + std::to_string(size) + " is out of range 1.." +
                        std::to_string(kMaxSharedPayload));
  }
  const int seals = ::fcntl(fd.get(), F_GET_SEALS);
  if (seals < 0) throw ProtocolError("shared memory payload: the descriptor is not a memfd");
  if ((seals & kRequiredSeals) != kRequiredSeals) {
    throw ProtocolError("shared memory payload: the memfd is not sealed against writing and resizing");
  }
  struct stat status{};
  if (::fstat(fd.get(), &status) != 0) throw_errno("dcp: fstat of a shared memory payload");
  if (static_cast<std::uint64_t>(status.st_size) != size) {
    throw ProtocolError("shared memory payload: announced " + std::to_string(size) + " bytes, the memfd has " +
                        std::to_string(status.st_size));
  }
  void* data = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd.get(), 0);
  if (data == MAP_FAILED) throw_errno("dcp: mmap of a shared memory payload");
  return SharedBuffer(std::move(fd), static_cast<const std::uint8_t*>(data), size);
}

WritableSharedBuffer::WritableSharedBuffer(FileDescriptor fd, std::uint8_t* data, std::size_t size) noexcept
    : fd_(std::move(fd)), data_(data), size_(size) {}

WritableSharedBuffer::WritableSharedBuffer(WritableSharedBuffer&& other) noexcept
    : fd_(std::move(other.fd_)), data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

WritableSharedBuffer::~WritableSharedBuffer() { unmap(data_, size_); }

WritableSharedBuffer WritableSharedBuffer::allocate(std::size_t size) {
  if (size == 0 || size > kMaxSharedPayload) {
    throw std::invalid_argument("dcp: shared memory payload size " + std::to_string(size) + " is out of range 1.." +
                                std::to_string(kMaxSharedPayload));
  }
  FileDescriptor fd(::memfd_create("dcp-payload", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) throw_errno("dcp: memfd_create");
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) throw_errno("dcp: ftruncate of a shared memory payload");
  void* data = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (data == MAP_FAILED) throw_errno("dcp: mmap of a new shared memory payload");
  return WritableSharedBuffer(std::move(fd), static_cast<std::uint8_t*>(data), size);
}

SharedBuffer WritableSharedBuffer::seal() && {
  // F_SEAL_WRITE is refused while a writable shared mapping exists: drop ours first, then map the
  // sealed file read-only.
  unmap(std::exchange(data_, nullptr), size_);
  const std::size_t size = std::exchange(size_, 0);
  if (::fcntl(fd_.get(), F_ADD_SEALS, kRequiredSeals) != 0) throw_errno("dcp: sealing a shared memory payload");
  void* data = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd_.get(), 0);
  if (data == MAP_FAILED) throw_errno("dcp: mmap of a sealed shared memory payload");
  return SharedBuffer(std::move(fd_), static_cast<const std::uint8_t*>(data), size);
}

}  // namespace dcp::ipc
