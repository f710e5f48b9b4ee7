#!/usr/bin/env bash
# The demo, from a fresh clone: installs missing packages, builds the tools,
# and runs the demo on its default directory (./blockwal-demo), or on the
# directory given as the first argument.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j"$(nproc)" --target blockwal_block_demo
exec build/release/tools/blockwal_block_demo "$@"
