"""Small-cluster inference for the Callaway–Sant'Anna headline: a stylised Monte Carlo with shared cluster shocks.

Each world is a staggered panel of units grouped in clusters of very unequal size (log-normal sizes); the whole of
a treated cluster opens at one date (cohorts spread over the panel); every unit's outcome carries a shock shared by
its cluster that is serially correlated (AR(1)), plus its own noise. The effect is a constant ``tau``, so every
aggregation's truth is ``tau``. Designs (issue 24): ``g48t16`` (16 treated of 48 clusters) and ``g30t8`` (8 of 30).

For each inference rule of :data:`ceci_impact.did.inference.RULES` it reports, for ``att_gt(..., est_method="reg",
control_group="nevertreated", clustervars="cluster")`` then ``aggte("simple")``:

- ``coverage`` of the ``1 - alp`` interval in the null run (``tau = 0``);
- ``width_ratio``: median interval width / oracle width, the oracle being ``2 x 1.96 x`` the SD of the estimate
  across the null run's worlds;
- ``power``: share of intervals excluding 0 when ``tau = 2.8 x`` that SD (the same worlds, the effect added);
- ``pretest_size``: rejection rate at 5 % of the event-study pre-test (``aggte("dynamic").pretest()``, universal
  base period) under the true null of parallel trends (rule-independent: the clustered wild-bootstrap Wald test),
  next to the unit-level chi-squared Wald test of R-style code for comparison;
- the median effective number of clusters ``G*`` (Carter, Schnepel & Steigerwald 2017), a diagnostic.

Seeds are pre-registered in benchmarks/SEEDS.md (``--seeds dev`` for development, ``--seeds heldout`` for the
reported table, run once)::

    PYTHONPATH=src .venv/bin/python benchmarks/cluster_inference.py --design all --seeds heldout \
        --json benchmarks/results/cluster_inference.heldout.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ceci_impact.did import att_gt
from ceci_impact.did.inference import RULES, effective_clusters

DESIGNS = {"g48t16": dict(G=48, G1=16), "g30t8": dict(G=30, G1=8),
           # like the employer panels: 16 treated site clusters of unequal size, 300 never-treated units each its
           # own cluster (treated clusters are sites, the others single employers: not exchangeable by design)
           "sites16": dict(G=316, G1=16, singletons=True),
           # the same employer panels with the placebo rings of 16 candidate sites that did not open (clusters of the
           # same size distribution) declared as the randomisation pool (att_gt's ri_pool; employer_sample does this)
           "sites16c": dict(G=332, G1=16, singletons=True, candidates=16)}
SEED_RANGES = {"dev": (1000, 1300), "heldout": (770001, 770401), "heldout_cov": (880001, 880401)}
# the estimated specification: "base" (no covariates, never-treated comparison: the registered designs of the first
# held-out run) or "cov_nyt" (the reports' headline: a covariate and the not-yet-treated comparison)
SPECS = {"base": dict(xformla=None, control_group="nevertreated"),
         "cov_nyt": dict(xformla="~ x", control_group="notyettreated")}
DEFAULT_RULES = ("none", "effective", "cr2_bm", "wcr_webb", "wcr_rademacher", "wcu_webb")


@dataclasses.dataclass(frozen=True)
class World:
    """Knobs of the stylised world (documented defaults)."""

    G: int = 48  # clusters
    G1: int = 16  # treated clusters
    T: int = 10  # periods 1..T
    cohorts: tuple = (4, 5, 6, 7, 8)  # opening periods of treated clusters
    size_mu: float = np.log(12.0)  # log-normal cluster sizes: median 12 units
    size_sigma: float = 1.1  # ... very unequal (largest ~ 20x the median among 48)
    rho: float = 0.6  # AR(1) coefficient of the cluster shocks
    sd_cluster: float = 0.8  # stationary SD of the cluster shock
    sd_unit: float = 1.5  # SD of each unit's own noise per period
    sd_fe: float = 2.0  # SD of unit fixed effects
    assign: str = "random"  # "random": treated clusters drawn uniformly; "size": with probability ~ cluster size;
    # "x": with probability ~ exp(cluster component of x) (spec cov_nyt)
    x_trend: float = 0.0  # outcome trend per period per unit of the covariate x (0: no covariate drawn)
    singletons: bool = False  # every never-treated cluster is a single unit (design sites16)
    x_cluster_sd: float = 0.7  # SD of the cluster component of x (unit component SD 1)
    candidates: int = 0  # with singletons: never-opened candidate site clusters kept whole, the pool with the treated


def simulate(w: World, seed: int, design_index: int, tau: float = 0.0) -> pd.DataFrame:
    """One world: long panel ``unit, period, cluster, g, y`` (``g = 0`` never treated).

    Parameters
    ----------
    w
        World knobs.
    seed
        The world's seed.
    design_index
        Combined with the seed (``SeedSequence([seed, design_index])``).
    tau
        Constant effect on treated units from their opening period on.

    Returns
    -------
    pandas.DataFrame
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, design_index]))
    sizes = np.maximum(1, np.round(np.exp(rng.normal(w.size_mu, w.size_sigma, w.G)))).astype(int)
    treated = np.zeros(w.G, bool)
    x = xc = None
    if w.x_trend or w.assign == "x":  # its own stream: the worlds without a covariate are unchanged
        rx = np.random.default_rng(np.random.SeedSequence([seed, design_index, 1]))
        xc = rx.normal(0, w.x_cluster_sd, w.G)
        x = xc[np.repeat(np.arange(w.G), sizes)] + rx.normal(0, 1, sizes.sum())
    prob = None if w.assign == "random" else sizes / sizes.sum()
    if w.assign == "x":
        prob = np.exp(xc) / np.exp(xc).sum()
    pool = np.arange(w.G) < (w.G1 + w.candidates if w.candidates else w.G)  # clusters that could open
    if w.candidates:  # openings drawn among the candidate sites only
        pp = None if prob is None else prob[pool] / prob[pool].sum()
        treated[rng.choice(int(pool.sum()), w.G1, replace=False, p=pp)] = True
    else:
        treated[rng.choice(w.G, w.G1, replace=False, p=prob)] = True
    g_cl = np.where(treated, rng.choice(np.asarray(w.cohorts), w.G), 0)
    if w.singletons:
        sizes = np.where(treated | (pool & bool(w.candidates)), sizes, 1)
        if x is not None:  # redrawn for the new sizes (own stream)
            x = xc[np.repeat(np.arange(w.G), sizes)] + rx.normal(0, 1, sizes.sum())
    shocks = np.empty((w.G, w.T))
    shocks[:, 0] = rng.normal(0, w.sd_cluster, w.G)
    innov = w.sd_cluster * np.sqrt(1 - w.rho**2)
    for t in range(1, w.T):
        shocks[:, t] = w.rho * shocks[:, t - 1] + rng.normal(0, innov, w.G)
    cl = np.repeat(np.arange(w.G), sizes)
    n = cl.size
    periods = np.arange(1, w.T + 1)
    fe = rng.normal(0, w.sd_fe, n)
    trend = 0.1 * periods
    y = fe[:, None] + trend[None, :] + shocks[cl] + rng.normal(0, w.sd_unit, (n, w.T))
    g = g_cl[cl]
    y = y + tau * ((g[:, None] > 0) & (periods[None, :] >= g[:, None]))
    if x is not None:
        y = y + w.x_trend * x[:, None] * (periods[None, :] - 1)
    out = pd.DataFrame({"unit": np.repeat(np.arange(n), w.T), "period": np.tile(periods, n),
                        "cluster": np.repeat(cl, w.T), "g": np.repeat(g, w.T), "y": y.ravel()})
    if x is not None:
        out["x"] = np.repeat(x, w.T)
    if w.candidates:
        out["pool"] = np.repeat(pool[cl], w.T)
        out.attrs["ri_pool"] = "pool"
    return out


