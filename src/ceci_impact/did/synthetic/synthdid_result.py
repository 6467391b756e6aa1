"""The frozen result of :func:`ceci_impact.did.synthdid`: estimate, weights, trajectories, inference."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..core.results import _json, table_html
from .conformal import conformal_test
from .synthdid_solver import default_options

LABELS = {"sdid": "synthetic difference-in-differences", "sc": "synthetic control", "did": "difference-in-differences"}
POOR_FIT = 1.0  # pre-period RMSE above this multiple of the treated series' typical period-to-period change


@dataclass(frozen=True, eq=False)
class SynthDidResult:
    """One synthdid estimate (R ``synthdid_estimate``), with its weights and the series behind it.

    ``omega`` (unit weights) and ``lam`` (time weights) are long tables with a ``cohort`` column; ``trajectory``
    holds, per cohort and period, the treated mean, the synthetic comparison (weighted donors shifted by the
    time-weighted pre-period gap) and their gap. ``fit`` gives each cohort's pre-period RMSE and whether it is
    too poor to trust (RMSE above the treated series' standard deviation of first differences before treatment).

    Attributes
    ----------
    estimate : float
        The effect (treated unit-periods combined over cohorts).
    se : float
        Its standard error (``se_method``).
    alp : float
        Significance level of the intervals.
    method : str
        ``'sdid'``, ``'sc'`` or ``'did'``.
    se_method : str
        ``'placebo'``, ``'jackknife'`` or ``'bootstrap'``.
    reps : int
        Replications of the standard error.
    seed : int or None
        Their seed.
    cohorts : pandas.DataFrame
        Per cohort: estimate, treated units and periods, weight in the combination.
    omega : pandas.DataFrame
        Unit weights (long, with a ``cohort`` column).
    lam : pandas.DataFrame
        Time weights (long, with a ``cohort`` column).
    trajectory : pandas.DataFrame
        Per cohort and period: treated mean, synthetic comparison and their gap.
    fit : pandas.DataFrame
        Pre-period RMSE per cohort and whether the fit is too poor to trust.
    names : tuple
        Unit and period labels.
    n_controls : int
        Donor units used.
    dropped_controls : tuple
        Donor units left out (e.g. missing periods).
    se_note : str
        Why the standard error is missing or special, if it is.
    replicates : numpy.ndarray or None
        The placebo, bootstrap or leave-one-out estimates.
    """

    estimate: float
    se: float
    alp: float
    method: str
    se_method: str
    reps: int
    seed: int | None
    cohorts: pd.DataFrame
    omega: pd.DataFrame
    lam: pd.DataFrame
    trajectory: pd.DataFrame
    fit: pd.DataFrame
    names: tuple
    n_controls: int
    dropped_controls: tuple
    se_note: str = ""
    replicates: np.ndarray | None = field(default=None, repr=False)  # placebo / bootstrap / leave-one-out estimates
    _data: Any = field(default=None, repr=False)  # (panel, cohorts) for conformal inference

    @classmethod
    def build(cls, p, cohorts, *, tau, se, method, se_method, reps, seed, alp, names, se_note,
              replicates=None) -> SynthDidResult:
        """See the class.

        Parameters
        ----------
        p : object
            The prepared panel (outcome matrix, treated rows, periods) of :func:`synthdid`.
        cohorts : list
            Per cohort: its estimate, unit and time weights and trajectories.
        tau : float
            The combined estimate.
        se : float
            Its standard error.
        method : str
            ``'sdid'``, ``'sc'`` or ``'did'``.
        se_method : str
            ``'placebo'``, ``'jackknife'`` or ``'bootstrap'``.
        reps : int
            Replications of the standard error.
        seed : int
            Seed of the replications.
        alp : float
            Significance level.
        names : dict
            Unit and period labels.
        se_note : str
            Why the standard error is missing or special, if it is.
        replicates : numpy.ndarray, optional
            The replicated estimates.
        """
        N0 = p.n_controls
        rows, om, la, traj, fit = [], [], [], [], []
        for c in cohorts:
            b = c.block
            tr = p.Y[c.rows].mean(axis=0)
            syn0 = b.omega @ p.Y[:N0]
            shift = b.lam @ (tr[: c.T0] - syn0[: c.T0]) if b.lam.sum() > 0 else 0.0
            syn = syn0 + shift
            gap = tr - syn
            pre_rmse = float(np.sqrt(np.mean(gap[: c.T0] ** 2)))
            scale = float(np.std(np.diff(tr[: c.T0]), ddof=1)) if c.T0 > 2 else float("nan")
            rows.append({"cohort": c.g, "n_treated": int(c.rows.size), "pre_periods": c.T0, "post_periods": c.T1,
                         "weight": c.rows.size * c.T1, "estimate": b.tau})
            om.append(pd.DataFrame({"cohort": c.g, "unit": p.units[:N0], "weight": b.omega}))
            la.append(pd.DataFrame({"cohort": c.g, "period": p.periods[: c.T0], "weight": b.lam}))
            traj.append(pd.DataFrame({"cohort": c.g, "period": p.periods, "treated": tr, "synthetic": syn,
                                      "gap": gap, "post": np.arange(p.periods.size) >= c.T0}))
            fit.append({"cohort": c.g, "pre_rmse": pre_rmse, "treated_change_sd": scale,
                        "poor_fit": bool(np.isfinite(scale) and pre_rmse > POOR_FIT * scale)})
        coh = pd.DataFrame(rows)
        coh["weight"] = coh["weight"] / coh["weight"].sum()
        return cls(estimate=tau, se=se, alp=alp, method=method, se_method=se_method, reps=reps, seed=seed,
                   cohorts=coh, omega=pd.concat(om, ignore_index=True), lam=pd.concat(la, ignore_index=True),
                   trajectory=pd.concat(traj, ignore_index=True), fit=pd.DataFrame(fit), names=names,
                   n_controls=N0, dropped_controls=p.dropped_controls, se_note=se_note, replicates=replicates,
                   _data=(p, cohorts))

    # ------------------------------------------------------------------ protocol
    @property
    def overall_att(self) -> float:
        return self.estimate

    @property
    def overall_se(self) -> float:
        return self.se

    @property
    def alpha(self) -> float:
        return self.alp

    @property
    def overall_ci(self) -> tuple[float, float]:
        z = stats.norm.ppf(1 - self.alp / 2)
        return (self.estimate - z * self.se, self.estimate + z * self.se)

    @property
    def poor_fit(self) -> bool:
        """Whether any cohort's pre-period fit is too poor to trust."""
        return bool(self.fit["poor_fit"].any())

    def conformal(self, theta0: float = 0.0, alp: float | None = None, grid: np.ndarray | None = None,
                  q: float = 1.0, model: str | None = None, n_grid: int = 241) -> dict:
        """Conformal inference (Chernozhukov, Wüthrich & Zhu 2021) for one cohort's treated mean series: the
        p-value of "the effect is ``theta0`` in every post-period" and the ``1 - alp`` interval by test inversion;
        see :func:`ceci_impact.did.synthetic.conformal.conformal_test`. ``model`` is the counterfactual model of the test
        (default: this result's method; ``"sc"``, without an intercept, has more power when the pre- and
        post-periods are of similar length, because an intercept fitted under the null absorbs part of a shift).

        Parameters
        ----------
        theta0 : float
            Effect under the null hypothesis (default 0: no effect).
        alp : float, optional
            Level of the interval (default: the result's).
        grid : numpy.ndarray, optional
            Candidate effects inverted into the interval (default: ``n_grid`` values around the estimate).
        q : float
            Exponent of the test statistic's norm (1: mean absolute residual).
        model : str, optional
            The counterfactual model re-fitted under each null (default: the result's method).
        n_grid : int
            Number of grid values when ``grid`` is not given.
        """
        p, cohorts = self._data
        if len(cohorts) != 1:
            raise ValueError("conformal inference is for one cohort; fit one cohort at a time")
        c = cohorts[0]
        model = model or self.method
        opts = c.block.opts if model == self.method else default_options(model, p.Y[np.r_[: p.n_controls, c.rows]],
                                                                          p.n_controls, c.T0)
        out = conformal_test(p.Y[: p.n_controls], p.Y[c.rows].mean(axis=0), c.T0, model, opts, theta0=theta0,
                             alp=self.alp if alp is None else alp, grid=grid, q=q, estimate=self.estimate,
                             se=self.se, n_grid=n_grid)
        return {**out, "model": model}

    # ------------------------------------------------------------------ presentation
    def tidy(self) -> pd.DataFrame:
        """One row per cohort and one for the overall estimate (cohort weights = treated unit-periods)."""
        z = stats.norm.ppf(1 - self.alp / 2)
        c = self.cohorts.rename(columns={"estimate": "att"})
        out = pd.concat([c.assign(term=[f"cohort {g:g}" for g in c.cohort], se=np.nan),
                         pd.DataFrame([{"term": "overall", "att": self.estimate, "se": self.se,
                                        "n_treated": int(c.n_treated.sum()), "weight": 1.0}])], ignore_index=True)
        out["ci_low"] = out.att - z * out.se
        out["ci_high"] = out.att + z * out.se
        return out[["term", "att", "se", "ci_low", "ci_high", "n_treated", "pre_periods", "post_periods", "weight"]]

    def summary(self) -> str:
        lo, hi = self.overall_ci
        lvl = f"{100 * (1 - self.alp):g}%"
        s = (f"{LABELS[self.method]}: {self.estimate:.5g} (SE {self.se:.4g}, {self.se_method}"
             f"{f', {self.reps} replications' if self.se_method in ('placebo', 'bootstrap') else ''}; {lvl} CI "
             f"{lo:.5g} to {hi:.5g}); {int(self.cohorts.n_treated.sum())} treated unit(s) in {len(self.cohorts)} "
             f"cohort(s), {self.n_controls} donors")
        if self.poor_fit:
            s += "; pre-treatment fit too poor to trust for cohort(s) " + ", ".join(
                f"{g:g}" for g in self.fit.cohort[self.fit.poor_fit])
        if self.se_note:
            s += f"; {self.se_note}"
        return s

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        t = self.tidy().rename(columns={"ci_low": f"{100 * (1 - self.alp):g}% CI low",
                                        "ci_high": f"{100 * (1 - self.alp):g}% CI high"})
        return table_html(t, f"synthdid ({LABELS[self.method]})", [self.summary()])

    def to_dict(self) -> dict:
        lo, hi = self.overall_ci
        return _json({"estimator": f"synthdid_{self.method}", "estimate": self.estimate, "se": self.se,
                      "ci_low": lo, "ci_high": hi, "alpha": self.alp, "se_method": self.se_method,
                      "reps": self.reps, "seed": self.seed, "n_controls": self.n_controls,
                      "cohorts": self.cohorts.to_dict("records"), "fit": self.fit.to_dict("records"),
                      "dropped_controls": list(self.dropped_controls), "se_note": self.se_note})

    def plot(self, cohort: float | None = None, top: int = 10, title: str | None = None):
        """Treated against synthetic (left) and the largest unit weights (right) for one cohort.

        Parameters
        ----------
        cohort : float, optional
            The cohort drawn (default: the first).
        top : int
            Number of control units with the largest weights named in the figure.
        title : str, optional
            Figure title (default: a caption from the result).
        """
        import matplotlib.pyplot as plt

        g = self.cohorts.cohort.iloc[0] if cohort is None else cohort
        tr = self.trajectory[self.trajectory.cohort == g]
        fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [2, 1]})
        a.plot(tr.period, tr.treated, color="#1f4e79", lw=2, label="treated")
        a.plot(tr.period, tr.synthetic, color="#b35806", lw=2, ls="--", label=f"synthetic ({self.method})")
        first = tr.period[tr.post].iloc[0]
        a.axvline(first, color="grey", lw=0.8, ls=":")
        lam = self.lam[self.lam.cohort == g]
        if lam.weight.sum() > 0:
            ax2 = a.twinx()
            ax2.bar(lam.period, lam.weight, color="#999999", alpha=0.35, width=0.8)
            ax2.set_ylim(0, max(1.0, 3 * lam.weight.max()))
            ax2.set_yticks([])
        a.set_title(title or f"Treated and synthetic, cohort {g:g}")
        a.legend(loc="best", fontsize=8)
        w = self.omega[self.omega.cohort == g].nlargest(top, "weight")
        b.barh([str(u) for u in w.unit][::-1], w.weight[::-1], color="#b35806")
        b.set_title("largest donor weights")
        fig.tight_layout()
        return fig
