#!/usr/bin/env bash
# The benchmark report, from a fresh clone, in one command: installs missing
# packages, builds the Release benchmarks, runs every benchmark program (each
# blockwal benchmark beside its baselines, all in this one sitting) with JSON
# output, records the machine, and renders the report with its plots.
#
#   scripts/bench-report.sh             full run (~15 minutes on 2 cores after
#                                       the build): docs/benchmarks.md,
#                                       docs/bench/*.json, docs/bench/*.svg
#   scripts/bench-report.sh --short     quick look (under 2 minutes after the
#                                       build): shorter runs, one repetition,
#                                       fewer sizes, into
#                                       build/bench-report-short/ (never over
#                                       the committed report)
#   --out DIR                           write DIR/benchmarks.md and DIR/bench/
#                                       instead
#
# Re-render from the kept JSON without running anything:
#   python3 scripts/render_benchmarks.py docs/bench
#
# The programs put their files under $BLOCKWAL_BENCH_DIR (else $TMPDIR, else
# /tmp); the report names that directory's file system. A full run needs
# ~5 GB there. Run it on a machine that is otherwise idle: the synced-append
# benchmarks run under `chrt -f 10` when allowed (root or CAP_SYS_NICE), so a
# waiting writer runs as soon as its fdatasync completes, but CPU-bound
# neighbours still move every figure.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

