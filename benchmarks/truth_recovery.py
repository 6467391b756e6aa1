"""End-to-end recovery of the simulated truth over many worlds: coverage, width, power and bias per outcome × estimator.

Each seed simulates a world (``ceci_impact.data.synthetic``, with its correlated shocks unless ``--shocks none``),
builds its panels (``panels.build_all``) and runs the headline estimators for every headline outcome of the
registry exactly as the summary report does (``studies.event_study`` per headline sample, the 00_summary defaults).
Every estimate is compared with the truth of its own estimand (``ceci_impact.data.truth``: the same estimator run
on the noise-free effect outcome ``D·tau``).

Per outcome × estimator it reports:

- ``n``: worlds attempted; ``failed``: worlds where the estimate could not be made (an exception, or a non-finite
  estimate, SE or interval) — counted, never dropped; the statistics below are over the others, and
  ``coverage_failed_as_miss`` counts a failed world as a miss;
- ``coverage``: share of intervals that contain the truth (``coverage_mc_se`` its Monte-Carlo SE at 95 %);
- ``mean_bias_se``: mean of (estimate − truth) / SE; ``sd_z``, ``sd_z_cal``, ``median_df`` as before (the SD of
  the t statistics, of the calibrated scores, the median degrees of freedom of the intervals);
- ``width_ratio``: the median interval width over ``2 × 1.96 × SD(estimate − truth)`` across worlds — the width an
  oracle normal interval would need (1: as tight as the estimator's true sampling spread allows; the Monte-Carlo
  error of the SD is about ``1/sqrt(2 (n − failed))``); ``median_width`` and ``sd_error`` its parts;
- ``power``: share of worlds whose interval excludes zero (a size where the truth is about zero);
- ``pretest_size`` (Callaway–Sant'Anna rows: the reports' pre-test, ``EventStudy.pretest()``): share of worlds
  whose pre-test of the event study's pre-periods rejects at 5 %. The simulated world has no anticipation and
  parallel trends hold conditionally on ``x_industrial`` (the reports' covariate), so this is a true null;
  ``pretest_size_sup_t`` the same for the bootstrap sup-t pre-test;
- ``rmse``, ``mean_truth``, ``mean_contamination_se``; the per-world rows also keep the units estimated and the
  cells where the unit effect is undefined and the truth counts it as 0 (``cells_without_effect``).

    python benchmarks/truth_recovery.py --size small --seeds 1 2 3 --json out.json [--jobs 2] [--inference RULE]
    python benchmarks/truth_recovery.py --from-worlds a.worlds.csv [b.worlds.csv …] [--json out.json]  # re-summarise

``--spatial-dose`` adds, for every headline outcome of the employer panel, the spill-over and dose estimands
(``study.spatial_dose``, as the absenteeism and retention reports run them): ``spillover_direct`` and
``spillover_ring2`` (Butts' direct and first spill-over ring effects, intervals under the reports' inference rule),
``naive_ring`` (the naive ring comparison, against the direct effect's truth: its bias is the point) and
``cont_did_att_o`` / ``cont_did_acrt_o`` (ATT^o and ACRT^o of the dose response, normal intervals). Each truth is
the same estimator applied to the noise-free effect outcome ``D·tau`` (D: the estimator's treated cells; rings
exposed for ``spillover_did``, post-opening cells of the treated ring for ``cont_did``).

``--json OUT`` writes ``{outcome: {estimator: {statistic: value}}, "_about": {...}}``; ``_about`` is written by
this script: the commit it ran on (``git rev-parse HEAD`` and whether the work tree had uncommitted changes), the
command line, the size, seeds, inference rule, shocks, and timings. The per-world rows go beside it
(``OUT.worlds.csv``, one row per world × outcome × estimator, failed ones included with their error).

The inference rule (``--inference``) is any value of ``att_gt``'s ``small_cluster`` option, read from its
``Literal`` type (a new rule added there is accepted here without editing this script). The held-out evaluation
seeds of ``benchmarks/SEEDS.md`` are refused unless ``--evaluation`` is given.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import typing
import warnings
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ceci_impact.data import panels, synthetic
from ceci_impact.data.outcomes import headlines
from ceci_impact.did import registry
from ceci_impact.report import params
from ceci_impact.study import studies

HELD_OUT = {"small": (range(9001, 9041), range(9201, 9241), range(9401, 9441), range(9501, 9541)),
            "default": (range(9101, 9141), range(9301, 9341))}
Z95 = stats.norm.ppf(0.975)


def inference_rules() -> tuple[str, ...]:
    """The inference rules of the reports' Callaway–Sant'Anna estimates: the values of ``att_gt``'s
    ``small_cluster`` option, read from its ``Literal`` type (the one place they are declared)."""
    from ceci_impact.did.cs.att_gt import SmallCluster

    return tuple(typing.get_args(SmallCluster))


def _use_rule(rule: str | None) -> None:
    """Make the reports' specification use inference rule ``rule`` in this process (``None``: its default): the
    estimator registry's ``SMALL_CLUSTER``, which the registry's CS fits and the study's CS calls read."""
    if not rule:
        return
    if not hasattr(registry, "SMALL_CLUSTER"):
        raise SystemExit("ceci_impact.did.registry has no SMALL_CLUSTER setting to switch the inference rule")
    registry.SMALL_CLUSTER = rule


