"""Spill-over rings (Butts) and dose response (Callaway–Goodman-Bacon–Sant'Anna) on the employer panel, with the
truth of each estimand on simulated data: what the outcome notebooks show next to the ring comparison.

The employer panel keeps every employer here (buffer ring included): ``nearest_open_km`` is the distance to the
nearest CECI opened by each month, so rings change as more centres open. The dose of an exposed employer is the
places per 100 eligible parents of the CECI that exposes it (the first opened within the treated radius):
``100 * capacity / eligible parents at employers within that radius in the panel's first month``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .._options import CeciError
from ..data.panels import load, manifest
from ..did import cont_did, spillover_did
from ..did.inference import REPORT_RULE
from ..did.notes import recording
from ..geo import haversine_km
from ..i18n import Text, fmt_number, msg

MIN_SITES = 5  # fewest exposing sites for a dose-response curve (a dose of one site discloses its area's parents)


def spillover_sample(processed: str | Path, outcome: str) -> pd.DataFrame:
    """Employer x month panel with every ring (buffer kept), unit code and municipality cluster.

    Parameters
    ----------
    processed : str or pathlib.Path
        Folder of the built panels.
    outcome : str
        Column of ``employer_month`` to study.
    """
    df = load("employer_month", processed)
    if outcome not in df.columns:
        raise CeciError(f"outcome {outcome!r} not in employer_month")
    mun = load("mun_month", processed)[["cvegeo", "x_industrial"]].drop_duplicates("cvegeo")
    df = df.merge(mun, on="cvegeo", how="left")
    df["manufacturing"] = (df["sector"] == "3").astype(float)
    df["size0"] = df.groupby("employer_id")["workers"].transform("first").astype(float)
    df["log_size0"] = np.log1p(df["size0"])
    df = df.assign(unit=pd.factorize(df["employer_id"])[0] + 1)
    return df.sort_values(["unit", "period"], ignore_index=True)


def _truth_outcome(df: pd.DataFrame, processed, outcome: str, treated: np.ndarray) -> pd.DataFrame | None:
    from ..data.truth import unit_effects

    tau = unit_effects(processed, outcome)
    if tau is None:
        return None
    m = df[["employer_id", "period"]].merge(tau[["employer_id", "period", "tau"]], how="left")
    t = np.nan_to_num(m["tau"].to_numpy(float))
    seen = df[outcome].notna().to_numpy()
    return df.assign(_effect_treated=np.where(seen, np.where(treated, t, 0.0), np.nan),
                     _effect_other=np.where(seen, np.where(treated, 0.0, t), np.nan))


@dataclass(frozen=True)
class SpilloverStudy:
    """Direct and spill-over effects with their truths (estimator on ``D * tau``; naive: against the direct
    truth).

    Parameters
    ----------
    result : SpilloverResult
        The :func:`~ceci_impact.did.spillover_did` estimate.
    outcome : str
        The outcome studied.
    truth : dict or None
        True direct and spill-over effects of each ring (simulated data only).
    notes : list
        Warnings raised by the estimate, recorded.
    """

    result: object
    outcome: str
    truth: dict | None = None
    notes: list = field(default_factory=list)

    def table(self) -> pd.DataFrame:
        t = self.result.ring_effects()[["term", "att", "se", "ci_low", "ci_high"]].rename(columns={"att": "estimate"})
        if self.truth is not None:
            t["truth"] = t.term.map(self.truth)
        return t

    def sentence(self, scale: float = 1.0) -> Text:
        """The direct, spill-over and naive ring effects in a sentence (both languages).

        Parameters
        ----------
        scale : float
            Factor applied to the effects and standard errors before they are written (e.g. 100 for per cent).
        """
        r, n = self.result, self.result.naive
        eff = r.ring_effects().set_index("term")
        spill = eff[eff.term.str.startswith("spillover") if "term" in eff else eff.index.str.startswith("spillover")]
        return msg("spillover.sentence", direct=fmt_number(r.overall_att * scale), direct_se=fmt_number(r.overall_se * scale),
                   spill=fmt_number(float(spill.att.iloc[0]) * scale) if len(spill) else "—",
                   spill_se=fmt_number(float(spill.se.iloc[0]) * scale) if len(spill) else "—",
                   naive=fmt_number(n["att"] * scale), gap=fmt_number(n["understatement"] * scale),
                   gap_se=fmt_number(n["understatement_se"] * scale))

    def plot(self, ax=None):
        """Event studies of every ring (:meth:`SpilloverResult.plot`).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on (a new figure when None).
        """
        return self.result.plot(ax=ax)

    def to_dict(self) -> dict:
        return {"spillover": self.result.to_dict(), "truth": self.truth}


def spillover_study(processed: str | Path, outcome: str, *, rings: tuple[float, ...] | None = None,
                    covariates: list[str] | tuple[str, ...] = (), clustervars: str = "cvegeo",
                    alpha: float = 0.05, seed: int = 2026, biters: int = 999) -> SpilloverStudy:
    """Butts' ring estimates on the employer panel (rings default: the panel's treated and buffer radii;
    ``covariates`` enter the first stage with period-specific slopes; clusters: municipalities, where the
    simulated and real shocks are shared).

    Parameters
    ----------
    processed : str or pathlib.Path
        Folder of the built panels.
    outcome : str
        Column of ``employer_month`` to study.
    rings : tuple of float, optional
        Outer radii of the rings in km (default: the panel's treated and buffer radii).
    covariates : list of str
        Covariates of the first stage (period-specific slopes).
    clustervars : str
        Cluster variable (default: the municipality).
    alpha : float
        Significance level of the intervals.
    seed : int
        Seed of the bootstrap draws of the inference rule.
    biters : int
        Bootstrap draws of the inference rule.

    Notes
    -----
    Intervals follow the inference registry's report rule (``REPORT_RULE``); randomisation inference cannot
    permute a schedule the ring estimator does not see, so its registered fallback applies and the result's
    ``inference`` names it.
    """
    m = manifest(processed)
    rings = tuple(rings or m.get("ring_km", (3.0, 10.0)))
    df = spillover_sample(processed, outcome)
    kw = dict(yname=outcome, tname="period", idname="unit", distname="nearest_open_km", rings=rings,
              xformla="~ " + " + ".join(covariates) if covariates else None, clustervars=clustervars, alp=alpha,
              small_cluster=REPORT_RULE, seed=seed, biters=biters)  # the inference registry's report rule
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = spillover_did(df, **kw)
    notes = [str(w.message) for w in caught]
    for n in notes:
        warnings.warn(n, stacklevel=2)  # surfaced to the notebook, and recorded in notes
    truth = None
    exposed = df["nearest_open_km"].fillna(np.inf).to_numpy(float) <= rings[-1]
    d = _truth_outcome(df, processed, outcome, exposed)
    if d is not None:
        with recording():  # re-emitted, never silenced (the same warnings as the estimate's, recorded above)
            tr = spillover_did(d, **{**kw, "yname": "_effect_treated"}, naive=False, horizon=False,
                               pretrends=False).ring_effects().set_index("term").att
        truth = {**tr.to_dict(), "naive ring comparison": float(tr.iloc[0]), "direct - naive": None}
    return SpilloverStudy(res, outcome, truth, notes)


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
