"""Conformal inference for one treated series (Chernozhukov, Wüthrich & Zhu 2021, JASA 116(536)).

Under the sharp null "the effect is ``theta0`` in every post-period" the treated series without the effect is
known, ``y_t - theta0 * 1{t >= T0}``. The counterfactual model (the unit-weight problem of the chosen method: simplex
weights on the donors, with an intercept for SDID and DiD, without for SC) is fitted on *all* periods under the null,
the residuals ``u_t`` are formed, and the test statistic ``S(u) = (T1^{-1/2} sum_{t post} |u_t|^q)^{1/q}`` is compared
with its values under the ``T`` cyclic shifts of the residuals (moving-block permutations, which respect serial
dependence): ``p = (1/T) sum_j 1{S(u_(j)) >= S(u)}``. The confidence set collects the ``theta0`` with ``p > alp``
on a grid. The smallest attainable p-value is ``1/T``.
"""

from __future__ import annotations

import numpy as np

from .synthdid_solver import BlockOptions, weights


def _residuals(Y0: np.ndarray, ytr: np.ndarray, T0: int, method: str, opts: BlockOptions,
               thetas: np.ndarray) -> np.ndarray:
    """Residuals (``len(thetas) x T``) of the null-imposed fit on all periods."""
    T = ytr.size
    post = np.arange(T) >= T0
    yadj = ytr[None, :] - thetas[:, None] * post[None, :]
    X = np.broadcast_to(Y0.T, (thetas.size, T, Y0.shape[0]))
    intercept = method != "sc"
    if method == "did":
        w = np.full((thetas.size, Y0.shape[0]), 1.0 / Y0.shape[0])
    else:
        M = np.concatenate([X, yadj[:, :, None]], axis=2)
        w = weights(M, opts.zeta_omega, intercept, None, opts)
    fitted = np.einsum("rtn,rn->rt", X, w)
    u = yadj - fitted
    if intercept:
        u = u - u.mean(axis=1, keepdims=True)
    return u


def _pvalues(u: np.ndarray, T0: int, q: float) -> np.ndarray:
    T = u.shape[1]
    post = np.arange(T) >= T0
    T1 = post.sum()
    shifts = np.stack([np.roll(u, -j, axis=1) for j in range(T)], axis=1)  # R x T(shift) x T
    S = (np.sum(np.abs(shifts[:, :, post]) ** q, axis=2) / np.sqrt(T1)) ** (1.0 / q)
    return np.mean(S >= S[:, :1] - 1e-12 * np.abs(S[:, :1]), axis=1)


def conformal_test(Y0: np.ndarray, ytr: np.ndarray, T0: int, method: str, opts: BlockOptions, *,
                   theta0: float = 0.0, alp: float = 0.05, grid: np.ndarray | None = None, q: float = 1.0,
                   estimate: float | None = None, se: float | None = None, n_grid: int = 241) -> dict:
    """p-value of the constant-effect null ``theta0`` and the ``1 - alp`` confidence set by test inversion.

    Parameters
    ----------
    Y0
        Donor outcomes, donors × periods.
    ytr
        The treated series (one unit, or the mean of a cohort's units).
    T0
        Number of pre-periods.
    method, opts
        The estimator whose unit-weight problem models the counterfactual, and its options.
    theta0
        The effect under the null hypothesis.
    alp
        Level of the confidence set.
    grid
        Candidate effects; default ``estimate ± 6 s`` in ``n_grid`` points, ``s`` the larger of the standard error
        and the pre-period residual spread, widened three-fold once if the set reaches an end.
    q
        Exponent of the test statistic (1 in CWZ's applications).
    estimate : float, optional
        The estimate, centre of the default grid.
    se : float, optional
        Its standard error, scale of the default grid.
    n_grid : int
        Points of the default grid.

    Returns
    -------
    dict
        ``pvalue``, ``theta0``, ``ci_low``, ``ci_high``, ``alpha``, ``min_pvalue`` (``1/T``), ``contiguous``
        (whether the accepted grid points form one interval), ``at_grid_edge``.
    """
    T = ytr.size
    est = 0.0 if estimate is None else float(estimate)
    # Independent problems of one shape share one Frank–Wolfe stack (each stops by its own rule, so the results
    # are those of separate solves): the null with the default grid's centre, and both default grids at once.
    if grid is None:
        u = _residuals(Y0, ytr, T0, method, opts, np.array([theta0, est]))
        p0, u0 = float(_pvalues(u[:1], T0, q)[0]), u[1]
        s = max(float(se) if se is not None and np.isfinite(se) else 0.0, float(np.std(u0[:T0])), 1e-12)
        grids = [np.linspace(est - width * s, est + width * s, n_grid) for width in (6.0, 18.0)]
        accs = np.split(_pvalues(_residuals(Y0, ytr, T0, method, opts, np.concatenate(grids)), T0, q) > alp, 2)
        first = not (accs[0][0] or accs[0][-1])
        g, acc = (grids[0], accs[0]) if first else (grids[1], accs[1])
    else:
        g = np.asarray(grid, float)
        pv = _pvalues(_residuals(Y0, ytr, T0, method, opts, np.concatenate([[theta0], g])), T0, q)
        p0, acc = float(pv[0]), pv[1:] > alp
    out = {"theta0": theta0, "pvalue": p0, "alpha": alp, "min_pvalue": 1.0 / T, "q": q}
    if acc.any():
        idx = np.flatnonzero(acc)
        out.update(ci_low=float(g[idx[0]]), ci_high=float(g[idx[-1]]),
                   contiguous=bool(idx[-1] - idx[0] + 1 == idx.size), at_grid_edge=bool(acc[0] or acc[-1]))
    else:
        out.update(ci_low=float("nan"), ci_high=float("nan"), contiguous=True, at_grid_edge=False)
    return out
