"""End-to-end recovery of the simulated truth over many worlds: coverage, bias and RMSE per outcome × estimator.

Each seed simulates a world (``ceci_impact.data.synthetic``), builds its panels (``panels.build_all``) and runs the
headline estimators for every headline outcome of the registry exactly as the summary report does (``analysis.all_outcomes`` with the
00_summary defaults). Every estimate is compared with the truth of its own estimand (``ceci_impact.data.truth``: the
same estimator run on the noise-free effect outcome). Prints, per outcome × estimator, the number of worlds, the
coverage of the 95 % interval, the mean of (estimate − truth) / SE, the RMSE, and the mean contamination (effects
outside the estimator's treated cells, in SE units).

    python benchmarks/truth_recovery.py --size small --seeds 1 2 3 --json out.json [--jobs 2]
    python benchmarks/truth_recovery.py --from-worlds a.worlds.csv [b.worlds.csv …] [--json out.json]  # re-summarise

``--json`` writes ``{outcome: {estimator: {"n", "coverage", "mean_bias_se", "rmse", ...}}}`` with the outcome names
of the sidecars; the per-world rows go beside it (``PATH`` with the suffix ``.worlds.csv``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ceci_impact.data import panels, synthetic
from ceci_impact.report import params
from ceci_impact.study import analysis


def one_world(size: str, seed: int, small_cluster: str | None = None) -> list[dict]:
    """Simulate, build and estimate one world; one row per outcome × estimator."""
    warnings.simplefilter("ignore")
    if small_cluster:
        from ceci_impact.study import specification

        specification.SMALL_CLUSTER = small_cluster
    with simulated_world(size, seed) as processed:
        d = params.defaults("00_summary")
        res = analysis.all_outcomes(processed, covariates=d["covariates"], control_group=d["control_group"],
                                    est_method=d["est_method"], min_e=d["min_e"], max_e=d["max_e"], seed=d["seed"],
                                    biters=d["biters"])
        rows = []
        for y, es in res.items():
            for rec in es.comparison_records():
                rows.append({"seed": seed, "outcome": y, "estimator": rec["specification"]["estimator"],
                             "estimate": rec["estimate"], "se": rec["se"], "ci_low": rec["ci_low"],
                             "ci_high": rec["ci_high"], "truth": rec.get("truth"),
                             "contamination": rec.get("contamination"), "n_treated": es.n_treated})
        return rows


@contextmanager
def simulated_world(size: str, seed: int):
    """A simulated world built into a temporary folder (removed afterwards); yields its processed panels."""
    root = Path(tempfile.mkdtemp(prefix=f"world-{seed}-"))
    try:
        synthetic.simulate(size=size, seed=seed, out=root / "raw", quiet=True)
        panels.build_all(root / "raw", root / "processed", quiet=True)
        yield root / "processed"
    finally:
        shutil.rmtree(root, ignore_errors=True)


def calibrated_z(z: np.ndarray, crit: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """The normal score of each t statistic under its own interval's reference distribution.

    An interval ``estimate ± crit·SE`` with ``crit`` above the normal quantile is read as a Student-t interval
    with the degrees of freedom ``df`` that give that quantile; ``z`` is then mapped through ``Φ⁻¹(F_df(z))``, so
    a calibrated interval gives calibrated scores of SD 1 even when ``df`` is small (a t statistic with 4 degrees
    of freedom has SD 1.41). An interval at or below the normal quantile (a bootstrap band, say) is rescaled to it.
    Returns the scores and the degrees of freedom (inf for the rescaled ones).
    """
    q = stats.norm.ppf(0.5 + level / 2)
    df = np.full(z.shape, np.inf)
    out = z * q / crit
    for i in np.flatnonzero(np.isfinite(crit) & (crit > q * (1 + 1e-9))):  # a root per interval, a few hundred
        df[i] = optimize.brentq(lambda v, c=crit[i]: stats.t.ppf(0.5 + level / 2, v) - c, 1e-3, 1e9)
        out[i] = stats.norm.ppf(stats.t.cdf(z[i], df[i]))
    return out, df


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    """Coverage, mean bias in SE units, RMSE and contamination per outcome × estimator.

    ``sd_z`` is the SD of (estimate − truth) / SE; with few effective clusters the t statistic is heavy-tailed
    and its SD exceeds 1 even when the t interval is exact, so ``sd_z_cal`` gives the SD of the calibrated
    scores (``calibrated_z``) and ``median_df`` the median degrees of freedom of the intervals.
    """
    z = ((df.estimate - df.truth) / df.se).to_numpy(float)
    crit = ((df.ci_high - df.ci_low) / (2 * df.se)).to_numpy(float)
    zc, dof = calibrated_z(z, crit)
    d = df.assign(err=df.estimate - df.truth, z=z, z_cal=zc, dof=dof,
                  cover=(df.ci_low <= df.truth) & (df.truth <= df.ci_high), cz=df.contamination / df.se)
    g = d.groupby(["outcome", "estimator"], sort=False)
    out = g.agg(n=("z", "size"), coverage=("cover", "mean"), mean_bias_se=("z", "mean"), sd_z=("z", "std"),
                sd_z_cal=("z_cal", "std"), median_df=("dof", "median"),
                rmse=("err", lambda e: float(np.sqrt(np.mean(e**2)))), mean_truth=("truth", "mean"),
                mean_contamination_se=("cz", "mean"))
    n = out["n"].to_numpy(float)
    out["coverage_mc_se"] = np.sqrt(0.95 * 0.05 / n)
    return out.reset_index()


def _records(tab: pd.DataFrame) -> dict:
    """``{outcome: {estimator: {statistic: value}}}`` (non-finite values, such as normal intervals' degrees of
    freedom, as null)."""
    return {y: {r.estimator: {k: (float(v) if np.isfinite(v) else None) for k, v in r._asdict().items()
                              if k not in ("outcome", "estimator", "Index")}
                for r in t.itertuples()} for y, t in tab.groupby("outcome", sort=False)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", default="small", choices=["small", "default"])
    ap.add_argument("--seeds", type=int, nargs="+", default=None, help="the worlds to simulate (required)")
    ap.add_argument("--json", default=None, help="write the summary (and per-world rows) here")
    ap.add_argument("--jobs", type=int, default=1, help="worlds simulated in parallel (default 1)")
    ap.add_argument("--small-cluster", default=None, choices=["none", "welch", "effective", "effective_fitted"],
                    help="the CS small-cluster correction (default: the reports')")
    ap.add_argument("--from-worlds", default=None, metavar="CSV", nargs="+",
                    help="summarise the per-world rows of earlier runs (their .worlds.csv, pooled) instead of simulating")
    a = ap.parse_args(argv)
    if a.from_worlds:
        df = pd.concat([pd.read_csv(f) for f in a.from_worlds], ignore_index=True)
        tab = summarise(df)
        print(tab.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        if a.json:
            Path(a.json).write_text(json.dumps(_records(tab), indent=1))
        return 0
    if not a.seeds:
        ap.error("--seeds is required (or --from-worlds)")
    t0 = time.perf_counter()
    rows = []
    with ProcessPoolExecutor(max_workers=max(1, a.jobs)) as ex:
        futs = {s: ex.submit(one_world, a.size, s, a.small_cluster) for s in a.seeds}
        failed = []
        for i, (s, f) in enumerate(futs.items(), 1):
            try:
                rows += f.result()
            except Exception as exc:  # a world that cannot be built or estimated is a finding, not a crash
                failed.append((s, f"{type(exc).__name__}: {exc}"))
            print(f"[{time.perf_counter() - t0:6.0f}s] world {i}/{len(a.seeds)} (seed {s}) "
                  f"{'FAILED' if failed and failed[-1][0] == s else 'done'}", file=sys.stderr)
    df = pd.DataFrame(rows)
    tab = summarise(df)
    pd.set_option("display.width", 200)
    print(f"{a.size} worlds, seeds {a.seeds[0]}..{a.seeds[-1]} ({len(a.seeds)}), {time.perf_counter() - t0:.0f} s")
    print(tab.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    for s, msg in failed:
        print(f"world {s} failed: {msg}")
    if a.json:
        Path(a.json).write_text(json.dumps(_records(tab), indent=1))
        df.to_csv(Path(a.json).with_suffix(".worlds.csv"), index=False)  # one row per world × outcome × estimator
    return 0


if __name__ == "__main__":
    sys.exit(main())
