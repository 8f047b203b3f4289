#!/usr/bin/env bash
# Builds and tests dcp: `bash scripts/test.sh [preset...]`
#
# Default presets: release tsan fuzz asan (see CMakePresets.json). For each build preset:
#   cmake --preset P && cmake --build --preset P && ctest --preset P
# `fuzz` runs scripts/fuzz.sh briefly (DCP_FUZZ_SECONDS per target, default 20) on the dataflow
# loader and the frame decoder, after the corpora replayed by ctest.
# Stops at the first failure. Set DCP_SKIP_DEPS=1 to skip scripts/install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

presets=("$@")
if [[ ${#presets[@]} -eq 0 ]]; then
    presets=(release tsan fuzz asan)
fi
for preset in "${presets[@]}"; do
    case ${preset} in
        release | debug | tsan | asan | fuzz) ;;
        *) echo "test.sh: unknown test preset '${preset}' (release, debug, tsan, asan, fuzz)" >&2; exit 2 ;;
    esac
done

if [[ ${DCP_SKIP_DEPS:-0} != 1 ]]; then
    bash scripts/install-deps.sh
fi

started=${SECONDS}
for preset in "${presets[@]}"; do
    preset_started=${SECONDS}
    echo
    echo "================================================================================"
    echo "== dcp: preset '${preset}'"
    echo "================================================================================"
    if [[ ${preset} == fuzz ]]; then
        bash scripts/fuzz.sh "${DCP_FUZZ_SECONDS:-20}" all
    else
        cmake --preset "${preset}"
        cmake --build --preset "${preset}"
        ctest --preset "${preset}" --parallel "$(nproc)"
    fi
    echo "== dcp: preset '${preset}' passed in $((SECONDS - preset_started)) s"
done

echo
echo "== dcp: all presets passed (${presets[*]}) in $((SECONDS - started)) s"
