"""Two-way fixed-effects baseline: static and event-study regressions with clustered errors.

Unit and period effects are absorbed by alternating projections (exact in one sweep for a
balanced panel). Clustered standard errors follow fixest's default small-sample correction,
``G/(G-1) * (n-1)/(n-K)`` with ``K`` = slopes + period levels (unit effects nested in clusters).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from ..._options import CeciError, check_option
from ..core.plotting import event_study_plot
from ..core.results import EventStudyMoments, ResultProtocol
from .fixed_effects import demean_twoway, within_ols, within_ols_indicators  # noqa: F401  (re-exported)

TwfeType = Literal["static", "event_study"]






@dataclass(frozen=True, eq=False)
class TwfeResult(ResultProtocol):
    """Static or event-study TWFE estimates; ``tidy()`` has ``event_time, att, se, ci_low, ci_high``.

    Attributes
    ----------
    type : str
        ``'static'`` or ``'event_study'``.
    coef : pandas.Series
        The treatment (or event-time) coefficients.
    vcov : pandas.DataFrame
        Their clustered covariance (fixest's small-sample correction).
    nobs : int
        Observations used.
    n_clusters : int
        Clusters of the standard errors.
    alp : float
        Significance level of the intervals.
    params : dict
        The arguments of the call that produced the result.
    overall_att : float
        The overall effect (the estimator's static or average post-treatment effect).
    overall_se : float
        Its standard error.
    """

    type: str
    coef: pd.Series
    vcov: pd.DataFrame = field(repr=False)
    nobs: int
    n_clusters: int
    alp: float
    params: dict
    overall_att: float
    overall_se: float

    def event_study(self) -> EventStudyMoments:
        """Event-time coefficients and their clustered covariance; binned end points left out."""
        if self.type != "event_study":
            raise CeciError("honest_did needs an event-study TWFE (type='event_study')")
        binned = set(self.params.get("binned", []))  # pooled endpoints are not single event times: left out
        names = [n for n in self.coef.index if n.startswith("rel::") and int(n.split("::")[1]) not in binned]
        e = np.array([float(n.split("::")[1]) for n in names])
        return EventStudyMoments(e, self.coef[names].to_numpy(), self.vcov.loc[names, names].to_numpy(),
                                 tuple(sorted(binned)))

    estimator_name = "twfe"

    def tidy(self) -> pd.DataFrame:
        se = np.sqrt(np.diag(self.vcov.to_numpy()))
        out = pd.DataFrame({"term": self.coef.index, "att": self.coef.to_numpy(), "se": se})
        out = out[out.term.str.startswith("rel::" if self.type == "event_study" else "post")]  # covariates apart
        if self.type == "event_study":
            out.insert(0, "event_time", [int(t.split("::")[1]) for t in out.term])
            ref = pd.DataFrame({"event_time": [-1 - self.params["anticipation"]], "term": ["ref"], "att": [0.0],
                                "se": [np.nan]})
            out = pd.concat([out, ref]).sort_values("event_time").reset_index(drop=True)
            out["post"] = out.event_time >= 0
        return self.with_ci(out)

    @property
    def caption(self) -> str:
        return f"Two-way fixed effects ({self.type}): {self.params['yname']}"

    def notes(self) -> list[str]:
        return [*super().notes(), f"{self.nobs} observations, {self.n_clusters} clusters; fixest small-sample "
                "correction. Naive under staggered adoption with heterogeneous effects."]

    def _dict_extra(self) -> dict:
        return {"type": self.type}

    def plot(self, ax=None, title: str | None = None):
        """Draw the result (matplotlib); returns the axes.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on (default: a new figure).
        title : str, optional
            Figure title (default: a caption from the result).
        """
        if self.type != "event_study":
            raise CeciError("plot() needs an event-study TWFE (type='event_study')")
        return event_study_plot(self.tidy(), ax=ax, title=title or "TWFE event study")


def _indicators(df: pd.DataFrame, tname: str, gname: str, type: str, anticipation: int, min_e, max_e):
    """The regressors of interest as one indicator code per row (-1: none): ``post`` (static) or the event times
    (``t - g`` of treated units, endpoints binned at ``min_e`` / ``max_e``, reference ``-1 - anticipation``)."""
    gcol = df[gname]
    g = (gcol.fillna(0) if gcol.hasnans else gcol).to_numpy()
    t = df[tname].to_numpy()
    treated = g > 0
    rel = t - g  # event time of treated rows
    if type == "static":
        cell = np.where(treated & (rel >= -anticipation), 0, -1).astype(np.int8)
        return cell, ["post"], []
    binned = []  # endpoints that pool several event times
    if min_e is not None:
        low = treated & (rel < min_e)
        if low.any():
            binned.append(int(min_e))
            rel = np.where(low, min_e, rel)
    if max_e is not None:
        high = treated & (rel > max_e)
        if high.any():
            binned.append(int(max_e))
            rel = np.where(high, max_e, rel)
    ref = -1 - anticipation
    levels = np.unique(rel[treated])
    levels = levels[levels != ref]
    pos = np.searchsorted(levels, rel)
    found = treated & (pos < levels.size)
    found[found] = levels[pos[found]] == rel[found]
    cell = np.where(found, pos, -1).astype(np.int16 if levels.size < 2**15 else np.int32)
    return cell, [f"rel::{int(e)}" for e in levels], binned


def twfe(
    data: pd.DataFrame,
    *,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    type: TwfeType = "static",
    xformla: str | None = None,
    clustervars: str | None = None,
    anticipation: int = 0,
    min_e: int | None = None,
    max_e: int | None = None,
    alp: float = 0.05,
) -> TwfeResult:
    """Two-way fixed effects regression of ``yname`` on treatment (static) or event-time dummies.

    Parameters
    ----------
    type
        ``"static"``: one post-treatment indicator; ``"event_study"``: one dummy per event time
        (``t - g``), reference ``-1 - anticipation``, endpoints binned at ``min_e``/``max_e`` if given.
    xformla
        Covariates (``"~ x1 + x2"``): time-varying ones enter as they are, time-invariant ones interacted with period
        dummies (conditional parallel trends, as Callaway–Sant'Anna's ``xformla``; fixest ``i(year, x)``).
    clustervars
        Cluster variable (default: the unit).
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
    anticipation : int
        Periods before ``gname`` in which units may already react; they count as treated.
    min_e : int, optional
        Smallest event time reported; earlier event times are binned into it (None: all).
    max_e : int, optional
        Largest event time reported; later event times are binned into it (None: all).
    alp : float
        Significance level of the intervals (default 0.05).
    """
    check_option("type", type, TwfeType)
    from ..core.design import check_panel, panel_codes

    check_panel(data, yname=yname, tname=tname, idname=idname, gname=gname,
                clustervars=[clustervars] if clustervars else [])
    ok = data[yname].notna().to_numpy()
    df = data if ok.all() else data.loc[ok]  # no copy of the frame unless rows are dropped
    cell, names, binned = _indicators(df, tname, gname, type, anticipation, min_e, max_e)
    Xc = None
    if xformla:
        from ..core.design import covariate_design

        Xc, cn = covariate_design(xformla, df, idname, tname)
        names += cn
    uid, tid = panel_codes(df, idname, tname)
    cl_rows = (df[clustervars] if clustervars else df[idname]).to_numpy()
    unit_vals = np.empty(int(uid.max()) + 1, dtype=cl_rows.dtype)
    unit_vals[uid] = cl_rows  # clusters are constant within units (checked above)
    unit_cl, uniq = pd.factorize(unit_vals, use_na_sentinel=False)
    beta, V, keep = within_ols_indicators(df[yname].to_numpy(float), cell, len(names) - (0 if Xc is None else
                                          Xc.shape[1]), uid, tid, unit_cl, Xc)
    names = [n_ for n_, k in zip(names, keep, strict=True) if k]
    G = int(uniq.size)
    n = len(df)
    coef = pd.Series(beta, index=names)
    vcov = pd.DataFrame(V, index=names, columns=names)
    if type == "static":
        oa, os_ = float(beta[0]), float(np.sqrt(V[0, 0]))
    else:
        post = np.array([n_.startswith("rel::") and int(n_.split("::")[1]) >= 0 for n_ in names])
        w = post / max(post.sum(), 1)
        oa, os_ = float(w @ beta), float(np.sqrt(w @ V @ w))
    return TwfeResult(type=type, coef=coef, vcov=vcov, nobs=n, n_clusters=int(G), alp=alp,
                      params=dict(yname=yname, tname=tname, idname=idname, gname=gname, xformla=xformla,
                                  anticipation=anticipation, min_e=min_e, max_e=max_e,
                                  binned=binned if type == "event_study" else []),
                      overall_att=oa, overall_se=os_)
