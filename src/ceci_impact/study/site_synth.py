"""Synthetic control and synthetic DiD for one CECI site or one PODECOBI pole against a synthetic comparison.

Employer outcomes: the treated series is the workforce-weighted mean outcome of the treated employers (those
within ``radius_km`` of a site; for a pole, the employers in the treated ring of any of its sites), weights = each
employer's workers in the first month of the window, as in the local event studies. Donors are the employers
beyond the buffer of every CECI (ring ``control``), aggregated by municipality the same way, so each donor is a
municipality's far-from-any-CECI employers; a municipality with fewer than ``MIN_CELL`` such employers is left out
(no small cell enters a weight table).

Women's jobs of a pole: the pole's municipalities summed into one series (log of women's jobs) against the
municipalities never exposed to a CECI. The estimate, placebo standard error and conformal inference come from
:func:`ceci_impact.did.synthdid`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._options import CeciError
from ..calendar import label
from ..confidentiality import MIN_CELL
from ..data.panels import load
from ..did import synthdid
from .sites import site_employers

EMPLOYER_OUTCOMES = ("female_share", "eg_days_per_worker", "separation_rate")


def employer_series(em: pd.DataFrame, treated: set, g: int, lo: int, hi: int, outcome: str) -> tuple[pd.DataFrame, int]:
    """Long panel (unit, period, outcome, first_treat): one treated series of the ``treated`` employers and one
    donor per municipality (its control-ring employers); and the number of employers behind the treated series.

    Parameters
    ----------
    em : pandas.DataFrame
        The employer-month panel.
    treated : set
        Employers treated by the site.
    g : int
        The opening month.
    lo : int
        First month kept.
    hi : int
        Last month kept.
    outcome : str
        An employer outcome of the registry.
    """
    d = em[em.period.between(lo, hi) & (em.employer_id.isin(treated) | (em.ring == "control"))]
    d = d[["employer_id", "period", "cvegeo", "workers", outcome]].dropna(subset=[outcome])
    first = d.sort_values("period").groupby("employer_id")["workers"].transform("first")
    d = d.assign(w=first.astype(float)).loc[lambda x: x.w > 0]
    d["unit"] = np.where(d.employer_id.isin(treated), "treated", "mun " + d.cvegeo.astype(str))
    n_emp = d.groupby("unit")["employer_id"].nunique()
    keep = n_emp.index[(n_emp >= MIN_CELL) | (n_emp.index == "treated")]
    d = d[d.unit.isin(keep)]
    d["yw"] = d[outcome] * d.w
    agg = d.groupby(["unit", "period"], as_index=False)[["yw", "w"]].sum()
    agg[outcome] = agg.yw / agg.w
    agg["first_treat"] = np.where(agg.unit == "treated", g, 0)
    complete = agg.groupby("unit").period.transform("size") == agg.period.nunique()
    agg = agg[complete | (agg.unit == "treated")]
    return agg[["unit", "period", outcome, "first_treat"]], int(n_emp.get("treated", 0))


def site_series(processed, site: pd.Series, radius_km: float, window: int, outcome: str) -> tuple[pd.DataFrame, int]:
    """:func:`employer_series` for the employers within ``radius_km`` of one site, ``window`` months around
    its opening.

    Parameters
    ----------
    processed : str or pathlib.Path
        Folder of the built panels.
    site : pandas.Series
        The site's facts (:func:`ceci_impact.study.sites.site_profile`).
    radius_km : float
        Employers within this distance of the site are treated.
    window : int
        Months before and after the opening kept.
    outcome : str
        An employer outcome of the registry.
    """
    em = load("employer_month", processed)
    emp = site_employers(processed, site)  # the built panel's first months, from memory after the first call
    near = set(emp.loc[emp.km <= radius_km, "employer_id"])
    g = int(site.opening_period)
    return employer_series(em, near, g, g - window, g + window, outcome)


def _fit(panel: pd.DataFrame, outcome: str, n_t: int, *, min_treated: int, method: str, reps: int, seed: int,
         alpha: float, n_grid: int) -> dict:
    n_d = int(panel.loc[panel.first_treat == 0, "unit"].nunique())
    out = {"n_treated": n_t, "n_donors": n_d, "result": None, "conformal": None, "reason": ""}
    if n_t < min_treated:
        out["reason"] = f"fewer than {min_treated} treated units behind the series"
        return out
    if n_d < 3:
        out["reason"] = f"{n_d} donors; expected at least 3"
        return out
    try:
        r = synthdid(panel, outcome, "period", "unit", "first_treat", method=method, se="placebo", reps=reps,
                     seed=seed, alp=alpha)
    except CeciError as exc:
        out["reason"] = str(exc).removeprefix("synthdid: ")
        return out
    out["result"] = r
    out["conformal"] = r.conformal(theta0=0.0, alp=alpha, model="sc", n_grid=n_grid)
    return out


def site_synthetic(processed, site: pd.Series, radius_km: float, window: int, outcome: str, *, method: str = "sdid",
                   reps: int = 50, seed: int = 2026, alpha: float = 0.05, n_grid: int = 41) -> dict:
    """Synthetic DiD (or SC) of one outcome for one site, with placebo SE and conformal inference.

    The conformal test uses the synthetic-control model (no intercept; see ``SynthDidResult.conformal``) on a grid
    of ``n_grid`` candidate effects. ``reps`` placebo replications (50 by default, to keep one report per site
    cheap: the placebo SE then carries about 10 % Monte-Carlo error, stated in the report).

    Returns ``{"n_treated", "n_donors", "result", "conformal", "reason"}``; ``result`` is None (with the reason)
    when the site has fewer than ``MIN_CELL`` employers, an incomplete treated series, or too few donors.

    Parameters
    ----------
    processed : str or pathlib.Path
        Folder of the built panels.
    site : pandas.Series
        The site's facts (:func:`ceci_impact.study.sites.site_profile`).
    radius_km : float
        Employers within this distance of the site are treated.
    window : int
        Months before and after the opening kept.
    outcome : str
        An employer outcome of the registry.
    method : {'sdid', 'sc', 'did'}
        Synthetic DiD, synthetic control or DiD.
    reps : int
        Placebo replications of the standard error.
    seed : int
        Seed of the placebo replications.
    alpha : float
        Level of the intervals.
    n_grid : int
        Candidate effects of the conformal interval.
    """
    panel, n_t = site_series(processed, site, radius_km, window, outcome)
    return _fit(panel, outcome, n_t, min_treated=MIN_CELL, method=method, reps=reps, seed=seed, alpha=alpha,
                n_grid=n_grid)


def opened_poles(processed) -> list[str]:
    """PODECOBI poles with at least one opened site, in order of their first opening.

    Parameters
    ----------
    processed : str or pathlib.Path
        Folder of the built panels.
    """
    s = pd.read_parquet(f"{processed}/sites.parquet")
    s = s[(s.opening_period > 0) & s.pole.fillna("").astype(str).str.strip().ne("")]
    return s.groupby("pole").opening_period.min().sort_values(kind="stable").index.tolist()


def pole_sites(processed, pole: str = "") -> pd.DataFrame:
    """The opened sites of one pole (the first pole to open when ``pole`` is empty), with opening months.

    Parameters
    ----------
    processed : str or pathlib.Path
        Folder of the built panels.
    pole : str
        The PODECOBI pole ('' for the first to open).
    """
    poles = opened_poles(processed)
    if not poles:
        raise CeciError("no PODECOBI pole has an opened CECI site")
    pole = pole or poles[0]
    if pole not in poles:
        raise CeciError(f"pole={pole!r} has no opened CECI site; poles with opened sites: {', '.join(poles)}")
    s = pd.read_parquet(f"{processed}/sites.parquet")
    s = s[(s.pole == pole) & (s.opening_period > 0)].sort_values(["opening_period", "site_id"])
    return s.assign(opening_month=[label(p) for p in s.opening_period])


def pole_women_panel(processed, pole: str, sites: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The pole's municipalities summed into one series of log women's jobs against never-exposed
    municipalities; and the number of the pole's municipalities.

    Parameters
    ----------
    processed : str or pathlib.Path
        Folder of the built panels.
    pole : str
        The PODECOBI pole.
    sites : pandas.DataFrame
        Its opened sites (:func:`pole_sites`).
    """
    m = load("mun_month", processed)
    muns = set(m.loc[m.pole == pole, "cvegeo"]) | set(sites.cvegeo)
    g = int(sites.opening_period.min())
    tr = m[m.cvegeo.isin(muns)].groupby("period", as_index=False).jobs_women.sum()
    tr = tr.assign(unit="pole", log_women_jobs=np.log(tr.jobs_women.where(tr.jobs_women > 0)), first_treat=g)
    donors = m[(m.first_treat == 0) & ~m.cvegeo.isin(muns)]
    donors = donors.assign(unit="mun " + donors.cvegeo.astype(str), first_treat=0)
    cols = ["unit", "period", "log_women_jobs", "first_treat"]
    panel = pd.concat([tr[cols], donors[cols]], ignore_index=True).dropna(subset=["log_women_jobs"])
    complete = panel.groupby("unit").period.transform("size") == panel.period.nunique()
    return panel[complete | (panel.unit == "pole")], len(muns)


