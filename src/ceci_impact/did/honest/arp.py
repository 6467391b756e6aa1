"""Andrews–Roth–Pakes conditional and conditional-hybrid tests of moment inequalities (HonestDiD's ``arp-*.R``).

The tests check ``E[y - X delta] <= 0`` for some nuisance ``delta``, with ``y ~ N(mu, Sigma)``. Their statistic is
the value of the linear programme

    eta(y) = min { eta : eta * sd + X delta >= y }  =  max { lam' y : lam >= 0, sd' lam = 1, X' lam = 0 },

whose feasible dual set does not depend on ``y``. :class:`DualLP` exploits that: the dual vertices found so far
are kept with the inverse of their basis, and a new right-hand side is settled by a matrix product and a
primal-feasibility check; only right-hand sides that no known vertex solves go to an LP solver (HiGHS). The
thousands of programmes behind one robust interval (1,000 simulated draws for the least-favourable critical
value, 1,000 grid points of the test inversion, for each location and sign of the largest pre-period violation)
then cost a few dozen LP solves.

Decisions follow the R code line by line (binding-moment tolerance, primal versus dual conditioning, the dual
bisection with its shortcut iterations, ``max(0, truncated-normal quantile)`` as critical value), so that
intervals agree with R's grid decisions.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import optimize, stats

from ..._options import CeciError
from .r_compat import r_rmvnorm

_TOL_LAMBDA = 1e-6  # HonestDiD's tol_lambda: multipliers above it mark binding moments


class DualLP:
    """``eta(y)`` and its dual vertex ``lam(y)`` for many right-hand sides ``y`` (rows of a matrix).

    Cached entries are ``(lam, B)``: a dual vertex with a basis of ``k + 1`` rows containing its support. For a
    new ``y`` the primal point of that basis, ``(eta, delta) = W_B^{-1} y_B``, is feasible exactly when the
    vertex is optimal for ``y`` (complementary slackness), so a feasibility check settles it. Degenerate vertices
    (support smaller than ``k + 1``, common here because some moments carry no nuisance parameter) may need
    several bases; each LP solve adds the basis it found.

    Parameters
    ----------
    sd : numpy.ndarray
        Standard deviations of the moments.
    X : numpy.ndarray
        Nuisance-parameter columns of the moments.
    """

    def __init__(self, sd: np.ndarray, X: np.ndarray):
        self.W = np.column_stack([sd, X]) if X.size else np.asarray(sd, float)[:, None]
        self.M, self.k1 = self.W.shape
        self.lams = np.empty((0, self.M))
        self.bases: list[np.ndarray] = []
        self.winvs: list[np.ndarray] = []
        self.lp_solves = 0

    def _lp(self, y: np.ndarray):
        self.lp_solves += 1
        c = np.r_[1.0, np.zeros(self.k1 - 1)]
        res = optimize.linprog(c, A_ub=-self.W, b_ub=-y, bounds=[(None, None)] * self.k1, method="highs-ds")
        if res.status != 0:
            return np.nan, None, None
        return float(res.fun), -np.asarray(res.ineqlin.marginals, float), np.asarray(res.ineqlin.residual, float)

    def _add(self, lam: np.ndarray, slack: np.ndarray, y: np.ndarray) -> int:
        """Cache the vertex with a basis made of its support and binding rows; index of the entry or -1."""
        W = self.W
        support = np.flatnonzero(lam > 1e-9 * max(lam.max(), 1e-300))
        B = list(support)
        if np.linalg.matrix_rank(W[B]) < len(B):
            return -1
        binding = np.flatnonzero(slack <= 1e-9 * (1.0 + np.abs(y).max()))
        for i in binding[np.argsort(slack[binding], kind="stable")]:
            if len(B) == self.k1:
                break
            if i not in B and np.linalg.matrix_rank(W[B + [int(i)]]) == len(B) + 1:
                B.append(int(i))
        if len(B) != self.k1:
            return -1
        B = np.array(sorted(B))
        winv = np.linalg.inv(W[B])
        exact = np.zeros(self.M)
        exact[B] = winv[0]
        exact[np.abs(exact) < 1e-13 * np.abs(exact).max()] = 0.0
        if (exact < -1e-10).any() or np.abs(exact - lam).max() > 1e-7 * max(1.0, lam.max()):
            return -1
        self.lams = np.vstack([self.lams, exact])
        self.bases.append(B)
        self.winvs.append(winv)
        return len(self.bases) - 1

    def solve(self, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(eta, lam, vertex)`` for each row of ``Y``; ``vertex`` is the cached entry (-1 if solved directly).

        Parameters
        ----------
        Y : numpy.ndarray
            Right-hand sides, one per row.
        """
        Y = np.atleast_2d(np.asarray(Y, float))
        n = Y.shape[0]
        eta, lam, vid = np.full(n, np.nan), np.zeros((n, self.M)), np.full(n, -1)
        pending = np.arange(n)
        while pending.size:
            if len(self.bases):
                Yp = Y[pending]
                scores = Yp @ self.lams.T
                top = scores.max(axis=1)
                tol = 1e-9 * (1.0 + np.abs(Yp).max(axis=1))
                chosen = np.full(pending.size, -1)
                best = np.full(pending.size, -np.inf)
                for j in range(len(self.bases)):
                    cand = np.flatnonzero((scores[:, j] >= top - tol) & (scores[:, j] > best))
                    if not cand.size:
                        continue
                    Yj = Yp[cand]
                    z = Yj[:, self.bases[j]] @ self.winvs[j].T  # primal (eta, delta) of the basis
                    feas = (z @ self.W.T - Yj).min(axis=1) >= -tol[cand]
                    chosen[cand[feas]] = j
                    best[cand[feas]] = scores[cand[feas], j]
                ok = chosen >= 0
                done = pending[ok]
                eta[done] = best[ok]
                lam[done] = self.lams[chosen[ok]]
                vid[done] = chosen[ok]
                pending = pending[~ok]
            if not pending.size:
                break
            i = pending[0]
            pending = pending[1:]
            e_i, l_i, slack = self._lp(Y[i])
            if l_i is None:
                continue
            j = self._add(l_i, slack, Y[i])
            if j >= 0:
                eta[i], lam[i], vid[i] = float(self.lams[j] @ Y[i]), self.lams[j], j
            else:
                eta[i], lam[i] = e_i, l_i
        return eta, lam, vid


