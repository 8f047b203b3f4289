#!/usr/bin/env bash
# Fuzzes dcp's parsers with libFuzzer: `bash scripts/fuzz.sh [seconds] [loader|frame|all]`
# (defaults: 30 seconds, all). Each target gets the given number of seconds.
#
#   loader  the dataflow YAML loader (tests/fuzz/dataflow_loader_fuzzer.cpp); seeds:
#           tests/tools/dataflow/fixtures, tests/tools/dataflow/corpus and tests/fuzz/regressions
#   frame   the runner <-> node frame decoder (tests/fuzz/frame_decoder_fuzzer.cpp); seeds:
#           tests/fuzz/frame_corpus
#
# Configures a separate build tree, build/fuzz, with clang++, DCP_BUILD_FUZZERS=ON and
# DCP_SANITIZER=address (ASan + UBSan, -fno-sanitize-recover). Working corpora are
# build/fuzz/corpus-<target>; findings go to build/fuzz/artifacts/. After fixing one, copy the
# input into the target's seed folder (tests/fuzz/regressions or tests/fuzz/frame_corpus) so that
# ctest's *_fuzz_regression tests replay it in every preset.
#
# Environment: DCP_FUZZ_JOBS=N runs N fuzzing processes in parallel (libFuzzer -fork=N).
# Needs clang and libclang-rt-14-dev (libFuzzer), see scripts/install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
which=${2:-all}
if ! [[ ${seconds} =~ ^[0-9]+$ ]] || [[ ${seconds} -eq 0 ]]; then
    echo "fuzz.sh: usage: scripts/fuzz.sh [seconds > 0] [loader|frame|all]" >&2
    exit 2
fi
case ${which} in
    loader) targets=(loader) ;;
    frame) targets=(frame) ;;
    all) targets=(loader frame) ;;
    *) echo "fuzz.sh: unknown target '${which}' (loader, frame, all)" >&2; exit 2 ;;
esac
build=build/fuzz

cmake -S . -B "${build}" -G Ninja \
    -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
    -DDCP_SANITIZER=address \
    -DDCP_BUILD_FUZZERS=ON \
    -DDCP_BUILD_TESTS=OFF \
    -DDCP_BUILD_TOOLS=ON \
    -DDCP_BUILD_EXAMPLES=OFF \
    -DDCP_INSTALL=OFF
cmake --build "${build}" --target dataflow_loader_fuzzer frame_decoder_fuzzer

artifacts=${build}/artifacts
mkdir -p "${artifacts}"
fork=()
if [[ -n ${DCP_FUZZ_JOBS:-} ]]; then
    fork=(-fork="${DCP_FUZZ_JOBS}" -ignore_crashes=0)
fi

for target in "${targets[@]}"; do
    corpus=${build}/corpus-${target}
    mkdir -p "${corpus}"
    options=()
    if [[ ${target} == loader ]]; then
        binary=${build}/tests/fuzz/dataflow_loader_fuzzer
        seeds=(tests/tools/dataflow/fixtures/valid/*.yml tests/tools/dataflow/fixtures/invalid/*.yml
               tests/tools/dataflow/corpus/good/*.yml tests/tools/dataflow/corpus/bad/*.yml
               tests/fuzz/regressions/*)
        options=(-max_len=16384 -dict=tests/fuzz/dataflow.dict)
    else
        binary=${build}/tests/fuzz/frame_decoder_fuzzer
        seeds=(tests/fuzz/frame_corpus/*)
        options=(-max_len=70000)
    fi
    # Seed (never overwrite what the fuzzer has learnt).
    for seed in "${seeds[@]}"; do
        [[ -f ${seed} ]] || continue
        cp -n "${seed}" "${corpus}/seed_$(basename "$(dirname "${seed}")")_$(basename "${seed}")"
    done
    echo "fuzz.sh: fuzzing '${target}' for ${seconds} s (corpus ${corpus}, findings ${artifacts}/)"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "${binary}" \
        -max_total_time="${seconds}" \
        -timeout=10 \
        -rss_limit_mb=2048 \
        "${options[@]}" \
        -artifact_prefix="${artifacts}/${target}-" \
        -print_final_stats=1 \
        "${fork[@]}" \
        "${corpus}"
done
