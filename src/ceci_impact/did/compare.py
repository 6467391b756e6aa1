"""Run several event-study estimators on one specification: one tidy table, one overlay figure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from .._options import CeciError, check_option
from .core.results import _json, table_html
from .registry import comparable, compare_defaults


def _allowed(name: str, value: str) -> dict:
    """The registry's comparable estimators, after checking that ``value`` is one of them (one line if not)."""
    entries = comparable()
    check_option(name, value, Literal[tuple(entries)])
    return entries


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
        Estimator name (as selected) to its result.
    params : dict
        The arguments of the call that produced the result.
    labels : dict
        Estimator name to its label in tables and figures (from the estimator registry; missing: the name).
    """

    results: dict
    params: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)

    def _label(self, name: str) -> str:
        return self.labels.get(name, name)

    def tidy(self) -> pd.DataFrame:
        """Event-time estimates of every estimator (long format)."""
        return pd.concat([event_study_table(r, self._label(k)) for k, r in self.results.items()], ignore_index=True)

    def overall(self) -> pd.DataFrame:
        """One row per estimator: overall effect, SE and interval."""
        rows = []
        for k, r in self.results.items():
            lo, hi = r.overall_ci
            rows.append({"estimator": self._label(k), "overall_att": r.overall_att, "overall_se": r.overall_se,
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
            t = event_study_table(r, self._label(k))
            event_study_plot(t, ax=ax, label=self._label(k), color=colors[i % len(colors)], offset=(i - (m - 1) / 2) * 0.12)
        ax.set_title(title or "Event studies by estimator")
        return ax


def compare(
    data: pd.DataFrame,
    *,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    estimators: list[str] | None = None,
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
    estimators : list of str, optional
        Estimators to run, among the registry's comparable ones (:func:`ceci_impact.did.registry.comparable`:
        ``'callaway_santanna'``, ``'sun_abraham'``, ``'imputation'``, ``'twfe'``, ``'poisson'`` and any registered
        since). None: those the reports compare (:func:`ceci_impact.did.registry.compare_defaults`), without
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
    if estimators is None:
        estimators = compare_defaults()
    if not estimators:
        raise CeciError("estimators must name at least one estimator")
    entries = {est: _allowed("estimators item", est)[est] for est in estimators}  # every name checked before any run
    out, labels = {}, {}
    for est, entry in entries.items():
        out[est] = entry.compare_fit(data, yname=yname, tname=tname, idname=idname, gname=gname, xformla=xformla,
                                     control_group=control_group, min_e=min_e, max_e=max_e, alp=alp, seed=seed)
        labels[est] = entry.compare_label or entry.label
    return Comparison(results=out, params=dict(yname=yname, tname=tname, idname=idname, gname=gname,
                                               xformla=xformla, control_group=control_group), labels=labels)


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
    _allowed("estimator", estimator)
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
