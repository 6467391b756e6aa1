"""Borusyak–Jaravel–Spiess imputation estimator (``did_imputation``), with R didimputation's variance."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .fixed_effects import TwoWayFE, fe_fit_untreated, v_untreated, within_ols
from .results import EventStudyResult


class _FirstStage:
    """Untreated-outcome model: unit and period effects plus covariates ``X``, fitted on untreated rows (FWL).

    With ``X`` demeaned on the untreated rows (``Xt``), ``beta = (Xt'Xt)^{-1} Xt' y0`` and the effects are the
    two-way fit of ``y - X beta``; BJS's weights become ``v0 = v0_FE - Xt (Xt'Xt)^{-1} (X1'w1 + X0'v0_FE)``.
    """

    def __init__(self, X, uid, tid, untreated, fe: TwoWayFE):
        self.uid, self.tid, self.untreated, self.fe = uid, tid, untreated, fe
        self.X = X
        if X.shape[1]:
            Xt0 = np.column_stack([X[untreated, j] - fe_fit_untreated(X[:, j], uid, tid, untreated, fe)[untreated]
                                   for j in range(X.shape[1])])
            keep = np.abs(Xt0).max(axis=0) > 1e-10  # columns absorbed by the effects (or empty) drop out
            self.X, self.Xt0 = X[:, keep], Xt0[:, keep]
            self.XtX_inv = np.linalg.pinv(self.Xt0.T @ self.Xt0)

    def fit(self, y: np.ndarray) -> np.ndarray:
        """Fitted untreated outcome for every row."""
        if not self.X.shape[1]:
            return fe_fit_untreated(y, self.uid, self.tid, self.untreated, self.fe)
        y0 = y[self.untreated]
        beta = self.XtX_inv @ (self.Xt0.T @ y0)
        xb = self.X @ beta
        return xb + fe_fit_untreated(y - xb, self.uid, self.tid, self.untreated, self.fe)

    def v_untreated(self, w1: np.ndarray) -> np.ndarray:
        """BJS imputation weights of the untreated rows for treated weights ``w1``."""
        v0 = v_untreated(w1, self.uid, self.tid, self.untreated, self.fe)
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
    fe = TwoWayFE(uid, tid, untreated)
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
