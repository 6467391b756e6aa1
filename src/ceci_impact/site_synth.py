"""Synthetic control and synthetic DiD for one CECI site: the employers around it against a synthetic comparison.

The treated series is the workforce-weighted mean outcome of the employers within ``radius_km`` of the site (weights
= each employer's workers in the first month of the window, as in the local event studies). Donors are the
employers beyond the buffer of every CECI (ring ``control``), aggregated by municipality the same way, so each
donor is a municipality's far-from-any-CECI employers; a municipality with fewer than ``MIN_CELL`` such employers
is left out (no small cell enters a weight table). The estimate, placebo standard error and conformal inference
come from :func:`ceci_impact.did.synthdid`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .analysis import MIN_CELL, load, site_employers
from .did import synthdid


def site_series(processed, site: pd.Series, radius_km: float, window: int, outcome: str) -> tuple[pd.DataFrame, int]:
    """Long panel (unit, period, outcome, first_treat) of the site's treated series and the donor
    municipalities; and the number of employers behind the treated series."""
    em = load("employer_month", processed)
    emp = site_employers(processed, site, em)
    near = set(emp.loc[emp.km <= radius_km, "employer_id"])
    g = int(site.opening_period)
    d = em[em.period.between(g - window, g + window) & (em.employer_id.isin(near) | (em.ring == "control"))]
    d = d[["employer_id", "period", "cvegeo", "workers", outcome]].dropna(subset=[outcome])
    first = d.sort_values("period").groupby("employer_id")["workers"].transform("first")
    d = d.assign(w=first.astype(float)).loc[lambda x: x.w > 0]
    d["unit"] = np.where(d.employer_id.isin(near), "site", "mun " + d.cvegeo.astype(str))
    n_emp = d.groupby("unit")["employer_id"].nunique()
    keep = n_emp.index[(n_emp >= MIN_CELL) | (n_emp.index == "site")]
    d = d[d.unit.isin(keep)]
    d["yw"] = d[outcome] * d.w
    agg = d.groupby(["unit", "period"], as_index=False)[["yw", "w"]].sum()
    agg[outcome] = agg.yw / agg.w
    agg["first_treat"] = np.where(agg.unit == "site", g, 0)
    periods = agg.period.nunique()
    complete = agg.groupby("unit").period.transform("size") == periods
    agg = agg[complete | (agg.unit == "site")]
    return agg[["unit", "period", outcome, "first_treat"]], int(n_emp.get("site", 0))


def site_synthetic(processed, site: pd.Series, radius_km: float, window: int, outcome: str, *, method: str = "sdid",
                   reps: int = 50, seed: int = 2026, alpha: float = 0.05, n_grid: int = 41) -> dict:
    """Synthetic DiD (or SC) of one outcome for one site, with placebo SE and conformal inference.

    The conformal test uses the synthetic-control model (no intercept; see ``SynthDidResult.conformal``) on a grid
    of ``n_grid`` candidate effects. ``reps`` placebo replications (50 by default, to keep one report per site
    cheap: the placebo SE then carries about 10 % Monte-Carlo error, stated in the report).

    Returns ``{"n_treated", "n_donors", "result", "conformal", "reason"}``; ``result`` is None (with the reason)
    when the site has fewer than ``MIN_CELL`` employers, an incomplete treated series, or too few donors.
    """
    panel, n_t = site_series(processed, site, radius_km, window, outcome)
    n_d = int(panel.loc[panel.first_treat == 0, "unit"].nunique())
    out = {"n_treated": n_t, "n_donors": n_d, "result": None, "conformal": None, "reason": ""}
    if n_t < MIN_CELL:
        out["reason"] = f"fewer than {MIN_CELL} employers near the site"
        return out
    if n_d < 3:
        out["reason"] = f"{n_d} donor municipalities with at least {MIN_CELL} far employers"
        return out
    from ._options import CeciError

    try:
        r = synthdid(panel, outcome, "period", "unit", "first_treat", method=method, se="placebo", reps=reps,
                     seed=seed, alp=alpha)
    except CeciError as exc:
        out["reason"] = str(exc).removeprefix("synthdid: ")
        return out
    out["result"] = r
    out["conformal"] = r.conformal(theta0=0.0, alp=alpha, model="sc", n_grid=n_grid)
    return out


def synth_table(results: dict) -> pd.DataFrame:
    """One row per outcome: estimate, placebo interval, conformal p-value and interval, pre-opening fit."""
    rows = []
    for y, s in results.items():
        r, c = s["result"], s["conformal"]
        if r is None:
            rows.append({"outcome": y, "note": s["reason"]})
            continue
        lo, hi = r.overall_ci
        fit = r.fit.iloc[0]
        rows.append({"outcome": y, "effect": r.estimate, "placebo SE": r.se, "CI low": lo, "CI high": hi,
                     "conformal p": c["pvalue"], "conformal CI low": c["ci_low"], "conformal CI high": c["ci_high"],
                     "donors": s["n_donors"], "pre-opening RMSE": fit.pre_rmse,
                     "fit": "too poor to trust" if fit.poor_fit else "acceptable", "note": ""})
    return pd.DataFrame(rows)
