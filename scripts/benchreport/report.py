"""The whole report: the plots drawn first (the sections show those that were
drawn), then every section in page order."""

from .page import Page
from .plots import make_plots
from .sections import (block, caveats, crc32c, durability, kv, log, machine, method,
                       not_measured, overview, preallocation)

SECTIONS = [overview, machine, method, crc32c, block, log, durability, preallocation,
            kv, caveats, not_measured]


def render(results, data_dir, report_path, repo_root):
    """The Markdown of the report on results, read from data_dir, written to
    report_path; writes the plots into data_dir."""
    page = Page(results, data_dir, report_path, repo_root)
    page.plots = make_plots(results, data_dir, page.leveldb, page.rocksdb)
    for section in SECTIONS:
        section.render(page)
    return page.text()
