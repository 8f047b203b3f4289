#!/usr/bin/env bash
# bench/runner_hop.sh — one hop through the dcp runner, next to the floor (docs/benchmarks.md,
# "One hop through the runner").
#
#   bench/runner_hop.sh                 full run (about 2 minutes on 2 cores): three tables
#   bench/runner_hop.sh --quick         smoke test with few messages (under 30 s), numbers not meaningful
#   bench/runner_hop.sh --write-doc     full run, then record the tables in docs/benchmarks.md
#
# Steps: configure and build the `bench` CMake preset (Release, build/bench) with the dcp CLI and
# node library (DCP_BUILD_TOOLS=ON), target `runner_hop` (dcp, hop_source, hop_sink, socket_floor);
# then run bench/runner/hop.py, which writes the dataflows, runs `dcp run` on each and reports.
# Raw results go to build/bench/runner_hop/results.jsonl. Every argument is passed on to hop.py
# (see bench/runner/hop.py --help: --reps, --sizes, --from-results, ...).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

echo "== building dcp and the runner benchmark nodes (cmake preset 'bench')" >&2
cmake --preset bench -DDCP_BUILD_TOOLS=ON >/dev/null
cmake --build --preset bench --target runner_hop

echo "== running one hop through the runner" >&2
exec /usr/bin/python3 bench/runner/hop.py \
  --build build/bench \
  --results build/bench/runner_hop/results.jsonl \
  "$@"
