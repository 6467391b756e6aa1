"""Borusyak–Jaravel–Spiess imputation estimator (``did_imputation``), with R didimputation's variance."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.results import EventStudyResult
from .fixed_effects import TwoWayFE, check_imputable, fe_fit_untreated


class _FirstStage:
    """Untreated-outcome model: unit and period effects plus covariates ``X``, fitted on untreated rows (FWL).

    With ``X`` demeaned on the untreated rows (``Xt``), ``beta = (Xt'Xt)^{-1} Xt' y0`` and the effects are the
    two-way fit of ``y - X beta``; BJS's weights become ``v0 = v0_FE - Xt (Xt'Xt)^{-1} (X1'w1 + X0'v0_FE)``
    (:class:`_Imputed` uses them through sums, never as a vector).
    """

    def __init__(self, X, uid, tid, untreated, fe: TwoWayFE):
        self.uid, self.tid, self.untreated, self.fe = uid, tid, untreated, fe
        check_imputable(uid, tid, untreated, fe)
        self.X = X
        if X.shape[1]:
            Xt0 = np.column_stack([X[untreated, j] - self._fe(X[:, j])[untreated]
                                   for j in range(X.shape[1])])
            keep = np.abs(Xt0).max(axis=0) > 1e-10  # columns absorbed by the effects (or empty) drop out
            self.X, self.Xt0 = X[:, keep], Xt0[:, keep]
            self.XtX_inv = np.linalg.pinv(self.Xt0.T @ self.Xt0)

    def fit(self, y: np.ndarray) -> np.ndarray:
        """Fitted untreated outcome for every row."""
        if not self.X.shape[1]:
            return self._fe(y)
        y0 = y[self.untreated]
        beta = self.XtX_inv @ (self.Xt0.T @ y0)
        xb = self.X @ beta
        return xb + self._fe(y - xb)

    def _fe(self, y: np.ndarray) -> np.ndarray:
        return fe_fit_untreated(y, self.uid, self.tid, self.untreated, self.fe, check=False)

    def fit_untreated(self, v0: np.ndarray) -> np.ndarray:
        """:meth:`fit` read on the untreated rows only, from the values ``v0`` on those rows (the fit uses no
        other): the same numbers as ``fit(v)[untreated]`` without vectors of the panel's length."""
        fe = self.fe
        if self.X.shape[1]:
            v = np.zeros(self.uid.size)
            v[self.untreated] = v0
            return self.fit(v)[self.untreated]
        a, lam = fe.solve(*fe.sums(v0, fe.u0, fe.t0))
        return fe.fitted(a, lam, fe.u0, fe.t0)


def cluster_period_sums(w: np.ndarray, cl: np.ndarray, tid: np.ndarray, n_cl: int, nt: int,
                        fe: TwoWayFE | None = None):
    """Sums of ``w`` by cluster and period (clusters x periods): with ``fe`` (clusters are its units and ``w`` is
    on its rows) the solver's units x periods structure holding ``w`` (no copy); dense when that is small (one
    bincount), else sparse.

    Parameters
    ----------
    w : numpy.ndarray
        Values summed, one per row.
    cl : numpy.ndarray
        Cluster code of each row.
    tid : numpy.ndarray
        Period code of each row.
    n_cl : int
        Number of clusters.
    nt : int
        Number of periods.
    fe : TwoWayFE, optional
        The solver whose units are the clusters (the fast path).
    """
    from scipy import sparse

    if fe is not None:
        return fe.residual_matrix(w)
    if n_cl * nt <= w.size // 4:
        return np.bincount(cl * nt + tid, weights=w, minlength=n_cl * nt).reshape(n_cl, nt)
    return sparse.csr_matrix((w, (cl, tid)), shape=(n_cl, nt))  # duplicates summed


