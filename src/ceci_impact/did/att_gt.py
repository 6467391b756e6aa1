"""Callaway–Sant'Anna group-time average treatment effects, ``att_gt`` (R `did` semantics)."""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from .._options import CeciError, check_option
from .attgt_result import AttGtResult
from .bootstrap import summarise_draws
from .design import design_matrix, formula_vars
from .drdid import PANEL_BATCH, RC_ESTIMATORS, TRIM_LEVEL, EstimationFailure, ill_conditioned, logit_fit
from .grouped import CohortStats
from .influence import CellInfluence, ExplicitBatch, PanelBatch, Sinks, changes
from .mammen import MammenWeights

ControlGroup = Literal["nevertreated", "notyettreated"]
EstMethod = Literal["dr", "ipw", "reg"]
BasePeriod = Literal["varying", "universal"]
SmallCluster = Literal["none", "welch", "effective"]

_TINY = np.sqrt(np.finfo(float).eps) * 10


class DidWarning(UserWarning):
    """A data or estimation issue that R `did` also reports as a warning."""


def _warn(msg: str) -> None:
    warnings.warn(msg, DidWarning, stacklevel=3)


def _blocked_codes(idv: np.ndarray, tv: np.ndarray):
    """Codes for the usual layout, checked without hashing: numeric ids in increasing order, each unit's rows
    together and holding the same increasing periods. None when the data are laid out otherwise."""
    N = idv.size
    if N == 0 or idv.dtype.kind not in "iuf" or tv.dtype.kind not in "iuf":
        return None
    T = int(np.argmax(idv != idv[0])) or N
    if N % T:
        return None
    n = N // T
    heads, t0 = idv[::T], tv[:T]
    if not (np.all(heads[1:] > heads[:-1]) and np.all(t0[1:] > t0[:-1])):
        return None
    if not (np.array_equal(idv.reshape(n, T), np.broadcast_to(heads[:, None], (n, T)))
            and np.array_equal(tv.reshape(n, T), np.broadcast_to(t0, (n, T)))):
        return None
    uc = np.empty((n, T), np.int32 if N < 2**31 else np.int64)
    uc[:] = np.arange(n, dtype=uc.dtype)[:, None]
    tc = np.empty((n, T), np.int16 if T < 2**15 else np.int32)
    tc[:] = np.arange(T, dtype=tc.dtype)
    return uc.reshape(-1), tc.reshape(-1), t0.copy()


