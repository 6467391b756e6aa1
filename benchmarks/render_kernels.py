"""CPU time of render runs with one kernel per worker (kept and reset) against one kernel per run.

Usage::

    PYTHONPATH=src python benchmarks/render_kernels.py [--only 40_site_CECI-000] [--plan notebooks/runplan.toml]

Renders the runs of the plan whose name contains ``--only`` twice with one worker, into two new temporary folders:
first with kept kernels, then with ``fresh_kernels=True``; prints for each mode the wall time, the CPU seconds of
every run (its sidecar's ``cpu_s``: worker and kernel, start-up included) and the CPU of all child processes.
CPU time, unlike wall time, is not inflated by other jobs on a shared machine. Needs built panels
(``ceci-impact build``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main(argv: list[str] | None = None) -> None:
    from ceci_impact.report import render

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--plan", default="notebooks/runplan.toml")
    ap.add_argument("--only", default="40_site_CECI-000", help="runs whose name contains this text")
    a = ap.parse_args(argv)
    print(f"load before {os.getloadavg()[0]:.2f}; runs containing {a.only!r} of {a.plan}; one worker")
    for mode in ("kept", "fresh"):
        with tempfile.TemporaryDirectory(prefix=f"ceci-bench-{mode}-") as tmp:
            out = Path(tmp) / "reports"
            t0, c0 = time.perf_counter(), _children_cpu()
            ok = render.render(a.plan, out, jobs=1, only=a.only, quiet=True, fresh_kernels=mode == "fresh")
            wall, cpu = time.perf_counter() - t0, _children_cpu() - c0
            sides = sorted((json.loads(p.read_text()) for p in (out / "results").glob("*.json")),
                           key=lambda s: s.get("started", ""))
            runs = [(s["run"], s.get("cpu_s")) for s in sides if "cpu_s" in s]
            print(f"{mode:5s} kernels: ok={ok} runs={len(runs)} wall {wall:6.1f} s  CPU of the runs "
                  f"{sum(c for _, c in runs):6.1f} s  CPU of all child processes {cpu:6.1f} s")
            print("       per run (CPU s): " + ", ".join(f"{n} {c:.2f}" for n, c in runs))
    print(f"load after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