class _Imputed:
    """BJS estimates and their conservative clustered standard errors for any set of equally weighted treated
    rows, with work in proportion to those rows (plus units and periods), never to the panel.

    The imputation weights of the untreated rows are the first stage's fit of the treated weights
    (``v0 = -(a_i + (1, x_i)' lam_t)`` less the time-varying covariates' term), so their cluster sums with the
    residuals are ``-(sum_{i in c} a_i A_i + sum_k C_k lam_k) - XA gamma``: ``A_i`` the unit's residual sum,
    ``C_k`` cluster x period sums of ``x_k * residual`` and ``XA`` cluster sums of the demeaned time-varying
    covariates times the residuals, all formed once. The treated part uses ``tau_it`` less its cohort x
    event-time mean weighted by ``v^2`` (R didimputation's ``se_inner``).
    """

    def __init__(self, first: _FirstStage, adj, treated, key, cl, n_cl, unit_clusters: bool):
        fe = first.fe
        self.first, self.adj, self.cl, self.n_cl = first, adj, cl, n_cl
        uid_u, tid_u, adj_u = fe.u0, fe.t0, adj[~treated]  # the solver's rows are the untreated ones
        self.unit_cl = np.zeros(fe.nu, dtype=np.int64)
        self.unit_cl[first.uid] = cl  # clusters are constant within units (checked)
        self.A = np.bincount(uid_u, weights=adj_u, minlength=fe.nu)
        cl_u = None if unit_clusters else cl[~treated]
        self.C = [cluster_period_sums(adj_u if k == 0 else fe.Xt[uid_u, k] * adj_u, cl_u, tid_u, n_cl, fe.nt,
                                      fe if unit_clusters else None) for k in range(fe.Xt.shape[1])]
        del cl_u
        X = first.X
        if X.shape[1]:
            un = np.flatnonzero(~treated)
            Xu = X[un]
            self.XA = np.column_stack([np.bincount(cl[un], weights=first.Xt0[:, j] * adj_u, minlength=n_cl)
                                       for j in range(X.shape[1])])
            self.Xu_sum = np.column_stack([np.bincount(uid_u, weights=Xu[:, j], minlength=fe.nu)
                                           for j in range(X.shape[1])])
            self.Xt_sum = [np.column_stack([np.bincount(tid_u, weights=fe.Xt[uid_u, k] * Xu[:, j], minlength=fe.nt)
                                            for j in range(X.shape[1])]) for k in range(fe.Xt.shape[1])]
        self.key = key  # cohort x event time of the treated rows (a small code)
        self.leaveout = False  # BJS's leave-out averages in the treated part (spillover_did sets it)

    def estimate(self, rows: np.ndarray) -> tuple[float, float, np.ndarray]:
        """Estimate, SE and cluster scores of the equally weighted average of ``tau`` over the treated ``rows``."""
        first, fe = self.first, self.first.fe
        w1 = np.full(rows.size, 1.0 / rows.size)
        est = float(w1 @ self.adj[rows])
        a, lam = fe.solve(*fe.sums(w1, first.uid[rows], first.tid[rows]))
        lam = lam.reshape(fe.nt, -1)
        s = -np.bincount(self.unit_cl, weights=a * self.A, minlength=self.n_cl)
        for k, C in enumerate(self.C):
            s -= C @ lam[:, k]
        if first.X.shape[1]:
            X0v0 = -(self.Xu_sum.T @ a + sum(self.Xt_sum[k].T @ lam[:, k] for k in range(lam.shape[1])))
            gamma = first.XtX_inv @ (first.X[rows].T @ w1 + X0v0)
            s -= self.XA @ gamma
        # tau less its cohort x event-time mean weighted by v^2 (equal weights here), or its leave-out mean
        adj_r = treated_residuals(self.adj[rows], self.key[rows], self.cl[rows], self.leaveout)
        adj_r *= w1
        s += np.bincount(self.cl[rows], weights=adj_r, minlength=self.n_cl)
        return est, float(np.sqrt((s**2).sum())), s


