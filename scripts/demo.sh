#!/usr/bin/env bash
# The demo, from a fresh clone: installs the missing packages the library and
# tools need (install-deps.sh --demo: no test, benchmark or fuzz packages),
# builds the libraries and tools in build/demo (tests and benchmarks off),
# and runs the KV store crash demo (tools/kv_demo.cc) with the given
# arguments ([--seed N] [DIR]). DIR defaults to ./blockwal-demo; a relative
# DIR is taken from the directory this script is run in, not from the clone.
# DIR must be new, empty, or made by the demo before; the demo refuses any
# other directory and leaves it untouched. Exits 0 only when every check
# passed.
#
# `scripts/demo.sh --cluster [DIR]` runs the replication demo instead
# (scripts/cluster-demo.sh): three `kv serve` servers in DIR/cluster, a
# leader SIGKILLed while a client writes, and checks that nothing
# acknowledged was lost.
#
# BLOCKWAL_DEMO_BINARY=path runs that blockwal_kv_demo instead of installing
# and building (for tests, or a build you already have); with --cluster,
# BLOCKWAL_DEMO_KV=path runs that kv.
# BLOCKWAL_DEMO_BUILD_DIR=path builds there instead of in build/demo (a
# relative path is taken from the clone).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cluster=""
if [[ "${1:-}" == --cluster ]]; then
  cluster=yes
  shift
fi
demo="${BLOCKWAL_DEMO_BINARY:-}"
[[ -n "$cluster" ]] && demo="${BLOCKWAL_DEMO_KV:-}"
if [[ -z "$demo" ]]; then
  build="${BLOCKWAL_DEMO_BUILD_DIR:-build/demo}"
  [[ "$build" = /* ]] || build="$repo/$build"
  # Build in the clone, in a subshell: the demo itself runs here, in the
  # caller's directory, so relative paths mean what the caller meant.
  (
    cd "$repo"
    scripts/install-deps.sh --demo
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DBLOCKWAL_BUILD_TESTS=OFF -DBLOCKWAL_BUILD_BENCHMARKS=OFF >/dev/null
    # Everything this configuration builds (the libraries and the tools), not
    # only the demo: `cmake --install` of this build installs all of it.
    cmake --build "$build" -j"$(nproc)"
  )
  demo="$build/tools/blockwal_kv_demo"
  [[ -n "$cluster" ]] && demo="$build/tools/kv"
fi
[[ -n "$cluster" ]] && exec "$repo/scripts/cluster-demo.sh" "$demo" "$@"
exec "$demo" "$@"
