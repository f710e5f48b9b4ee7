"""Loading a run: the Google Benchmark JSON of each program and machine.json,
grouped into one Result per benchmark configuration, and the accessors that
take one figure (a time, a counter) out of a Result that may be missing."""

import json
import os
import re
import statistics

PROGRAMS = ["crc32c_bench", "block_bench", "log_bench", "sync_bench", "kv_bench"]

# Name components that say how a benchmark ran rather than what it ran.
_RUN_OPTION = re.compile(r"^(min_time|min_warmup_time|iterations|repeats|threads):")
_TIME_KIND = {"real_time", "process_time", "manual_time"}
_UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
# Fields of a JSON entry that are not user counters.
_META = {
    "name", "family_index", "per_family_instance_index", "run_name", "run_type",
    "repetitions", "repetition_index", "threads", "iterations", "real_time",
    "cpu_time", "time_unit", "aggregate_name", "aggregate_unit",
    "error_occurred", "error_message", "label", "big_o", "rms",
}


def benchmark_key(run_name):
    """The benchmark a JSON entry measured, without how it was run:
    "BM_LogAppend/100/min_time:1.000/process_time" -> "BM_LogAppend/100"."""
    parts = [p for p in run_name.split("/")
             if p not in _TIME_KIND and not _RUN_OPTION.match(p)]
    return "/".join(parts)


class Result:
    """One benchmark configuration: the median of its repetitions."""

    def __init__(self, key, threads, entries, aggregates):
        self.key = key
        self.threads = threads
        self.error = None
        run_name = (entries or list(aggregates.values()))[0]["run_name"]
        parts = run_name.split("/")
        # Wall-clock time is the benchmark's own time when it said so
        # (UseRealTime, UseManualTime); CPU time otherwise.
        self.uses_real_time = "real_time" in parts or "manual_time" in parts
        self.repetitions = max(1, len(entries))
        self.iterations = [e.get("iterations", 0) for e in entries]
        errors = [e for e in entries if e.get("error_occurred")]
        if errors:
            self.error = errors[0].get("error_message", "error")
        median = aggregates.get("median")
        if median is not None and not errors:
            self.values = self._values(median)
        elif entries:
            per_entry = [self._values(e) for e in entries if not e.get("error_occurred")]
            if not per_entry:
                per_entry = [self._values(entries[0])]
            self.values = {
                field: statistics.median(v[field] for v in per_entry if field in v)
                for field in per_entry[0]
            }
        else:
            self.values = self._values(median)
        cv = aggregates.get("cv")
        self.cv = None
        if cv is not None:
            self.cv = cv["real_time"] if self.uses_real_time else cv["cpu_time"]

    @staticmethod
    def _values(entry):
        scale = _UNIT_NS[entry.get("time_unit", "ns")]
        values = {"real_ns": entry["real_time"] * scale,
                  "cpu_ns": entry["cpu_time"] * scale}
        for field, value in entry.items():
            if field not in _META and isinstance(value, (int, float)):
                values[field] = float(value)
        return values

    @property
    def ok(self):
        return self.error is None

    @property
    def time_ns(self):
        """Time per iteration: wall clock or CPU, as the benchmark measures."""
        return self.real_ns if self.uses_real_time else self.cpu_ns

    @property
    def real_ns(self):
        return self.values["real_ns"]

    @property
    def cpu_ns(self):
        return self.values["cpu_ns"]

    def counter(self, name):
        return self.values.get(name)


class Results:
    """Every configuration of one run, by program, and the run's machine.json."""

    def __init__(self, directory):
        self.directory = directory
        self.contexts = {}
        self.results = {}  # (program, key, threads) -> Result
        self.order = {}    # program -> [(key, threads)] in file order
        self.missing = []
        for program in PROGRAMS:
            path = os.path.join(directory, program + ".json")
            if not os.path.exists(path):
                self.missing.append(program)
                continue
            with open(path) as f:
                data = json.load(f)
            self.contexts[program] = data.get("context", {})
            self._add(program, data.get("benchmarks", []))
        machine_path = os.path.join(directory, "machine.json")
        self.machine = None
        if os.path.exists(machine_path):
            with open(machine_path) as f:
                self.machine = json.load(f)

    def _add(self, program, entries):
        groups = {}
        order = []
        for e in entries:
            run_name = e.get("run_name", e["name"])
            gid = (benchmark_key(run_name), int(e.get("threads", 1)))
            if gid not in groups:
                groups[gid] = ([], {})
                order.append(gid)
            if e.get("run_type") == "aggregate":
                groups[gid][1][e["aggregate_name"]] = e
            else:
                groups[gid][0].append(e)
        for gid in order:
            plain, aggregates = groups[gid]
            if not plain and "median" not in aggregates:
                continue
            self.results[(program,) + gid] = Result(gid[0], gid[1], plain, aggregates)
        self.order[program] = order

    def get(self, program, key, threads=1):
        """The Result, or None when the run has no such benchmark or it failed."""
        r = self.results.get((program, key, threads))
        if r is None or not r.ok:
            return None
        return r

    def errors(self):
        return [(p, r) for (p, _, _), r in sorted(self.results.items(), key=lambda i: i[0])
                if not r.ok]

    def args(self, program, prefix):
        """The integer arguments present for keys "<prefix>/<n>", ascending."""
        found = set()
        for (p, key, _), r in self.results.items():
            if p == program and r.ok and key.startswith(prefix + "/"):
                rest = key[len(prefix) + 1:]
                if rest.isdigit():
                    found.add(int(rest))
        return sorted(found)

    def threads(self, program, key):
        return sorted(t for (p, k, t), r in self.results.items()
                      if p == program and k == key and r.ok)


# ------------------------------------------------- figures of one result
# Each takes a Result or None (not measured, or failed) and gives None for None.

def time_of(r):
    return None if r is None else r.time_ns


def real_of(r):
    return None if r is None else r.real_ns


def cpu_of(r):
    return None if r is None else r.cpu_ns


def counter(r, name):
    return None if r is None else r.counter(name)


def records_rate(r):
    return counter(r, "records/s")


def ops_rate(r):
    return counter(r, "ops/s")


def kv_store_bytes(r):
    mb = counter(r, "store_MB")
    return None if mb is None else mb * 1e6


# ------------------------------------------------------------ the machine

def version_of(machine, package):
    """"1.23-4" -> "1.23"; "" when unknown."""
    if not machine:
        return ""
    v = machine.get("packages", {}).get(package, "")
    v = re.sub(r"^\d+:", "", v)
    m = re.match(r"[0-9][0-9.]*[0-9]", v)
    return m.group(0) if m else ""
