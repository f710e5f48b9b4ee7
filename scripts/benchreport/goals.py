"""The goals set for blockwal, as a table of data, and the one function that
evaluates a goal against a run. A goal's value is numerator / denominator
(or the numerator alone), each a figure of one benchmark configuration; a
goal is met when its value is at least its target. The sections print the
verdicts, the "Goals" section the whole table, in this order."""

import string
from dataclasses import dataclass
from typing import Callable, Optional

from .formatting import (DASH, fmt_bytes, fmt_count, fmt_gb_s, fmt_ns, fmt_ratio,
                         fmt_size, ratio)
from .loading import counter, cpu_of, real_of, time_of


@dataclass(frozen=True)
class Figure:
    """One figure of one configuration. key may hold {n}, the size a goal is
    taken at, and {mode}, one of the goal's modes. measure is "time" (what
    the benchmark times), "cpu", "real_s" (wall seconds) or the name
    of a counter."""
    program: str
    key: str
    measure: str
    threads: int = 1


# How a figure is shown in the "Measured" column.
_FIGURE_FORMAT = {"time": fmt_ns, "cpu": fmt_ns, "records/s": fmt_count,
                  "ops/s": fmt_count, "store_bytes": fmt_bytes}

EVERY_SIZE = "every size"  # the goal holds at the lowest ratio over the sizes
LARGEST = "largest"        # the goal is taken at the largest size


@dataclass(frozen=True)
class Sizes:
    """Where a goal's {n} comes from: the sizes "<prefix>/<n>" of program."""
    program: str
    prefix: str
    pick: str              # EVERY_SIZE or LARGEST
    label: Callable = str  # how {n} reads in the "Measured" column


@dataclass(frozen=True)
class Goal:
    """One goal: a row of the "Goals" table and a section's verdict."""
    name: str                        # what a section asks for
    area: str
    text: str
    section: str                     # the section that gives the verdict
    numerator: Figure
    target: float
    denominator: Optional[Figure] = None
    sizes: Optional[Sizes] = None
    # With modes, the goal holds for the slowest of them and is unmeasured if
    # any of them is.
    modes: tuple = ()
    # "Measured" column: a template of {numerator}, {denominator}, {shown}, {n}.
    measured: str = ""
    shown: Optional[Figure] = None
    value_format: Callable = fmt_ratio
    # A goal on a rate states its verdict in that unit, a ratio goal as a ratio.
    rate_unit: Optional[str] = None
    # Left out of the table (rather than "not measured") when the run has no size.
    optional: bool = False


def _fmt_reads(x):
    return fmt_count(x) + " reads/s"


