"""Recovery of direct and ring spillover effects (spillover_did) and of dose-response curves (cont_did).

Seeds fixed in advance (benchmarks/SEEDS.md): worlds 7001-7040 (first evaluation), 7101-7140 (the heuristic
``effective`` intervals); the inference registry's rules applied to spillover_did's scores
(``--small-cluster none,effective,ri,wcu_webb,wcr_webb``) are evaluated once on worlds 7201-7240 and, for the bias
question, 7301-7700; development used 7141-7199.

Spatial part. Each world puts ``--units`` units on a 160 x 160 km square and 30 centres in six poles of five (each
within about 5 km of its pole's centre, as CECI cluster in industrial parks), opening in periods 5..20 of 16 (some
after the window: staggered, and later openings move units into closer rings). Outcome: unit and period
effects, AR(1) idiosyncratic noise (rho 0.5) and zone x period shocks (10 x 10 km zones, sd 0.3, spatially
correlated within a zone). Effects: within 3 km of an opened centre ``1.0 + 0.05 * event time`` (direct), in
(3, 10] km ``0.5 * exp(-(d - 3) / 10)`` (spillover, decaying with distance), none beyond. Inference clustered by
zone. The truth of each estimate is the estimator applied to ``D * tau`` (D = exposed in any ring, the estimator's
treated cells; :mod:`ceci_impact.data.truth`), so it has the same rings, weights and event times. The naive ring
comparison (inner ring against every unit beyond it, buffer included) targets the direct effect: its bias is
measured against the direct truth.

Dose part. Staggered panel (groups 3, 4, 5 and never treated, 6 periods, ``--dose-units`` units), dose
U(0.5, 3) among treated units, ``Y_t(d) - Y_t(0) = 0.5 + 0.4 d - 0.05 d^2`` from the group's first period (so
ATT(d) = 0.5 + 0.4 d - 0.05 d^2 and ACRT(d) = 0.4 - 0.1 d), unit effects and N(0, 1) noise. cont_did with a
quadratic B-spline (degree 2, no interior knot: the truth lies in the sieve); truth of ATT^o and ACRT^o is
cont_did on the noise-free effect outcome. Reported: mean bias / SD, coverage of the pointwise 95 % intervals
(ATT^o, ACRT^o, ATT(d) at the median dose) and of the uniform band over the dose grid.

    PYTHONPATH=src .venv/bin/python benchmarks/spatial_dose_recovery.py [--first 7001] [--worlds 40]

Prints, per estimand (and per inference rule): mean estimate, mean truth, mean bias, SD of estimate - truth, mean
SE, coverage, median interval width, bias / SD, bias / mean SE, the oracle width (2 x 1.96 x SD), median width /
oracle width, and power: the share of worlds whose interval excludes ``truth - 2.8 SD`` (the intervals are
translation-equivariant: adding a constant to the treated outcomes shifts the estimate and the interval and leaves
the scores unchanged, so this is the power of the test of a null 2.8 SD from the truth, issue 24's bar).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from ceci_impact.did import cont_did, spillover_did


def spatial_world(seed: int, n: int = 6000, T: int = 16, sites: int = 30, side: float = 160.0,
                  zone_sd: float = 0.3):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, side, (n, 2))
    poles = rng.uniform(15, side - 15, (sites // 5, 2))  # sites cluster in poles of five (industrial parks)
    sxy = np.repeat(poles, 5, axis=0)[:sites] + rng.normal(0, 5, (sites, 2))
    open_t = rng.integers(5, T + 5, sites)
    t = np.arange(1, T + 1)
    dist = np.sqrt(((xy[:, None] - sxy[None]) ** 2).sum(-1))
    D = np.where(open_t[None, None] <= t[None, :, None], dist[:, None], np.inf).min(-1)  # units x periods
    first3 = np.where((D <= 3).any(1), np.argmax(D <= 3, axis=1) + 1, 0)
    e3 = t[None] - first3[:, None]
    tau = np.where(D <= 3, 1.0 + 0.05 * e3, np.where(D <= 10, 0.5 * np.exp(-(D - 3) / 10), 0.0))
    nz = int(np.ceil(side / 10))
    zone = (xy[:, 0] // 10).astype(int) * nz + (xy[:, 1] // 10).astype(int)
    u = np.zeros((n, T))
    shocks = rng.normal(0, 1, (n, T))
    u[:, 0] = shocks[:, 0]
    for s in range(1, T):  # AR(1) over 16 periods (a loop over periods, not units)
        u[:, s] = 0.5 * u[:, s - 1] + np.sqrt(1 - 0.25) * shocks[:, s]
    zshock = rng.normal(0, zone_sd, (nz * nz, T))[zone]
    y = rng.normal(size=n)[:, None] + 0.1 * t[None] + u + zshock + tau
    return pd.DataFrame({"id": np.repeat(np.arange(n), T), "t": np.tile(t, n), "y": y.ravel(), "dist": D.ravel(),
                         "tau": tau.ravel(), "zone": np.repeat(zone, T)})


def dose_world(seed: int, n: int = 2000, T: int = 6):
    rng = np.random.default_rng(seed)
    G = rng.choice([0, 3, 4, 5], n)
    dose = np.where(G > 0, rng.uniform(0.5, 3, n), 0.0)
    t = np.arange(1, T + 1)
    treated = (G[:, None] > 0) & (t[None] >= G[:, None])
    tau = np.where(treated, (0.5 + 0.4 * dose - 0.05 * dose**2)[:, None], 0.0)
    y = rng.normal(size=n)[:, None] + 0.2 * t[None] + rng.normal(size=(n, T)) + tau
    return pd.DataFrame({"id": np.repeat(np.arange(n), T), "t": np.tile(t, n), "y": y.ravel(), "tau": tau.ravel(),
                         "g": np.repeat(G, T), "d": np.repeat(dose, T)})


def spatial_rows(seed: int, n: int, small_cluster: str = "none", **world) -> list[dict]:
    df = spatial_world(seed, n, **world)
    kw = dict(yname="y", tname="t", idname="id", distname="dist", clustervars="zone", horizon=False, pretrends=False,
              small_cluster=small_cluster)
    rules = small_cluster.split(",")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # "RULE+lo": the rule with BJS's leave-out averages in the variance (spillover_did's leaveout=True)
        fits = {rule: spillover_did(df, **{**kw, "small_cluster": rule.removesuffix("+lo")}, seed=seed,
                                    leaveout=rule.endswith("+lo")).ring_effects().set_index("term")
                for rule in rules}
        exposed = np.isfinite(df.dist) & (df.dist <= 10)
        truth = spillover_did(df.assign(y=np.where(exposed, df.tau, 0.0)), **{**kw, "small_cluster": "none"},
                              naive=False).ring_effects()
    for w in caught:
        print(f"  warning (world {seed}): {w.message}")
    truth = truth.set_index("term").att
    out = []
    for rule, r in fits.items():
        for term, tr in [("direct (0, 3]", truth["direct (0, 3]"]),
                         ("spillover (3, 10]", truth["spillover (3, 10]"]),
                         ("naive ring comparison", truth["direct (0, 3]"])]:
            out.append({"rule": rule, "estimand": term, "est": r.loc[term, "att"], "se": r.loc[term, "se"],
                        "truth": tr, "lo": r.loc[term, "ci_low"], "hi": r.loc[term, "ci_high"]})
    return out


def dose_rows(seed: int, n: int) -> list[dict]:
    df = dose_world(seed, n)
    kw = dict(yname="y", tname="t", idname="id", gname="g", dname="d", degree=2, num_knots=0, biters=499, seed=seed)
    r = cont_did(df, **kw)
    grid = r.dose_table.dose.to_numpy()
    truth = cont_did(df.assign(y=df.tau), **{**kw, "cband": False})
    true_att_d = 0.5 + 0.4 * grid - 0.05 * grid**2
    true_acrt_d = 0.4 - 0.1 * grid
    mid = grid.size // 2
    t = r.dose_table
    z = 1.959963984540054
    out = [{"estimand": "ATT^o", "est": r.att_o, "se": r.att_o_se, "truth": truth.att_o},
           {"estimand": "ACRT^o", "est": r.acrt_o, "se": r.acrt_o_se, "truth": truth.acrt_o},
           {"estimand": "ATT(d), median dose", "est": t.att[mid], "se": t.att_se[mid], "truth": true_att_d[mid]},
           {"estimand": "ACRT(d), median dose", "est": t.acrt[mid], "se": t.acrt_se[mid], "truth": true_acrt_d[mid]}]
    for o in out:
        o["lo"], o["hi"] = o["est"] - z * o["se"], o["est"] + z * o["se"]
    band = {"att_band": bool(((t.att_band_low <= true_att_d) & (true_att_d <= t.att_band_high)).all()),
            "acrt_band": bool(((t.acrt_band_low <= true_acrt_d) & (true_acrt_d <= t.acrt_band_high)).all()),
            "att_curve_rmse": float(np.sqrt(np.mean((t.att - true_att_d) ** 2)))}
    return out, band


def summarise(rows: list[dict]) -> pd.DataFrame:
    d = pd.DataFrame(rows)
    by = ["rule", "estimand"] if "rule" in d else ["estimand"]
    d["err"] = d.est - d.truth
    d["cover"] = (d.lo <= d.truth) & (d.truth <= d.hi)
    d["width"] = d.hi - d.lo
    d["sd"] = d.groupby(by, sort=False).err.transform(lambda v: v.std(ddof=1))
    alt = d.truth - 2.8 * d.sd  # the null 2.8 SD away (translation-equivariant intervals: see the docstring)
    d["reject"] = (alt < d.lo) | (alt > d.hi)
    g = d.groupby(by, sort=False)
    out = pd.DataFrame({"mean_est": g.est.mean(), "mean_truth": g.truth.mean(), "bias": g.err.mean(),
                        "sd": g.err.std(ddof=1), "mean_se": g.se.mean(), "coverage": g.cover.mean(),
                        "median_width": g.width.median()})
    out["bias_over_sd"] = out.bias / out.sd
    out["bias_over_se"] = out.bias / out.mean_se
    out["oracle_width"] = 2 * 1.959963984540054 * out.sd
    out["width_over_oracle"] = out.median_width / out.oracle_width
    out["power_2.8sd"] = g.reject.mean()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--first", type=int, default=7001)
    ap.add_argument("--worlds", type=int, default=40)
    ap.add_argument("--units", type=int, default=1500)
    ap.add_argument("--dose-units", type=int, default=2000)
    ap.add_argument("--small-cluster", default="none",
                    help="comma-separated rules of the inference registry (spillover_did's small_cluster); a "
                         "suffix '+lo' adds leaveout=True (BJS's leave-out variance)")
    ap.add_argument("--skip-dose", action="store_true")
    a = ap.parse_args()
    seeds = range(a.first, a.first + a.worlds)
    t0 = time.perf_counter()
    sp = [row for s in seeds for row in spatial_rows(s, a.units, a.small_cluster)]
    pd.set_option("display.width", 250)
    print(f"spillover_did, {a.worlds} worlds (seeds {a.first}-{a.first + a.worlds - 1}), {a.units} units x 16 "
          f"periods, clustered by 10 km zone, small_cluster={a.small_cluster}; {time.perf_counter() - t0:.1f} s")
    print(summarise(sp).round(4).to_string())
    if a.skip_dose:
        return
    t0 = time.perf_counter()
    dr, bands = [], []
    for s in seeds:
        rows, band = dose_rows(s, a.dose_units)
        dr += rows
        bands.append(band)
    b = pd.DataFrame(bands)
    print(f"\ncont_did, {a.worlds} worlds, {a.dose_units} units x 6 periods; {time.perf_counter() - t0:.1f} s")
    print(summarise(dr).round(4).to_string())
    print(f"uniform band coverage over the dose grid: ATT(d) {b.att_band.mean():.3f}, ACRT(d) {b.acrt_band.mean():.3f};"
          f" mean RMSE of the ATT(d) curve {b.att_curve_rmse.mean():.4f}")


if __name__ == "__main__":
    main()
