"""Placebo on the untreated potential outcome: the event study of y(0) over many simulated worlds.

A simulated world records both potential worlds, so ``y(0) = y - tau`` is known for every unit and month. Running
the reports' Callaway–Sant'Anna specification (covariates, not-yet-treated comparisons, first-month workforce
weights, site clusters) on ``y(0)`` with a universal base period gives event-time "effects" whose expectation is
zero at every event time if conditional parallel trends hold in the simulated world and its panels. A dip in the
month before opening, a drift before or after it, or a level shift after it shows up as a mean z-score away from
zero. Prints, per outcome and event time, the mean over worlds of estimate / SE (its Monte-Carlo SE is about
1 / sqrt(worlds)), then the means over the pre- and post-opening event times.

    python benchmarks/untreated_placebo.py --size small --seeds $(seq 1001 1016) [--jobs 2] [--csv OUT] [--shocks none]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from ceci_impact.data import truth as T
from ceci_impact.did import att_gt
from ceci_impact.report import params
from ceci_impact.study import samples

sys.path.insert(0, str(Path(__file__).resolve().parent))
from truth_recovery import simulated_world  # noqa: E402  (the benchmarks' shared world builder)

OUTCOMES = ("eg_days_per_worker", "rt_days_per_worker", "separation_rate")


def one_world(size: str, seed: int, outcomes: tuple[str, ...], min_e: int, max_e: int,
              shocks: str | None = None) -> list[dict]:
    """Simulate and build one world; the universal-base event study of y(0) per outcome."""
    warnings.simplefilter("ignore")
    d = params.defaults("00_summary")
    rows = []
    with simulated_world(size, seed, shocks) as proc:
        for y in outcomes:
            df = samples.employer_sample(proc, y)
            tau = T.unit_effects(proc, y)
            df = df.merge(tau[["employer_id", "period", "tau"]], on=["employer_id", "period"], how="left")
            df["y0"] = df[y] - df["tau"].fillna(0.0)
            r = att_gt(df, yname="y0", tname="period", idname="unit", gname="first_treat",
                       xformla="~ " + " + ".join(d["covariates"]), control_group=d["control_group"],
                       est_method=d["est_method"], weightsname="size0", clustervars="site_cluster",
                       base_period="universal", bstrap=False, cband=False)
            t = r.aggte("dynamic", min_e=min_e, max_e=max_e, na_rm=True).tidy()
            rows += [{"seed": seed, "outcome": y, "event_time": int(e), "att": a, "se": s}
                     for e, a, s in zip(t.event_time, t.att, t.se, strict=True)]
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", default="small", choices=["small", "default"])
    ap.add_argument("--seeds", type=int, nargs="+", required=True)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--min-e", type=int, default=-12)
    ap.add_argument("--max-e", type=int, default=12)
    ap.add_argument("--csv", default=None, help="write the per-world event-time rows here")
    ap.add_argument("--shocks", default="default", choices=["default", "none"],
                    help="the simulator's correlated shocks (none: the independent world)")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    rows = []
    with ProcessPoolExecutor(max_workers=max(1, a.jobs)) as ex:
        futs = [ex.submit(one_world, a.size, s, OUTCOMES, a.min_e, a.max_e, None if a.shocks == "default" else a.shocks)
                for s in a.seeds]
        for f in futs:
            rows += f.result()
    df = pd.DataFrame(rows)
    df["z"] = df.att / df.se
    if a.csv:
        df.to_csv(a.csv, index=False)
    n = df.seed.nunique()
    print(f"{a.size} worlds, seeds {a.seeds[0]}..{a.seeds[-1]} ({n}), {time.perf_counter() - t0:.0f} s; "
          f"mean z of the y(0) event study (Monte-Carlo SE about {1 / np.sqrt(n):.2f})")
    print(df.pivot_table(index="event_time", columns="outcome", values="z", aggfunc="mean").round(2).to_string())
    per_world = df.assign(side=np.where(df.event_time < 0, "pre", "post")).groupby(["outcome", "side", "seed"]).z.mean()
    summ = per_world.groupby(["outcome", "side"]).agg(["mean", "std", "size"])
    summ["mc_se"] = summ["std"] / np.sqrt(summ["size"])
    print(summ.round(3).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