def _unit_time_codes(df: pd.DataFrame, idname: str, tname: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit codes (order of first appearance, as ``pd.factorize``), period codes (rank of the sorted periods)
    and the sorted periods; one-line error on duplicated (unit, period) rows. Linear-time paths for rows grouped
    by a numeric unit id and for whole-number periods; hashing otherwise."""
    idv = df[idname].to_numpy()
    tv = df[tname].to_numpy()
    blocked = _blocked_codes(idv, tv)
    if blocked is not None:
        return blocked
    uc = None
    if idv.size and pd.api.types.is_numeric_dtype(df[idname]) and not pd.api.types.is_bool_dtype(df[idname]):
        step = idv[1:] != idv[:-1]
        if bool(np.all(idv[1:] >= idv[:-1])):
            uc = np.empty(idv.size, np.int64)
            uc[0] = 0
            np.cumsum(step, out=uc[1:])
    if uc is None:
        uc = pd.factorize(df[idname])[0].astype(np.int64, copy=False)
    tc = tlist = None
    if tv.size and pd.api.types.is_numeric_dtype(df[tname]) and not pd.api.types.is_bool_dtype(df[tname]):
        lo, hi = tv.min(), tv.max()
        whole = pd.api.types.is_integer_dtype(df[tname]) or bool(np.all(tv == np.floor(tv)))
        if whole and np.isfinite(lo) and hi - lo <= 4 * tv.size + 1024:
            off = (tv - lo).astype(np.int64)
            present = np.bincount(off) > 0
            remap = np.cumsum(present) - 1
            tc = remap[off]
            tlist = (np.flatnonzero(present) + lo).astype(tv.dtype)
    if tc is None:
        tcodes, tuniq = pd.factorize(tv)
        order = np.argsort(np.asarray(tuniq))
        tlist = np.asarray(tuniq)[order]
        rank = np.empty(order.size, np.int64)
        rank[order] = np.arange(order.size)
        tc = rank[tcodes]
    if bool(np.all(np.diff(uc) >= 0)) and bool(np.all((np.diff(tc) > 0) | (uc[1:] != uc[:-1]))):
        return uc, tc, tlist  # rows grouped by unit, periods increasing: no duplicates possible
    key = uc * tlist.size + tc
    cnt = np.bincount(key)
    if (cnt > 1).any():
        i = int(np.flatnonzero(cnt[key] > 1)[0])
        raise CeciError(
            f"{int((cnt > 1).sum())} duplicated ({idname}, {tname}) rows, e.g. {idname}={df[idname].iat[i]}, "
            f"{tname}={tv[i]}; expected one row per unit and period"
        )
    return uc, tc, tlist


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
    df = data  # no copy: rows are only materialised when some are dropped
    if df[gname].isna().any():
        df = df.assign(**{gname: df[gname].fillna(0)})
    bad = np.zeros(len(df), bool)
    for c in dict.fromkeys(needed):
        col = df[c]
        if pd.api.types.is_float_dtype(col):
            bad |= ~np.isfinite(col.to_numpy())
        elif not pd.api.types.is_integer_dtype(col):
            bad |= col.isna().to_numpy()
    if bad.any():
        _warn(f"dropped {int(bad.sum())} rows from original data due to missing or non-finite values "
              f"(outcome {yname!r}: {int(df[yname].isna().sum())} missing)")
        df = df.loc[~bad]
    if weightsname and (df[weightsname] < 0).any():
        raise CeciError(f"weights column {weightsname!r} must be non-negative; found {df[weightsname].min()}")
    if anticipation < 0:
        raise CeciError(f"anticipation={anticipation} must be >= 0")
    uc, tc, tlist = _unit_time_codes(df, idname, tname)
    nT = _block_length(uc, tc, tlist.size)
    gv = df[gname].to_numpy()
    g_first = _per_unit(gv, uc, nT).astype(float)
    checks = [(gname, "must be constant within each unit", gv)]
    checks += [(cv, "is a cluster variable and must be time-invariant", pd.factorize(df[cv])[0]) for cv in clustervars]
    for col, what, vals in checks:
        varies = _varies(vals, uc, nT)
        if varies is not None:
            nbad = int(np.unique(uc[varies]).size)
            raise CeciError(f"{col!r} {what} ({idname}); it varies for {nbad} units, "
                            f"e.g. {df[idname].iat[int(np.flatnonzero(varies)[0])]}")
    if (g_first < 0).any():
        raise CeciError(f"{gname!r} must be 0 (never treated) or a positive period; found {g_first.min()}")

    def keep_rows(mask):
        nonlocal df, uc, tc, nT
        df, uc, tc = df.loc[mask], uc[mask], tc[mask]
        nT = 0

    def retime():
        nonlocal tlist, tc, nT
        present = np.unique(tc)
        if present.size != tlist.size:
            remap = np.full(tlist.size, -1)
            remap[present] = np.arange(present.size)
            tlist, tc = tlist[present], remap[tc]
        nT = _block_length(uc, tc, tlist.size)

    asif = g_first > tlist.max() + anticipation
    if asif.any():
        g_first = np.where(asif, 0.0, g_first)
        df = df.assign(**{gname: g_first[uc]})
    glist = np.unique(g_first)
    if not (glist == 0).any():
        latest = glist.max()
        keep_rows(tlist[tc] < latest - anticipation)
        if control_group == "nevertreated":
            _warn("No never-treated group is available. The last treated cohort is being coerced as "
                  "'never-treated' units, and data from periods after that is being filtered out.")
            g_first = np.where(g_first == latest, 0.0, g_first)
            df = df.assign(**{gname: g_first[uc]})
        retime()
        glist = np.unique(g_first[np.unique(uc)])
        if control_group != "nevertreated":
            glist = glist[glist < latest]
    glist = glist[glist > 0]
    first = tlist[0]
    seen = np.ones(g_first.size, bool) if nT and uc.size // nT == g_first.size else \
        np.bincount(uc, minlength=g_first.size) > 0
    tfp_unit = (g_first <= first + anticipation) & (g_first != 0) & seen
    if tfp_unit.any():
        _warn(f"Dropped {int(tfp_unit.sum())} units that were already treated in the first period.")
        keep_rows(~tfp_unit[uc])
        retime()
        glist = glist[glist > tlist[0] + anticipation]
    if len(glist) == 0:
        raise CeciError(
            f"no valid treated cohorts in {gname!r}: it must hold the first treated period (0 = never treated), "
            f"with at least one cohort first treated after {tlist[0]}"
        )
    if nT and uc.size // nT == g_first.size:
        present = np.ones(g_first.size, bool)
    else:
        present = np.zeros(g_first.size, bool)
        present[uc] = True
    g_unit = g_first[present]
    # units ordered by cohort (never treated first): the units of every 2x2 comparison are a few runs of
    # consecutive codes, so the bootstrap and the influence-function passes read slices, not gathers
    order = np.argsort(g_unit, kind="stable")
    rank = np.empty(order.size, uc.dtype)
    rank[order] = np.arange(order.size)
    if present.all() and nT:
        uc = uc.copy() if not uc.flags.writeable else uc
        uc.reshape(-1, nT)[:] = rank[uc[::nT]][:, None]  # in place: no new array
    else:
        uc = rank[(np.cumsum(present) - 1)[uc]]
    return df, tlist, glist, uc, tc, g_unit[order], nT


def _block_length(uc: np.ndarray, tc: np.ndarray, T: int) -> int:
    """``T`` when the rows come in blocks of one unit's ``T`` periods in order, each unit in one block (the
    usual layout), else 0."""
    N = uc.size
    if N == 0 or N % T:
        return 0
    n = N // T
    heads = uc[::T]
    if not (np.array_equal(uc.reshape(n, T), np.broadcast_to(heads[:, None], (n, T)))
            and np.array_equal(tc.reshape(n, T), np.broadcast_to(np.arange(T), (n, T)))):
        return 0
    return T if np.bincount(heads).max() == 1 else 0


def _per_unit(vals: np.ndarray, uc: np.ndarray, nT: int) -> np.ndarray:
    """The value of each unit (from its first row in blocked layout, its last row otherwise)."""
    out = np.empty(int(uc.max()) + 1, dtype=vals.dtype)
    if nT:
        out[uc[::nT]] = vals[::nT]
    else:
        out[uc] = vals
    return out


def _varies(vals: np.ndarray, uc: np.ndarray, nT: int) -> np.ndarray | None:
    """Rows whose value differs from their unit's (None when every unit's value is constant)."""
    if nT:
        V = vals.reshape(-1, nT)
        if np.array_equal(V, np.broadcast_to(V[:, :1], V.shape)):
            return None
    first = _per_unit(vals, uc, 0)
    varies = first[uc] != vals
    return varies if varies.any() else None


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
    small_cluster: SmallCluster = "none",
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
    small_cluster
        ``"none"`` (R): normal intervals. ``"welch"``: with a cluster variable, the aggregations' analytic
        cluster-robust variance is split into the part from clusters with treated units and the rest, each with
        its ``G/(G-1)`` factor, and intervals use Student-t quantiles with the Welch–Satterthwaite degrees of
        freedom of the two parts (about ``G1 - 1`` when the few treated clusters dominate). An extension of R.
        ``"effective"``: the same variance, with Student-t degrees of freedom ``G* - 1`` from the effective number
        of clusters of Carter, Schnepel & Steigerwald (2017), computed from the design (how much each cluster
        weighs in the estimate under a working model of period shocks common to the cluster): ``G - 1`` when
        clusters weigh the same, towards 1 when a few dominate.
    seed
        Seed of the bootstrap; ``None`` means seed 0, so results are reproducible.

    Returns
    -------
    AttGtResult
        Frozen result: ``tidy()``, ``aggte()``, ``pretest()``, ``plot()``, ``summary()``.
    """
    clustervars = _check_args(control_group, est_method, base_period, small_cluster, alp, biters, clustervars,
                              idname)
    df, tlist, glist, uc, tc, g_unit, nT = _prepare(
        data, yname, tname, idname, gname, xformla, weightsname, clustervars, anticipation, control_group
    )
    T = len(tlist)
    df, uc, tc, g_unit, panel = _balance(df, uc, tc, g_unit, T, allow_unbalanced_panel, nT)
    nT = nT if panel and uc.size == T * g_unit.size else 0
    if not panel:
        order = np.lexsort((tc, uc))
        df, uc, tc = df.iloc[order].reset_index(drop=True), uc[order], tc[order]
    Xfirst, X_all, xnames = _covariates(df, uc, tc, xformla, panel, nT)
    w_all = df[weightsname].to_numpy(float) if weightsname else None
    n = g_unit.size
    w_unit, cluster = _unit_facts(df, uc, tc, n, w_all, panel, clustervars, nT)
    _check_group_sizes(g_unit, xnames, control_group)
    cells = _cells(glist, tlist, base_period, anticipation, control_group)
    rng = np.random.default_rng(0 if seed is None else seed)
    weights = MammenWeights(rng, biters, n) if bstrap and cluster is None else None
    sinks = Sinks(n, len(cells), cluster=None if cluster is None else _cluster_codes(cluster), weights=weights)
    fit = _CellFit(cells, tlist, g_unit, n, sinks)
    if panel:
        arrays = _panel_arrays(df, uc, tc, n, T, yname, weightsname, Xfirst, X_all, w_all, w_unit, len(xnames),
                               nT)
        fit.panel(arrays, est_method, xformla)
    else:
        fit.repeated_cross_sections(df, uc, tname, yname, X_all, w_all, est_method)
    fit.warn_failures()
    se, crit, na_cells = _inference(sinks, n, T, bstrap, biters, cband, alp, rng)
    group, tt, att = fit.group, fit.tt, fit.att

    return AttGtResult(
        group=group,
        t=tt,
        att=att,
        se=se,
        crit_val=float(crit),
        influence=fit.influence,
        cluster_analytic=bool(cluster is not None and not bstrap),
        n=int(n),
        analytic_na=na_cells,
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
            biters=int(biters), cband=bool(cband), alp=float(alp), seed=seed, small_cluster=small_cluster,
            n_units=int(n), n_obs=int(len(df)), covariates=xnames,
        ),
    )


