"""Smoothness restriction Delta^SD(M) with conditional and conditional-LF intervals (HonestDiD's ``deltasd.R``).

Delta^SD(M) bounds every second difference of the trend difference by ``M``: ``|delta_{t+1} - 2 delta_t +
delta_{t-1}| <= M`` (``A delta <= d`` with ``d = M``). The fixed-length interval (``flci`` in ``honest``) is the
default; this module gives HonestDiD's test-inversion alternatives ``"Conditional"`` (ARP) and ``"C-LF"``
(conditional least-favourable hybrid), on R's default grid: the identified set at ``beta = 0`` widened by 20
standard errors of the target on each side.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import optimize

from .arp import DualLP, arp_accept_grid, least_favorable_cv, nonuisance_accept_grid
from .deltarm import construct_gamma, extra_restrictions


def create_A_SD(num_pre: int, num_post: int) -> np.ndarray:
    """Second-difference rows ``[Atilde; -Atilde]`` without the reference-period column (``.create_A_SD``)."""
    K, P = num_pre, num_post
    n = K + P - 1
    Atilde = np.zeros((n, K + P + 1))
    for r in range(n):
        Atilde[r, r:r + 3] = (1.0, -2.0, 1.0)
    Atilde = np.delete(Atilde, K, axis=1)
    return np.vstack([Atilde, -Atilde])


def identified_set_sd(M: float, beta: np.ndarray, l_vec: np.ndarray, num_pre: int, num_post: int,
                      extra: np.ndarray | None = None) -> tuple[float, float]:
    """Identified set of ``l' tau_post`` under Delta^SD(M) (and optional ``extra`` rows ``<= 0``) for population
    coefficients ``beta`` (``.compute_IDset_DeltaSD``, ``...SDB``, ``...SDM``)."""
    K, P = num_pre, num_post
    extra = np.zeros((0, K + P)) if extra is None else extra
    A = np.vstack([create_A_SD(K, P), extra])
    d = np.r_[np.full(A.shape[0] - extra.shape[0], float(M)), np.zeros(extra.shape[0])]
    f = np.r_[np.zeros(K), l_vec]
    kw = dict(A_ub=A, b_ub=d, A_eq=np.column_stack([np.eye(K), np.zeros((K, P))]),
              b_eq=beta[:K], bounds=[(None, None)] * (K + P), method="highs")
    mx, mn = optimize.linprog(-f, **kw), optimize.linprog(f, **kw)
    point = float(l_vec @ beta[K:])
    if mx.status != 0 and mn.status != 0:
        return point, point
    return point + mx.fun, point - mn.fun


def conditional_cs_sd(betahat, sigma, num_pre: int, num_post: int, l_vec=None, M: float = 0.0, *,
                      alpha: float = 0.05, hybrid: str = "LF", kappa: float | None = None,
                      post_moments_only: bool = True, grid_points: int = 1000, grid_lb: float | None = None,
                      grid_ub: float | None = None, seed: int = 0, bias_direction: str | None = None,
                      monotonicity_direction: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Grid and acceptance indicator of the Delta^SD(M) confidence set (``computeConditionalCS_DeltaSD`` with
    ``hybrid_flag = "LF"`` or ``"ARP"``; with ``bias_direction`` Delta^SDB, with ``monotonicity_direction``
    Delta^SDM)."""
    betahat, sigma = np.asarray(betahat, float), np.asarray(sigma, float)
    K, P = int(num_pre), int(num_post)
    l_vec = np.eye(P)[0] if l_vec is None else np.asarray(l_vec, float)
    kappa = alpha / 10 if kappa is None else kappa
    extra = extra_restrictions(K, P, bias_direction, monotonicity_direction)
    A_sd = create_A_SD(K, P)
    A = np.vstack([A_sd, extra])
    d = np.r_[np.full(A_sd.shape[0], float(M)), np.zeros(extra.shape[0])]
    sd_theta = float(np.sqrt(l_vec @ sigma[K:, K:] @ l_vec))
    id_lb, id_ub = identified_set_sd(M, np.zeros(K + P), l_vec, K, P, extra)
    if P > 1 and bias_direction == "negative":  # R mirrors this set for the default grid (several post periods only)
        id_lb, id_ub = -id_ub, -id_lb
    lo = id_lb - 20 * sd_theta if grid_lb is None else float(grid_lb)
    hi = id_ub + 20 * sd_theta if grid_ub is None else float(grid_ub)
    grid = np.linspace(lo, hi, grid_points)
    if P == 1:
        cv = least_favorable_cv(None, A @ sigma @ A.T, kappa, seed=seed) if hybrid == "LF" else None
        accept = nonuisance_accept_grid(betahat, sigma, A, grid, K, alpha=alpha, hybrid=hybrid, kappa=kappa, lf_cv=cv, d=d)
    else:
        rows = np.flatnonzero((A[:, K:] != 0).any(axis=1)) if post_moments_only else np.arange(A.shape[0])
        AG = A[:, K:] @ np.linalg.inv(construct_gamma(l_vec))
        a, X = AG[rows, 0], AG[rows, 1:]
        Y = (A @ betahat - d)[rows]
        SY = (A @ sigma @ A.T)[np.ix_(rows, rows)]
        lp = DualLP(np.sqrt(np.diag(SY)), X)
        cv = least_favorable_cv(X, SY, kappa, seed=seed, lp=lp) if hybrid == "LF" else None
        accept = arp_accept_grid(Y, a, X, SY, grid, alpha=alpha, hybrid=hybrid, kappa=kappa, lf_cv=cv, lp=lp)
    if accept[0] or accept[-1]:
        warnings.warn("The robust confidence set is open at an end of the grid; widen grid_lb/grid_ub", stacklevel=2)
    return grid, accept
