"""Synthetic difference-in-differences, synthetic control and DiD for one or a few treated units (R ``synthdid``).

``synthdid(data, yname, tname, idname, gname, method="sdid")`` follows R ``synthdid`` 0.0.9 (Arkhangelsky, Athey,
Hirshberg, Imbens & Wager 2021): unit weights with the ζ regularisation and an intercept, time weights, the same
Frank–Wolfe stopping rules and sparsification (:mod:`.synthdid_solver`). ``method="sc"`` is R's ``sc_estimate`` (no
intercept, ``eta.omega = 1e-6``, no time weights), ``method="did"`` is ``did_estimate`` (uniform weights).

Staggered adoption: each cohort (units first treated in the same period) is a block against the never-treated
units over all periods; the cohort estimates are combined by their treated unit-periods ``N1_g × T1_g`` (the rule of
Clarke, Pailañir, Athey & Imbens's Stata ``sdid``). With one cohort the estimate and every standard error are R's.

Standard errors (R ``vcov.synthdid_estimate``): ``"placebo"`` re-assigns treatment to randomly chosen comparison
units (weights re-optimised from the estimate's weights, regularisation kept), ``"jackknife"`` leaves one unit out
with the weights fixed, ``"bootstrap"`` resamples units and re-optimises. Intervals are normal, as in R.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ..._options import CeciError, check_option
from .synthdid_panel import SdidPanel, build_panel
from .synthdid_result import SynthDidResult
from .synthdid_solver import Block, fit_method, fit_stack, sum_normalize

Method = Literal["sdid", "sc", "did"]
SeMethod = Literal["placebo", "jackknife", "bootstrap", "none"]


@dataclass(frozen=True)
class _Cohort:
    g: float
    rows: np.ndarray  # rows of the treated units in the panel
    T0: int
    T: int
    block: Block

    @property
    def T1(self) -> int:
        return self.T - self.T0


def _cohorts(p: SdidPanel, method: str) -> list[_Cohort]:
    out = []
    N0, T = p.n_controls, p.Y.shape[1]
    for g in np.unique(p.cohort[p.cohort > 0]):
        rows = np.flatnonzero(p.cohort == g)
        T0 = int((p.periods < g).sum())
        Yg = np.vstack([p.Y[:N0], p.Y[rows]])
        out.append(_Cohort(g=float(g), rows=rows, T0=T0, T=T, block=fit_method(method, Yg, N0, T0)))
    return out


def _combine(taus: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Cohort estimates (``R x G``, NaN = cohort absent) combined by treated unit-periods (``R x G``)."""
    w = np.where(np.isfinite(taus), weights, 0.0)
    s = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(s > 0, np.nansum(np.where(w > 0, taus, 0.0) * w, axis=1) / s, np.nan)


def _placebo(p: SdidPanel, cohorts: list[_Cohort], reps: int, rng: np.random.Generator) -> tuple:
    N0, N1 = p.n_controls, int((p.cohort > 0).sum())
    if N0 <= N1:
        raise CeciError(f"synthdid: se='placebo' needs more comparison units than treated ones; found {N0} "
                        f"comparison and {N1} treated units")
    perms = np.stack([rng.permutation(N0) for _ in range(reps)])
    donors, placebo = perms[:, : N0 - N1], perms[:, N0 - N1:]
    taus, wts = np.empty((reps, len(cohorts))), np.empty((reps, len(cohorts)))
    start = 0
    for k, c in enumerate(cohorts):
        pl = placebo[:, start:start + c.rows.size]
        start += c.rows.size
        Ys = p.Y[np.concatenate([donors, pl], axis=1)]
        om = np.apply_along_axis(sum_normalize, 1, c.block.omega[donors])
        taus[:, k] = fit_stack(Ys, N0 - N1, c.T0, c.block.opts, om, np.broadcast_to(c.block.lam, (reps, c.T0)))[0]
        wts[:, k] = c.rows.size * c.T1
    est = _combine(taus, wts)
    return float(np.sqrt((reps - 1) / reps) * np.std(est, ddof=1)), "", est


def _bootstrap(p: SdidPanel, cohorts: list[_Cohort], reps: int, rng: np.random.Generator) -> tuple:
    N0, N = p.n_controls, p.Y.shape[0]
    if N - N0 == 1:
        return float("nan"), "the bootstrap is not defined for one treated unit (R returns NA); use placebo", None
    draws = []
    while len(draws) < reps:
        ind = np.sort(rng.integers(0, N, N))
        if (ind < N0).any() and (ind >= N0).any():
            draws.append(ind)
    draws = np.stack(draws)
    taus = np.full((reps, len(cohorts)), np.nan)
    wts = np.zeros((reps, len(cohorts)))
    for k, c in enumerate(cohorts):
        n0 = (draws < N0).sum(axis=1)
        in_g = np.isin(draws, c.rows)
        n1 = in_g.sum(axis=1)
        for a, b in set(zip(n0.tolist(), n1.tolist(), strict=True)):
            if b == 0:
                continue
            r = np.flatnonzero((n0 == a) & (n1 == b))
            ctrl = np.stack([d[d < N0] for d in draws[r]])
            trt = np.stack([d[np.isin(d, c.rows)] for d in draws[r]])
            om = np.apply_along_axis(sum_normalize, 1, c.block.omega[ctrl])
            Ys = p.Y[np.concatenate([ctrl, trt], axis=1)]
            taus[r, k] = fit_stack(Ys, a, c.T0, c.block.opts, om, np.broadcast_to(c.block.lam, (r.size, c.T0)))[0]
            wts[r, k] = b * c.T1
    est = _combine(taus, wts)
    return float(np.sqrt((reps - 1) / reps) * np.std(est, ddof=1)), "", est


