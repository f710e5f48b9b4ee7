#!/usr/bin/env bash
# Installs the blockwal build in BUILD_DIR into a scratch prefix, builds the
# consumer project against it with find_package(blockwal), and runs it and
# every ```cpp block of README.md (each wrapped in a main(): its #include
# lines above, the rest inside). Everything goes under WORK_DIR, which is
# emptied first; each README example runs in a fresh directory of its own
# (the examples write relative paths), removed when the script exits.
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
