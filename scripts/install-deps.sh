#!/usr/bin/env bash
# Installs the Debian packages blockwal builds against, only those missing.
# Safe to run repeatedly; runs `apt-get update` once, and only when something
# has to be installed. Needs root (or sudo) when anything is missing.
#
#   scripts/install-deps.sh          everything: the library, tools, tests,
#                                    benchmarks, fuzzers and reports
#                                    (scripts/test.sh, scripts/bench-report.sh)
#   scripts/install-deps.sh --demo   what the library and tools need and
#                                    nothing else (scripts/demo.sh, which
#                                    configures with BLOCKWAL_BUILD_TESTS=OFF
#                                    and BLOCKWAL_BUILD_BENCHMARKS=OFF)
set -euo pipefail

# What a configure with the tests and benchmarks off finds (CMakeLists.txt:
# absl, PkgConfig, libisal, and for the raft/ layer, on by default, libraft
# and libuv) and the tools to build with.
demo_packages=(
  cmake make g++ pkg-config
  libabsl-dev        # Abseil 20220623: Status, strings, Mutex, btree, flags
  libisal-dev        # ISA-L: CRC32C (crc32_iscsi)
  libraft-dev        # libraft 0.15.x: raft/ (BLOCKWAL_BUILD_RAFT)
  libuv1-dev         # libuv, libraft's event loop
)
# The rest of what scripts/test.sh and scripts/bench-report.sh need.
more_packages=(
  libgtest-dev libgmock-dev
  libbenchmark-dev
  libleveldb-dev librocksdb-dev   # interop tests and peer benchmarks
  clang libclang-rt-14-dev        # libFuzzer targets, lock annotation checks
  python3                         # doc link check (ctest), benchmark report
  gnuplot-nox                     # plots of scripts/bench-report.sh
)

usage() { echo "usage: scripts/install-deps.sh [--demo]" >&2; exit 2; }
if (($# > 1)); then usage; fi
case "${1:-}" in
  "") packages=("${demo_packages[@]}" "${more_packages[@]}") ;;
  --demo) packages=("${demo_packages[@]}") ;;
  *) usage ;;
esac

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
