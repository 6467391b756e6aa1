"""Diagnostics that choose a specification: propensity-score overlap by cohort."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..did.core.notes import recording
from ..i18n import msg


def propensity_overlap(df: pd.DataFrame, covariates: list[str], *, gname: str = "first_treat", idname: str = "unit",
                       tname: str = "period", trim: float = 0.995) -> pd.DataFrame:
    """Propensity-score overlap per cohort, as the doubly robust / IPW 2x2 comparisons see it.

    For each cohort ``g`` a logit of membership in ``g`` against its comparison units (never treated and not yet
    treated at ``g``) on the unit-level ``covariates``: treated and comparison units, whether the design is
    singular (then ``att_gt`` sets the cohort's cells to NA), the largest score and the comparison units with a score
    above ``trim`` (where R ``did`` trims and the weights explode). One row per cohort.

    Parameters
    ----------
    df : pandas.DataFrame
        The estimation sample (one row per unit and period).
    covariates : list of str
        Unit-level covariates of the propensity model.
    gname : str
        Cohort column.
    idname : str
        Unit column.
    tname : str
        Period column.
    trim : float
        Propensity score above which a unit counts as outside the overlap (R ``did``'s trimming level).
    """
    import statsmodels.api as sm

    units = df.sort_values(tname).drop_duplicates(idname)
    X = sm.add_constant(units[covariates].to_numpy(float), has_constant="add")
    g = units[gname].to_numpy(float)
    rows = []
    for c in sorted(v for v in np.unique(g) if v > 0):
        m = (g == c) | (g == 0) | (g > c)
        d = (g[m] == c).astype(float)
        Xm = X[m]
        row = {"cohort": c, "treated": int(d.sum()), "comparison": int((d == 0).sum())}
        singular = np.linalg.matrix_rank(Xm[d == 1]) < 1 or np.linalg.matrix_rank(Xm) < Xm.shape[1] or d.sum() < Xm.shape[1] + 1
        ps = None
        if not singular:
            with recording():  # convergence warnings re-emitted, never silenced
                try:
                    fitres = sm.Logit(d, Xm).fit(disp=0, maxiter=100)
                    ps = fitres.predict(Xm)
                    singular = not np.all(np.isfinite(fitres.params)) or not fitres.mle_retvals.get("converged", True)
                except Exception:  # perfect separation or singular Hessian
                    singular = True
        row["singular"] = bool(singular)
        row["max_score"] = float(ps.max()) if ps is not None else np.nan
        row["comparison_above_trim"] = int((ps[d == 0] > trim).sum()) if ps is not None else 0
        row["treated_above_trim"] = int((ps[d == 1] > trim).sum()) if ps is not None else 0
        rows.append(row)
    return pd.DataFrame(rows)

def choose_specification(overlap: pd.DataFrame, covariates: list[str], max_bad_share: float = 0.1) -> tuple[list[str], str]:
    """The headline covariates by overlap diagnostics, never by the size of the estimate.

    The covariate specification is kept when the cohorts with a singular propensity model or treated units above the
    trimming threshold hold at most ``max_bad_share`` of the treated units; otherwise the headline is unconditional
    (with the covariate specification reported beside it). Returns the covariates and the reason in words.

    Parameters
    ----------
    overlap : pandas.DataFrame
        The table of :func:`propensity_overlap`.
    covariates : list of str
        The covariates of the full specification.
    max_bad_share : float
        Largest share of treated units in cohorts without overlap for which the covariates are kept.
    """
    if not covariates or overlap.empty:
        return list(covariates), msg("overlap.none")
    bad = overlap.singular | (overlap.treated_above_trim > 0)
    share = float(overlap.treated[bad].sum() / max(overlap.treated.sum(), 1))
    kw = dict(n_bad=int(bad.sum()), n=len(overlap), share=f"{share:.0%}")
    if share <= max_bad_share:
        return list(covariates), msg("overlap.ok", **kw)
    return [], msg("overlap.fails", **kw)


def balance_table(df: pd.DataFrame, yname: str, covariates: list[str] | tuple = (),
                  weightsname: str | None = None) -> pd.DataFrame:
    """Exposed against comparison units before the first opening: each unit's mean over the months before any CECI
    opened, then the (weighted) mean of exposed units (opening inside the window) and of comparison units (never
    exposed), their difference and the standardised difference (difference over the pooled unit-level SD; above
    about 0.25 in absolute value the groups differ enough to matter for unconditional parallel trends).

    Parameters
    ----------
    df : pandas.DataFrame
        The estimation sample.
    yname : str
        Outcome column.
    covariates : list of str
        Covariates compared besides the outcome.
    weightsname : str, optional
        Weight column (the outcome's weights in the registry).
    """
    g = df.first_treat[df.first_treat > 0]
    cols = [c for c in [yname, *covariates, *([weightsname] if weightsname else [])] if c in df.columns]
    cols = list(dict.fromkeys(cols))
    if g.empty or not cols:
        return pd.DataFrame(columns=["variable", "exposed", "comparison", "difference", "standardised difference"])
    pre = df[df.period < g.min()]
    units = pre.groupby("unit").agg({**{c: "mean" for c in cols}, "first_treat": "first"})
    w = units[weightsname] if weightsname else pd.Series(1.0, index=units.index)
    exposed = units.first_treat > 0
    rows = []
    for c in cols:
        x = units[c]
        ok = x.notna()
        m1 = np.average(x[ok & exposed], weights=w[ok & exposed]) if (ok & exposed).any() else np.nan
        m0 = np.average(x[ok & ~exposed], weights=w[ok & ~exposed]) if (ok & ~exposed).any() else np.nan
        sd = np.sqrt((x[ok & exposed].var() + x[ok & ~exposed].var()) / 2)
        rows.append({"variable": c, "exposed": m1, "comparison": m0, "difference": m1 - m0,
                     "standardised difference": (m1 - m0) / sd if sd > 0 else np.nan})
    rows.append({"variable": "units", "exposed": float(exposed.sum()), "comparison": float((~exposed).sum()),
                 "difference": np.nan, "standardised difference": np.nan})
    return pd.DataFrame(rows)
