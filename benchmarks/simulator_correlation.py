"""The correlation structure of simulated worlds: the shocks themselves and what they leave in the outcomes.

For each seed, prints (1) statistics of the drawn shocks (``synthetic.shock_fields``): the lag-1 autocorrelation of
the municipality demand shock, the mean correlation of two municipalities' shock series within 100 km and 800 km or
more apart (different states), and the intra-cluster correlation of the employer demand and incapacity-rate shocks
within site × month; and (2) the same kind of statistics measured on the world's untreated outcomes ``y(0)``
(``synthetic_shocks.correlation_diagnostics``: municipality employment growth; employer absenteeism and separation
rates, employers with at least 20 workers), where Poisson noise of small units dilutes them. Then the means over
seeds. ``--shocks none`` gives the independent world (every statistic about zero).

    python benchmarks/simulator_correlation.py --size small --seeds 1 2 3 4 [--shocks none] [--csv OUT]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ceci_impact.data import synthetic
from ceci_impact.data.synthetic_shocks import _icc, correlation_diagnostics
from ceci_impact.geo import haversine_km


def _lag1(z: np.ndarray) -> float:
    z = z - z.mean(1, keepdims=True)
    return float(np.corrcoef(z[:, 1:].ravel(), z[:, :-1].ravel())[0, 1])


def field_stats(size: str, seed: int, shocks: str | None) -> dict:
    """Correlations of the drawn shocks (no jobs simulated)."""
    w = synthetic.shock_fields(size, seed, shocks)
    if w.demand is None:
        return {}
    c = np.corrcoef(w.mun_demand)
    d = haversine_km(w.m_lat[:, None], w.m_lon[:, None], w.m_lat[None, :], w.m_lon[None, :])
    off = ~np.eye(d.shape[0], dtype=bool)
    near = w.e_site >= 0
    T = w.demand.shape[1]
    cell = np.repeat(w.e_site[near], T) * 1000 + np.tile(np.arange(T), int(near.sum()))
    return {"shock_mun_lag1": _lag1(w.mun_demand),
            "shock_mun_corr_within_100km": float(c[off & (d <= 100)].mean()),
            "shock_mun_corr_beyond_800km": float(c[off & (d >= 800) & (w.states[:, None] != w.states[None, :])].mean()),
            "shock_demand_icc_site_month": _icc((w.demand - w.demand.mean(0))[near].ravel(), cell),
            "shock_absence_icc_site_month": _icc((w.absence - w.absence.mean(0))[near].ravel(), cell),
            "shock_absence_lag1": _lag1(w.absence),
            "employers_in_site_clusters": float(near.mean())}


def one(size: str, seed: int, shocks: str | None) -> dict:
    """Both sets of statistics for one world."""
    root = Path(tempfile.mkdtemp(prefix=f"corr-{seed}-"))
    try:
        t0 = time.perf_counter()
        raw = synthetic.simulate(size, seed, root / "raw", quiet=True, shocks=shocks)
        secs = time.perf_counter() - t0
        return {"seed": seed, **field_stats(size, seed, shocks), **correlation_diagnostics(raw),
                "simulate_seconds": secs}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", default="small", choices=["small", "default", "national"])
    ap.add_argument("--seeds", type=int, nargs="+", required=True)
    ap.add_argument("--shocks", default="default", choices=["default", "none"])
    ap.add_argument("--csv", default=None, help="write the per-world statistics here")
    a = ap.parse_args(argv)
    shocks = None if a.shocks == "default" else a.shocks
    df = pd.DataFrame([one(a.size, s, shocks) for s in a.seeds])
    if a.csv:
        df.to_csv(a.csv, index=False)
    print(f"{a.size} worlds, seeds {a.seeds}, shocks {a.shocks}")
    print(df.set_index("seed").T.round(3).assign(mean=df.drop(columns="seed").mean().round(3)).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