def treated_residuals(tau: np.ndarray, key: np.ndarray, cl: np.ndarray, leaveout: bool = False) -> np.ndarray:
    """The treated rows' part of BJS's conservative variance: each row's imputed effect less the mean effect of its
    cohort x event-time cell (R ``didimputation``'s ``se_inner``, Borusyak, Jaravel & Spiess 2024, Theorem 3).

    With ``leaveout`` the mean is taken over the cell's rows in OTHER clusters (BJS 2024, Appendix A.6; Stata
    ``did_imputation``'s ``leaveout`` option): the plain mean absorbs part of a cluster's shared shock when a cell
    holds few clusters, which biases the variance down. A cell whose rows all lie in one cluster uses the
    leave-out mean of all treated rows (the project's fallback for a case the leave-out mean leaves undefined);
    with a single cluster in all, the plain cell mean.

    Parameters
    ----------
    tau : numpy.ndarray
        Imputed effects of the treated rows (outcome less its first-stage fit).
    key : numpy.ndarray
        Cohort x event-time code of each row.
    cl : numpy.ndarray
        Cluster code of each row.
    leaveout : bool
        Leave-out means instead of the cell means.

    Returns
    -------
    numpy.ndarray
        A new array of residuals.
    """
    tau = np.asarray(tau, float)
    _, k = np.unique(key, return_inverse=True)
    s_k, n_k = np.bincount(k, weights=tau), np.bincount(k).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s_k[k] / n_k[k]
    if not leaveout:
        return tau - mean
    _, c = np.unique(cl, return_inverse=True)
    _, ck = np.unique(c.astype(np.int64) * n_k.size + k, return_inverse=True)  # cluster x cell, one integer code
    s_ck, n_ck = np.bincount(ck, weights=tau), np.bincount(ck).astype(float)
    s_c, n_c = np.bincount(c, weights=tau), np.bincount(c).astype(float)
    num, den = s_k[k] - s_ck[ck], n_k[k] - n_ck[ck]
    o_num, o_den = tau.sum() - s_c[c], tau.size - n_c[c]
    with np.errstate(invalid="ignore", divide="ignore"):
        tb = np.where(den > 0, num / den, np.where(o_den > 0, o_num / o_den, mean))
    return tau - tb


class _LeadProjections:
    """Projections ``P L_j`` of the lead dummies on the first stage, one solve per lead from the lead's own rows.

    Without time-varying covariates the first stage is the fixed-effects solver alone, whose fit of ``L_j`` is
    ``a_j[i] + (1, x_i)' lam_j[t]``: what the test needs from it is read at the lead rows (``L'PL``) or through
    cluster x period sums of the residuals (the scores), never over every row. With time-varying covariates
    each ``P L_j`` is formed over the untreated rows (one panel-length vector at a time).
    """

    def __init__(self, first: _FirstStage, lead: np.ndarray, k: int, m: np.ndarray):
        self.first, self.lead, self.k, self.m = first, lead, k, m
        self.rows = np.flatnonzero(lead >= 0)
        self.fast = first.X.shape[1] == 0
        if self.fast:
            fe, order = first.fe, np.argsort(lead[self.rows], kind="stable")
            self.rows = self.rows[order]
            edges = np.searchsorted(lead[self.rows], np.arange(k + 1))
            self.sol, self.sums = [], []
            for j in range(k):
                r = self.rows[edges[j]:edges[j + 1]]
                self.sums.append(fe.sums(np.ones(r.size), first.uid[r], first.tid[r]))
                self.sol.append(fe.solve(*self.sums[-1]))
            del self.rows  # what the test needs from the lead rows is in their unit and period sums

    def _full(self, j: int) -> np.ndarray:
        Lj = (self.lead == j).astype(float)
        return self.first.fit(Lj)[self.m]

    def gram(self) -> np.ndarray:
        """``L'PL`` (k x k)."""
        out = np.zeros((self.k, self.k))
        if self.fast:  # the fit of lead j summed over lead i's rows: lead i's unit and period sums times j's effects
            bu = np.column_stack([b_u for b_u, _ in self.sums])
            bt = np.stack([np.asarray(b_t).reshape(self.first.fe.nt, -1) for _, b_t in self.sums])
            self.sums = None  # read once
            for j in range(self.k):
                a, lam = self.sol[j]
                out[:, j] = bu.T @ a + np.einsum("itq,tq->i", bt, np.asarray(lam).reshape(self.first.fe.nt, -1))
            return out
        lm = self.lead[self.m]
        for j in range(self.k):
            out[:, j] = np.bincount(lm[lm >= 0], weights=self._full(j)[lm >= 0], minlength=self.k)
        return out

    def cluster_scores(self, u: np.ndarray, cl: np.ndarray, n_cl: int, cols: np.ndarray,
                       unit_clusters: bool = False) -> np.ndarray:
        """``sum_{rows in c} (L_j - P L_j) u`` for the leads ``cols`` (clusters x leads; ``u`` on untreated rows;
        ``unit_clusters``: the clusters are the units, ``cl`` their codes)."""
        fe = self.first.fe
        m, lm = self.m, self.lead[self.m]
        cm = fe.u0 if unit_clusters else cl[m]  # the untreated rows are the solver's rows
        out = np.zeros((n_cl, cols.size))
        for i, j in enumerate(cols):
            out[:, i] = np.bincount(cm[lm == j], weights=u[lm == j], minlength=n_cl)
        if not self.fast:
            for i, j in enumerate(cols):
                out[:, i] -= np.bincount(cm, weights=self._full(j) * u, minlength=n_cl)
            return out
        uid, tid = fe.u0, fe.t0
        unit_cl = np.zeros(fe.nu, dtype=np.int64)
        unit_cl[uid] = cm  # clusters are constant within units (checked)
        U = np.bincount(uid, weights=u, minlength=fe.nu)  # per-unit residual sums (zero with unit effects)
        for kx in range(fe.Xt.shape[1]):
            C = cluster_period_sums(u if kx == 0 else fe.Xt[uid, kx] * u, cm, tid, n_cl, fe.nt,
                                    fe if unit_clusters else None)
            lam = np.column_stack([self.sol[j][1].reshape(fe.nt, -1)[:, kx] for j in cols])
            out -= C @ lam
        for i, j in enumerate(cols):
            out[:, i] -= np.bincount(unit_cl, weights=self.sol[j][0] * U, minlength=n_cl)
        return out


