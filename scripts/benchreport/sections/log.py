"""The "Segmented log" section: wal::Log's append, read and open against
the block layer, LevelDB and the raw system calls under them."""

from ..formatting import (DASH, cv_note, fmt_bytes, fmt_count, fmt_mb_s, fmt_ns, fmt_ratio,
                          fmt_size, ratio, sig, table)
from ..goals import outcome, verdict
from ..loading import counter, cpu_of, real_of


def _intro(page):
    """The section's head: what is compared with what."""
    page.w("## Segmented log")
    page.w()
    page.w(f"What `wal::Log` costs on top of the block layer, against {page.leveldb} used "
           "as a write-ahead log, and against the raw system calls a reader or an open "
           "cannot avoid (source: `benchmarks/log_bench.cc`).")
    page.w()
    page.w(table(["Benchmark", "blockwal", "Baselines"], [
        ["Append", "`Log::Append` (unsynced, `FileSystem::Default()`, default options: "
         "64 MiB segments)",
         "`BlockWriter::AddRecord` of the same values, file rolled at 64 MiB; "
         f"{page.leveldb} `DB::Put`, `sync=false`, 16-byte sequential keys, default "
         "`Options` (4 MiB write buffer, Snappy)"],
        ["Read", "`Log::Read` at uniformly random offsets and at consecutive ones; "
         "`LogIterator::Next`",
         "one `::pread` of exactly the record's bytes, `[PositionOf(o), "
         "PositionOf(o+1))` from the same segment index, on the store's descriptor; no "
         "checksum, no decoding"],
        ["Open", "`Log::Open` of logs of 1 KiB values from ½ to 15½ segments: after a "
         "clean `Close`; after a simulated kill; with `kAbsoluteConsistency`",
         "`::read` of every store byte in 1 MiB chunks + `crc32c::Extend` over them"]]))
    page.w()


def _append(page):
    """Unsynced appends against the block writer and LevelDB, by value size."""
    r = page.r
    page.w("### Append — goal: ≥ 10× LevelDB puts/s at 100 B")
    page.w()
    page.w("How it measures")
    page.w("- One iteration is one record; bytes are value bytes for all three, so a "
           "ratio is a time ratio. Each run starts from a fresh directory. Time is "
           "**process** CPU time (`MeasureProcessCPUTime`), so LevelDB's background "
           "compaction thread counts; the blockwal benchmarks are single-threaded, where "
           "process and thread time coincide.")
    page.w("- Disk use is bounded outside the timed region: the log is cut with "
           "`TruncatePrefix(NextOffset())` after every 512 MiB of store bytes "
           "(`PauseTiming`: neither the truncation nor the roll it forces is counted); "
           "LevelDB is closed, destroyed and reopened after every 1 GiB of values (also "
           "paused; its pending compactions at that moment are therefore not counted, "
           "which favours LevelDB slightly).")
    page.w("- The log's own rolls **are** timed, as a user pays them: every 64 MiB an "
           "`Append` seals the segment (`fdatasync` of the store, `msync` + `ftruncate` "
           "+ `fsync` of the index) and creates the next one. The `BlockWriter` baseline "
           "rolls at the same size without any sync, so part of the log's gap to it is "
           "that sync, mostly visible in wall time.")
    page.w()
    rows, res = [], []
    for size in r.args("log_bench", "BM_LogAppend"):
        lg = r.get("log_bench", f"BM_LogAppend/{size}")
        bw = r.get("log_bench", f"BM_BlockWriterAppend/{size}")
        ldb = r.get("log_bench", f"BM_LevelDBPut/{size}")
        res += [lg, bw, ldb]
        rows.append([fmt_size(size), fmt_ns(cpu_of(lg)),
                     fmt_count(counter(lg, "records/s")),
                     fmt_mb_s(counter(lg, "bytes_per_second")), fmt_ns(cpu_of(bw)),
                     fmt_ns(cpu_of(ldb)), fmt_count(counter(ldb, "records/s")),
                     fmt_ratio(ratio(cpu_of(ldb), cpu_of(lg)), bold=True),
                     fmt_ratio(ratio(real_of(ldb), real_of(lg))),
                     fmt_ratio(ratio(cpu_of(bw), cpu_of(lg))),
                     fmt_ratio(ratio(real_of(bw), real_of(lg)))])
    page.w(table(["Value", "Log::Append CPU/rec", "records/s", "MB/s",
                  "BlockWriter CPU/rec", "LevelDB Put CPU/rec", "LevelDB records/s",
                  "vs LevelDB (CPU)", "vs LevelDB (wall)", "vs BlockWriter (CPU)",
                  "vs BlockWriter (wall)"], rows))
    page.w()
    page.w("(records/s and MB/s per CPU second. A wall \"ratio\" above 1 against the "
           "block writer is contention noise, not speed.) " + cv_note(res))
    page.w()
    page.image("append", "Unsynced append throughput against value size")
    page.w(verdict(outcome("log_append", r), "Goal at 100 B"))
    page.w()
    page.w("Above the block writer, an append pays for the envelope (offset and "
           "timestamp), the index entry, the group-commit queue (a `Writer` queued "
           "under `Log::mu_`, the segment's `write_mu_`) and the atomics that publish "
           "the record to readers; the larger the value, the less that matters.")
    page.w()


