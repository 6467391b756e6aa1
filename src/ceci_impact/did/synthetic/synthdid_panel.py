"""Panel front end of :func:`ceci_impact.did.synthdid`: a long panel into the outcome matrix and its cohorts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..._options import CeciError


@dataclass(frozen=True)
class SdidPanel:
    """The balanced outcome matrix (units × periods), never-treated units first, and each unit's cohort.

    Attributes
    ----------
    Y : numpy.ndarray
        Outcomes (units x periods), never-treated units first.
    units : numpy.ndarray
        Unit labels.
    periods : numpy.ndarray
        Period labels.
    cohort : numpy.ndarray
        Each unit's cohort (0: comparison).
    n_controls : int
        Comparison units.
    dropped_controls : tuple
        Comparison units left out (incomplete series).
    """

    Y: np.ndarray
    units: np.ndarray
    periods: np.ndarray
    cohort: np.ndarray  # first treated period, 0 = comparison unit
    n_controls: int
    dropped_controls: tuple  # comparison units left out for missing outcomes


def build_panel(data: pd.DataFrame, yname: str, tname: str, idname: str, gname: str,
                min_pre: int = 2) -> SdidPanel:
    """Check the long panel and pivot it; every problem raises one :class:`CeciError` line.

    Units whose ``gname`` is 0, missing or after the last period are comparison units (R ``did`` convention).
    A comparison unit with a missing outcome is left out of the donor pool (and listed); a treated unit with one
    is an error. Each cohort needs ``min_pre`` periods before its first treated period.

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
        Cohort column (0 or missing: comparison unit).
    min_pre : int
        Fewest pre-periods a cohort needs.
    """
    miss = [c for c in (yname, tname, idname, gname) if c not in data.columns]
    if miss:
        raise CeciError(f"synthdid: column(s) {', '.join(map(repr, miss))} not in the data; "
                        f"columns are {', '.join(map(str, data.columns[:12]))}")
    d = data[[idname, tname, yname, gname]]
    if d.duplicated([idname, tname]).any():
        r = d[d.duplicated([idname, tname], keep=False)].iloc[0]
        raise CeciError(f"synthdid: unit {_show(r[idname])} has more than one row in period {_show(r[tname])}; "
                        f"expected one row per ({idname}, {tname})")
    g = pd.to_numeric(d[gname], errors="coerce").fillna(0.0)
    per_unit = g.groupby(d[idname]).agg(["min", "max"])
    if (per_unit["min"] != per_unit["max"]).any():
        u = per_unit.index[(per_unit["min"] != per_unit["max"]).to_numpy()][0]
        raise CeciError(f"synthdid: {gname} varies within unit {_show(u)}; expected one first-treated period per unit")
    y = pd.to_numeric(d[yname], errors="coerce")
    if y.notna().sum() == 0:
        raise CeciError(f"synthdid: outcome {yname!r} has no numeric values")
    wide = pd.DataFrame({"u": d[idname].to_numpy(), "t": d[tname].to_numpy(), "y": y.to_numpy()}).pivot(
        index="u", columns="t", values="y")
    periods = np.asarray(wide.columns)
    coh = per_unit["min"].reindex(wide.index).to_numpy(float)
    coh = np.where((coh > 0) & (coh <= periods.max()), coh, 0.0)
    Y = wide.to_numpy(float)
    bad = ~np.isfinite(Y)
    tr_bad = bad.any(axis=1) & (coh > 0)
    if tr_bad.any():
        i = int(np.flatnonzero(tr_bad)[0])
        t = periods[np.flatnonzero(bad[i])[0]]
        raise CeciError(f"synthdid: treated unit {_show(wide.index[i])} has no {yname} in period {_show(t)}; "
                        "expected a complete series for every treated unit")
    keep = ~(bad.any(axis=1) & (coh == 0))
    dropped = tuple(wide.index[~keep].tolist())
    Y, coh, units = Y[keep], coh[keep], np.asarray(wide.index)[keep]
    if not (coh > 0).any():
        raise CeciError(f"synthdid: no treated unit ({gname} > 0 within the panel's periods)")
    order = np.argsort(coh > 0, kind="stable")
    Y, coh, units = Y[order], coh[order], units[order]
    n0 = int((coh == 0).sum())
    if n0 < 2:
        raise CeciError(f"synthdid: {n0} comparison unit(s) with complete outcomes; expected at least 2 donors"
                        + (f" ({len(dropped)} left out for missing outcomes)" if dropped else ""))
    for c in np.unique(coh[coh > 0]):
        pre = int((periods < c).sum())
        if pre < min_pre:
            raise CeciError(f"synthdid: cohort {c:g} has {pre} period(s) before treatment; expected at least "
                            f"{min_pre} pre-periods")
    if np.nanmax(Y) == np.nanmin(Y):
        raise CeciError(f"synthdid: outcome {yname!r} is constant ({Y.flat[0]:g}); nothing to estimate")
    return SdidPanel(Y=Y, units=units, periods=periods, cohort=coh, n_controls=n0, dropped_controls=dropped)


def _show(x) -> str:
    """A value as a user wrote it (no numpy type names in messages)."""
    x = x.item() if hasattr(x, "item") else x
    return repr(x) if isinstance(x, str) else f"{x:g}" if isinstance(x, float) else str(x)
