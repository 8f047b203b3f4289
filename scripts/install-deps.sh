#!/usr/bin/env bash
# Installs everything dcp needs to build, test and benchmark, from Debian packages.
#
# Idempotent: packages already installed (per `dpkg -s`) are skipped, and `apt-get update`
# runs only when something is missing. Uses sudo only when not root. If `cargo` is already on
# PATH (e.g. from rustup), Debian's cargo/rustc are not installed.
set -euo pipefail

packages=(
    build-essential cmake ninja-build g++ clang
    pkgconf  # pkg-config, for the consumer_pkg_config test (tests/consumer)
    libclang-rt-dev  # libFuzzer (clang -fsanitize=fuzzer), for scripts/fuzz.sh
    libgtest-dev libgmock-dev libbenchmark-dev
    libconcurrentqueue-dev libboost-dev libtbb-dev
    libfmt-dev libyaml-cpp-dev libcli11-dev
    nlohmann-json3-dev  # the robot example's monitor parses the JSON status; status tests check it; dcp run's log files
    python3 python3-matplotlib
    cargo rustc librust-crossbeam-channel-dev
    valgrind
)

have_cargo=0
if command -v cargo >/dev/null 2>&1; then
    have_cargo=1
fi

missing=()
for package in "${packages[@]}"; do
    if [[ ${have_cargo} -eq 1 && ( ${package} == cargo || ${package} == rustc ) ]]; then
        continue
    fi
    # `dpkg -s` also succeeds for removed-but-not-purged packages; require "install ok installed".
    if ! dpkg-query -W -f='${Status}' "${package}" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("${package}")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-deps: all packages present"
    exit 0
fi

echo "install-deps: installing ${missing[*]}"
as_root=()
if [[ $(id -u) -ne 0 ]]; then
    as_root=(sudo)
fi
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
