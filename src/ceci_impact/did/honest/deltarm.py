"""Relative-magnitudes restriction Delta^RM(Mbar) of Rambachan and Roth (2023) (HonestDiD's ``deltarm.R``).

Delta^RM(Mbar) bounds every post-treatment change of the trend difference by ``Mbar`` times the largest
pre-treatment change. It is a union over the location ``s`` of that largest pre-period change and its sign;
for each piece the set is polyhedral, ``A delta <= 0``, and the confidence set for ``theta = l' tau_post`` is
the set of grid values that the ARP conditional(-hybrid) test does not reject. The robust interval is the
union of the pieces' acceptance regions, reported as its smallest and largest accepted grid value, as in R.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

from ..._options import CeciError
from .arp import accept_grid, warn_if_open


def _bounded_by_max(Atilde: np.ndarray, v: np.ndarray, pre_rows: int, num_post: int, Mbar: float, num_pre: int,
                    drop_zero: bool) -> np.ndarray:
    """``|Atilde delta| <= A_UB delta`` with ``A_UB`` = ``v`` for pre-period rows and ``Mbar v`` for post rows, as
    ``[Atilde - A_UB; -Atilde - A_UB] delta <= 0`` without all-zero rows (and the reference column)."""
    A_UB = np.vstack([np.tile(v, (pre_rows, 1)), np.tile(Mbar * v, (num_post, 1))])
    A = np.vstack([Atilde - A_UB, -Atilde - A_UB])
    A = A[(A**2).sum(axis=1) > 1e-10]
    return np.delete(A, num_pre, axis=1) if drop_zero else A


def create_A_RM(num_pre: int, num_post: int, Mbar: float, s: int, max_positive: bool = True,
                drop_zero: bool = True) -> np.ndarray:
    """Rows of ``A delta <= 0`` for Delta^RM_{s,+/-}(Mbar) (``.create_A_RM``); columns are the event-study
    coefficients without the reference period (``drop_zero``).

    Parameters
    ----------
    num_pre : int
        Pre-periods.
    num_post : int
        Post-periods.
    Mbar : float
        Bound: post-period violations at most ``Mbar`` times the pre-period one.
    s : int
        Location of the pre-period change bounding the post periods (HonestDiD's ``s``).
    max_positive : bool
        Whether that pre-period change is the largest positive (or negative) one.
    drop_zero : bool
        Leave out the reference period's column.
    """
    K, P = num_pre, num_post
    n = K + P
    Atilde = np.zeros((n, n + 1))
    Atilde[np.arange(n), np.arange(n)] = -1.0
    Atilde[np.arange(n), np.arange(n) + 1] = 1.0
    v = np.zeros(n + 1)
    v[K + s - 1], v[K + s] = -1.0, 1.0  # the first difference ending at period s (R's 1-based K+s : K+1+s)
    return _bounded_by_max(Atilde, v if max_positive else -v, K, P, Mbar, K, drop_zero)


def second_differences(num_pre: int, num_post: int) -> np.ndarray:
    """Rows ``delta_{t-1} - 2 delta_t + delta_{t+1}`` over all periods, the reference period included.

    Parameters
    ----------
    num_pre : int
        Pre-periods.
    num_post : int
        Post-periods.
    """
    n = num_pre + num_post - 1
    Atilde = np.zeros((n, num_pre + num_post + 1))
    for r in range(n):
        Atilde[r, r:r + 3] = (1.0, -2.0, 1.0)
    return Atilde


def create_A_SDRM(num_pre: int, num_post: int, Mbar: float, s: int, max_positive: bool = True,
                  drop_zero: bool = True) -> np.ndarray:
    """Delta^SDRM_{s,+/-}(Mbar) (``.create_A_SDRM``): every second difference of the trend difference (deviation
    from a linear trend) is at most ``Mbar`` times the pre-period second difference centred at ``s - 1``.

    Parameters
    ----------
    num_pre : int
        Pre-periods.
    num_post : int
        Post-periods.
    Mbar : float
        Bound: post-period violations at most ``Mbar`` times the pre-period one.
    s : int
        Location of the pre-period change bounding the post periods (HonestDiD's ``s``).
    max_positive : bool
        Whether that pre-period change is the largest positive (or negative) one.
    drop_zero : bool
        Leave out the reference period's column.
    """
    K, P = num_pre, num_post
    Atilde = second_differences(K, P)
    v = np.zeros(K + P + 1)
    v[K + s - 2:K + s + 1] = (1.0, -2.0, 1.0)  # R's 1-based (K + 1 + s - 2):(K + 1 + s)
    return _bounded_by_max(Atilde, v if max_positive else -v, K - 1, P, Mbar, K, drop_zero)


def create_A_B(num_pre: int, num_post: int, bias_direction: str) -> np.ndarray:
    """Sign restriction on the post-period trend differences (``.create_A_B``): ``delta_post >= 0`` for a positive
    bias, ``<= 0`` for a negative one.

    Parameters
    ----------
    num_pre : int
        Pre-periods.
    num_post : int
        Post-periods.
    bias_direction : {'positive', 'negative'}
        Known sign of the post-period trend difference.
    """
    A = -np.eye(num_pre + num_post)[num_pre:]
    return -A if bias_direction == "negative" else A


def create_A_M(num_pre: int, num_post: int, monotonicity_direction: str) -> np.ndarray:
    """Monotone trend differences over all periods (``.create_A_M``, ``postPeriodMomentsOnly = FALSE``), including
    R's treatment of a single pre-period (its loop ``1:(numPrePeriods - 1)`` then runs once).

    Parameters
    ----------
    num_pre : int
        Pre-periods.
    num_post : int
        Post-periods.
    monotonicity_direction : {'increasing', 'decreasing'}
        Known shape of the trend difference.
    """
    K, P = num_pre, num_post
    A = np.zeros((K + P, K + P))
    for r in range(1, K) if K > 1 else [1]:  # R rows r (1-based): delta_r - delta_{r+1} <= 0
        A[r - 1, r - 1:r + 1] = (1.0, -1.0)
    A[K - 1, K - 1] = 1.0
    if P > 0:
        A[K, K] = -1.0
        for r in range(K + 2, K + P + 1):
            A[r - 1, r - 2:r] = (1.0, -1.0)
    return -A if monotonicity_direction == "decreasing" else A


def extra_restrictions(num_pre: int, num_post: int, bias_direction: str | None,
                       monotonicity_direction: str | None) -> np.ndarray:
    """Rows added to Delta by a sign (``bias_direction``) or shape (``monotonicity_direction``) restriction.

    Parameters
    ----------
    num_pre : int
        Pre-periods.
    num_post : int
        Post-periods.
    bias_direction : str or None
        Known sign, or None.
    monotonicity_direction : str or None
        Known shape, or None.
    """
    if bias_direction is not None and monotonicity_direction is not None:
        raise CeciError("choose either a bias direction or a monotonicity direction, not both (as HonestDiD)")
    if bias_direction is not None:
        return create_A_B(num_pre, num_post, bias_direction)
    if monotonicity_direction is not None:
        return create_A_M(num_pre, num_post, monotonicity_direction)
    return np.zeros((0, num_pre + num_post))


def identified_set(A: np.ndarray, d: np.ndarray, beta: np.ndarray, l_vec: np.ndarray, num_pre: int) -> tuple[float, float]:
    """Identified set of ``l' tau_post`` when ``delta`` satisfies ``A delta <= d`` and equals ``beta`` before treatment
    (HonestDiD's ``.compute_IDset_*``: ``l' beta_post`` minus the largest and smallest ``l' delta_post``).

    Parameters
    ----------
    A : numpy.ndarray
        Restriction matrix.
    d : numpy.ndarray
        Right-hand side.
    beta : numpy.ndarray
        Population event-study coefficients.
    l_vec : numpy.ndarray
        Weights of the post-period target ``l' tau_post``.
    num_pre : int
        Pre-periods.
    """
    K = num_pre
    P = A.shape[1] - K
    f = np.r_[np.zeros(K), l_vec]
    kw = dict(A_ub=A, b_ub=d, A_eq=np.column_stack([np.eye(K), np.zeros((K, P))]), b_eq=beta[:K],
              bounds=[(None, None)] * (K + P), method="highs")
    mx, mn = optimize.linprog(-f, **kw), optimize.linprog(f, **kw)
    point = float(l_vec @ beta[K:])
    if mx.status != 0 and mn.status != 0:
        return point, point
    return point + mx.fun, point - mn.fun


def identified_set_rm(Mbar: float, beta: np.ndarray, l_vec: np.ndarray, num_pre: int, num_post: int) -> tuple[float, float]:
    """Identified set of ``l' tau_post`` under Delta^RM(Mbar) for population coefficients ``beta``
    (``.compute_IDset_DeltaRM``: the union over the location and sign of the largest pre-period change).

    Parameters
    ----------
    Mbar : float
        Bound: post-period violations at most ``Mbar`` times the pre-period one.
    beta : numpy.ndarray
        Population event-study coefficients.
    l_vec : numpy.ndarray
        Weights of the post-period target ``l' tau_post``.
    num_pre : int
        Pre-periods.
    num_post : int
        Post-periods.
    """
    K, P = num_pre, num_post
    sets = [identified_set(A, np.zeros(A.shape[0]), beta, l_vec, K)
            for A in (create_A_RM(K, P, Mbar, s, pos) for s in range(-(K - 1), 1) for pos in (True, False))]
    return float(min(lo for lo, _ in sets)), float(max(hi for _, hi in sets))


def conditional_cs_rm(betahat, sigma, num_pre: int, num_post: int, l_vec=None, Mbar: float = 0.0, *,
                      alpha: float = 0.05, hybrid: str = "LF", kappa: float | None = None,
                      post_moments_only: bool = True, grid_points: int = 1000, grid_lb: float | None = None,
                      grid_ub: float | None = None, seed: int = 0, bias_direction: str | None = None,
                      monotonicity_direction: str | None = None,
                      linear_trend: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Grid and acceptance indicator of the Delta^RM(Mbar) confidence set (``computeConditionalCS_DeltaRM``;
    with ``bias_direction`` Delta^RMB, with ``monotonicity_direction`` Delta^RMM; with ``linear_trend`` the
    deviations are from a linear trend, Delta^SDRM and its variants, which need two pre-periods).

    ``hybrid="LF"`` is the conditional least-favourable hybrid (R's method ``"C-LF"``, first-stage size
    ``kappa = alpha / 10``), ``"ARP"`` the purely conditional test (R's ``"Conditional"``). The default grid is
    ``[-20, 20]`` standard errors of ``l' beta_post`` around zero with ``grid_points`` values, as in R.

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
    Mbar : float
        Bound: post-period violations at most ``Mbar`` times the pre-period one.
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
    linear_trend : bool
        Deviations from a linear trend (Delta^SDRM) instead of levels.
    """
    betahat, sigma = np.asarray(betahat, float), np.asarray(sigma, float)
    K, P = int(num_pre), int(num_post)
    l_vec = np.eye(P)[0] if l_vec is None else np.asarray(l_vec, float)
    kappa = alpha / 10 if kappa is None else kappa
    sd_theta = float(np.sqrt(l_vec @ sigma[K:, K:] @ l_vec))
    lo = -20 * sd_theta if grid_lb is None else float(grid_lb)
    hi = 20 * sd_theta if grid_ub is None else float(grid_ub)
    grid = np.linspace(lo, hi, grid_points)
    accept = np.zeros(grid_points, bool)
    extra = extra_restrictions(K, P, bias_direction, monotonicity_direction)
    if linear_trend and K < 2:
        raise CeciError("relative magnitudes of deviations from a linear trend need at least two pre-periods; "
                        f"found {K}")
    for s in range(-(K - 2) if linear_trend else -(K - 1), 1):
        for pos in (True, False):
            base = create_A_SDRM(K, P, Mbar, s, pos) if linear_trend else create_A_RM(K, P, Mbar, s, pos)
            A = np.vstack([base, extra])
            accept |= accept_grid(betahat, sigma, A, np.zeros(A.shape[0]), K, l_vec, grid, alpha=alpha, hybrid=hybrid,
                                  kappa=kappa, post_moments_only=post_moments_only, seed=seed)
    warn_if_open(accept)
    return grid, accept
