"""Two-by-two DiD estimators with influence functions (the DRDID estimators R `did` calls).

Panel estimators (``*_panel``) take the outcome change ``dy`` of each unit; repeated
cross-section estimators (``*_rc``) take outcomes and a post indicator, and serve the
unbalanced-panel path. Each returns ``(att, influence_function)`` with the influence
function scaled as in DRDID (``att - ATT = mean(inf) + o_p(n^-1/2)``).

Formulas follow Sant'Anna and Zhao (2020) and the R package DRDID 1.2.x:
``drdid_panel`` / ``drdid_rc`` (locally efficient doubly robust, "traditional"),
``reg_did_panel`` / ``reg_did_rc`` (outcome regression) and
``std_ipw_did_panel`` / ``std_ipw_did_rc`` (normalised inverse probability weighting),
with propensity scores capped at ``1 - 1e-6`` and control units with scores above
``trim_level`` trimmed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TRIM_LEVEL = 0.995


class EstimationFailure(Exception):
    """A 2x2 cell cannot be estimated (overlap or singular design); the cell becomes NA."""


def logit_fit(X: np.ndarray, D: np.ndarray, w: np.ndarray, tol: float = 1e-13) -> np.ndarray:
    """Weighted logistic regression by Newton–Raphson; returns fitted probabilities.

    Parameters
    ----------
    X
        Design matrix (n, k), including the intercept column.
    D
        Binary outcome.
    w
        Non-negative weights.
    tol
        Convergence tolerance on the largest coefficient change.
    """
    if X.shape[1] == 1 and np.all(X[:, 0] == X[0, 0]):
        p = np.sum(w * D) / np.sum(w)
        return np.full(D.shape[0], p)
    beta = np.zeros(X.shape[1])
    # start from the weighted share, as glm's mustart does
    pbar = np.clip(np.sum(w * D) / np.sum(w), 1e-6, 1 - 1e-6)
    eta = np.full(D.shape[0], np.log(pbar / (1 - pbar)))
    beta = np.linalg.lstsq(X, eta, rcond=None)[0]
    for _ in range(100):
        eta = X @ beta
        p = 1.0 / (1.0 + np.exp(-eta))
        W = w * p * (1 - p)
        H = X.T @ (W[:, None] * X)
        g = X.T @ (w * (D - p))
        try:
            step = np.linalg.solve(H, g)
        except np.linalg.LinAlgError as exc:
            raise EstimationFailure("propensity score model is singular") from exc
        beta = beta + step
        if not np.all(np.isfinite(beta)):
            raise EstimationFailure("propensity score model did not converge")
        if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(beta))):
            break
    eta = X @ beta
    return 1.0 / (1.0 + np.exp(-eta))


def ill_conditioned(A: np.ndarray) -> bool:
    """True when the symmetric PSD matrix ``A`` is singular to machine precision (R: rcond < eps).

    Parameters
    ----------
    A : numpy.ndarray
        A symmetric positive semi-definite matrix.
    """
    if A.shape[0] == 1:
        return not A[0, 0] > 0
    ev = np.linalg.eigvalsh(A)
    return not ev[0] > np.finfo(float).eps * ev[-1]


def _wls(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    XtW = X.T * w
    A = XtW @ X
    if ill_conditioned(A):
        raise EstimationFailure("outcome regression design is singular")
    return np.linalg.solve(A, XtW @ y)


def _inv_checked(A: np.ndarray, what: str) -> np.ndarray:
    if ill_conditioned(A):
        raise EstimationFailure(f"{what} is singular")
    return np.linalg.inv(A)


@dataclass(frozen=True)
class _PS:
    ps: np.ndarray
    trim: np.ndarray
    Hps: np.ndarray  # inverse Hessian * n


def _pscore(X: np.ndarray, D: np.ndarray, w: np.ndarray, ps: np.ndarray | None) -> _PS:
    n = D.shape[0]
    if ps is None:
        ps = logit_fit(X, D, w)
    ps = np.minimum(ps, 1 - 1e-6)
    trim = np.where(D == 1, ps < 1.01, ps < TRIM_LEVEL)
    W = ps * (1 - ps) * w
    Hps = _inv_checked(X.T @ (W[:, None] * X), "propensity score Hessian") * n
    return _PS(ps, trim.astype(float), Hps)


def drdid_panel(dy, D, X, w, ps=None) -> tuple[float, np.ndarray]:
    """Locally efficient doubly robust DiD for panel data (DRDID ``drdid_panel``), one outcome change.

    Parameters
    ----------
    dy : numpy.ndarray
        Outcome change of each unit between the cell's period and its base period.
    D : numpy.ndarray
        1 for units of the treated cohort, 0 for comparison units.
    X : numpy.ndarray
        Covariate design with intercept (units x k).
    w : numpy.ndarray
        Unit weights.
    ps : numpy.ndarray, optional
        Fitted propensity scores when already computed (default: fitted here).
    """
    a, _, inf = drdid_panel_batch(np.array(dy, float)[:, None], D, X, w, ps)
    return float(a[0]), inf[:, 0]


def reg_did_panel(dy, D, X, w, ps=None) -> tuple[float, np.ndarray]:
    """Outcome-regression DiD for panel data (DRDID ``reg_did_panel``), one outcome change.

    Parameters
    ----------
    dy : numpy.ndarray
        Outcome change of each unit between the cell's period and its base period.
    D : numpy.ndarray
        1 for units of the treated cohort, 0 for comparison units.
    X : numpy.ndarray
        Covariate design with intercept (units x k).
    w : numpy.ndarray
        Unit weights.
    ps : numpy.ndarray, optional
        Fitted propensity scores when already computed (default: fitted here).
    """
    a, _, inf = reg_did_panel_batch(np.asarray(dy, float)[:, None], D, X, w, ps)
    return float(a[0]), inf[:, 0]


def std_ipw_did_panel(dy, D, X, w, ps=None) -> tuple[float, np.ndarray]:
    """Normalised (Hajek) IPW DiD for panel data (DRDID ``std_ipw_did_panel``), one outcome change.

    Parameters
    ----------
    dy : numpy.ndarray
        Outcome change of each unit between the cell's period and its base period.
    D : numpy.ndarray
        1 for units of the treated cohort, 0 for comparison units.
    X : numpy.ndarray
        Covariate design with intercept (units x k).
    w : numpy.ndarray
        Unit weights.
    ps : numpy.ndarray, optional
        Fitted propensity scores when already computed (default: fitted here).
    """
    a, _, inf = std_ipw_did_panel_batch(np.asarray(dy, float)[:, None], D, X, w, ps)
    return float(a[0]), inf[:, 0]


# ---------------------------------------------------------------------------------------
# repeated cross-section estimators (used for unbalanced panels, as R `did` does)
# ---------------------------------------------------------------------------------------


def _ols_rep(X: np.ndarray, y: np.ndarray, w: np.ndarray, sel: np.ndarray, n: int):
    """WLS on the rows ``sel``; returns (fitted values on all rows, asymptotic linear rep)."""
    beta = _wls(X[sel], y[sel], w[sel])
    fit = X @ beta
    wo = w * sel
    XpX_inv = _inv_checked((X.T * wo) @ X / n, "regression design")
    eX = (wo * (y - fit))[:, None] * X
    return fit, eX, XpX_inv


def drdid_rc(
    y: np.ndarray, post: np.ndarray, D: np.ndarray, X: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray]:
    """Locally efficient doubly robust DiD for repeated cross sections (DRDID ``drdid_rc``).

    Parameters
    ----------
    y : numpy.ndarray
        Outcome of each observation.
    post : numpy.ndarray
        1 for observations in the cell's period, 0 in the base period.
    D : numpy.ndarray
        1 for observations of the treated cohort.
    X : numpy.ndarray
        Covariate design with intercept.
    w : numpy.ndarray
        Observation weights.
    """
    n = D.shape[0]
    w = w / w.mean()
    P = _pscore(X, D, w, None)
    ps, trim = P.ps, P.trim
    c_pre, c_post = (D == 0) & (post == 0), (D == 0) & (post == 1)
    t_pre, t_post = (D == 1) & (post == 0), (D == 1) & (post == 1)
    yc_pre, eX_cpre, Xi_cpre = _ols_rep(X, y, w, c_pre, n)
    yc_post, eX_cpost, Xi_cpost = _ols_rep(X, y, w, c_post, n)
    yt_pre, eX_tpre, Xi_tpre = _ols_rep(X, y, w, t_pre, n)
    yt_post, eX_tpost, Xi_tpost = _ols_rep(X, y, w, t_post, n)
    yc = post * yc_post + (1 - post) * yc_pre

    odds = ps / (1 - ps)
    w_treat_pre = trim * w * D * (1 - post)
    w_treat_post = trim * w * D * post
    w_cont_pre = trim * w * odds * (1 - D) * (1 - post)
    w_cont_post = trim * w * odds * (1 - D) * post
    w_d = trim * w * D
    w_dt1 = trim * w * D * post
    w_dt0 = trim * w * D * (1 - post)

    def nm(a):
        return a.mean()

    eta_treat_pre = w_treat_pre * (y - yc) / nm(w_treat_pre)
    eta_treat_post = w_treat_post * (y - yc) / nm(w_treat_post)
    eta_cont_pre = w_cont_pre * (y - yc) / nm(w_cont_pre)
    eta_cont_post = w_cont_post * (y - yc) / nm(w_cont_post)
    eta_d_post = w_d * (yt_post - yc_post) / nm(w_d)
    eta_dt1_post = w_dt1 * (yt_post - yc_post) / nm(w_dt1)
    eta_d_pre = w_d * (yt_pre - yc_pre) / nm(w_d)
    eta_dt0_pre = w_dt0 * (yt_pre - yc_pre) / nm(w_dt0)

    a_tpre, a_tpost = eta_treat_pre.mean(), eta_treat_post.mean()
    a_cpre, a_cpost = eta_cont_pre.mean(), eta_cont_post.mean()
    a_dpost, a_dt1post = eta_d_post.mean(), eta_dt1_post.mean()
    a_dpre, a_dt0pre = eta_d_pre.mean(), eta_dt0_pre.mean()
    att = (a_tpost - a_tpre) - (a_cpost - a_cpre) + (a_dpost - a_dt1post) - (a_dpre - a_dt0pre)

    def lin(eX, Xi, M):
        return eX @ (Xi @ M)

    score_ps = (w * (D - ps))[:, None] * X
    inf_treat_pre = eta_treat_pre - w_treat_pre * a_tpre / nm(w_treat_pre)
    inf_treat_post = eta_treat_post - w_treat_post * a_tpost / nm(w_treat_post)
    M1_post = -((w_treat_post * post) @ X) / n / nm(w_treat_post)
    M1_pre = -((w_treat_pre * (1 - post)) @ X) / n / nm(w_treat_pre)
    inf_treat_or = lin(eX_cpost, Xi_cpost, M1_post) + lin(eX_cpre, Xi_cpre, M1_pre)
    inf_cont_pre = eta_cont_pre - w_cont_pre * a_cpre / nm(w_cont_pre)
    inf_cont_post = eta_cont_post - w_cont_post * a_cpost / nm(w_cont_post)
    M2_pre = ((w_cont_pre * (y - yc - a_cpre)) @ X) / n / nm(w_cont_pre)
    M2_post = ((w_cont_post * (y - yc - a_cpost)) @ X) / n / nm(w_cont_post)
    inf_cont_ps = score_ps @ (P.Hps @ (M2_post - M2_pre))
    M3_post = -((w_cont_post * post) @ X) / n / nm(w_cont_post)
    M3_pre = -((w_cont_pre * (1 - post)) @ X) / n / nm(w_cont_pre)
    inf_cont_or = lin(eX_cpost, Xi_cpost, M3_post) + lin(eX_cpre, Xi_cpre, M3_pre)
    inf_eff = (
        (eta_d_post - w_d * a_dpost / nm(w_d))
        - (eta_dt1_post - w_dt1 * a_dt1post / nm(w_dt1))
        - (eta_d_pre - w_d * a_dpre / nm(w_d))
        + (eta_dt0_pre - w_dt0 * a_dt0pre / nm(w_dt0))
    )
    mom_post = ((w_d / nm(w_d) - w_dt1 / nm(w_dt1)) @ X) / n
    mom_pre = ((w_d / nm(w_d) - w_dt0 / nm(w_dt0)) @ X) / n
    inf_or_post = lin(eX_tpost, Xi_tpost, mom_post) - lin(eX_cpost, Xi_cpost, mom_post)
    inf_or_pre = lin(eX_tpre, Xi_tpre, mom_pre) - lin(eX_cpre, Xi_cpre, mom_pre)
    inf_treat = inf_treat_post - inf_treat_pre + inf_treat_or
    inf_cont = inf_cont_post - inf_cont_pre + inf_cont_ps + inf_cont_or
    inf = inf_treat - inf_cont + inf_eff + (inf_or_post - inf_or_pre)
    return float(att), inf


def reg_did_rc(
    y: np.ndarray, post: np.ndarray, D: np.ndarray, X: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray]:
    """Outcome-regression DiD for repeated cross sections (DRDID ``reg_did_rc``).

    Parameters
    ----------
    y : numpy.ndarray
        Outcome of each observation.
    post : numpy.ndarray
        1 for observations in the cell's period, 0 in the base period.
    D : numpy.ndarray
        1 for observations of the treated cohort.
    X : numpy.ndarray
        Covariate design with intercept.
    w : numpy.ndarray
        Observation weights.
    """
    n = D.shape[0]
    w = w / w.mean()
    y_pre, eX_pre, Xi_pre = _ols_rep(X, y, w, (D == 0) & (post == 0), n)
    y_post, eX_post, Xi_post = _ols_rep(X, y, w, (D == 0) & (post == 1), n)
    w_treat_pre = w * D * (1 - post)
    w_treat_post = w * D * post
    w_cont = w * D
    eta_tpre = (w_treat_pre * y).mean() / w_treat_pre.mean()
    eta_tpost = (w_treat_post * y).mean() / w_treat_post.mean()
    reg_cont = w_cont * (y_post - y_pre)
    eta_c = reg_cont.mean() / w_cont.mean()
    att = (eta_tpost - eta_tpre) - eta_c
    inf_treat_pre = (w_treat_pre * y - w_treat_pre * eta_tpre) / w_treat_pre.mean()
    inf_treat_post = (w_treat_post * y - w_treat_post * eta_tpost) / w_treat_post.mean()
    M1 = (w_cont @ X) / n
    inf_cont = (
        reg_cont - w_cont * eta_c + eX_post @ (Xi_post @ M1) - eX_pre @ (Xi_pre @ M1)
    ) / w_cont.mean()
    return float(att), (inf_treat_post - inf_treat_pre) - inf_cont


def std_ipw_did_rc(
    y: np.ndarray, post: np.ndarray, D: np.ndarray, X: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray]:
    """Normalised IPW DiD for repeated cross sections (DRDID ``std_ipw_did_rc``).

    Parameters
    ----------
    y : numpy.ndarray
        Outcome of each observation.
    post : numpy.ndarray
        1 for observations in the cell's period, 0 in the base period.
    D : numpy.ndarray
        1 for observations of the treated cohort.
    X : numpy.ndarray
        Covariate design with intercept.
    w : numpy.ndarray
        Observation weights.
    """
    n = D.shape[0]
    w = w / w.mean()
    P = _pscore(X, D, w, None)
    odds = P.ps / (1 - P.ps)
    w_tpre = P.trim * w * D * (1 - post)
    w_tpost = P.trim * w * D * post
    w_cpre = P.trim * w * odds * (1 - D) * (1 - post)
    w_cpost = P.trim * w * odds * (1 - D) * post
    e_tpre, e_tpost = w_tpre * y / w_tpre.mean(), w_tpost * y / w_tpost.mean()
    e_cpre, e_cpost = w_cpre * y / w_cpre.mean(), w_cpost * y / w_cpost.mean()
    a_tpre, a_tpost, a_cpre, a_cpost = e_tpre.mean(), e_tpost.mean(), e_cpre.mean(), e_cpost.mean()
    att = (a_tpost - a_tpre) - (a_cpost - a_cpre)
    score_ps = (w * (D - P.ps))[:, None] * X
    inf_treat = (e_tpost - w_tpost * a_tpost / w_tpost.mean()) - (e_tpre - w_tpre * a_tpre / w_tpre.mean())
    inf_cont = (e_cpost - w_cpost * a_cpost / w_cpost.mean()) - (e_cpre - w_cpre * a_cpre / w_cpre.mean())
    M2_pre = ((w_cpre * (y - a_cpre)) @ X) / n / w_cpre.mean()
    M2_post = ((w_cpost * (y - a_cpost)) @ X) / n / w_cpost.mean()
    inf_cont = inf_cont + score_ps @ (P.Hps @ (M2_post - M2_pre))
    return float(att), inf_treat - inf_cont


RC_ESTIMATORS = {"dr": drdid_rc, "reg": reg_did_rc, "ipw": std_ipw_did_rc}


# ---------------------------------------------------------------------------------------
# batched panel estimators: many (g, t) cells sharing units, covariates and weights
# ---------------------------------------------------------------------------------------
# The three panel estimators are linear in the outcome change given the propensity score, so the
# cells of one cohort that share a comparison group are estimated together: DY holds one column
# per cell and every step is a matrix product. Column j equals the scalar estimator on DY[:, j].
# DY may also be a :class:`LazyChanges` (the changes held as the units' outcomes and the cells' periods):
# every reduction over units is then formed from the outcomes (``(M @ Y)[:, tc] - (M @ Y)[:, tp]``, periods
# instead of cells), and the influence functions are returned as factors only (``inf`` is None).


class LazyChanges:
    """Outcome changes ``Y[:, tc] - Y[:, tp]`` (units x cells) held as the outcomes ``Y`` (units x periods).

    Parameters
    ----------
    Y : numpy.ndarray
        Outcomes of the units (units x periods); only differences of its columns are read, so any
        per-unit constant may be removed first.
    tc : numpy.ndarray
        Current period of each cell.
    tp : numpy.ndarray
        Base period of each cell.
    """

    def __init__(self, Y: np.ndarray, tc: np.ndarray, tp: np.ndarray):
        self.Y, self.tc, self.tp = Y, np.asarray(tc), np.asarray(tp)

    def rdot(self, M: np.ndarray) -> np.ndarray:
        """``M @ DY`` (rows of ``M`` x cells) from ``M @ Y``.

        Parameters
        ----------
        M : numpy.ndarray
            Weights over the units (a vector or rows x units).
        """
        R = M @ self.Y
        return R[..., self.tc] - R[..., self.tp]


def _rdot(DY, M: np.ndarray) -> np.ndarray:
    return DY.rdot(M) if isinstance(DY, LazyChanges) else M @ DY



def _ols_batch(X, DY, w, ctrl):
    wc = w * ctrl
    XtW = X.T * wc
    A = XtW @ X
    if ill_conditioned(A):
        raise EstimationFailure("outcome regression design is singular")
    return np.linalg.solve(A, _rdot(DY, XtW))


def drdid_panel_batch(DY, D, X, w, ps=None):
    """``drdid_panel`` for every column of ``DY`` at once; returns ``(att (m,), factors, inf (n, m))``.

    The influence function is ``a * (DY - X @ B) + Z @ C`` (``factors = (a, Z, B, C)``). Every reduction over
    units is one product with ``DY`` (``(2k + 2) x n`` by ``n x m``), and ``inf`` is written over ``DY`` in two
    passes (``DY`` is overwritten).

    Parameters
    ----------
    DY : numpy.ndarray or LazyChanges
        Outcome changes, one column per cell (units x m); as :class:`LazyChanges`, ``inf`` is not formed
        (None is returned in its place).
    D : numpy.ndarray
        1 for units of the treated cohort, 0 for comparison units.
    X : numpy.ndarray
        Covariate design with intercept (units x k).
    w : numpy.ndarray
        Unit weights.
    ps : numpy.ndarray, optional
        Fitted propensity scores when already computed (default: fitted here).
    """
    n, k = D.shape[0], X.shape[1]
    w = w / w.mean()
    P = _pscore(X, D, w, ps)
    wols = w * (1 - D)
    w_treat = P.trim * w * D
    w_cont = P.trim * w * P.ps * (1 - D) / (1 - P.ps)
    red = _rdot(DY, np.vstack([X.T * wols, w_treat, w_cont, X.T * w_cont]))  # one pass over DY
    A = (X.T * wols) @ X
    if ill_conditioned(A):
        raise EstimationFailure("outcome regression design is singular")
    B = np.linalg.solve(A, red[:k])
    xt, xw = w_treat @ X, w_cont @ X
    mwt, mwc = w_treat.mean(), w_cont.mean()
    eta_t = (red[k] - xt @ B) / n / mwt  # w_treat @ (DY - X B)
    eta_c = (red[k + 1] - xw @ B) / n / mwc
    M2 = (red[k + 2:] - ((X.T * w_cont) @ X) @ B - np.outer(xw, eta_c)) / n
    XpX_inv = _inv_checked(A / n, "regression design")
    v1 = X @ (XpX_inv @ (xt / n))
    v3 = X @ (XpX_inv @ (xw / n))
    score_ps = (w * (D - P.ps))[:, None] * X
    a = w_treat / mwt - wols * v1 / mwt - w_cont / mwc + wols * v3 / mwc
    Z = np.column_stack([-w_treat / mwt, w_cont / mwc, -score_ps / mwc])
    C = np.vstack([eta_t, eta_c, P.Hps @ M2])
    if isinstance(DY, LazyChanges):
        return eta_t - eta_c, (a, Z, B, C), None
    inf = DY
    inf *= a[:, None]
    inf += np.hstack([Z, -(a[:, None] * X)]) @ np.vstack([C, B])
    return eta_t - eta_c, (a, Z, B, C), inf


def reg_did_panel_batch(DY, D, X, w, ps=None):
    """``reg_did_panel`` for every column of ``DY`` at once (same returns as ``drdid_panel_batch``).

    Parameters
    ----------
    DY : numpy.ndarray or LazyChanges
        Outcome changes, one column per cell (units x m); as :class:`LazyChanges`, ``inf`` is not formed
        (None is returned in its place).
    D : numpy.ndarray
        1 for units of the treated cohort, 0 for comparison units.
    X : numpy.ndarray
        Covariate design with intercept (units x k).
    w : numpy.ndarray
        Unit weights.
    ps : numpy.ndarray, optional
        Fitted propensity scores when already computed (default: fitted here).
    """
    n = D.shape[0]
    w = w / w.mean()
    B = _ols_batch(X, DY, w, D == 0)
    w_treat = w * D
    mwt = w_treat.mean()
    eta_t = _rdot(DY, w_treat) / n / mwt
    eta_c = (w_treat @ (X @ B)) / n / mwt
    wols = w * (1 - D)
    XpX_inv = _inv_checked((X.T * wols) @ X / n, "regression design")
    v1 = X @ (XpX_inv @ ((w_treat @ X) / n))
    a = (w_treat - wols * v1) / mwt
    Z = (-w_treat / mwt)[:, None]
    C = (eta_t - eta_c)[None, :]
    if isinstance(DY, LazyChanges):
        return eta_t - eta_c, (a, Z, B, C), None
    R = DY - X @ B
    R *= a[:, None]
    R += Z @ C
    return eta_t - eta_c, (a, Z, B, C), R


def std_ipw_did_panel_batch(DY, D, X, w, ps=None):
    """``std_ipw_did_panel`` for every column of ``DY`` at once (same returns, ``B`` is None).

    Parameters
    ----------
    DY : numpy.ndarray or LazyChanges
        Outcome changes, one column per cell (units x m); as :class:`LazyChanges`, ``inf`` is not formed
        (None is returned in its place).
    D : numpy.ndarray
        1 for units of the treated cohort, 0 for comparison units.
    X : numpy.ndarray
        Covariate design with intercept (units x k).
    w : numpy.ndarray
        Unit weights.
    ps : numpy.ndarray, optional
        Fitted propensity scores when already computed (default: fitted here).
    """
    n = D.shape[0]
    w = w / w.mean()
    P = _pscore(X, D, w, ps)
    w_treat = P.trim * w * D
    w_cont = P.trim * w * P.ps * (1 - D) / (1 - P.ps)
    mwt, mwc = w_treat.mean(), w_cont.mean()
    red = _rdot(DY, np.vstack([w_treat, w_cont, X.T * w_cont]))
    eta_t = red[0] / n / mwt
    eta_c = red[1] / n / mwc
    M2 = (red[2:] - np.outer(X.T @ w_cont, eta_c)) / n
    score_ps = (w * (D - P.ps))[:, None] * X
    a = w_treat / mwt - w_cont / mwc
    Z = np.column_stack([-w_treat / mwt, w_cont / mwc, -score_ps / mwc])
    C = np.vstack([eta_t, eta_c, P.Hps @ M2])
    if isinstance(DY, LazyChanges):
        return eta_t - eta_c, (a, Z, None, C), None
    inf = DY * a[:, None]
    inf += Z @ C
    return eta_t - eta_c, (a, Z, None, C), inf


PANEL_BATCH = {"dr": drdid_panel_batch, "reg": reg_did_panel_batch, "ipw": std_ipw_did_panel_batch}
