"""Covariate formulas (``xformla``) into design matrices."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..._options import CeciError


def design_matrix(xformla: str | None, data: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Build the covariate design matrix (with intercept) for ``xformla`` such as ``"~ x1 + x2"``.

    ``None`` or ``"~1"`` gives the intercept-only design. Factors and transformations follow
    formulaic's grammar (``C(x)``, ``np.log(x)``, interactions).

    Parameters
    ----------
    xformla : str, optional
        Covariates as a one-sided formula (``"~ x1 + x2"``; None or ``"~1"``: none).
    data : pandas.DataFrame
        The rows the design is built on.
    """
    if xformla is None or xformla.replace(" ", "") in ("~1", "", "1"):
        return np.ones((len(data), 1)), ["Intercept"]
    import re

    plain = re.fullmatch(r"\s*~?\s*([A-Za-z_][A-Za-z0-9_]*(\s*\+\s*[A-Za-z_][A-Za-z0-9_]*)*)\s*", xformla)
    if plain:  # plain sum of numeric columns: no formula machinery needed (and identical design)
        names = [v.strip() for v in plain.group(1).split("+")]
        if all(v in data.columns and pd.api.types.is_numeric_dtype(data[v]) and not pd.api.types.is_bool_dtype(data[v])
               for v in names):
            X = np.empty((len(data), len(names) + 1))
            X[:, 0] = 1.0
            for j, v in enumerate(names):
                X[:, j + 1] = data[v].to_numpy(float)
            return X, ["Intercept", *names]
    from formulaic import model_matrix

    check_formula(xformla, data.columns)
    f = xformla.strip()
    if not f.startswith("~"):
        f = "~" + f
    try:
        mm = model_matrix(f, data, na_action="ignore")
    except Exception as exc:  # formulaic raises several types
        raise CeciError(f"xformla={xformla!r} could not be evaluated: {exc}") from None
    X = np.asarray(mm, dtype=float)
    if X.shape[0] != len(data):
        raise CeciError(f"xformla={xformla!r} produced {X.shape[0]} rows for {len(data)} data rows")
    return X, list(mm.columns)


# transformations a covariate formula may use; anything else that is not a column is refused (formulaic evaluates
# Python inside a formula: a formula is never allowed to name anything but columns and these)
SAFE_CALLS = frozenset({"C", "I", "np.log", "np.log1p", "np.exp", "np.sqrt", "np.abs", "log", "exp", "sqrt",
                        "center", "scale", "standardize", "poly", "bs", "Treatment", "Sum", "degree", "df",
                        "reference", "raw"})
_UNSAFE = re.compile(r"[{}`'\"\\;@\[\]:!$]|__|\blambda\b")


def check_formula(xformla: str, columns) -> None:
    """Refuse a covariate formula that names anything but columns of the data and :data:`SAFE_CALLS` (formulaic
    evaluates Python in ``{...}`` terms and calls: a formula from a parameter must never run code).

    Parameters
    ----------
    xformla
        The formula, such as ``"~ x1 + C(region)"``.
    columns
        The data's column names.
    """
    cols = {str(c) for c in columns}
    bad = _UNSAFE.search(xformla)
    if bad:
        raise CeciError(f"xformla={xformla!r}: character {bad.group(0)!r} is not allowed; expected column names joined "
                        "by + (with C(), I(), np.log() and the like); formulas are never evaluated as code")
    for tok in re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", xformla):
        if tok not in cols and tok not in SAFE_CALLS:
            raise CeciError(f"xformla={xformla!r}: {tok!r} is neither a column of the data nor an allowed "
                            f"transformation ({', '.join(sorted(SAFE_CALLS)[:8])}, ...); expected column names")


