"""Wild cluster bootstrap-t on the aggregated influence functions (score bootstrap), with the null imposed.

References
----------
Cameron, A. C., Gelbach, J. B. & Miller, D. L. (2008). Bootstrap-based improvements for inference with clustered
errors. *Review of Economics and Statistics* 90(3), 414–427 (wild cluster bootstrap-t, null imposed, Rademacher).
Kline, P. & Santos, A. (2012). A score based approach to wild bootstrap inference. *Journal of Econometric
Methods* 1(1), 23–41 (perturbing the scores instead of re-estimating; restricted scores impose the null).
MacKinnon, J. G. & Webb, M. D. (2017). Wild bootstrap inference for wildly different cluster sizes. *Journal of
Applied Econometrics* 32(2), 233–254; (2018) The wild bootstrap for few (treated) clusters. *Econometrics Journal*
21(2), 114–135.
Webb, M. D. (2023). Reworking wild bootstrap-based inference for clustered errors. *Canadian Journal of
Economics* 56(3), 839–858 (six-point weights).
Roodman, D., MacKinnon, J. G., Nielsen, M. Ø. & Webb, M. D. (2019). Fast and wild: bootstrap inference in Stata
using boottest. *Stata Journal* 19(1), 4–60 (full enumeration of Rademacher draws when ``2^G <= B``; confidence
sets by inverting the restricted test).

How it works here. The estimate minus its value is ``sum_c S_c / n`` with ``S_c`` the cluster sums of the
influence function, each the sum of the cluster's cohort parts ``S_cg`` (:mod:`.scores`). Imposing
``H0: theta = theta0`` (a constant effect equal to ``theta0`` on the aggregated cells) moves each treated cohort's
mean by ``delta = theta_hat - theta0``: the restricted scores are ``S~_cg = S_cg + delta * n * h_cg * A_g``
(Kline & Santos's scores evaluated at the restricted estimate). A bootstrap world multiplies cluster ``c``'s
restricted scores by ``v_c`` and re-estimates: the cohort means move by the perturbed cohort totals
``T*_g = sum_d v_d S~_dg``, so the bootstrap estimate is ``theta0 + sum_g T*_g / n`` and its cluster scores are
``S*_c = v_c S~_c - sum_g h_cg T*_g`` (exact for the cohort-mean structure, as re-estimation in the wild
restricted bootstrap of a regression). ``t* = (theta* - theta0) / se*`` with ``se*`` the cluster-robust standard
error from ``S*``, compared with ``t = (theta_hat - theta0) / se``. Everything is linear or quadratic in
``delta``, so each ``theta0`` costs O(B): the confidence set is found by inverting the test (bisection on both
sides, as boottest). The unrestricted variant (``restricted=False``) perturbs the unrestricted scores and gives
the symmetric percentile-t interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..._options import check_option
from .scores import ClusterScores

WildWeights = Literal["rademacher", "webb"]
_WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])


def draw_weights(kind: WildWeights, G: int, B: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """Bootstrap weights ``(B', G)``: every one of the ``2^G`` Rademacher sign patterns when ``2^G <= B``
    (full enumeration, as boottest), otherwise ``B`` random draws.

    Parameters
    ----------
    kind
        ``"rademacher"`` (±1) or ``"webb"`` (six points ±sqrt(1/2), ±1, ±sqrt(3/2)).
    G
        Number of clusters.
    B
        Number of draws.
    rng
        Random generator.

    Returns
    -------
    tuple
        The weights and whether they enumerate every pattern.
    """
    check_option("weights", kind, WildWeights)
    if kind == "rademacher" and G <= 20 and 2**G <= B:
        codes = np.arange(2**G)[:, None] >> np.arange(G)[None, :]
        return 1.0 - 2.0 * (codes & 1), True
    if kind == "rademacher":
        return rng.choice(np.array([-1.0, 1.0]), size=(B, G)), False
    return rng.choice(_WEBB, size=(B, G)), False


@dataclass(frozen=True)
class _Lines:
    """Bootstrap ``t*`` as a function of ``delta``: ``(a0 + delta a1) / sqrt(q00 + 2 delta q01 + delta^2 q11)``."""

    a0: np.ndarray
    a1: np.ndarray
    q00: np.ndarray
    q01: np.ndarray
    q11: np.ndarray
    se: float

    def tstar(self, delta: float) -> np.ndarray:
        var = self.q00 + 2 * delta * self.q01 + delta**2 * self.q11
        with np.errstate(divide="ignore", invalid="ignore"):
            return (self.a0 + delta * self.a1) / np.sqrt(np.maximum(var, 0.0))

    def pvalue(self, delta: float) -> float:
        t = abs(delta) / self.se
        ts = np.abs(self.tstar(delta))
        ok = np.isfinite(ts)
        if not ok.any():
            return float("nan")
        return float(np.mean(ts[ok] >= t * (1 - 1e-10)))


def _lines(cs: ClusterScores, V: np.ndarray, restricted: bool) -> _Lines:
    """Precompute the bootstrap statistics of one column as functions of ``delta``."""
    S, h, n = cs.S[:, :, 0], cs.h, cs.n
    HA = n * h * cs.A[:, 0][None, :] if restricted else np.zeros_like(S)
    VS, VH = V @ S, V @ HA
    X0 = V * S.sum(axis=1)[None, :] - VS @ h.T
    X1 = V * HA.sum(axis=1)[None, :] - VH @ h.T
    se = float(np.sqrt((S.sum(axis=1) ** 2).sum()) / n)
    return _Lines(VS.sum(axis=1), VH.sum(axis=1), np.einsum("bc,bc->b", X0, X0), np.einsum("bc,bc->b", X0, X1),
                  np.einsum("bc,bc->b", X1, X1), se)


def wild_test(cs: ClusterScores, theta0: float, V: np.ndarray, restricted: bool = True) -> float:
    """Bootstrap p-value of ``H0: theta = theta0`` (symmetric, ``P(|t*| >= |t|)``) for a one-column ``cs``.

    Parameters
    ----------
    cs
        Cluster scores of one column.
    theta0
        Hypothesised value.
    V
        Bootstrap weights ``(B, G)`` (:func:`draw_weights`).
    restricted
        Impose the null on the scores (WCR) or not (WCU).

    Returns
    -------
    float
    """
    L = _lines(cs, V, restricted)
    delta = float(cs.estimate[0] - theta0)
    if not restricted:  # the unrestricted draws do not depend on theta0
        ts = np.abs(L.tstar(0.0))
        return float(np.mean(ts[np.isfinite(ts)] >= abs(delta) / L.se * (1 - 1e-10)))
    return L.pvalue(delta)


def wild_ci(cs: ClusterScores, alp: float, V: np.ndarray, restricted: bool = True,
            max_steps: int = 60) -> tuple[float, float, float, float]:
    """Confidence interval, p-value of ``theta = 0`` and the cluster-robust (CR0) standard error of a one-column
    ``cs``: the restricted test inverted (``restricted=True``) or the unrestricted percentile-t interval.

    Parameters
    ----------
    cs
        Cluster scores of one column.
    alp
        Significance level.
    V
        Bootstrap weights ``(B, G)``.
    restricted
        WCR (null imposed) or WCU.
    max_steps
        Bisection steps on each side.

    Returns
    -------
    tuple
        ``(low, high, pvalue_at_zero, se)``; an end is infinite when the test accepts every value on that side
        within ``2^30`` standard errors.
    """
    L = _lines(cs, V, restricted)
    est, se = float(cs.estimate[0]), L.se
    if not np.isfinite(se) or se <= 0:
        return float("nan"), float("nan"), float("nan"), float("nan")
    if not restricted:
        ts = np.abs(L.tstar(0.0))
        ts = np.sort(ts[np.isfinite(ts)])
        if ts.size == 0:  # every bootstrap world has a zero standard error (degenerate scores): no interval
            return float("nan"), float("nan"), float("nan"), se
        q = float(ts[int(np.ceil((1 - alp) * ts.size)) - 1])
        p0 = float(np.mean(ts >= abs(est) / se * (1 - 1e-10)))
        return est - q * se, est + q * se, p0, se
    ends = []
    for sign in (1.0, -1.0):  # delta > 0: theta0 below the estimate (lower end); delta < 0: the upper end
        lo, hi = 0.0, se
        while L.pvalue(sign * hi) > alp and hi < se * 2**30:
            lo, hi = hi, hi * 2
        if L.pvalue(sign * hi) > alp:
            ends.append(np.inf)
            continue
        for _ in range(max_steps):
            mid = 0.5 * (lo + hi)
            if L.pvalue(sign * mid) > alp:
                lo = mid
            else:
                hi = mid
        ends.append(0.5 * (lo + hi))
    return est - ends[0], est + ends[1], L.pvalue(est), se
