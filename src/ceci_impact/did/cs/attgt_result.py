"""The result of ``att_gt``: ATT(g,t) cells with their influence functions, then ``aggte`` / ``tidy`` / ``plot``.

It sits above :mod:`ceci_impact.did.cs.aggte` (which it calls) and :mod:`ceci_impact.did.core.results` (the aggregation's
result and the shared helpers), so the package has no import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import sparse, stats

from ..core.bootstrap import cluster_codes
from ..core.notes import DataNotes
from ..core.plotting import event_study_plot
from ..core.results import AggteResult, _json, table_html
from .aggte import compute_aggte
from .influence import CellInfluence


@dataclass(frozen=True, eq=False)
class AttGtResult:
    """Group-time ATT estimates (R ``MP`` object). Estimate once, then aggregate and plot.

    Attributes
    ----------
    group : numpy.ndarray
        Cohort (first treated period) of each ATT(g,t) cell.
    t : numpy.ndarray
        Period of each cell.
    att : numpy.ndarray
        ATT(g,t) estimates (NaN where a cell could not be estimated).
    se : numpy.ndarray
        Their standard errors (analytic, cluster-robust or bootstrap).
    crit_val : float
        Critical value of the simultaneous band (pointwise when ``cband`` is off).
    influence : CellInfluence
        The cells' influence functions, kept as per-comparison factors.
    cluster_analytic : bool
        Whether the standard errors are the analytic cluster-robust ones.
    n : int
        Number of units used (after balancing).
    analytic_na : numpy.ndarray
        Cells whose standard error could not be computed.
    unit_weights : numpy.ndarray
        Sampling weight of each unit.
    unit_group : numpy.ndarray
        Cohort of each unit.
    cluster : numpy.ndarray or None
        Cluster of each unit (None without clustering).
    glist : numpy.ndarray
        The cohorts estimated.
    tlist : numpy.ndarray
        The periods of the panel.
    params : dict
        The arguments of the call that produced the result.
    data_notes : DataNotes
        What the estimator dropped, coerced or could not estimate, and the warnings it raised.
    ri_pool : numpy.ndarray or None
        Per unit: whether its cluster is in the pool of randomisation inference (``att_gt``'s ``ri_pool``);
        None: every cluster.
    """

    group: np.ndarray
    t: np.ndarray
    att: np.ndarray
    se: np.ndarray
    crit_val: float
    influence: CellInfluence = field(repr=False)
    cluster_analytic: bool
    n: int
    analytic_na: np.ndarray = field(repr=False)
    unit_weights: np.ndarray = field(repr=False)
    unit_group: np.ndarray = field(repr=False)
    cluster: np.ndarray | None = field(repr=False)
    glist: np.ndarray
    tlist: np.ndarray
    params: dict
    data_notes: DataNotes = field(default_factory=DataNotes, repr=False)  # drops, NA cells, warnings
    ri_pool: np.ndarray | None = field(default=None, repr=False)  # units whose cluster RI may assign a date

    @cached_property
    def inffunc(self) -> sparse.csc_matrix:
        """The n x cells influence functions as a sparse matrix, built from the factors on first use (rows:
        units ordered by cohort, never treated first). Aggregation, standard errors and the bootstrap never
        need it; at national scale it takes gigabytes."""
        return self.influence.to_sparse()

    @cached_property
    def V(self) -> np.ndarray:
        """Analytic covariance of sqrt(n)-scaled ATT(g,t) (R's ``V_analytical``), computed on first use."""
        return self._gram(np.arange(self.att.size)) / self.n

    def _gram(self, cols: np.ndarray) -> np.ndarray:
        """Cross-products of the cells' influence functions (summed within clusters when the analytic SEs
        are clustered), from the factors block by block."""
        cluster = None
        if self.cluster_analytic and self.cluster is not None:
            cluster = cluster_codes(self.cluster)
        return self.influence.gram(cols, cluster)

    def aggte(self, type: str = "group", *, min_e: float = -np.inf, max_e: float = np.inf,
              balance_e: int | None = None, na_rm: bool = False, bstrap: bool | None = None,
              biters: int | None = None, cband: bool | None = None, alp: float | None = None) -> AggteResult:
        """Aggregate ATT(g,t): ``"simple"``, ``"group"``, ``"dynamic"`` (event study) or ``"calendar"``.

        Arguments as in R ``did::aggte``; inference options default to those of ``att_gt``.

        Parameters
        ----------
        type : {'simple', 'group', 'dynamic', 'calendar'}
            The aggregation: overall, by cohort, by event time or by calendar period.
        min_e : float
            Smallest event time kept (``type='dynamic'``).
        max_e : float
            Largest event time kept (``type='dynamic'``).
        balance_e : int, optional
            Keep only cohorts observed for ``balance_e`` periods after treatment (R's ``balance_e``).
        na_rm : bool
            Drop cells that could not be estimated (NA) instead of returning NA.
        bstrap : bool, optional
            Multiplier bootstrap standard errors (default: as in ``att_gt``).
        biters : int, optional
            Bootstrap draws (default: as in ``att_gt``).
        cband : bool, optional
            Simultaneous confidence band (default: as in ``att_gt``).
        alp : float, optional
            Significance level (default: as in ``att_gt``).
        """
        return compute_aggte(self, type, min_e=min_e, max_e=max_e, balance_e=balance_e, na_rm=na_rm,
                             bstrap=bstrap, biters=biters, cband=cband, alp=alp)

    def tidy(self) -> pd.DataFrame:
        """One row per (group, time): event time, att, se, pointwise CI, uniform band, post flag."""
        z = stats.norm.ppf(1 - self.params["alp"] / 2)
        out = pd.DataFrame({"group": self.group, "time": self.t, "event_time": self.t - self.group,
                            "att": self.att, "se": self.se})
        out["ci_low"] = out.att - z * out.se
        out["ci_high"] = out.att + z * out.se
        out["band_low"] = out.att - self.crit_val * out.se
        out["band_high"] = out.att + self.crit_val * out.se
        out["post"] = out.time >= out.group
        return out

    @cached_property
    def _wald(self) -> tuple[float | None, float | None, int]:
        pre = np.flatnonzero((self.group > self.t) & ~self.analytic_na)
        if pre.size == 0:
            return None, None, 0
        preV = self._gram(pre) / self.n
        if not np.all(np.isfinite(preV)) or np.linalg.cond(preV) > 1 / np.finfo(float).eps:
            return None, None, int(pre.size)
        a = self.att[pre]
        W = float(self.n * a @ np.linalg.solve(preV, a))
        return W, float(round(1 - stats.chi2.cdf(W, pre.size), 5)), int(pre.size)

    @property
    def wald_stat(self) -> float | None:
        """Wald statistic of the pre-test (computed on first use)."""
        return self._wald[0]

    @property
    def wald_pvalue(self) -> float | None:
        """P-value of the pre-test, rounded to 5 digits as R does."""
        return self._wald[1]

    def pretest(self) -> dict:
        """Wald test that all pre-treatment ATT(g,t) are zero (R's ``W``, ``Wpval``)."""
        W, p, df = self._wald
        return {"W": W, "df": df, "pvalue": p}

    def summary(self) -> str:
        """Plain-text summary in the style of R ``summary.MP``."""
        p = self.params
        pt = self.pretest()
        band = "simultaneous" if (p["bstrap"] and p["cband"]) else "pointwise"
        lines = [
            f"Group-time ATT (Callaway & Sant'Anna) — outcome {p['yname']}, {p['n_units']} units, "
            f"{len(self.glist)} cohorts, {len(self.tlist)} periods",
            self.tidy().to_string(index=False, float_format=lambda v: f"{v:.4f}"),
            f"Control group: {p['control_group']}; estimation: {p['est_method']}; base period: "
            f"{p['base_period']}; anticipation: {p['anticipation']}; {band} band (critical value "
            f"{self.crit_val:.3f})",
        ]
        if pt["W"] is not None:
            lines.append(f"P-value for pre-test of parallel trends: {pt['pvalue']:.5f} "
                         f"(W = {pt['W']:.3f}, df = {pt['df']})")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        p = self.params
        pt = self.pretest()
        notes = [f"Control group: {p['control_group']}; method: {p['est_method']}; base period: {p['base_period']}."]
        if pt["W"] is not None:
            notes.append(f"Pre-test of parallel trends: W = {pt['W']:.3f}, df = {pt['df']}, p = {pt['pvalue']:.4f}.")
        return table_html(self.tidy(), f"ATT(g,t) for {p['yname']}", notes)

    def to_dict(self) -> dict:
        """JSON-ready dictionary: estimates, pre-test and settings."""
        return _json({"estimator": "att_gt", "params": self.params, "crit_val": self.crit_val,
                      "pretest": self.pretest(), "table": self.tidy().to_dict(orient="list")})

    def plot(self, ax=None, title: str | None = None):
        """ATT(g,t) by event time, one marker series per cohort.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on (default: a new figure).
        title : str, optional
            Figure title (default: a caption from the result).
        """
        return event_study_plot(self.tidy(), x="event_time", ax=ax, by="group",
                                title=title or f"ATT(g,t): {self.params['yname']}")