def _check_args(control_group, est_method, base_period, small_cluster, alp, biters, clustervars, idname) -> list:
    check_option("control_group", control_group, ControlGroup)
    check_option("est_method", est_method, EstMethod)
    check_option("base_period", base_period, BasePeriod)
    check_option("small_cluster", small_cluster, SmallCluster)
    if not (0 < alp < 1):
        raise CeciError(f"alp={alp} must lie strictly between 0 and 1")
    if int(biters) < 1:
        raise CeciError(f"biters={biters} must be a positive integer")
    if isinstance(clustervars, str):
        clustervars = [clustervars]
    clustervars = [c for c in (clustervars or []) if c != idname]
    if len(clustervars) > 1:
        raise CeciError(f"clustervars={clustervars!r}: at most one cluster variable beyond {idname!r} is supported")
    return clustervars


def _balance(df, uc, tc, g_unit, T, allow_unbalanced_panel, nT=0):
    """Balanced panel (units missing a period dropped, as R does), or the repeated-cross-section path."""
    if nT and uc.size == T * g_unit.size:
        return df, uc, tc, g_unit, True
    counts = np.bincount(uc)
    if bool((counts == T).all()):
        return df, uc, tc, g_unit, True
    if allow_unbalanced_panel:
        return df, uc, tc, g_unit, False
    _warn(f"{int((counts != T).sum())} units are missing in some periods. "
          "Converting to balanced panel by dropping them.")
    keep = (counts == T)[uc]
    df, uc, tc = df.loc[keep], uc[keep], tc[keep]
    present = np.zeros(g_unit.size, bool)
    present[uc] = True
    uc = (np.cumsum(present) - 1)[uc]
    g_unit = g_unit[present]
    if df.empty:
        raise CeciError("all units dropped while balancing the panel; set allow_unbalanced_panel=True")
    return df, uc, tc, g_unit, True