def _pretrend_test(adj, e, ever, untreated, first: _FirstStage, cl, n_cl, tid,
                   unit_clusters: bool = False) -> tuple[list, list, dict]:
    """BJS's pre-trend test: OLS on untreated observations of the outcome on pre-period event-time dummies (the
    last pre-period the reference) with the first stage's effects and covariates absorbed (R ``didimputation``:
    ``feols(y ~ leads | first_stage)`` on untreated rows), fixest's clustered covariance.

    The dummies are never formed as a dense design: each is projected through the first stage's exact solver
    (``first.fit``), ``L'ML`` and ``L'My`` are gathered lead by lead, and the residuals' cluster scores
    ``sum_c (M L_j) u`` are accumulated in a second pass, so memory stays a few vectors of the panel's length.
    ``adj``: the outcome less the first stage's fit (its residuals on the untreated rows); ``e``: event times
    (read where ``ever`` treated). Returns the rows of the pre-period table, the cluster scores of each
    coefficient and the Wald test.
    """
    from scipy import stats

    m = untreated
    pre_rows = np.flatnonzero(m & ever)
    e_pre = e[pre_rows]
    pre_e = sorted(int(v) for v in np.unique(e_pre) if v < 0)
    keep_e = pre_e[:-1]  # the last pre-period is the reference (collinear with unit effects otherwise)
    if not keep_e:
        return [], [], {"W": None, "df": 0, "pvalue": None}
    k = len(keep_e)
    lead = np.full(e.size, -1, np.int16 if k < 2**15 else np.int64)
    pos = np.searchsorted(keep_e, e_pre)
    hit = pos < k
    hit[hit] = np.asarray(keep_e)[pos[hit]] == e_pre[hit]
    lead[pre_rows[hit]] = pos[hit]
    del pre_rows, e_pre, pos, hit
    counts = np.bincount(lead[lead >= 0], minlength=k).astype(float)

    lm = lead[m]
    on = lm >= 0
    r_y = adj[m]
    proj = _LeadProjections(first, lead, k, m)
    gram = np.diag(counts) - proj.gram()  # L'ML = L'L - L'PL
    Lty = np.bincount(lm[on], weights=r_y[on], minlength=k)  # L'My
    kk = np.flatnonzero(np.diag(gram) > 1e-16 * np.maximum(counts, 1.0))  # dummies the effects do not absorb
    XtX_inv = np.linalg.pinv(gram[np.ix_(kk, kk)])
    beta = XtX_inv @ Lty[kk]
    b_full = np.zeros(k)
    b_full[kk] = beta
    Lb = np.where(on, b_full[np.maximum(lm, 0)], 0.0)  # the fitted leads on the untreated rows
    Lb -= first.fit_untreated(Lb)
    u = r_y
    u -= Lb
    del Lb
    S = proj.cluster_scores(u, cl, n_cl, kk, unit_clusters)  # sum_{c} (M L_j) u, clusters of the full panel
    G = int((first.fe.cu > 0).sum()) if unit_clusters else int((np.bincount(cl[m]) > 0).sum())
    n = int(m.sum())
    # leads, period levels, covariates and their period slopes (fixest's K; unit effects nest in the clusters)
    K = kk.size + int((first.fe.ct > 0).sum()) + first.X.shape[1] + first.fe.n_slopes
    ssc = (G / (G - 1)) * ((n - 1) / (n - K))
    V = XtX_inv @ (S.T @ S) @ XtX_inv * ssc
    scores = np.sqrt(ssc) * (S @ XtX_inv)
    pre = [{"event_time": keep_e[j], "att": float(beta[i]), "se": float(np.sqrt(V[i, i])), "n_obs": int(counts[j])}
           for i, j in enumerate(kk)]
    W = float(beta @ np.linalg.solve(V, beta))
    return pre, list(scores.T), {"W": W, "df": int(kk.size), "pvalue": float(1 - stats.chi2.cdf(W, kk.size))}


