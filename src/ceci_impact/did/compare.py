"""Run several event-study estimators on one specification: one tidy table, one overlay figure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from .._options import CeciError, check_option
from .core.results import _json, table_html

Estimator = Literal["callaway_santanna", "sun_abraham", "imputation", "twfe", "poisson"]
ALL_ESTIMATORS = ("callaway_santanna", "sun_abraham", "imputation", "twfe")
LABELS = {"callaway_santanna": "Callaway–Sant'Anna", "sun_abraham": "Sun–Abraham", "imputation": "Imputation (BJS)",
          "twfe": "TWFE (naive)", "poisson": "Poisson (proportional)"}


def event_study_table(res, name: str) -> pd.DataFrame:
    """Event-time table of any result with ``tidy()`` (CS dynamic aggregation, TWFE, Sun–Abraham, ...).

    Parameters
    ----------
    res : result
        Any result with ``tidy()`` giving event times.
    name : str
        The estimator's label in the table.
    """
    t = res.tidy()
    t = t[t.event_time.notna()] if "event_time" in t else t
    out = t[["event_time", "att", "se", "ci_low", "ci_high"]].copy()
    out.insert(0, "estimator", name)
    return out


@dataclass(frozen=True, eq=False)
class Comparison:
    """Results of several estimators on one specification.

    Attributes
    ----------
    results : dict
        Estimator label to its result.
    params : dict
        The arguments of the call that produced the result.
    """

    results: dict
    params: dict = field(default_factory=dict)

    def tidy(self) -> pd.DataFrame:
        """Event-time estimates of every estimator (long format)."""
        return pd.concat([event_study_table(r, LABELS[k]) for k, r in self.results.items()], ignore_index=True)

    def overall(self) -> pd.DataFrame:
        """One row per estimator: overall effect, SE and interval."""
        rows = []
        for k, r in self.results.items():
            lo, hi = r.overall_ci
            rows.append({"estimator": LABELS[k], "overall_att": r.overall_att, "overall_se": r.overall_se,
                         "ci_low": lo, "ci_high": hi})
        return pd.DataFrame(rows)

    def _repr_html_(self) -> str:
        return table_html(self.overall(), f"Estimator comparison: {self.params.get('yname', '')}")

    def to_dict(self) -> dict:
        return _json({"overall": self.overall().to_dict(orient="list"), "event_study": self.tidy().to_dict(orient="list"),
                      "params": self.params})

    def summary(self) -> str:
        return self.overall().to_string(index=False)

    def plot(self, ax=None, title: str | None = None):
        """Overlay event-study figure (points offset by estimator), as in R ``did2s::event_study``.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on (default: a new figure).
        title : str, optional
            Figure title (default: a caption from the result).
        """
        import matplotlib.pyplot as plt

        from .core.plotting import event_study_plot

        if ax is None:
            _, ax = plt.subplots(figsize=(8, 4.2))
        colors = ["#1f4e79", "#2e8b57", "#b7410e", "#7f7f7f", "#8e44ad"]
        m = len(self.results)
        for i, (k, r) in enumerate(self.results.items()):
            t = event_study_table(r, LABELS[k])
            event_study_plot(t, ax=ax, label=LABELS[k], color=colors[i % len(colors)], offset=(i - (m - 1) / 2) * 0.12)
        ax.set_title(title or "Event studies by estimator")
        return ax


def compare(
    data: pd.DataFrame,
    *,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    estimators: list[str] = ALL_ESTIMATORS,
    xformla: str | None = None,
    control_group: str = "nevertreated",
    min_e: int | None = None,
    max_e: int | None = None,
    alp: float = 0.05,
    seed: int | None = None,
) -> Comparison:
    """Estimate one specification with several estimators (CS dynamic, Sun–Abraham, imputation, TWFE, Poisson).

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
    estimators : list of str
        Estimators to run, among ``'callaway_santanna'``, ``'sun_abraham'``, ``'imputation'``, ``'twfe'``,
        ``'poisson'``.
    xformla : str, optional
        Covariates as a one-sided formula (``"~ x1 + x2"``); time-invariant ones are interacted with period dummies
        (conditional parallel trends).
    control_group : {'nevertreated', 'notyettreated'}
        Comparison group of the estimators that take one.
    min_e : int, optional
        Smallest event time reported; earlier event times are binned into it (None: all).
    max_e : int, optional
        Largest event time reported; later event times are binned into it (None: all).
    alp : float
        Significance level of the intervals (default 0.05).
    seed : int, optional
        Seed of the Callaway–Sant'Anna multiplier bootstrap.
    """
    from .cs.att_gt import att_gt
    from .regression.imputation import did_imputation
    from .regression.poisson import poisson_event_study
    from .regression.sunab import sun_abraham
    from .regression.twfe import twfe

    if not estimators:
        raise CeciError("estimators must name at least one estimator")
    out = {}
    for est in estimators:
        check_option("estimators item", est, Estimator)
        kw = dict(yname=yname, tname=tname, idname=idname, gname=gname)
        if est == "callaway_santanna":
            r = att_gt(data, xformla=xformla, control_group=control_group, alp=alp, seed=seed, **kw)
            out[est] = r.aggte("dynamic", min_e=-np.inf if min_e is None else min_e,
                               max_e=np.inf if max_e is None else max_e, na_rm=True)
        elif est == "sun_abraham":
            out[est] = sun_abraham(data, alp=alp, **kw)
        elif est == "imputation":
            out[est] = did_imputation(data, alp=alp, **kw)
        elif est == "twfe":
            out[est] = twfe(data, type="event_study", min_e=min_e, max_e=max_e, alp=alp, **kw)
        else:
            out[est] = poisson_event_study(data, min_e=min_e, max_e=max_e, alp=alp, **kw)
    return Comparison(results=out, params=dict(yname=yname, tname=tname, idname=idname, gname=gname,
                                               xformla=xformla, control_group=control_group))


def triple_differences(
    data: pd.DataFrame,
    *,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    groupname: str,
    estimator: str = "callaway_santanna",
    **kw,
):
    """Triple differences: the event study of the within-unit gap between the eligible group
    (``groupname == 1``, e.g. parents of a child aged 43 days–4 years) and the others (``== 0``).

    ``data`` has one row per unit, period and group; the gap ``y[eligible] - y[other]`` per unit and
    period is estimated with ``estimator`` (any of :func:`compare`'s), so exposure effects common to
    both groups difference out.

    Parameters
    ----------
    data : pandas.DataFrame
        Long panel with one row per unit, period and group.
    yname : str
        Outcome column.
    tname : str
        Period column (numeric, e.g. a month code or a year).
    idname : str
        Unit identifier column.
    gname : str
        Cohort column: the first treated period of the unit, 0 (or missing) for never-treated units.
    groupname : str
        Group column: 1 for the eligible group, 0 for the others.
    estimator : str
        The estimator of the gap's event study (any of :func:`compare`'s).
    **kw
        Further arguments of :func:`compare` (``xformla``, ``control_group``, ``min_e``, ``max_e``, ``alp``, ``seed``).
    """
    check_option("estimator", estimator, Estimator)
    if groupname not in data.columns:
        raise CeciError(f"column {groupname!r} not found in data")
    vals = set(pd.unique(data[groupname].dropna()))
    if not vals <= {0, 1}:
        raise CeciError(f"{groupname!r} must be 0/1 (eligible or not); found {sorted(map(str, vals))[:5]}")
    wide = data.pivot_table(index=[idname, tname], columns=groupname, values=yname, aggfunc="first")
    if 1 not in wide.columns or 0 not in wide.columns:
        raise CeciError(f"{groupname!r} must contain both groups (0 and 1)")
    gap = (wide[1] - wide[0]).rename(f"{yname}_gap").reset_index()
    g = data.groupby(idname)[gname].first()
    gap[gname] = gap[idname].map(g)
    gap = gap.dropna(subset=[f"{yname}_gap"])
    res = compare(gap, yname=f"{yname}_gap", tname=tname, idname=idname, gname=gname, estimators=[estimator], **kw)
    return res.results[estimator]
