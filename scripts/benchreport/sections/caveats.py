"""The "Caveats" section: how far to trust the figures above."""


def render(page):
    page.w("## Caveats")
    page.w()
    page.w("- Treat CPU-time differences of a few percent, and wall-clock differences "
           "well beyond that, as noise unless the coefficient of variation says "
           "otherwise; on a shared machine, compare CPU columns.")
    page.w("- The unsynced benchmarks measure the CPU cost of getting bytes into the "
           "page cache; sync cost is in \"Durability\".")
    page.w("- Reads and opens are warm-cache; cold, they are bound by the disk and the "
           "ratios approach 1.")
    page.w("- LevelDB and RocksDB run with their defaults (Snappy on); the values do not "
           "compress, so that costs them only the attempt.")
    page.w()