def _cohort_event_key(g: np.ndarray, e: np.ndarray, treated: np.ndarray) -> np.ndarray:
    """A small non-negative code of (cohort, event time) for the treated rows (0 elsewhere): equal codes, equal
    cells."""
    gt, et = g[treated], e[treated]
    if not gt.size:
        return np.zeros(g.size, np.int32)
    cohorts, gi = np.unique(gt, return_inverse=True)
    ev, ei = np.unique(et, return_inverse=True)
    key = np.zeros(g.size, np.int32 if cohorts.size * ev.size < 2**31 else np.int64)
    key[treated] = gi * ev.size + ei
    return key


def did_imputation(
    data: pd.DataFrame,
    *,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    horizon: bool | list[int] = True,
    pretrends: bool = True,
    xformla: str | None = None,
    anticipation: int = 0,
    clustervars: str | None = None,
    alp: float = 0.05,
) -> EventStudyResult:
    """Imputation estimator of Borusyak, Jaravel and Spiess (2024).

    Unit and period effects are fitted on untreated observations only (never treated, and treated
    units before ``gname``); the untreated outcome of each treated observation is imputed and the
    effects averaged, by event time (``horizon``) and overall (``overall_att``, all treated
    observations equally weighted). Standard errors are BJS's conservative clustered variance with
    cohort × event-time averages of the effects, as R ``didimputation`` computes them. With
    ``pretrends`` the event-time dummies of the pre-period (reference: the last pre-period) are
    tested on untreated observations.

    ``xformla`` adds covariates to the first stage (fitted on untreated observations): time-varying ones as they
    are, time-invariant ones interacted with period dummies (conditional parallel trends; R ``didimputation``'s
    ``first_stage = ~ 0 | id + year + year[x]``). ``anticipation`` months before ``gname`` count as treated
    (excluded from the first stage; event times start at ``-anticipation``).

    Parameters
    ----------
    data : pandas.DataFrame
        Long panel: one row per unit and period.
    yname : str
        Outcome column.
    tname : str
        Period column (numeric, e.g. a month code or a year).
    idname : str
        Unit identifier column.
    gname : str
        Cohort column: the first treated period of the unit, 0 (or missing) for never-treated units.
    horizon : bool or list of int
        Event times to estimate: True for every event time observed among treated observations, a list for those only,
        False for the overall effect alone.
    pretrends : bool
        Test the pre-period event-time dummies on untreated observations (reference: the last pre-period).
    xformla : str, optional
        Covariates as a one-sided formula (``"~ x1 + x2"``); time-invariant ones are interacted with period dummies
        (conditional parallel trends).
    anticipation : int
        Periods before ``gname`` in which units may already react; they count as treated.
    clustervars : str, optional
        Cluster variable of the standard errors (default: the unit).
    alp : float
        Significance level of the intervals (default 0.05).
    """
    from ..core.design import check_panel, covariate_parts, panel_codes

    check_panel(data, yname=yname, tname=tname, idname=idname, gname=gname,
                clustervars=[clustervars] if clustervars else [])
    ok = data[yname].notna().to_numpy()
    df = data if ok.all() else data.loc[ok].reset_index(drop=True)  # no copy of the frame unless rows drop
    del ok
    y = df[yname].to_numpy(float)
    gcol = df[gname]
    g = (gcol.fillna(0) if gcol.hasnans else gcol).to_numpy()
    e = df[tname].to_numpy() - g  # event time where treated (g > 0)
    ever = g > 0
    treated = ever & (e >= -anticipation)
    untreated = ~treated
    key = _cohort_event_key(g, e, treated)
    uid, tid = panel_codes(df, idname, tname)
    # time-invariant covariates get period-specific slopes inside the fixed-effects solver (no rows x periods
    # design); time-varying ones enter the first stage by Frisch-Waugh-Lovell
    Xv, Xu = covariate_parts(xformla, df, idname)
    fe = TwoWayFE(uid, tid, untreated, Xu if Xu.shape[1] else None)
    first = _FirstStage(Xv, uid, tid, untreated, fe)
    adj = first.fit(y)  # fitted untreated outcome, then (in place) residuals (untreated) and effects tau (treated)
    np.subtract(y, adj, out=adj)
    if clustervars:
        cl, n_cl = pd.factorize(df[clustervars])[0], None
        n_cl = int(cl.max()) + 1
    else:
        cl, n_cl = uid, fe.nu  # units are the clusters: codes 0..units-1 already
    imp = _Imputed(first, adj, treated, key, cl, n_cl, unit_clusters=not clustervars)
    tr = np.flatnonzero(treated)
    overall, overall_se, _ = imp.estimate(tr)
    rows, scores = [], []
    if horizon is not False:
        hs = sorted(int(h) for h in np.unique(e[treated])) if horizon is True else sorted(horizon)
        order = tr[np.argsort(e[tr], kind="stable")]
        edges = np.searchsorted(e[order], hs, side="left"), np.searchsorted(e[order], hs, side="right")
        for h, lo, hi in zip(hs, *edges, strict=True):
            if hi == lo:
                continue
            est, se, sc = imp.estimate(order[lo:hi])
            rows.append({"event_time": h, "att": est, "se": se, "n_obs": int(hi - lo)})
            scores.append(sc)
    pre, pre_scores, pretest = [], [], {"W": None, "df": 0, "pvalue": None}
    if pretrends:
        pre, pre_scores, pretest = _pretrend_test(adj, e, ever, untreated, first, cl, n_cl, tid, not clustervars)
    table = pd.DataFrame(pre + rows, columns=["event_time", "att", "se", "n_obs"])
    # joint covariance of pre-trend coefficients and event-time effects from their cluster scores (diagonal = the
    # reported variances; pre-trend scores carry the small-sample factor of their regression) — HonestDiD's input
    C = np.column_stack(pre_scores + scores) if (pre_scores or scores) else np.zeros((n_cl, 0))
    vcov = pd.DataFrame(C.T @ C, index=table.event_time.to_numpy(), columns=table.event_time.to_numpy())
    return EventStudyResult(estimator="Imputation (Borusyak–Jaravel–Spiess)", table=table, overall_att=overall,
                            overall_se=overall_se, alp=alp, vcov=vcov,
                            params=dict(yname=yname, tname=tname, idname=idname, gname=gname, xformla=xformla,
                                        anticipation=anticipation, clustervars=clustervars or idname),
                            extra={"pretest": pretest})
