#!/usr/bin/env bash
# Builds the way scripts/demo.sh does (its own configuration: tests and
# benchmarks off; into WORK_DIR/build), runs the demo, then installs that
# build: `cmake --install` must work from it (it once failed on the programs
# the demo build had not built) and install the libraries, the CMake package
# and every program. WORK_DIR is emptied first and removed on success.
#   run_demo_install_test.sh SOURCE_DIR WORK_DIR
set -euo pipefail
src=$1 work=$2
rm -rf "$work"
mkdir -p "$work"

BLOCKWAL_DEMO_BUILD_DIR="$work/build" "$src/scripts/demo.sh" --seed 1 \
  "$work/demo" >"$work/demo.out"
tail -n 1 "$work/demo.out"
grep -q '^BLOCKWAL_BUILD_TESTS:BOOL=OFF$' "$work/build/CMakeCache.txt"
grep -q '^BLOCKWAL_BUILD_BENCHMARKS:BOOL=OFF$' "$work/build/CMakeCache.txt"

cmake --install "$work/build" --prefix "$work/prefix" >/dev/null
for f in bin/walctl bin/kv bin/blockwal_kv_demo bin/blockwal_block_demo \
         lib/cmake/blockwal/blockwalConfig.cmake \
         lib/cmake/blockwal/blockwalConfigVersion.cmake; do
  if [[ ! -e "$work/prefix/$f" ]]; then
    echo "cmake --install of the demo build did not install $f" >&2
    exit 1
  fi
done
echo "installed from the demo build: $(cd "$work/prefix" && ls bin | tr '\n' ' ')"
rm -rf "$work"
