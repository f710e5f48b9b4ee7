"""The "Durability: synced appends" section: synced appends against the raw
write + fdatasync loop, LevelDB and RocksDB by threads; what-if variants of the
log; the ceiling of group commit on this disk; CPU contention."""

from ..formatting import DASH, cv_note, fmt_count, fmt_p50_p99, fmt_ratio, ratio, table
from ..goals import outcome, verdict
from ..loading import counter, records_rate


def _intro(page):
    """What each benchmark does and how they measure."""
    page.w("## Durability: synced appends")
    page.w()
    page.w("What an append costs when it may return only once its record is durable, "
           "and how far group commit spreads one `fdatasync` over concurrent appenders "
           "(source: `benchmarks/sync_bench.cc`).")
    page.w()
    page.w(table(["Benchmark", "What one call does"], [
        ["blockwal", "`Log::Append` of a 100-byte value, `SyncPolicy::kEveryAppend`, "
         "default options. Appenders queued together share one write and one "
         "`fdatasync` of the store (group commit; the index is derived data, synced "
         "when its segment is sealed)"],
        ["raw loop", "`::write` of a 124-byte record (the store bytes of a 100-byte "
         "value: 17-byte envelope + 7-byte block header) at the end of a file, then "
         "`::fdatasync`; with N threads all on one descriptor, each syncing for itself"],
        ["LevelDB", f"{page.leveldb} `DB::Put`, `WriteOptions::sync = true`, 16-byte "
         "keys (thread id + sequence), default `Options`. LevelDB also groups "
         "concurrent writers: one log write and one `fdatasync` per group"],
        ["RocksDB", f"{page.rocksdb} `DB::Put`, `WriteOptions::sync = true`, same keys, "
         "default `Options` (WAL on, `fdatasync`)"]]))
    page.w()
    page.w("How they measure")
    page.w("- Each configuration runs at 1, 4, 16 and 64 threads (`->Threads(n)`, "
           f"`UseRealTime`), at least {page.min_time(1.0)} per run; with repetitions, "
           "they are interleaved in random order "
           "(`--benchmark_enable_random_interleaving`), so a slow phase of the "
           "machine hits configurations at random rather than one after another. Each "
           "run starts from a fresh directory (thread 0 opens the log or database "
           "before the timed loop and closes and deletes it after all threads are done).")
    page.w("- records/s = all threads' records / wall time. Each thread times every call "
           "into a `util/histogram.h` histogram (buckets within 12.5%, so a p99 is the "
           "upper edge of its bucket); the threads' histograms are merged for p50 and "
           "p99. From the log's `GetStats()`: fsyncs/s (store syncs per second), mean "
           "group (appends per group commit) and the p99 of a group's `fdatasync`.")
    page.w()
    page.image("sync", "Synced appends per second against threads")


def _results(page):
    """blockwal, the raw loop, LevelDB and RocksDB by threads, and the goals."""
    r = page.r
    threads = r.threads("sync_bench", "BM_LogSyncedAppend")
    raw1 = r.get("sync_bench", "BM_RawWriteSync", 1)
    rate = records_rate
    rows, res, lat = [], [], []
    for t in threads:
        b = r.get("sync_bench", "BM_LogSyncedAppend", t)
        ldb = r.get("sync_bench", "BM_LevelDBSyncedPut", t)
        rdb = r.get("sync_bench", "BM_RocksDBSyncedPut", t)
        raw = r.get("sync_bench", "BM_RawWriteSync", t)
        res += [b, ldb, rdb, raw]
        rows.append([str(t), fmt_count(rate(b)), fmt_count(counter(b, "fsyncs/s")),
                     DASH if counter(b, "mean_group") is None
                     else f"{counter(b, 'mean_group'):.1f}",
                     fmt_p50_p99(b), fmt_count(counter(b, "p99_sync_us")),
                     fmt_count(rate(ldb)), fmt_count(rate(rdb)), fmt_count(rate(raw)),
                     fmt_ratio(ratio(rate(b), rate(raw)), bold=(t == 1)),
                     fmt_ratio(ratio(rate(b), rate(raw1))),
                     fmt_ratio(ratio(rate(b), rate(ldb)), bold=(t in (16, 64))),
                     fmt_ratio(ratio(rate(b), rate(rdb)))])
        lat.append([str(t), fmt_p50_p99(ldb), fmt_p50_p99(rdb), fmt_p50_p99(raw)])
    page.w("### Results — goals: 1 thread ≥ 0.9× the raw loop; 16 and 64 threads ≥ 3× "
           "LevelDB")
    page.w()
    page.w(table(["Threads", "blockwal records/s", "fsyncs/s", "mean group",
                  "p50 / p99 append (µs)", "p99 sync (µs)", "LevelDB records/s",
                  "RocksDB records/s", "raw loop records/s", "vs raw loop",
                  "vs raw 1-thread loop", "vs LevelDB", "vs RocksDB"], rows))
    page.w()
    page.w("(Wall clock; \"vs raw loop\" compares with the raw loop at the same thread "
           "count, \"vs raw 1-thread loop\" with one writer syncing for itself, the "
           "bound group commit has to beat.) " + cv_note(res))
    page.w()
    page.w("p50 / p99 per call (µs) of the baselines:")
    page.w()
    page.w(table(["Threads", "LevelDB", "RocksDB", "raw loop"], lat))
    page.w()
    verdicts = [verdict(outcome("sync_1", r), "1 thread against the raw loop"),
                verdict(outcome("sync_16", r), "16 threads against LevelDB"),
                verdict(outcome("sync_64", r), "64 threads against LevelDB")]
    page.w(" ".join(verdicts))
    page.w()
    page.w("LevelDB and RocksDB group their writers too, so at many threads all three "
           "are bound by how many `fdatasync`s the disk completes per second and by the "
           "CPU spent handing each group's result to its followers; the raw loop, "
           "where every thread syncs for itself, shows what no grouping gets.")
    page.w()