def _covariates(df, uc, tc, xformla, panel, nT=0):
    """The covariate design: on first-period rows when covariates are constant within units (``Xfirst``, one row
    per unit), else on every row (``X_all``). ``nT``: the rows are blocks of one unit's periods in order."""
    X_all = Xfirst = None
    xnames = None
    if panel:
        first_rows = np.arange(0, uc.size, nT) if nT else np.flatnonzero(tc == 0)
        const = True
        for v in formula_vars(xformla, df.columns):
            if not pd.api.types.is_numeric_dtype(df[v]) or _varies(df[v].to_numpy(), uc, nT) is not None:
                const = False
                break
        if const:
            Xf, xnames = design_matrix(xformla, df.iloc[first_rows])
            Xfirst = np.empty_like(Xf)
            Xfirst[uc[first_rows]] = Xf
    if Xfirst is None:
        X_all, xnames = design_matrix(xformla, df)
    return Xfirst, X_all, xnames


def _unit_facts(df, uc, tc, n, w_all, panel, clustervars, nT=0):
    """Each unit's (first-period) weight and cluster."""
    first = slice(0, None, nT) if nT else tc == 0
    if w_all is None:
        w_unit = np.ones(n)
    elif panel:
        w_unit = np.empty(n)
        w_unit[uc[first]] = w_all[first]
    else:
        w_unit = np.bincount(uc, weights=w_all) / np.bincount(uc)
    cluster = None
    if clustervars:
        cv = df[clustervars[0]].to_numpy()
        cluster = np.empty(n, dtype=cv.dtype)
        if nT:
            cluster[uc[::nT]] = cv[::nT]
        else:
            cluster[uc] = cv
    return w_unit, cluster


