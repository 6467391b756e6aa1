"""Borusyak–Jaravel–Spiess imputation estimator (``did_imputation``), with R didimputation's variance."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._options import CeciError
from .results import EventStudyResult
from .twfe import within_ols


class _TwoWayFE:
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


def _fe_fit_untreated(y, uid, tid, untreated, fe: _TwoWayFE):
    """Unit and period effects fitted on untreated observations; returns fitted values for all rows."""
    if (fe.cu[np.unique(uid[~untreated])] == 0).any():
        raise CeciError("some treated units have no untreated observation: their unit effect cannot be imputed "
                        "(units treated in the first period?)")
    if (fe.ct[np.unique(tid[~untreated])] == 0).any():
        raise CeciError("some periods have no untreated observation: their period effect cannot be imputed "
                        "(all units treated by then; drop those periods)")
    y0 = y[untreated]
    a, lam = fe.solve(np.bincount(fe.u0, weights=y0, minlength=fe.nu), np.bincount(fe.t0, weights=y0, minlength=fe.nt))
    return a[uid] + lam[tid]


def _v_untreated(w_treated, uid, tid, untreated, fe: _TwoWayFE):
    """BJS eq. (6): v = -Z0 (Z0'Z0)^{-1} Z1' w1 for untreated rows."""
    b_u = np.bincount(uid[~untreated], weights=w_treated, minlength=fe.nu)
    b_t = np.bincount(tid[~untreated], weights=w_treated, minlength=fe.nt)
    a, lam = fe.solve(b_u, b_t)
    return -(a[fe.u0] + lam[fe.t0])


class _FirstStage:
    """Untreated-outcome model: unit and period effects plus covariates ``X``, fitted on untreated rows (FWL).

    With ``X`` demeaned on the untreated rows (``Xt``), ``beta = (Xt'Xt)^{-1} Xt' y0`` and the effects are the
    two-way fit of ``y - X beta``; BJS's weights become ``v0 = v0_FE - Xt (Xt'Xt)^{-1} (X1'w1 + X0'v0_FE)``.
    """

    def __init__(self, X, uid, tid, untreated, fe: _TwoWayFE):
        self.uid, self.tid, self.untreated, self.fe = uid, tid, untreated, fe
        self.X = X
        if X.shape[1]:
            Xt0 = np.column_stack([X[untreated, j] - _fe_fit_untreated(X[:, j], uid, tid, untreated, fe)[untreated]
                                   for j in range(X.shape[1])])
            keep = np.abs(Xt0).max(axis=0) > 1e-10  # columns absorbed by the effects (or empty) drop out
            self.X, self.Xt0 = X[:, keep], Xt0[:, keep]
            self.XtX_inv = np.linalg.pinv(self.Xt0.T @ self.Xt0)

    def fit(self, y: np.ndarray) -> np.ndarray:
        """Fitted untreated outcome for every row."""
        if not self.X.shape[1]:
            return _fe_fit_untreated(y, self.uid, self.tid, self.untreated, self.fe)
        y0 = y[self.untreated]
        beta = self.XtX_inv @ (self.Xt0.T @ y0)
        xb = self.X @ beta
        return xb + _fe_fit_untreated(y - xb, self.uid, self.tid, self.untreated, self.fe)

    def v_untreated(self, w1: np.ndarray) -> np.ndarray:
        """BJS imputation weights of the untreated rows for treated weights ``w1``."""
        v0 = _v_untreated(w1, self.uid, self.tid, self.untreated, self.fe)
        if not self.X.shape[1]:
            return v0
        r = self.X[~self.untreated].T @ w1 + self.X[self.untreated].T @ v0
        return v0 - self.Xt0 @ (self.XtX_inv @ r)


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
    """
    from .design import check_panel

    check_panel(data, yname=yname, tname=tname, idname=idname, gname=gname,
                clustervars=[clustervars] if clustervars else [])
    df = data.dropna(subset=[yname]).reset_index(drop=True)
    y = df[yname].to_numpy(float)
    t = df[tname].to_numpy(float)
    g = df[gname].fillna(0).to_numpy(float)
    treated = (g > 0) & (t >= g - anticipation)
    untreated = ~treated
    uid = pd.factorize(df[idname])[0]
    tid = pd.factorize(df[tname])[0]
    fe = _TwoWayFE(uid, tid, untreated)
    from .design import covariate_design

    Xc, _ = covariate_design(xformla, df, idname, tname)
    first = _FirstStage(Xc, uid, tid, untreated, fe)
    adj = y - first.fit(y)  # residuals (untreated) and effects tau (treated)
    e = np.where(g > 0, t - g, np.nan)
    cl = pd.factorize(df[clustervars] if clustervars else df[idname])[0]

    key = pd.factorize(pd.MultiIndex.from_arrays([g, np.where(np.isnan(e), -1e9, e)]))[0]
    s_cl = cl

    def estimate(wvec):
        w1 = wvec[treated] / wvec[treated].sum()
        est = float(w1 @ adj[treated])
        v = np.zeros(len(df))
        v[treated] = w1
        v[untreated] = first.v_untreated(w1)
        # tau_bar by cohort x event time, weighted by v^2 (didimputation se_inner)
        num = np.bincount(key, weights=v**2 * adj)
        den = np.bincount(key, weights=v**2)
        tbar = np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)
        resid = np.where(treated, adj - tbar[key], adj)
        s = np.bincount(s_cl, weights=v * resid, minlength=n_cl)
        return est, float(np.sqrt((s**2).sum())), s

    n_cl = int(cl.max()) + 1
    overall, overall_se, _ = estimate(treated.astype(float))
    rows, scores = [], []
    if horizon is not False:
        hs = sorted(int(h) for h in np.unique(e[treated])) if horizon is True else sorted(horizon)
        for h in hs:
            wv = (treated & (e == h)).astype(float)
            if wv.sum() == 0:
                continue
            est, se, sc = estimate(wv)
            rows.append({"event_time": h, "att": est, "se": se, "n_obs": int(wv.sum())})
            scores.append(sc)
    pre, pre_scores = [], []
    if pretrends:
        pre_e = sorted(int(v) for v in np.unique(e[untreated & (g > 0)]) if v < 0)
        keep_e = pre_e[:-1]  # the last pre-period is the reference (collinear with unit effects otherwise)
        if keep_e:
            X = np.column_stack([(untreated & (e == k)).astype(float) for k in keep_e])
            m = untreated
            b, V, kk, obs_sc, ssc = within_ols(y[m], X[m], pd.factorize(uid[m])[0], pd.factorize(tid[m])[0], cl[m],
                                               return_scores=True)
            pre_scores = [np.sqrt(ssc) * np.bincount(cl[m], weights=obs_sc[:, j], minlength=n_cl) for j in range(b.size)]
            X, keep_e = X[:, kk], [e_ for e_, k_ in zip(keep_e, kk, strict=True) if k_]
            for j, k in enumerate(keep_e):
                pre.append({"event_time": k, "att": float(b[j]), "se": float(np.sqrt(V[j, j])), "n_obs": int(X[m, j].sum())})
            Wald = float(b @ np.linalg.solve(V, b))
            from scipy import stats

            pretest = {"W": Wald, "df": len(keep_e), "pvalue": float(1 - stats.chi2.cdf(Wald, len(keep_e)))}
        else:
            pretest = {"W": None, "df": 0, "pvalue": None}
    else:
        pretest = {"W": None, "df": 0, "pvalue": None}
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
