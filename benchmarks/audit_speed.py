"""Time of the render's disclosure audit on a finished render (issue 27, part 3: the audit runs after every render).

Usage::

    PYTHONPATH=src python benchmarks/audit_speed.py REPORTS PROCESSED [--repeat 1]

Runs :func:`ceci_impact.report.audit.disclosure_audit` on the reports folder ``REPORTS`` against the confidential
panels ``PROCESSED`` (what ``ceci-impact render`` does at its end) and prints the findings' count, the wall time
and the process CPU time of each repetition. Reads only; the library measured is the one on ``PYTHONPATH`` (point it
at another checkout's ``src`` to time that code on the same reports).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("reports", type=Path, help="a finished render's folder")
    ap.add_argument("processed", type=Path, help="the panels it was rendered from")
    ap.add_argument("--repeat", type=int, default=1, help="repetitions (default 1)")
    a = ap.parse_args(argv)
    import ceci_impact
    from ceci_impact.report.audit import disclosure_audit

    print(f"library {Path(ceci_impact.__file__).parent}")
    for i in range(a.repeat):
        t, c = time.perf_counter(), time.process_time()
        found = disclosure_audit(a.reports, a.processed, quiet=True)
        print(f"run {i + 1}: {len(found)} finding(s), wall {time.perf_counter() - t:.1f} s, "
              f"CPU {time.process_time() - c:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
