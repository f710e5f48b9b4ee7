"""The "Method" section: how the run was made (each program's run, from
machine.json) and how to read every figure on the page."""

from ..formatting import table


def _runs(page, m):
    """Each program's run: when, how long, under what load and command."""
    rows = [[f"`{run['program']}`", run["start"], f"{run['seconds']:.0f} s",
             f"{run['load_avg'][0]:.2f}", f"`{run['command']}`"]
            for run in m["runs"]]
    page.w(table(["Program", "Started", "Took", "Load avg", "Command"], rows))
    page.w()
    total = sum(run["seconds"] for run in m["runs"])
    took = f"{total:.0f} s" if total < 120 else f"{total / 60:.1f} minutes"
    line = f"The benchmarks took {took} in all."
    if m.get("time_scale", 1) != 1:
        line += (f" `BLOCKWAL_BENCH_TIME_SCALE={m['time_scale']:g}` scaled the "
                 "minimum times the benchmarks set in code.")
    page.w(line)
    page.w()
    page.w("The programs that wait for `fdatasync` (`sync_bench`, `kv_bench`) ran "
           + ("under `chrt -f 10` (SCHED_FIFO)" if m.get("realtime_priority")
              else "**without** a real-time priority (`chrt -f 10` was not "
                   "permitted)")
           + ": see \"CPU contention\".")
    page.w()


def render(page):
    m = page.m
    page.w("## Method")
    page.w()
    page.w("`scripts/bench-report.sh` builds the benchmark programs (`benchmarks/`) in "
           "`build/bench` (CMake Release, tests and tools off) and runs them one after "
           "another, each with `--benchmark_out=<program>.json`, then runs this "
           "renderer. The programs create their files in a fresh directory under "
           "`$BLOCKWAL_BENCH_DIR` (else `$TMPDIR`, else `/tmp`) and remove it at exit.")
    page.w()
    if m and m.get("runs"):
        _runs(page, m)
    page.w("- With repetitions, every figure is the median of the repetitions "
           "(Google Benchmark's `_median` aggregate); the JSON keeps each one. "
           "Below a table, the coefficient of variation says how far they spread.")
    page.w("- **CPU time** is user + system time of the benchmark thread (system calls "
           "and page-cache copies count; writeback to the disk runs in kernel threads "
           "and counts for no one), or of the whole process where a table says so "
           "(LevelDB's and RocksDB's background threads then count). **Wall time** is "
           "used where waiting is the cost: synced writes and opens. Each table says "
           "which it shows. On a machine that runs other work, CPU-time ratios are the "
           "ones to compare.")
    page.w("- Any I/O error, a wrong record count, or a reported corruption ends a "
           "benchmark with `SkipWithError`; such benchmarks are listed at the end "
           "and left out of the tables.")
    page.w()
