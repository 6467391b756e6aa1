"""CPU seconds of one site profile's synthetic DiD: estimate, 50 placebo replications and the 41-point conformal
grid, for each employer outcome, exactly as ``notebooks/40_site_profile.ipynb`` computes them
(:func:`ceci_impact.study.site_synth.site_synthetic` defaults: radius 5 km, window 12 months, seed 2026).

Usage::

    PYTHONPATH=src python benchmarks/synthdid_speed.py --processed data/processed [--site CECI-0001] [--repeat 3]

The panels are read first (not timed); the clock (process CPU time, not inflated by other jobs on a shared
machine) covers ``_fit`` for the three outcomes; best of ``--repeat``. Prints the CPU seconds, and per outcome the
estimate, the placebo standard error and the conformal p-value, so that two versions of the code can be compared
number for number (run it with ``PYTHONPATH`` pointing at each version's ``src``).
"""

from __future__ import annotations

import argparse
import time


def main(argv: list[str] | None = None) -> None:
    from ceci_impact.confidentiality import MIN_CELL
    from ceci_impact.study import sites
    from ceci_impact.study.site_synth import EMPLOYER_OUTCOMES, _fit, site_series

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--processed", default="data/processed")
    ap.add_argument("--site", default="", help="site id (empty: the first opened site)")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
    site = sites.site_profile(a.processed, a.site)
    panels = [(y, *site_series(a.processed, site, 5.0, 12, y)) for y in EMPLOYER_OUTCOMES]
    best, fits = float("inf"), []
    for _ in range(a.repeat):
        c0 = time.process_time()
        fits = [(y, _fit(p, y, n, min_treated=MIN_CELL, method="sdid", reps=50, seed=2026, alpha=0.05, n_grid=41))
                for y, p, n in panels]
        best = min(best, time.process_time() - c0)
    print(f"site {site.site_id}: synthdid + placebo (50) + conformal (41) for {len(panels)} outcomes: "
          f"{best:.2f} CPU s (best of {a.repeat})")
    for y, f in fits:
        r = f["result"]
        print(f"  {y}: " + (f"estimate {r.overall_att:.15g}  placebo SE {r.overall_se:.15g}  conformal p "
                             f"{f['conformal']['pvalue']:.15g}" if r is not None else f"no fit ({f['reason']})"))


if __name__ == "__main__":
    main()
