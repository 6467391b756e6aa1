"""Monte-Carlo coverage of att_gt intervals (pointwise 95 % and the uniform band of the dynamic aggregation).

Each replication draws a staggered panel with dynamic, cohort-specific effects (cohorts 4, 6, 8 and
never treated; 10 periods), estimates ATT(g,t) with the multiplier bootstrap, aggregates to event
time and checks whether the pointwise intervals and the simultaneous band cover the true effects.

    .venv/bin/python benchmarks/coverage.py [--reps 500] [--units 1000] [--biters 499] [--seed 1]

Prints coverage with its Monte-Carlo standard error (sqrt(p(1-p)/reps)).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from ceci_impact.did import att_gt


def draw(rng, n, T=10):
    g = np.where(rng.random(n) < 0.6, rng.choice([4, 6, 8], n), 0)
    ids = np.repeat(np.arange(1, n + 1), T)
    t = np.tile(np.arange(1, T + 1), n)
    gg = np.repeat(g, T)
    e = t - gg
    eff = np.where((gg > 0) & (e >= 0), (0.3 + 0.1 * (gg == 4)) * (e + 1), 0.0)
    y = np.repeat(rng.normal(size=n), T) + 0.1 * t + eff + rng.normal(size=n * T)
    return pd.DataFrame({"id": ids, "t": t, "g": gg, "y": y}), g


def true_dynamic(g, T=10):
    """Population event-time effects: cohort-share-weighted averages of the cohort effects."""
    out = {}
    shares = {c: 1 / 3 for c in (4, 6, 8)}
    for e in range(-7, 7):
        cs = [c for c in (4, 6, 8) if 2 <= c + e <= T]  # varying base: cells start in period 2
        if not cs:
            continue
        w = np.array([shares[c] for c in cs])
        val = np.array([(0.3 + 0.1 * (c == 4)) * (e + 1) if e >= 0 else 0.0 for c in cs])
        out[e] = float(w @ val / w.sum())
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--units", type=int, default=1000)
    ap.add_argument("--biters", type=int, default=499)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    cover_pt, cover_band, cover_cell, n_cells = [], [], 0, 0
    t0 = time.perf_counter()
    for r in range(a.reps):
        df, g = draw(rng, a.units)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = att_gt(df, yname="y", tname="t", idname="id", gname="g", biters=a.biters, seed=r)
            dyn = res.aggte("dynamic")
        truth = true_dynamic(g)
        tb = dyn.tidy()
        tv = tb.event_time.map(truth).to_numpy()
        inside = (tb.ci_low <= tv) & (tv <= tb.ci_high)
        cover_pt.append(inside.mean())
        cover_band.append(bool(((tb.band_low <= tv) & (tv <= tb.band_high)).all()))
        cell = res.tidy()
        ct = np.where(cell.event_time >= 0, (0.3 + 0.1 * (cell.group == 4)) * (cell.event_time + 1), 0.0)
        cover_cell += int(((cell.ci_low <= ct) & (ct <= cell.ci_high)).sum())
        n_cells += len(cell)
    R = a.reps
    p_pt, p_band, p_cell = np.mean(cover_pt), np.mean(cover_band), cover_cell / n_cells
    print(f"{R} replications, {a.units} units, 10 periods, biters={a.biters} ({time.perf_counter() - t0:.0f} s)")
    print(f"pointwise 95% coverage, dynamic event-time effects: {p_pt:.3f} (MC s.e. {np.sqrt(p_pt * (1 - p_pt) / R):.3f})")
    print(f"pointwise 95% coverage, ATT(g,t) cells:             {p_cell:.3f} (MC s.e. {np.sqrt(p_cell * (1 - p_cell) / n_cells):.3f})")
    print(f"uniform 95% band coverage, dynamic aggregation:     {p_band:.3f} (MC s.e. {np.sqrt(p_band * (1 - p_band) / R):.3f})")


if __name__ == "__main__":
    main()
