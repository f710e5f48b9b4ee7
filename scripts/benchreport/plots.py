"""The report's plots: which benchmarks each one draws (a table of plots and
their series), the points taken from a run, and the gnuplot script that turns
them into an SVG beside the JSON."""

import os
import subprocess
from dataclasses import dataclass
from typing import Callable, Optional

from .formatting import fmt_count, fmt_size
from .loading import counter, time_of

STYLES = {
    "blockwal": 'lc rgb "#1f5fbf" lw 2.5 pt 7 ps 0.9',
    "blockwal2": 'lc rgb "#1f5fbf" lw 2 dt 2 pt 6 ps 0.9',
    "blockwal3": 'lc rgb "#6a3d9a" lw 2 pt 13 ps 0.9',
    "leveldb": 'lc rgb "#e66100" lw 2 pt 5 ps 0.8',
    "leveldb2": 'lc rgb "#e66100" lw 1.5 dt 2 pt 4 ps 0.8',
    "rocksdb": 'lc rgb "#1a9850" lw 2 pt 9 ps 0.9',
    "rocksdb2": 'lc rgb "#1a9850" lw 1.5 dt 2 pt 8 ps 0.9',
    "raw": 'lc rgb "#555555" lw 2 dt 3 pt 6 ps 0.8',
    "raw2": 'lc rgb "#999999" lw 2 dt 4 pt 12 ps 0.9',
}


# --------------------------------------------------------- points of a run
# Each gives the (x, y) points of one series: a benchmark (program, key) over
# the threads or the arguments the run measured it at.

def synced_rate_by_threads(r, program, key):
    """Records per second against threads; points without a rate left out."""
    pts = [(t, counter(r.get(program, key, t), "records/s"))
           for t in r.threads(program, key)]
    return [(x, y) for x, y in pts if y]


def payload_mb_s_by_size(r, program, key):
    """Payload MB per second against the value size "<key>/<size>"."""
    pts = []
    for size in r.args(program, key):
        bps = counter(r.get(program, f"{key}/{size}"), "bytes_per_second")
        if bps:
            pts.append((size, bps / 1e6))
    return pts


def open_ms_by_store_mb(r, program, key):
    """Open time (ms, wall clock) against the store's MB, over "<key>/<MiB>"."""
    pts = []
    for mib in r.args(program, key):
        res = r.get(program, f"{key}/{mib}")
        if res is not None and res.counter("store_bytes"):
            pts.append((res.counter("store_bytes") / 1e6, res.real_ns / 1e6))
    return pts


def open_ms_by_keys(r, program, key):
    """Open time (ms) against the number of keys "<key>/<keys>"."""
    return [(keys, time_of(r.get(program, f"{key}/{keys}")) / 1e6)
            for keys in r.args(program, key)
            if r.get(program, f"{key}/{keys}") is not None]


# ----------------------------------------------------------- the plots

@dataclass(frozen=True)
class Plot:
    """One plot. Series are (label, style, program, key); a label may name
    {leveldb} and {rocksdb}, which become the baselines' names and versions.
    xtic_label, when set, puts a labelled tic at every x some series has."""
    name: str
    file: str
    title: str
    xlabel: str
    ylabel: str
    points: Callable
    series: tuple
    xtic_label: Optional[Callable] = None
    yformat: Optional[str] = None


