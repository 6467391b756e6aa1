"""Input preparation for ``att_gt``: unit and period codes, the checks R ``did`` makes, the balanced panel and
its units x periods arrays (linear-time paths for the usual layout: rows in blocks of one unit's periods)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..._options import CeciError
from ..core.design import _blocked_codes, design_matrix, formula_vars
from ..core.notes import DidWarning


def _warn(msg: str, **facts) -> None:
    warnings.warn(DidWarning(msg, facts), stacklevel=3)


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
              f"(outcome {yname!r}: {int(df[yname].isna().sum())} missing)", rows_dropped_missing=int(bad.sum()))
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
                  "'never-treated' units, and data from periods after that is being filtered out.",
                  control_coerced=float(latest))
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
        _warn(f"Dropped {int(tfp_unit.sum())} units that were already treated in the first period.",
              units_dropped_treated_first_period=int(tfp_unit.sum()))
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


def _balance(df, uc, tc, g_unit, T, allow_unbalanced_panel, nT=0):
    """Balanced panel (units missing a period dropped, as R does), or the repeated-cross-section path."""
    if nT and uc.size == T * g_unit.size:
        return df, uc, tc, g_unit, True
    counts = np.bincount(uc)
    if bool((counts == T).all()):
        return df, uc, tc, g_unit, True
    if allow_unbalanced_panel:
        return df, uc, tc, g_unit, False
    gone = counts != T
    _warn(f"{int(gone.sum())} units are missing in some periods. "
          "Converting to balanced panel by dropping them.", units_dropped_unbalanced=int(gone.sum()),
          treated_units_dropped_unbalanced=int((gone & (g_unit[: gone.size] > 0)).sum()), units_before_balance=int(g_unit.size))
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


def _pool_name(data, ri_pool, clustervars):
    """``att_gt``'s ``ri_pool``, else the pool the sample declares for this cluster variable (``data.attrs``)."""
    if ri_pool is not None:
        return ri_pool
    attrs = getattr(data, "attrs", {})
    return attrs.get("ri_pool") if attrs.get("ri_pool_cluster") in (None, *clustervars[:1]) else None


def _unit_pool(df, uc, n, nT, name, clustervars, explicit):
    """Each unit's flag of the randomisation pool (``att_gt``'s ``ri_pool``): a time-invariant boolean column.
    None without a name or without a cluster variable (a pool declared by the sample's ``attrs`` is then moot)."""
    if not name:
        return None
    if not clustervars:
        if explicit:
            raise CeciError(f"ri_pool={name!r} needs a cluster variable (clustervars): randomisation inference "
                            "permutes whole clusters' dates")
        return None
    if name not in df.columns and not explicit:  # the sample's declaration, its column since dropped: every cluster
        return None
    if name not in df.columns:
        raise CeciError(f"ri_pool={name!r}: column not found in data; expected a boolean column flagging the "
                        "clusters that could have been assigned an opening date")
    col = df[name]
    if not (pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col)) or not col.isin([0, 1]).all():
        raise CeciError(f"ri_pool={name!r}: expected a boolean (or 0/1) column, found dtype {col.dtype}")
    vals = col.to_numpy().astype(bool)
    varies = _varies(vals.astype(np.int8), uc, nT)
    if varies is not None:
        raise CeciError(f"ri_pool={name!r} must be time-invariant; it varies for {int(np.unique(uc[varies]).size)} "
                        "units")
    out = np.zeros(n, bool)
    if nT:
        out[uc[::nT]] = vals[::nT]
    else:
        out[uc] = vals
    return out


def _check_group_sizes(g_unit, xnames, control_group) -> None:
    """R's warning for groups with fewer units than covariates + 5 (an error for a too-small never-treated group)."""
    req = len(xnames) - 1 + 5
    vals, counts = np.unique(g_unit, return_counts=True)
    sizes = pd.Series(counts, index=vals)
    small = sizes[sizes < req]
    if len(small):
        _warn("Some groups have very few units, which may cause estimation problems; check groups: "
              + ", ".join(f"{g:g} ({c} units)" for g, c in small.items()),
              small_cohorts=[(float(g), int(c)) for g, c in small.items()])
        if 0 in small.index and control_group == "nevertreated":
            raise CeciError(
                f"the never-treated group has {int(small[0])} units, too few to serve as control "
                f"(need at least {req}); try control_group='notyettreated'"
            )


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
