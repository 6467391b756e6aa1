"""T-optimal staggered roll-outs (Xiong, Athey, Bayati & Imbens, "Optimal experimental design for staggered
rollouts", Management Science 2024).

A roll-out over periods ``t = 1..T`` is described by the cumulative share of units treated by period ``t``,
``omega_1 <= ... <= omega_T`` (treatment is absorbing). Outcomes follow two-way fixed effects plus the effects of the
current and the ``carryover`` previous periods' treatment, ``Y_it = a_i + b_t + sum_k tau_k W_{i,t-k} + e_it``. The
information matrix of ``tau`` after the unit and period effects are removed is computed for a population of
adoption types (share ``omega_a - omega_{a-1}`` adopting in period ``a``, ``1 - omega_T`` never); a T-optimal design
maximises its trace. Without carry-over the optimum is ``omega_t = (2t - 1)/(2T)`` (XABI, Theorem 1), which
:func:`optimal_rollout` returns exactly; with carry-over it is found numerically (the low-high-low pattern of the
adoption increments).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import optimize

from .._options import CeciError, check_option

Criterion = Literal["trace", "total"]


MAX_PERIODS = 1200  # 100 years of months: the designs are (T + 1) x T matrices per lag, bounded before allocating


def _check(T, carryover) -> tuple[int, int]:
    if int(T) != T or T < 2:
        raise CeciError(f"T={T!r}; expected a whole number of periods of at least 2")
    if T > MAX_PERIODS:
        raise CeciError(f"T={T!r} periods; expected at most {MAX_PERIODS:,} (100 years of months; the design needs "
                        "(T + 1) x T matrices per carry-over lag)")
    if int(carryover) != carryover or not 0 <= carryover < T:
        raise CeciError(f"carryover={carryover!r}; expected a whole number from 0 to T - 1 = {int(T) - 1}")
    return int(T), int(carryover)


def rollout_precision(omega: np.ndarray, carryover: int = 0) -> np.ndarray:
    """Information matrix (per unit and unit error variance) of the ``carryover + 1`` lag effects under the
    cumulative treated shares ``omega`` (length ``T``).

    Parameters
    ----------
    omega : numpy.ndarray
        Cumulative treated share in each of the ``T`` periods (non-decreasing, in [0, 1]).
    carryover : int
        Lags of the effect (0: the effect is immediate and constant).
    """
    w = np.asarray(omega, float)
    T = w.size
    p = np.diff(np.concatenate([[0.0], w, [1.0]]))  # adoption in 1..T, never
    a = np.arange(1, T + 2)[:, None]  # types; T + 1 = never
    t = np.arange(1, T + 1)[None, :]
    info = np.empty((carryover + 1, carryover + 1))
    zt = []
    for k in range(carryover + 1):
        z = ((t - k >= a) & (t - k >= 1)).astype(float)
        z = z - z.mean(axis=1, keepdims=True)
        z = z - (p[:, None] * z).sum(axis=0, keepdims=True)
        zt.append(z)
    for i in range(carryover + 1):
        for j in range(carryover + 1):
            info[i, j] = float((p[:, None] * zt[i] * zt[j]).sum())
    return info


def optimal_rollout(T: int, carryover: int = 0, criterion: Criterion = "trace") -> np.ndarray:
    """Cumulative treated shares ``omega_1..omega_T`` of the T-optimal staggered design.

    Parameters
    ----------
    T
        Number of periods of the study.
    carryover
        Number of previous periods whose treatment still affects the outcome (0: effects are immediate).
    criterion
        With carry-over: ``"trace"`` maximises the trace of the information matrix of the lag effects (the
        classical T-criterion); ``"total"`` minimises the variance of the cumulative effect ``sum_k tau_k``.
        Without carry-over both give ``(2t - 1)/(2T)`` (the objective is flat along shifts of all shares that
        keep them in ``[0, 1]``; the closed form is the symmetric member of that set, XABI's solution).

    Returns
    -------
    numpy.ndarray
        Non-decreasing shares in ``[0, 1]``; ``(2t - 1)/(2T)`` without carry-over.
    """
    T, ell = _check(T, carryover)
    check_option("criterion", criterion, Criterion)
    closed = (2 * np.arange(1, T + 1) - 1) / (2 * T)
    if ell == 0:
        return closed
    return _numerical(T, ell, closed, criterion)


def _objective(omega: np.ndarray, ell: int, criterion: str) -> float:
    """The quantity minimised: minus the trace of the information, or the variance of the total effect."""
    info = rollout_precision(omega, ell)
    if criterion == "trace":
        return -float(np.trace(info))
    try:
        return float(np.ones(ell + 1) @ np.linalg.solve(info, np.ones(ell + 1)))
    except np.linalg.LinAlgError:
        return 1e12


def _numerical(T: int, ell: int, start: np.ndarray, criterion: str = "trace") -> np.ndarray:
    """Optimise over increments ``u >= 0``, ``sum(u) <= 1`` from several starts (the best one is kept)."""
    def neg_trace(u):
        return _objective(np.cumsum(u), ell, criterion)

    cons = [{"type": "ineq", "fun": lambda u: 1.0 - u.sum()}]
    best = None
    starts = [start, np.linspace(0.0, 1.0, T + 2)[1:-1]]
    starts += [np.cumsum(np.random.default_rng(k).dirichlet(np.ones(T + 1))[:T]) for k in range(4)]
    for s in starts:
        u0 = np.diff(np.concatenate([[0.0], s]))
        res = optimize.minimize(neg_trace, u0, method="SLSQP", bounds=[(0.0, 1.0)] * T, constraints=cons,
                                options={"ftol": 1e-14, "maxiter": 2000})
        if best is None or res.fun < best.fun:
            best = res
    return np.clip(np.cumsum(np.clip(best.x, 0.0, None)), 0.0, 1.0)


def sites_per_wave(shares: np.ndarray, total: int) -> np.ndarray:
    """Units opening in each period when ``total`` units follow the cumulative ``shares`` (cumulative counts
    rounded to the nearest unit, so the waves add up to ``round(shares[-1] * total)``).

    Parameters
    ----------
    shares : numpy.ndarray
        Cumulative treated shares per period.
    total : int
        Units to schedule.
    """
    if int(total) != total or total < 1:
        raise CeciError(f"total={total!r}; expected a positive whole number of sites")
    cum = np.rint(np.asarray(shares, float) * int(total)).astype(int)
    return np.diff(np.concatenate([[0], cum]))
