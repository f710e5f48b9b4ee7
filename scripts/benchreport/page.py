"""The page being written and what every section reads from it: the run, its
machine, the baselines' names and versions, which plots were drawn, and
where the data directory is relative to the report and to the repository."""

import os

from .loading import version_of
from .plots import PLOT_FILES


class Page:
    """The lines of the report so far, and the run the sections read."""

    def __init__(self, results, data_dir, report_path, repo_root):
        self.r = results
        self.m = results.machine
        self.data_dir = data_dir
        self.repo_root = repo_root
        # The data directory as the report links to it.
        rel = os.path.relpath(data_dir, os.path.dirname(os.path.abspath(report_path)))
        self.rel = rel.replace(os.sep, "/")
        self.out = []
        self.plots = {}  # plot name -> whether it was written
        self.leveldb = ("LevelDB " + version_of(self.m, "libleveldb-dev")).strip()
        self.rocksdb = ("RocksDB " + version_of(self.m, "librocksdb-dev")).strip()

    def w(self, text=""):
        """Adds a line to the page."""
        self.out.append(text)

    def text(self):
        return "\n".join(self.out).rstrip() + "\n"

    def image(self, name, alt):
        """Shows a plot, when it was drawn."""
        if self.plots.get(name):
            self.w(f"![{alt}]({self.rel}/{PLOT_FILES[name]})")
            self.w()

    def rel_from_repo(self):
        """The data directory as a user in the repository root would type it."""
        rel = os.path.relpath(os.path.abspath(self.data_dir), self.repo_root)
        return rel.replace(os.sep, "/")

    def min_time(self, seconds):
        """A benchmark's minimum time in code, as this run scaled it."""
        scaled = seconds * (self.m or {}).get("time_scale", 1)
        return f"{scaled:g} s"