def row_names(estimators: tuple[str, ...]) -> list[str]:
    """The comparison rows ``event_study`` produces for these estimators (the estimator registry's: CS always,
    simple and dynamic).

    Parameters
    ----------
    estimators : tuple of str
        Names that select estimators (:func:`ceci_impact.did.registry.selectable`).
    """
    return registry.report_rows(estimators)


def _pretest_row(name: str) -> bool:
    """The reports' pre-test goes with the CS specification: the registry's headline rows."""
    return registry.ESTIMATORS[name].role == "headline"


def _failed_rows(seed: int, outcomes, names, error: str, seconds: float = float("nan")) -> list[dict]:
    return [{"seed": seed, "outcome": y, "estimator": k, "failed": True, "error": error[:300],
             "world_seconds": seconds} for y in outcomes for k in names]


def _spatial_dose_rows(seed: int, processed, outcomes: list[str]) -> list[dict]:
    """Rows of the spill-over and dose estimands (see the module docstring) for the employer outcomes."""
    from ceci_impact.data.panels import load
    from ceci_impact.study import spatial_dose as SD

    cols = set(load("employer_month", processed).columns)
    rows = []
    for y in [o for o in outcomes if o in cols]:
        try:
            sp = SD.spillover_study(processed, y)
            eff = sp.result.ring_effects().set_index("term")
            names = list(eff.index[:2]) + ["naive ring comparison"]
            for k, term in zip(("spillover_direct", "spillover_ring2", "naive_ring"), names, strict=True):
                rows.append(_est_row(seed, y, k, eff.loc[term, "att"], eff.loc[term, "se"], eff.loc[term, "ci_low"],
                                     eff.loc[term, "ci_high"], (sp.truth or {}).get(term)))
        except Exception as exc:
            rows += _failed_rows(seed, [y], ["spillover_direct", "spillover_ring2", "naive_ring"],
                                 f"{type(exc).__name__}: {exc}")
        try:
            dz = SD.dose_study(processed, y, biters=199)
            r, tr = dz.result, dz.truth or {}
            for k, est, se, t in (("cont_did_att_o", r.att_o, r.att_o_se, tr.get("att_o")),
                                  ("cont_did_acrt_o", r.acrt_o, r.acrt_o_se, tr.get("acrt_o"))):
                rows.append(_est_row(seed, y, k, est, se, est - Z95 * se, est + Z95 * se, t))
        except Exception as exc:
            rows += _failed_rows(seed, [y], ["cont_did_att_o", "cont_did_acrt_o"], f"{type(exc).__name__}: {exc}")
    return rows


def _est_row(seed, y, k, est, se, lo, hi, truth) -> dict:
    vals = [est, se, lo, hi]
    ok = all(v is not None and np.isfinite(v) for v in vals) and truth is not None
    return {"seed": seed, "outcome": y, "estimator": k, "failed": not ok,
            "error": "" if ok else "non-finite estimate, SE, interval or truth", "estimate": est, "se": se,
            "ci_low": lo, "ci_high": hi, "truth": truth}


