// libFuzzer target for the runner <-> node frame decoder (node/ipc/protocol.hpp).
//
// Properties checked on every input:
//   - decode() either returns a message or throws ProtocolError; nothing else escapes, nothing
//     crashes, reads out of bounds (ASan) or hits undefined behaviour (UBSan);
//   - a decoded message re-encodes, and encoding is a fixpoint: encode(decode(encode(m))) ==
//     encode(m) byte for byte (byte comparison, so NaN parameters compare fine).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "ipc/protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dcp::ipc;
  Message message;
  try {
    message = decode(std::span<const std::uint8_t>(data, size));
  } catch (const ProtocolError&) {
    return 0;
  }
  const auto once = encode(message);  // a decoded message is always within the limits
  const auto twice = encode(decode(once));
  if (once != twice) std::abort();
  return 0;
}
