#!/usr/bin/env bash
# Builds the release preset and runs the core demo: `bash scripts/demo.sh [demo args...]`
# Set DCP_SKIP_DEPS=1 to skip scripts/install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ${DCP_SKIP_DEPS:-0} != 1 ]]; then
    bash scripts/install-deps.sh
fi

cmake --preset release
cmake --build --preset release --target dcp_core_demo

demo=build/release/examples/core_demo/dcp_core_demo
if [[ ! -x ${demo} ]]; then
    # The demo's CMakeLists may have chosen another output directory.
    demo=$(find build/release -type f -name dcp_core_demo -perm -u+x -print -quit)
fi
if [[ -z ${demo} || ! -x ${demo} ]]; then
    echo "demo.sh: dcp_core_demo was built but not found under build/release" >&2
    exit 1
fi

echo "== running ${demo}"
exec "${demo}" "$@"