def one_world(size: str, seed: int, small_cluster: str | None = None,
              estimators: tuple[str, ...] = ("callaway_santanna", "twfe"), shocks: str | None = None,
              spatial_dose: bool = False) -> list[dict]:
    """Simulate, build and estimate one world; one row per outcome × estimator (failed ones with their error)."""
    warnings.simplefilter("ignore")
    _use_rule(small_cluster)
    t0, c0 = time.perf_counter(), time.process_time()
    names = row_names(estimators)
    d = params.defaults("00_summary")
    rows: list[dict] = []
    try:
        with simulated_world(size, seed, shocks) as processed:
            samples = studies.headline_samples(processed)
            for y, df, w, cl in samples:
                rows += _one_outcome(seed, y, df, w, cl, processed, d, estimators, names)
            if spatial_dose:
                rows += _spatial_dose_rows(seed, processed, [y for y, *_ in samples])
    except Exception as exc:  # the world could not be simulated or built: every row fails, none is dropped
        done = {r["outcome"] for r in rows}
        rows += _failed_rows(seed, [o.name for o in headlines() if o.name not in done], names,
                             f"{type(exc).__name__}: {exc}")
    for r in rows:  # wall-clock and CPU seconds of the whole world (simulate, build, estimate)
        r["world_seconds"], r["world_cpu_seconds"] = time.perf_counter() - t0, time.process_time() - c0
    return rows


def _one_outcome(seed, y, df, w, cl, processed, d, estimators, names) -> list[dict]:
    """The rows of one outcome of one world (all failed, with the error, when the event study cannot be made)."""
    try:
        es = studies.event_study(df, y, processed=processed, covariates=d["covariates"],
                                 control_group=d["control_group"], est_method=d["est_method"], min_e=d["min_e"],
                                 max_e=d["max_e"], seed=d["seed"], biters=d["biters"], weightsname=w,
                                 clustervars=cl, estimators=list(estimators))
        pre = es.pretest()["pvalue"]
        sup = es.pre_es.pretest("sup_t", seed=d["seed"])["pvalue"]
    except Exception as exc:
        return _failed_rows(seed, [y], names, f"{type(exc).__name__}: {exc}")
    rows = []
    for k, rec in zip(es.rows, es.comparison_records(), strict=True):
        vals = [rec["estimate"], rec["se"], rec["ci_low"], rec["ci_high"]]
        ok = all(v is not None and np.isfinite(v) for v in vals)
        rows.append({"seed": seed, "outcome": y, "estimator": k, "failed": not ok,
                     "error": "" if ok else "non-finite estimate, SE or interval",
                     "estimate": rec["estimate"], "se": rec["se"], "ci_low": rec["ci_low"],
                     "ci_high": rec["ci_high"], "truth": rec.get("truth"), "contamination": rec.get("contamination"),
                     "n_treated": es.n_treated, "n_units": es.n_units,
                     "cells_without_effect": (es.truths or {}).get(k, {}).get("cells_without_effect"),
                     "pretest_p": pre if _pretest_row(k) else None,
                     "pretest_sup_p": sup if _pretest_row(k) else None})
    return rows


@contextmanager
def simulated_world(size: str, seed: int, shocks: str | None = None):
    """A simulated world built into a temporary folder (removed afterwards); yields its processed panels."""
    root = Path(tempfile.mkdtemp(prefix=f"world-{seed}-"))
    try:
        synthetic.simulate(size=size, seed=seed, out=root / "raw", quiet=True, shocks=shocks)
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


