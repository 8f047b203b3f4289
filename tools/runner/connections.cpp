// The runner's side of a node connection (see connections.hpp).
#include "runner/connections.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>
#include <variant>

#include "runner/secret.hpp"

namespace dcp::runner {

HelloVerdict authenticate_hello(const ipc::Message& message, bool came_with_fd, std::span<const NodeCredentials> nodes,
                                std::optional<std::size_t> inherited_by) {
  auto reject = [](std::string reason) { return HelloVerdict{std::nullopt, std::move(reason)}; };
  const auto* hello = std::get_if<ipc::Hello>(&message);
  if (hello == nullptr) return reject(std::string("the first message must be Hello, not ") + message_name(message));
  if (came_with_fd) return reject("a file descriptor came with the Hello message");
  if (hello->protocol_version != ipc::kProtocolVersion) {
    return reject("protocol version " + std::to_string(hello->protocol_version) +
                  " is not supported (this runner speaks version " + std::to_string(ipc::kProtocolVersion) + ")");
  }
  if (!inherited_by || *inherited_by >= nodes.size()) {
    // Whoever this is, it is not a node: each node has its own connection from its start.
    return reject("no node connects through the runner's socket: each node of this run connects over the "
                  "connection it inherited when it was started (DCP_NODE_FD); refused Hello for " +
                  in_quotes(hello->node_id) + " (is its dcp library older than this runner?)");
  }
  const NodeCredentials& node = nodes[*inherited_by];
  const std::string name = "node '" + std::string(node.id) + "'";
  if (hello->node_id != node.id) {
    return reject("this connection was made for " + name + ", not for " + in_quotes(hello->node_id));
  }
  if (!secrets_equal(hello->secret, node.secret)) return reject("wrong secret for " + name);
  if (node.state->has_connection()) return reject(name + " is already connected");
  if (node.state->link() == LinkState::gone || !node.state->process_alive()) {
    return reject(name + " has already been connected or has ended (a node connects once)");
  }
  return HelloVerdict{inherited_by, {}};
}

SendOutcome send_or_queue(Connection& connection, std::vector<std::uint8_t> frame,
                          std::shared_ptr<const ipc::FileDescriptor> fd, std::optional<std::size_t> input) {
  if (connection.closing || connection.peer_gone) return SendOutcome::dropped;
  if (connection.outbox.empty()) {
    const ipc::IoStatus status = ipc::send_frame(connection.socket.get(), frame, fd ? fd->get() : -1);
    if (status == ipc::IoStatus::ok) return SendOutcome::sent;
    if (status == ipc::IoStatus::closed) {
      connection.peer_gone = true;
      return SendOutcome::peer_gone;
    }
  }
  connection.outbox.push_back(Outgoing{std::move(frame), std::move(fd), input});
  return SendOutcome::queued;
}

bool flush_outbox(Connection& connection) {
  while (!connection.outbox.empty() && !connection.closing && !connection.peer_gone) {
    const Outgoing& next = connection.outbox.front();
    const ipc::IoStatus status = ipc::send_frame(connection.socket.get(), next.frame, next.fd ? next.fd->get() : -1);
    if (status == ipc::IoStatus::would_block) return false;
    if (status == ipc::IoStatus::closed) {
      connection.peer_gone = true;
      drop_outbox(connection);
      break;
    }
    connection.outbox.pop_front();
  }
  return true;
}

void drop_outbox(Connection& connection) {
  for (const Outgoing& frame : connection.outbox) {
    if (frame.input) connection.unsent_inputs.push_back(*frame.input);
  }
  connection.outbox.clear();
}

std::string check_shared_memory(int fd, std::uint64_t size) {
  constexpr int kRequiredSeals = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
  const int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals < 0) return "the shared-memory payload's descriptor is not a memfd";
  if ((seals & kRequiredSeals) != kRequiredSeals) {
    return "the shared-memory payload's memfd is not sealed against writing and resizing";
  }
  struct stat status{};
  if (::fstat(fd, &status) != 0) return std::string("fstat of the shared-memory payload failed: ") + std::strerror(errno);
  if (!S_ISREG(status.st_mode)) return "the shared-memory payload's descriptor is not a memfd";
  // Only the kind dcp makes: a plain memfd lives on tmpfs (shmem). A hugetlbfs memfd can be sealed
  // too, but its readers' mmap fails where no huge pages are reserved.
  struct statfs filesystem{};
  if (::fstatfs(fd, &filesystem) != 0) {
    return std::string("fstatfs of the shared-memory payload failed: ") + std::strerror(errno);
  }
  if (filesystem.f_type != TMPFS_MAGIC) {
    return fmt::format("the shared-memory payload's memfd is not on tmpfs (file system type {:#x}{}): dcp passes "
                       "only plain memfds, which every reader can map",
                       static_cast<unsigned long>(filesystem.f_type),
                       filesystem.f_type == HUGETLBFS_MAGIC ? ", hugetlbfs" : "");
  }
  if (static_cast<std::uint64_t>(status.st_size) != size) {
    return "the shared-memory payload announces " + std::to_string(size) + " bytes, its memfd has " +
           std::to_string(status.st_size);
  }
  return {};
}

std::string printable(std::string_view text, std::size_t max) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string in_quotes(std::string_view text) { return "'" + printable(text) + "'"; }

const char* message_name(const ipc::Message& message) noexcept {
  switch (ipc::type_of(message)) {
    case ipc::MessageType::hello: return "Hello";
    case ipc::MessageType::hello_ok: return "HelloOk";
    case ipc::MessageType::next_event: return "NextEvent";
    case ipc::MessageType::event: return "Event";
    case ipc::MessageType::send_output: return "SendOutput";
    case ipc::MessageType::close_outputs: return "CloseOutputs";
    case ipc::MessageType::error: return "Error";
    case ipc::MessageType::error_count: return "ErrorCount";
  }
  return "unknown";
}

}  // namespace dcp::runner
