#!/usr/bin/env bash
# Installs the Debian packages blockwal builds against, only those missing.
# Safe to run repeatedly; runs `apt-get update` once, and only when something
# has to be installed. Needs root (or sudo) when anything is missing.
set -euo pipefail

packages=(
  cmake make g++ pkg-config
  libabsl-dev        # Abseil 20220623: Status, strings, Mutex, btree, flags
  libisal-dev        # ISA-L: CRC32C (crc32_iscsi)
  libgtest-dev libgmock-dev
  libbenchmark-dev
  libleveldb-dev librocksdb-dev   # interop tests and peer benchmarks
  clang libclang-rt-14-dev        # libFuzzer targets, lock annotation checks
  gnuplot-nox                     # plots of scripts/bench-report.sh
)

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