PLOTS = [
    Plot("sync", "sync_threads.svg",
         "Synced appends (100-byte values): records per second",
         "threads appending at once", "durable records / s (wall clock)",
         synced_rate_by_threads, (
             ("blockwal Log::Append (sync)", "blockwal", "sync_bench",
              "BM_LogSyncedAppend"),
             ("{leveldb} Put (sync)", "leveldb", "sync_bench", "BM_LevelDBSyncedPut"),
             ("{rocksdb} Put (sync)", "rocksdb", "sync_bench", "BM_RocksDBSyncedPut"),
             ("raw write + fdatasync loop", "raw", "sync_bench", "BM_RawWriteSync")),
         xtic_label=str, yformat="%.0s%c"),
    Plot("append", "append_size.svg",
         "Unsynced appends: value bytes per CPU second",
         "value size", "MB/s (payload, per CPU second)",
         payload_mb_s_by_size, (
             ("blockwal Log::Append", "blockwal", "log_bench", "BM_LogAppend"),
             ("blockwal BlockWriter::AddRecord", "blockwal3", "log_bench",
              "BM_BlockWriterAppend"),
             ("{leveldb} Put (sync=false)", "leveldb", "log_bench", "BM_LevelDBPut"),
             ("raw write() of pre-framed bytes", "raw", "block_bench", "BM_RawWrite")),
         xtic_label=fmt_size),
    Plot("log_open", "log_open_size.svg",
         "Opening a segmented log (warm page cache)",
         "store bytes (MB)", "open time (ms, wall clock)",
         open_ms_by_store_mb, (
             ("Log::Open after a clean close", "blockwal", "log_bench", "BM_LogOpenClean"),
             ("Log::Open after a kill (1000 records to re-index)", "blockwal2",
              "log_bench", "BM_LogOpenKilled"),
             ("Log::Open, kAbsoluteConsistency (full scan)", "blockwal3", "log_bench",
              "BM_LogOpenFullScan"),
             ("raw read() + CRC32C of every store byte", "raw", "log_bench",
              "BM_RawReadCrc"))),
    Plot("kv_open", "kv_open_size.svg",
         "Opening the key-value store: replay time against size",
         "keys (100-byte values)", "open time (ms, wall clock)",
         open_ms_by_keys, (
             ("blockwal DB::Open, all in the WAL", "blockwal", "kv_bench",
              "BM_OpenWal/blockwal"),
             ("{leveldb} Open, all in the log", "leveldb", "kv_bench",
              "BM_OpenWal/leveldb"),
             ("{rocksdb} Open, all in the WAL", "rocksdb", "kv_bench",
              "BM_OpenWal/rocksdb"),
             ("blockwal, after a checkpoint", "blockwal2", "kv_bench",
              "BM_OpenCheckpointed/blockwal"),
             ("blockwal, after a checkpoint, verifying open", "blockwal3", "kv_bench",
              "BM_OpenCheckpointedVerified/blockwal"),
             ("{leveldb}, after compaction", "leveldb2", "kv_bench",
              "BM_OpenCheckpointed/leveldb"),
             ("{rocksdb}, after a flush", "rocksdb2", "kv_bench",
              "BM_OpenCheckpointed/rocksdb")),
         xtic_label=fmt_count),
]

PLOT_FILES = {p.name: p.file for p in PLOTS}


def make_plots(r, data_dir, leveldb, rocksdb):
    """Writes every plot that has a point into data_dir, in the order of
    PLOTS; returns {name: whether it was written}."""
    written = {}
    for p in PLOTS:
        series = [(label.format(leveldb=leveldb, rocksdb=rocksdb), style,
                   p.points(r, program, key))
                  for label, style, program, key in p.series]
        xtics = None
        if p.xtic_label:
            xs = sorted({x for _, _, pts in series for x, _ in pts})
            xtics = [(p.xtic_label(x), x) for x in xs]
        written[p.name] = plot(os.path.join(data_dir, p.file), p.title, p.xlabel,
                               p.ylabel, series, xtics=xtics, yformat=p.yformat)
    return written


# ------------------------------------------------------------- gnuplot

def gnuplot_quote(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def gnuplot_script(path, title, xlabel, ylabel, series, xtics=None, yformat=None):
    """The gnuplot commands that draw series = [(label, style, [(x, y)])],
    each with a point, as a log-log SVG line plot into path."""
    lines = [
        'set terminal svg size 760,500 noenhanced font "sans,13" background rgb "white"',
        f"set output {gnuplot_quote(path)}",
        f"set title {gnuplot_quote(title)}",
        f"set xlabel {gnuplot_quote(xlabel)}",
        f"set ylabel {gnuplot_quote(ylabel)}",
        "set logscale xy",
        "set grid xtics ytics mytics lc rgb '#dddddd'",
        "set key below width 2",
        "set border 3", "set tics nomirror",
        "set autoscale fix",
        "set offsets graph 0.04, graph 0.04, graph 0.08, graph 0.08",
    ]
    if xtics:
        lines.append("set xtics (" + ", ".join(
            f"{gnuplot_quote(label)} {x}" for label, x in xtics) + ")")
    if yformat:
        lines.append(f"set format y {gnuplot_quote(yformat)}")
    for i, (_, _, points) in enumerate(series):
        lines.append(f"$d{i} << EOD")
        lines.extend(f"{x:.6g} {y:.6g}" for x, y in points)
        lines.append("EOD")
    lines.append("plot " + ", \\\n  ".join(
        f"$d{i} using 1:2 with linespoints {STYLES[style]} title {gnuplot_quote(label)}"
        for i, (label, style, _) in enumerate(series)))
    return "\n".join(lines) + "\n"


def plot(path, title, xlabel, ylabel, series, xtics=None, yformat=None):
    """Writes an SVG line plot (log-log) of series = [(label, style, [(x, y)])].
    Returns False (and writes nothing) when no series has a point."""
    series = [(label, style, sorted(points)) for label, style, points in series
              if points]
    if not series:
        return False
    subprocess.run(["gnuplot"], input=gnuplot_script(path, title, xlabel, ylabel, series,
                                                     xtics, yformat),
                   text=True, check=True)
    return True
