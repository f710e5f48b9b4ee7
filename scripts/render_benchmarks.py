#!/usr/bin/python3
"""Renders the benchmark report and its plots from the JSON of one run.

    python3 scripts/render_benchmarks.py DIR [--report FILE]

DIR holds what scripts/bench-report.sh wrote: one Google Benchmark JSON file
per program (crc32c_bench.json, block_bench.json, log_bench.json,
sync_bench.json, kv_bench.json) and machine.json. The plots are written to
DIR/*.svg (with gnuplot), the report to FILE, by default DIR/../benchmarks.md.

Every number in the report comes from those files. The text around the numbers
(what each benchmark does, how it measures, the goals) lives in
scripts/benchreport/: the goals in goals.py, the plots in plots.py, each
section of the page in sections/. Python standard library only.
"""

import argparse
import os
import shutil
import sys

sys.dont_write_bytecode = True  # re-rendering leaves no __pycache__ in scripts/

from benchreport import report  # noqa: E402
from benchreport.loading import PROGRAMS, Results  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dir", help="the directory with the JSON of a run (docs/bench)")
    parser.add_argument("--report", help="where the report goes "
                        "(default: DIR/../benchmarks.md)")
    args = parser.parse_args()
    data_dir = os.path.abspath(args.dir)
    report_path = args.report or os.path.join(os.path.dirname(data_dir), "benchmarks.md")
    if shutil.which("gnuplot") is None:
        sys.exit("render_benchmarks: gnuplot is missing (apt-get install gnuplot-nox)")
    results = Results(data_dir)
    if len(results.missing) == len(PROGRAMS):
        sys.exit(f"render_benchmarks: no benchmark JSON in {data_dir}")
    repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    text = report.render(results, data_dir, report_path, repo_root)
    with open(report_path, "w") as f:
        f.write(text)
    print(f"wrote {report_path} and the plots in {data_dir}")


if __name__ == "__main__":
    main()
