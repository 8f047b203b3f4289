// Downstream smoke test: dcp is found (installed or vendored), its headers compile in a
// project that sets no flags of its own, and a channel round-trip works.
#include <dcp/core/channel.hpp>

int main() {
    auto [tx, rx] = dcp::bounded<int>(4);
    tx.send(42);
    auto r = rx.recv();
    return (r.ok() && *r == 42) ? 0 : 1;
}
