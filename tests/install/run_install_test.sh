#!/usr/bin/env bash
# Every way a project consumes blockwal, each with its own util/, wal/ and db/
# headers first on its include path (tests/install/own_headers) to show they
# never clash with blockwal's "blockwal/..." headers:
#   1. installs the build in BUILD_DIR into a scratch prefix, builds the
#      consumer project against it with find_package(blockwal 0.1 CONFIG),
#      and runs it and every ```cpp block of README.md (each wrapped in a
#      main(): its #include lines above, the rest inside); a request for an
#      incompatible version (0.2, 1.0) is refused;
#   2. compiles and links the consumer with pkg-config (blockwal.pc);
#   3. builds blockwal inside a project with add_subdirectory, and
#   4. with FetchContent from the source directory.
#   Everything goes under WORK_DIR, which is emptied first; each README
#   example runs in a fresh directory of its own (the examples write
#   relative paths), removed when the script exits.
#   run_install_test.sh SOURCE_DIR BUILD_DIR WORK_DIR
set -euo pipefail
src=$1 build=$2 work=$3
rm -rf "$work"
mkdir -p "$work/readme" "$work/runs"
trap 'rm -rf "$work/runs"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null

# Split README.md's cpp blocks into readme/example_N.cc.
awk -v dir="$work/readme" '
  /^```cpp$/ { n++; inblock = 1; inc = ""; body = ""; next }
  /^```$/ && inblock {
    f = dir "/example_" n ".cc"
    printf "%s\nint main() {\n%s  return 0;\n}\n", inc, body > f
    close(f); inblock = 0; next
  }
  inblock && /^#include/ { inc = inc $0 "\n"; next }
  inblock { body = body "  " $0 "\n" }
' "$src/README.md"
count=$(ls "$work/readme" | wc -l)
if [[ $count -eq 0 ]]; then
  echo "no cpp blocks found in README.md" >&2
  exit 1
fi
# A fixed absolute path in an example collides with other runs and outlives
# them (the examples once wrote /tmp/blockwal-readme-*).
if grep -n '"/' "$work"/readme/example_*.cc >&2; then
  echo "README examples must write relative paths, not the absolute ones above" >&2
  exit 1
fi

cmake -S "$src/tests/install/consumer" -B "$work/consumer" \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DREADME_EXAMPLES_DIR="$work/readme" >/dev/null
cmake --build "$work/consumer" >/dev/null
"$work/consumer/consumer" "$work/records.log"
for exe in "$work"/consumer/readme_example_*; do
  run=$(mktemp -d "$work/runs/$(basename "$exe").XXXXXX")
  (cd "$run" && TMPDIR="$run" "$exe")
  if [[ -z "$(ls -A "$run")" ]]; then
    echo "$(basename "$exe") wrote nothing in its directory $run" >&2
    exit 1
  fi
  echo "$(basename "$exe") ran in a fresh directory: $(ls "$run" | tr '\n' ' ')"
done
echo "README examples: $count built and ran"

# 1b. Only the same minor version is compatible until 1.0.
for want in 0.2 1.0; do
  mkdir -p "$work/version_$want"
  printf 'cmake_minimum_required(VERSION 3.22)\nproject(v LANGUAGES CXX)\nfind_package(blockwal %s CONFIG REQUIRED)\n' \
    "$want" > "$work/version_$want/CMakeLists.txt"
  if cmake -S "$work/version_$want" -B "$work/version_$want/build" \
       -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null 2>&1; then
    echo "find_package(blockwal $want) accepted an incompatible version" >&2
    exit 1
  fi
done
echo "find_package: 0.1 accepted, 0.2 and 1.0 refused"

# 2. pkg-config.
pc_dir=$(dirname "$(find "$work/prefix" -name blockwal.pc | head -1)")
flags=$(PKG_CONFIG_PATH="$pc_dir" pkg-config --cflags --libs blockwal)
c++ -std=c++20 -I"$src/tests/install/own_headers" \
  "$src/tests/install/consumer/main.cc" $flags -o "$work/pc_consumer"
"$work/pc_consumer" "$work/pc_records.log"
echo "pkg-config: blockwal $(PKG_CONFIG_PATH="$pc_dir" pkg-config --modversion blockwal) built and ran"

# 3, 4. blockwal built as part of another project.
for mode in add_subdirectory fetchcontent; do
  cmake -S "$src/tests/install/subproject" -B "$work/$mode" \
    -DBLOCKWAL_MODE=$mode -DBLOCKWAL_SOURCE_DIR="$src" >/dev/null
  cmake --build "$work/$mode" -j"$(nproc)" >/dev/null
  "$work/$mode/consumer" "$work/${mode}_records.log"
  echo "$mode: built and ran"
done
