// node/ipc/shared_memory.hpp — sealed memfd buffers: large payloads shared between processes.
//
// What it is for: a payload of ipc::kInlinePayloadLimit bytes or more is written once into an
// anonymous memory file (memfd), sealed against writing and resizing, and its descriptor is passed
// over the socket. The runner forwards the same descriptor to every subscriber; each maps it
// read-only. Nobody copies the bytes, and the seals guarantee no reader sees them change.
//
//   WritableSharedBuffer w = WritableSharedBuffer::allocate(size);   // writable mapping
//   fill(w.data());
//   SharedBuffer frozen = std::move(w).seal();                       // read-only from now on
//   send_frame(sock, frame, frozen.fd());
//   ...
//   SharedBuffer received = SharedBuffer::map(std::move(fd), size);   // checks size and seals
//
// Thread safety: both types are move-only owners; a SharedBuffer's bytes may be read from any number
// of threads. Blocking: none (page faults aside).
// Errors: system call failures throw std::system_error; a received descriptor that is not a sealed
// memfd of the announced size throws ProtocolError.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "ipc/socket.hpp"

namespace dcp::ipc {

class SharedBuffer {
 public:
  SharedBuffer() noexcept = default;
  SharedBuffer(SharedBuffer&& other) noexcept;
  SharedBuffer& operator=(SharedBuffer&& other) noexcept;
  SharedBuffer(const SharedBuffer&) = delete;
  SharedBuffer& operator=(const SharedBuffer&) = delete;
  ~SharedBuffer();

  /// Copies `bytes` into a new sealed memfd.
  static SharedBuffer copy_of(std::span<const std::uint8_t> bytes);
  /// Maps a received descriptor read-only after checking that it is sealed and `size` bytes long.
  static SharedBuffer map(FileDescriptor fd, std::uint64_t size);

  [[nodiscard]] std::span<const std::uint8_t> bytes() const noexcept { return {data_, size_}; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] int fd() const noexcept { return fd_.get(); }

 private:
  friend class WritableSharedBuffer;
  SharedBuffer(FileDescriptor fd, const std::uint8_t* data, std::size_t size) noexcept;
  FileDescriptor fd_;
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

class WritableSharedBuffer {
 public:
  WritableSharedBuffer(WritableSharedBuffer&& other) noexcept;
  WritableSharedBuffer& operator=(WritableSharedBuffer&&) = delete;
  WritableSharedBuffer(const WritableSharedBuffer&) = delete;
  WritableSharedBuffer& operator=(const WritableSharedBuffer&) = delete;
  ~WritableSharedBuffer();

  /// A new memfd of `size` bytes (1 .. kMaxSharedPayload), mapped writable.
  static WritableSharedBuffer allocate(std::size_t size);

  [[nodiscard]] std::span<std::uint8_t> data() noexcept { return {data_, size_}; }

  /// Seals the file (no more writes, no resizing) and returns a read-only view of it.
  SharedBuffer seal() &&;

 private:
  WritableSharedBuffer(FileDescriptor fd, std::uint8_t* data, std::size_t size) noexcept;
  FileDescriptor fd_;
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace dcp::ipc