GOALS = [
    Goal(name="crc32c", area="block layer", section="CRC32C",
         text="CRC32C ≥ 0.9× ISA-L direct, every size",
         numerator=Figure("crc32c_bench", "BM_Crc32c_IsalDirect/{n}", "time"),
         denominator=Figure("crc32c_bench", "BM_Crc32c_Blockwal/{n}", "time"),
         sizes=Sizes("crc32c_bench", "BM_Crc32c_Blockwal", EVERY_SIZE, fmt_size),
         target=0.9, measured="lowest at {n}"),
    Goal(name="block_writer", area="block layer", section="Block writer",
         text="BlockWriter ≥ 0.8× raw `write()` at 64 KiB (CPU)",
         numerator=Figure("block_bench", "BM_RawWrite/65536", "cpu"),
         denominator=Figure("block_bench", "BM_BlockWriter/65536", "cpu"),
         target=0.8, measured="{denominator} vs {numerator} per record"),
    Goal(name="log_append", area="log (issue 3)", section="Append",
         text="100 B unsynced `Log::Append` ≥ 10× LevelDB `Put` (CPU)",
         numerator=Figure("log_bench", "BM_LevelDBPut/100", "cpu"),
         denominator=Figure("log_bench", "BM_LogAppend/100", "cpu"),
         target=10, measured="{denominator} vs {numerator} per record"),
    Goal(name="log_read", area="log", section="Read",
         text="random `Log::Read` ≥ 2 M records/s (CPU)",
         numerator=Figure("log_bench", "BM_LogReadRandom", "records/s"),
         target=2e6, value_format=_fmt_reads, rate_unit=" reads/s",
         shown=Figure("log_bench", "BM_LogReadRandom", "cpu"), measured="{shown} per read"),
    # GB/s of store: the clean log's store bytes over each mode's open time.
    Goal(name="log_open", area="log", section="Open",
         text="`Log::Open` ≥ 1 GB/s of store, warm cache, clean, killed and full scan",
         numerator=Figure("log_bench", "BM_LogOpenClean/{n}", "store_bytes"),
         denominator=Figure("log_bench", "{mode}/{n}", "real_s"),
         modes=("BM_LogOpenClean", "BM_LogOpenKilled", "BM_LogOpenFullScan"),
         sizes=Sizes("log_bench", "BM_LogOpenClean", LARGEST),
         target=1e9, value_format=fmt_gb_s, rate_unit="B/s",
         measured="slowest mode, {numerator} log"),
    Goal(name="sync_1", area="durability (issue 4)", section="Durability",
         text="synced `Append`, 1 thread ≥ 0.9× raw write + fdatasync loop",
         numerator=Figure("sync_bench", "BM_LogSyncedAppend", "records/s", 1),
         denominator=Figure("sync_bench", "BM_RawWriteSync", "records/s", 1),
         target=0.9, measured="{numerator} vs {denominator} records/s"),
    Goal(name="sync_16", area="durability (issue 4)", section="Durability",
         text="synced `Append`, 16 threads ≥ 3× LevelDB synced `Put`",
         numerator=Figure("sync_bench", "BM_LogSyncedAppend", "records/s", 16),
         denominator=Figure("sync_bench", "BM_LevelDBSyncedPut", "records/s", 16),
         target=3, measured="{numerator} vs {denominator} records/s"),
    Goal(name="sync_64", area="durability (issue 4)", section="Durability",
         text="synced `Append`, 64 threads ≥ 3× LevelDB synced `Put`",
         numerator=Figure("sync_bench", "BM_LogSyncedAppend", "records/s", 64),
         denominator=Figure("sync_bench", "BM_LevelDBSyncedPut", "records/s", 64),
         target=3, measured="{numerator} vs {denominator} records/s"),
    Goal(name="kv_put_1", area="key-value (issue 5)", section="Key-value store",
         text="synced `Put`, 1 thread ≥ LevelDB",
         numerator=Figure("kv_bench", "BM_PutSync/blockwal", "ops/s", 1),
         denominator=Figure("kv_bench", "BM_PutSync/leveldb", "ops/s", 1),
         target=1.0, measured="{numerator} vs {denominator} ops/s"),
    Goal(name="kv_put_16", area="key-value (issue 5)", section="Key-value store",
         text="synced `Put`, 16 threads ≥ LevelDB",
         numerator=Figure("kv_bench", "BM_PutSync/blockwal", "ops/s", 16),
         denominator=Figure("kv_bench", "BM_PutSync/leveldb", "ops/s", 16),
         target=1.0, measured="{numerator} vs {denominator} ops/s"),
    Goal(name="kv_open_wal", area="key-value (issue 5)", section="Key-value store",
         text="open from the WAL ≥ 3× LevelDB reopen",
         numerator=Figure("kv_bench", "BM_OpenWal/leveldb/{n}", "time"),
         denominator=Figure("kv_bench", "BM_OpenWal/blockwal/{n}", "time"),
         sizes=Sizes("kv_bench", "BM_OpenWal/blockwal", LARGEST, fmt_count), optional=True,
         target=3, measured="{n} keys: {denominator} vs {numerator}"),
    Goal(name="kv_open_checkpointed", area="key-value (issue 5)", section="Key-value store",
         text="open after a checkpoint ≥ 3× LevelDB reopen",
         numerator=Figure("kv_bench", "BM_OpenCheckpointed/leveldb/{n}", "time"),
         denominator=Figure("kv_bench", "BM_OpenCheckpointed/blockwal/{n}", "time"),
         sizes=Sizes("kv_bench", "BM_OpenCheckpointed/blockwal", LARGEST, fmt_count),
         optional=True, target=3, measured="{n} keys: {denominator} vs {numerator}"),
]

