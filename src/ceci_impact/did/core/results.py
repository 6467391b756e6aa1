"""Frozen result objects of the DiD estimators: tidy tables, summaries, HTML, JSON, plots."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from ..._options import check_option
from .plotting import event_study_plot

PretestMethod = Literal["wald", "sup_t"]


def table_html(df: pd.DataFrame, caption: str, notes: list[str] | None = None) -> str:
    """A result's HTML table in both languages (used by every result's ``_repr_html_``; see
    :func:`ceci_impact.tables.table_html`).

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    caption : str
        Its caption.
    notes : list of str, optional
        Notes under the table.
    """
    from ...i18n import tr
    from ...tables import table_html as bilingual

    return bilingual(df, tr(caption), [tr(n) for n in (notes or [])])


def _json(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_json(v) for v in x.tolist()]
    if isinstance(x, (np.floating, float)):
        return float(x) if np.isfinite(x) else None
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


@dataclass(frozen=True)
class EventStudyMoments:
    """The event-study protocol: event times (reference period left out), estimates, their covariance, and the
    end points that pool several event times (not single periods, so HonestDiD leaves them out).

    Attributes
    ----------
    event_time : numpy.ndarray
        Event times (the reference period left out).
    estimate : numpy.ndarray
        Their estimates.
    vcov : numpy.ndarray
        Their covariance.
    pooled : tuple
        Event times that pool several periods (binned end points).
    """

    event_time: np.ndarray
    estimate: np.ndarray
    vcov: np.ndarray
    pooled: tuple = ()


class ResultProtocol:
    """What every event-study-like result offers, from one mixin (``overall_att``, ``overall_se``, ``alp`` and
    ``params`` are fields of the result): ``alpha``, ``overall_crit``, ``overall_ci``, ``event_study()``, the shared
    interval columns of ``tidy()`` (:meth:`with_ci`), ``summary()``, ``__str__``, ``_repr_html_`` and
    ``to_dict()``. HonestDiD, comparisons and reports read only these. A result names itself with
    ``estimator_name`` and ``caption``, and puts its own rows in ``tidy()``.
    """

    estimator_name = "estimator"

    @property
    def alpha(self) -> float:
        """Significance level (``alp``, R's name, in the constructors)."""
        return float(self.alp)

    @property
    def overall_crit(self) -> float:
        """Critical value of the overall interval (normal unless a result sets degrees of freedom)."""
        return float(stats.norm.ppf(1 - self.alp / 2))

    @property
    def overall_ci(self) -> tuple[float, float]:
        """Pointwise ``1 - alp`` interval of the overall effect."""
        z = self.overall_crit
        return (self.overall_att - z * self.overall_se, self.overall_att + z * self.overall_se)

    def with_ci(self, table: pd.DataFrame, crit: float | np.ndarray | None = None) -> pd.DataFrame:
        """``table`` (columns ``att``, ``se``) with the pointwise interval columns ``ci_low``/``ci_high``.

        Parameters
        ----------
        table : pandas.DataFrame
            Estimates with columns ``att`` and ``se``.
        crit : float or numpy.ndarray, optional
            Critical value(s) (default: the result's pointwise one, normal or Student-t).
        """
        z = stats.norm.ppf(1 - self.alp / 2) if crit is None else crit
        return table.assign(ci_low=table.att - z * table.se, ci_high=table.att + z * table.se)

    def event_study(self) -> EventStudyMoments:
        raise TypeError(f"{type(self).__name__} has no event-study moments")

    @property
    def caption(self) -> str:
        """Title of the result's tables."""
        return f"{self.estimator_name}: {self.params.get('yname', '')}"

    def notes(self) -> list[str]:
        """Lines under the HTML table (the overall effect with its interval)."""
        lo, hi = self.overall_ci
        return [f"Overall effect {self.overall_att:.4f} (SE {self.overall_se:.4f}), "
                f"{100 * (1 - self.alp):g}% CI [{lo:.4f}, {hi:.4f}]."]

    def summary(self) -> str:
        """Plain-text summary: the overall effect with its interval, then the table."""
        lo, hi = self.overall_ci
        return (f"{self.caption} — overall {self.overall_att:.4f} (SE {self.overall_se:.4f}), "
                f"{100 * (1 - self.alp):g}% CI [{lo:.4f}, {hi:.4f}]\n"
                + self.tidy().to_string(index=False, float_format=lambda v: f"{v:.4f}"))

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return table_html(self.tidy(), self.caption, self.notes())

    def _dict_extra(self) -> dict:
        return {}

    def to_dict(self) -> dict:
        """JSON-ready dictionary: estimator, overall effect and interval, parameters, the table."""
        lo, hi = self.overall_ci
        return _json({"estimator": self.estimator_name, "overall_att": self.overall_att,
                      "overall_se": self.overall_se, "ci_low": lo, "ci_high": hi, "alp": self.alp,
                      "params": self.params, "table": self.tidy().to_dict(orient="list"), **self._dict_extra()})


@dataclass(frozen=True, eq=False)
class AggteResult(ResultProtocol):
    """An aggregation of ATT(g,t) (R ``AGGTEobj``): overall effect plus a profile.

    ``tidy()`` gives one row per element of the profile (event time, group or period) with
    pointwise intervals (``ci_low``, ``ci_high``) and simultaneous bands
    (``band_low``, ``band_high``; equal to the pointwise ones when ``cband`` is off).

    Attributes
    ----------
    type : str
        The aggregation: ``'simple'``, ``'group'``, ``'dynamic'`` or ``'calendar'``.
    overall_att : float
        The overall effect (the estimator's static or average post-treatment effect).
    overall_se : float
        Its standard error.
    egt : numpy.ndarray or None
        The profile's elements: event times, cohorts or periods (None for ``'simple'``).
    att_egt : numpy.ndarray or None
        Effect of each element.
    se_egt : numpy.ndarray or None
        Its standard error.
    crit_val : float or None
        Critical value of the simultaneous band.
    cband : bool
        Whether the band is simultaneous.
    alp : float
        Significance level of the intervals.
    label : str or None
        Label of the aggregation in tables and figures.
    inf_overall : numpy.ndarray
        Influence function of the overall effect (one value per unit).
    inf_egt : numpy.ndarray or None
        Influence functions of the profile's elements.
    min_e : float
        Smallest event time kept.
    max_e : float
        Largest event time kept.
    balance_e : int or None
        R's ``balance_e``: cohorts kept only if observed this many periods after treatment.
    params : dict
        The arguments of the call that produced the result.
    parent_tidy : callable or None
        The ``tidy()`` of the ATT(g,t) result aggregated.
    cluster : numpy.ndarray or None
        Cluster of each influence-function row.
    df_overall : float or None
        Student-t degrees of freedom of the overall interval (small-cluster corrections).
    df_egt : numpy.ndarray or None
        And of each element's interval.
    inference : dict or None
        Standard errors and intervals of the registered inference rule (:mod:`ceci_impact.did.inference`).
    source : object
        The ATT(g,t) result and its cell weights, for the clustered pre-test.
    """

    type: str
    overall_att: float
    overall_se: float
    egt: np.ndarray | None
    att_egt: np.ndarray | None
    se_egt: np.ndarray | None
    crit_val: float | None
    cband: bool
    alp: float
    label: str | None
    inf_overall: np.ndarray = field(repr=False)
    inf_egt: np.ndarray | None = field(repr=False)
    min_e: float
    max_e: float
    balance_e: int | None
    params: dict
    parent_tidy: Any = field(default=None, repr=False)
    cluster: np.ndarray | None = field(default=None, repr=False)  # cluster of each influence-function row
    df_overall: float | None = None  # Student-t degrees of freedom of the overall interval (small_cluster)
    df_egt: np.ndarray | None = None  # and of each profile element
    inference: dict | None = field(default=None, repr=False)  # the registry rule's intervals (did/inference)
    source: Any = field(default=None, repr=False)  # (att_gt result, cell weights) for the clustered pre-test

    @property
    def overall_ci(self) -> tuple[float, float]:
        """Pointwise ``1 - alp`` interval of the overall effect (the inference rule's when one is attached)."""
        if self.inference is not None:
            return (float(self.inference["ci_low"][-1]), float(self.inference["ci_high"][-1]))
        z = self.overall_crit
        return (self.overall_att - z * self.overall_se, self.overall_att + z * self.overall_se)

    @property
    def overall_crit(self) -> float:
        """Critical value of the overall interval: normal, or Student-t with ``df_overall`` degrees of freedom;
        with a registry rule, the interval's half-length over the standard error."""
        if self.inference is not None:
            lo, hi = self.overall_ci
            return float((hi - lo) / (2 * self.overall_se)) if self.overall_se > 0 else float("nan")
        if self.df_overall is not None and np.isfinite(self.df_overall):
            return float(stats.t.ppf(1 - self.alp / 2, self.df_overall))
        return float(stats.norm.ppf(1 - self.alp / 2))

    def event_study(self) -> EventStudyMoments:
        """Event-time effects and their covariance from the influence functions, clustered as the estimate
        (dynamic aggregation with a universal base period, as HonestDiD requires)."""
        from ..._options import CeciError
        from .bootstrap import gram

        if self.type != "dynamic":
            raise CeciError("honest_did needs the dynamic aggregation: result.aggte('dynamic')")
        if self.params.get("base_period", "universal") != "universal":
            raise CeciError("honest_did needs a universal base period (as R): att_gt(..., base_period='universal'); "
                            f"found base_period={self.params.get('base_period')!r}")
        e, b = np.asarray(self.egt, float), np.asarray(self.att_egt, float)
        inf = np.asarray(self.inf_egt)
        S = gram(inf, self.cluster) / inf.shape[0] ** 2  # clustered as the estimate (sums within clusters)
        keep = ~((b == 0) & (np.diag(S) <= 1e-20))  # the universal base period's normalised zero
        return EventStudyMoments(e[keep], b[keep], S[np.ix_(keep, keep)])

    def tidy(self) -> pd.DataFrame:
        """Profile as a DataFrame (``event_time``/``group``/``time``, att, se, ci, band)."""
        if self.egt is None:
            lo, hi = self.overall_ci
            return pd.DataFrame(
                {"term": ["overall"], "att": [self.overall_att], "se": [self.overall_se], "ci_low": [lo], "ci_high": [hi]}
            )
        z = stats.norm.ppf(1 - self.alp / 2)
        if self.df_egt is not None:
            z = np.where(np.isfinite(self.df_egt), stats.t.ppf(1 - self.alp / 2, np.nan_to_num(self.df_egt, nan=1.0)),
                         z)
        c = np.maximum(self.crit_val if self.crit_val is not None else z, z)
        out = pd.DataFrame({self.label: self.egt, "att": self.att_egt, "se": self.se_egt})
        out["ci_low"] = out.att - z * out.se
        out["ci_high"] = out.att + z * out.se
        if self.inference is not None:  # the registry rule's pointwise intervals
            out["ci_low"] = np.asarray(self.inference["ci_low"][:-1], float)
            out["ci_high"] = np.asarray(self.inference["ci_high"][:-1], float)
        out["band_low"] = out.att - c * out.se
        out["band_high"] = out.att + c * out.se
        if self.label == "event_time":
            out["post"] = out.event_time >= 0
        return out

    def pretest(self, method: PretestMethod = "wald", biters: int = 999, seed: int = 2026) -> dict:
        """Test that the pre-treatment event-time effects (``e < 0``) are jointly zero (``type="dynamic"`` only).

        ``"wald"``: with a cluster variable, the Wald statistic with the cluster-robust covariance against its
        wild cluster bootstrap distribution (Webb weights, unrestricted scores; ``biters``, ``seed``), with the
        linear pre-trend it detects with 80 % power (Roth 2022; :mod:`ceci_impact.did.inference.pretest`).
        Without clusters: Wald statistic with the influence-function covariance (chi-squared reference; a practical
        alternative to the cell-level test when there are more pre-treatment cells than units, but it
        over-rejects when few treated units inform many event times). ``"sup_t"``: the largest absolute
        t-statistic over pre-periods against its multiplier-bootstrap distribution (Mammen weights, clustered as
        the estimation; ``biters`` draws, ``seed``) — no covariance inversion; rejecting at 5 % is the same as the
        simultaneous 95 % band excluding zero somewhere before treatment.

        Parameters
        ----------
        method : {'wald', 'sup_t'}
            The test: Wald statistic with the influence-function covariance, or the bootstrap sup-t over pre-periods.
        biters : int
            Bootstrap draws of the sup-t test.
        seed : int
            Seed of the sup-t draws.
        """
        check_option("method", method, PretestMethod)
        if self.type != "dynamic" or self.inf_egt is None:
            return {"W": None, "df": 0, "pvalue": None, "method": method}
        pre = np.flatnonzero((self.egt < 0) & np.isfinite(self.att_egt) & np.isfinite(self.se_egt))
        if pre.size == 0:
            return {"W": None, "df": 0, "pvalue": None, "method": method}
        inf = self.inf_egt[:, pre]
        if method == "wald" and self.cluster is not None and self.source is not None:
            from ..inference.attach import clustered_pretest

            return clustered_pretest(self, pre, biters=biters, seed=seed)
        if method == "sup_t":
            from .bootstrap import mboot

            boot = mboot(inf, biters=biters, alp=0.05, rng=np.random.default_rng(seed), cluster=self.cluster)
            ok = np.isfinite(boot.se) & (boot.se > 0)
            if not ok.any():
                return {"W": None, "df": int(pre.size), "pvalue": None, "method": method}
            n = inf.shape[0]
            n_cl = n if self.cluster is None else int(np.unique(self.cluster).size)
            bsig = boot.se[ok] * n / np.sqrt(n_cl)
            T = float(np.max(np.abs(self.att_egt[pre][ok]) / boot.se[ok]))
            T_star = np.max(np.abs(boot.draws[:, ok]) / bsig, axis=1)
            return {"W": T, "df": int(ok.sum()), "pvalue": float(np.mean(T_star >= T)), "method": method}
        n = inf.shape[0]
        V = inf.T @ inf / n
        if np.linalg.cond(V) > 1 / np.finfo(float).eps:
            return {"W": None, "df": int(pre.size), "pvalue": None, "method": method}
        a = self.att_egt[pre]
        W = float(n * a @ np.linalg.solve(V, a))
        return {"W": W, "df": int(pre.size), "pvalue": float(1 - stats.chi2.cdf(W, pre.size)), "method": method}

    def summary(self) -> str:
        """Plain-text summary in the style of R ``summary.AGGTEobj``."""
        lo, hi = self.overall_ci
        lines = [
            f"Aggregate ATT ({self.type}) — Callaway & Sant'Anna, control: {self.params['control_group']}, "
            f"method: {self.params['est_method']}",
            f"  overall ATT = {self.overall_att:.4f} (SE {self.overall_se:.4f}), "
            f"{100 * (1 - self.alp):.0f}% CI [{lo:.4f}, {hi:.4f}]",
        ]
        if self.egt is not None:
            lines.append(self.tidy().to_string(index=False, float_format=lambda v: f"{v:.4f}"))
            band = "simultaneous" if self.cband else "pointwise"
            lines.append(f"  band: {band}, critical value {self.crit_val:.3f}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        lo, hi = self.overall_ci
        top = pd.DataFrame({"type": [self.type], "overall ATT": [self.overall_att], "SE": [self.overall_se],
                            "CI low": [lo], "CI high": [hi]})
        out = table_html(top, f"Aggregated effect ({self.type}), {self.params['est_method'].upper()} "
                              f"with {self.params['control_group']} controls")
        if self.egt is not None:
            band = "simultaneous" if self.cband else "pointwise"
            out += table_html(self.tidy(), f"By {self.label}", [f"Bands: {band}, critical value {self.crit_val:.3f}."])
        return out

    def to_dict(self) -> dict:
        """JSON-ready dictionary (no influence functions)."""
        lo, hi = self.overall_ci
        d = {"estimator": "callaway_santanna", "type": self.type, "overall_att": self.overall_att,
             "overall_se": self.overall_se, "ci_low": lo, "ci_high": hi, "alp": self.alp,
             "crit_val": self.crit_val, "cband": self.cband, "df": self.df_overall, "params": self.params}
        if self.inference is not None:
            d["inference"] = {k: self.inference.get(k) for k in ("rule", "label", "citation", "clusters",
                                                                  "treated_clusters", "df", "pvalue", "gstar",
                                                                  "fallback_from", "draws")}
        if self.egt is not None:
            d["table"] = self.tidy().to_dict(orient="list")
        return _json(d)

    def plot(self, ax=None, title: str | None = None):
        """Event-study (or group / calendar) figure: estimates, pointwise and uniform bands.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on (default: a new figure).
        title : str, optional
            Figure title (default: a caption from the result).
        """
        return event_study_plot(self.tidy(), x=self.label or "term", ax=ax,
                                title=title or f"Callaway–Sant'Anna, {self.type} aggregation")


class _OnFirstAccess:
    """Data descriptor of an influence-function field of :class:`AggteResult`: a value given as a zero-argument
    callable (``aggte`` defers forming the units x columns matrix, which its standard errors do not need) is
    called on first access and the array kept; an array is stored as given."""

    def __init__(self, name: str):
        self.slot = f"_{name}_value"

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        value = obj.__dict__[self.slot]
        if callable(value):
            value = value()
            obj.__dict__[self.slot] = value
        return value

    def __set__(self, obj, value) -> None:
        obj.__dict__[self.slot] = value


AggteResult.inf_overall = _OnFirstAccess("inf_overall")
AggteResult.inf_egt = _OnFirstAccess("inf_egt")


@dataclass(frozen=True, eq=False)
class EventStudyResult(ResultProtocol):
    """Event-study estimates of any estimator (Sun–Abraham, imputation, Poisson, ...).

    ``tidy()`` has ``event_time, att, se, ci_low, ci_high, post``; ``overall_att``/``overall_se`` are the
    estimator's static or average post-treatment effect; ``vcov`` the covariance of the event-time
    estimates when the estimator provides it (HonestDiD input).

    Attributes
    ----------
    estimator : str
        The estimator's registry name (``'sun_abraham'``, ``'imputation'``, ``'poisson'``, ...).
    table : pandas.DataFrame
        Event-time estimates: ``event_time, att, se`` (and what the estimator adds).
    overall_att : float
        The overall effect (the estimator's static or average post-treatment effect).
    overall_se : float
        Its standard error.
    alp : float
        Significance level of the intervals.
    params : dict
        The arguments of the call that produced the result.
    vcov : pandas.DataFrame or None
        Covariance of the event-time estimates, when the estimator gives it (HonestDiD input).
    extra : dict
        Estimator-specific results (pre-trend test, cohort weights, ...).
    """

    estimator: str
    table: pd.DataFrame
    overall_att: float
    overall_se: float
    alp: float
    params: dict
    vcov: pd.DataFrame | None = field(default=None, repr=False)
    extra: dict = field(default_factory=dict, repr=False)

    @property
    def estimator_name(self) -> str:
        return self.estimator

    def event_study(self) -> EventStudyMoments:
        """Event-time estimates with the estimator's covariance (``vcov``), pooled end points left out."""
        from ..._options import CeciError

        if self.vcov is None:
            raise CeciError(f"{self.estimator} provides no covariance of its event-time estimates")
        binned = {float(v) for v in self.params.get("binned", [])}
        ev = np.asarray(self.vcov.index, float)
        keep = np.array([v not in binned for v in ev], bool)
        e = ev[keep]
        b = self.table.set_index("event_time").att.reindex(e).to_numpy()
        return EventStudyMoments(e, b, self.vcov.to_numpy()[np.ix_(keep, keep)], tuple(sorted(binned)))

    def tidy(self) -> pd.DataFrame:
        out = self.with_ci(self.table.copy())
        if "event_time" in out:
            out["post"] = out.event_time >= 0
        return out

    def _dict_extra(self) -> dict:
        return {k: v for k, v in self.extra.items() if not isinstance(v, pd.DataFrame)}

    def plot(self, ax=None, title: str | None = None):
        """Draw the result (matplotlib); returns the axes.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on (default: a new figure).
        title : str, optional
            Figure title (default: a caption from the result).
        """
        return event_study_plot(self.tidy(), ax=ax, title=title or self.estimator)
