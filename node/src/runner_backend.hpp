// node/src/runner_backend.hpp — the local runner client: a node started by `dcp run`.
//
// What it is for: init_node() under `dcp run`. The node takes the connection it inherited from the
// runner (DCP_NODE_FD: one end of a SOCK_SEQPACKET socket pair the runner made before starting it,
// so no other process can open it; the node makes it close-on-exec, so its own children do not
// inherit it) — or, without DCP_NODE_FD, connects to the socket at DCP_RUNNER_SOCKET (a runner
// that offers it; `dcp run` refuses nodes there) — says Hello (id + secret), gets HelloOk (its
// inputs and outputs), then:
//   - the event stream sends NextEvent (one request outstanding at most) and waits for the Event
//     answer with poll(); an answer that arrives after a timeout is kept for the next call;
//   - the output sender sends SendOutput / CloseOutputs on the same socket from its own thread
//     (datagrams are atomic; only the event thread receives). Payloads of ipc::kInlinePayloadLimit
//     bytes and more travel as sealed memfds.
// Connection loss: the stream delivers one ErrorEvent("connection to the dcp runner lost: ...") —
// unless Stop / AllInputsClosed was already delivered — then `ended`; sends throw NodeError.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string_view>

#include "dcp/node/node.hpp"

namespace dcp::detail {

/// Connects and performs the handshake, waiting for the answer at most `handshake_timeout`
/// (nullopt: until the runner answers or closes the connection; the runner holds the answer back
/// until every node has connected). Throws NodeError (unreachable runner, refused node, protocol
/// error, connection closed, no answer within `handshake_timeout`) — never anything else.
Node connect_runner_backend(const std::filesystem::path& socket_path, std::string_view node_id,
                            std::string_view secret, std::optional<std::chrono::milliseconds> handshake_timeout);

/// As connect_runner_backend(), over descriptor `fd`, the connection the node inherited from the
/// runner (ipc::adopt_seqpacket(): checked to be an AF_UNIX SOCK_SEQPACKET socket, made
/// close-on-exec and blocking, moved off 0-2). Throws NodeError, naming DCP_NODE_FD when `fd` is
/// not such a socket.
Node connect_inherited_runner_backend(int fd, std::string_view node_id, std::string_view secret,
                                      std::optional<std::chrono::milliseconds> handshake_timeout);

}  // namespace dcp::detail
