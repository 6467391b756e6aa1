"""A hand-written numpy floor for ``att_gt`` on the benchmark's panels: the same estimand (DR ATT(g,t) against
never-treated units, varying base period, analytic or 1,000-draw multiplier-bootstrap SEs), written as directly
as numpy allows and with nothing a general tool needs: the rows are assumed sorted by unit and period with
every period present (true of the benchmark panels), nothing is validated, no result object is built and
the influence functions are dropped once the standard errors are computed.

Per cohort: the 2x2 design (cohort + never treated), the outcome changes of all its cells as one matrix, the
doubly robust estimator of Sant'Anna & Zhao (2020) in closed form (intercept-only: difference of means), its
influence functions, and either their sums of squares or ``V' psi`` for Mammen weights ``V``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def _logit(X, D):
    beta = np.zeros(X.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-X @ beta))
        step = np.linalg.solve(X.T @ (X * (p * (1 - p))[:, None]), X.T @ (D - p))
        beta += step
        if np.abs(step).max() < 1e-12:
            break
    return 1 / (1 + np.exp(-X @ beta))


def _dr(DY, D, X):
    """DR DiD (panel) for every column of DY; returns att and the influence functions (n x m)."""
    n = D.size
    ps = np.minimum(_logit(X, D), 1 - 1e-6) if X.shape[1] > 1 else np.full(n, D.mean())
    wt, wc = D, ps * (1 - D) / (1 - ps) * (ps < 0.995)
    Xc = X * (1 - D)[:, None]
    A = Xc.T @ X
    B = np.linalg.solve(A, Xc.T @ DY)
    R = DY - X @ B
    mwt, mwc = wt.mean(), wc.mean()
    eta_t, eta_c = wt @ R / n / mwt, wc @ R / n / mwc
    Ai = np.linalg.inv(A / n)
    v1, v3 = X @ (Ai @ (wt @ X / n)), X @ (Ai @ (wc @ X / n))
    Hps = np.linalg.inv(X.T @ (X * (ps * (1 - ps))[:, None])) * n
    M2 = ((X.T * wc) @ R - np.outer(X.T @ wc, eta_c)) / n
    a = wt / mwt - (1 - D) * v1 / mwt - wc / mwc + (1 - D) * v3 / mwc
    score = (D - ps)[:, None] * X
    inf = R * a[:, None] - np.outer(wt / mwt, eta_t) + np.outer(wc / mwc, eta_c) - score @ (Hps @ M2) / mwc
    return eta_t - eta_c, inf


def floor_att_gt(df: pd.DataFrame, cov: bool, boot: bool, biters: int = 1000, seed: int = 1):
    ids = df["id"].to_numpy()
    T = int(np.argmax(ids != ids[0]))
    n = ids.size // T
    Y = df["y"].to_numpy().reshape(n, T)
    g = df["g"].to_numpy()[::T]
    tl = df["t"].to_numpy()[:T]
    X = np.column_stack([np.ones(n), df["x"].to_numpy()[::T]]) if cov else np.ones((n, 1))
    V = None
    if boot:
        rng = np.random.default_rng(seed)
        k1, k2 = (1 - 5**0.5) / 2, (1 + 5**0.5) / 2
        V = np.where(rng.random((n, biters)) < (5**0.5 + 1) / (2 * 5**0.5), k1, k2)
    G, Tt, A, S, DR = [], [], [], [], []
    for gv in np.unique(g[g > 0]):
        rows = np.flatnonzero((g == gv) | (g == 0))
        gi = int(np.searchsorted(tl, gv))  # index of the first treated period
        tc = np.arange(1, T)
        tp = np.where(tc < gi, tc - 1, gi - 1)
        Yk = Y[rows]
        att, inf = _dr(Yk[:, tc] - Yk[:, tp], (g[rows] == gv).astype(float), X[rows])
        inf *= n / rows.size
        G.append(np.full(tc.size, gv, float))
        Tt.append(tl[tc].astype(float))
        A.append(att)
        if boot:
            DR.append(V[rows].T @ inf / n)
        else:
            S.append(np.sqrt((inf**2).sum(axis=0)) / n)
    if boot:
        draws = np.sqrt(n) * np.hstack(DR)
        q = np.quantile(draws, [0.25, 0.75], axis=0, method="inverted_cdf")
        bsig = (q[1] - q[0]) / (stats.norm.ppf(0.75) - stats.norm.ppf(0.25))
        _se = bsig / np.sqrt(n)
        np.quantile(np.abs(draws / bsig).max(axis=1), 0.95, method="inverted_cdf")  # the band's critical value
    return np.concatenate(G), np.concatenate(Tt), np.concatenate(A)
