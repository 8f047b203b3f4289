// node/src/runner_backend.hpp — the local runner client: a node started by `dcp run`.
//
// What it is for: init_node() with DCP_RUNNER_SOCKET set. The node connects to the runner's
// SOCK_SEQPACKET socket, says Hello (id + secret), gets HelloOk (its inputs and outputs), then:
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

}  // namespace dcp::detail