def _check_group_sizes(g_unit, xnames, control_group) -> None:
    """R's warning for groups with fewer units than covariates + 5 (an error for a too-small never-treated group)."""
    req = len(xnames) - 1 + 5
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


def _cells(glist, tlist, base_period, anticipation, control_group) -> list[dict]:
    """The (g, t) cells in R's order, with their base period and not-yet-treated threshold."""
    tfac = 0 if base_period == "universal" else 1
    tlen = len(tlist) if base_period == "universal" else len(tlist) - 1
    cells = []
    for g in glist:
        idx_g = np.flatnonzero(tlist + anticipation < g)
        pret_g = int(idx_g[-1]) if idx_g.size else None
        for t0 in range(tlen):
            tcur = t0 + tfac
            pret = pret_g if (base_period == "universal" or g <= tlist[tcur]) else t0
            if pret is None:
                _warn(f"There are no pre-treatment periods for the group first treated at {g:g}; "
                      "units from this group are dropped.")
                break
            thr = None if control_group == "nevertreated" else tlist[max(t0, pret) + tfac] + anticipation
            cells.append({"g": g, "tcur": tcur, "pret": pret, "thr": thr,
                          "ref": base_period == "universal" and pret == tcur})
    return cells


class _Grid:
    """Rows of a balanced panel placed on the units x periods grid: a copy of whole rows when the data come in
    blocks of one unit's ``T`` periods in order (the usual layout), a scatter otherwise."""

    def __init__(self, uc, tc, n, T, nT=0):
        self.uc, self.tc, self.n, self.T = uc, tc, n, T
        self.blocked = nT == T and uc.size == n * T

    def fill(self, vals: np.ndarray) -> np.ndarray:
        out = np.empty((self.n, self.T, *vals.shape[1:]))
        if self.blocked:
            out[self.uc[:: self.T]] = vals.reshape(self.n, self.T, *vals.shape[1:])
        else:
            out[self.uc, self.tc] = vals
        return out