def least_favorable_cv(X: np.ndarray | None, sigma: np.ndarray, kappa: float, sims: int = 1000,
                       seed: int = 0, lp: DualLP | None = None) -> float:
    """HonestDiD's ``.compute_least_favorable_cv``: the ``1 - kappa`` quantile of ``eta`` under ``mu = 0``.

    Draws are R's ``set.seed(seed); mvtnorm::rmvnorm(sims, sigma = sigma)``. Without nuisance parameters
    (``X is None``) the statistic is the largest standardised moment.

    Parameters
    ----------
    X : numpy.ndarray or None
        Nuisance-parameter columns (None: no nuisance parameters).
    sigma : numpy.ndarray
        Covariance of the event-study estimates.
    kappa : float
        Size of the least-favourable test.
    sims : int
        Simulated draws.
    seed : int
        Seed of R's multivariate normal draws.
    lp : DualLP, optional
        The cached dual linear programme (built when not given).
    """
    xi = r_rmvnorm(sims, sigma, seed)
    sd = np.sqrt(np.diag(sigma))
    if X is None:
        eta = (xi / sd).max(axis=1)
    else:
        lp = lp if lp is not None else DualLP(sd, X)
        eta, _, _ = lp.solve(xi)
    eta = eta[np.isfinite(eta)]
    if eta.size == 0:
        raise CeciError("the least-favourable critical value could not be computed: every simulated linear programme "
                        "failed (is the event-study covariance degenerate?)")
    return float(np.quantile(eta, 1 - kappa))