short=0
out=""
while (($# > 0)); do
  case "$1" in
    --short) short=1 ;;
    --out)
      (($# >= 2)) || { echo "bench-report: --out needs a directory" >&2; exit 2; }
      out=$2
      shift
      ;;
    --out=*) out=${1#--out=} ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) echo "usage: scripts/bench-report.sh [--short] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done
# --out is relative to where the command was started; the defaults are in the
# repository.
if [[ -z $out ]]; then
  if ((short)); then out=$root/build/bench-report-short; else out=$root/docs; fi
fi
mkdir -p "$out/bench"
out=$(cd "$out" && pwd)
data="$out/bench"
cd "$root"

python=/usr/bin/python3
[[ -x $python ]] || python=python3

scripts/install-deps.sh
command -v gnuplot >/dev/null || { echo "bench-report: gnuplot not found" >&2; exit 1; }

build=build/bench
jobs=$(nproc)
programs=(crc32c_bench block_bench log_bench sync_bench kv_bench)

printf '\n==== Release build of the benchmarks (%s) ====\n' "$build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBLOCKWAL_BUILD_TESTS=OFF \
  -DBLOCKWAL_BUILD_TOOLS=OFF -DBLOCKWAL_BUILD_FUZZERS=OFF \
  -DBLOCKWAL_BUILD_BENCHMARKS=ON >/dev/null
cmake --build "$build" -j"$jobs" --target "${programs[@]}"

# Flags per program. Benchmarks that set their own minimum time in code
# (appends, synced appends, key-value puts and gets) take it from
# $BLOCKWAL_BENCH_TIME_SCALE instead of --benchmark_min_time.
common=(--benchmark_out_format=json)
declare -A flags
if ((short)); then
  mode=short
  export BLOCKWAL_BENCH_TIME_SCALE=0.05
  common+=(--benchmark_repetitions=1 --benchmark_min_time=0.05)
  flags[crc32c_bench]=""
  flags[block_bench]=""
  # The three smallest logs and the two smallest key-value stores.
  flags[log_bench]="--benchmark_filter=-/(480|992)/"
  flags[sync_bench]=""
  flags[kv_bench]="--benchmark_filter=-/(500000|1000000)/"
else
  mode=full
  unset BLOCKWAL_BENCH_TIME_SCALE
  common+=(--benchmark_repetitions=3 --benchmark_display_aggregates_only=true)
  flags[crc32c_bench]="--benchmark_min_time=0.5"
  flags[block_bench]="--benchmark_min_time=0.5"
  flags[log_bench]="--benchmark_min_time=0.5"
  # Repetitions in random order, so a slow phase of the machine hits
  # configurations at random rather than one after another.
  flags[sync_bench]="--benchmark_enable_random_interleaving=true"
  # Five repetitions: one-thread synced puts are bimodal between runs on a
  # disk like this one's, for every system, and a median of three is a coin
  # toss (docs/benchmarks.md).
  flags[kv_bench]="--benchmark_enable_random_interleaving=true --benchmark_repetitions=5"
fi

# The programs that wait on fdatasync run with a real-time priority when the
# system allows it (docs/benchmarks.md, "CPU contention").
rt=()
if chrt -f 10 true 2>/dev/null; then rt=(chrt -f 10); fi
declare -A wants_rt=([sync_bench]=1 [kv_bench]=1)

bench_dir=${BLOCKWAL_BENCH_DIR:-${TMPDIR:-/tmp}}
runs=$(mktemp)
trap 'rm -f "$runs"' EXIT
for p in "${programs[@]}"; do rm -f "$data/$p.json"; done
rm -f "$data"/*.svg "$data/machine.json"

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for p in "${programs[@]}"; do
  cmd=()
  if [[ -n ${wants_rt[$p]:-} ]]; then cmd+=("${rt[@]}"); fi
  cmd+=("$build/benchmarks/$p" "${common[@]}")
  # shellcheck disable=SC2206  # the per-program flags are single words
  cmd+=(${flags[$p]})
  cmd+=("--benchmark_out=$data/$p.json")
  printf '\n==== %s ====\n%s\n' "$p" "${cmd[*]}"
  p_start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  p_load=$(cut -d' ' -f1-3 /proc/loadavg)
  t0=$(date +%s.%N)
  "${cmd[@]}"
  t1=$(date +%s.%N)
  printf '%s\t%s\t%s\t%s\t%s\n' "$p" "$p_start" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" \
    "$p_load" "${cmd[*]//$root\//}" >>"$runs"
done
finished=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------ the machine
lscpu_field() { LC_ALL=C lscpu | sed -n "s/^$1:[[:space:]]*//p" | head -1; }
pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "not installed"; }

mkdir -p "$bench_dir"
fs_line=$(findmnt -n -o FSTYPE,SOURCE,OPTIONS -T "$bench_dir" 2>/dev/null | head -1 || true)
fs_type=$(awk '{print $1}' <<<"$fs_line")
fs_source=$(awk '{print $2}' <<<"$fs_line")
fs_options=$(awk '{print $3}' <<<"$fs_line")
[[ -n $fs_type ]] || fs_type=$(stat -f -c %T "$bench_dir")
ext4_journal=""
disk_write_cache=""
disk_scheduler=""
disk_rotational=""
if [[ $fs_source == /dev/* ]]; then
  dev=$(basename "$(readlink -f "$fs_source")")
  if [[ $fs_type == ext4 && -r /sys/fs/ext4/$dev/journal_task ]]; then
    if [[ $(cat "/sys/fs/ext4/$dev/journal_task") == "<none>" ]]; then
      ext4_journal=no
    else
      ext4_journal=yes
    fi
  fi
  disk=$(lsblk -no PKNAME "/dev/$dev" 2>/dev/null | head -1 || true)
  [[ -n $disk ]] || disk=$dev
  q=/sys/block/$disk/queue
  [[ -r $q/write_cache ]] && disk_write_cache=$(cat "$q/write_cache")
  [[ -r $q/scheduler ]] && disk_scheduler=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$q/scheduler")
  [[ -r $q/rotational ]] && disk_rotational=$(cat "$q/rotational")
fi
cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
cxx_flags=$(sed -n 's/^CMAKE_CXX_FLAGS_RELEASE:[A-Z]*=//p' "$build/CMakeCache.txt")
git_dirty=0
if [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then git_dirty=1; fi

# The machine's facts, handed to the JSON writer in its environment.
BW_MODE=$mode BW_STARTED=$started BW_FINISHED=$finished \
  BW_LOAD_START=$load_start BW_LOAD_END=$load_end BW_RUNS=$runs \
  BW_RT=$((${#rt[@]} > 0)) \
  BW_CPU_MODEL="$(lscpu_field 'Model name')" \
  BW_CPU_VENDOR="$(lscpu_field 'Vendor ID')" \
  BW_CPU_FAMILY="$(lscpu_field 'CPU family')" \
  BW_CPU_MODEL_NUMBER="$(lscpu_field 'Model')" \
  BW_CPU_MHZ="$(awk -F: '/^cpu MHz/ { printf "%.0f", $2; exit }' /proc/cpuinfo)" \
  BW_CPUS=$(nproc) \
  BW_THREADS_PER_CORE="$(lscpu_field 'Thread(s) per core')" \
  BW_HYPERVISOR="$(lscpu_field 'Hypervisor vendor')" \
  BW_CPU_FLAGS="$(grep -m1 -o -w -E 'avx2|avx512f|vpclmulqdq|sse4_2' /proc/cpuinfo | sort -u | tr '\n' ' ')" \
  BW_MEM_KB="$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)" \
  BW_KERNEL="$(uname -r)" \
  BW_OS="$(sed -n 's/^PRETTY_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' /etc/os-release 2>/dev/null)" \
  BW_BENCH_DIR=$bench_dir BW_FS_TYPE=$fs_type BW_FS_SOURCE=$fs_source \
  BW_FS_OPTIONS=$fs_options BW_EXT4_JOURNAL=$ext4_journal \
  BW_DISK_WRITE_CACHE=$disk_write_cache BW_DISK_SCHEDULER=$disk_scheduler \
  BW_DISK_ROTATIONAL=$disk_rotational \
  BW_CXX="$("$cxx" --version | head -1)" BW_CXX_FLAGS=$cxx_flags \
  BW_BUILD_TYPE="$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")" \
  BW_GIT_COMMIT="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
  BW_GIT_DIRTY=$git_dirty \
  BW_PKG_LEVELDB="$(pkg_version libleveldb-dev)" \
  BW_PKG_ROCKSDB="$(pkg_version librocksdb-dev)" \
  BW_PKG_ABSL="$(pkg_version libabsl-dev)" \
  BW_PKG_ISAL="$(pkg_version libisal-dev)" \
  BW_PKG_BENCHMARK="$(pkg_version libbenchmark-dev)" \
  BW_PKG_GNUPLOT="$(pkg_version gnuplot-nox)" \
  BW_TIME_SCALE=${BLOCKWAL_BENCH_TIME_SCALE:-1} \
  "$python" - "$data/machine.json" <<'EOF'
import json, os, sys

e = os.environ
def opt(name):
    value = e.get(name, "")
    return value if value != "" else None

runs = []
with open(e["BW_RUNS"]) as f:
    for line in f:
        program, start, seconds, load, command = line.rstrip("\n").split("\t")
        runs.append({"program": program, "start": start, "seconds": float(seconds),
                     "load_avg": [float(x) for x in load.split()], "command": command})
machine = {
    "mode": e["BW_MODE"],
    "started": e["BW_STARTED"], "finished": e["BW_FINISHED"],
    "load_avg_start": [float(x) for x in e["BW_LOAD_START"].split()],
    "load_avg_end": [float(x) for x in e["BW_LOAD_END"].split()],
    "realtime_priority": e["BW_RT"] == "1",
    "time_scale": float(e["BW_TIME_SCALE"]),
    "cpu": {"model": opt("BW_CPU_MODEL"), "vendor": opt("BW_CPU_VENDOR"),
            "family": opt("BW_CPU_FAMILY"), "model_number": opt("BW_CPU_MODEL_NUMBER"),
            "mhz": opt("BW_CPU_MHZ"), "cpus": int(e["BW_CPUS"]),
            "threads_per_core": opt("BW_THREADS_PER_CORE"),
            "hypervisor": opt("BW_HYPERVISOR"),
            "flags": e["BW_CPU_FLAGS"].split()},
    "memory_bytes": int(e["BW_MEM_KB"]) * 1024,
    "kernel": e["BW_KERNEL"], "os": opt("BW_OS"),
    "bench_dir": e["BW_BENCH_DIR"],
    "file_system": {"type": e["BW_FS_TYPE"], "source": opt("BW_FS_SOURCE"),
                    "options": opt("BW_FS_OPTIONS"),
                    "ext4_journal": opt("BW_EXT4_JOURNAL"),
                    "disk_write_cache": opt("BW_DISK_WRITE_CACHE"),
                    "disk_scheduler": opt("BW_DISK_SCHEDULER"),
                    "disk_rotational": opt("BW_DISK_ROTATIONAL")},
    "compiler": e["BW_CXX"], "cxx_flags": e["BW_CXX_FLAGS"],
    "build_type": e["BW_BUILD_TYPE"],
    "git_commit": e["BW_GIT_COMMIT"], "git_dirty": e["BW_GIT_DIRTY"] == "1",
    "packages": {"libleveldb-dev": e["BW_PKG_LEVELDB"],
                 "librocksdb-dev": e["BW_PKG_ROCKSDB"],
                 "libabsl-dev": e["BW_PKG_ABSL"],
                 "libisal-dev": e["BW_PKG_ISAL"],
                 "libbenchmark-dev": e["BW_PKG_BENCHMARK"],
                 "gnuplot-nox": e["BW_PKG_GNUPLOT"]},
    "runs": runs,
}
with open(sys.argv[1], "w") as f:
    json.dump(machine, f, indent=2, sort_keys=True)
    f.write("\n")
EOF

printf '\n==== report ====\n'
"$python" scripts/render_benchmarks.py "$data" --report "$out/benchmarks.md"