def fit_world(df: pd.DataFrame, rules: tuple, biters: int, seed: int, pretest: bool, spec: str = "base") -> dict:
    """Estimates and intervals of every rule on one world, plus the pre-tests.

    Parameters
    ----------
    df
        The world's panel.
    rules
        Rule names.
    biters
        Bootstrap draws of the wild rules and the pre-test.
    seed
        Seed of the draws.
    pretest
        Also run the event-study pre-tests.
    spec
        Key of :data:`SPECS`: the estimated specification.

    Returns
    -------
    dict
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = att_gt(df, yname="y", tname="period", idname="unit", gname="g", clustervars="cluster",
                     est_method="reg", base_period="universal", bstrap=False, cband=False, biters=biters, seed=seed,
                     **SPECS[spec])
        out: dict = {}
        for rule in rules:
            r = dataclasses.replace(res, params={**res.params, "small_cluster": rule})
            try:
                a = r.aggte("simple")
            except Exception as e:  # noqa: BLE001 - a rule that fails counts as failed, reported
                out.setdefault("rule_failures", {})[rule] = str(e)
                out[rule] = (np.nan, np.nan, np.nan)
                continue
            lo, hi = a.overall_ci
            out[rule] = (a.overall_att, lo, hi)
            if a.inference is not None and a.inference.get("fallback_from"):
                out.setdefault("fallbacks", []).append(rule)
            if "gstar" not in out and a.source is not None:
                gs = effective_clusters(res, a.source[1])
                out["gstar"] = float(gs[0]) if gs is not None else np.nan
        if pretest:
            dyn = res.aggte("dynamic")
            out["pretest_wild"] = dyn.pretest(biters=biters, seed=seed)
            unit = dataclasses.replace(dyn, cluster=None)  # the unit-level chi-squared Wald (the old default)
            out["pretest_unit"] = unit.pretest()["pvalue"]
            for rule in ("ri", "ri_timing"):  # the randomisation pre-tests (the event study under that rule)
                if rule in rules:
                    ri = dataclasses.replace(res, params={**res.params, "small_cluster": rule}).aggte("dynamic")
                    out[f"pretest_{rule}"] = ri.pretest(biters=biters, seed=seed)
    return out


def run_design(name: str, seeds: range, rules: tuple, biters: int, alp: float = 0.05,
               assign: str = "random", spec: str = "base", x_trend: float = 0.15) -> dict:
    """Null run, then the power run at 2.8 x the null run's SD, on the same seeds.

    Parameters
    ----------
    name
        Design name.
    seeds
        World seeds.
    rules
        Rule names.
    biters
        Bootstrap draws.
    alp
        Significance level of the intervals.
    assign
        ``"random"`` (the registered designs) or ``"size"`` (larger clusters more often treated: a stress test
        of rules that assume an exchangeable schedule) or ``"x"`` (clusters with a higher mean covariate more
        often treated; spec ``cov_nyt``).
    spec
        Key of :data:`SPECS`.
    x_trend
        Trend per period per unit of ``x`` in spec ``cov_nyt`` (the worlds of spec ``base`` have no covariate).

    Returns
    -------
    dict
        Per rule ``coverage``, ``width_ratio``, ``power``, ``median_width``; the design's ``sd``, ``oracle_width``,
        ``tau_power``, ``pretest_size`` and ``failed``.
    """
    w = World(**DESIGNS[name], assign=assign, x_trend=x_trend if spec == "cov_nyt" else 0.0)
    di = list(DESIGNS).index(name)
    null, failed = [], 0
    for s in seeds:
        try:
            null.append(fit_world(simulate(w, s, di), rules, biters, s, pretest=True, spec=spec))
        except Exception as e:  # noqa: BLE001 - counted and reported, never dropped silently
            failed += 1
            print(f"  world {s} failed: {e}", file=sys.stderr)
    est = np.array([r[rules[0]][0] for r in null])
    sd = float(np.std(est, ddof=1))
    oracle = 2 * 1.96 * sd
    tau = 2.8 * sd
    alt = []
    for s in seeds:
        try:
            alt.append(fit_world(simulate(w, s, di, tau=tau), rules, biters, s, pretest=False, spec=spec))
        except Exception as e:  # noqa: BLE001
            failed += 1
            print(f"  world {s} (power run) failed: {e}", file=sys.stderr)
    out = {"design": name, **DESIGNS[name], "assign": assign, "spec": spec, **SPECS[spec],
           "worlds": len(null), "failed": failed, "sd": sd, "oracle_width": oracle,
           "tau_power": tau, "mean_bias_sd": float(np.mean(est) / sd), "gstar_median": float(np.nanmedian(
               [r["gstar"] for r in null])), "rules": {}}
    pw = np.array([r["pretest_wild"]["pvalue"] for r in null], float)
    pu = np.array([r["pretest_unit"] for r in null], float)
    sl = np.array([r["pretest_wild"].get("slope80") or np.nan for r in null], float)
    out["pretest_size"] = float(np.mean(pw[np.isfinite(pw)] < 0.05))
    out["pretest_size_unit_chi2"] = float(np.mean(pu[np.isfinite(pu)] < 0.05))
    out["pretest_slope80_median"] = float(np.nanmedian(sl))
    for rule in ("ri", "ri_timing"):
        if null and f"pretest_{rule}" in null[0]:
            pr = np.array([np.nan if r[f"pretest_{rule}"]["pvalue"] is None else r[f"pretest_{rule}"]["pvalue"]
                           for r in null], float)
            out[f"pretest_size_{rule}"] = float(np.mean(pr[np.isfinite(pr)] < 0.05))
            out[f"pretest_{rule}_method"] = sorted({r[f"pretest_{rule}"]["method"] for r in null})
    for rule in rules:
        a = np.array([r[rule] for r in null], float)
        b = np.array([r[rule] for r in alt], float)
        width = a[:, 2] - a[:, 1]
        nfail = int(np.sum(~np.isfinite(a[:, 0]))) + int(np.sum(~np.isfinite(b[:, 0])))
        out["rules"][rule] = {
            "failed": nfail,
            "label": RULES[rule].label,
            "coverage": float(np.mean((a[:, 1] <= 0) & (0 <= a[:, 2]))),
            "median_width": float(np.median(width)),
            "width_ratio": float(np.median(width) / oracle),
            "power": float(np.mean((b[:, 1] > 0) | (b[:, 2] < 0))),
            "infinite_intervals": int(np.sum(~np.isfinite(width))),
            "fallbacks": int(sum(rule in r.get("fallbacks", ()) for r in null + alt)),
        }
    return out


def _commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, check=True).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _seeds(spec: str) -> range:
    if spec in SEED_RANGES:
        return range(*SEED_RANGES[spec])
    a, _, b = spec.partition(":")
    return range(int(a), int(b) if b else int(a) + 1)


def main(argv: list[str] | None = None) -> None:
    """Command line (see the module docstring).

    Parameters
    ----------
    argv
        Arguments (default: ``sys.argv``).
    """
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--design", default="all",
                    help="'all' (g48t16,g30t8: the registered designs) or comma-separated names of " + ", ".join(DESIGNS))
    ap.add_argument("--seeds", default="dev", help="'dev', 'heldout' or START:STOP")
    ap.add_argument("--reps", type=int, default=None, help="use only the first REPS seeds of the range")
    ap.add_argument("--rules", default=",".join(DEFAULT_RULES), help="comma-separated registry rule names")
    ap.add_argument("--biters", type=int, default=999)
    ap.add_argument("--assign", default="random", choices=["random", "size", "x"],
                    help="treated clusters uniformly at random (registered designs), with probability ~ size, or "
                         "~ exp(cluster component of x) (spec cov_nyt)")
    ap.add_argument("--spec", default="base", choices=list(SPECS),
                    help="estimated specification: base (no covariates, never treated) or cov_nyt (covariate x, "
                         "not-yet-treated comparison: the reports' headline)")
    ap.add_argument("--json", default=None, help="write the record to this (new) file")
    args = ap.parse_args(argv)
    rules = tuple(r for r in args.rules.split(",") if r)
    bad = [r for r in rules if r not in RULES]
    if bad:
        ap.error(f"--rules: unknown {bad}; expected names from {sorted(RULES)}")
    if args.json and Path(args.json).exists():
        ap.error(f"--json {args.json}: the file exists; give a new name (nothing is overwritten)")
    seeds = _seeds(args.seeds)
    if args.reps is not None:
        seeds = seeds[: args.reps]
    t0 = time.time()
    record = {"benchmark": "cluster_inference", "commit": _commit(), "seeds": [seeds.start, seeds.stop - 1],
              "seed_set": args.seeds, "assign": args.assign, "spec": args.spec,
              "argv": sys.argv[1:], "biters": args.biters, "rules": list(rules), "designs": []}
    names = ["g48t16", "g30t8"] if args.design == "all" else args.design.split(",")
    if any(d not in DESIGNS for d in names):
        ap.error(f"--design {args.design}: expected 'all' or names from {list(DESIGNS)}")
    for name in names:
        d = run_design(name, seeds, rules, args.biters, assign=args.assign, spec=args.spec)
        record["designs"].append(d)
        print(f"\n{name}: {d['worlds']} worlds ({d['failed']} failed), SD {d['sd']:.4f}, oracle width "
              f"{d['oracle_width']:.4f}, tau for power {d['tau_power']:.4f}, median G* {d['gstar_median']:.1f}")
        print(f"  pre-test (clustered wild Wald) rejects {d['pretest_size']:.3f} under the null "
              f"(unit-level chi2 Wald: {d['pretest_size_unit_chi2']:.3f}); median detectable slope (80%) "
              f"{d['pretest_slope80_median']:.4f}")
        for rule in ("ri", "ri_timing"):
            if f"pretest_size_{rule}" in d:
                print(f"  pre-test under {rule} ({d[f'pretest_{rule}_method']}) rejects {d[f'pretest_size_{rule}']:.3f}")
        print(f"  {'rule':16s} {'coverage':>9s} {'width/oracle':>13s} {'power':>7s} {'failed':>7s} {'fallbacks':>9s}")
        for rule, v in d["rules"].items():
            print(f"  {rule:16s} {v['coverage']:9.3f} {v['width_ratio']:13.3f} {v['power']:7.3f} {v['failed']:7d} "
                  f"{v['fallbacks']:9d}", flush=True)
    record["seconds"] = round(time.time() - t0, 1)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
