#!/usr/bin/env bash
# The demo, from a fresh clone: installs missing packages, builds the tools,
# and runs the KV store crash demo (tools/kv_demo.cc) on its default
# directory (./blockwal-demo, removed and recreated), or on the directory
# given as the first argument. Exits 0 only when every check passed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j"$(nproc)" --target blockwal_kv_demo
exec build/release/tools/blockwal_kv_demo "$@"