def _read(page):
    """Random and sequential reads against one pread of the record's bytes."""
    r = page.r
    page.w("### Read — goal: ≥ 2 M random reads/s")
    page.w()
    page.w("How it measures: a log of 2^20 records of 100-byte values (two segments), "
           "built once, closed, reopened, read once before timing (page cache warm, "
           "index mappings faulted in); sealed and active stores are both read "
           "through mappings. One iteration is one record. Random offsets come from a "
           "precomputed table of 2^20 uniform offsets shared by blockwal and baseline. "
           "The iterator restarts at the first offset at the end (one `NewIterator` per "
           "2^20 records). Thread CPU time. `BM_MmapReadRecordAtRandom` is a what-if, "
           "not blockwal's `Read`: the same index lookups, then `wal::ReadRecordAt` + "
           "`wal::DecodeRecord` over an `mmap` of the store made by the benchmark.")
    page.w()
    rows, res = [], []
    for label, key, base in [
            ("random", "BM_LogReadRandom", "BM_RawPreadRandom"),
            ("sequential", "BM_LogReadSequential", "BM_RawPreadSequential"),
            ("iterator (`LogIterator::Next`), sequential", "BM_LogIteratorNext",
             "BM_RawPreadSequential"),
            ("what-if: `ReadRecordAt` over an mmap'd store, random",
             "BM_MmapReadRecordAtRandom", "BM_RawPreadRandom")]:
        b = r.get("log_bench", key)
        raw = r.get("log_bench", base)
        res += [b, raw]
        rows.append([label, fmt_ns(cpu_of(b)), fmt_count(counter(b, "records/s")),
                     fmt_ns(cpu_of(raw)), fmt_count(counter(raw, "records/s")),
                     fmt_ratio(ratio(cpu_of(raw), cpu_of(b)), bold=True),
                     fmt_ratio(ratio(real_of(raw), real_of(b)))])
    page.w(table(["Access", "Log::Read CPU/rec", "records/s", "raw pread CPU/rec",
                  "raw records/s", "Ratio (CPU)", "Ratio (wall)"], rows))
    page.w()
    page.w(cv_note(res))
    page.w()
    page.w(verdict(outcome("log_read", r), "Goal"))
    page.w()


def _open(page):
    """Opening logs of growing size, clean, killed and with a full scan."""
    r = page.r
    page.w("### Open — goal: ≥ 1 GB/s of store bytes (warm page cache)")
    page.w()
    page.w("How it measures")
    page.w("- Logs of 1 KiB values: ½, 1½, 3½, 7½ and 15½ segments of 64 MiB (the "
           "benchmark's argument is the store MiB). Each is built once; all files are "
           "read once before timing and stay in the page cache, so these are "
           "**warm-cache** opens.")
    page.w("- *clean*: the log after `Close`. *killed*: the directory copied file by "
           "file after `Sync` while the `Log` was still open (the last index at its "
           "full mapped size, zero-tailed, as a kill leaves it), then the last 1000 "
           "entries of that index zeroed, as if their page had not reached the disk: "
           "`Open` re-indexes 1000 records from the store. A pristine copy of that "
           "index is put back after every iteration (untimed). *full scan*: the clean "
           "log opened with `kAbsoluteConsistency`, which reads every store in full "
           "with checksums.")
    page.w("- One iteration is one `Open`; the `Close` and the restore are untimed. "
           "5 iterations, wall-clock time (`UseRealTime`), because an open waits for "
           "`msync`/`fsync`, which CPU time misses. GB/s = store bytes / open time "
           "(10^9 bytes). Each iteration checks the recovery report (records, bytes, "
           "segments, clean flag, entries added, bytes scanned, no damage).")
    page.w()
    sizes = r.args("log_bench", "BM_LogOpenClean")
    if not sizes:
        page.w(table([], []))
        page.w()
        return
    _open_at_largest(page, sizes[-1])
    _open_by_size(page, sizes)