def truncnorm_quantile(p: float, lo: float, hi: float) -> float:
    """Quantile of the standard normal truncated to ``[lo, hi]`` (``TruncatedNormal::norminvp``).

    Parameters
    ----------
    p : float
        Probability.
    lo : float
        Lower truncation point.
    hi : float
        Upper truncation point.
    """
    if lo >= hi:
        return float(lo)
    return float(stats.truncnorm.ppf(p, lo, hi))


def _dual_vlo_vup(eta, S_T, G, sigma, lp: DualLP) -> tuple[np.ndarray, np.ndarray]:
    """``.vlo_vup_dual_fn`` for several points at once: truncation points from R's shortcut iterations, then
    bisection (tolerance 1e-6), with the dual programme ``max_x (s_T + b c)'x`` solved by ``lp``.

    ``eta`` (n,), ``S_T`` (n, M) and the dual vertices ``G`` (n, M) of the points.
    """
    tol_c = tol_eq = 1e-6
    maxiters, switchiters = 10000, 10
    gsg = np.einsum("ij,jk,ik->i", G, sigma, G)
    sigma_B = np.sqrt(gsg)
    Bv = (G @ sigma) / gsg[:, None]
    n = eta.size

    def check(c, idx):
        g, x, _ = lp.solve(S_T[idx] + Bv[idx] * c[:, None])
        return np.abs(c - g) <= tol_eq, x

    def shortcut(x, idx):
        num = np.einsum("ij,ij->i", x, S_T[idx])
        num = np.where(np.abs(num) < np.finfo(float).eps ** 0.75, 0.0, num)
        return num / (1 - np.einsum("ij,ij->i", x, Bv[idx]))

    vlo, vup = eta.astype(float).copy(), np.full(n, np.inf)
    ok_eta, _ = check(eta, np.arange(n))
    live = np.flatnonzero(ok_eta)  # points whose eta is not a solution keep (eta, Inf), as in R
    for upper in (True, False):
        init = np.maximum(100.0, eta + 20 * sigma_B) if upper else np.minimum(-100.0, eta - 20 * sigma_B)
        out = np.full(n, np.inf if upper else -np.inf)
        ok, x = check(init[live], live)
        idx = live[~ok]
        mid = shortcut(x[~ok], idx) if idx.size else np.empty(0)
        dif = np.zeros(idx.size)
        iters = np.ones(idx.size, int)
        act = np.arange(idx.size)
        while act.size:
            ok, x = check(mid[act], idx[act])
            act, x = act[~ok], x[~ok]
            iters[act] += 1
            switch = iters[act] >= switchiters
            dif[act[switch]] = tol_c + 1
            act, x = act[~switch], x[~switch]
            if act.size:
                mid[act] = shortcut(x, idx[act])
        low = np.where(upper, eta[idx], mid)
        high = np.where(upper, mid, eta[idx])
        act = np.flatnonzero((dif > tol_c) & (iters < maxiters))
        while act.size:
            iters[act] += 1
            mid[act] = (high[act] + low[act]) / 2
            ok, _ = check(mid[act], idx[act])
            if upper:
                low[act] = np.where(ok, mid[act], low[act])
                high[act] = np.where(ok, high[act], mid[act])
            else:
                high[act] = np.where(ok, mid[act], high[act])
                low[act] = np.where(ok, low[act], mid[act])
            dif[act] = high[act] - low[act]
            act = act[(dif[act] > tol_c) & (iters[act] < maxiters)]
        out[idx] = mid
        if upper:
            vup[live] = out[live]
        else:
            vlo[live] = out[live]
    return vlo, vup


