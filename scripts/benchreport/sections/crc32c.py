"""The "CRC32C" section: blockwal's CRC32C against ISA-L called directly."""

from ..formatting import cv_note, fmt_gib_s, fmt_ns, fmt_ratio, fmt_size, ratio, table
from ..goals import outcome, verdict
from ..loading import counter, time_of


def render(page):
    r = page.r
    page.w("## CRC32C — goal: ≥ 0.9× ISA-L direct")
    page.w()
    page.w("`blockwal::crc32c::Value` against ISA-L's `crc32_iscsi(p, n, ~0) ^ ~0` "
           "called directly (source: `benchmarks/crc32c_bench.cc`). CPU time per "
           "call; ratio = ISA-L time / blockwal time.")
    page.w()
    rows, res = [], []
    for size in r.args("crc32c_bench", "BM_Crc32c_Blockwal"):
        b = r.get("crc32c_bench", f"BM_Crc32c_Blockwal/{size}")
        i = r.get("crc32c_bench", f"BM_Crc32c_IsalDirect/{size}")
        q = ratio(time_of(i), time_of(b))
        res += [b, i]
        rows.append([fmt_size(size), fmt_ns(time_of(b)),
                     fmt_gib_s(counter(b, "bytes_per_second")), fmt_ns(time_of(i)),
                     fmt_gib_s(counter(i, "bytes_per_second")), fmt_ratio(q, bold=True)])
    page.w(table(["Size", "blockwal", "blockwal GiB/s", "ISA-L direct",
                  "ISA-L GiB/s", "Ratio"], rows))
    page.w()
    page.w(cv_note(res))
    page.w()
    page.w(verdict(outcome("crc32c", r), "Goal (lowest ratio over the sizes)"))
    page.w()
    page.w("What the wrapper adds to ISA-L is an out-of-line call, the two inversions "
           "and a loop that splits inputs past 1 GiB; it can only show at small sizes.")
    page.w()
