"""The "Preallocation" section: one synced append into a growing, a
fallocated and a zero-filled file, and with an index msync."""

from ..formatting import cv_note, fmt_count, fmt_ns, fmt_p50_p99, fmt_ratio, ratio, table
from ..loading import counter, cpu_of, real_of


def render(page):
    r = page.r
    kinds = [("growing: `write` at the end", "BM_SyncedAppendFile/growing"),
             ("fallocated: `fallocate(fd, 0, 0, 64 MiB)` + `fsync` beforehand, then "
              "`pwrite` at increasing offsets", "BM_SyncedAppendFile/fallocated"),
             ("zero-filled: 64 MiB of zeros written + `fsync` beforehand, then `pwrite` "
              "at increasing offsets", "BM_SyncedAppendFile/zero_filled"),
             ("growing + a 12-byte store into a 10 MiB index mapping and its "
              "`msync(MS_SYNC)`", "BM_RawWriteSyncMsync")]
    if all(r.get("sync_bench", key) is None for _, key in kinds):
        return
    page.w("## Preallocation")
    page.w()
    page.w("Would preallocating the store make its `fdatasync`s cheaper? One thread, "
           "one 124-byte record + `fdatasync` per iteration, on three kinds of file, "
           "and (last row) with the per-group index `msync` a group commit used to add:")
    page.w()
    grow = r.get("sync_bench", "BM_SyncedAppendFile/growing")
    rows, res = [], []
    for label, key in kinds:
        b = r.get("sync_bench", key)
        res.append(b)
        rows.append([label, fmt_ns(real_of(b)), fmt_count(counter(b, "records/s")),
                     fmt_p50_p99(b), fmt_ns(cpu_of(b)),
                     fmt_ratio(ratio(real_of(grow), real_of(b)), bold=True)])
    page.w(table(["File", "per synced append (wall)", "records/s", "p50 / p99 (µs)",
                  "CPU per append", "vs growing"], rows))
    page.w()
    page.w(cv_note(res))
    page.w()
    journal = (page.m or {}).get("file_system", {}).get("ext4_journal")
    page.w("Why it can differ: `fdatasync` of a growing file must also write the inode "
           "(its size changed) before the disk's cache is flushed"
           + (" — on this ext4 without a journal, synchronously, as a second write"
              if journal == "no" else
              " — on a journaled ext4, as a journal commit" if journal == "yes" else "")
           + ". Inside a preallocated size only the data block is written, then the "
           "flush. A fallocated file's unwritten extent must still be converted when a "
           "block is first written (one append in 33 here). Preallocation has a price "
           "outside the benchmark: the store's size no longer marks the end of the log, "
           "so Open would have to find the end by the index and the first invalid "
           "header, and trim the segment when sealing it.")
    page.w()
