// tools/runner/secret.hpp — the per-node secrets a node's Hello must carry.
//
// What it is for: the runner gives each node a fresh random secret in its environment
// (DCP_NODE_SECRET); the node's Hello must carry it. It is defence in depth: who a node is comes
// from its connection, a socket pair only it inherited (connections.hpp); the secret also has to
// match on it. Secrets are 128 bits from the kernel's CSPRNG
// (getrandom), written as 32 lowercase hex digits, and compared in constant time so the comparison
// leaks nothing about how much of a guess was right.
//
// Thread safety: pure functions (make_secret reads the kernel's random source). Blocking: only if
// the kernel's random pool is not initialised yet (early boot).
#pragma once

#include <string>
#include <string_view>

namespace dcp::runner {

/// 32 hex digits of fresh randomness. Throws std::system_error if getrandom fails.
[[nodiscard]] std::string make_secret();

/// True when `a` and `b` are equal; the time taken depends only on their lengths.
[[nodiscard]] bool secrets_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace dcp::runner