def _truncated_test(maxstat, zlo, zup, size) -> np.ndarray:
    """Reject when ``maxstat`` exceeds ``max(0, q_{1-size})`` of N(0,1) truncated to ``[zlo, zup]``;
    never reject when ``maxstat`` lies outside the truncation interval (as R)."""
    maxstat, zlo, zup = np.broadcast_arrays(*(np.asarray(v, float) for v in (maxstat, zlo, zup)))
    reject = np.zeros(maxstat.shape, bool)
    inside = (zlo <= maxstat) & (maxstat <= zup)
    if inside.any():
        lo, hi = zlo[inside], zup[inside]
        q = np.where(lo < hi, stats.truncnorm.ppf(1 - size, lo, np.where(lo < hi, hi, lo + 1)), lo)
        reject[inside] = maxstat[inside] > np.maximum(0.0, q)
    return reject


def arp_accept_grid(y: np.ndarray, a: np.ndarray, X: np.ndarray, sigma: np.ndarray, thetas: np.ndarray, *,
                    alpha: float, hybrid: str, kappa: float, lf_cv: float | None, lp: DualLP) -> np.ndarray:
    """Accept/reject of ``H0: theta`` for every grid value (``.ARP_computeCI`` with ``.lp_conditional_test_fn``).

    ``y - a * theta - X delta <= 0`` are the moments (already restricted to the rows used by ARP).

    Parameters
    ----------
    y : numpy.ndarray
        Moments' right-hand side at theta = 0.
    a : numpy.ndarray
        Coefficient of theta in the moments.
    X : numpy.ndarray
        Nuisance-parameter columns.
    sigma : numpy.ndarray
        Covariance of the event-study estimates.
    thetas : numpy.ndarray
        The grid of candidate values.
    alpha : float
        Level of the test.
    hybrid : {'LF', 'ARP'}
        Conditional least-favourable hybrid or the plain conditional test.
    kappa : float
        Size of the first-stage least-favourable test of the hybrid (default ``alpha / 10``).
    lf_cv : float or None
        The least-favourable critical value (:func:`least_favorable_cv`), None without the hybrid.
    lp : DualLP
        The cached dual linear programme of the moments.
    """
    Yg = y[None, :] - thetas[:, None] * a[None, :]
    eta, lam, vid = lp.solve(Yg)
    n, k = thetas.size, lp.k1 - 1
    reject = np.zeros(n, bool)
    if np.isnan(eta).any():
        warnings.warn("LP for eta did not converge properly at some grid points; not rejecting there", stacklevel=3)
    if hybrid == "LF":
        size = (alpha - kappa) / (1 - kappa)
        reject |= eta > lf_cv
    else:
        size = alpha
    todo = np.flatnonzero(~reject & np.isfinite(eta))
    sd = lp.W[:, 0]
    groups: dict[int, list[int]] = {}
    dual: list[int] = []
    for i in todo:
        groups.setdefault(int(vid[i]) if vid[i] >= 0 else -1 - int(i), []).append(int(i))
    for members in groups.values():
        idx = np.array(members)
        gam = lam[idx[0]]
        B = gam > _TOL_LAMBDA
        degenerate = B.sum() != k + 1
        XB = X[B]  # with several post periods there is at least one nuisance column (k >= 1)
        full_rank = XB.shape[0] > 0 and np.linalg.matrix_rank(XB) == min(XB.shape)
        if full_rank and not degenerate:  # primal approach: closed-form truncation points
            WB = np.column_stack([sd[B], XB])
            WBc = np.column_stack([sd[~B], X[~B]])
            inv = np.linalg.inv(WB)
            SB = np.eye(lp.M)[B]
            Gamma_B = WBc @ inv @ SB - np.eye(lp.M)[~B]
            v_B = inv[0] @ SB
            s2 = float(v_B @ sigma @ v_B)
            sig_B = np.sqrt(s2)
            rho = Gamma_B @ sigma @ v_B / s2
            Yi = Yg[idx]
            with np.errstate(divide="ignore", invalid="ignore"):
                mm = (-(Yi @ Gamma_B.T)) / rho[None, :] + (Yi @ v_B)[:, None]
            vlo = mm[:, rho > 0].max(axis=1) if (rho > 0).any() else np.full(idx.size, -np.inf)
            vup = mm[:, rho < 0].min(axis=1) if (rho < 0).any() else np.full(idx.size, np.inf)
            if hybrid == "LF":
                vup = np.minimum(vup, lf_cv)
            reject[idx] = _truncated_test(eta[idx] / sig_B, vlo / sig_B, vup / sig_B, size)
        else:  # dual approach: truncation points by bisection on the dual programme
            dual.extend(members)
    if dual:
        idx = np.array(dual)
        G = lam[idx]
        s2 = np.einsum("ij,jk,ik->i", G, sigma, G)
        flat = np.abs(s2) < np.finfo(float).eps
        reject[idx[flat]] = eta[idx[flat]] > 0
        idx, G, s2 = idx[~flat], G[~flat], s2[~flat]
        if idx.size:
            S_T = Yg[idx] - (G @ sigma) * (np.einsum("ij,ij->i", G, Yg[idx]) / s2)[:, None]
            vlo, vup = _dual_vlo_vup(eta[idx], S_T, G, sigma, lp)
            if hybrid == "LF":
                vup = np.minimum(vup, lf_cv)
            sig = np.sqrt(s2)
            reject[idx] = _truncated_test(eta[idx] / sig, vlo / sig, vup / sig, size)
    return ~reject


