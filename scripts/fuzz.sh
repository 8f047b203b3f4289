#!/usr/bin/env bash
# Fuzzes the dataflow loader with libFuzzer: `bash scripts/fuzz.sh [seconds]` (default 30).
#
# Configures a separate build tree, build/fuzz, with clang++, DCP_BUILD_FUZZERS=ON and
# DCP_SANITIZER=address (ASan + UBSan, -fno-sanitize-recover), builds tests/fuzz's
# dataflow_loader_fuzzer and runs it for the given number of seconds. The working corpus is
# build/fuzz/corpus, seeded from tests/dataflow/fixtures and tests/fuzz/regressions; findings go
# to build/fuzz/artifacts/. After fixing one, copy the input into tests/fuzz/regressions/ so that
# ctest's dataflow_fuzz_regression replays it in every preset.
#
# Environment: DCP_FUZZ_JOBS=N runs N fuzzing processes in parallel (libFuzzer -fork=N).
# Needs clang and libclang-rt-14-dev (libFuzzer), see scripts/install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
if ! [[ ${seconds} =~ ^[0-9]+$ ]] || [[ ${seconds} -eq 0 ]]; then
    echo "fuzz.sh: usage: scripts/fuzz.sh [seconds > 0]" >&2
    exit 2
fi
build=build/fuzz

cmake -S . -B "${build}" -G Ninja \
    -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
    -DDCP_SANITIZER=address \
    -DDCP_BUILD_FUZZERS=ON \
    -DDCP_BUILD_TESTS=OFF \
    -DDCP_BUILD_TOOLS=OFF \
    -DDCP_BUILD_EXAMPLES=OFF \
    -DDCP_INSTALL=OFF
cmake --build "${build}" --target dataflow_loader_fuzzer

corpus=${build}/corpus
artifacts=${build}/artifacts
mkdir -p "${corpus}" "${artifacts}"
# Seed (never overwrite what the fuzzer has learnt): fixtures and past findings.
for seed in tests/dataflow/fixtures/valid/*.yml tests/dataflow/fixtures/invalid/*.yml tests/fuzz/regressions/*; do
    [[ -f ${seed} ]] || continue
    cp -n "${seed}" "${corpus}/seed_$(basename "$(dirname "${seed}")")_$(basename "${seed}")"
done

fork=()
if [[ -n ${DCP_FUZZ_JOBS:-} ]]; then
    fork=(-fork="${DCP_FUZZ_JOBS}" -ignore_crashes=0)
fi

echo "fuzz.sh: fuzzing the dataflow loader for ${seconds} s (corpus ${corpus}, findings ${artifacts}/)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
"${build}/tests/fuzz/dataflow_loader_fuzzer" \
    -max_total_time="${seconds}" \
    -timeout=10 \
    -rss_limit_mb=2048 \
    -max_len=16384 \
    -dict=tests/fuzz/dataflow.dict \
    -artifact_prefix="${artifacts}/" \
    -print_final_stats=1 \
    "${fork[@]}" \
    "${corpus}"