def _panel_arrays(df, uc, tc, n, T, yname, weightsname, Xfirst, X_all, w_all, w_unit, k, nT=0) -> dict:
    """Outcomes (units x periods), covariates and weights of a balanced panel, constant or by period."""
    grid = _Grid(uc, tc, n, T, nT)
    Y = grid.fill(df[yname].to_numpy(float))
    x_const = Xfirst is not None
    Xp = None
    if not x_const:
        Xfirst = np.empty((n, k))
        Xfirst[uc[tc == 0]] = X_all[tc == 0]
        x_const = bool(np.all(X_all[:, 1:] == Xfirst[uc, 1:])) if k > 1 else True
    if not x_const:
        Xp = grid.fill(X_all)
    w_const = w_all is None or bool(np.all(w_all == w_unit[uc]))
    Wp = None
    if not w_const:
        _warn(f"Time-varying weights in {weightsname!r}: each 2x2 comparison uses the weights of its earlier "
              "period and aggregation uses first-period weights, as R did does.")
        Wp = grid.fill(w_all)
    return {"Y": Y, "Xfirst": Xfirst, "Xp": Xp, "x_const": x_const, "w_unit": w_unit, "Wp": Wp, "w_const": w_const}


def _cluster_codes(cluster: np.ndarray) -> tuple[np.ndarray, int]:
    uniq, codes = np.unique(cluster, return_inverse=True)
    return codes, int(uniq.shape[0])