# The three ways an open is measured, and the raw read it is compared with.
_OPEN_MODES = [("clean (after `Close`)", "BM_LogOpenClean"),
               ("killed (1000 entries missing)", "BM_LogOpenKilled"),
               ("full scan (`kAbsoluteConsistency`)", "BM_LogOpenFullScan")]


def _open_at_largest(page, big):
    """Each mode at the largest log, in GB/s of store, and the goal's verdict."""
    r = page.r
    raw = r.get("log_bench", f"BM_RawReadCrc/{big}")
    ref = next((x for x in (r.get("log_bench", f"{k}/{big}") for k in
                ["BM_LogOpenClean", "BM_LogOpenFullScan", "BM_RawReadCrc"])
                if x is not None), None)
    store = counter(ref, "store_bytes")
    page.w(f"At the largest log ({fmt_bytes(store)} of store in "
           f"{counter(ref, 'segments') or 0:.0f} segments, "
           f"{fmt_count(counter(ref, 'records'))} records):")
    page.w()
    rows, res = [], []
    for label, key in _OPEN_MODES:
        b = r.get("log_bench", f"{key}/{big}")
        res.append(b)
        gbs = ratio(store, real_of(b) and real_of(b) / 1e9)
        rows.append([label, fmt_ns(real_of(b)), fmt_ns(cpu_of(b)),
                     DASH if gbs is None else f"**{sig(gbs / 1e9)}**",
                     fmt_bytes(counter(b, "bytes_scanned")),
                     fmt_ratio(ratio(real_of(raw), real_of(b)))])
    raw_gbs = counter(raw, "bytes_per_second")
    rows.append(["raw `read` 1 MiB + CRC32C", fmt_ns(real_of(raw)), fmt_ns(cpu_of(raw)),
                 DASH if raw_gbs is None else sig(raw_gbs / 1e9),
                 fmt_bytes(counter(raw, "bytes_scanned")), DASH])
    page.w(table(["Open", "Time (wall)", "CPU", "GB/s (wall)",
                  "Store bytes re-read", "vs raw read + CRC (wall)"], rows))
    page.w()
    page.w(cv_note(res + [raw]))
    page.w()
    page.w(verdict(outcome("log_open", r), "Goal (slowest of the three modes)"))
    page.w()
    page.w("The clean and killed opens do not read the stores (they verify each "
           "segment's last entry; the killed one re-indexes only the records its "
           "index lost), so their GB/s is the log's size over the open time, not a "
           "read rate. The killed open's wall time above its CPU time is mostly the "
           "`msync(MS_SYNC)` of the rewritten index, which waits for the disk.")
    page.w()


def _open_by_size(page, sizes):
    """Every mode's open time at every log size, and the plot of them."""
    r = page.r
    page.w("Open time against log size (wall clock):")
    page.w()
    rows, res = [], []
    for mib in sizes:
        cells = []
        ref = r.get("log_bench", f"BM_LogOpenClean/{mib}")
        for key in [key for _, key in _OPEN_MODES] + ["BM_RawReadCrc"]:
            b = r.get("log_bench", f"{key}/{mib}")
            res.append(b)
            cells.append(fmt_ns(real_of(b)))
        rows.append([fmt_bytes(counter(ref, "store_bytes")),
                     f"{counter(ref, 'segments') or 0:.0f}",
                     fmt_count(counter(ref, "records"))] + cells)
    page.w(table(["Store", "Segments", "Records", "clean", "killed", "full scan",
                  "raw read + CRC"], rows))
    page.w()
    page.image("log_open", "Log open time against log size")


def render(page):
    _intro(page)
    _append(page)
    _read(page)
    _open(page)
