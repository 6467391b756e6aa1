"""Event studies of one outcome (every registered estimator on one specification), their comparisons,
robustness grids and sensitivity."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._options import CeciError
from ..calendar import label
from ..confidentiality import MIN_CELL
from ..data.outcomes import OUTCOME_LABELS, headlines
from ..data.panels import load
from ..did import att_gt
from ..did.core.notes import DataNotes, recording
from ..did.core.results import _json, table_html
from ..did.registry import report_rows
from ..i18n import Text, fmt_signed, msg, tr
from .samples import outcome_sample
from .specification import ESTIMATORS, Specification, fit, spec_record


@dataclass(frozen=True, eq=False)
class EventStudy:
    """Everything one outcome notebook reports: CS estimates and aggregations, the comparison estimators run on
    the same specification, the universal-base pre-trend event study and, on simulated data, each estimate's truth.

    ``rows`` maps registry names (:data:`ceci_impact.did.registry.ESTIMATORS`) to results; ``records`` to the
    specification each ran under; ``truths`` to ``{"truth", "contamination"}`` (see :mod:`ceci_impact.data.truth`).

    Parameters
    ----------
    outcome : str
        The outcome studied.
    spec : Specification
        The specification every estimator ran under.
    cs : AttGtResult
        Callaway–Sant'Anna ATT(g,t).
    dynamic, simple, group : AggteResult
        Its dynamic (event study), simple (headline) and by-cohort aggregations.
    pre_es : AggteResult
        Universal-base dynamic aggregation (pre-trend reading, HonestDiD).
    rows, records, truths, data_notes : dict
        Registry name to: the result; its specification record; ``{'truth', 'contamination'}`` (None: real data); DataNotes.
    truth_dynamic : AggteResult or None
        The dynamic aggregation of the effect outcome (truth by event time).
    n_units, n_treated : int
        Numbers of units and of treated units.
    cells : dict
        ATT(g,t) cells estimated and not estimable.
    settings : dict
        The call's settings (control group, method, covariates, window, seed...).
    baseline : float or None
        Weighted mean outcome of the comparison units before the first opening.
    """

    outcome: str
    spec: Specification
    cs: Any
    dynamic: Any
    simple: Any
    group: Any
    pre_es: Any  # universal-base dynamic aggregation (pre-trend reading, HonestDiD)
    rows: dict
    records: dict
    truths: dict | None
    truth_dynamic: Any | None  # the CS dynamic aggregation of the effect outcome (truth by event time)
    n_units: int
    n_treated: int
    cells: dict = field(default_factory=dict)  # ATT(g,t) cells estimated / not estimable
    settings: dict = field(default_factory=dict)
    baseline: float | None = None  # mean outcome of the comparison units before the first opening (weighted)
    data_notes: dict = field(default_factory=dict)  # estimator -> DataNotes: what it dropped, NA cells, warnings

    @property
    def twfe_static(self):
        return self.rows.get("twfe")

    @property
    def twfe_es(self):
        return self.rows.get("twfe_event_study")

    @property
    def others(self) -> dict:
        """Comparison estimators other than the headline (CS) and the naive benchmark (TWFE), by label."""
        return {ESTIMATORS[k].label: r for k, r in self.rows.items() if ESTIMATORS[k].role not in ("headline", "naive")}

    def comparison(self) -> pd.DataFrame:
        """One row per estimator: overall effect, SE, interval, what it could not honour (and truth on simulated
        data: the truth of that estimator's estimand, and the contamination from effects outside its treated cells)."""
        rows = []
        for k, r in self.rows.items():
            lo, hi = r.overall_ci
            rec = self.records[k]
            note = "; ".join(rec["instead"].values()) or "as specified"
            row = {"estimator": ESTIMATORS[k].label, "estimate": r.overall_att, "se": r.overall_se, "ci_low": lo,
                   "ci_high": hi, "specification": note}
            if self.truths is not None:
                row.update(truth=self.truths[k]["truth"], contamination=self.truths[k]["contamination"])
            rows.append(row)
        return pd.DataFrame(rows)

    def comparison_records(self) -> list[dict]:
        """The comparison as records, each with the full ``specification`` it ran under and its data notes (what the
        estimator dropped or could not estimate, the warnings it raised) (for sidecars)."""
        tab = self.comparison()
        return [{**row, "specification": self.records[k], "data_notes": self.notes_record(k)}
                for k, row in zip(self.rows, tab.to_dict("records"), strict=True)]

    def notes_record(self, estimator: str = "callaway_santanna") -> dict:
        """What ``estimator`` dropped, coerced or could not estimate, for a sidecar (small counts masked).

        Parameters
        ----------
        estimator : str
            Registry name of the estimator (a key of ``rows``).

        Returns
        -------
        dict
            :meth:`ceci_impact.did.core.notes.DataNotes.to_dict` of its record (empty record when none was kept).
        """
        return self.data_notes.get(estimator, DataNotes()).to_dict(label)

    def notes_text(self) -> Text | str:
        """The headline's data notes in words (both languages): units dropped to balance the panel, small cohorts;
        empty when the estimator dropped nothing."""
        n = self.data_notes.get("callaway_santanna", DataNotes())

        def count(v):
            return f"{v:,}" if v >= MIN_CELL else f"<{MIN_CELL}"

        out = ""
        if n.units_dropped_unbalanced:
            out += msg("notes.unbalanced", n=count(n.units_dropped_unbalanced),
                       total=count(n.units_before_balance or 0), treated=count(n.treated_units_dropped_unbalanced)
                       if n.treated_units_dropped_unbalanced else "0")
        if n.rows_dropped_missing:
            out += msg("notes.missing", n=count(n.rows_dropped_missing))
        if n.small_cohorts:
            out += msg("notes.small_cohorts", k=str(len(n.small_cohorts)),
                       cohorts=", ".join(label(g) for g, _ in n.small_cohorts[:5])
                       + (", ..." if len(n.small_cohorts) > 5 else ""))
        if n.cohorts_without_pre_periods:
            out += msg("notes.no_pre", cohorts=", ".join(label(g) for g in n.cohorts_without_pre_periods[:5]))
        return out

    def headline(self) -> dict:
        lo, hi = self.simple.overall_ci
        d = {"outcome": self.outcome, "label": OUTCOME_LABELS.get(self.outcome, self.outcome),
             "estimator": "callaway_santanna_simple", "estimate": self.simple.overall_att,
             "se": self.simple.overall_se, "ci_low": lo, "ci_high": hi, "alpha": self.spec.alpha,
             "df": getattr(self.simple, "df_overall", None),
             "n_units": self.n_units, "n_treated_units": self.n_treated, "cells": self.cells,
             "pretest_p": self.pretest()["pvalue"], "specification": self.records["callaway_santanna"],
             "truth": None if self.truths is None else self.truths["callaway_santanna"]["truth"],
             "contamination": None if self.truths is None else self.truths["callaway_santanna"]["contamination"],
             "baseline": self.baseline, "data_notes": self.notes_record("callaway_santanna")}
        return _json(d)

    def sentence(self, scale: float = 1.0, unit: str = "", treatment: str = "ceci") -> Text:
        """The aggregated effect in a sentence a reviewer can quote (both languages); ``treatment`` names what
        opened (``"ceci"``, or ``"guarderia"`` for the historical back-test).

        Parameters
        ----------
        scale : float
            Factor applied to the effects and standard errors before they are written (e.g. 100 for per cent).
        unit : str
            Unit of the effect, translated and written after it (empty: none).
        treatment : {'ceci', 'guarderia'}
            What opened, for the wording.
        """
        h = self.headline()
        est, lo, hi = (h["estimate"] * scale, h["ci_low"] * scale, h["ci_high"] * scale)
        na = self.cells.get("not_estimable", 0)
        which = self.cells.get("cohorts_with_na_cells", [])
        named = (msg("effect.cells_named", cohorts=", ".join(which[:5]) + (", ..." if len(which) > 5 else ""))
                 if which else "")
        cells = msg("effect.cells", na=na, total=self.cells.get("post", 0) + na, named=named) if na else ""
        out = msg("effect.sentence", treatment=msg(f"effect.treatment_{treatment}"), label=tr(h["label"]),
                  est=fmt_signed(est, 4), unit=tr(unit) if unit else "",
                  level=f"{100 * (1 - self.spec.alpha):g}%", lo=fmt_signed(lo, 4), hi=fmt_signed(hi, 4),
                  controls=tr(self.spec.control_group), n_treated=f"{self.n_treated:,}", n_units=f"{self.n_units:,}",
                  cells=cells, sig=msg("effect.sig" if (lo > 0 or hi < 0) else "effect.not_sig"),
                  alpha=f"{100 * self.spec.alpha:g}%")
        if h.get("df") is not None:  # a Student-t interval: say why it is wider than a normal one
            out += msg("effect.df", df=f"{h['df']:.1f}", g=f"{h['df'] + 1:.1f}")
        return out + self.notes_text()

    def pretest(self) -> dict:
        """Wald test that the universal-base pre-period event-time effects are zero (each relative to month -1)."""
        return {**self.pre_es.pretest(), "level": msg("pretrend.level", min_e=self.spec.min_e)}

    def pretrend_verdict(self) -> Text:
        """The pre-trend evidence in words: the Wald test and the bootstrap sup-t test over pre-periods.

        Both read the universal-base event study, whose pre-period coefficients are levels relative to the month
        before opening (a varying base turns them into month-on-month changes, which hides a steady trend). With few
        treated units per restriction the Wald statistic's chi-squared approximation over-rejects (its covariance is
        estimated from those units; benchmarks/pretest_size.py); the sup-t test needs no covariance inversion, so
        the verdict reports both and says when the Wald test should not be read alone.
        """
        pt = self.pretest()
        p = pt["pvalue"]
        if p is None:
            return msg("pretrend.none")
        seed = self.settings.get("seed")
        sup = self.pre_es.pretest("sup_t", seed=2026 if seed is None else seed)
        band = ""
        if sup["pvalue"] is not None:
            band = msg("pretrend.sup_rejects" if sup["pvalue"] < 0.05 else "pretrend.sup_accepts", p=f"{sup['pvalue']:.3f}")
        few = self.n_treated < 5 * max(pt["df"], 1)
        caution = msg("pretrend.caution", n_treated=self.n_treated, df=pt["df"]) if few else ""
        kw = dict(level=pt["level"], p=f"{p:.3f}", df=pt["df"])
        if p < 0.05:
            verdict = msg("pretrend.rejects", **kw)
            if few and sup["pvalue"] is not None and sup["pvalue"] >= 0.05:
                return verdict + caution + band + msg("pretrend.weak")
            return verdict + caution + band + msg("pretrend.with_caution")
        return msg("pretrend.accepts", **kw) + band

    def truth_verdict(self) -> Text | str:
        """On simulated data: does the headline interval cover the truth of its estimand, and what explains a miss."""
        if self.truths is None:
            return ""
        h = self.headline()
        t, c = h["truth"], h["contamination"]
        covers = h["ci_low"] <= t <= h["ci_high"]
        z = (h["estimate"] - t) / h["se"] if h["se"] else float("nan")
        out = msg("truth.covers" if covers else "truth.misses", truth=fmt_signed(t, 4), z=f"{z:+.2f}")
        if c is not None and abs(c) > 0.5 * h["se"]:
            out += msg("truth.contamination", c=fmt_signed(c, 4), c_se=f"{c / h['se']:+.2f}")
        elif not covers:
            out += msg("truth.chance")
        return out

    def plot(self, ax=None, truth: bool = True):
        """The CS event study, with the truth of this estimand on simulated data.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on (a new figure when None).
        truth : bool
            Draw the truth when it is known.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(8, 4.2))
        self.dynamic.plot(ax=ax, title=f"Event study: {OUTCOME_LABELS.get(self.outcome, self.outcome)}")
        if truth and self.truth_dynamic is not None:
            td = self.truth_dynamic
            ax.plot(td.egt, td.att_egt, color="black", ls=":", marker="x", label="truth of this estimand (simulated)")
            ax.legend(frameon=False, fontsize=8)
        return ax

    def plot_comparison(self, ax=None):
        """Overlay of the event studies of every estimator (as in did2s::event_study).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on (a new figure when None).
        """
        import matplotlib.pyplot as plt

        from ..did.core.plotting import event_study_plot

        if ax is None:
            _, ax = plt.subplots(figsize=(8, 4.2))
        event_study_plot(self.dynamic.tidy().drop(columns=["band_low", "band_high"]), ax=ax,
                         label="Callaway–Sant'Anna", color="#1f4e79", offset=-0.12)
        lo_e, hi_e = self.dynamic.egt.min(), self.dynamic.egt.max()
        series = [(ESTIMATORS[k].label + ("" if not self.records[k]["not_honoured"] else
                                          f" ({'; '.join(self.records[k]['instead'].values())})"), r)
                  for k, r in self.rows.items() if ESTIMATORS[k].event_study and ESTIMATORS[k].role != "headline"]
        colors = ["#c0392b", "#2e8b57", "#8e44ad", "#7f7f7f"]
        for i, (name, r) in enumerate(series):
            es = r.tidy()
            es = es[(es.event_time >= lo_e) & (es.event_time <= hi_e)]
            event_study_plot(es, ax=ax, label=name, color=colors[i % 4], offset=0.12 * (i + 1))
        ax.set_title("Estimator comparison")
        return ax

    def to_dict(self) -> dict:
        return _json({"outcome": self.outcome, "headline": self.headline(), "comparison": self.comparison_records(),
                      "dynamic": self.dynamic.to_dict(), "pretest": self.pretest(), "settings": self.settings,
                      "specification": self.spec.to_dict()})

    def _repr_html_(self) -> str:
        return table_html(self.comparison(), f"Estimates for {OUTCOME_LABELS.get(self.outcome, self.outcome)}")

def _cell_counts(cs) -> dict:
    """ATT(g,t) cells of a CS result: post-opening cells estimated and not estimable (NA)."""
    post = np.asarray(cs.t) >= np.asarray(cs.group)
    na = ~np.isfinite(np.asarray(cs.att, float))
    g = np.asarray(cs.group)
    return {"post": int((post & ~na).sum()), "not_estimable": int((post & na).sum()),
            "cohorts_with_na_cells": [label(v) for v in sorted(set(g[post & na]))],
            "cohorts_without_estimate": [label(v) for v in sorted(set(g[post]) - set(g[post & ~na]))]}

def _truths(df: pd.DataFrame, spec: Specification, names: list[str], processed, key: str | None):
    """Truth and contamination of every estimator's estimand (None on real data)."""
    from ..data.truth import unit_effects, with_effect_outcome
    from .specification import _cs

    if processed is None or key is None:
        return None, None
    tau = unit_effects(processed, spec.yname)
    if tau is None:
        return None, None
    d = with_effect_outcome(df, tau, key, anticipation=spec.anticipation, yname=spec.yname)
    out = {}
    cs = {c: _cs(d, spec, yname=c, inference=False, seed=0, biters=1) for c in ("_effect_treated", "_effect_other")}
    for k in names:
        vals = []
        for c in ("_effect_treated", "_effect_other"):
            if k == "callaway_santanna":
                vals.append(cs[c].aggte("simple", na_rm=True).overall_att)
            elif k == "callaway_santanna_dynamic":
                vals.append(cs[c].aggte("dynamic", min_e=spec.min_e, max_e=spec.max_e, na_rm=True).overall_att)
            else:
                with recording():  # re-emitted, never silenced (the estimate's own run records its notes)
                    vals.append(fit(k, d, spec, yname=c, inference=False).overall_att)
        out[k] = {"truth": float(vals[0]), "contamination": float(vals[1]),
                  "cells_without_effect": int(d.attrs.get("cells_without_effect", 0))}  # tau undefined, set to 0
    truth_dyn = cs["_effect_treated"].aggte("dynamic", min_e=spec.min_e, max_e=spec.max_e, na_rm=True)
    return out, truth_dyn

def event_study(df: pd.DataFrame, yname: str, *, processed: str | Path | None = None, covariates: list[str] = (),
                control_group: str = "notyettreated", est_method: str = "dr", anticipation: int = 0,
                min_e: int = -12, max_e: int = 12, estimators: list[str] = ("callaway_santanna", "twfe"),
                seed: int = 2026, biters: int = 999, alpha: float = 0.05,
                weightsname: str | None = None, clustervars: str | None = None,
                truth_key: str | None = None) -> EventStudy:
    """Estimate CS ATT(g,t) once, aggregate (simple, group, dynamic), run the comparison estimators on the same
    specification, the universal-base pre-trend event study, and (simulated data) every estimate's truth.

    ``truth_key`` names the unit key of the sample's rows in the simulator's potential outcomes (``"cvegeo"`` or
    ``"employer_id"``); default: ``employer_id`` when present, else ``cvegeo``.

    Parameters
    ----------
    df : pandas.DataFrame
        The sample (``period``, ``unit``, ``first_treat`` and the outcome).
    yname : str
        Outcome column.
    processed : str or pathlib.Path, optional
        Folder of the built panels (for the truths of simulated data).
    covariates, control_group, est_method, anticipation, min_e, max_e, alpha, weightsname, clustervars
        The specification (:class:`~ceci_impact.study.specification.Specification`) every estimator runs under.
    estimators : list of str
        Estimators compared with the headline (always run), by their names in the registry's
        :func:`~ceci_impact.did.registry.selectable` (``'twfe'`` runs the static and the event-study TWFE).
    seed, biters : int
        Seed and number of the bootstrap draws.
    truth_key : str, optional
        Unit key of the rows in the simulator's potential outcomes (see above).
    """
    from .specification import _cs

    wanted = report_rows(estimators)  # the registry's rows for this selection (an unknown name: one line, before any fit)
    spec = Specification(yname=yname, covariates=tuple(covariates), control_group=control_group,
                         anticipation=anticipation, est_method=est_method, weightsname=weightsname,
                         clustervars=clustervars, min_e=min_e, max_e=max_e, alpha=alpha)
    cs = _cs(df, spec, yname=yname, inference=True, seed=seed, biters=biters)
    dyn = cs.aggte("dynamic", min_e=min_e, max_e=max_e, na_rm=True)
    simple = cs.aggte("simple", na_rm=True)
    grp = cs.aggte("group", na_rm=True)
    pre = _cs(df, spec, yname=yname, inference=True, seed=seed, biters=biters, base_period="universal")
    pre_es = pre.aggte("dynamic", min_e=min_e, max_e=max_e, na_rm=True)
    rows = {"callaway_santanna": simple, "callaway_santanna_dynamic": dyn}  # the headline, from the one CS fit
    notes = {"callaway_santanna": cs.data_notes, "callaway_santanna_dynamic": cs.data_notes}
    for k in [k for k in wanted if k not in rows]:
        caught: list = []
        with recording(caught):  # re-emitted, and recorded in the estimator's data notes
            rows[k] = fit(k, df, spec)
        notes[k] = DataNotes.from_warnings(caught)
    records = {k: spec_record(k, spec) for k in rows}
    key = truth_key or ("employer_id" if "employer_id" in df.columns else "cvegeo" if "cvegeo" in df.columns else None)
    truths, truth_dyn = _truths(df, spec, list(rows), processed, key)
    units = df.drop_duplicates("unit")
    return EventStudy(baseline=_baseline(df, yname, weightsname),
                      outcome=yname, spec=spec, cs=cs, dynamic=dyn, simple=simple, group=grp, pre_es=pre_es, rows=rows,
                      records=records, truths=truths, truth_dynamic=truth_dyn, n_units=int(cs.n),
                      n_treated=int((units.first_treat > 0).sum()), cells=_cell_counts(cs), data_notes=notes,
                      settings=dict(control_group=control_group, est_method=est_method, covariates=list(covariates),
                                    anticipation=anticipation, min_e=min_e, max_e=max_e, biters=biters, seed=seed,
                                    weightsname=weightsname, clustervars=clustervars))

def _baseline(df: pd.DataFrame, yname: str, weightsname: str | None) -> float | None:
    """Mean outcome of the units never exposed in the window, before the first opening (weighted as the estimate):
    the comparison level that makes an effect readable as a per cent."""
    g = df.first_treat[df.first_treat > 0]
    if g.empty:
        return None
    d = df[(df.first_treat == 0) & (df.period < g.min())].dropna(subset=[yname])
    if d.empty:
        return None
    w = d[weightsname].to_numpy(float) if weightsname else np.ones(len(d))
    return float(np.average(d[yname].to_numpy(float), weights=w)) if w.sum() > 0 else None


def robustness(df: pd.DataFrame, yname: str, *, covariates: list[str], est_method: str = "reg",
               anticipation: int = 0, weightsname: str | None = None, clustervars: str | None = None,
               seed: int = 2026) -> pd.DataFrame:
    """Overall effect under alternative specifications: control group × with/without covariates × anticipation.

    Parameters
    ----------
    df, yname, covariates, est_method, anticipation, weightsname, clustervars, seed
        As in :func:`event_study`; run with both control groups, with and without covariates, and anticipation + 0 and + 2.
    """
    rows = []
    specs = [(cg, cov, an) for cg in ("notyettreated", "nevertreated") for cov in (list(covariates), [])
             for an in sorted({anticipation, anticipation + 2})]
    for cg, cov, an in specs:
        xf = "~ " + " + ".join(cov) if cov else None
        try:
            with recording():  # re-emitted, never silenced
                r = att_gt(df, yname=yname, tname="period", idname="unit", gname="first_treat", xformla=xf,
                           control_group=cg, est_method=est_method, anticipation=an, bstrap=False, cband=False,
                           weightsname=weightsname, clustervars=clustervars, seed=seed)
                a = r.aggte("simple", na_rm=True)
            lo, hi = a.overall_ci
            rows.append((cg, ", ".join(cov) or "none", an, a.overall_att, a.overall_se, lo, hi))
        except CeciError as exc:
            rows.append((cg, ", ".join(cov) or "none", an, np.nan, np.nan, np.nan, np.nan))
            warnings.warn(f"robustness spec failed: {exc}", stacklevel=2)
    return pd.DataFrame(rows, columns=["control_group", "covariates", "anticipation", "estimate", "se", "ci_low",
                                       "ci_high"])

def triple_difference(df: pd.DataFrame, y_eligible: str, y_other: str, **kw) -> EventStudy:
    """Triple differences: CS event study of (eligible − ineligible) outcomes within each employer-month.

    Parameters
    ----------
    df : pandas.DataFrame
        The sample (``period``, ``unit``, ``first_treat`` and the outcome).
    y_eligible : str
        Outcome column of the eligible workers.
    y_other : str
        Outcome column of the ineligible workers.
    **kw
        Further arguments of :func:`event_study`.
    """
    d = df.dropna(subset=[y_eligible, y_other]).copy()
    d["ddd_gap"] = d[y_eligible] - d[y_other]
    kw.setdefault("estimators", ["callaway_santanna"])
    return event_study(d, "ddd_gap", **kw)

def headline_samples(processed: str | Path, ring_km: float | None = None) -> list[tuple]:
    """``(outcome, sample, weights, cluster)`` for every headline outcome of the registry
    (:data:`ceci_impact.data.outcomes.OUTCOMES`); employer outcomes share one employer sample.

    Parameters
    ----------
    processed : str or pathlib.Path
        Folder of the built panels.
    ring_km : float, optional
        Treated radius in km of the employer sample (must equal the panels' own).
    """
    cache: dict = {}
    out = []
    for o in headlines():
        key = o.name if o.panel == "municipality" else "employer"
        if key not in cache:
            cache[key] = outcome_sample(processed, o.name, ring_km)
        out.append((o.name, cache[key], o.weights, o.cluster))
    return out


def all_outcomes(processed: str | Path, *, covariates: list[str], control_group: str = "notyettreated",
                 est_method: str = "reg", min_e: int = -12, max_e: int = 12, seed: int = 2026,
                 biters: int = 999, ring_km: float | None = None, alpha: float = 0.05) -> dict[str, EventStudy]:
    """The headline outcomes of the registry (women's jobs by municipality; incapacity days and separations by
    employer), each with its weights and the cluster where exposure is assigned (municipality; the site whose
    opening sets an employer's cohort, employers beyond every ring being their own cluster).

    ``ring_km`` (when given) must equal the treated radius the employer panels were built with.

    Parameters
    ----------
    processed : str or pathlib.Path
        Folder of the built panels.
    covariates, control_group, est_method, min_e, max_e, seed, biters, alpha
        As in :func:`event_study`, for every outcome.
    ring_km : float, optional
        Treated radius in km of the employer sample (must equal the panels' own).
    """
    kw = dict(processed=processed, covariates=covariates, control_group=control_group, est_method=est_method,
              min_e=min_e, max_e=max_e, seed=seed, biters=biters, alpha=alpha)
    return {y: event_study(df, y, weightsname=w, clustervars=cl, **kw)
            for y, df, w, cl in headline_samples(processed, ring_km)}


def summary_table(results: dict[str, EventStudy]) -> pd.DataFrame:
    """One row per outcome × estimator: effect, interval, truth (simulated) and whether the interval covers it.

    Parameters
    ----------
    results : dict
        Outcome to :class:`EventStudy`, as :func:`all_outcomes` returns.
    """
    rows = []
    for y, es in results.items():
        comp = es.comparison()
        comp.insert(0, "outcome", OUTCOME_LABELS.get(y, y))
        rows.append(comp)
    tab = pd.concat(rows, ignore_index=True)
    if "truth" in tab:
        tab["covers_truth"] = (tab.ci_low <= tab.truth) & (tab.truth <= tab.ci_high)
    return tab

def poisson_counts(processed: str | Path, count: str, *, min_e: int = -12, max_e: int = 12):
    """PPML event study of an employer × month count (treated ring vs controls; buffer ring excluded).

    Parameters
    ----------
    processed : str or pathlib.Path
        Folder of the built panels.
    count : str
        Count column of ``employer_month``.
    min_e, max_e : int
        Smallest and largest event time of the event study.
    """
    from ..did import poisson_event_study

    df = load("employer_month", processed)
    df = df[df.ring != "buffer"]
    if count not in df.columns:
        raise CeciError(f"count {count!r} not in employer_month")
    return poisson_event_study(df, yname=count, tname="period", idname="employer_id", gname="first_treat",
                               min_e=min_e, max_e=max_e)

def honest_sensitivity(df: pd.DataFrame, yname: str, *, covariates: list[str], control_group: str = "notyettreated",
                       est_method: str = "reg", min_e: int = -12, max_e: int = 12, weightsname: str | None = None,
                       e: int | str = 0, n_m: int = 6, type: str = "smoothness", Mbarvec=(0.0, 0.5, 1.0, 1.5, 2.0),
                       biasDirection: str | None = None, clustervars: str | None = None):
    """Rambachan–Roth sensitivity of the CS event study (universal base period, as HonestDiD requires).

    ``clustervars``: the cluster where exposure is assigned (the event-study covariance is then cluster-robust).

    ``e="simple"``: the target is the headline estimand itself, ``aggte("simple")``, as HonestDiD's ``l_vec`` (the
    simple aggregation's weights over the post-treatment event times of the window,
    :func:`ceci_impact.did.inference.simple_event_weights`); the result's ``target`` says which share of the
    headline's weight the window holds when ``max_e`` cuts later event times. The bounds use the clustered
    (CR0) event-study covariance with HonestDiD's own critical values, not the report's small-cluster rule.

    ``type="smoothness"``: M from 0 to one standard error of the target (``n_m`` values);
    ``type="relative_magnitude"``: the ``Mbarvec`` grid (C-LF intervals); ``biasDirection`` adds a known sign of
    the post-treatment trend difference (relative magnitudes only). Pre-periods are limited to
    ``min_e..-2`` and post to ``0..max_e`` so the covariance stays well conditioned.

    Parameters
    ----------
    df, yname, covariates, control_group, est_method, min_e, max_e, weightsname
        As in :func:`event_study` (re-estimated with a universal base period).
    e : int or 'simple'
        Event time of the target, or ``'simple'`` for the headline estimand.
    n_m : int
        Number of M values (``type='smoothness'``).
    type : {'smoothness', 'relative_magnitude'}
        The HonestDiD restriction.
    Mbarvec : sequence of float
        The Mbar grid (``type='relative_magnitude'``).
    biasDirection : {'positive', 'negative'}, optional
        Known sign of the post-treatment trend difference.
    clustervars : str, optional
        Cluster column where exposure is assigned.
    """
    from ..did import honest_did
    from ..did.core.design import covariate_formula

    xf = covariate_formula(covariates, df.columns)
    with recording():  # re-emitted, never silenced
        r = att_gt(df, yname=yname, tname="period", idname="unit", gname="first_treat", xformla=xf,
                   control_group=control_group, est_method=est_method, base_period="universal", bstrap=False,
                   cband=False, weightsname=weightsname, clustervars=clustervars)
        dyn = r.aggte("dynamic", min_e=min_e, max_e=max_e, na_rm=True)
    kw: dict = {"e": e}
    if e == "simple":
        from ..did.inference import simple_event_weights

        lv, covered = simple_event_weights(dyn)
        what = msg("honest.target_simple") if covered > 1 - 1e-9 else msg(
            "honest.target_simple_window", max_e=int(max(lv)), share=f"{100 * covered:.0f}")
        kw = {"l_vec": lv, "target": what}
    if type == "relative_magnitude":
        return honest_did(dyn, type="relative_magnitude", Mbarvec=list(Mbarvec), biasDirection=biasDirection, **kw)
    se = float(dyn.se_egt[list(dyn.egt).index(0)]) if 0 in set(dyn.egt) else float(np.nanmean(dyn.se_egt))
    return honest_did(dyn, Mvec=np.linspace(0, se, n_m), **kw)