def nonuisance_accept_grid(betahat: np.ndarray, sigma: np.ndarray, A: np.ndarray, thetas: np.ndarray, target: int, *,
                           alpha: float, hybrid: str, kappa: float, lf_cv: float | None,
                           d: np.ndarray | None = None) -> np.ndarray:
    """``.APR_computeCI_NoNuis`` (one post period): ARP test of ``A (beta - e_target theta) <= d``, LF hybrid or not
    (``.testInIdentifiedSet_LF_Hybrid`` / ``.testInIdentifiedSet``).

    Parameters
    ----------
    betahat : numpy.ndarray
        Event-study estimates, pre-periods first (reference period left out).
    sigma : numpy.ndarray
        Covariance of the event-study estimates.
    A : numpy.ndarray
        Restriction matrix of ``A delta <= d``.
    thetas : numpy.ndarray
        The grid of candidate values.
    target : int
        Index of the post period tested.
    alpha : float
        Level of the test.
    hybrid : {'LF', 'ARP'}
        Conditional least-favourable hybrid or the plain conditional test.
    kappa : float
        Size of the first-stage least-favourable test of the hybrid (default ``alpha / 10``).
    lf_cv : float or None
        The least-favourable critical value (:func:`least_favorable_cv`), None without the hybrid.
    d : numpy.ndarray, optional
        Right-hand side of the restrictions (default zero).
    """
    d = np.zeros(A.shape[0]) if d is None else np.asarray(d, float)
    sig_t = np.sqrt(np.diag(A @ sigma @ A.T))
    At, dt = A / sig_t[:, None], d / sig_t
    accept = np.zeros(thetas.size, bool)
    size = (alpha - kappa) / (1 - kappa) if hybrid == "LF" else alpha
    for i, th in enumerate(thetas):
        y = betahat.copy()
        y[target] -= th
        mom = At @ y - dt
        loc = int(np.argmax(mom))
        m = float(mom[loc])
        if hybrid == "LF" and m > lf_cv:
            continue
        gam = At[loc]
        gsg = float(gam @ sigma @ gam)
        c = sigma @ gam / gsg
        z = y - c * float(gam @ y)
        Abar, dbar = At - At[loc][None, :], dt - dt[loc]
        ac = Abar @ c
        with np.errstate(divide="ignore", invalid="ignore"):
            obj = (dbar - Abar @ z) / ac
        vlo = obj[ac < 0].max() if (ac < 0).any() else -np.inf
        vup = obj[ac > 0].min() if (ac > 0).any() else np.inf
        sb, mu = np.sqrt(gsg), float(dt[loc])
        q = mu + truncnorm_quantile(1 - size, (vlo - mu) / sb, (vup - mu) / sb) * sb
        accept[i] = not (m + mu > max(0.0, q))
    return accept