def _rate_against(res, base):
    """"12.3 k (1.05×)": a result's records/s and its ratio to base records/s."""
    x = counter(res, "records/s")
    return DASH if x is None else f"{fmt_count(x)} ({fmt_ratio(ratio(x, base))})"


def _what_ifs(page):
    """The log with one thing changed, when the run measured it."""
    r = page.r
    variants = [("NoIndexSync", "BM_LogSyncedAppend_NoIndexSync"),
                ("Preallocated", "BM_LogSyncedAppend_Preallocated"),
                ("Preallocated + NoIndexSync",
                 "BM_LogSyncedAppend_PreallocatedNoIndexSync")]
    if not any(r.threads("sync_bench", key) for _, key in variants):
        return
    page.w("### What-ifs: the same log with one thing changed")
    page.w()
    page.w("`BM_LogSyncedAppend_*` run `Log` over a wrapper of `FileSystem::Default()` "
           "(`WhatIfFileSystem` in the benchmark): *NoIndexSync* makes the index "
           "mapping's `Sync` a no-op (since a group commit syncs the store alone, this "
           "differs from the plain log only when a segment is sealed); *Preallocated* "
           "`fallocate()`s each new store to 64 MiB (`max_store_bytes`) and `fsync`s it "
           "when the segment is created (at Open, untimed), so appends overwrite "
           "allocated blocks within the file's size; *Preallocated + NoIndexSync* does "
           "both. They measure cost, not correctness: a preallocated store's size no "
           "longer says where its records end, which today's recovery does not expect.")
    page.w()
    rows, res = [], []
    for t in r.threads("sync_bench", "BM_LogSyncedAppend"):
        b = counter(r.get("sync_bench", "BM_LogSyncedAppend", t), "records/s")
        cells = [str(t), fmt_count(b)]
        for _, key in variants:
            v = r.get("sync_bench", key, t)
            res.append(v)
            cells.append(_rate_against(v, b))
        cells.append(fmt_count(counter(r.get("sync_bench", "BM_RawWriteSync", t),
                                       "records/s")))
        cells.append(fmt_count(counter(r.get("sync_bench", "BM_LevelDBSyncedPut", t),
                                       "records/s")))
        rows.append(cells)
    page.w(table(["Threads", "blockwal"] + [v for v, _ in variants] +
                 ["raw loop", "LevelDB"], rows))
    page.w()
    page.w("(records/s, wall clock; in parentheses, against blockwal as it is.) "
           + cv_note(res))
    page.w()


# Group commit alone, at 1, 2 and 4 syncs in flight, in a growing and a
# fallocated file.
_BARE = [("depth 1", "BM_BareGroupCommit/depth1"),
         ("depth 2", "BM_BareGroupCommit/depth2"),
         ("depth 4", "BM_BareGroupCommit/depth4"),
         ("fallocated, depth 1", "BM_BareGroupCommit/fallocated_depth1"),
         ("fallocated, depth 2", "BM_BareGroupCommit/fallocated_depth2"),
         ("fallocated, depth 4", "BM_BareGroupCommit/fallocated_depth4")]


