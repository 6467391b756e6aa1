"""Sun–Abraham interaction-weighted event study (fixest ``sunab``)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from ..._options import CeciError, check_option
from ..core.linalg import pinv_cached
from ..core.results import EventStudyResult
from .fixed_effects import TwoWayFE, fe_fit_untreated

SunabControl = Literal["nevertreated", "lasttreated"]


def sun_abraham(
    data: pd.DataFrame,
    *,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    control_group: SunabControl = "nevertreated",
    ref_e: int = -1,
    clustervars: str | None = None,
    alp: float = 0.05,
) -> EventStudyResult:
    """Interaction-weighted estimator of Sun and Abraham (2021).

    Regresses the outcome on cohort × relative-period indicators (every relative period but
    ``ref_e``) with unit and period effects, using the never-treated units (or, with
    ``control_group="lasttreated"``, the last-treated cohort, whose periods from its treatment on are
    dropped) as the comparison; event-time effects average the cohort-specific coefficients with
    cohort-share weights (observations per cohort at that event time), and ``overall_att`` averages
    all post-treatment cohort × period coefficients weighted by observations (fixest's ``"ATT"``).
    Standard errors are clustered (fixest's small-sample correction) and propagated by the delta method.

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
    control_group : {'nevertreated', 'lasttreated'}
        Comparison units: the never-treated, or the last-treated cohort (its periods from its treatment on dropped).
    ref_e : int
        Reference relative period, left out of the regression (default -1).
    clustervars : str, optional
        Cluster variable of the standard errors (default: the unit).
    alp : float
        Significance level of the intervals (default 0.05).
    """
    check_option("control_group", control_group, SunabControl)
    from ..core.design import check_panel

    check_panel(data, yname=yname, tname=tname, idname=idname, gname=gname,
                clustervars=[clustervars] if clustervars else [])
    df = data.dropna(subset=[yname]).copy()
    df[gname] = df[gname].fillna(0)
    if control_group == "lasttreated":
        last = df[gname].max()
        df = df[df[tname] < last]
        df.loc[df[gname] == last, gname] = 0
    g = df[gname].to_numpy(float)
    t = df[tname].to_numpy(float)
    if not (g == 0).any():
        raise CeciError("no comparison units: no never-treated units; use control_group='lasttreated'")
    rel = np.where(g > 0, t - g, np.nan)
    cohorts = sorted(np.unique(g[g > 0]))
    tr = g > 0  # one coefficient per cohort x relative period (observations counted in one pass)
    cells = pd.DataFrame({"g": g[tr], "e": rel[tr]}).value_counts().sort_index()
    cells = cells[cells.index.get_level_values("e") != ref_e]
    meta = [(c, int(e), int(n)) for (c, e), n in cells.items()]
    names = [f"rel::{e}:cohort::{c:g}" for c, e, _ in meta]
    uid = pd.factorize(df[idname])[0]
    tid = pd.factorize(df[tname])[0]
    balanced = len(df) == (uid.max() + 1) * (tid.max() + 1)
    if balanced and clustervars in (None, idname):
        b, V, keep = _sunab_balanced(df[yname].to_numpy(float), g, uid, tid, t, meta)
    else:
        cell = cells.index.get_indexer(pd.MultiIndex.from_arrays([g, rel]))  # -1: comparison rows and ref_e
        cl = pd.factorize(df[clustervars] if clustervars else df[idname])[0]
        b, V, keep = _sunab_sparse(df[yname].to_numpy(float), uid, tid, cell, len(meta), cl)
    meta = [m for m, k in zip(meta, keep, strict=True) if k]
    names = [nm for nm, k in zip(names, keep, strict=True) if k]
    coh = np.array([m[0] for m in meta])
    ev = np.array([m[1] for m in meta])
    cnt = np.array([m[2] for m in meta], float)
    es = sorted(np.unique(ev))
    Wm = np.zeros((len(es), len(b)))
    for i, e in enumerate(es):
        sel = ev == e
        Wm[i, sel] = cnt[sel] / cnt[sel].sum()
    att_e = Wm @ b
    V_e = Wm @ V @ Wm.T
    post = ev >= 0
    w_all = np.where(post, cnt, 0.0)
    w_all = w_all / w_all.sum()
    overall, overall_se = float(w_all @ b), float(np.sqrt(w_all @ V @ w_all))
    table = pd.DataFrame({"event_time": es, "att": att_e, "se": np.sqrt(np.diag(V_e))})
    cohort_tab = []
    for c in cohorts:
        sel = (coh == c) & post
        if sel.any():
            wc = np.where(sel, cnt, 0.0) / cnt[sel].sum()
            cohort_tab.append({"cohort": c, "att": float(wc @ b), "se": float(np.sqrt(wc @ V @ wc))})
    return EventStudyResult(
        estimator="Sun–Abraham", table=table, overall_att=overall, overall_se=overall_se, alp=alp,
        params=dict(yname=yname, tname=tname, idname=idname, gname=gname, control_group=control_group, ref_e=ref_e),
        vcov=pd.DataFrame(V_e, index=es, columns=es),
        extra={"cohort": pd.DataFrame(cohort_tab), "coefficients": pd.DataFrame(
            {"term": names, "estimate": b, "se": np.sqrt(np.diag(V))})},
    )


def _sunab_balanced(y, g, uid, tid, t, meta):
    """The saturated Sun–Abraham regression on a balanced panel without forming the n x J design.

    With every unit in every period, two-way demeaning has a closed form and the demeaned indicators
    depend only on (cohort, period): cross-products collapse to cohort x period cells, and the
    unit-clustered meat to per-cohort T x T residual cross-products. Identical to ``within_ols``.
    """
    n_u, T = uid.max() + 1, tid.max() + 1
    Y = np.empty((n_u, T))
    Y[uid, tid] = y
    g_u = np.empty(n_u)
    g_u[uid] = g
    tvals = np.empty(T)
    tvals[tid] = t
    Yd = Y - Y.mean(1, keepdims=True) - Y.mean(0, keepdims=True) + Y.mean()
    cohorts_all, cidx = np.unique(g_u, return_inverse=True)
    C = cohorts_all.size
    Nc = np.bincount(cidx, minlength=C).astype(float)
    N = float(n_u)
    J = len(meta)
    Xc = np.zeros((C, T, J))  # demeaned indicator j for a unit of cohort c at period t
    for j, (c, e, _) in enumerate(meta):
        ci = int(np.searchsorted(cohorts_all, c))
        tj = np.flatnonzero(tvals == c + e)
        Xc[ci, tj, j] += 1.0
        Xc[ci, :, j] -= len(tj) / T
        Xc[:, tj, j] -= Nc[ci] / N
        Xc[:, :, j] += Nc[ci] * len(tj) / (N * T)
    flat = Xc.reshape(C * T, J)
    wrow = np.repeat(Nc, T)
    keep = np.sqrt((flat**2 * wrow[:, None]).sum(0)) > 1e-10
    flat, Xc = flat[:, keep], Xc[:, :, keep]
    XtX = flat.T @ (flat * wrow[:, None])
    S = np.zeros((C, T))
    np.add.at(S, cidx, Yd)
    XtY = flat.T @ S.reshape(-1)
    A = pinv_cached(XtX)  # the same design again (the truths of the estimand): the same inverse
    beta = A @ XtY
    U = Yd - (Xc @ beta)[cidx]  # residuals, units x periods
    meat = np.zeros((beta.size, beta.size))
    for c in range(C):
        Uc = U[cidx == c]
        meat += Xc[c].T @ (Uc.T @ Uc) @ Xc[c]
    n, G, K = n_u * T, n_u, beta.size + T
    V = A @ meat @ A * (G / (G - 1)) * ((n - 1) / (n - K))
    return beta, V, keep


def _sunab_sparse(y, uid, tid, cell, J, cl, block: int = 20_000):
    """The saturated regression on any panel without forming the dense n x J design.

    The interaction indicators ``D`` are sparse (one cell per treated observation). With ``P`` the projection
    on unit and period effects (solved exactly through the period x period Schur complement), ``D'(I-P)D``,
    ``D'(I-P)y`` and the clustered scores ``sum_i (D_i - P D_i) u_i`` need only unit x cell and period x cell
    sums, so memory is O(observations + units x cells with data + clusters-block x J). Same estimates,
    covariance and small-sample correction as ``within_ols`` (fixest's ``G/(G-1) (n-1)/(n-K)``).
    """
    from scipy import sparse

    n = y.size
    everyone = np.ones(n, bool)
    fe = TwoWayFE(uid, tid, everyone)
    nu, nt = fe.nu, fe.nt
    tr = cell >= 0
    iu, it, ic = uid[tr], tid[tr], cell[tr]
    inv_cu = sparse.diags(fe.inv_cu)
    Bu = sparse.csr_matrix((np.ones(ic.size), (iu, ic)), shape=(nu, J))  # unit x cell counts (F'D, unit block)
    Bt = np.zeros((nt, J))
    np.add.at(Bt, (it, ic), 1.0)  # period x cell counts
    # D'PD = Bu' a + Bt' lam with a = diag(1/n_u)(Bu - B lam), lam from the Schur system
    lam = fe.period_effects(Bt - (fe.B.T @ (inv_cu @ Bu)).toarray())
    BuW = (Bu.T @ inv_cu).tocsr()  # J x units
    DPD = (BuW @ Bu).toarray() - (BuW @ fe.B).toarray() @ lam + Bt.T @ lam
    XtX = np.diag(np.bincount(ic, minlength=J).astype(float)) - DPD
    XtX = (XtX + XtX.T) / 2

    def fitted_fe(v):  # projection on unit and period effects (all observations are "untreated" here)
        return fe_fit_untreated(v, uid, tid, everyone, fe)

    XtY = np.bincount(ic, weights=y[tr] - fitted_fe(y)[tr], minlength=J)
    keep = np.diag(XtX) > 1e-10 * max(1.0, np.abs(np.diag(XtX)).max())
    A = pinv_cached(XtX[np.ix_(keep, keep)])  # the same design again (the truths): the same inverse
    beta_full = np.zeros(J)
    beta_full[keep] = A @ XtY[keep]
    r = y - np.where(tr, beta_full[np.maximum(cell, 0)], 0.0)
    u = r - fitted_fe(r)  # residuals of the two-way regression
    G = int(cl.max()) + 1
    Dterm = sparse.csr_matrix((u[tr], (cl[tr], ic)), shape=(G, J))
    R_cu = sparse.csr_matrix((u, (cl, uid)), shape=(G, nu))
    R_ct = sparse.csr_matrix((u, (cl, tid)), shape=(G, nt))
    S1 = (Dterm - R_cu @ (inv_cu @ Bu)).tocsr()  # sparse part of the cluster scores
    Q = (R_cu @ inv_cu @ fe.B - R_ct).tocsr()  # times lam: the period-effect part
    meat = np.zeros((J, J))
    for lo in range(0, G, block):
        s_blk = S1[lo:lo + block].toarray() + Q[lo:lo + block] @ lam
        meat += s_blk.T @ s_blk
    meat = meat[np.ix_(keep, keep)]
    K = int(keep.sum()) + nt
    V = A @ meat @ A * (G / (G - 1)) * ((n - 1) / (n - K))
    return beta_full[keep], V, keep