def construct_gamma(l_vec: np.ndarray) -> np.ndarray:
    """Invertible matrix with ``l'`` as first row (``.construct_Gamma``: pivot columns of ``[l, I]``).

    Parameters
    ----------
    l_vec : numpy.ndarray
        Weights of the post-period target ``l' tau_post``.
    """
    P = l_vec.size
    B = np.column_stack([l_vec, np.eye(P)])
    cols: list[int] = []
    for j in range(B.shape[1]):  # the pivot columns of the reduced row echelon form: greedy independent set
        if np.linalg.matrix_rank(B[:, cols + [j]]) == len(cols) + 1:
            cols.append(j)
        if len(cols) == P:
            break
    return B[:, cols].T


def accept_grid(betahat: np.ndarray, sigma: np.ndarray, A: np.ndarray, d: np.ndarray, num_pre: int, l_vec: np.ndarray,
                grid: np.ndarray, *, alpha: float, hybrid: str, kappa: float, post_moments_only: bool,
                seed: int) -> np.ndarray:
    """Which values of ``theta = l' tau_post`` the test of ``A delta <= d`` does not reject (the shared body of
    HonestDiD's ``computeConditionalCS_*``): the no-nuisance test for one post period, otherwise ARP with the
    post periods other than ``l`` as nuisance parameters (``.ARP_computeCI``). ``post_moments_only`` keeps the
    moments that involve post-period coefficients.

    Parameters
    ----------
    betahat : numpy.ndarray
        Event-study estimates, pre-periods first (reference period left out).
    sigma : numpy.ndarray
        Covariance of the event-study estimates.
    A : numpy.ndarray
        Restriction matrix.
    d : numpy.ndarray
        Right-hand side of ``A delta <= d``.
    num_pre : int
        Pre-periods.
    l_vec : numpy.ndarray
        Weights of the post-period target ``l' tau_post``.
    grid : numpy.ndarray
        Candidate values of the target.
    alpha : float
        Level of the test.
    hybrid : {'LF', 'ARP'}
        Conditional least-favourable hybrid or the plain conditional test.
    kappa : float
        Size of the first-stage least-favourable test of the hybrid (default ``alpha / 10``).
    post_moments_only : bool
        Keep only the moments that involve post periods (HonestDiD's ``postPeriodMomentsOnly``).
    seed : int
        Seed of R's multivariate normal draws.
    """
    K = num_pre
    P = A.shape[1] - K
    if P == 1:
        if post_moments_only:
            keep = A[:, -1] != 0
            A, d = A[keep], d[keep]
        cv = least_favorable_cv(None, A @ sigma @ A.T, kappa, seed=seed) if hybrid == "LF" else None
        return nonuisance_accept_grid(betahat, sigma, A, grid, K, alpha=alpha, hybrid=hybrid, kappa=kappa, lf_cv=cv, d=d)
    rows = np.flatnonzero((A[:, K:] != 0).any(axis=1)) if post_moments_only else np.arange(A.shape[0])
    AG = A[:, K:] @ np.linalg.inv(construct_gamma(l_vec))
    a, X = AG[rows, 0], AG[rows, 1:]
    Y = (A @ betahat - d)[rows]
    SY = (A @ sigma @ A.T)[np.ix_(rows, rows)]
    lp = DualLP(np.sqrt(np.diag(SY)), X)
    cv = least_favorable_cv(X, SY, kappa, seed=seed, lp=lp) if hybrid == "LF" else None
    return arp_accept_grid(Y, a, X, SY, grid, alpha=alpha, hybrid=hybrid, kappa=kappa, lf_cv=cv, lp=lp)


def warn_if_open(accept: np.ndarray) -> None:
    """R's warning when the confidence set reaches an end of the test-inversion grid.

    Parameters
    ----------
    accept : numpy.ndarray
        Acceptance indicator over the grid.
    """
    if accept[0] or accept[-1]:
        warnings.warn("The robust confidence set is open at an end of the grid; widen grid_lb/grid_ub", stacklevel=3)