class _CellFit:
    """ATT(g,t) of every cell; each batch's influence functions go to the sinks (sums of squares, cluster sums,
    bootstrap sums) as they are estimated and are kept only as factors (:mod:`ceci_impact.did.influence`)."""

    def __init__(self, cells, tlist, g_unit, n, sinks: Sinks):
        self.cells, self.tlist, self.g_unit, self.n, self.sinks = cells, tlist, g_unit, n, sinks
        k = len(cells)
        self.group = np.array([c["g"] for c in cells], float)
        self.tt = np.array([tlist[c["tcur"]] for c in cells], float)
        self.att = np.full(k, np.nan)
        self.att[[j for j, c in enumerate(cells) if c["ref"]]] = 0.0
        self.influence = CellInfluence(n, k)
        self.failures: dict[tuple, list] = {}
        self.cohorts = np.unique(g_unit[g_unit > 0])

    def control_mask(self, g, thr):
        if thr is None:
            return self.g_unit == 0
        return (self.g_unit == 0) | ((self.g_unit > thr) & (self.g_unit != g))

    def fail(self, js, why):
        for j in js:
            self.failures.setdefault((self.cells[j]["g"], why), []).append(self.tt[j])
        self.influence.fail(js)
        self.sinks.fail(js)

    def _batches(self, x_const, w_const) -> dict:
        """Cells sharing cohort, comparison set and covariate/weight period: one 2x2 design, many outcomes."""
        batches: dict[tuple, list] = {}
        for j, c in enumerate(self.cells):
            if c["ref"]:
                continue
            ckey = None if c["thr"] is None else tuple(self.cohorts[(self.cohorts > c["thr"]) & (self.cohorts != c["g"])])
            e_idx = min(c["tcur"], c["pret"])
            batches.setdefault((c["g"], ckey, 0 if x_const else e_idx, 0 if w_const else e_idx), []).append(j)
        return batches

    def panel(self, a: dict, est_method: str, xformla) -> None:
        est = PANEL_BATCH[est_method]
        self.influence.Y = a["Y"]
        stats = None
        if a["x_const"] and a["Xfirst"].shape[1] == 1 and a["w_const"]:
            stats = CohortStats(a["Y"], a["w_unit"], self.g_unit, weights=self.sinks.weights,
                                cluster=None if self.sinks.S is None else (self.sinks.codes, self.sinks.G))
        elif self.sinks.weights is not None:  # units in several comparisons: their weights drawn once
            shared = self.n if any(c["thr"] is not None for c in self.cells) else int((self.g_unit == 0).sum())
            self.sinks.weights.keep(0, shared)
        for (g, ckey, xk, wk), js in self._batches(a["x_const"], a["w_const"]).items():
            Gfull = self.g_unit == g
            kept = np.flatnonzero(Gfull | self.control_mask(g, self.cells[js[0]]["thr"]))
            if stats is not None:
                self._grouped(stats, g, ckey, kept, np.asarray(js), a, est_method)
                continue
            D = Gfull[kept].astype(float)
            Xall = a["Xfirst"] if a["x_const"] else a["Xp"][:, xk, :]
            try:
                if D.sum() == 0 or D.sum() == D.size:
                    raise EstimationFailure("no treated or no control units")
                X = Xall[kept]
                w = a["w_unit"][kept] if a["w_const"] else a["Wp"][kept, wk]
                ps = None
                if est_method in ("dr", "ipw"):
                    ps = logit_fit(X, D, w / w.mean())
                    if ps.max() >= 0.999:
                        raise EstimationFailure("overlap condition violated (propensity scores reach 0.999)")
                if est_method in ("dr", "reg") and ill_conditioned((X.T * (1 - D)) @ X):
                    raise EstimationFailure(f"covariate matrix of control units is singular (collinear "
                                            f"covariates in {xformla!r}?)")
                tc = np.array([self.cells[j]["tcur"] for j in js])
                tp = np.array([self.cells[j]["pret"] for j in js])
                att, (fa, fZ, fB, fC), inf = est(changes(a["Y"], kept, tc, tp), D, X, w, ps)
            except EstimationFailure as exc:
                self.fail(js, str(exc))
                continue
            ok = np.isfinite(att)
            js = np.asarray(js)
            if not ok.all():
                self.fail(js[~ok], "estimate is not finite")
                inf = inf[:, ok]
            if not ok.any():
                continue
            scale = self.n / kept.size
            inf *= scale
            self.att[js[ok]] = att[ok]
            self.influence.add(PanelBatch(js[ok], kept, fa, fZ, None if fB is None else fB[:, ok], fC[:, ok],
                                          tc[ok], tp[ok], scale, Xall))
            self.sinks.add(js[ok], kept, inf)

    def _grouped(self, stats: CohortStats, g, ckey, kept, js, a, est_method) -> None:
        """One comparison without covariates, from the cohorts' statistics (:mod:`ceci_impact.did.grouped`)."""
        controls = [0.0, *ckey] if ckey is not None else [0.0]
        controls = [h for h in controls if h in stats.slices]
        nt = stats.slices[g][1] - stats.slices[g][0] if g in stats.slices else 0
        if nt == 0 or nt == kept.size:
            self.fail(js, "no treated or no control units")
            return
        tc = np.array([self.cells[j]["tcur"] for j in js])
        tp = np.array([self.cells[j]["pret"] for j in js])
        r = stats.comparison(g, controls, kept.size, tc, tp)
        if est_method in ("dr", "ipw") and r["p"] >= 0.999:
            self.fail(js, "overlap condition violated (propensity scores reach 0.999)")
            return
        if est_method in ("dr", "ipw") and r["p"] >= TRIM_LEVEL:  # every comparison unit trimmed: R gives NaN
            self.fail(js, "estimate is not finite")
            return
        scale = self.n / kept.size
        self.att[js] = r["att"]
        D = self.g_unit[kept] == g
        wk = a["w_unit"][kept]
        fa = np.where(D, r["ct"], r["cc"]) * wk
        fZ = (-r["ct"] * wk * D)[:, None]
        self.influence.add(PanelBatch(js, kept, fa, fZ, r["dmc"][None, :], r["att"][None, :], tc, tp, scale,
                                      a["Xfirst"]))
        self.sinks.add_summaries(js, r["sumsq"] * scale**2, None if "S" not in r else r["S"] * scale,
                                 None if "boot" not in r else r["boot"] * scale)

    def repeated_cross_sections(self, df, ucode, tname, yname, X_all, w_all, est_method) -> None:
        est = RC_ESTIMATORS[est_method]
        t_all = df[tname].to_numpy()
        y_all = df[yname].to_numpy(float)
        g_all = self.g_unit[ucode]
        w_all = np.ones(len(df)) if w_all is None else w_all
        for j, c in enumerate(self.cells):
            if c["ref"]:
                continue
            g, thr = c["g"], c["thr"]
            try:
                tp, tq = self.tlist[c["tcur"]], self.tlist[c["pret"]]
                Gr = g_all == g
                Cr = (g_all == 0) if thr is None else ((g_all == 0) | ((g_all > thr) & (g_all != g)))
                ridx = np.flatnonzero(((t_all == tp) | (t_all == tq)) & (Gr | Cr))
                D = Gr[ridx].astype(float)
                post = (t_all[ridx] == tp).astype(float)
                if min((D * post).sum(), (D * (1 - post)).sum(), ((1 - D) * post).sum(),
                       ((1 - D) * (1 - post)).sum()) == 0:
                    raise EstimationFailure("no treated or no control units in one of the two periods")
                X = X_all[ridx]
                if est_method in ("dr", "ipw"):
                    ps = logit_fit(X, D, w_all[ridx] / w_all[ridx].mean())
                    if ps.max() >= 0.999:
                        raise EstimationFailure("overlap condition violated (propensity scores reach 0.999)")
                a, inf_rows = est(y_all[ridx], post, D, X, w_all[ridx])
                if not np.isfinite(a):
                    raise EstimationFailure("estimate is not finite")
            except EstimationFailure as exc:
                self.fail([j], str(exc))
                continue
            codes = ucode[ridx]
            rows = np.unique(codes)
            self.att[j] = a
            vals = np.bincount(codes, weights=inf_rows * (self.n / ridx.size), minlength=self.n)[rows][:, None]
            cols = np.array([j])
            self.influence.add(ExplicitBatch(cols, rows, vals))
            self.sinks.add(cols, rows, vals)

    def warn_failures(self) -> None:
        for (g, why), times in self.failures.items():
            ng = int((self.g_unit == g).sum())
            _warn(f"ATT(g,t) set to NA for group {g:g} ({ng} units) in {len(times)} period(s) "
                  f"{times[0]:g}..{times[-1]:g}: {why}" + ("; the cohort is very small" if ng < 3 else ""))


def _inference(sinks: Sinks, n, T, bstrap, biters, cband, alp, rng):
    """Pointwise SEs (analytic, clustered analytic, or multiplier bootstrap) and the band's critical value."""
    if sinks.S is not None and not bstrap:
        var = (sinks.S**2).sum(axis=0) / n
    else:
        var = sinks.sumsq / n
    se = np.sqrt(var / n)
    se[~(se > _TINY)] = np.nan
    na_cells = np.isnan(se)
    crit = stats.norm.ppf(1 - alp / 2)
    if bstrap:
        if sinks.S is not None:
            G = sinks.G
            bout = summarise_draws(np.sqrt(G) * MammenWeights(rng, biters, G).sums(sinks.S) / G, G, n, alp)
        else:
            bout = summarise_draws(np.sqrt(n) * sinks.boot / n, n, n, alp)
        se = np.where(na_cells, np.nan, bout.se)
        se[~(se > _TINY)] = np.nan
        if cband and T > 2:
            crit = bout.crit_val
            if crit >= 7:
                _warn("Simultaneous critical value is arguably too large to be reliable "
                      "(few observations per group or little variation in outcomes).")
    return se, crit, na_cells
