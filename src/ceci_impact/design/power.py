"""Power by simulation on the project's own panels, with Callaway–Sant'Anna estimated as the reports do.

The history of a built panel (the months before any CECI opened, and only units never exposed, so no real effect
is in it) is the stage. A proposed schedule — ``waves`` waves of ``sites_per_wave`` units each, ``spacing`` periods
apart, observed for ``follow_up`` periods after the first opening — is drawn on it: units are chosen at random
(``selection="random"``) or, to show what placement does, among those whose outcome grew fastest before the
first opening (``selection="growth"``: the steepest linear pre-opening trends). Each draw is estimated with
:func:`ceci_impact.did.att_gt` (not-yet-treated
controls, outcome regression, the reports' covariates, clustered by unit) and aggregated to the simple ATT, with
the reports' inference rule (``REPORT_RULE`` of :mod:`ceci_impact.did.inference`, the same as the headline's).

A constant effect ``delta`` added to every treated post-opening cell moves the simple ATT by exactly ``delta`` and
leaves its standard error unchanged (the estimator is linear in the outcome and the aggregation weights do not
depend on it; ``tests/test_design.py`` checks it); the rule's interval moves by ``delta`` too (its scores do not
change), so one fit per draw gives the rejection rate of every effect size: reject when the null draw's interval
shifted by ``delta`` excludes zero. Draws that cannot be estimated are counted (``failed``), never hidden. The MDE
is the smallest ``delta > 0`` with power at least ``power``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._options import CeciError
from ..did import att_gt
from ..did.core.notes import recording
from ..did.inference import REPORT_RULE


@dataclass(frozen=True)
class Schedule:
    """A staggered schedule on the history: ``waves`` waves of ``sites_per_wave`` units, ``spacing`` apart.

    Attributes
    ----------
    sites_per_wave : int
        Units opening in each wave.
    waves : int
        Number of waves.
    spacing : int
        Periods between two waves.
    follow_up : int
        Periods observed after the first opening.
    pre : int
        Periods before the first opening.
    """

    sites_per_wave: int
    waves: int
    spacing: int
    follow_up: int
    pre: int


def history(panel: pd.DataFrame, yname: str, idname: str, tname: str, gname: str = "first_treat") -> pd.DataFrame:
    """Never-exposed units before the first real opening, with a complete outcome series.

    Parameters
    ----------
    panel : pandas.DataFrame
        A built panel.
    yname : str
        Outcome column.
    idname : str
        Unit column.
    tname : str
        Period column.
    gname : str
        Cohort column (the real openings).
    """
    for c in (yname, idname, tname, gname):
        if c not in panel.columns:
            raise CeciError(f"power simulation: column {c!r} not in the panel")
    g = pd.to_numeric(panel[gname], errors="coerce").fillna(0)
    first = g[g > 0].min() if (g > 0).any() else np.inf
    h = panel[(g == 0) & (panel[tname] < first)].dropna(subset=[yname])
    n_t = h[tname].nunique()
    h = h[h.groupby(idname)[tname].transform("size") == n_t]
    return h


def _draw(h: pd.DataFrame, s: Schedule, yname: str, idname: str, tname: str, selection: str,
          rng: np.random.Generator) -> pd.DataFrame:
    periods = np.sort(h[tname].unique())
    start = periods[-(s.pre + s.follow_up)]
    window = periods[periods >= start]
    d = h[h[tname].isin(window)]
    g0 = window[s.pre]
    units = np.sort(d[idname].unique())
    n = s.sites_per_wave * s.waves
    if selection == "growth":
        w = d.pivot_table(index=idname, columns=tname, values=yname).reindex(units)[window[: s.pre]].to_numpy()
        t = np.arange(s.pre) - (s.pre - 1) / 2
        growth = (w - w.mean(axis=1, keepdims=True)) @ t / (t @ t)  # pre-opening linear trend of each unit
        pool = units[np.argsort(-growth, kind="stable")[: max(2 * n, n)]]
        chosen = rng.choice(pool, n, replace=False)
    else:
        chosen = rng.choice(units, n, replace=False)
    opening = {u: g0 + (k // s.sites_per_wave) * s.spacing for k, u in enumerate(rng.permutation(chosen))}
    gmap = pd.Series(opening, dtype=float)
    d = d.assign(first_treat=d[idname].map(gmap).fillna(0.0).to_numpy())
    # a wave opening after the window is never treated within it
    d.loc[d.first_treat > window[-1], "first_treat"] = 0.0
    return d


def simulate_power(panel: pd.DataFrame, yname: str, idname: str, tname: str = "period", *,
                   sites_per_wave: list[int], follow_up: list[int], effects: list[float], waves: int = 3,
                   spacing: int = 12, pre: int = 12, reps: int = 100, seed: int = 2026, alpha: float = 0.05,
                   power: float = 0.8, covariates: list[str] | None = None, selection: str = "random",
                   progress: bool = True) -> pd.DataFrame:
    """Rejection rates and MDE over sites per wave × follow-up, by simulation on the panel's history.

    Returns one row per (sites_per_wave, follow_up, effect) with ``power``, and per configuration the ``mde``
    (NaN when even the largest effect of the search is not detected), the mean null estimate (``bias``; zero in
    expectation under random selection), its spread over draws (``sd_estimate``) and the number of draws that
    could be estimated.

    Parameters
    ----------
    panel : pandas.DataFrame
        A built panel (e.g. ``mun_month``) whose history is the stage of the simulation.
    yname : str
        Outcome column.
    idname : str
        Unit identifier column.
    tname : str
        Period column.
    sites_per_wave : list of int
        Units opening in each wave (one configuration per value).
    follow_up : list of int
        Periods observed after the first opening (one configuration per value).
    effects : list of float
        Effect sizes whose power is computed (the MDE is searched among them).
    waves : int
        Number of opening waves.
    spacing : int
        Periods between two waves.
    pre : int
        Periods before the first opening used by each draw.
    reps : int
        Draws per configuration.
    seed : int
        Seed of the draws.
    alpha : float
        Level of the test.
    power : float
        Power the MDE must reach.
    covariates : list of str, optional
        Covariates of the estimation (conditional parallel trends).
    selection : {'random', 'growth'}
        Units opening: drawn at random, or among the steepest pre-opening trends.
    progress : bool
        Show a progress bar.
    """
    if selection not in ("random", "growth"):
        raise CeciError(f"selection={selection!r} is not allowed; expected one of 'random', 'growth'")
    h = history(panel, yname, idname, tname)
    h = h.assign(_unit=pd.factorize(h[idname])[0] + 1)
    h = h.assign(_cluster=h["_unit"])  # clustered by unit, under the reports' rule (a column att_gt keeps)
    idname = "_unit"
    T = h[tname].nunique()
    xf = "~ " + " + ".join(covariates) if covariates else None
    rng = np.random.default_rng(seed)
    rows = []
    configs = [(k, f) for k in sites_per_wave for f in follow_up]
    from tqdm.auto import tqdm

    bar = tqdm(total=len(configs) * reps, disable=not progress, desc="power draws")
    for k, f in configs:
        if pre + f > T:
            raise CeciError(f"follow_up={f} with pre={pre} needs {pre + f} periods of history; the panel has {T}")
        if k * waves > h[idname].nunique():
            raise CeciError(f"sites_per_wave={k} × waves={waves} exceeds the {h[idname].nunique()} units available")
        s = Schedule(k, waves, spacing, f, pre)
        est, se, crit, lo_hi, failed = [], [], [], [], 0
        for _ in range(reps):
            d = _draw(h, s, yname, idname, tname, selection, rng)
            with recording():  # each draw's warnings are re-emitted (once per message), never silenced
                try:
                    a = att_gt(d, yname=yname, tname=tname, idname=idname, gname="first_treat", xformla=xf,
                               control_group="notyettreated", est_method="reg", bstrap=False, cband=False,
                               clustervars="_cluster", alp=alpha, small_cluster=REPORT_RULE,
                               seed=int(rng.integers(2**31))).aggte("simple", na_rm=True)
                except (CeciError, np.linalg.LinAlgError):
                    failed += 1
                    bar.update(1)
                    continue
            est.append(a.overall_att)
            se.append(a.overall_se)
            crit.append(a.overall_crit)
            lo_hi.append(a.overall_ci)
            bar.update(1)
        e, sd, c = np.array(est), np.array(se), np.array(crit)
        ci = np.array(lo_hi, float).reshape(-1, 2)
        ok = np.isfinite(e) & np.isfinite(ci).all(axis=1)
        failed += int((~ok).sum())
        e, sd, c, ci = e[ok], sd[ok], c[ok], ci[ok]

        def rate(delta, ci=ci):
            return float(np.mean((ci[:, 0] + delta > 0) | (ci[:, 1] + delta < 0))) if ci.size else float("nan")

        mde = _mde(rate, power, float(np.nanmax(ci[:, 1] - ci[:, 0])) * 4 if ci.size else np.nan)
        for delta in effects:
            rows.append({"sites_per_wave": k, "follow_up": f, "effect": float(delta), "power": rate(delta),
                         "mde": mde, "bias": float(e.mean()) if e.size else np.nan,
                         "sd_estimate": float(e.std(ddof=1)) if e.size > 1 else np.nan, "draws": int(e.size),
                         "failed": failed, "inference": REPORT_RULE})
    bar.close()
    return pd.DataFrame(rows)


def _mde(rate, power: float, upper: float) -> float:
    """Smallest positive effect with rejection rate >= power (bisection; the rate is monotone for large effects)."""
    if not np.isfinite(upper) or rate(upper) < power:
        return float("nan")
    lo, hi = 0.0, upper
    for _ in range(60):
        mid = (lo + hi) / 2
        if rate(mid) >= power:
            hi = mid
        else:
            lo = mid
    return hi