def _best_bare(r, t):
    """The fastest bare group commit at t threads: (label, records/s)."""
    best = (None, None)
    for label, key in _BARE:
        x = counter(r.get("sync_bench", key, t), "records/s")
        if x is not None and (best[1] is None or x > best[1]):
            best = (label, x)
    return best


def _ceiling(page):
    """Bare group commit at several depths against LevelDB, when measured."""
    r = page.r
    if not any(r.threads("sync_bench", key) for _, key in _BARE):
        return
    page.w("### Ceiling: group commit reduced to its bones")
    page.w()
    page.w("How far could any group commit go on this disk? `BM_BareGroupCommit` is "
           "group commit with nothing else: no framing, checksum, index or writer "
           "queue. Each call `write`s its 124-byte record under a mutex, then waits "
           "until an `fdatasync` that started after its write has returned; a caller "
           "whose bytes no running sync covers starts one itself when fewer than "
           "*depth* are running, and otherwise sleeps on a condition variable until "
           "one finishes. Depth 1 is classic group commit (LevelDB's, RocksDB's and "
           "blockwal's); depth 2 and 4 let syncs overlap (pipelined group commit). "
           "*fallocated*: the file is `fallocate()`d to 64 MiB and `fsync`ed "
           "beforehand and written with `pwrite` inside that size, so a sync need not "
           "write the inode.")
    page.w()
    rows, res = [], []
    for t in r.threads("sync_bench", "BM_BareGroupCommit/depth1"):
        ldb = counter(r.get("sync_bench", "BM_LevelDBSyncedPut", t), "records/s")
        b = counter(r.get("sync_bench", "BM_LogSyncedAppend", t), "records/s")
        cells = [str(t), fmt_count(b), fmt_count(ldb)]
        for _, key in _BARE:
            v = r.get("sync_bench", key, t)
            res.append(v)
            cells.append(_rate_against(v, ldb))
        rows.append(cells)
    page.w(table(["Threads", "blockwal", "LevelDB"] + [label for label, _ in _BARE],
                 rows))
    page.w()
    page.w("(records/s, wall clock; in parentheses, against LevelDB in the same run.) "
           + cv_note(res))
    page.w()
    _ceiling_against_goal(page)


def _ceiling_against_goal(page):
    """What the best bare group commit says about the 3× LevelDB goal."""
    r = page.r
    parts = []
    for t in (16, 64):
        label, x = _best_bare(r, t)
        ldb = counter(r.get("sync_bench", "BM_LevelDBSyncedPut", t), "records/s")
        b = counter(r.get("sync_bench", "BM_LogSyncedAppend", t), "records/s")
        if x is None or ldb is None or b is None:
            continue
        parts.append(f"at {t} threads the best of them ({label}) reached "
                     f"{fmt_ratio(ratio(x, ldb))} LevelDB, and blockwal "
                     f"{fmt_ratio(ratio(b, x))} of it")
    if parts:
        page.w("So on this disk the 3× LevelDB goal at 16 and 64 threads is out of reach "
               "for group commit as such, not only for blockwal's code: " +
               "; ".join(parts) + ". Every synced append waits for at least one "
               "`fdatasync` that starts after its write; letting syncs overlap gains "
               "little or loses here (the raw loop above, every thread syncing for "
               "itself, shows how concurrent `fdatasync`s slow each other down). "
               "Preallocation is the one change that moves the ceiling; the log does "
               "not preallocate because its recovery finds the end of a store by its "
               "size (see the what-ifs).")
        page.w()


def _contention(page):
    """Why the synced benchmarks run under a real-time priority."""
    page.w("### CPU contention")
    page.w()
    page.w("A lone synced writer on a machine whose CPUs are busy is woken only when "
           "the scheduler gets round to it after its `fdatasync` completes, often "
           "milliseconds later, so a 1-thread synced benchmark on a loaded machine "
           "measures the scheduler, for blockwal and the baselines alike. "
           "`scripts/bench-report.sh` therefore runs `sync_bench` and `kv_bench` under "
           "`chrt -f 10` (SCHED_FIFO) when the system allows it, so every "
           "configuration's threads run as soon as their I/O completes whatever else "
           "the machine runs. Wall-clock results still move with the neighbours' disk "
           "traffic; run the full report on an idle machine.")
    page.w()


def render(page):
    _intro(page)
    _results(page)
    _what_ifs(page)
    _ceiling(page)
    _contention(page)
