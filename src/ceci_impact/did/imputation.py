"""Borusyak–Jaravel–Spiess imputation estimator (``did_imputation``), with R didimputation's variance."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .fixed_effects import TwoWayFE, check_imputable, fe_fit_untreated, v_untreated
from .results import EventStudyResult


class _FirstStage:
    """Untreated-outcome model: unit and period effects plus covariates ``X``, fitted on untreated rows (FWL).

    With ``X`` demeaned on the untreated rows (``Xt``), ``beta = (Xt'Xt)^{-1} Xt' y0`` and the effects are the
    two-way fit of ``y - X beta``; BJS's weights become ``v0 = v0_FE - Xt (Xt'Xt)^{-1} (X1'w1 + X0'v0_FE)``.
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

    def v_untreated(self, w1: np.ndarray) -> np.ndarray:
        """BJS imputation weights of the untreated rows for treated weights ``w1``."""
        v0 = v_untreated(w1, self.uid, self.tid, self.untreated, self.fe)
        if not self.X.shape[1]:
            return v0
        r = self.X[~self.untreated].T @ w1 + self.X[self.untreated].T @ v0
        return v0 - self.Xt0 @ (self.XtX_inv @ r)


def _pretrend_test(y, e, g, untreated, first: _FirstStage, cl, n_cl, tid) -> tuple[list, list, dict]:
    """BJS's pre-trend test: OLS on untreated observations of the outcome on pre-period event-time dummies (the
    last pre-period the reference) with the first stage's effects and covariates absorbed (R ``didimputation``:
    ``feols(y ~ leads | first_stage)`` on untreated rows), fixest's clustered covariance.

    The dummies are never formed as a dense design: each is projected through the first stage's exact solver
    (``first.fit``), ``L'ML`` and ``L'My`` are gathered lead by lead, and the residuals' cluster scores
    ``sum_c (M L_j) u`` are accumulated in a second pass, so memory stays a few vectors of the panel's length.
    Returns the rows of the pre-period table, the cluster scores of each coefficient and the Wald test.
    """
    from scipy import stats

    pre_e = sorted(int(v) for v in np.unique(e[untreated & (g > 0)]) if v < 0)
    keep_e = pre_e[:-1]  # the last pre-period is the reference (collinear with unit effects otherwise)
    if not keep_e:
        return [], [], {"W": None, "df": 0, "pvalue": None}
    m = untreated
    lead = np.full(y.size, -1)
    lead[m & (g > 0)] = np.searchsorted(keep_e, e[m & (g > 0)])
    lead[(lead >= len(keep_e)) | ~np.isin(e, keep_e)] = -1
    k = len(keep_e)
    counts = np.bincount(lead[lead >= 0], minlength=k).astype(float)

    def annihilated(j):  # M L_j on the untreated rows
        Lj = (lead == j).astype(float)
        return (Lj - first.fit(Lj))[m]

    lm = lead[m]
    on = lm >= 0
    gram, Lty = np.zeros((k, k)), np.zeros(k)
    for j in range(k):
        r = annihilated(j)
        gram[:, j] = np.bincount(lm[on], weights=r[on], minlength=k)  # L'(M L_j), M symmetric and idempotent
        Lty[j] = r @ y[m]
    kk = np.flatnonzero(np.diag(gram) > 1e-16 * np.maximum(counts, 1.0))  # dummies the effects do not absorb
    XtX_inv = np.linalg.pinv(gram[np.ix_(kk, kk)])
    beta = XtX_inv @ Lty[kk]
    b_full = np.zeros(k)
    b_full[kk] = beta
    Lb = np.where(lead >= 0, b_full[np.maximum(lead, 0)], 0.0)
    u = (y - first.fit(y))[m] - (Lb - first.fit(Lb))[m]
    cm = pd.factorize(cl[m])[0]
    G = int(cm.max()) + 1
    S = np.column_stack([np.bincount(cm, weights=annihilated(j) * u, minlength=G) for j in kk])
    n = int(m.sum())
    # leads, period levels, covariates and their period slopes (fixest's K; unit effects nest in the clusters)
    K = kk.size + np.unique(tid[m]).size + first.X.shape[1] + first.fe.n_slopes
    ssc = (G / (G - 1)) * ((n - 1) / (n - K))
    V = XtX_inv @ (S.T @ S) @ XtX_inv * ssc
    scores = np.zeros((n_cl, kk.size))
    first_row = np.unique(cm, return_index=True)[1]
    scores[cl[m][first_row]] = np.sqrt(ssc) * (S @ XtX_inv)  # cluster codes of the full panel
    pre = [{"event_time": keep_e[j], "att": float(beta[i]), "se": float(np.sqrt(V[i, i])), "n_obs": int(counts[j])}
           for i, j in enumerate(kk)]
    W = float(beta @ np.linalg.solve(V, beta))
    return pre, list(scores.T), {"W": W, "df": int(kk.size), "pvalue": float(1 - stats.chi2.cdf(W, kk.size))}


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
    from .design import covariate_parts

    # time-invariant covariates get period-specific slopes inside the fixed-effects solver (no rows x periods
    # design); time-varying ones enter the first stage by Frisch-Waugh-Lovell
    Xv, Xu = covariate_parts(xformla, df, idname)
    fe = TwoWayFE(uid, tid, untreated, Xu if Xu.shape[1] else None)
    first = _FirstStage(Xv, uid, tid, untreated, fe)
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
    pre, pre_scores, pretest = [], [], {"W": None, "df": 0, "pvalue": None}
    if pretrends:
        pre, pre_scores, pretest = _pretrend_test(y, e, g, untreated, first, cl, n_cl, tid)
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
