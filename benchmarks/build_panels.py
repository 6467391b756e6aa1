"""Benchmark: build the panels from the `default` and `national` simulated worlds.

Prints, per world, rows per second of the employer × month panel and the peak resident memory of the
build process (DuckDB included). Usage:

    .venv/bin/python benchmarks/build_panels.py [--sizes default national] [--work /tmp/ceci-bench] [--memory-limit 6GB]

Worlds are simulated once into --work and reused on later runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=["default", "national"])
    ap.add_argument("--work", default="/tmp/ceci-bench")
    ap.add_argument("--memory-limit", default="6GB", help="DuckDB memory limit for the build")
    args = ap.parse_args()
    work = Path(args.work)
    for size in args.sizes:
        raw, out = work / f"{size}_raw", work / f"{size}_processed"
        if not (raw / "truth.json").exists():
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "ceci_impact.cli", "simulate", "--quiet", "--size", size,
                            "--out", str(raw)], check=True)
            print(f"{size}: simulated in {time.perf_counter() - t:.0f} s")
        t = time.perf_counter()
        code = ("import resource, sys; from ceci_impact.cli import main; "
                f"rc = main(['build', '--quiet', '--raw', {str(raw)!r}, '--out', {str(out)!r}, "
                f"'--memory-limit', {args.memory_limit!r}]); "
                "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(rc)")
        r = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
        wall = time.perf_counter() - t
        peak_kb = int(r.stdout.strip().splitlines()[-1])
        m = json.loads((out / "manifest.json").read_text())
        st = m["stats"]
        rows, secs = st["employer_month_rows"], st["employer_panel_seconds"]
        peak = peak_kb / 2**20
        print(f"{size}: {st['spells']:,} job spells -> employer_month {rows:,} rows in {secs:.1f} s "
              f"({rows / secs:,.0f} rows/s); whole build {wall:.1f} s; peak memory of the build {peak:.2f} GiB")


if __name__ == "__main__":
    main()
