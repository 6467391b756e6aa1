"""Fixed-effects kernels shared by the regression estimators (one home): two-way demeaning by alternating
projections, within OLS with fixest's clustered covariance, and exact unit + period effects on a subset of
observations (Schur complement) for the imputation and Sun–Abraham estimators."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..._options import CeciError
from ..core.linalg import pinv_cached


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

def within_ols_indicators(y: np.ndarray, cell: np.ndarray, J: int, uid: np.ndarray, tid: np.ndarray,
                          unit_cluster: np.ndarray, X: np.ndarray | None = None,
                          rows: int = 16_000_000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`within_ols` for a design of ``J`` indicators (``cell``: the indicator of each row, -1 for none)
    and optional dense columns ``X``, without forming the rows x ``J`` design.

    Frisch–Waugh–Lovell through the exact two-way solver (:class:`TwoWayFE` on every row): with ``P`` the
    projection on unit and period effects, ``D'(I-P)D = diag(n_j) - (F_u' a + F_t' lam)`` where ``F_u`` (units x
    ``J``) and ``F_t`` (periods x ``J``) count each indicator's rows and ``(a, lam)`` are the effects fitted to the
    indicators (one solve for all of them); ``D'(I-P)y`` and the cross-products with the demeaned dense columns
    are sums over the indicators' rows. The residuals are formed once; each indicator's clustered score
    ``sum_{i in c} (D_ij - a_ij - lam_tj) u_it`` is its rows' residual sum less the cluster's units' residual sums
    times ``a`` and the cluster x period residual sums times ``lam``, so clusters must contain whole units
    (``unit_cluster``: each unit's cluster code). Memory: a few vectors of the rows' length, units x ``J`` and
    clusters x periods. Same columns kept, estimates, covariance and small-sample factor as :func:`within_ols`
    (``G/(G-1) (n-1)/(n-K)``, ``K`` = slopes + period levels) up to rounding.

    Parameters
    ----------
    y
        Outcome of each row.
    cell
        Indicator of each row (0..J-1) or -1.
    J
        Number of indicators.
    uid, tid
        Unit and period codes of each row (0-based).
    unit_cluster
        Cluster code of each unit (clusters nest units).
    X
        Dense regressors after the indicators (rows x p), or None.
    rows
        Rows per block of the passes that gather indicator counts.

    Returns
    -------
    tuple
        ``(beta, V, keep)`` as :func:`within_ols`: estimates and covariance of the kept columns (indicators
        first, then ``X``), and the kept mask.
    """
    n = y.size
    p = 0 if X is None else X.shape[1]
    fe = TwoWayFE(uid, tid, None)
    nu, nt = fe.nu, fe.nt
    Fu = np.zeros(nu * J)
    Ft = np.zeros(nt * J)
    Dy = np.zeros(J)
    for lo in range(0, n, rows):  # indicator counts by unit and by period, and D'y, block by block
        c = cell[lo:lo + rows]
        on = np.flatnonzero(c >= 0)
        cj = c[on].astype(np.int64)
        Fu += np.bincount(uid[lo:lo + rows][on].astype(np.int64) * J + cj, minlength=nu * J)
        Ft += np.bincount(tid[lo:lo + rows][on].astype(np.int64) * J + cj, minlength=nt * J)
        Dy += np.bincount(cj, weights=y[lo:lo + rows][on], minlength=J)
    Fu, Ft = Fu.reshape(nu, J), Ft.reshape(nt, J)
    counts = Ft.sum(axis=0)
    A, Lam = _fit_effects(fe, Fu, Ft)  # P D = A[uid] + Lam[tid], per indicator
    ay, ly = fe.solve(*fe.sums(y, uid, tid))
    XtX = np.diag(counts) - (Fu.T @ A + Ft.T @ Lam)
    XtX = (XtX + XtX.T) / 2
    Xty = Dy - (Fu.T @ ay + Ft.T @ ly)
    if p:
        fx = [fe.solve(*fe.sums(X[:, j], uid, tid)) for j in range(p)]
        Xd = np.empty((n, p))
        for j, (a_j, l_j) in enumerate(fx):
            Xd[:, j] = X[:, j] - a_j[uid] - l_j[tid]
        DX = np.column_stack([_cell_sums(cell, Xd[:, j], J, rows) for j in range(p)])
        XtX = np.block([[XtX, DX], [DX.T, Xd.T @ Xd]])
        Xty = np.concatenate([Xty, Xd.T @ y])
    keep = np.ones(J + p, bool)
    # an indicator the effects absorb has (I-P) D_j = 0: its squared norm vanishes to rounding
    keep[:J] = np.diag(XtX)[:J] > 1e-10 * np.maximum(counts, 1.0)
    if p:
        keep[J:] = np.abs(Xd).max(axis=0) > 1e-10
    XtX_inv = pinv_cached(XtX[np.ix_(keep, keep)])  # the same design again (the truths): the same inverse
    beta = XtX_inv @ Xty[keep]
    b = np.zeros(J + p)
    b[keep] = beta
    # residuals u = (I-P)(y - D b - X g): the effects of the fitted part are those of y less A b (and X's)
    a_r, l_r = ay - A @ b[:J], ly - Lam @ b[:J]
    u = y - np.where(cell >= 0, b[:J][np.maximum(cell, 0)], 0.0)
    if p:
        for j, (a_j, l_j) in enumerate(fx):
            a_r -= b[J + j] * a_j
            l_r -= b[J + j] * l_j
        u -= X @ b[J:]
    u -= a_r[uid]
    u -= l_r[tid]
    G = int(unit_cluster.max()) + 1
    S = _indicator_scores(u, cell, J, uid, tid, unit_cluster, G, A, Lam, rows, fe)
    if p:
        cl = unit_cluster[uid]
        S = np.column_stack([S] + [np.bincount(cl, weights=Xd[:, j] * u, minlength=G) for j in range(p)])
    S = S[:, keep]
    K = int(keep.sum()) + nt
    ssc = (G / (G - 1)) * ((n - 1) / (n - K))
    V = XtX_inv @ (S.T @ S) @ XtX_inv * ssc
    return beta, V, keep


