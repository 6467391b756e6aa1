"""Callaway–Sant'Anna group-time average treatment effects, ``att_gt`` (R `did` semantics)."""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import pandas as pd
from scipy import sparse, stats

from .._options import CeciError, check_option
from .bootstrap import mboot
from .design import design_matrix, formula_vars
from .drdid import PANEL_ESTIMATORS, RC_ESTIMATORS, EstimationFailure, logit_fit
from .results import AttGtResult

ControlGroup = Literal["nevertreated", "notyettreated"]
EstMethod = Literal["dr", "ipw", "reg"]
BasePeriod = Literal["varying", "universal"]

_TINY = np.sqrt(np.finfo(float).eps) * 10


class DidWarning(UserWarning):
    """A data or estimation issue that R `did` also reports as a warning."""


def _warn(msg: str) -> None:
    warnings.warn(msg, DidWarning, stacklevel=3)


def _prepare(
    data: pd.DataFrame,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    xformla: str | None,
    weightsname: str | None,
    clustervars: list[str],
    anticipation: int,
    control_group: str,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    if not isinstance(data, pd.DataFrame):
        raise CeciError(f"data must be a pandas DataFrame, found {type(data).__name__}")
    xvars = formula_vars(xformla, data.columns)
    needed = [yname, tname, idname, gname, *xvars, *clustervars]
    if weightsname:
        needed.append(weightsname)
    missing = [c for c in dict.fromkeys(needed) if c not in data.columns]
    if missing:
        raise CeciError(
            f"column(s) {', '.join(missing)} not found in data; available: {', '.join(map(str, data.columns))}"
        )
    if xformla is not None and not xvars and xformla.replace(" ", "") not in ("~1", "1", ""):
        raise CeciError(f"xformla={xformla!r} names no column of data")
    for col in (yname, tname, gname):
        if not (pd.api.types.is_numeric_dtype(data[col]) or pd.api.types.is_bool_dtype(data[col])):
            raise CeciError(f"column {col!r} must be numeric, found dtype {data[col].dtype}")
    df = data[list(dict.fromkeys(needed))].copy()
    df[gname] = df[gname].fillna(0)
    num = df.select_dtypes("number")
    bad = df[[yname, tname, idname, *xvars, *clustervars]].isna().any(axis=1) | ~np.isfinite(
        num.to_numpy(dtype=float)
    ).all(axis=1)
    if bad.any():
        _warn(f"dropped {int(bad.sum())} rows from original data due to missing or non-finite values "
              f"(outcome {yname!r}: {int(df[yname].isna().sum())} missing)")
        df = df.loc[~bad]
    if weightsname and (df[weightsname] < 0).any():
        raise CeciError(f"weights column {weightsname!r} must be non-negative; found {df[weightsname].min()}")
    if anticipation < 0:
        raise CeciError(f"anticipation={anticipation} must be >= 0")
    dup = df.duplicated([idname, tname])
    if dup.any():
        row = df.loc[dup].iloc[0]
        raise CeciError(
            f"{int(dup.sum())} duplicated ({idname}, {tname}) rows, e.g. {idname}={row[idname]}, "
            f"{tname}={row[tname]}; expected one row per unit and period"
        )
    nun = df.groupby(idname, sort=False)[gname].nunique()
    if (nun > 1).any():
        raise CeciError(
            f"{gname!r} must be constant within each unit ({idname}); it varies for "
            f"{int((nun > 1).sum())} units, e.g. {nun.index[nun.values > 1][0]}"
        )
    for cv in clustervars:
        if (df.groupby(idname, sort=False)[cv].nunique() > 1).any():
            raise CeciError(f"cluster variable {cv!r} varies within units; it must be time-invariant")
    if (df[gname] < 0).any():
        raise CeciError(f"{gname!r} must be 0 (never treated) or a positive period; found {df[gname].min()}")

    tlist = np.sort(df[tname].unique())
    asif = df[gname] > tlist.max() + anticipation
    df.loc[asif, gname] = 0
    glist = np.sort(df[gname].unique())
    if not (glist == 0).any():
        latest = glist.max()
        df = df.loc[df[tname] < latest - anticipation]
        if control_group == "nevertreated":
            _warn("No never-treated group is available. The last treated cohort is being coerced as "
                  "'never-treated' units, and data from periods after that is being filtered out.")
            df.loc[df[gname] == latest, gname] = 0
        tlist = np.sort(df[tname].unique())
        glist = np.sort(df[gname].unique())
        if control_group != "nevertreated":
            glist = glist[glist < latest]
    glist = glist[glist > 0]
    first = tlist[0]
    tfp = (df[gname] <= first + anticipation) & (df[gname] != 0)
    if tfp.any():
        _warn(f"Dropped {df.loc[tfp, idname].nunique()} units that were already treated in the first period.")
        df = df.loc[~tfp]
        tlist = np.sort(df[tname].unique())
        glist = glist[glist > tlist[0] + anticipation]
    if len(glist) == 0:
        raise CeciError(
            f"no valid treated cohorts in {gname!r}: it must hold the first treated period (0 = never treated), "
            f"with at least one cohort first treated after {tlist[0]}"
        )
    return df, tlist, glist


def att_gt(
    data: pd.DataFrame,
    *,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    xformla: str | None = None,
    control_group: ControlGroup = "nevertreated",
    est_method: EstMethod = "dr",
    anticipation: int = 0,
    base_period: BasePeriod = "varying",
    allow_unbalanced_panel: bool = False,
    clustervars: list[str] | str | None = None,
    weightsname: str | None = None,
    bstrap: bool = True,
    biters: int = 1000,
    cband: bool = True,
    alp: float = 0.05,
    seed: int | None = None,
) -> AttGtResult:
    """Group-time average treatment effects of Callaway and Sant'Anna (2021).

    Arguments and semantics follow R ``did::att_gt`` (version 2.5): ``gname`` holds the first
    treated period (0 = never treated); the 2x2 comparisons use the DRDID doubly robust
    (``"dr"``), normalised IPW (``"ipw"``) or outcome-regression (``"reg"``) estimators;
    ``base_period="varying"`` compares consecutive periods before treatment and
    ``"universal"`` always uses ``g - anticipation - 1``.

    Parameters
    ----------
    data
        Long panel: one row per unit and period.
    yname, tname, idname, gname
        Outcome, period (numeric), unit id and first-treatment period columns.
    xformla
        Covariate formula such as ``"~ x1 + x2"`` (covariates taken in the base period).
    control_group
        ``"nevertreated"`` or ``"notyettreated"``.
    est_method
        ``"dr"``, ``"ipw"`` or ``"reg"``.
    anticipation
        Number of periods before ``g`` in which units may already react.
    base_period
        ``"varying"`` or ``"universal"``.
    allow_unbalanced_panel
        If True and the panel is unbalanced, use the repeated cross-section estimators
        on all observed rows (as R does); otherwise units missing a period are dropped.
    clustervars
        Cluster variables: the unit id and at most one more time-invariant variable.
    weightsname
        Sampling weights column (time-invariant).
    bstrap, biters, cband, alp
        Multiplier bootstrap (Mammen weights) with ``biters`` draws; simultaneous bands
        when ``cband``; significance level ``alp``.
    seed
        Seed of the bootstrap; ``None`` means seed 0, so results are reproducible.

    Returns
    -------
    AttGtResult
        Frozen result: ``tidy()``, ``aggte()``, ``pretest()``, ``plot()``, ``summary()``.
    """
    check_option("control_group", control_group, ControlGroup)
    check_option("est_method", est_method, EstMethod)
    check_option("base_period", base_period, BasePeriod)
    if not (0 < alp < 1):
        raise CeciError(f"alp={alp} must lie strictly between 0 and 1")
    if int(biters) < 1:
        raise CeciError(f"biters={biters} must be a positive integer")
    if isinstance(clustervars, str):
        clustervars = [clustervars]
    clustervars = [c for c in (clustervars or []) if c != idname]
    if len(clustervars) > 1:
        raise CeciError(f"clustervars={clustervars!r}: at most one cluster variable beyond {idname!r} is supported")

    df, tlist, glist = _prepare(
        data, yname, tname, idname, gname, xformla, weightsname, clustervars, anticipation, control_group
    )
    T = len(tlist)
    counts = df.groupby(idname, sort=False)[tname].size()
    balanced = bool((counts == T).all())
    panel = True
    if not balanced:
        if allow_unbalanced_panel:
            panel = False
        else:
            keep_ids = counts.index[counts.values == T]
            _warn(f"{int((counts != T).sum())} units are missing in some periods. "
                  "Converting to balanced panel by dropping them.")
            df = df.loc[df[idname].isin(keep_ids)]
            if df.empty:
                raise CeciError("all units dropped while balancing the panel; set allow_unbalanced_panel=True")
    df = df.sort_values([idname, tname], kind="mergesort").reset_index(drop=True)
    X_all, xnames = design_matrix(xformla, df)
    w_all = df[weightsname].to_numpy(float) if weightsname else np.ones(len(df))

    # unit-level facts
    uid, ucode = np.unique(df[idname].to_numpy(), return_inverse=True)
    n = uid.shape[0]
    first_rows = np.r_[0, np.flatnonzero(np.diff(ucode)) + 1]
    g_unit = df[gname].to_numpy(float)[first_rows]
    if panel:
        w_unit = w_all[first_rows]
    else:
        w_unit = np.bincount(ucode, weights=w_all) / np.bincount(ucode)
    cluster = df[clustervars[0]].to_numpy()[first_rows] if clustervars else None

    # small groups (R: fewer than number of covariates + 5 units)
    req = X_all.shape[1] - 1 + 5
    sizes = pd.Series(g_unit).value_counts()
    small = sizes[sizes < req]
    if len(small):
        _warn("Some groups have very few units, which may cause estimation problems; check groups: "
              + ", ".join(f"{g:g} ({c} units)" for g, c in small.items()))
        if 0 in small.index and control_group == "nevertreated":
            raise CeciError(
                f"the never-treated group has {int(small[0])} units, too few to serve as control "
                f"(need at least {req}); try control_group='notyettreated'"
            )

    est = (PANEL_ESTIMATORS if panel else RC_ESTIMATORS)[est_method]
    tfac = 0 if base_period == "universal" else 1
    tlen = T if base_period == "universal" else T - 1
    nevertreated = control_group == "nevertreated"

    if panel:
        Y = df[yname].to_numpy(float).reshape(n, T)
        k = X_all.shape[1]
        Xp = X_all.reshape(n, T, k)
        x_const = bool(np.all(Xp == Xp[:, :1, :]))
        Wp = w_all.reshape(n, T)
        w_const = bool(np.all(Wp == Wp[:, :1]))
    else:
        t_all = df[tname].to_numpy()
        y_all = df[yname].to_numpy(float)
        g_all = df[gname].to_numpy(float)
        x_const = w_const = False

    cells_g, cells_t, atts, posts = [], [], [], []
    failures: dict[tuple, list] = {}
    rows_l, cols_l, vals_l = [], [], []
    ps_cache: dict = {}
    col = 0
    for g in glist:
        idx_g = np.flatnonzero(tlist + anticipation < g)
        pret_g = int(idx_g[-1]) if idx_g.size else None
        Gfull = (g_unit == g).astype(float)
        for t0 in range(tlen):
            tcur = t0 + tfac
            pret = t0
            if base_period == "universal":
                pret = pret_g
            if g <= tlist[tcur]:
                pret = pret_g
            if pret is None:
                _warn(f"There are no pre-treatment periods for the group first treated at {g:g}; "
                      "units from this group are dropped.")
                break
            post_treat = bool(g <= tlist[tcur])
            cells_g.append(g)
            cells_t.append(tlist[tcur])
            posts.append(post_treat)
            if base_period == "universal" and pret == tcur:
                atts.append(0.0)
                col += 1
                continue
            if nevertreated:
                thr = None
                Cfull = (g_unit == 0).astype(float)
            else:
                thr = tlist[max(t0, pret) + tfac] + anticipation
                Cfull = ((g_unit == 0) | ((g_unit > thr) & (g_unit != g))).astype(float)
            att, inf, rows = np.nan, None, None
            try:
                if panel:
                    kept = np.flatnonzero((Gfull == 1) | (Cfull == 1))
                    D = Gfull[kept]
                    if D.sum() == 0 or (1 - D).sum() == 0:
                        raise EstimationFailure("no treated or no control units")
                    e_idx = min(tcur, pret)
                    X = Xp[kept, 0 if x_const else e_idx, :]
                    w = Wp[kept, 0 if w_const else e_idx]
                    dy = Y[kept, tcur] - Y[kept, pret]
                    ps = None
                    if est_method in ("dr", "ipw"):
                        key = (g, thr, 0 if x_const else e_idx, 0 if w_const else e_idx)
                        ps = ps_cache.get(key)
                        if ps is None:
                            ps = logit_fit(X, D, w / w.mean())
                            ps_cache[key] = ps
                        if ps.max() >= 0.999:
                            raise EstimationFailure("overlap condition violated (propensity scores reach 0.999)")
                    if est_method in ("dr", "reg"):
                        Xc = X[D == 0]
                        if np.linalg.cond(Xc.T @ Xc) > 1 / np.finfo(float).eps:
                            raise EstimationFailure(f"covariate matrix of control units is singular (collinear "
                                                    f"covariates in {xformla!r}?)")
                    att, inf = est(dy, D, X, w, ps) if est_method != "reg" else est(dy, D, X, w)
                    n1 = kept.shape[0]
                    rows = kept
                    inf = inf * (n / n1)
                else:
                    tp, tq = tlist[tcur], tlist[pret]
                    rsel = (t_all == tp) | (t_all == tq)
                    Gr = (g_all == g)
                    Cr = (g_all == 0) if nevertreated else ((g_all == 0) | ((g_all > thr) & (g_all != g)))
                    rsel &= Gr | Cr
                    ridx = np.flatnonzero(rsel)
                    D = Gr[ridx].astype(float)
                    post = (t_all[ridx] == tp).astype(float)
                    if (D * post).sum() == 0 or (D * (1 - post)).sum() == 0 or ((1 - D) * post).sum() == 0 or (
                        (1 - D) * (1 - post)
                    ).sum() == 0:
                        raise EstimationFailure("no treated or no control units in one of the two periods")
                    X = X_all[ridx]
                    if est_method in ("dr", "ipw"):
                        ps = logit_fit(X, D, w_all[ridx] / w_all[ridx].mean())
                        if ps.max() >= 0.999:
                            raise EstimationFailure("overlap condition violated (propensity scores reach 0.999)")
                    att, inf_rows = est(y_all[ridx], post, D, X, w_all[ridx])
                    n1 = ridx.shape[0]
                    inf_rows = inf_rows * (n / n1)
                    codes = ucode[ridx]
                    rows = np.unique(codes)
                    inf = np.bincount(codes, weights=inf_rows, minlength=n)[rows]
                if not np.isfinite(att):
                    raise EstimationFailure("estimate is not finite")
            except EstimationFailure as exc:
                failures.setdefault((g, str(exc)), []).append(tlist[tcur])
                att = np.nan
                rows = np.arange(n)
                inf = np.full(n, np.nan)
            atts.append(att)
            rows_l.append(rows)
            cols_l.append(np.full(rows.shape[0], col))
            vals_l.append(inf)
            col += 1

    for (g, why), times in failures.items():
        ng = int((g_unit == g).sum())
        _warn(f"ATT(g,t) set to NA for group {g:g} ({ng} units) in {len(times)} period(s) "
              f"{times[0]:g}..{times[-1]:g}: {why}" + ("; the cohort is very small" if ng < 3 else ""))
    k = len(atts)
    if rows_l:
        IF = sparse.csc_matrix(
            (np.concatenate(vals_l), (np.concatenate(rows_l), np.concatenate(cols_l))), shape=(n, k)
        )
    else:
        IF = sparse.csc_matrix((n, k))
    att = np.asarray(atts, float)
    group = np.asarray(cells_g, float)
    tt = np.asarray(cells_t, float)

    # analytic variance
    if cluster is not None and not bstrap:
        from .bootstrap import cluster_sums

        Sc = cluster_sums(IF, cluster)
        V = Sc.T @ Sc / n
    else:
        V = (IF.T @ IF).toarray() / n
    se = np.sqrt(np.diag(V) / n)
    se[~(se > _TINY)] = np.nan
    na_cells = np.isnan(se)
    rng = np.random.default_rng(0 if seed is None else seed)
    crit = stats.norm.ppf(1 - alp / 2)
    if bstrap:
        bout = mboot(IF, biters=biters, alp=alp, rng=rng, cluster=cluster)
        se = np.where(na_cells, np.nan, bout.se)
        se[~(se > _TINY)] = np.nan
        if cband and T > 2:
            crit = bout.crit_val
            if crit >= 7:
                _warn("Simultaneous critical value is arguably too large to be reliable "
                      "(few observations per group or little variation in outcomes).")

    # Wald pre-test of parallel trends (analytic variance)
    W_stat = W_p = None
    pre = np.flatnonzero((group > tt) & ~na_cells)
    if pre.size:
        preV = V[np.ix_(pre, pre)]
        if np.all(np.isfinite(preV)) and np.linalg.cond(preV) < 1 / np.finfo(float).eps:
            pa = att[pre]
            W_stat = float(n * pa @ np.linalg.solve(preV, pa))
            W_p = float(round(1 - stats.chi2.cdf(W_stat, pre.size), 5))

    return AttGtResult(
        group=group,
        t=tt,
        att=att,
        se=se,
        crit_val=float(crit),
        inffunc=IF,
        V=V,
        n=int(n),
        wald_stat=W_stat,
        wald_pvalue=W_p,
        wald_df=int(pre.size),
        unit_weights=w_unit,
        unit_group=g_unit,
        cluster=cluster,
        glist=np.asarray(glist, float),
        tlist=np.asarray(tlist, float),
        params=dict(
            yname=yname, tname=tname, idname=idname, gname=gname, xformla=xformla,
            control_group=control_group, est_method=est_method, anticipation=int(anticipation),
            base_period=base_period, allow_unbalanced_panel=bool(allow_unbalanced_panel),
            panel=panel, clustervars=clustervars, weightsname=weightsname, bstrap=bool(bstrap),
            biters=int(biters), cband=bool(cband), alp=float(alp), seed=seed,
            n_units=int(n), n_obs=int(len(df)), covariates=xnames,
        ),
    )
