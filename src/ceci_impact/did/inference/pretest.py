"""Clustered pre-tests of parallel trends with a small-sample correction, and the trend they could detect.

``wild_wald``: the Wald statistic of ``H0: beta_e = 0 for every pre-period e`` with the cluster-robust covariance,
referred to its wild cluster bootstrap distribution (Webb weights; ``restricted=True`` imposes the null on every
pre-period column, ``False`` perturbs the unrestricted scores, the reports' choice —
:func:`ceci_impact.did.inference.attach.clustered_pretest`; Cameron, Gelbach & Miller 2008; Roodman, MacKinnon,
Nielsen & Webb 2019, boottest's multi-hypothesis
Wald test). Each bootstrap world re-estimates the covariance from its own scores (:mod:`.wild`), so the test stays
valid when there are nearly as many restrictions as treated clusters, where the chi-squared reference of a
cluster-robust Wald test over-rejects badly (Pustejovsky & Tipton 2018).

``detectable_slope``: the linear pre-trend (outcome units per period) that the pre-test rejects with 80 % power,
the quantity Roth (2022, "Pretest with caution: event-study estimates after testing for parallel trends", *AER:
Insights* 4(3), 305–322) asks to report beside a pre-test. A trend ``gamma`` per period shifts each pre-period
coefficient by ``gamma * a_e`` (``a_e = 1`` with the varying base period, ``e + 1`` with the universal one); the
power is that of the Wald test with the CR2 covariance (normal approximation, non-central chi-squared).
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, stats

from .cr2 import cr2_vcov
from .scores import ClusterScores
from .wild import draw_weights


def wild_wald(cs: ClusterScores, *, biters: int = 999, seed: int = 2026, weights: str = "webb",
              restricted: bool = True) -> dict:
    """Wild cluster restricted bootstrap Wald test that every column of ``cs`` is zero.

    Parameters
    ----------
    cs
        Cluster scores of the pre-period event-time coefficients.
    biters
        Bootstrap draws.
    seed
        Seed of the draws.
    weights
        ``"webb"`` or ``"rademacher"``.
    restricted
        Impose the null on the scores (WCR) or perturb the unrestricted scores (WCU, the statistic then centred
        at the estimate).

    Returns
    -------
    dict
        ``W`` (observed statistic), ``df`` (restrictions), ``pvalue``, ``method``, ``draws`` used.
    """
    S, h, n, k = cs.S, cs.h, cs.n, cs.m
    Sc = S.sum(axis=1)
    V = Sc.T @ Sc / n**2
    b = cs.estimate
    Vi = np.linalg.pinv(V)
    W = float(b @ Vi @ b)
    name = "wild_wald" if restricted else "wild_wald_unrestricted"
    if not np.isfinite(W) or np.linalg.matrix_rank(V) < k:
        return {"W": None, "df": k, "pvalue": None, "method": name}
    St = S + n * b[None, None, :] * h[:, :, None] * cs.A[None, :, :] if restricted else S
    Vb, _ = draw_weights(weights, cs.G, biters, np.random.default_rng(seed))
    G, nc, _ = St.shape
    B = Vb.shape[0]
    # the draws' cohort sums and cluster scores as matrix products (BLAS), not einsum's loops:
    # T[b] = sum_c v_bc St[c] and Ss[b, c] = v_bc sum_g St[c, g] - sum_g h[c, g] T[b, g]
    T = (Vb @ St.reshape(G, nc * k)).reshape(B, nc, k)
    Ss = Vb[:, :, None] * St.sum(axis=1)[None]
    Ss -= (h @ T.transpose(1, 0, 2).reshape(nc, B * k)).reshape(G, B, k).transpose(1, 0, 2)
    num = T.sum(axis=1) / n
    Vs = np.matmul(Ss.transpose(0, 2, 1), Ss) / n**2
    Ws = np.einsum("bm,bml,bl->b", num, np.linalg.pinv(Vs), num)
    ok = np.isfinite(Ws)
    p = float(np.mean(Ws[ok] >= W * (1 - 1e-10))) if ok.any() else None
    return {"W": W, "df": k, "pvalue": p, "method": name, "draws": int(ok.sum())}


def detectable_slope(cs: ClusterScores, event_time: np.ndarray, base_period: str, alp: float = 0.05,
                     power: float = 0.8) -> float | None:
    """Linear pre-trend per period that the clustered Wald pre-test detects with probability ``power``.

    Parameters
    ----------
    cs
        Cluster scores of the pre-period coefficients.
    event_time
        Their event times (negative).
    base_period
        ``"varying"`` or ``"universal"``.
    alp
        Level of the pre-test.
    power
        Target power.

    Returns
    -------
    float or None
        The slope (outcome units per period), None when the covariance is singular.
    """
    e = np.asarray(event_time, float)
    a = np.ones_like(e) if base_period == "varying" else e + 1.0
    V = cr2_vcov(cs)
    try:
        q = float(a @ np.linalg.solve(V, a))
    except np.linalg.LinAlgError:
        return None
    if not np.isfinite(q) or q <= 0:
        return None
    k = e.size
    crit = stats.chi2.ppf(1 - alp, k)
    lam = optimize.brentq(lambda x: stats.ncx2.sf(crit, k, x) - power, 1e-9, 1e4)
    return float(np.sqrt(lam / q))
