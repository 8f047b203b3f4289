// tools/runner/connections.hpp — the runner's side of a node connection: what one connection holds,
// how a Hello is authenticated, how frames leave without ever blocking the event loop, and the
// checks on what a node sends (shared-memory payloads, printable text).
//
// What it is for: each node's connection is one end of a socket pair the event loop (runner.cpp)
// makes before starting the node, whose other end only the node inherits — so the runner knows
// which node is at the other end before anything is said, and no other process can open that
// connection. The loop also accepts connections on its listening socket (runner.sock), which no
// node can use. It drives each node's link machine (node_state.hpp: waiting -> connected -> open
// -> gone) with:
//   - authenticate_hello(): the first frame must be a Hello with this runner's protocol version,
//     on the connection made for the node it names, with that node's secret (compared in constant
//     time: defence in depth), from a node that is running and not connected yet. Every Hello on
//     a listener connection is refused.
//   - send_or_queue() / flush_outbox(): a frame the socket cannot take yet waits in the
//     connection's outbox (the loop then watches for EPOLLOUT); a peer that hung up makes later
//     frames be dropped while what it sent before is still read.
//   - check_shared_memory(): a shared-memory payload is a plain memfd (on tmpfs: not hugetlbfs,
//     whose mapping fails for readers without reserved huge pages), sealed against writing and
//     resizing, exactly as long as announced.
//   - printable(): text from a node, made safe to print (control characters escaped, cut).
//
// Thread safety: one owner (the event loop thread); the functions are pure or act on the
// connection passed. Blocking: none (sockets are non-blocking). Errors: send_or_queue and
// flush_outbox throw std::system_error when the socket fails (the caller closes the connection).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/protocol.hpp"
#include "ipc/socket.hpp"
#include "runner/node_state.hpp"

namespace dcp::runner {

/// A frame waiting in an outbox, with the descriptor that goes with it (shared-memory payload).
struct Outgoing {
  std::vector<std::uint8_t> frame;
  std::shared_ptr<const ipc::FileDescriptor> fd;  // sent with the frame when set
  std::optional<std::size_t> input;  // an input message: the node's input it was delivered on
};

struct Connection {
  std::uint64_t id = 0;             // never reused within a run
  ipc::FileDescriptor socket;
  std::optional<std::size_t> inherited_by;  // the node it was made for (its end inherited); empty: from runner.sock
  std::optional<std::size_t> node;  // set once the Hello was accepted (then equal to inherited_by)
  std::deque<Outgoing> outbox;      // frames the socket could not take yet
  // Inputs of input messages that were dropped from the outbox unsent (drop_outbox()): the
  // runner moves them from delivered to discarded (InputAccount) and clears this.
  std::vector<std::size_t> unsent_inputs;
  bool want_write = false;          // EPOLLOUT registered
  bool peer_gone = false;           // sending failed (the node hung up): read what is left, send nothing
  bool closing = false;             // scheduled for closing: ignore everything from it
};

/// What authenticating a Hello needs to know about one node of the dataflow.
struct NodeCredentials {
  std::string_view id;
  std::string_view secret;
  const NodeLifecycle* state = nullptr;
};

/// The node a Hello authenticates (an index into the credentials), or why it is rejected.
struct HelloVerdict {
  std::optional<std::size_t> node;
  std::string rejection;  ///< non-empty exactly when `node` is empty
};

/// Checks the first message of a connection (see the header comment). `inherited_by`: the node
/// (an index into `nodes`) whose inherited connection it came on; nullopt for a connection
/// accepted on the listening socket.
[[nodiscard]] HelloVerdict authenticate_hello(const ipc::Message& message, bool came_with_fd,
                                              std::span<const NodeCredentials> nodes,
                                              std::optional<std::size_t> inherited_by);

enum class SendOutcome {
  sent,       ///< the socket took the frame
  queued,     ///< in the outbox: the caller must watch the socket for EPOLLOUT (unless it does)
  peer_gone,  ///< the node hung up: dropped, and so will be every later frame
  dropped,    ///< the connection is closing or its peer was already gone
};
/// Sends now when nothing waits in the outbox, else queues behind it; `input` marks an input
/// message (for the accounting, if it is dropped later). Throws std::system_error.
SendOutcome send_or_queue(Connection& connection, std::vector<std::uint8_t> frame,
                          std::shared_ptr<const ipc::FileDescriptor> fd, std::optional<std::size_t> input = {});

/// Sends what the outbox holds until the socket would block. True when EPOLLOUT is no longer needed
/// (the outbox is empty, or the peer is gone and the outbox was dropped). Throws std::system_error.
bool flush_outbox(Connection& connection);

/// Forgets what the outbox holds (the connection failed or is closing); the inputs of the input
/// messages among it go to Connection::unsent_inputs.
void drop_outbox(Connection& connection);

/// "" when `fd` is a memfd sealed against writes and resizing, exactly `size` bytes long; else
/// what is wrong with it.
[[nodiscard]] std::string check_shared_memory(int fd, std::uint64_t size);

/// Text a node sent, made safe to print: control characters escaped as \xNN (so a node cannot send
/// terminal escape sequences through the runner's messages), cut after `max` bytes with "...".
[[nodiscard]] std::string printable(std::string_view text, std::size_t max = 120);
/// printable(text) in single quotes.
[[nodiscard]] std::string in_quotes(std::string_view text);
/// "Hello", "NextEvent", ... for messages named in the runner's errors.
[[nodiscard]] const char* message_name(const ipc::Message& message) noexcept;

}  // namespace dcp::runner