GOALS_BY_NAME = {g.name: g for g in GOALS}


@dataclass(frozen=True)
class Outcome:
    """A goal against one run. value is None when the run did not measure it."""
    goal: Goal
    value: Optional[float]
    measured: str

    @property
    def met(self):
        return None if self.value is None else self.value >= self.goal.target


def _figure(r, fig, n=None, mode=None):
    res = r.get(fig.program, fig.key.format(n=n, mode=mode), fig.threads)
    if fig.measure == "time":
        return time_of(res)
    if fig.measure == "cpu":
        return cpu_of(res)
    if fig.measure == "real_s":
        return real_of(res) and real_of(res) / 1e9
    return counter(res, fig.measure)


def _value_at(goal, r, n):
    if goal.modes:
        values = [ratio(_figure(r, goal.numerator, n, m), _figure(r, goal.denominator, n, m))
                  for m in goal.modes]
        return None if None in values else min(values)
    num = _figure(r, goal.numerator, n)
    if goal.denominator is None:
        return num
    return ratio(num, _figure(r, goal.denominator, n))


def _measured_text(goal, r, n):
    """The "Measured" column: goal.measured with its fields filled in."""
    fields = {}
    for _, field, _, _ in string.Formatter().parse(goal.measured):
        if field == "n":
            fields[field] = goal.sizes.label(n)
        elif field:
            fig = getattr(goal, field)
            fields[field] = _FIGURE_FORMAT[fig.measure](_figure(r, fig, n))
    return goal.measured.format(**fields)


def _outcome_at(goal, r, n):
    """The goal at size n (None for a goal without sizes)."""
    value = _value_at(goal, r, n)
    if value is None:
        return Outcome(goal, None, DASH)
    return Outcome(goal, value, _measured_text(goal, r, n))


def evaluate(goal, r):
    """The goal against the run r: an Outcome, or None when an optional goal
    has no size in this run. A goal over every size holds at its lowest
    measured value (the smallest such size on a tie)."""
    if goal.sizes is None:
        return _outcome_at(goal, r, None)
    sizes = r.args(goal.sizes.program, goal.sizes.prefix)
    if not sizes:
        return None if goal.optional else Outcome(goal, None, DASH)
    if goal.sizes.pick == LARGEST:
        return _outcome_at(goal, r, sizes[-1])
    measured = [o for o in (_outcome_at(goal, r, n) for n in sizes) if o.value is not None]
    return min(measured, key=lambda o: o.value, default=Outcome(goal, None, DASH))


def outcome(name, r):
    return evaluate(GOALS_BY_NAME[name], r)


def outcomes(r):
    """Every goal the run has a row for, in table order."""
    return [o for o in (evaluate(g, r) for g in GOALS) if o is not None]


def verdict(o, what):
    """The sentence a section closes with: met or not, against the target."""
    target = o.goal.target
    if o.value is None:
        return f"**{what}: not measured in this run.**"
    word = "met" if o.value >= target else "not met"
    if o.goal.rate_unit is None:
        return f"**{what}: {word}** ({fmt_ratio(o.value)} against ≥ {fmt_ratio(target)})."
    unit = o.goal.rate_unit
    return (f"**{what}: {word}** ({fmt_count(o.value)}{unit} against "
            f"≥ {fmt_count(target)}{unit}).")
