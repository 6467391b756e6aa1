"""Fixed-effects kernels shared by the regression estimators (one home): two-way demeaning by alternating
projections, within OLS with fixest's clustered covariance, and exact unit + period effects on a subset of
observations (Schur complement) for the imputation and Sun–Abraham estimators."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._options import CeciError


def demean_twoway(M: np.ndarray, uid: np.ndarray, tid: np.ndarray, tol: float = 1e-12, maxit: int = 10_000):
    """Remove unit and period means from the columns of ``M`` (alternating projections; one sweep is exact
    for a balanced panel). Group means are sparse indicator products, so many columns cost little more than one."""
    from scipy import sparse

    M = np.array(M, dtype=float, copy=True)
    n = M.shape[0]
    ops = []
    for ids in (uid, tid):
        ng = int(ids.max()) + 1
        B = sparse.csr_matrix((np.ones(n), (np.arange(n), ids)), shape=(n, ng))
        cnt = np.asarray(B.sum(axis=0)).ravel()
        ops.append((B, B.T.tocsr(), 1.0 / np.maximum(cnt, 1)))
    for _ in range(maxit):
        delta = 0.0
        for B, Bt, inv in ops:
            step = B @ ((Bt @ M) * inv[:, None])
            M -= step
            delta = max(delta, float(np.abs(step).max()) if step.size else 0.0)
        if delta < tol:
            break
    return M

def within_ols(y: np.ndarray, X: np.ndarray, uid: np.ndarray, tid: np.ndarray, cluster: np.ndarray,
               return_scores: bool = False):
    """OLS of ``y`` on ``X`` with unit and period effects absorbed, clustered covariance.

    Columns of ``X`` that vanish after demeaning (collinear with the effects) are dropped. The
    covariance uses fixest's default small-sample correction ``G/(G-1) * (n-1)/(n-K)``, ``K`` =
    slopes + period levels (unit effects nested in the clusters). Returns ``(beta, V, kept_columns)``;
    with ``return_scores`` also the per-observation influence of each row on ``beta`` (``(X'X)^-1 x_i u_i``,
    summed within clusters they give ``V`` up to the small-sample factor) and that factor.
    """
    M = demean_twoway(np.column_stack([y, X]), uid, tid)
    yd, Xd = M[:, 0], M[:, 1:]
    keep = np.abs(Xd).max(axis=0) > 1e-10
    Xd = Xd[:, keep]
    XtX_inv = np.linalg.pinv(Xd.T @ Xd)
    beta = XtX_inv @ Xd.T @ yd
    u = yd - Xd @ beta
    cl = pd.factorize(cluster)[0]
    G = cl.max() + 1
    S = np.zeros((G, Xd.shape[1]))
    np.add.at(S, cl, Xd * u[:, None])
    n = len(y)
    K = Xd.shape[1] + (tid.max() + 1)
    ssc = (G / (G - 1)) * ((n - 1) / (n - K))
    V = XtX_inv @ (S.T @ S) @ XtX_inv * ssc
    if return_scores:
        return beta, V, keep, (Xd * u[:, None]) @ XtX_inv, ssc
    return beta, V, keep

class TwoWayFE:
    """Normal equations of unit + period effects on a subset of observations, solved exactly.

    Eliminating the unit effects leaves a small period x period system (Schur complement), so any
    right-hand side is solved in O(observations): used both to fit the untreated outcomes and to
    compute BJS's imputation weights ``v = -Z0 (Z0'Z0)^{-1} Z1' w1``.
    """

    def __init__(self, uid: np.ndarray, tid: np.ndarray, subset: np.ndarray):
        from scipy import sparse

        self.nu, self.nt = int(uid.max()) + 1, int(tid.max()) + 1
        self.u0, self.t0 = uid[subset], tid[subset]
        self.cu = np.bincount(self.u0, minlength=self.nu).astype(float)
        self.ct = np.bincount(self.t0, minlength=self.nt).astype(float)
        B = sparse.csr_matrix((np.ones(self.u0.size), (self.u0, self.t0)), shape=(self.nu, self.nt))
        self.B = B
        inv_cu = np.where(self.cu > 0, 1 / np.where(self.cu > 0, self.cu, 1), 0.0)
        S = np.diag(self.ct) - (B.T @ sparse.diags(inv_cu) @ B).toarray()
        self.inv_cu = inv_cu
        # one normalisation (first period effect = 0) removes the null space of the two-way design
        live = np.flatnonzero(self.ct > 0)
        self.live, S_red = live[1:], S[np.ix_(live[1:], live[1:])]
        if np.linalg.matrix_rank(S_red) < S_red.shape[0]:
            raise CeciError("unit and period effects are not identified on the untreated observations "
                            "(the panel splits into disconnected groups)")
        self.S_inv = np.linalg.inv(S_red)

    def solve(self, b_u: np.ndarray, b_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unit effects ``a`` and period effects ``lam`` from the sums ``b_u`` (per unit) and ``b_t`` (per period)."""
        lam = self.period_effects(b_t - self.B.T @ (b_u * self.inv_cu))
        a = (b_u - self.B @ lam) * self.inv_cu
        return a, lam

    def period_effects(self, rhs: np.ndarray) -> np.ndarray:
        """Period effects for many right-hand sides at once: ``rhs = b_t - B'(b_u / n_u)`` (periods x columns)."""
        lam = np.zeros(rhs.shape)
        lam[self.live] = self.S_inv @ rhs[self.live]
        return lam

def fe_fit_untreated(y, uid, tid, untreated, fe: TwoWayFE, check: bool = True):
    """Unit and period effects fitted on untreated observations; returns fitted values for all rows (``check``:
    first that every treated unit and period has untreated observations, once per design is enough)."""
    if check:
        check_imputable(uid, tid, untreated, fe)
    y0 = y[untreated]
    a, lam = fe.solve(np.bincount(fe.u0, weights=y0, minlength=fe.nu), np.bincount(fe.t0, weights=y0, minlength=fe.nt))
    return a[uid] + lam[tid]


def check_imputable(uid, tid, untreated, fe: TwoWayFE) -> None:
    """One line when a treated unit or period has no untreated observation to impute from."""
    if (fe.cu[np.unique(uid[~untreated])] == 0).any():
        raise CeciError("some treated units have no untreated observation: their unit effect cannot be imputed "
                        "(units treated in the first period?)")
    if (fe.ct[np.unique(tid[~untreated])] == 0).any():
        raise CeciError("some periods have no untreated observation: their period effect cannot be imputed "
                        "(all units treated by then; drop those periods)")

def v_untreated(w_treated, uid, tid, untreated, fe: TwoWayFE):
    """BJS eq. (6): v = -Z0 (Z0'Z0)^{-1} Z1' w1 for untreated rows."""
    b_u = np.bincount(uid[~untreated], weights=w_treated, minlength=fe.nu)
    b_t = np.bincount(tid[~untreated], weights=w_treated, minlength=fe.nt)
    a, lam = fe.solve(b_u, b_t)
    return -(a[fe.u0] + lam[fe.t0])
