"""Spill-over rings (Butts) and dose response (Callaway–Goodman-Bacon–Sant'Anna) on the employer panel, with the
truth of each estimand on simulated data: what the outcome notebooks show next to the ring comparison.

The employer panel keeps every employer here (buffer ring included): ``nearest_open_km`` is the distance to the
nearest CECI opened by each month, so rings change as more centres open. The dose of an exposed employer is the
places per 100 eligible parents of the CECI that exposes it (the first opened within the treated radius):
``100 * capacity / eligible parents at employers within that radius in the panel's first month``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .._options import CeciError
from ..data.panels import load, manifest
from ..did import spillover_did
from ..did.core.notes import recording
from ..did.inference import REPORT_RULE
from ..geo import haversine_km
from ..i18n import ALL_LANGS, Text, fmt_number, msg
from .dose_response import (  # noqa: F401  (the dose studies: re-exported for the notebooks' ``SD.`` calls)
    MIN_SITES,
    DoseStudy,
    DoseUnavailable,
    _truth_outcome,
    dose_reading,
    dose_study,
    dose_study_or_note,
    employer_doses,
    municipality_dose_or_note,
    municipality_dose_study,
    municipality_doses,
)

# below this many clusters holding directly exposed units the sentence warns that the ring intervals are not
# validated: the held-out benchmark (coverage 0.91, docs/estimators-spatial-dose.md) had 20-27 such clusters, and the
# wild cluster bootstrap is unreliable with few treated clusters (MacKinnon & Webb 2017, 2018). A warning
# threshold of this project, not a statistical rule.
FEW_TREATED_CLUSTERS = 20


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
        shown = len(spill) and np.isfinite(float(spill.att.iloc[0]))  # a withheld ring (pole pages) reads "—"
        return msg("spillover.sentence", direct=fmt_number(r.overall_att * scale), direct_se=fmt_number(r.overall_se * scale),
                   spill=fmt_number(float(spill.att.iloc[0]) * scale) if shown else "—",
                   spill_se=fmt_number(float(spill.se.iloc[0]) * scale) if shown else "—",
                   naive=fmt_number(n["att"] * scale), gap=fmt_number(n["understatement"] * scale),
                   gap_se=fmt_number(n["understatement_se"] * scale)) + self._few_clusters()

    def _few_clusters(self) -> Text:
        """A warning (both languages) when few clusters hold the directly exposed units; empty otherwise."""
        k = self.result.inference.get("treated_clusters")
        if k is None or k >= FEW_TREATED_CLUSTERS:
            return Text({lang: "" for lang in ALL_LANGS})
        return msg("spillover.few_clusters", n=k, min=FEW_TREATED_CLUSTERS)

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


def pole_spillover_study(processed: str | Path, pole: str, outcome: str, *, sites: pd.DataFrame | None = None,
                         covariates: list[str] | tuple[str, ...] = (), alpha: float = 0.05, seed: int = 2026,
                         biters: int = 999) -> tuple[SpilloverStudy | None, Text | None]:
    """Butts' ring estimates for one PODECOBI pole: employers within the last ring of the pole's opened sites
    against employers beyond the last ring of every CECI (employers exposed only by other poles' sites are left
    out); or ``None`` and a note (both languages) when it cannot be published.

    Pole pages are published areas: a ring's effect is shown only when at least
    :data:`~ceci_impact.confidentiality.MIN_CELL` employers are exposed in it (otherwise the row is withheld, and
    with the direct ring the naive comparison and the difference too, as they contain it).

    Parameters
    ----------
    processed : str or pathlib.Path
        Folder of the built panels.
    pole : str
        The PODECOBI pole.
    outcome : str
        Column of ``employer_month`` to study.
    sites : pandas.DataFrame, optional
        The pole's opened sites (``lat``, ``lon``); default :func:`~ceci_impact.study.site_synth.pole_sites`.
    covariates : list of str
        Covariates of the first stage (period-specific slopes).
    alpha : float
        Significance level.
    seed : int
        Seed of the inference rule's bootstrap draws.
    biters : int
        Bootstrap draws of the inference rule.
    """
    from ..confidentiality import MIN_CELL
    from .site_synth import pole_sites

    m = manifest(processed)
    rings = tuple(m.get("ring_km", (3.0, 10.0)))
    sites = pole_sites(processed, pole) if sites is None else sites
    df = spillover_sample(processed, outcome)
    first = df.drop_duplicates("employer_id")
    near = haversine_km(first["lat"].to_numpy(float)[:, None], first["lon"].to_numpy(float)[:, None],
                        sites["lat"].to_numpy(float)[None], sites["lon"].to_numpy(float)[None]).min(axis=1)
    end = first["nearest_km_end"].fillna(np.inf).to_numpy(float)
    keep = set(first["employer_id"][(near <= rings[-1]) | (end > rings[-1])])
    df = df[df["employer_id"].isin(keep)].reset_index(drop=True)
    dist = df["nearest_open_km"].fillna(np.inf)
    d = dist.groupby(df["employer_id"]).transform("min").to_numpy(float)
    seen_far = (dist > rings[-1]).groupby(df["employer_id"]).transform("any").to_numpy()  # the estimator keeps these
    ring = np.searchsorted(np.asarray(rings), d, side="left")
    counts = pd.Series(df["employer_id"].to_numpy()[seen_far]).groupby(ring[seen_far]).nunique()
    if int(counts.get(0, 0)) < MIN_CELL:
        return None, msg("spillover.withheld", n=MIN_CELL)
    kw = dict(yname=outcome, tname="period", idname="unit", distname="nearest_open_km", rings=rings,
              xformla="~ " + " + ".join(covariates) if covariates else None, clustervars="cvegeo", alp=alpha,
              small_cluster=REPORT_RULE, seed=seed, biters=biters, horizon=False, pretrends=False)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = spillover_did(df, **kw)
    except CeciError as err:
        return None, msg("spillover.unavailable", reason=str(err))
    notes = [str(w.message) for w in caught]
    for n in notes:
        warnings.warn(n, stacklevel=2)
    small = [k for k in range(1, len(rings)) if int(counts.get(k, 0)) < MIN_CELL]
    if small:  # withhold the spill-over rings with too few employers (estimate and interval)
        t = res.table.copy()
        cols = ["att", "se", "ci_low", "ci_high", "pvalue"]
        t.loc[t.ring.isin(small), cols] = np.nan
        res = replace(res, table=t, scores=res.scores.drop(columns=[c for c in res.scores if any(
            c.startswith(nm) for nm in t.term[t.ring.isin(small)].unique())]))
        notes.append(f"spill-over ring(s) {small} withheld: fewer than {MIN_CELL} employers")
    truth = None
    exposed = df["nearest_open_km"].fillna(np.inf).to_numpy(float) <= rings[-1]
    dt = _truth_outcome(df, processed, outcome, exposed)
    if dt is not None:
        with recording():
            tr = spillover_did(dt, **{**kw, "yname": "_effect_treated", "small_cluster": "none"},
                               naive=False).ring_effects().set_index("term").att
        tr[[nm for nm in tr.index if nm in set(res.table.term[res.table.att.isna()])]] = np.nan
        truth = {**tr.to_dict(), "naive ring comparison": float(tr.iloc[0]), "direct - naive": None}
    return SpilloverStudy(res, outcome, truth, notes), None
