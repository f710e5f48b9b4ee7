#!/usr/bin/env bash
# The demo, from a fresh clone: installs missing packages, builds the tools,
# and runs the KV store crash demo (tools/kv_demo.cc) with the given
# arguments ([--seed N] [DIR]). DIR defaults to ./blockwal-demo; a relative
# DIR is taken from the directory this script is run in, not from the clone.
# DIR must be new, empty, or made by the demo before; the demo refuses any
# other directory and leaves it untouched. Exits 0 only when every check
# passed.
#
# BLOCKWAL_DEMO_BINARY=path runs that blockwal_kv_demo instead of installing
# and building (for tests, or a build you already have).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
demo="${BLOCKWAL_DEMO_BINARY:-}"
if [[ -z "$demo" ]]; then
  # Build in the clone, in a subshell: the demo itself runs here, in the
  # caller's directory, so relative paths mean what the caller meant.
  (
    cd "$repo"
    scripts/install-deps.sh
    cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build build/release -j"$(nproc)" --target blockwal_kv_demo
  )
  demo="$repo/build/release/tools/blockwal_kv_demo"
fi
exec "$demo" "$@"
