"""The "Machine" section: what the run ran on, from machine.json (CPU, memory,
the file system of the benchmark files, build, packages, commit, load), or
from Google Benchmark's own context when there is no machine.json."""

from ..formatting import GIB


def _without_machine_json(page):
    ctx = next(iter(page.r.contexts.values()), {})
    page.w(f"No machine.json beside the results; Google Benchmark recorded "
           f"{ctx.get('num_cpus', '?')} CPUs at {ctx.get('mhz_per_cpu', '?')} MHz "
           f"on host `{ctx.get('host_name', '?')}`, {ctx.get('date', '?')}.")
    page.w()


def _cpu_line(cpu):
    desc = cpu.get("model") or "unknown CPU"
    extra = []
    if cpu.get("vendor"):
        extra.append(cpu["vendor"])
    if cpu.get("family") and cpu.get("model_number"):
        extra.append(f"family {cpu['family']} model {cpu['model_number']}")
    line = f"- CPU: `{desc}`"
    if extra:
        line += f" ({', '.join(extra)})"
    line += f", {cpu['cpus']} CPUs"
    if cpu.get("threads_per_core"):
        line += f" ({cpu['threads_per_core']} thread(s) per core)"
    if cpu.get("mhz"):
        line += f" at {cpu['mhz']} MHz"
    if cpu.get("hypervisor"):
        line += f", {cpu['hypervisor']} guest"
    if cpu.get("flags"):
        line += "; " + ", ".join(cpu["flags"]) + " available"
    return line + "."


def _file_system_line(m):
    fs = m["file_system"]
    line = f"- Benchmark files in `{m['bench_dir']}`: `{fs['type']}`"
    if fs.get("source"):
        line += f" on `{fs['source']}`"
    if fs.get("options"):
        line += f", mounted `{fs['options']}`"
    if fs.get("ext4_journal") == "no":
        line += ", **without a journal**"
    elif fs.get("ext4_journal") == "yes":
        line += ", with a journal"
    line += "."
    disk = []
    if fs.get("disk_write_cache"):
        disk.append(f"write cache `{fs['disk_write_cache']}`")
    if fs.get("disk_scheduler"):
        disk.append(f"scheduler `{fs['disk_scheduler']}`")
    if fs.get("disk_rotational") is not None:
        disk.append("rotational" if fs["disk_rotational"] == "1" else "non-rotational")
    if disk:
        line += " Disk: " + ", ".join(disk) + "."
    return line


def render(page):
    m = page.m
    page.w("## Machine")
    page.w()
    if not m:
        _without_machine_json(page)
        return
    page.w(_cpu_line(m["cpu"]))
    page.w(f"- Memory: {m['memory_bytes'] / GIB:.1f} GiB. Kernel {m['kernel']}"
           + (f", {m['os']}" if m.get("os") else "") + ".")
    page.w(_file_system_line(m))
    page.w(f"- Build: {m['compiler']}, CMake `{m['build_type']}` (`{m['cxx_flags']}`).")
    pk = m.get("packages", {})
    page.w("- Debian packages: " + ", ".join(f"{k} {v}" for k, v in sorted(pk.items())) + ".")
    commit = m.get("git_commit", "unknown")
    page.w(f"- Source: commit `{commit[:12]}`"
           + (" plus uncommitted changes in the working tree" if m.get("git_dirty") else "")
           + ".")
    page.w(f"- Run: {m['started']} to {m['finished']} ({m['mode']} mode); "
           f"1-minute load average {m['load_avg_start'][0]:.2f} at the start, "
           f"{m['load_avg_end'][0]:.2f} at the end.")
    page.w()
    page.w("Google Benchmark prints \"Library was built as DEBUG\": that is Debian's "
           "`libbenchmark` itself, not the code being measured. Debian also builds "
           "Abseil without `NDEBUG`, which leaves `absl::Mutex`'s deadlock detection on "
           "(every `Lock` updates a global lock graph); a release build of Abseil has it "
           "off, so `log_bench`, `sync_bench` and `kv_bench` turn it off in `main` and "
           "measure blockwal rather than Debian's build flags.")
    page.w()