def pole_synthetic(processed, pole: str, *, pre: int = 24, method: str = "sdid", reps: int = 50, seed: int = 2026,
                   alpha: float = 0.05, n_grid: int = 41) -> dict:
    """Synthetic DiD of women's jobs (municipalities) and of the employer outcomes (employers in the treated
    ring of the pole's sites) for one pole, from its first opening; ``pre`` months before it for employers.

    Parameters
    ----------
    processed : str or pathlib.Path
        Folder of the built panels.
    pole : str
        The PODECOBI pole.
    pre : int
        Months before the first opening used for the employer outcomes.
    method : {'sdid', 'sc', 'did'}
        Synthetic DiD, synthetic control or DiD.
    reps : int
        Placebo replications of the standard error.
    seed : int
        Seed of the placebo replications.
    alpha : float
        Level of the intervals.
    n_grid : int
        Candidate effects of the conformal interval.
    """
    sites = pole_sites(processed, pole)
    g = int(sites.opening_period.min())
    out = {"sites": sites, "pole": sites.pole.iloc[0], "first_opening": label(g)}
    panel, n_mun = pole_women_panel(processed, out["pole"], sites)
    out["log_women_jobs"] = _fit(panel, "log_women_jobs", n_mun, min_treated=1, method=method, reps=reps, seed=seed,
                                 alpha=alpha, n_grid=n_grid)
    em = load("employer_month", processed)
    treated = set(em.loc[(em.ring == "treated") & em.cohort_site.isin(sites.site_id), "employer_id"])
    for y in EMPLOYER_OUTCOMES:
        p, n_t = employer_series(em, treated, g, g - pre, int(em.period.max()), y)
        out[y] = _fit(p, y, n_t, min_treated=MIN_CELL, method=method, reps=reps, seed=seed, alpha=alpha,
                      n_grid=n_grid)
    return out


def synth_table(results: dict) -> pd.DataFrame:
    """One row per outcome: estimate, placebo interval, conformal p-value and interval, pre-opening fit.

    Parameters
    ----------
    results : dict
        Outcome to its synthetic-DiD result (or the reason it is absent).
    """
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


def synth_record(results: dict) -> dict:
    """Sidecar entries: each result's ``to_dict()`` with its conformal inference, or the reason it is absent.

    Parameters
    ----------
    results : dict
        Outcome to its synthetic-DiD result (or the reason it is absent).
    """
    return {y: (s["result"].to_dict() | {"conformal": s["conformal"], "n_treated": s["n_treated"]})
            if s["result"] is not None else {"reason": s["reason"]} for y, s in results.items()}
