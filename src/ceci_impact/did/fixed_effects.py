"""Fixed-effects kernels shared by the regression estimators (one home): two-way demeaning by alternating
projections, within OLS with fixest's clustered covariance, and exact unit + period effects on a subset of
observations (Schur complement) for the imputation and Sun–Abraham estimators."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._options import CeciError


def demean_twoway(M: np.ndarray, uid: np.ndarray, tid: np.ndarray, tol: float = 1e-12, maxit: int = 10_000):
    """Remove unit and period means from the columns of ``M`` (alternating projections; one sweep is exact
    for a balanced panel). Group means are sparse indicator products, so many columns cost little more than one.

    Parameters
    ----------
    M : numpy.ndarray
        Columns to demean (rows x columns).
    uid : numpy.ndarray
        Unit code of each row.
    tid : numpy.ndarray
        Period code of each row.
    tol : float
        Convergence tolerance of the alternating projections (unbalanced panels).
    maxit : int
        Largest number of sweeps.
    """
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

    Parameters
    ----------
    y : numpy.ndarray
        Outcome.
    X : numpy.ndarray
        Regressors (rows x K).
    uid : numpy.ndarray
        Unit code of each row.
    tid : numpy.ndarray
        Period code of each row.
    cluster : numpy.ndarray
        Cluster of each row.
    return_scores : bool
        Also return the cluster scores.
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

    ``Xu`` (units x p), time-invariant covariates, adds period-specific slopes on them (conditional parallel
    trends; fixest's ``year[x]``): the fit of row ``(i, t)`` is ``a_i + lam_t + x_i' gam_t``. The Schur system
    then has ``(1 + p)`` unknowns per period, built from ``(1 + p)^2`` sparse products, never a rows x periods
    design. One period's coefficients are set to zero (the unit effects absorb them); slopes the subset cannot
    identify (a covariate constant among a period's untreated units, say) get the minimum-norm solution.

    Parameters
    ----------
    uid : numpy.ndarray
        Unit code of each row.
    tid : numpy.ndarray
        Period code of each row.
    subset : numpy.ndarray
        Boolean mask of the rows the effects are fitted on (e.g. untreated observations).
    Xu : numpy.ndarray, optional
        Time-invariant covariates by unit (units x p): period-specific slopes on them are added.
    """

    def __init__(self, uid: np.ndarray, tid: np.ndarray, subset: np.ndarray, Xu: np.ndarray | None = None):
        from scipy import sparse

        self.nu, self.nt = int(uid.max()) + 1, int(tid.max()) + 1
        self.u0, self.t0 = uid[subset], tid[subset]
        self.cu = np.bincount(self.u0, minlength=self.nu).astype(float)
        self.ct = np.bincount(self.t0, minlength=self.nt).astype(float)
        B = sparse.csr_matrix((np.ones(self.u0.size), (self.u0, self.t0)), shape=(self.nu, self.nt))
        self.B = B
        inv_cu = np.where(self.cu > 0, 1 / np.where(self.cu > 0, self.cu, 1), 0.0)
        self.inv_cu = inv_cu
        self.Xt = np.ones((self.nu, 1)) if Xu is None else np.column_stack([np.ones(self.nu), Xu])
        q = self.Xt.shape[1]
        S = np.zeros((self.nt, q, self.nt, q))
        for k in range(q):
            for m in range(k, q):
                xx = self.Xt[:, k] * self.Xt[:, m]
                blk = np.diag(B.T @ xx) - (B.T @ sparse.diags(xx * inv_cu) @ B).toarray()
                S[:, k, :, m] = blk
                S[:, m, :, k] = blk.T
        S = S.reshape(self.nt * q, self.nt * q)
        # one normalisation (the first live period's coefficients = 0) removes the null space of the design
        live = np.flatnonzero(self.ct > 0)
        self.live = (live[1:, None] * q + np.arange(q)[None, :]).ravel()
        S_red = S[np.ix_(self.live, self.live)]
        self.rank = int(np.linalg.matrix_rank(S_red))
        self.n_slopes = self.rank - (live.size - 1)  # identified period-specific slopes (0 without covariates)
        if q == 1 and self.rank < S_red.shape[0]:
            raise CeciError("unit and period effects are not identified on the untreated observations "
                            "(the panel splits into disconnected groups)")
        self.S_inv = np.linalg.inv(S_red) if self.rank == S_red.shape[0] else np.linalg.pinv(S_red)

    def solve(self, b_u: np.ndarray, b_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unit effects ``a`` and period coefficients ``lam`` (periods x (1 + p), or periods without slopes) from
        the sums ``b_u`` (per unit) and ``b_t`` (per period, times ``(1, x_i)``: periods x (1 + p)).

        Parameters
        ----------
        b_u : numpy.ndarray
            Sums of the right-hand side per unit.
        b_t : numpy.ndarray
            Sums per period times ``(1, x_i)`` (periods x (1 + p)).
        """
        bt = b_t.reshape(self.nt, -1)
        rhs = bt - self.B.T @ ((b_u * self.inv_cu)[:, None] * self.Xt)
        lam = np.zeros(self.nt * self.Xt.shape[1])
        lam[self.live] = self.S_inv @ rhs.ravel()[self.live]
        lam = lam.reshape(self.nt, -1)
        a = (b_u - np.einsum("uk,uk->u", self.B @ lam, self.Xt)) * self.inv_cu
        return a, (lam[:, 0] if b_t.ndim == 1 else lam)

    def sums(self, y: np.ndarray, uid: np.ndarray, tid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``b_u`` and ``b_t`` of ``y`` on the rows ``(uid, tid)``: per unit, and per period times ``(1, x_i)``.

        Parameters
        ----------
        y : numpy.ndarray
            Values on the rows.
        uid : numpy.ndarray
            Unit code of each row.
        tid : numpy.ndarray
            Period code of each row.
        """
        b_u = np.bincount(uid, weights=y, minlength=self.nu)
        if self.Xt.shape[1] == 1:
            return b_u, np.bincount(tid, weights=y, minlength=self.nt)
        b_t = np.column_stack([np.bincount(tid, weights=y * self.Xt[uid, k], minlength=self.nt)
                               for k in range(self.Xt.shape[1])])
        return b_u, b_t

    def fitted(self, a: np.ndarray, lam: np.ndarray, uid: np.ndarray, tid: np.ndarray) -> np.ndarray:
        """``a_i + (1, x_i)' lam_t`` on the rows ``(uid, tid)``.

        Parameters
        ----------
        a : numpy.ndarray
            Unit effects.
        lam : numpy.ndarray
            Period coefficients (periods x (1 + p)).
        uid : numpy.ndarray
            Unit code of each row.
        tid : numpy.ndarray
            Period code of each row.
        """
        if lam.ndim == 1:
            return a[uid] + lam[tid]
        out = a[uid] + lam[tid, 0]
        for k in range(1, lam.shape[1]):
            out += self.Xt[uid, k] * lam[tid, k]
        return out

    def period_effects(self, rhs: np.ndarray) -> np.ndarray:
        """Period effects for many right-hand sides at once: ``rhs = b_t - B'(b_u / n_u)`` (periods x columns;
        the model without slopes).

        Parameters
        ----------
        rhs : numpy.ndarray
            Right-hand sides ``b_t - B'(b_u / n_u)`` (periods x columns).
        """
        lam = np.zeros(rhs.shape)
        lam[self.live] = self.S_inv @ rhs[self.live]
        return lam

def fe_fit_untreated(y, uid, tid, untreated, fe: TwoWayFE, check: bool = True):
    """Unit and period effects fitted on untreated observations; returns fitted values for all rows (``check``:
    first that every treated unit and period has untreated observations, once per design is enough).

    Parameters
    ----------
    y : numpy.ndarray
        Outcome of each row.
    uid : numpy.ndarray
        Unit code of each row.
    tid : numpy.ndarray
        Period code of each row.
    untreated : numpy.ndarray
        Boolean mask of untreated rows.
    fe : TwoWayFE
        The solver built on the untreated rows.
    check : bool
        First check that every treated unit and period can be imputed.
    """
    if check:
        check_imputable(uid, tid, untreated, fe)
    a, lam = fe.solve(*fe.sums(y[untreated], fe.u0, fe.t0))
    return fe.fitted(a, lam, uid, tid)


def check_imputable(uid, tid, untreated, fe: TwoWayFE) -> None:
    """One line when a treated unit or period has no untreated observation to impute from.

    Parameters
    ----------
    uid : numpy.ndarray
        Unit code of each row.
    tid : numpy.ndarray
        Period code of each row.
    untreated : numpy.ndarray
        Boolean mask of untreated rows.
    fe : TwoWayFE
        The solver built on the untreated rows.
    """
    if (fe.cu[np.unique(uid[~untreated])] == 0).any():
        raise CeciError("some treated units have no untreated observation: their unit effect cannot be imputed "
                        "(units treated in the first period?)")
    if (fe.ct[np.unique(tid[~untreated])] == 0).any():
        raise CeciError("some periods have no untreated observation: their period effect cannot be imputed "
                        "(all units treated by then; drop those periods)")