def _with_failed(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of any run (older per-world files have no ``failed`` column): failed = flagged or not finite."""
    df = df.copy()
    for c in ("estimate", "se", "ci_low", "ci_high", "truth", "contamination", "pretest_p", "pretest_sup_p"):
        df[c] = pd.to_numeric(df[c], errors="coerce") if c in df else np.nan
    flagged = df["failed"].astype(str).str.lower().isin(["true", "1"]) if "failed" in df else False
    bad = ~np.isfinite(df[["estimate", "se", "ci_low", "ci_high"]].to_numpy(float)).all(1)
    df["failed"] = flagged | bad
    return df


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    """The statistics of the module docstring per outcome × estimator (failed worlds counted in ``n``)."""
    df = _with_failed(df)
    ok = df[~df.failed]
    z = ((ok.estimate - ok.truth) / ok.se).to_numpy(float)
    crit = ((ok.ci_high - ok.ci_low) / (2 * ok.se)).to_numpy(float)
    zc, dof = calibrated_z(z, crit)
    d = ok.assign(err=ok.estimate - ok.truth, z=z, z_cal=zc, dof=dof, width=ok.ci_high - ok.ci_low,
                  cover=(ok.ci_low <= ok.truth) & (ok.truth <= ok.ci_high),
                  reject=(ok.ci_low > 0) | (ok.ci_high < 0), cz=ok.contamination / ok.se,
                  pre_rej=np.where(ok.pretest_p.notna(), ok.pretest_p < 0.05, np.nan),
                  sup_rej=np.where(ok.pretest_sup_p.notna(), ok.pretest_sup_p < 0.05, np.nan))
    keys = ["outcome", "estimator"]
    tried = df.groupby(keys, sort=False).agg(n=("seed", "size"), failed=("failed", "sum"))
    g = d.groupby(keys, sort=False)
    out = g.agg(coverage=("cover", "mean"), covered=("cover", "sum"), mean_bias_se=("z", "mean"),
                sd_z=("z", "std"), sd_z_cal=("z_cal", "std"), median_df=("dof", "median"),
                median_width=("width", "median"), sd_error=("err", "std"), power=("reject", "mean"),
                pretest_size=("pre_rej", "mean"), pretest_size_sup_t=("sup_rej", "mean"),
                rmse=("err", lambda e: float(np.sqrt(np.mean(e**2)))), mean_truth=("truth", "mean"),
                mean_contamination_se=("cz", "mean"))
    out = tried.join(out, how="left")
    out["width_ratio"] = out.median_width / (2 * Z95 * out.sd_error)
    out["coverage_failed_as_miss"] = out.covered.fillna(0) / out.n
    out["coverage_mc_se"] = np.sqrt(0.95 * 0.05 / (out.n - out.failed).clip(lower=1))
    cols = ["n", "failed", "coverage", "coverage_failed_as_miss", "width_ratio", "power", "pretest_size",
            "pretest_size_sup_t", "mean_bias_se", "sd_z", "sd_z_cal", "median_df", "median_width", "sd_error",
            "rmse", "mean_truth", "mean_contamination_se", "coverage_mc_se"]
    return out[cols].reset_index()


def _records(tab: pd.DataFrame) -> dict:
    """``{outcome: {estimator: {statistic: value}}}`` (non-finite values, such as normal intervals' degrees of
    freedom or the pre-test size of an estimator without one, as null)."""
    def val(v):
        return float(v) if v is not None and np.isfinite(v) else None
    return {y: {r.estimator: {k: val(v) for k, v in r._asdict().items() if k not in ("outcome", "estimator", "Index")}
                for r in t.itertuples()} for y, t in tab.groupby("outcome", sort=False)}


def provenance(argv: list[str] | None) -> dict:
    """The commit this script runs on, whether the work tree had uncommitted changes, and the command line."""
    here = Path(__file__).resolve().parent

    def git(*args):
        r = subprocess.run(["git", *args], cwd=here, capture_output=True, text=True, check=False)
        return r.stdout.strip() if r.returncode == 0 else None

    status = git("status", "--porcelain", "--untracked-files=no")
    cmd = argv if argv is not None else sys.argv[1:]
    return {"commit": git("rev-parse", "HEAD"), "dirty": None if status is None else bool(status),
            "command": "python benchmarks/truth_recovery.py " + " ".join(shlex.quote(a) for a in cmd)}


def seed_label(seeds: list[int]) -> str:
    """Seeds as ranges: ``1–40``, ``1–3, 7``."""
    s = sorted(set(seeds))
    parts, i = [], 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[j] + 1:
            j += 1
        parts.append(f"{s[i]}–{s[j]}" if j > i else str(s[i]))
        i = j + 1
    return ", ".join(parts)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", default="small", choices=["small", "default"])
    ap.add_argument("--seeds", type=int, nargs="+", default=None, help="the worlds to simulate (required)")
    ap.add_argument("--json", default=None, help="write the summary here (and the per-world rows beside it)")
    ap.add_argument("--jobs", type=int, default=1, help="worlds simulated in parallel (default 1)")
    ap.add_argument("--inference", "--small-cluster", dest="inference", default=None, choices=inference_rules(),
                    help="the inference rule of the CS estimates (att_gt's small_cluster; default: the reports')")
    ap.add_argument("--estimators", nargs="+", default=["callaway_santanna", "twfe"], choices=list(registry.selectable()),
                    help="estimators to compare (default: the summary report's)")
    ap.add_argument("--shocks", default="default", choices=["default", "none"],
                    help="the simulator's correlated shocks (none: the independent world)")
    ap.add_argument("--spatial-dose", action="store_true",
                    help="also the spill-over (spillover_did) and dose-response (cont_did) estimands")
    ap.add_argument("--evaluation", action="store_true",
                    help="allow the held-out evaluation seeds of benchmarks/SEEDS.md (run once, on final code)")
    ap.add_argument("--from-worlds", default=None, metavar="CSV", nargs="+",
                    help="summarise the per-world rows of earlier runs (their .worlds.csv, pooled) instead of simulating")
    return ap


def _write(path: str | None, tab: pd.DataFrame, about: dict, df: pd.DataFrame | None = None) -> None:
    if not path:
        return
    Path(path).write_text(json.dumps({**_records(tab), "_about": about}, indent=1, ensure_ascii=False))
    if df is not None:
        df.to_csv(Path(path).with_suffix(".worlds.csv"), index=False)  # one row per world × outcome × estimator


def main(argv: list[str] | None = None) -> int:
    ap = _parser()
    a = ap.parse_args(argv)
    prov = provenance(argv)  # at the start: the code that runs, even if the tree changes meanwhile
    pd.set_option("display.width", 250)
    fmt = {"float_format": lambda v: f"{v:.4g}", "index": False}
    if a.from_worlds:
        df = pd.concat([pd.read_csv(f) for f in a.from_worlds], ignore_index=True)
        tab = summarise(df)
        print(tab.to_string(**fmt))
        _write(a.json, tab, {**prov, "summarised_from": a.from_worlds,
                             "seeds": seed_label(df.seed.astype(int).tolist()), "worlds": int(df.seed.nunique())})
        return 0
    if not a.seeds:
        ap.error("--seeds is required (or --from-worlds)")
    held = sorted(s for s in a.seeds if any(s in r for r in HELD_OUT[a.size]))
    if held and not a.evaluation:
        ap.error(f"seeds {seed_label(held)} are held-out evaluation seeds (benchmarks/SEEDS.md); pass --evaluation "
                 "to run the pre-registered evaluation on final code")
    t0 = time.perf_counter()
    rows, names = [], row_names(tuple(a.estimators))
    shocks = None if a.shocks == "default" else a.shocks
    with ProcessPoolExecutor(max_workers=max(1, a.jobs)) as ex:
        futs = {s: ex.submit(one_world, a.size, s, a.inference, tuple(a.estimators), shocks, a.spatial_dose)
                for s in a.seeds}
        for i, (s, f) in enumerate(futs.items(), 1):
            try:
                got = f.result()
            except Exception as exc:  # the worker itself died: the world is a failure, not a gap
                got = _failed_rows(s, [o.name for o in headlines()], names, f"{type(exc).__name__}: {exc}")
            rows += got
            bad = sum(r["failed"] for r in got)
            print(f"[{time.perf_counter() - t0:6.0f}s] world {i}/{len(a.seeds)} (seed {s}) "
                  f"{got[0].get('world_seconds', float('nan')):.0f} s, {bad} of {len(got)} rows failed",
                  file=sys.stderr)
    seconds = time.perf_counter() - t0
    df = pd.DataFrame(rows)
    tab = summarise(df)
    per_world = df.groupby("seed")[["world_seconds", "world_cpu_seconds"]].first()
    print(f"{a.size} worlds, seeds {seed_label(a.seeds)} ({len(a.seeds)}), {seconds:.0f} s (a world: median "
          f"{per_world.world_seconds.median():.0f} s wall-clock, {per_world.world_cpu_seconds.median():.0f} s CPU; "
          f"{max(1, a.jobs)} at a time)")
    print(tab.to_string(**fmt))
    for r in df[df.failed].drop_duplicates(["seed", "outcome", "error"]).itertuples():
        print(f"world {r.seed}, {r.outcome}: failed: {r.error}")
    about = {**prov, "size": a.size, "seeds": seed_label(a.seeds), "worlds": len(a.seeds),
             "evaluation": bool(held), "inference": a.inference or getattr(registry, "SMALL_CLUSTER", None),
             "estimators": a.estimators, "spatial_dose": a.spatial_dose,
             "shocks": a.shocks, "jobs": a.jobs, "seconds": round(seconds, 1),
             "median_world_seconds": round(float(per_world.world_seconds.median()), 1),
             "median_world_cpu_seconds": round(float(per_world.world_cpu_seconds.median()), 1)}
    _write(a.json, tab, about, df)
    return 0


if __name__ == "__main__":
    sys.exit(main())
