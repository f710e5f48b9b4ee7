"""The "Key-value store" section: the store against LevelDB and RocksDB on
puts, gets and opens of the same data."""

from ..formatting import (DASH, cv_note, fmt_bytes, fmt_count, fmt_ns, fmt_ratio,
                          rate_and_time, ratio, table)
from ..goals import outcome, verdict
from ..loading import cpu_of, kv_store_bytes, ops_rate, real_of, time_of


def _intro(page):
    """What the store is compared with, on which workloads, and how."""
    page.w("## Key-value store")
    page.w()
    page.w(f"The toy key-value store (`db/`) against {page.leveldb} and {page.rocksdb}: "
           "the same workloads, in the same binary and run, on each system (source: "
           "`benchmarks/kv_bench.cc`). 16-byte sequential keys, 100-byte values (each "
           "key its own random bytes, so they do not compress), default options.")
    page.w()
    page.w("- *Put, unsynced*: one thread; process CPU time per put (background "
           f"threads count), rates per wall second; at least {page.min_time(1.0)}.")
    page.w("- *Put, synced*: every Put durable on return, at 1 and 16 threads sharing "
           "one store, each thread writing its own run of keys; wall clock, at least "
           f"{page.min_time(3.0)}.")
    page.w("- *Get*: uniformly random existing keys of a store of 100,000 keys written "
           "unsynced then reopened (not compacted, so LevelDB/RocksDB hold them in a "
           "mix of memtable and level-0/1 tables as their defaults leave them); thread "
           "CPU time. *After a checkpoint*: the same store after blockwal "
           "`DB::Checkpoint`, LevelDB `CompactRange`, RocksDB `Flush`, then reopened: "
           "blockwal reads each key from its checkpoint file (the ≤ 32 KiB chunk "
           "that holds it, verified and decoded once, then kept in its 8 MiB cache of "
           "decoded chunks), LevelDB and RocksDB from their tables through their "
           "block caches (8 MiB by default).")
    page.w("- *Open*: stores of 125,000 to 1,000,000 keys. *From the WAL*: every key in "
           "the write-ahead log (blockwal with no checkpoint; LevelDB/RocksDB written "
           "with a write buffer big enough that nothing was flushed, then closed); "
           "LevelDB replays its log and writes level-0 tables during Open, RocksDB "
           "replays its WAL and flushes an L0 SST. *Checkpointed*: the same data after "
           "blockwal `DB::Checkpoint`, LevelDB `CompactRange` of everything, RocksDB "
           "`Flush`; blockwal opens the checkpoint by its trailer and index and reads "
           "chunks when needed, as LevelDB and RocksDB open their tables. *Verifying "
           "open* (blockwal only): `Options::verify_checkpoint_on_open`, which reads "
           "and verifies every chunk at open. Every iteration opens a fresh copy made "
           "and `sync()`ed before the clock starts; only `DB::Open` is timed (wall "
           "clock), and a Get of the last key checks each open.")
    page.w()


def _puts_and_gets(page, systems):
    """Puts and gets on the three systems, and the synced-put goals."""
    r = page.r
    rows, res = [], []
    ops = ops_rate
    specs = [("Put, unsynced", "BM_PutNoSync", 1, "cpu"),
             ("Put, synced, 1 thread", "BM_PutSync", 1, "wall"),
             ("Put, synced, 16 threads", "BM_PutSync", 16, "wall"),
             ("Get, random", "BM_GetRandom", 1, "cpu"),
             ("Get, random, after a checkpoint", "BM_GetRandomCheckpointed", 1, "cpu")]
    for label, key, t, kind in specs:
        got = {s: r.get("kv_bench", f"{key}/{s}", t) for s, _ in systems}
        res += list(got.values())
        per_op = cpu_of if kind == "cpu" else real_of
        rows.append([label] + [rate_and_time(ops(got[s]), per_op(got[s]))
                               for s, _ in systems] +
                    [fmt_ratio(ratio(per_op(got["leveldb"]), per_op(got["blockwal"])),
                               bold=(key == "BM_PutSync")),
                     fmt_ratio(ratio(per_op(got["rocksdb"]), per_op(got["blockwal"])))])
    page.w("### Puts and gets — goal: synced puts ≥ LevelDB at 1 and 16 threads")
    page.w()
    page.w(table(["Workload"] + [f"{name} ops/s (per op)" for _, name in systems]
                 + ["vs LevelDB", "vs RocksDB"], rows))
    page.w()
    page.w("(Per op: process CPU time for unsynced puts, wall time per op for synced "
           "puts, thread CPU time for gets; ratios from those.) " + cv_note(res))
    page.w()
    verdicts = [verdict(outcome("kv_put_1", r), "1 thread"),
                verdict(outcome("kv_put_16", r), "16 threads")]
    page.w(" ".join(verdicts))
    page.w()


