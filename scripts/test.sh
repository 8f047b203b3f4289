#!/usr/bin/env bash
# Builds and tests dcp: `bash scripts/test.sh [preset...]`
#
# Default presets: release tsan asan (see CMakePresets.json). For each preset:
#   cmake --preset P && cmake --build --preset P && ctest --preset P
# Stops at the first failure. Set DCP_SKIP_DEPS=1 to skip scripts/install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

presets=("$@")
if [[ ${#presets[@]} -eq 0 ]]; then
    presets=(release tsan asan)
fi
for preset in "${presets[@]}"; do
    case ${preset} in
        release | debug | tsan | asan) ;;
        *) echo "test.sh: unknown test preset '${preset}' (release, debug, tsan, asan)" >&2; exit 2 ;;
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
    cmake --preset "${preset}"
    cmake --build --preset "${preset}"
    ctest --preset "${preset}"
    echo "== dcp: preset '${preset}' passed in $((SECONDS - preset_started)) s"
done

echo
echo "== dcp: all presets passed (${presets[*]}) in $((SECONDS - started)) s"