def _jackknife(p: SdidPanel, cohorts: list[_Cohort]) -> tuple:
    """Leave-one-out estimates with the weights fixed, in closed form for every unit at once."""
    N0, N = p.n_controls, p.Y.shape[0]
    if N - N0 == 1:
        return float("nan"), "the jackknife is not defined for one treated unit (R returns NA); use placebo", None
    if len(cohorts) == 1 and (cohorts[0].block.omega != 0).sum() == 1:
        return float("nan"), "the jackknife is not defined when one donor carries all the weight (R returns NA)", None
    G = len(cohorts)
    taus = np.empty((N, G))
    wts = np.empty((N, G))
    for k, c in enumerate(cohorts):
        om, lam = c.block.omega, c.block.lam
        contrast = p.Y[:, c.T0:].mean(axis=1) - p.Y[:, : c.T0] @ lam  # per unit
        cc, ct = contrast[:N0], contrast[c.rows]
        oc = om @ cc
        rest = 1.0 - om
        with np.errstate(invalid="ignore", divide="ignore"):
            loo_c = np.where(rest > 0, (oc - om * cc) / rest, (cc.sum() - cc) / max(N0 - 1, 1))
        taus[:N0, k] = ct.mean() - loo_c
        wts[:N0, k] = c.rows.size * c.T1
        taus[N0:, k] = ct.mean() - oc
        wts[N0:, k] = c.rows.size * c.T1
        n1 = c.rows.size
        if n1 > 1:
            taus[c.rows, k] = (n1 * ct.mean() - ct) / (n1 - 1) - oc
            wts[c.rows, k] = (n1 - 1) * c.T1
        else:
            taus[c.rows, k] = np.nan
            wts[c.rows, k] = 0.0
    u = _combine(taus, wts)
    return float(np.sqrt((N - 1) / N * np.sum((u - u.mean()) ** 2))), "", u


def synthdid(data: pd.DataFrame, yname: str, tname: str, idname: str, gname: str, method: Method = "sdid",
             se: SeMethod = "placebo", reps: int = 200, seed: int | None = None, alp: float = 0.05) -> SynthDidResult:
    """Synthetic DiD (or synthetic control, or DiD) for units treated from ``gname`` on.

    Parameters
    ----------
    data
        Long panel, one row per unit and period; balanced for the treated units (comparison units with a missing
        outcome leave the donor pool and are listed in the result).
    yname, tname, idname, gname
        Outcome, period, unit and first-treated-period columns (``gname`` 0 or missing: never treated).
    method
        ``"sdid"``, ``"sc"`` or ``"did"``.
    se
        ``"placebo"``, ``"jackknife"``, ``"bootstrap"`` or ``"none"``.
    reps
        Replications of the placebo or bootstrap.
    seed
        Seed of the replications (equal seeds give equal standard errors).
    alp
        Significance level of the normal interval.

    Returns
    -------
    SynthDidResult
    """
    check_option("method", method, Method)
    check_option("se", se, SeMethod)
    if int(reps) != reps or reps < 2:
        raise CeciError(f"synthdid: reps={reps!r}; expected a whole number of at least 2")
    if not 0 < alp < 1:
        raise CeciError(f"synthdid: alp={alp!r}; expected a number between 0 and 1")
    p = build_panel(data, yname, tname, idname, gname)
    cohorts = _cohorts(p, method)
    tau = float(_combine(np.array([[c.block.tau for c in cohorts]]), np.array([[c.rows.size * c.T1 for c in cohorts]]))[0])
    rng = np.random.default_rng(seed)
    s, note, reps_est = float("nan"), "", None
    if se == "placebo":
        s, note, reps_est = _placebo(p, cohorts, int(reps), rng)
    elif se == "bootstrap":
        s, note, reps_est = _bootstrap(p, cohorts, int(reps), rng)
    elif se == "jackknife":
        s, note, reps_est = _jackknife(p, cohorts)
    return SynthDidResult.build(p, cohorts, tau=tau, se=s, method=method, se_method=se, reps=int(reps), seed=seed,
                                alp=alp, names=(yname, tname, idname, gname), se_note=note,
                                replicates=reps_est)
