"""Difference-in-differences with spatial spillovers (Butts 2023), staggered, by the two-stage imputation route.

Butts, K. (2023). "Difference-in-Differences with Spatial Spillovers", arXiv:2105.03737. With treatment that
spills over space, a unit's potential outcome depends on its own exposure and on its distance to treated places.
Butts parametrises the spillover exposure by distance rings: units within the inner ring are directly exposed,
units in each further ring are exposed to spillovers, and only units beyond the last ring (whose outcomes the
treatment does not reach) identify the counterfactual trend. Under parallel trends of the untreated potential
outcomes, the direct effect and the spillover effect of each ring are identified by comparing each ring with the
far units; comparing the inner ring with everything beyond it (the "naive ring comparison") mixes the buffer's
spillover into the counterfactual and biases the direct effect towards zero when spillovers share its sign.

For staggered exposure Butts (Section 5) prescribes the two-stage difference-in-differences of Gardner (2022)
with ring indicators in the second stage: unit and period effects are fitted on the observations that are not
exposed at all (beyond the last ring, or before any centre opens within it), the untreated outcome of every
exposed observation is imputed, and the residuals are averaged by ring (and by ring x event time). With a
saturated second stage this is the imputation estimator of Borusyak, Jaravel & Spiess (2024) applied to each
ring's exposed observations, equally weighted; its conservative clustered variance (cohort x event-time means of
the effects, as R ``didimputation``) is what the project's imputation estimator reports, so the inference here
is the same (cluster sums of the estimator's linear weights times residuals; clusters ``clustervars``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from ..._options import CeciError, check_option
from ..core.notes import DidWarning
from ..core.plotting import event_study_plot
from ..core.results import EventStudyMoments, EventStudyResult, ResultProtocol
from ..inference import InferenceRule
from ..regression.fixed_effects import TwoWayFE
from ..regression.imputation import _cohort_event_key, _FirstStage, _Imputed, _pretrend_test
from .inference import check_rule, imputation_scores, interval, plain_scores, rule_label

Exposure = Literal["time_varying", "cohort"]
SmallCluster = InferenceRule  # the inference registry's rules (did/inference/registry.py); see .inference


def ring_labels(rings: tuple[float, ...]) -> list[str]:
    """Labels of the exposure rings: ``"(0, 3]"``, ``"(3, 10]"``, ...

    Parameters
    ----------
    rings : tuple of float
        Outer radii of the rings, increasing.
    """
    edges = (0.0, *rings)
    return [f"({edges[k]:g}, {edges[k + 1]:g}]" for k in range(len(rings))]


def _check_rings(rings) -> tuple[float, ...]:
    try:
        r = tuple(float(v) for v in rings)
    except (TypeError, ValueError):
        raise CeciError(f"rings={rings!r}: expected increasing positive distances, such as (3, 10)") from None
    if not r or not all(np.isfinite(r)) or r[0] <= 0 or any(b <= a for a, b in zip(r, r[1:], strict=False)):
        raise CeciError(f"rings={rings!r}: expected increasing positive finite distances, such as (3, 10)")
    return r


def exposure_distance(data: pd.DataFrame, *, tname: str, idname: str, distname: str, gname: str | None,
                      exposure: Exposure) -> np.ndarray:
    """Distance of each row's unit to the nearest opened centre in that period (``inf`` before any opens).

    ``exposure="time_varying"``: ``distname`` already is that distance (missing or infinite = none open yet);
    once a unit is exposed it stays exposed at its smallest distance so far (centres do not close; a warning says
    how many rows this changed). ``exposure="cohort"``: ``distname`` is a time-invariant distance and ``gname``
    the period from which it applies (0 or missing = never).

    Parameters
    ----------
    data : pandas.DataFrame
        The panel, rows sorted by unit and period.
    tname : str
        Column of the period.
    idname : str
        Column of the unit identifier.
    distname : str
        Column of the distance to the nearest opened centre.
    gname : str or None
        Column of the period the distance applies from (``exposure='cohort'``).
    exposure : {'time_varying', 'cohort'}
        How ``distname`` is read (see above).
    """
    d = pd.to_numeric(data[distname], errors="coerce").to_numpy(float)
    if (d[np.isfinite(d)] < 0).any():
        i = int(np.flatnonzero(np.isfinite(d) & (d < 0))[0])
        raise CeciError(f"column {distname!r} has negative distances, e.g. row {i} ({d[i]:g}); expected >= 0")
    d = np.where(np.isfinite(d), d, np.inf)
    if exposure == "cohort":
        if gname is None:
            raise CeciError("exposure='cohort' needs gname (the period the distance applies from)")
        g = data[gname].fillna(0).to_numpy(float)
        return np.where((g > 0) & (data[tname].to_numpy(float) >= g), d, np.inf)
    cm = pd.Series(d).groupby(data[idname].to_numpy()).cummin().to_numpy()  # rows are sorted by unit and period
    changed = int((cm < d).sum())
    if changed:
        warnings.warn(f"spillover_did: {changed} rows of {distname!r} lie farther than an earlier period of the same "
                      "unit; exposure is absorbing, so the smallest distance so far is used", DidWarning, stacklevel=3)
    return cm


@dataclass(frozen=True, eq=False)
class SpilloverResult(ResultProtocol):
    """Direct and ring spillover effects (Butts 2023): overall per ring, by ring x event time, and the naive ring
    comparison beside the direct effect.

    ``table``: one row per ring and event time (``event_time`` NaN for a ring's overall effect; negative event
    times are BJS pre-trend coefficients of the units that later come within the ring's outer radius).
    ``overall_att``/``overall_se`` are the direct effect (inner ring). ``scores``: cluster sums of each estimate's
    influence (clusters x estimates, columns named as ``table``'s ``term``), so any contrast has a standard error.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per ring and event time (see above).
    overall_att : float
        The direct effect (inner ring).
    overall_se : float
        Its standard error.
    alp : float
        Significance level of the intervals.
    params : dict
        The arguments of the call that produced the result.
    scores : pandas.DataFrame
        Cluster sums of each estimate's influence (clusters x estimates).
    naive : dict
        The naive ring comparison: ``att``, ``se``, ``understatement`` and its ``understatement_se``, with their
        intervals under the inference rule.
    notes_ : tuple
        Further notes on the estimate (what could not be honoured, warnings).
    inference : dict
        The inference rule applied (``rule``, ``requested``, ``label``, ``citation``, ``fallback_from`` when the
        requested rule fell back, ``clusters``, ``treated_clusters`` (clusters with rows in the inner ring),
        ``biters``, ``seed``).
    """

    table: pd.DataFrame
    overall_att: float
    overall_se: float
    alp: float
    params: dict
    scores: pd.DataFrame = field(repr=False)
    naive: dict = field(default_factory=dict)
    notes_: tuple = ()
    inference: dict = field(default_factory=dict)

    estimator_name = "Spatial spillover DiD (Butts)"

    def _with_df_ci(self, table: pd.DataFrame) -> pd.DataFrame:
        """Pointwise intervals of the inference rule (stored with each estimate; normal ones for a table without
        them)."""
        if {"ci_low", "ci_high"} <= set(table.columns):
            return table
        return self.with_ci(table)

    @property
    def overall_ci(self) -> tuple[float, float]:
        """Interval of the direct effect under the inference rule."""
        if "ci_low" in self.table:
            return float(self.table.ci_low.iat[0]), float(self.table.ci_high.iat[0])
        return super().overall_ci

    @property
    def overall_crit(self) -> float:
        """The direct effect's interval half-length over its standard error (normal 1.96 for ``"none"``)."""
        lo, hi = self.overall_ci
        return float((hi - lo) / (2 * self.overall_se)) if self.overall_se > 0 else float("nan")

    def ring_effects(self) -> pd.DataFrame:
        """The overall effect of each ring (direct, then spillovers), the naive ring comparison and the
        understatement of the direct effect by the naive comparison (direct - naive), with intervals."""
        out = self.table[self.table.event_time.isna()].drop(columns=["event_time"])
        extra = []
        if self.naive:
            n = self.naive
            extra.append({"term": "naive ring comparison", "ring": 0, "att": n["att"], "se": n["se"],
                          "n_obs": n["n_obs"], "df": n.get("df", np.nan), "ci_low": n.get("ci_low", np.nan),
                          "ci_high": n.get("ci_high", np.nan), "pvalue": n.get("pvalue", np.nan)})
            extra.append({"term": "direct - naive", "ring": 0, "att": n["understatement"],
                          "se": n["understatement_se"], "n_obs": np.nan, "df": n.get("understatement_df", np.nan),
                          "ci_low": n.get("understatement_ci_low", np.nan),
                          "ci_high": n.get("understatement_ci_high", np.nan),
                          "pvalue": n.get("understatement_pvalue", np.nan)})
        out = pd.concat([out, pd.DataFrame(extra)], ignore_index=True) if extra else out
        return self._with_df_ci(out.reset_index(drop=True))

    def tidy(self) -> pd.DataFrame:
        """Every estimate: the rings' overall effects, the naive comparison and the difference, then the
        ring x event-time effects (``event_time``; NaN for the overall rows), with pointwise intervals."""
        ev = self._with_df_ci(self.table[self.table.event_time.notna()].reset_index(drop=True))
        ev["post"] = ev.event_time >= 0
        return pd.concat([self.ring_effects().assign(event_time=np.nan), ev], ignore_index=True)[
            ["term", "ring", "event_time", "att", "se", "ci_low", "ci_high", "pvalue", "n_obs", "df"]]

    def ring_event_study(self, ring: int = 0) -> EventStudyResult:
        """The event study of one ring (0 = direct) as an :class:`EventStudyResult` (HonestDiD, ``compare``).

        Parameters
        ----------
        ring : int
            The ring (0 = direct, inner ring).
        """
        if ring not in set(self.table.ring):
            raise CeciError(f"ring={ring!r}: expected one of {sorted(set(self.table.ring))}")
        rows = self.table[(self.table.ring == ring) & self.table.event_time.notna()]
        cols = [f"{t}|{e:g}" for t, e in zip(rows.term, rows.event_time, strict=True)]
        S = self.scores[cols].to_numpy()
        ev = rows.event_time.to_numpy(float)
        over = self.table[(self.table.ring == ring) & self.table.event_time.isna()].iloc[0]
        return EventStudyResult(estimator=f"{self.estimator_name}, {over.term}",
                                table=rows[["event_time", "att", "se", "n_obs"]].reset_index(drop=True),  # normal CIs
                                overall_att=float(over.att), overall_se=float(over.se), alp=self.alp,
                                params={**self.params, "ring": ring},
                                vcov=pd.DataFrame(S.T @ S, index=ev, columns=ev))

    def event_study(self) -> EventStudyMoments:
        """The direct ring's event study (pre-trend coefficients and post-exposure effects) with its covariance."""
        return self.ring_event_study(0).event_study()

    def notes(self) -> list[str]:
        out = super().notes()
        if self.inference:
            out.append(f"Intervals: {self.inference['label']}.")
        if self.naive:
            out.append(f"Naive ring comparison (inner ring against everything beyond it) {self.naive['att']:.4f} "
                       f"(SE {self.naive['se']:.4f}); direct - naive {self.naive['understatement']:.4f} "
                       f"(SE {self.naive['understatement_se']:.4f}).")
        return out + list(self.notes_)

    def _dict_extra(self) -> dict:
        return {"naive": self.naive, "rings": self.ring_effects().to_dict(orient="list"),
                "inference": self.inference}

    def plot(self, ax=None, title: str | None = None):
        """Event studies of every ring on one axes (direct and spillover rings side by side).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on (a new figure when None).
        title : str, optional
            Figure title (default: the estimator's name).
        """
        ev = self._with_df_ci(self.table[self.table.event_time.notna()].reset_index(drop=True))
        ev["post"] = ev.event_time >= 0
        return event_study_plot(ev, ax=ax, by="ring", title=title or self.estimator_name)


def _ring_cohorts(d, r, t, uid, ring, exposed):
    """Per ring the first period each unit is within the ring's outer radius (0 = never), each exposed row's event
    time in its ring and its ring x cohort key."""
    K = len(r)
    big = np.where(np.isfinite(t), t, 0)
    g_ring = np.zeros((K, t.size))
    for k in range(K):
        first = pd.Series(np.where(d <= r[k], big, np.inf)).groupby(uid).transform("min").to_numpy()
        g_ring[k] = np.where(np.isfinite(first), first, 0)
    own = g_ring[np.minimum(ring, K - 1), np.arange(t.size)]
    e = np.where(exposed, t - own, np.nan)
    key_g = np.where(exposed, ring * (np.nanmax(big) + 1) + own, 0)
    return g_ring, e, key_g


def _fit_rows(y, uid, tid, exposed, key_g, e, cl, n_cl, Xv, Xu, leaveout=False):
    fe = TwoWayFE(uid, tid, ~exposed, Xu if Xu.shape[1] else None)
    first = _FirstStage(Xv, uid, tid, ~exposed, fe)
    adj = y - first.fit(y)
    imp = _Imputed(first, adj, exposed, _cohort_event_key(key_g, e, exposed), cl, n_cl, unit_clusters=False)
    imp.leaveout = bool(leaveout)
    return first, imp


def effective_clusters(imp: _Imputed, rows: np.ndarray, cl: np.ndarray, n_cl: int) -> float:
    """Effective number of clusters (Carter, Schnepel & Steigerwald 2017) of the imputation estimate over the
    treated ``rows``: ``G* = (sum_c l_c)^2 / sum_c l_c^2`` with ``l_c = sum_t (sum_{i in c} v_it)^2``, ``v`` the
    estimator's weights on the outcomes (``1/N`` on the rows, ``-Z0 (Z0'Z0)^-1 Z1' w1`` on untreated rows: BJS),
    i.e. period shocks fully shared within a cluster (the conservative working model of ``att_gt``'s
    ``small_cluster="effective"``). NaN with time-varying covariates (their weights are not formed).

    Parameters
    ----------
    imp : _Imputed
        The fitted imputation (first stage and weights).
    rows : numpy.ndarray
        Indices of the treated rows the estimate averages.
    cl : numpy.ndarray
        Cluster code of each row.
    n_cl : int
        Number of clusters.
    """
    first, fe = imp.first, imp.first.fe
    if first.X.shape[1]:
        return float("nan")
    w1 = np.full(rows.size, 1.0 / rows.size)
    a, lam = fe.solve(*fe.sums(w1, first.uid[rows], first.tid[rows]))
    un = np.flatnonzero(first.untreated)
    lam = lam.reshape(fe.nt, -1) if lam.ndim > 1 or fe.Xt.shape[1] > 1 else lam
    v0 = -fe.fitted(a, lam, first.uid[un], first.tid[un])
    r = np.concatenate([rows, un])
    K = np.bincount(cl[r] * fe.nt + first.tid[r], weights=np.concatenate([w1, v0]), minlength=n_cl * fe.nt)
    lc = (K.reshape(n_cl, fe.nt) ** 2).sum(axis=1)
    return float(lc.sum() ** 2 / (lc ** 2).sum()) if (lc ** 2).sum() > 0 else float("nan")


def _ring_estimates(imp, first_stage, ring, e, g_ring, t, y, exposed, cl, n_cl, tid, names, labels, horizon,
                    pretrends, infer):
    """Each ring's overall effect, its pre-trend coefficients and its event-time effects, with cluster scores and
    the intervals of the inference rule (``infer(imp, rows, est, s)``; ``rows`` None for a pre-trend
    coefficient)."""
    rows, scores, notes = [], {}, []
    K = len(names)
    for k in range(K):
        rk = np.flatnonzero(ring == k)
        if rk.size == 0:
            notes.append(f"No observation is exposed in ring {labels[k]}: its effect is not estimated.")
            continue
        est, se, s = imp.estimate(rk)
        rows.append({"term": names[k], "ring": k, "event_time": np.nan, "att": est, "n_obs": int(rk.size),
                     **infer(imp, rk, est, s)})
        scores[names[k]] = s
        if pretrends:
            gk = g_ring[k]
            ek = np.where(gk > 0, t - gk, np.nan)
            try:
                pre, pre_s, _ = _pretrend_test(y - first_stage.fit(y), ek, gk > 0, ~exposed, first_stage, cl, n_cl, tid)
            except np.linalg.LinAlgError:  # degenerate pre-period residuals (an outcome without noise)
                pre, pre_s = [], []
                notes.append(f"Pre-trend coefficients of ring {labels[k]} not estimable (singular covariance).")
            for p, sc in zip(pre, pre_s, strict=True):
                rows.append({"term": names[k], "ring": k, **p, **infer(imp, None, p["att"], sc)})
                scores[f"{names[k]}|{p['event_time']:g}"] = sc
        if horizon is not False:
            ev = e[rk]
            hs = sorted(np.unique(ev).astype(int)) if horizon is True else sorted(int(h) for h in horizon)
            for h in hs:
                rows_h = rk[ev == h]
                if rows_h.size:
                    est, se, s = imp.estimate(rows_h)
                    rows.append({"term": names[k], "ring": k, "event_time": float(h), "att": est,
                                 "n_obs": int(rows_h.size), **infer(imp, rows_h, est, s)})
                    scores[f"{names[k]}|{h:g}"] = s
    return rows, scores, notes


def _naive(y, uid, tid, inner, g0, t, cl, n_cl, Xv, Xu, direct, scores, direct_name, infer, leaveout=False) -> dict:
    """The naive ring comparison (inner ring against everything beyond it, by the same imputation estimator) and
    the difference direct - naive, with intervals under the rule; adds the naive scores to ``scores``."""
    _, imp_n = _fit_rows(y, uid, tid, inner, np.where(inner, g0, 0), np.where(inner, t - g0, np.nan), cl, n_cl,
                         Xv, Xu, leaveout)
    est, _, s = imp_n.estimate(np.flatnonzero(inner))
    gap = direct - est
    i_n, i_d = infer(imp_n, np.flatnonzero(inner), est, s), infer(None, None, gap, scores[direct_name] - s)
    scores["naive ring comparison"] = s
    return {"att": est, "n_obs": int(inner.sum()), **i_n, "understatement": gap,
            **{f"understatement_{k}": v for k, v in i_d.items()}}


def spillover_did(
    data: pd.DataFrame,
    *,
    yname: str,
    tname: str,
    idname: str,
    distname: str,
    gname: str | None = None,
    rings: tuple[float, ...] = (3.0, 10.0),
    exposure: Exposure = "time_varying",
    xformla: str | None = None,
    horizon: bool | list[int] = True,
    pretrends: bool = True,
    naive: bool = True,
    clustervars: str | None = None,
    small_cluster: SmallCluster = "none",
    biters: int = 999,
    seed: int = 0,
    alp: float = 0.05,
    leaveout: bool = True,
) -> SpilloverResult:
    """Direct and spillover effects by distance ring, staggered (Butts 2023, two-stage / imputation form).

    Parameters
    ----------
    data
        Balanced or unbalanced panel, one row per unit and period.
    yname, tname, idname
        Outcome, period (numeric) and unit columns.
    distname
        With ``exposure="time_varying"`` (default): the unit's distance to the nearest centre opened by that
        period (missing or infinite when none is open); ring membership then changes as more centres open (the
        event time of ring ``k`` counts from the first period the unit comes within ring ``k``'s outer radius).
        With ``exposure="cohort"``: a time-invariant distance that applies from period ``gname`` on.
    gname
        Only with ``exposure="cohort"``: the period the distance applies from (0 or missing = never).
    rings
        Increasing outer radii (same unit as ``distname``): ``(3, 10)`` makes ``(0, 3]`` the directly exposed ring,
        ``(3, 10]`` a spillover ring and units beyond 10 the comparison.
    exposure
        ``"time_varying"`` or ``"cohort"`` (see ``distname``).
    xformla
        Covariates of the first stage (``"~ x1 + x2"``), as ``did_imputation``: time-varying ones enter as they
        are, time-invariant ones with period-specific slopes (conditional parallel trends).
    horizon
        ``True``: every event time of each ring; a list: those event times; ``False``: overall effects only.
    pretrends
        Add BJS pre-trend coefficients (negative event times) per ring, estimated on unexposed rows.
    naive
        Also estimate the naive ring comparison (inner ring against every unit beyond it, buffer included, by the
        same imputation estimator) and the difference direct - naive with its standard error.
    clustervars
        Cluster variable (time-invariant within units); default the unit.
    small_cluster
        A rule of the inference registry (:data:`ceci_impact.did.inference.RULES`), applied to every estimate's
        cluster scores (:mod:`ceci_impact.did.spatial.inference`): ``"none"`` (normal intervals on the
        conservative clustered SE; the default), ``"wcu_webb"``/``"wcu_rademacher"`` (wild cluster bootstrap-t,
        unrestricted, percentile-t), ``"wcr_webb"``/``"wcr_rademacher"`` (null imposed, test inverted), ``"ri"``
        (the reports' rule: the schedule of sites is not seen here, so its fallback is used and named on the result:
        ``"none"`` on the leave-out variance, or ``wcu_webb`` with ``leaveout=False``;
        :func:`ceci_impact.did.spatial.inference.ri_fallback`), or ``"effective"`` (heuristic: Student-t with ``G* - 1`` df, ``G*`` the
        effective number of clusters of each estimate, :func:`effective_clusters`; not a published interval
        method, kept for comparison). ``"cr2_bm"``, ``"welch"`` and ``"effective_fitted"`` are not available
        here (error). Evidence: docs/estimators-spatial-dose.md.
    biters
        Bootstrap draws of the wild rules.
    seed
        Seed of the bootstrap draws.
    alp
        Significance level.
    leaveout
        BJS's leave-out averages in the conservative variance (Appendix A.6; Stata ``did_imputation``'s
        ``leaveout``; :func:`ceci_impact.did.regression.imputation.treated_residuals`), the default chosen on
        pre-registered held-out worlds (docs/estimators-spatial-dose.md); ``False``: R ``didimputation``'s means.

    Returns
    -------
    SpilloverResult
        ``overall_att`` is the direct effect; ``ring_effects()`` the table of rings; ``ring_event_study(k)``.

    Notes
    -----
    Estimand of ring ``k``: the average, over the observations exposed in ring ``k`` (equally weighted), of
    ``Y_it - Y_it(0)`` where ``Y(0)`` is the outcome with no centre within the last ring. Identification needs
    parallel trends of ``Y(0)`` between every ring and the far units, no anticipation and no effect beyond the
    last ring (Butts 2023, Assumptions 1-3 in the ring parametrisation), conditional on ``xformla`` if given.
    Weights and anticipation are not supported (the result's ``params`` says so).
    """
    from ..core.design import check_panel

    check_option("exposure", exposure, Exposure)
    check_option("small_cluster", small_cluster, SmallCluster)
    check_rule(small_cluster)
    r = _check_rings(rings)
    if not 0 < alp < 1:
        raise CeciError(f"alp={alp!r}: expected a number between 0 and 1")
    if distname not in data.columns:
        raise CeciError(f"column {distname!r} (distname) not found in data; available: {', '.join(map(str, data.columns))}")
    check_panel(data if gname else data.assign(_never=0), yname=yname, tname=tname, idname=idname,
                gname=gname or "_never", clustervars=[clustervars] if clustervars else [])
    df = data.dropna(subset=[yname]).sort_values([idname, tname], kind="stable").reset_index(drop=True)
    d = exposure_distance(df, tname=tname, idname=idname, distname=distname, gname=gname, exposure=exposure)
    always = pd.Series(d <= r[-1]).groupby(df[idname].to_numpy()).transform("all").to_numpy()
    if always.any():  # exposed in every observed period: no untreated outcome to impute their unit effect from
        warnings.warn(f"spillover_did: dropped {int(pd.unique(df.loc[always, idname]).size)} units exposed (within "
                      f"{r[-1]:g}) in every observed period", DidWarning, stacklevel=2)
        df, d = df[~always].reset_index(drop=True), d[~always]
    y, t = df[yname].to_numpy(float), df[tname].to_numpy(float)
    uid, tid = pd.factorize(df[idname])[0], pd.factorize(df[tname], sort=True)[0]
    cl = pd.factorize(df[clustervars] if clustervars else df[idname])[0]
    n_cl = int(cl.max()) + 1
    K = len(r)
    ring = np.searchsorted(np.asarray(r), d, side="left")  # 0..K-1 exposed, K beyond the last ring
    exposed = ring < K
    if pd.Series(exposed).groupby(uid).any().all():
        raise CeciError(f"spillover_did: every unit comes within the last ring ({r[-1]:g}) at some period; the far "
                        "comparison units that identify the counterfactual trend are missing")
    g_ring, e, key_g = _ring_cohorts(d, r, t, uid, ring, exposed)
    from ..core.design import covariate_parts

    Xv, Xu = covariate_parts(xformla, df, idname)  # time-varying as they are; time-invariant with period slopes
    first_stage, imp = _fit_rows(y, uid, tid, exposed, key_g, e, cl, n_cl, Xv, Xu, leaveout)
    labels = ring_labels(r)
    names = ["direct " + labels[0]] + [f"spillover {lab}" for lab in labels[1:]]

    def infer(imp_, rows_, est, s):  # the registry rule on one estimate's scores (rows_ None: no cell structure)
        cs = plain_scores(est, s) if rows_ is None else imputation_scores(imp_, rows_, est, s)
        g = (effective_clusters(imp_, rows_, cl, n_cl) if small_cluster == "effective" and rows_ is not None
             else np.nan)
        return interval(small_cluster, cs, alp, biters, seed, g, leaveout)

    rows, scores, notes = _ring_estimates(imp, first_stage, ring, e, g_ring, t, y, exposed, cl, n_cl, tid,
                                          names, labels, horizon, pretrends, infer)
    if not rows or rows[0]["ring"] != 0:
        raise CeciError(f"spillover_did: no observation lies within the inner ring ({r[0]:g}) of an opened centre")
    naive_d = _naive(y, uid, tid, ring == 0, g_ring[0], t, cl, n_cl, Xv, Xu, rows[0]["att"], scores, names[0],
                     infer, leaveout) if naive else {}
    table = pd.DataFrame(rows, columns=["term", "ring", "event_time", "att", "se", "n_obs", "df", "ci_low",
                                        "ci_high", "pvalue"])
    order = table.assign(_o=table.event_time.fillna(-np.inf)).sort_values(["ring", "_o"], kind="stable").index
    table = table.loc[order].reset_index(drop=True)
    params = dict(yname=yname, tname=tname, idname=idname, distname=distname, gname=gname, rings=list(r),
                  exposure=exposure, xformla=xformla, clustervars=clustervars or idname,
                  small_cluster=small_cluster, biters=biters, seed=seed, comparison=f"beyond {r[-1]:g}",
                  leaveout=bool(leaveout),
                  not_supported=["weights", "anticipation"])
    return SpilloverResult(table=table, overall_att=float(table.att.iat[0]), overall_se=float(table.se.iat[0]),
                           alp=alp, params=params, scores=pd.DataFrame(scores), naive=naive_d, notes_=tuple(notes),
                           inference={**rule_label(small_cluster, leaveout), "clusters": n_cl, "biters": biters, "seed": seed,
                                      "treated_clusters": int(np.unique(cl[ring == 0]).size)})
