"""Dose response (Callaway, Goodman-Bacon & Sant'Anna 2024) on the employer and municipality panels, with the
truth of each estimand on simulated data: what the outcome and design notebooks show.

The dose of an exposed employer is the places per 100 eligible parents of the CECI that exposes it (the first opened
within the treated radius): ``100 * capacity / eligible parents at employers within that radius in the panel's first
month``. A curve needs at least :data:`MIN_SITES` exposing CECI (a single site's dose would disclose its area's count
of eligible parents). The spill-over rings live in :mod:`ceci_impact.study.spatial_dose`, which re-exports these
names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .._options import CeciError
from ..data.panels import load, manifest
from ..did import cont_did
from ..geo import haversine_km
from ..i18n import Text, fmt_number, msg

MIN_SITES = 5  # fewest exposing sites for a dose-response curve (a dose of one site discloses its area's parents)


def _truth_outcome(df: pd.DataFrame, processed, outcome: str, treated: np.ndarray,
                   key: str = "employer_id") -> pd.DataFrame | None:
    from ..data.truth import unit_effects

    tau = unit_effects(processed, outcome)
    if tau is None or key not in tau.columns:
        return None
    m = df[[key, "period"]].merge(tau[[key, "period", "tau"]], how="left")
    t = np.nan_to_num(m["tau"].to_numpy(float))
    seen = df[outcome].notna().to_numpy()
    return df.assign(_effect_treated=np.where(seen, np.where(treated, t, 0.0), np.nan),
                     _effect_other=np.where(seen, np.where(treated, 0.0, t), np.nan))


def employer_doses(processed: str | Path, radius_km: float | None = None) -> pd.DataFrame:
    """Dose of every exposed employer (``employer_id``, ``ceci_dose``, ``site_id``): places per 100 eligible
    parents of the first CECI opened within ``radius_km`` (default the panel's treated radius).

    Parameters
    ----------
    processed : str or pathlib.Path
        Folder of the built panels.
    radius_km : float, optional
        Exposure radius in km (default: the panel's treated radius).
    """
    m = manifest(processed)
    r1 = float(radius_km or m.get("ring_km", (3.0, 10.0))[0])
    sites = load("sites", processed)
    sites = sites[sites["opening_period"] > 0].reset_index(drop=True)
    emp = load("employer_month", processed)
    first = emp[emp["period"] == emp["period"].min()][["employer_id", "lat", "lon", "eligible"]]
    e_lat, e_lon = first["lat"].to_numpy(float), first["lon"].to_numpy(float)
    s_lat, s_lon = sites["lat"].to_numpy(float), sites["lon"].to_numpy(float)
    demand = np.zeros(len(sites))
    site = np.full(len(first), -1)
    best = np.full(len(first), np.inf)
    op = sites["opening_period"].to_numpy(float)
    elig = first["eligible"].to_numpy(float)
    for c in range(0, len(first), 20000):
        d = haversine_km(e_lat[c:c + 20000, None], e_lon[c:c + 20000, None], s_lat[None], s_lon[None])
        within = d <= r1
        demand += within.T.astype(float) @ elig[c:c + 20000]
        key = np.where(within, op[None] * 1e6 + d, np.inf)  # earliest opening, then nearest
        site[c:c + 20000] = np.where(np.isfinite(key.min(1)), key.argmin(1), -1)
        best[c:c + 20000] = key.min(1)
    dose = 100.0 * sites["capacity"].to_numpy(float) / np.maximum(demand, 1.0)
    ok = site >= 0
    return pd.DataFrame({"employer_id": first["employer_id"].to_numpy()[ok], "ceci_dose": dose[site[ok]],
                         "site_id": sites["site_id"].to_numpy()[site[ok]]})


@dataclass(frozen=True)
class DoseStudy:
    """ATT(d) / ACRT(d) of the treated ring with their truths (``cont_did`` on ``D * tau``).

    Parameters
    ----------
    result : DoseResult
        The :func:`~ceci_impact.did.cont_did` estimate.
    outcome : str
        The outcome studied.
    truth : dict or None
        True ATT^o, ACRT^o and dose-response curves (simulated data only).
    dropped_units : int
        Employers left out for a missing outcome in some month.
    """

    result: object
    outcome: str
    truth: dict | None = None
    dropped_units: int = 0

    def table(self) -> pd.DataFrame:
        r = self.result
        t = pd.DataFrame({"parameter": ["ATT^o", "ACRT^o"], "estimate": [r.att_o, r.acrt_o],
                          "se": [r.att_o_se, r.acrt_o_se]})
        if self.truth is not None:
            t["truth"] = [self.truth["att_o"], self.truth["acrt_o"]]
        return t

    def sentence(self, scale: float = 1.0) -> Text:
        """ATT^o and ACRT^o in a sentence (both languages).

        Parameters
        ----------
        scale : float
            Factor applied to the effects and standard errors before they are written (e.g. 100 for per cent).
        """
        r = self.result
        return msg("dose.sentence", att=fmt_number(r.att_o * scale), att_se=fmt_number(r.att_o_se * scale),
                   acrt=fmt_number(r.acrt_o * scale), acrt_se=fmt_number(r.acrt_o_se * scale))

    def plot(self, ax=None):
        """The dose-response curve (:meth:`DoseResult.plot`).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on (a new figure when None).
        """
        return self.result.plot(ax=ax)

    def to_dict(self) -> dict:
        return {"dose": self.result.to_dict(), "truth": self.truth, "dropped_units": self.dropped_units}


def dose_study(processed: str | Path, outcome: str, *, degree: int = 2, num_knots: int = 0,
               target_parameter: str = "level", alpha: float = 0.05, seed: int = 2026, biters: int = 999) -> DoseStudy:
    """cont_did on the employer sample (treated ring against controls, buffer dropped), dose = the exposing
    CECI's places per 100 eligible parents; units with a missing outcome in some month are left out (the method
    needs a balanced panel) and counted.

    Parameters
    ----------
    processed : str or pathlib.Path
        Folder of the built panels.
    outcome : str
        Column of the employer sample to study.
    degree : int
        Degree of the B-spline in the dose.
    num_knots : int
        Number of interior knots.
    target_parameter : {'level', 'slope'}
        ATT(d) (level) or ACRT(d) (slope) as the overall target.
    alpha : float
        Significance level of the intervals and bands.
    seed : int
        Seed of the bootstrap draws.
    biters : int
        Number of bootstrap draws for the uniform bands.
    """
    from .samples import employer_sample

    df = employer_sample(processed, outcome)
    doses = employer_doses(processed)
    df = df.merge(doses[["employer_id", "ceci_dose", "site_id"]], on="employer_id", how="left")
    df["ceci_dose"] = np.where(df["first_treat"] > 0, df["ceci_dose"].fillna(0.0), 0.0)
    n_sites = df.loc[df["first_treat"] > 0, "site_id"].nunique()
    if n_sites < MIN_SITES:
        raise CeciError(f"dose response needs at least {MIN_SITES} exposing CECI; found {n_sites}")
    df = df[df.groupby("period")[outcome].transform(lambda s: s.notna().any())]  # months with no outcome at all
    miss = df.groupby("unit")[outcome].transform(lambda s: s.isna().any())
    dropped = int(df.loc[miss, "unit"].nunique())
    df = df[~miss]
    if df.empty:
        raise CeciError(f"dose response: no employer has {outcome!r} in every month (the method needs a balanced panel)")
    dpos = df.loc[df["first_treat"] > 0].drop_duplicates("unit")["ceci_dose"]
    grid = np.round(np.linspace(dpos.quantile(0.1), dpos.quantile(0.9), 9))  # rounded: never one site's dose
    grid = np.unique(grid[(grid >= dpos.min()) & (grid <= dpos.max())])
    kw = dict(yname=outcome, tname="period", idname="unit", gname="first_treat", dname="ceci_dose", degree=degree,
              num_knots=num_knots, dvals=grid, clustervars="site_cluster", alp=alpha, seed=seed, biters=biters,
              target_parameter=target_parameter)
    res = cont_did(df, **kw)
    truth = None
    d = _truth_outcome(df, processed, outcome,
                       ((df["first_treat"] > 0) & (df["period"] >= df["first_treat"])).to_numpy())
    if d is not None:
        tr = cont_did(d, **{**kw, "yname": "_effect_treated", "cband": False})
        truth = {"att_o": tr.att_o, "acrt_o": tr.acrt_o, "att_d": tr.dose_table.att.tolist(),
                 "acrt_d": tr.dose_table.acrt.tolist()}
    return DoseStudy(res, outcome, truth, dropped)


def dose_reading(study: DoseStudy, label, alpha: float = 0.05) -> Text:
    """The design report's reading of a dose study: ACRT^o with its normal interval and whether the effect rises
    with the dose (interval above zero), falls (below) or cannot be told (contains zero), in both languages; the
    direction is the outcome's own (whether a rise is desirable depends on the outcome, and is left to the text).

    Parameters
    ----------
    study : DoseStudy
        The dose study.
    label : str or Text
        The outcome's label.
    alpha : float
        Significance level of the interval.
    """
    from scipy import stats

    r = study.result
    z = float(stats.norm.ppf(1 - alpha / 2))
    lo, hi = r.acrt_o - z * r.acrt_o_se, r.acrt_o + z * r.acrt_o_se
    verdict = "dose.design_rises" if lo > 0 else "dose.design_falls" if hi < 0 else "dose.design_unclear"
    return msg("dose.design_reading", outcome=label, acrt=fmt_number(r.acrt_o), low=fmt_number(lo),
               high=fmt_number(hi), level=f"{100 * (1 - alpha):g}", verdict=msg(verdict))


class DoseUnavailable(CeciError):
    """Why a dose response cannot be estimated, as a catalogue key and its values (a note in both languages).

    Parameters
    ----------
    key : str
        Message key of the reason (``dose.reason_*``).
    **values
        The message's fields.
    """

    def __init__(self, key: str, **values):
        self.key, self.values = key, values
        super().__init__(msg(key, **values).lang("en"))


def municipality_doses(processed: str | Path, df: pd.DataFrame, scheme: str = "both") -> pd.DataFrame:
    """Dose of every exposed municipality of the sample ``df`` (``cvegeo``, ``first_treat``): places per 100
    eligible parents, ``100 * places of the CECI opened in the municipality by its first opening month (of
    ``scheme``) / eligible parents at its employers in the employer panel's first month``; ``n_sites`` the
    number of those CECI. A municipality without eligible parents or without a site of its own (pole exposure)
    has no dose (NaN).

    Parameters
    ----------
    processed : str or pathlib.Path
        Folder of the built panels (the employer panel gives the eligible parents).
    df : pandas.DataFrame
        The municipality sample (:func:`~ceci_impact.study.samples.municipality_sample`).
    scheme : {'both', 'IMSS', 'Empresa'}
        Count only the sites of this scheme.
    """
    sites = load("sites", processed)
    sites = sites[(sites["opening_period"] > 0) & ((sites["scheme"] == scheme) if scheme != "both" else True)]
    try:
        emp = load("employer_month", processed)
    except CeciError:
        raise DoseUnavailable("dose.reason_panel") from None
    elig = emp[emp["period"] == emp["period"].min()].groupby("cvegeo")["eligible"].sum()
    g = df.drop_duplicates("cvegeo").set_index("cvegeo")["first_treat"]
    g = g[g > 0].rename("g")
    s = sites.merge(g, left_on="cvegeo", right_index=True)
    s = s[s["opening_period"] <= s["g"]]
    cap = s.groupby("cvegeo")["capacity"].sum().reindex(g.index)
    e = elig.reindex(g.index).astype(float)
    dose = np.where((e > 0) & (cap > 0), 100.0 * cap / e.where(e > 0), np.nan)
    return pd.DataFrame({"cvegeo": g.index, "ceci_dose": dose,
                         "n_sites": s.groupby("cvegeo").size().reindex(g.index).fillna(0).astype(int).to_numpy()})


def _dose_grid(dpos: pd.Series) -> np.ndarray:
    """Nine points between the 10th and 90th percentiles of the treated doses, rounded to one significant digit
    of their spread beyond it (never one unit's dose, unless by coincidence of the rounding)."""
    lo, hi = float(dpos.quantile(0.1)), float(dpos.quantile(0.9))
    dec = max(0, 1 - int(np.floor(np.log10(hi - lo)))) if hi > lo else 2
    grid = np.unique(np.round(np.linspace(lo, hi, 9), dec))
    return grid[(grid >= dpos.min()) & (grid <= dpos.max())]


def municipality_dose_study(processed: str | Path, df: pd.DataFrame, outcome: str, *, scheme: str = "both",
                            degree: int = 2, num_knots: int = 0, target_parameter: str = "level",
                            alpha: float = 0.05, seed: int = 2026, biters: int = 999) -> DoseStudy:
    """cont_did on the municipality sample of the women's-employment report: dose = places of the
    municipality's CECI per 100 eligible parents (:func:`municipality_doses`); municipalities without a dose
    and those with a missing month are left out (the method needs a balanced panel and a dose) and counted.

    Parameters
    ----------
    processed : str or pathlib.Path
        Folder of the built panels.
    df : pandas.DataFrame
        The municipality sample (``unit``, ``period``, ``first_treat``, ``cvegeo``, the outcome).
    outcome : str
        The outcome column.
    scheme : {'both', 'IMSS', 'Empresa'}
        Count only the sites of this scheme (as the sample's cohorts).
    degree : int
        Degree of the B-spline in the dose.
    num_knots : int
        Number of interior knots.
    target_parameter : {'level', 'slope'}
        ATT(d) (level) or ACRT(d) (slope) as the overall target.
    alpha : float
        Significance level of the intervals and bands.
    seed : int
        Seed of the bootstrap draws.
    biters : int
        Bootstrap draws for the uniform bands.
    """
    doses = municipality_doses(processed, df, scheme)
    df = df.merge(doses[["cvegeo", "ceci_dose"]], on="cvegeo", how="left")
    df["ceci_dose"] = np.where(df["first_treat"] > 0, df["ceci_dose"], 0.0)
    no_dose = df["ceci_dose"].isna()
    dropped = int(df.loc[no_dose, "unit"].nunique())
    df = df[~no_dose]
    n_sites = int(doses.loc[doses["ceci_dose"].notna(), "n_sites"].sum())
    n_mun = int(doses["ceci_dose"].notna().sum())
    if min(n_sites, n_mun) < MIN_SITES:
        raise DoseUnavailable("dose.reason_few", n=n_mun, sites=n_sites, min=MIN_SITES)
    miss = df.groupby("unit")[outcome].transform(lambda v: v.isna().any()) | (
        df.groupby("unit")["period"].transform("size") < df["period"].nunique())
    dropped += int(df.loc[miss, "unit"].nunique())
    df = df[~miss].reset_index(drop=True)
    dpos = df.loc[df["first_treat"] > 0].drop_duplicates("unit")["ceci_dose"]
    if dpos.size < MIN_SITES:
        raise DoseUnavailable("dose.reason_few", n=int(dpos.size), sites=n_sites, min=MIN_SITES)
    k = degree + num_knots + 1  # B-spline coefficients fitted within each timing group (cont_did)
    if df.loc[df["first_treat"] > 0].drop_duplicates("unit")["first_treat"].value_counts().max() < k:
        raise DoseUnavailable("dose.reason_cohorts", k=k)
    kw = dict(yname=outcome, tname="period", idname="unit", gname="first_treat", dname="ceci_dose", degree=degree,
              num_knots=num_knots, dvals=_dose_grid(dpos), alp=alpha, seed=seed, biters=biters,
              target_parameter=target_parameter)
    res = cont_did(df, **kw)
    truth = None
    d = _truth_outcome(df, processed, outcome,
                       ((df["first_treat"] > 0) & (df["period"] >= df["first_treat"])).to_numpy(), key="cvegeo")
    if d is not None:
        tr = cont_did(d, **{**kw, "yname": "_effect_treated", "cband": False})
        truth = {"att_o": tr.att_o, "acrt_o": tr.acrt_o, "att_d": tr.dose_table.att.tolist(),
                 "acrt_d": tr.dose_table.acrt.tolist()}
    return DoseStudy(res, outcome, truth, dropped)


def dose_study_or_note(processed: str | Path, outcome: str, **kw) -> tuple[DoseStudy | None, Text | None]:
    """:func:`dose_study`, or ``None`` and a note (both languages) saying why it cannot be estimated here (too few
    exposing CECI, no balanced employer), for the notebooks.

    Parameters
    ----------
    processed : str or pathlib.Path
        Folder of the built panels.
    outcome : str
        Column of the employer sample to study.
    **kw
        Further arguments of :func:`dose_study`.
    """
    try:
        return dose_study(processed, outcome, **kw), None
    except CeciError as err:
        return None, msg("dose.unavailable", reason=str(err))


def municipality_dose_or_note(processed: str | Path, df: pd.DataFrame, outcome: str,
                              **kw) -> tuple[DoseStudy | None, Text | None]:
    """:func:`municipality_dose_study`, or ``None`` and a note (both languages) saying why it cannot be estimated
    (too few exposed municipalities with their own CECI, no employer panel for the eligible parents).

    Parameters
    ----------
    processed : str or pathlib.Path
        Folder of the built panels.
    df : pandas.DataFrame
        The municipality sample.
    outcome : str
        The outcome column.
    **kw
        Further arguments of :func:`municipality_dose_study`.
    """
    try:
        return municipality_dose_study(processed, df, outcome, **kw), None
    except DoseUnavailable as err:
        return None, msg("dose.unavailable", reason=msg(err.key, **err.values))
    except CeciError as err:
        return None, msg("dose.unavailable", reason=str(err))