def _fit_effects(fe: TwoWayFE, Fu: np.ndarray, Ft: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit and period effects (units x J, periods x J) fitted to J columns from their unit and period sums."""
    rhs = Ft - fe.B.T @ (Fu * fe.inv_cu[:, None])
    Lam = fe.period_effects(rhs)
    A = (Fu - fe.B @ Lam) * fe.inv_cu[:, None]
    return A, Lam


def _cell_sums(cell: np.ndarray, v: np.ndarray, J: int, rows: int) -> np.ndarray:
    """Sums of ``v`` over the rows of each indicator (block by block)."""
    out = np.zeros(J)
    for lo in range(0, cell.size, rows):
        c = cell[lo:lo + rows]
        on = np.flatnonzero(c >= 0)
        out += np.bincount(c[on].astype(np.int64), weights=v[lo:lo + rows][on], minlength=J)
    return out


def _indicator_scores(u, cell, J, uid, tid, unit_cluster, G, A, Lam, rows, fe: TwoWayFE) -> np.ndarray:
    """Clustered scores ``sum_{rows in c} ((I-P) D_j) u`` (clusters x J) of the indicators: the residual sums of
    each indicator's rows, less ``sum_{i in c} (a_ij U_i + sum_t u_it lam_tj)`` (``U_i`` the unit's residual sum)."""
    from ..core.bootstrap import group_sums

    nu = A.shape[0]
    per_unit = np.zeros(nu * J)
    for lo in range(0, u.size, rows):
        c = cell[lo:lo + rows]
        on = np.flatnonzero(c >= 0)
        per_unit += np.bincount(uid[lo:lo + rows][on].astype(np.int64) * J + c[on], weights=u[lo:lo + rows][on],
                                minlength=nu * J)
    per_unit = per_unit.reshape(nu, J)
    per_unit -= A * np.bincount(uid, weights=u, minlength=nu)[:, None]
    per_unit -= fe.residual_matrix(u) @ Lam
    return group_sums(unit_cluster, G, per_unit)


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

    def __init__(self, uid: np.ndarray, tid: np.ndarray, subset: np.ndarray | None, Xu: np.ndarray | None = None):
        self.nu, self.nt = int(uid.max()) + 1, int(tid.max()) + 1
        self.u0, self.t0 = (uid, tid) if subset is None else (uid[subset], tid[subset])  # None: every row
        self.cu = np.bincount(self.u0, minlength=self.nu).astype(float)
        self.ct = np.bincount(self.t0, minlength=self.nt).astype(float)
        self.in_order = bool(self.u0.size and np.all(self.u0[1:] >= self.u0[:-1]))  # rows grouped by unit, in order
        B = self.B = _incidence(self.u0, self.t0, self.nu, self.nt, self.in_order)
        inv_cu = np.where(self.cu > 0, 1 / np.where(self.cu > 0, self.cu, 1), 0.0)
        self.inv_cu = inv_cu
        self.Xt = np.ones((self.nu, 1)) if Xu is None else np.column_stack([np.ones(self.nu), Xu])
        q = self.Xt.shape[1]
        S = np.zeros((self.nt, q, self.nt, q))
        for k in range(q):
            for m in range(k, q):
                xx = self.Xt[:, k] * self.Xt[:, m]
                blk = np.diag(B.T @ xx) - _weighted_cross(B, xx * inv_cu)
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

    def residual_matrix(self, v: np.ndarray):
        """Units x periods sparse matrix of ``v`` (one value per row of the subset): ``B``'s structure when the
        rows are in unit order (no copy), else built from coordinates (duplicates summed).

        Parameters
        ----------
        v : numpy.ndarray
            One value per row of the subset (e.g. residuals).
        """
        from scipy import sparse

        if self.in_order:
            return sparse.csr_matrix((v, self.B.indices, self.B.indptr), shape=self.B.shape)
        return sparse.csr_matrix((v, (self.u0, self.t0)), shape=self.B.shape)

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

def _incidence(u0: np.ndarray, t0: np.ndarray, nu: int, nt: int, in_order: bool):
    """The units x periods incidence matrix (CSR) of the rows ``(u0, t0)``: built directly when the rows come
    grouped by unit in order (the usual layout: no coordinate copies; its entries follow the rows), else from
    coordinates (duplicates summed)."""
    from scipy import sparse

    idx = np.int32 if max(nu, nt, u0.size) < 2**31 else np.int64
    if in_order:
        indptr = np.zeros(nu + 1, idx)
        np.cumsum(np.bincount(u0, minlength=nu), out=indptr[1:])
        return sparse.csr_matrix((np.ones(u0.size), t0.astype(idx, copy=False), indptr), shape=(nu, nt))
    return sparse.csr_matrix((np.ones(u0.size), (u0, t0)), shape=(nu, nt))


def _weighted_cross(B, v: np.ndarray) -> np.ndarray:
    """``B' diag(v) B`` (periods x periods) as dense products over blocks of units (about 32 MB each)."""
    nt = B.shape[1]
    if B.nnz == B.shape[0] * nt and B.has_canonical_format:  # every unit in every period: all ones
        return np.full((nt, nt), float(v.sum()))
    block = max(1, 2**22 // max(nt, 1))
    out = np.zeros((nt, nt))
    for lo in range(0, B.shape[0], block):
        Bb = B[lo:lo + block].toarray()
        out += Bb.T @ (Bb * v[lo:lo + block, None])
    return out


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
    treated_units = np.zeros(fe.nu, bool)
    treated_units[uid[~untreated]] = True
    treated_periods = np.zeros(fe.nt, bool)
    treated_periods[tid[~untreated]] = True
    if (fe.cu[treated_units] == 0).any():
        raise CeciError("some treated units have no untreated observation: their unit effect cannot be imputed "
                        "(units treated in the first period?)")
    if (fe.ct[treated_periods] == 0).any():
        raise CeciError("some periods have no untreated observation: their period effect cannot be imputed "
                        "(all units treated by then; drop those periods)")
