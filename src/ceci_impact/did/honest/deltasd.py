"""Smoothness restriction Delta^SD(M) with conditional and conditional-LF intervals (HonestDiD's ``deltasd.R``).

Delta^SD(M) bounds every second difference of the trend difference by ``M``: ``|delta_{t+1} - 2 delta_t +
delta_{t-1}| <= M`` (``A delta <= d`` with ``d = M``). The fixed-length interval (``flci`` in ``honest``) is the
default; this module gives HonestDiD's test-inversion alternatives ``"Conditional"`` (ARP) and ``"C-LF"``
(conditional least-favourable hybrid), on R's default grid: the identified set at ``beta = 0`` widened by 20
standard errors of the target on each side.
"""

from __future__ import annotations

import numpy as np

from .arp import accept_grid, warn_if_open
from .deltarm import extra_restrictions, identified_set, second_differences


def create_A_SD(num_pre: int, num_post: int) -> np.ndarray:
    """Second-difference rows ``[Atilde; -Atilde]`` without the reference-period column (``.create_A_SD``).

    Parameters
    ----------
    num_pre : int
        Pre-periods.
    num_post : int
        Post-periods.
    """
    Atilde = np.delete(second_differences(num_pre, num_post), num_pre, axis=1)
    return np.vstack([Atilde, -Atilde])


def _restriction(num_pre: int, num_post: int, M: float, extra: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    extra = np.zeros((0, num_pre + num_post)) if extra is None else extra
    A_sd = create_A_SD(num_pre, num_post)
    return np.vstack([A_sd, extra]), np.r_[np.full(A_sd.shape[0], float(M)), np.zeros(extra.shape[0])]


def conditional_cs_sd(betahat, sigma, num_pre: int, num_post: int, l_vec=None, M: float = 0.0, *,
                      alpha: float = 0.05, hybrid: str = "LF", kappa: float | None = None,
                      post_moments_only: bool = True, grid_points: int = 1000, grid_lb: float | None = None,
                      grid_ub: float | None = None, seed: int = 0, bias_direction: str | None = None,
                      monotonicity_direction: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Grid and acceptance indicator of the Delta^SD(M) confidence set (``computeConditionalCS_DeltaSD`` with
    ``hybrid_flag = "LF"`` or ``"ARP"``; with ``bias_direction`` Delta^SDB, with ``monotonicity_direction``
    Delta^SDM).

    Parameters
    ----------
    betahat : numpy.ndarray
        Event-study estimates, pre-periods first (reference period left out).
    sigma : numpy.ndarray
        Covariance of the event-study estimates.
    num_pre : int
        Pre-periods.
    num_post : int
        Post-periods.
    l_vec : numpy.ndarray, optional
        Weights of the target (default: the first post period).
    M : float
        Bound on the change in slope of the trend difference.
    alpha : float
        Level of the test.
    hybrid : {'LF', 'ARP'}
        Conditional least-favourable hybrid or the plain conditional test.
    kappa : float, optional
        Size of the hybrid's first stage (default ``alpha / 10``).
    post_moments_only : bool
        Keep only the moments that involve post periods.
    grid_points : int
        Grid values of the test inversion.
    grid_lb : float, optional
        Lower end of the grid (default: from the identified set and the standard error).
    grid_ub : float, optional
        Upper end of the grid.
    seed : int
        Seed of R's multivariate normal draws.
    bias_direction : str, optional
        Known sign of the post-period trend difference.
    monotonicity_direction : str, optional
        Known shape of the trend difference.
    """
    betahat, sigma = np.asarray(betahat, float), np.asarray(sigma, float)
    K, P = int(num_pre), int(num_post)
    l_vec = np.eye(P)[0] if l_vec is None else np.asarray(l_vec, float)
    kappa = alpha / 10 if kappa is None else kappa
    extra = extra_restrictions(K, P, bias_direction, monotonicity_direction)
    A, d = _restriction(K, P, M, extra)
    sd_theta = float(np.sqrt(l_vec @ sigma[K:, K:] @ l_vec))
    id_lb, id_ub = identified_set(A, d, np.zeros(K + P), l_vec, K)
    if P > 1 and bias_direction == "negative":  # R mirrors this set for the default grid (several post periods only)
        id_lb, id_ub = -id_ub, -id_lb
    lo = id_lb - 20 * sd_theta if grid_lb is None else float(grid_lb)
    hi = id_ub + 20 * sd_theta if grid_ub is None else float(grid_ub)
    grid = np.linspace(lo, hi, grid_points)
    # R keeps every moment when there is one post period (postPeriodMomentsOnly applies to several only)
    accept = accept_grid(betahat, sigma, A, d, K, l_vec, grid, alpha=alpha, hybrid=hybrid, kappa=kappa,
                         post_moments_only=post_moments_only and P > 1, seed=seed)
    warn_if_open(accept)
    return grid, accept
