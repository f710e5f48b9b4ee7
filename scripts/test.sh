#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs missing packages, builds,
# and runs every test with ctest, then the sanitizer and fuzz stages.
#
#   scripts/test.sh            everything (what CI runs)
#   scripts/test.sh --quick    the normal build's tests only
#
# Stages, each in its own build directory under build/:
#   1. build/release : all tests (ctest), including the install/consumer test
#                      and the doc link check (label docs)
#   2. build/locks   : clang build of util/wal/db with -Wthread-safety: a lock
#                      annotation violation fails it (compile only: about a
#                      minute of CPU)
#   3. build/asan    : ASan+UBSan build, util/wal/db/raft/tools/crash tests
#   4. build/tsan    : TSan build, util/wal/db/crash tests (not raft: libraft
#                      and libuv are not instrumented, docs/raft.md)
#   5. build/fuzz    : clang libFuzzer build, a short fuzz run per target
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    *) echo "usage: scripts/test.sh [--quick]" >&2; exit 2 ;;
  esac
done

scripts/install-deps.sh
jobs=$(nproc)

stage() { printf '\n==== %s ====\n' "$*"; }

# The counts the crash-consistency and fuzz tests print (ctest keeps a passing
# test's output in its log only): crash states, kills, damaged logs, and the
# executions of each libFuzzer run.
counts() {
  local log="$1/Testing/Temporary/LastTest.log"
  [[ -f "$log" ]] || return 0
  echo "-- counts ($1)"
  grep -h -E '^(crash states|torture (log|kv)|corruption): ' "$log" | sort || true
  awk '/ Testing: .*_fuzz_short$/ { name = $3 }
       /^stat::number_of_executed_units:/ { print name ": " $2 " executions" }' \
    "$log" || true
}

stage "release build and tests"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j"$jobs"
(cd build/release && ctest -j"$jobs" --output-on-failure --timeout 600)
counts build/release

if ((quick)); then exit 0; fi

# GCC ignores ABSL_GUARDED_BY and friends; clang checks them. Only the
# libraries carry the annotations, so only they are built.
stage "clang thread-safety analysis of util/wal/db"
CXX=clang++ cmake -S . -B build/locks -DCMAKE_BUILD_TYPE=Debug \
  -DBLOCKWAL_THREAD_SAFETY_ANALYSIS=ON -DBLOCKWAL_BUILD_TESTS=OFF \
  -DBLOCKWAL_BUILD_BENCHMARKS=OFF -DBLOCKWAL_BUILD_TOOLS=OFF >/dev/null
cmake --build build/locks -j"$jobs" --target blockwal_util blockwal_wal blockwal_db

stage "ASan+UBSan build and tests"
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DBLOCKWAL_SANITIZE=address \
  -DBLOCKWAL_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build/asan -j"$jobs"
(cd build/asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest -j"$jobs" --output-on-failure --timeout 900 -L 'util|wal|db|raft|tools|crash')
counts build/asan

stage "TSan build and tests"
cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=Debug -DBLOCKWAL_SANITIZE=thread \
  -DBLOCKWAL_BUILD_BENCHMARKS=OFF -DBLOCKWAL_BUILD_TOOLS=OFF >/dev/null
cmake --build build/tsan -j"$jobs"
(cd build/tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  ctest -j"$jobs" --output-on-failure --timeout 900 -L 'util|wal|db|crash')
counts build/tsan

stage "libFuzzer build and short fuzz runs"
CXX=clang++ cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DBLOCKWAL_BUILD_FUZZERS=ON -DBLOCKWAL_BUILD_BENCHMARKS=OFF \
  -DBLOCKWAL_BUILD_TOOLS=OFF >/dev/null
cmake --build build/fuzz -j"$jobs" --target fuzzers
(cd build/fuzz && ctest --output-on-failure --timeout 900 -L fuzz)
counts build/fuzz
