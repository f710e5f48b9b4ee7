"""How the report writes numbers: significant digits, units, ratios, Markdown
tables and the note on the spread of repetitions under a table."""

import statistics

KIB = 1024
MIB = 1024 * 1024
GIB = 1024 * MIB

DASH = "—"


def sig(x):
    """Three significant digits, no exponent."""
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 100:
        return f"{x:,.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def fmt_ns(ns):
    if ns is None:
        return DASH
    if ns < 1e3:
        return f"{sig(ns)} ns"
    if ns < 1e6:
        return f"{sig(ns / 1e3)} µs"
    if ns < 1e9:
        return f"{sig(ns / 1e6)} ms"
    return f"{sig(ns / 1e9)} s"


def fmt_count(x):
    """A count or rate: 4,085 / 57.3 k / 5.55 M."""
    if x is None:
        return DASH
    if x >= 1e9:
        return f"{sig(x / 1e9)} G"
    if x >= 1e6:
        return f"{sig(x / 1e6)} M"
    if x >= 1e5:
        return f"{sig(x / 1e3)} k"
    return f"{x:,.0f}"


def fmt_gib_s(bytes_per_s):
    return DASH if bytes_per_s is None else f"{bytes_per_s / GIB:.2f} GiB/s"


def fmt_gb_s(bytes_per_s):
    return DASH if bytes_per_s is None else f"{sig(bytes_per_s / 1e9)} GB/s"


def fmt_mb_s(bytes_per_s):
    return DASH if bytes_per_s is None else f"{sig(bytes_per_s / 1e6)} MB/s"


def fmt_size(n):
    """A record or value size: 100 B, 1 KiB, 64 KiB."""
    if n >= MIB and n % MIB == 0:
        return f"{n // MIB} MiB"
    if n >= KIB and n % KIB == 0:
        return f"{n // KIB} KiB"
    return f"{n} B"


def fmt_bytes(n):
    if n is None:
        return DASH
    if n >= 1e9:
        return f"{sig(n / 1e9)} GB"
    if n >= 1e6:
        return f"{sig(n / 1e6)} MB"
    if n >= 1e3:
        return f"{sig(n / 1e3)} kB"
    return f"{n:.0f} B"


def fmt_ratio(r, bold=False):
    if r is None:
        return DASH
    text = f"{r:.2f}×" if r < 10 else f"{r:.1f}×"
    return f"**{text}**" if bold else text


def ratio(baseline, blockwal):
    """baseline / blockwal, for times (or blockwal / baseline for rates:
    pass them the other way round). None when either is missing."""
    if baseline is None or blockwal is None or blockwal == 0:
        return None
    return baseline / blockwal


def table(headers, rows):
    if not rows:
        return "_Not measured in this run._"
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def cv_note(results):
    """A sentence on the spread of the repetitions behind a table."""
    cvs = [r.cv for r in results if r is not None and r.cv is not None]
    reps = {r.repetitions for r in results if r is not None}
    if not cvs:
        if reps == {1}:
            return "One repetition per row (no spread measured)."
        return ""
    return (f"Coefficient of variation of the timed value across the "
            f"{max(reps)} repetitions: at most {max(cvs) * 100:.0f}% "
            f"(median {statistics.median(cvs) * 100:.0f}%).")


def rate_and_time(rate, ns):
    """"5.55 M (180 ns)", or a dash when not measured."""
    return DASH if rate is None else f"{fmt_count(rate)} ({fmt_ns(ns)})"


def fmt_p50_p99(res):
    """"41 / 120": a Result's p50 and p99 counters (µs), or a dash."""
    if res is None or res.counter("p50_us") is None:
        return DASH
    return f"{res.counter('p50_us'):.0f} / {res.counter('p99_us'):.0f}"