def covariate_formula(covariates, columns=None) -> str | None:
    """``"~ x1 + x2"`` from a list of covariate names, each checked to be a plain column name (and, with
    ``columns``, a column of the data); ``None`` for no covariates.

    Parameters
    ----------
    covariates
        Column names (a notebook parameter).
    columns
        The data's columns, or ``None`` to check the names' form only.
    """
    names = list(covariates or ())
    for c in names:
        if not isinstance(c, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", c):
            raise CeciError(f"covariates: found {c!r}, expected a column name (letters, digits and '_')")
        if columns is not None and c not in set(map(str, columns)):
            raise CeciError(f"covariates: {c!r} is not a column of the data; expected one of "
                            f"{', '.join(sorted(map(str, columns))[:12])}")
    return "~ " + " + ".join(names) if names else None


def formula_vars(xformla: str | None, columns) -> list[str]:
    """Column names of ``columns`` that appear as identifiers in ``xformla``.

    Parameters
    ----------
    xformla : str, optional
        Covariates as a one-sided formula (``"~ x1 + x2"``; None or ``"~1"``: none).
    columns : iterable of str
        Candidate column names.
    """
    if xformla is None:
        return []
    import re

    toks = set(re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", xformla))
    return [c for c in columns if c in toks]


def _covariates(xformla: str, data: pd.DataFrame, idname: str):
    """The covariates of ``xformla`` (no intercept), their names, which are constant within every unit, and each
    unit's first row of them (units in order of first appearance)."""
    Xc, cn = design_matrix(xformla, data)
    Xc, cn = Xc[:, 1:], cn[1:]
    uid = pd.factorize(data[idname])[0]
    first = np.full((uid.max() + 1, Xc.shape[1]), np.nan)
    first[uid[::-1]] = Xc[::-1]  # the first row of each unit
    invariant = np.all(np.isclose(Xc, first[uid], rtol=0, atol=1e-12) | (np.isnan(Xc) & np.isnan(first[uid])), axis=0)
    return Xc, cn, invariant, first


def covariate_parts(xformla: str | None, data: pd.DataFrame, idname: str) -> tuple[np.ndarray, np.ndarray]:
    """The covariates of :func:`covariate_design` without the period dummies: time-varying ones by row (rows x q)
    and time-invariant ones by unit (units x p, units in order of first appearance), for solvers that give the
    invariant ones period-specific slopes themselves.

    Parameters
    ----------
    xformla : str, optional
        Covariates as a one-sided formula (``"~ x1 + x2"``; None or ``"~1"``: none).
    data : pandas.DataFrame
        The panel.
    idname : str
        Unit column.
    """
    n_u = int(pd.factorize(data[idname])[0].max()) + 1 if len(data) else 0
    if xformla is None:
        return np.zeros((len(data), 0)), np.zeros((n_u, 0))
    Xc, _, invariant, first = _covariates(xformla, data, idname)
    return Xc[:, ~invariant], first[:, invariant]


def covariate_design(xformla: str | None, data: pd.DataFrame, idname: str, tname: str) -> tuple[np.ndarray, list[str]]:
    """Covariate regressors of a two-way fixed-effects regression that honours conditional parallel trends.

    Time-varying covariates enter as they are. A time-invariant covariate (constant within every unit) would be
    absorbed by the unit effects; conditional parallel trends given it (what Callaway–Sant'Anna's ``xformla``
    assumes) let the trend depend on it, so it enters interacted with period dummies (the first period is the
    reference), as fixest's ``i(year, x, ref = first year)`` or didimputation's ``first_stage = ~ 0 | id + year +
    year[x]``. Returns the design (no intercept) and its column names; ``None`` gives zero columns.

    Parameters
    ----------
    xformla : str, optional
        Covariates as a one-sided formula (``"~ x1 + x2"``; None or ``"~1"``: none).
    data : pandas.DataFrame
        The panel.
    idname : str
        Unit column.
    tname : str
        Period column.
    """
    if xformla is None:
        return np.zeros((len(data), 0)), []
    Xc, cn, invariant, _ = _covariates(xformla, data, idname)
    if Xc.shape[1] == 0:
        return Xc, []
    periods = np.sort(pd.unique(data[tname]))
    t = data[tname].to_numpy()
    cols, names = [], []
    for j, name in enumerate(cn):
        if not invariant[j]:
            cols.append(Xc[:, [j]])
            names.append(name)
            continue
        dummies = (t[:, None] == periods[None, 1:]).astype(float)
        cols.append(dummies * Xc[:, [j]])
        names += [f"{tname}::{p:g}:{name}" for p in periods[1:]]
    return np.column_stack(cols), names


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


def panel_codes(data: pd.DataFrame, idname: str, tname: str) -> tuple[np.ndarray, np.ndarray]:
    """Unit and period codes of the rows in order of first appearance (as ``pd.factorize``): from the layout,
    without hashing, when the rows are blocks of one unit's periods in the same order (compact integer types);
    by factorizing otherwise.

    Parameters
    ----------
    data : pandas.DataFrame
        The panel, one row per unit and period.
    idname : str
        Column of the unit identifier.
    tname : str
        Column of the period.
    """
    blocked = _blocked_codes(data[idname].to_numpy(), data[tname].to_numpy())
    if blocked is not None:
        return blocked[0], blocked[1]
    return pd.factorize(data[idname])[0], pd.factorize(data[tname])[0]


def check_panel(data: pd.DataFrame, *, yname: str, tname: str, idname: str, gname: str,
                clustervars: tuple[str, ...] | list[str] = ()) -> None:
    """The panel checks every estimator applies (one line each): the columns exist, period and cohort are numeric,
    one row per unit and period, a cohort (and any cluster variable) constant within each unit, cohorts 0 (never
    treated) or positive.

    Parameters
    ----------
    data : pandas.DataFrame
        Long panel.
    yname : str
        Outcome column.
    tname : str
        Period column.
    idname : str
        Unit column.
    gname : str
        Cohort column.
    clustervars : sequence of str
        Cluster variables (must be constant within units).
    """
    if not isinstance(data, pd.DataFrame):
        raise CeciError(f"data must be a pandas DataFrame, found {type(data).__name__}")
    needed = list(dict.fromkeys([yname, tname, idname, gname, *clustervars]))
    missing = [c for c in needed if c not in data.columns]
    if missing:
        raise CeciError(f"column(s) {', '.join(missing)} not found in data; available: {', '.join(map(str, data.columns))}")
    for col in (yname, tname, gname):
        if not (pd.api.types.is_numeric_dtype(data[col]) or pd.api.types.is_bool_dtype(data[col])):
            raise CeciError(f"column {col!r} must be numeric, found dtype {data[col].dtype}")
    checks = [(gname, "must be constant within each unit")] + [
        (c, "is a cluster variable and must be time-invariant") for c in clustervars]
    # the usual layout (blocks of one unit's periods, in the same order): no duplicates, and a column is constant
    # within units when each block repeats its first value; checked without hashing or copies of the frame
    blocked = _blocked_codes(data[idname].to_numpy(), data[tname].to_numpy())
    if blocked is not None:
        T = blocked[2].size
        checks = [(c, w) for c, w in checks if not _blocks_constant(data[c], T)]
    else:
        dup = data.duplicated([idname, tname])
        if dup.any():
            i = int(np.flatnonzero(dup.to_numpy())[0])
            raise CeciError(f"{int(dup.sum())} duplicated ({idname}, {tname}) rows, e.g. {idname}={data[idname].iat[i]}, "
                            f"{tname}={data[tname].iat[i]}; expected one row per unit and period")
    uc = pd.factorize(data[idname])[0] if checks else None
    for col, what in checks:
        v = pd.factorize(data[col].fillna(0) if col == gname else data[col])[0]
        first = np.full(uc.max() + 1, -1)
        first[uc[::-1]] = v[::-1]
        varies = first[uc] != v
        if varies.any():
            raise CeciError(f"{col!r} {what} ({idname}); it varies for {int(np.unique(uc[varies]).size)} units, "
                            f"e.g. {data[idname].iat[int(np.flatnonzero(varies)[0])]}")
    gmin = data[gname].min()  # missing cohorts are never treated (0)
    if gmin < 0:
        raise CeciError(f"{gname!r} must be 0 (never treated) or a positive period; found {gmin}")


def _blocks_constant(col: pd.Series, T: int) -> bool:
    """Whether every block of ``T`` consecutive rows of ``col`` repeats its first value (missing values equal)."""
    v = col.to_numpy()
    if v.dtype == object or v.size % T:
        return False
    V = v.reshape(-1, T)
    same = V == V[:, :1]
    if v.dtype.kind == "f":
        same |= np.isnan(V) & np.isnan(V[:, :1])
    return bool(same.all())
