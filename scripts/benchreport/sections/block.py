"""The "Block layer" section: the block writer and reader against the raw
write() and read() of the same bytes."""

from ..formatting import (cv_note, fmt_count, fmt_gib_s, fmt_ns, fmt_ratio, fmt_size,
                          ratio, table)
from ..goals import outcome, verdict
from ..loading import counter, cpu_of, real_of


def _intro(page):
    page.w("## Block layer")
    page.w()
    page.w("What the block format costs on top of the system calls under it "
           "(source: `benchmarks/block_bench.cc`):")
    page.w()
    page.w(table(["Benchmark", "blockwal", "Baseline"], [
        ["Writer", "`wal::BlockWriter::AddRecord` into `FileSystem::Default()` "
         "(64 KiB user-space buffer, `pwrite`), unsynced",
         "the same bytes, framed once by `BlockWriter` into memory beforehand, "
         "handed to `::write` in 64 KiB chunks"],
        ["Reader", "`wal::BlockReader` over a 64 MiB log (checksums verified)",
         "`::read` of the same file in 32 KiB chunks"]]))
    page.w()
    page.w("How they measure")
    page.w("- One writer iteration is one record, for blockwal and baseline alike: the "
           "baseline, per record, writes whatever whole 64 KiB chunks that record's "
           "bytes complete. Both roll the file (close, reopen truncated) at the same "
           "record, the first one that takes the file to 256 MiB, so disk use stays "
           "bounded and the baseline writes exactly blockwal's bytes.")
    page.w("- One reader iteration is one pass over the file. The file is written once "
           "per record size and read once before timing, so the page cache is warm.")
    page.w("- Throughput is **payload** bytes per CPU second (thread CPU time) for both "
           "sides, so a ratio is a time ratio. Wall-clock ratios are listed as well.")
    page.w()


def _against_raw(page, bw_key, raw_key, unit, raw_name):
    """The table of one side (writer or reader) against its system call, by
    record size, and the spread under it."""
    r = page.r
    rows, res = [], []
    for size in r.args("block_bench", bw_key):
        b = r.get("block_bench", f"{bw_key}/{size}")
        raw = r.get("block_bench", f"{raw_key}/{size}")
        res += [b, raw]
        rows.append([fmt_size(size), fmt_ns(cpu_of(b)),
                     fmt_gib_s(counter(b, "bytes_per_second")),
                     fmt_count(counter(b, "records/s")), fmt_ns(cpu_of(raw)),
                     fmt_gib_s(counter(raw, "bytes_per_second")),
                     fmt_ratio(ratio(cpu_of(raw), cpu_of(b)), bold=True),
                     fmt_ratio(ratio(real_of(raw), real_of(b)))])
    page.w(table(["Record", f"blockwal (CPU/{unit})", "blockwal GiB/s", "records/s",
                  f"{raw_name} (CPU/{unit})", "raw GiB/s", "Ratio (CPU)",
                  "Ratio (wall)"], rows))
    page.w()
    page.w(cv_note(res))
    page.w()


def _writer(page):
    page.w("### Block writer — goal: ≥ 0.8× raw `write()` at 64 KiB")
    page.w()
    _against_raw(page, "BM_BlockWriter", "BM_RawWrite", "record", "raw write")
    page.w(verdict(outcome("block_writer", page.r), "Goal at 64 KiB"))
    page.w()
    page.w("At small records the writer's gap is mostly the CRC of each fragment, "
           "which the baseline never computes (it copies pre-framed bytes): the "
           "price of the format. The rest is two virtual `Append` calls per "
           "fragment (header, then payload).")
    page.w()


def _reader(page):
    page.w("### Block reader — against raw `read()` (no goal)")
    page.w()
    _against_raw(page, "BM_BlockReader", "BM_RawRead", "pass", "raw read")
    page.w("The reader verifies a checksum per fragment, most of its cost on top "
           "of `read()`. Records larger than a block are several fragments that "
           "`ReadRecord` copies into the caller's scratch string (LevelDB does "
           "the same); a FULL record is returned in place. At 100 B the raw "
           "read's rate counts the header bytes it reads as free payload.")
    page.w()


def render(page):
    _intro(page)
    _writer(page)
    _reader(page)
