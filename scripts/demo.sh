#!/usr/bin/env bash
# Builds the release preset and runs a demo:
#
#   bash scripts/demo.sh [dcp run options...]    the robot dataflow (examples/robot/dataflow.yml)
#                                                under `dcp run`; e.g. --stop-after 30s
#   bash scripts/demo.sh core [frames] [workers] the core demo (examples/core_demo), no processes
#
# The robot demo takes about 10 s: synthetic sensors, a scripted e-stop at 4 s and its reset at 6 s,
# the processor node built from the dcp patterns, and a monitor that shows the status live and
# checks the safety invariants at the end. The exit status is `dcp run`'s: 0 when every node
# (the monitor included) exited 0.
# Set DCP_SKIP_DEPS=1 to skip scripts/install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

demo=robot
if [[ ${1:-} == core ]]; then
    demo=core
    shift
fi

if [[ ${DCP_SKIP_DEPS:-0} != 1 ]]; then
    bash scripts/install-deps.sh
fi

cmake --preset release

if [[ ${demo} == core ]]; then
    cmake --build --preset release --target dcp_core_demo
    binary=build/release/examples/core_demo/dcp_core_demo
    if [[ ! -x ${binary} ]]; then
        # The demo's CMakeLists may have chosen another output directory.
        binary=$(find build/release -type f -name dcp_core_demo -perm -u+x -print -quit)
    fi
    if [[ -z ${binary} || ! -x ${binary} ]]; then
        echo "demo.sh: dcp_core_demo was built but not found under build/release" >&2
        exit 1
    fi
    echo "== running ${binary}"
    exec "${binary}" "$@"
fi

# The robot dataflow: the `dcp` command line here; `dcp run` builds the four nodes with the
# dataflow's own `build` step (as `dora run` would), then runs them.
cmake --build --preset release --target dcp
dcp=build/release/tools/cli/dcp
if [[ ! -x ${dcp} ]]; then
    echo "demo.sh: ${dcp} was not built" >&2
    exit 1
fi
echo "== ${dcp} run examples/robot/dataflow.yml $*"
exec "${dcp}" run examples/robot/dataflow.yml "$@"