def _open_table(page, systems, title, key):
    """One kind of open by store size; False (and nothing written) when the
    run has no size of it."""
    r = page.r
    sizes = r.args("kv_bench", f"{key}/blockwal")
    if not sizes:
        return False
    verified = key == "BM_OpenCheckpointed"
    rows, res = [], []
    for keys in sizes:
        got = {s: r.get("kv_bench", f"{key}/{s}/{keys}") for s, _ in systems}
        res += list(got.values())
        cells = [DASH if got[s] is None else
                 f"{fmt_ns(time_of(got[s]))} ({fmt_bytes(kv_store_bytes(got[s]))})"
                 for s, _ in systems]
        if verified:
            v = r.get("kv_bench", f"BM_OpenCheckpointedVerified/blockwal/{keys}")
            cells.append(DASH if v is None else fmt_ns(time_of(v)))
        rows.append([fmt_count(keys)] + cells +
                    [fmt_ratio(ratio(time_of(got["leveldb"]), time_of(got["blockwal"])),
                               bold=True),
                     fmt_ratio(ratio(time_of(got["rocksdb"]), time_of(got["blockwal"])))])
    page.w(f"{title}, open time (wall) and the store's size on disk:")
    page.w()
    page.w(table(["Keys"] + [name for _, name in systems] +
                 (["blockwal, verifying open"] if verified else []) +
                 ["vs LevelDB", "vs RocksDB"], rows))
    page.w()
    page.w(cv_note(res))
    page.w()
    return True


def _opens(page, systems):
    """Opening stores of growing size, from the WAL and after a checkpoint."""
    page.w("### Open — goal: open of the same data ≥ 3× LevelDB's reopen, from the WAL "
           "and after a checkpoint")
    page.w()
    verdicts = []
    for title, key, goal in [("From the WAL (replay)", "BM_OpenWal", "kv_open_wal"),
                             ("Checkpointed", "BM_OpenCheckpointed", "kv_open_checkpointed")]:
        if _open_table(page, systems, title, key):
            verdicts.append(verdict(outcome(goal, page.r), f"{title} (largest store)"))
    page.w(" ".join(verdicts))
    page.w()
    page.image("kv_open", "Key-value store open time against size")
    page.w("A blockwal open from the WAL decodes each batch and inserts it into the "
           "memtable; LevelDB and RocksDB do the same and then write what they replayed "
           "as a table before Open returns. After a checkpoint all three open their "
           "files lazily: blockwal reads the checkpoint's trailer, header and index "
           "(one entry per 32 KiB block), LevelDB its manifest, RocksDB its manifest "
           "and the tables' footers and index blocks. The verifying open reads the "
           "whole checkpoint, so it grows with the store.")
    page.w()


def render(page):
    # (key suffix in the benchmark's name, name in the tables)
    systems = [("blockwal", "blockwal"), ("leveldb", page.leveldb),
               ("rocksdb", page.rocksdb)]
    _intro(page)
    _puts_and_gets(page, systems)
    _opens(page, systems)
