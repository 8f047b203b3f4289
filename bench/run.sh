#!/usr/bin/env bash
# bench/run.sh — the one command for dcp's benchmark comparison (docs/benchmarks.md).
#
#   bench/run.sh                 full run (3 to 4 minutes on 2 cores): tables, targets, plot
#   bench/run.sh --quick         smoke test with small sizes (CI; under a minute)
#   bench/run.sh --write-doc     full run, then record the table in docs/benchmarks.md
#
# Steps: configure and build the `bench` CMake preset (Release, build/bench), build the Rust peers
# offline with cargo (bench/rust, crates from /usr/share/cargo/registry), then run bench/compare.py.
# Every argument is passed on to compare.py (see bench/compare.py --help).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

echo "== building C++ benchmarks (cmake preset 'bench')" >&2
cmake --preset bench >/dev/null
cmake --build --preset bench --target dcp_compare dcp_channel_bench dcp_patterns_bench

echo "== building Rust peers (cargo, offline)" >&2
(cd bench/rust && CARGO_TARGET_DIR="$repo/bench/rust/target" cargo build --release --offline --quiet)

echo "== running the comparison" >&2
exec /usr/bin/python3 bench/compare.py \
  --cpp build/bench/bench/dcp_compare \
  --rust bench/rust/target/release/dcp-rust-peers \
  --plot build/bench/comparison.png \
  --results build/bench/comparison.jsonl \
  "$@"
