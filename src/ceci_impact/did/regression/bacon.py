"""Goodman-Bacon decomposition of the static TWFE coefficient into 2x2 comparisons."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..._options import CeciError
from ..core.results import _json, table_html


@dataclass(frozen=True, eq=False)
class BaconResult:
    """Every 2x2 comparison: treated and comparison cohorts, type, estimate and weight (weights sum to 1).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per 2x2 comparison: cohorts, type, estimate, weight.
    twfe_estimate : float
        The static TWFE coefficient the weighted comparisons add up to.
    params : dict
        The arguments of the call that produced the result.
    """

    table: pd.DataFrame
    twfe_estimate: float
    params: dict = field(default_factory=dict)

    @property
    def weighted_sum(self) -> float:
        return float((self.table.estimate * self.table.weight).sum())

    def tidy(self) -> pd.DataFrame:
        return self.table.copy()

    def by_type(self) -> pd.DataFrame:
        """Total weight and weighted average estimate of each comparison type."""
        t = self.table
        return t.groupby("type").apply(lambda d: pd.Series({"weight": d.weight.sum(), "estimate": np.average(
            d.estimate, weights=d.weight) if d.weight.sum() > 0 else np.nan}), include_groups=False).reset_index()

    def summary(self) -> str:
        return (f"Goodman-Bacon decomposition: TWFE = {self.twfe_estimate:.6f} = sum(weight x estimate) = "
                f"{self.weighted_sum:.6f}\n" + self.by_type().to_string(index=False))

    def _repr_html_(self) -> str:
        return table_html(self.by_type(), "Goodman-Bacon decomposition of TWFE",
                          [f"TWFE {self.twfe_estimate:.4f}; 'Later vs Earlier Treated' comparisons use already-treated "
                           "units as controls (the forbidden comparisons)."])

    def to_dict(self) -> dict:
        return _json({"estimator": "bacon", "twfe": self.twfe_estimate, "table": self.table.to_dict(orient="list")})

    def plot(self, ax=None):
        """Draw the result (matplotlib); returns the axes.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on (default: a new figure).
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        for typ, d in self.table.groupby("type"):
            ax.scatter(d.weight, d.estimate, label=typ)
        ax.axhline(self.twfe_estimate, color="black", ls="--", lw=0.8, label="TWFE")
        ax.set_xlabel("weight")
        ax.set_ylabel("2x2 estimate")
        ax.legend(frameon=False, fontsize=8)
        ax.set_title("Goodman-Bacon decomposition")
        return ax


def _did(ybar, rows_t, rows_c, pre, post):
    """2x2 DiD of group means: (post - pre) of treated minus (post - pre) of comparison."""
    return (ybar[rows_t][:, post].mean() - ybar[rows_t][:, pre].mean()) - (
        ybar[rows_c][:, post].mean() - ybar[rows_c][:, pre].mean())


def bacon_decomposition(data: pd.DataFrame, *, yname: str, tname: str, idname: str, gname: str) -> BaconResult:
    """Goodman-Bacon (2021) decomposition for a balanced panel with absorbing treatment.

    Comparisons: treated vs never treated, earlier vs later treated (later cohort not yet treated)
    and later vs earlier treated (earlier cohort already treated). Units treated in the first period
    count as "always treated" comparisons. Weights follow Goodman-Bacon's formulas, normalised by the
    variance of the two-way demeaned treatment, so they sum to one and the weighted sum of the 2x2
    estimates equals the static TWFE coefficient.

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
    """
    from ..core.design import check_panel

    check_panel(data, yname=yname, tname=tname, idname=idname, gname=gname)
    df = data[[yname, tname, idname, gname]].dropna(subset=[yname]).copy()
    df[gname] = df[gname].fillna(0)
    T_list = np.sort(df[tname].unique())
    T = len(T_list)
    counts = df.groupby(idname).size()
    if (counts != T).any():
        raise CeciError("bacon_decomposition needs a balanced panel: every unit observed in every period")
    wide = df.pivot(index=idname, columns=tname, values=yname).to_numpy(float)
    g_unit = df.groupby(idname)[gname].first().to_numpy(float)
    n = len(g_unit)
    # cohorts: never (inf), always treated (first period or before), timing cohorts
    tpos = {v: i for i, v in enumerate(T_list)}
    first_idx = np.array([0 if (g > 0 and g <= T_list[0]) else (tpos.get(g, None) if g > 0 else None)
                          for g in g_unit], dtype=object)
    if any(f is None and g > 0 and g <= T_list[-1] for f, g in zip(first_idx, g_unit, strict=True)):
        raise CeciError(f"{gname} must be one of the periods of {tname} (or 0 = never treated)")
    groups = {}
    for i, (g, f) in enumerate(zip(g_unit, first_idx, strict=True)):
        key = "never" if (g == 0 or g > T_list[-1]) else int(f)
        groups.setdefault(key, []).append(i)
    timing = sorted(k for k in groups if k != "never")
    share = {k: len(v) / n for k, v in groups.items()}
    Dbar = {k: (T - k) / T for k in timing}
    rows = []

    def add(treated, control, typ, est, s):
        rows.append({"treated": treated, "untreated": control, "type": typ, "estimate": est, "raw_weight": s})

    lab = {k: float(T_list[k]) for k in timing}
    if "never" in groups:
        U = np.array(groups["never"])
        for k in timing:
            if k == 0:
                continue
            K = np.array(groups[k])
            nk, nu = share[k], share["never"]
            nku = nk / (nk + nu)
            s = (nk + nu) ** 2 * nku * (1 - nku) * Dbar[k] * (1 - Dbar[k])
            est = _did(wide, K, U, np.arange(T) < k, np.arange(T) >= k)
            add(lab[k], np.inf, "Treated vs Untreated", est, s)
    for a in timing:
        for b in timing:
            if a >= b:
                continue
            k, l = a, b  # k earlier, l later
            K, L = np.array(groups[k]), np.array(groups[l])
            nk, nl = share[k], share[l]
            nkl = nk / (nk + nl)
            Dk, Dl = Dbar[k], Dbar[l]
            if k > 0:  # earlier treated vs later (not yet treated) as control, periods before l
                s = ((nk + nl) * (1 - Dl)) ** 2 * nkl * (1 - nkl) * ((Dk - Dl) / (1 - Dl)) * ((1 - Dk) / (1 - Dl))
                win = np.arange(T) < l
                est = _did(wide, K, L, (np.arange(T) < k) & win, (np.arange(T) >= k) & win)
                add(lab[k], lab[l], "Earlier vs Later Treated", est, s)
            # later treated vs earlier (already treated) as control, periods from k on
            s = ((nk + nl) * Dk) ** 2 * nkl * (1 - nkl) * (Dl / Dk) * ((Dk - Dl) / Dk)
            win = np.arange(T) >= k
            est = _did(wide, L, K, (np.arange(T) < l) & win, (np.arange(T) >= l) & win)
            add(lab[l], lab[k] if k > 0 else -np.inf,
                "Later vs Earlier Treated" if k > 0 else "Later vs Always Treated", est, s)
    tab = pd.DataFrame(rows)
    tab["weight"] = tab.raw_weight / tab.raw_weight.sum()
    tab = tab.drop(columns="raw_weight")
    from .twfe import twfe

    tw = twfe(df, yname=yname, tname=tname, idname=idname, gname=gname)
    return BaconResult(table=tab, twfe_estimate=tw.overall_att,
                       params=dict(yname=yname, tname=tname, idname=idname, gname=gname))
