"""Analysis steps shared by the notebooks: estimation samples, event studies, comparisons, truth.

Notebooks stay thin: they pass their validated parameters here and narrate the results.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._options import CeciError
from .calendar import label
from .did import att_gt
from .did.results import _json, table_html
from .io import atomic_file
from .panels import load, manifest
from .specification import ESTIMATORS, Specification, fit, spec_record

OUTCOME_LABELS = {
    "log_women_jobs": "log women's insured jobs",
    "women_jobs_per_1000": "women's insured jobs per 1,000 women aged 15–64",
    "female_share": "female share of insured jobs",
    "log_jobs": "log insured jobs",
    "eg_days_per_worker": "general-illness incapacity days per worker-month",
    "share_any_incapacity": "share of workers with a general-illness incapacity in the month",
    "eg_days_per_eligible": "incapacity days per eligible parent-month",
    "separation_rate": "monthly separation rate",
}
MIN_CELL = 5  # confidentiality: employer counts below this are suppressed in published tables


def suppress_small(df: pd.DataFrame, cols: list[str], k: int = MIN_CELL, *, linked: list[str] = (),
                   secondary: bool = True) -> pd.DataFrame:
    """Statistical disclosure control: counts below ``k`` in ``cols`` become ``"<k"``.

    ``linked`` columns (observation counts, totals of the same units) are blanked in the suppressed rows, since
    they would give the suppressed count back (observations / months). With ``secondary``, a column with exactly one
    suppressed cell also suppresses its next smallest cell, so the suppressed count cannot be recovered as a
    published total minus the visible cells.
    """
    out = df.copy()
    hide = pd.Series(False, index=df.index)
    for c in cols:
        small = df[c] < k
        if secondary and int(small.sum()) == 1 and len(df) > 1:
            small.loc[df.loc[~small, c].idxmin()] = True
        hide |= small
        out[c] = out[c].astype(object).where(~small, f"<{k}")
        out.loc[small & (df[c] >= k), c] = "suppressed"
    for c in linked:
        out[c] = out[c].astype(object).where(~hide, "suppressed")
    return out


def publishable(n: int, k: int = MIN_CELL) -> bool:
    """Whether a count of confidential units may be published (and an estimate on them shown)."""
    return int(n) >= k


def count_text(n: int, what: str, k: int = MIN_CELL) -> str:
    """``"12 employers"``, or ``"fewer than 5 employers"`` for a count that must stay suppressed."""
    return f"{int(n):,} {what}" if publishable(n, k) else f"fewer than {k} {what}"


def municipality_sample(processed: str | Path, outcome: str, scheme: str = "both", pole: str = "") -> pd.DataFrame:
    """Municipality × month estimation sample: unit code, period, cohort (by scheme), covariates."""
    df = load("mun_month", processed)
    if outcome not in df.columns:
        raise CeciError(f"outcome {outcome!r} not in mun_month; available: {', '.join(df.columns)}")
    gcol = {"both": "first_treat", "IMSS": "first_treat_imss", "Empresa": "first_treat_empresa"}[scheme]
    df = df.assign(first_treat=df[gcol].astype(float))
    if scheme != "both":  # municipalities whose first site is of the other scheme are dropped (not clean controls)
        other = df["first_treat_imss" if scheme == "Empresa" else "first_treat_empresa"] > 0
        df = df[~(other & (df.first_treat == 0))]
    if pole:
        if pole not in set(df.pole):
            raise CeciError(f"pole={pole!r} not found; poles in the data: {', '.join(sorted(set(df.pole) - {''}))}")
        df = df[(df.pole == pole) | (df.first_treat == 0)]
    df = df.dropna(subset=[outcome])
    df["unit"] = pd.factorize(df["cvegeo"])[0] + 1
    return df.reset_index(drop=True)


def employer_sample(processed: str | Path, outcome: str, ring_km: float | None = None,
                    min_workers: int = 1) -> pd.DataFrame:
    """Employer × month sample: treated ring vs controls (buffer ring dropped), unit code, covariates.

    ``ring_km``: the treated radius the panels must have been built with (``None`` or 0: whatever they were built
    with; the manifest records it and every truth follows it)."""
    m = manifest(processed)
    if ring_km and abs(m["ring_km"][0] - ring_km) > 1e-9:
        raise CeciError(f"ring_km={ring_km} but the panels were built with {m['ring_km'][0]} km; rebuild with "
                        f"`ceci-impact build --ring-km {ring_km},{m['ring_km'][1]}`")
    df = load("employer_month", processed)
    if outcome not in df.columns:
        raise CeciError(f"outcome {outcome!r} not in employer_month")
    df = df[df.ring != "buffer"].copy()
    base = df.groupby("employer_id")["workers"].transform("first")
    df = df[base >= min_workers]
    mun = load("mun_month", processed)[["cvegeo", "x_industrial"]].drop_duplicates("cvegeo")
    df = df.merge(mun, on="cvegeo", how="left")
    df["manufacturing"] = (df["sector"] == "3").astype(float)
    df["size0"] = df.groupby("employer_id")["workers"].transform("first").astype(float)
    df["log_size0"] = np.log1p(df["size0"])
    df["first_treat"] = df["first_treat"].astype(float)
    df["unit"] = pd.factorize(df["employer_id"])[0] + 1
    # exposure is assigned by site: employers in a site's treated ring form one cluster, others their own
    df["site_cluster"] = df["cohort_site"].where(df["cohort_site"].notna(), df["employer_id"])
    return df.reset_index(drop=True)


def sample_counts(df: pd.DataFrame, unit_label: str, suppress: bool = False, labeler=label) -> pd.DataFrame:
    """Units and observations by cohort (``never`` = 0), labelled by ``labeler`` (default ``YYYY-MM``)."""
    g = df.groupby("first_treat").agg(units=("unit", "nunique"), observations=("unit", "size")).reset_index()
    g.insert(0, "cohort", [labeler(v) for v in g.first_treat])
    g = g.drop(columns="first_treat").rename(columns={"units": unit_label})
    return suppress_small(g, [unit_label], linked=["observations"]) if suppress else g


@dataclass(frozen=True, eq=False)
class EventStudy:
    """Everything one outcome notebook reports: CS estimates and aggregations, the comparison estimators run on
    the same specification, the universal-base pre-trend event study and, on simulated data, each estimate's truth.

    ``rows`` maps registry names (:data:`ceci_impact.specification.ESTIMATORS`) to results; ``records`` to the
    specification each ran under; ``truths`` to ``{"truth", "contamination"}`` (see :mod:`ceci_impact.truth`).
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

    @property
    def twfe_static(self):
        return self.rows.get("twfe")

    @property
    def twfe_es(self):
        return self.rows.get("twfe_event_study")

    @property
    def others(self) -> dict:
        """Comparison estimators other than CS and TWFE, by label."""
        return {ESTIMATORS[k].label: r for k, r in self.rows.items()
                if k not in ("callaway_santanna", "callaway_santanna_dynamic", "twfe", "twfe_event_study")}

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
        """The comparison as records, each with the full ``specification`` it ran under (for sidecars)."""
        tab = self.comparison()
        return [{**row, "specification": self.records[k]} for k, row in zip(self.rows, tab.to_dict("records"), strict=True)]

    def headline(self) -> dict:
        lo, hi = self.simple.overall_ci
        d = {"outcome": self.outcome, "label": OUTCOME_LABELS.get(self.outcome, self.outcome),
             "estimator": "callaway_santanna_simple", "estimate": self.simple.overall_att,
             "se": self.simple.overall_se, "ci_low": lo, "ci_high": hi, "alpha": self.spec.alpha,
             "n_units": self.n_units, "n_treated_units": self.n_treated, "cells": self.cells,
             "pretest_p": self.pretest()["pvalue"], "specification": self.records["callaway_santanna"],
             "truth": None if self.truths is None else self.truths["callaway_santanna"]["truth"],
             "contamination": None if self.truths is None else self.truths["callaway_santanna"]["contamination"]}
        return _json(d)

    def sentence(self, scale: float = 1.0, unit: str = "") -> str:
        """The aggregated effect in a sentence a reviewer can quote."""
        h = self.headline()
        lab = h["label"]
        est, lo, hi = (h["estimate"] * scale, h["ci_low"] * scale, h["ci_high"] * scale)
        sig = "distinguishable from zero" if (lo > 0 or hi < 0) else "not distinguishable from zero"
        level = f"{100 * (1 - self.spec.alpha):g}%"
        na = self.cells.get("not_estimable", 0)
        which = self.cells.get("cohorts_with_na_cells", [])
        named = f" (cohorts {', '.join(which[:5])}{', ...' if len(which) > 5 else ''})" if which else ""
        cells = (f"; {na} of {self.cells.get('post', 0) + na} post-opening cohort-months could not be estimated{named}"
                 if na else "")
        return (f"Averaged over exposed units and post-opening months, CECI exposure changed {lab} by "
                f"{est:+.4g}{unit} ({level} CI {lo:+.4g} to {hi:+.4g}{unit}; Callaway–Sant'Anna, "
                f"{self.spec.control_group} controls, {self.n_treated} exposed of {self.n_units} units used{cells}); "
                f"the effect is {sig} at the {100 * self.spec.alpha:g}% level.")

    def pretest(self) -> dict:
        """Wald test that the universal-base pre-period event-time effects are zero (each relative to month -1)."""
        return {**self.pre_es.pretest(), "level": f"event times {self.spec.min_e}..-2, universal base period"}

    def pretrend_verdict(self) -> str:
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
            return "No pre-treatment periods were available for a pre-trend test."
        seed = self.settings.get("seed")
        sup = self.pre_es.pretest("sup_t", seed=2026 if seed is None else seed)
        band = ""
        if sup["pvalue"] is not None:
            band = (f" The bootstrap sup-t test over pre-periods {'rejects' if sup['pvalue'] < 0.05 else 'does not reject'} "
                    f"(p = {sup['pvalue']:.3f}; the simultaneous 95% band "
                    f"{'excludes zero in some pre-period' if sup['pvalue'] < 0.05 else 'covers zero in every pre-period'}).")
        few = self.n_treated < 5 * max(pt["df"], 1)
        caution = (f" With {self.n_treated} treated units for {pt['df']} restrictions the Wald test's chi-squared "
                   "approximation over-rejects, so it should not be read alone." if few else "")
        if p < 0.05:
            verdict = (f"The pre-trend test on {pt['level']} rejects parallel pre-trends (Wald p = {p:.3f}, "
                       f"{pt['df']} restrictions).")
            if few and sup["pvalue"] is not None and sup["pvalue"] >= 0.05:
                return verdict + caution + band + " The evidence against parallel pre-trends is therefore weak."
            return verdict + caution + band + " Read the post-period estimates with caution."
        return (f"The pre-trend test on {pt['level']} does not reject parallel pre-trends (Wald p = {p:.3f}, "
                f"{pt['df']} restrictions).{band}")

    def truth_verdict(self) -> str:
        """On simulated data: does the headline interval cover the truth of its estimand, and what explains a miss."""
        if self.truths is None:
            return ""
        h = self.headline()
        t, c = h["truth"], h["contamination"]
        covers = h["ci_low"] <= t <= h["ci_high"]
        z = (h["estimate"] - t) / h["se"] if h["se"] else float("nan")
        out = (f"Simulated truth of this estimand (same units, weights, exposure ring and aggregation): {t:+.4g}; the "
               f"interval {'covers' if covers else 'misses'} it (estimate − truth = {z:+.2f} standard errors).")
        if c is not None and abs(c) > 0.5 * h["se"]:
            out += (f" Effects outside the estimator's treated cells (exposure before the ring's cohort date, or in "
                    f"comparison units) shift this estimator by {c:+.4g} ({c / h['se']:+.2f} SE): a known source of "
                    "bias in this design, not chance.")
        elif not covers:
            out += (" Contamination from effects outside the treated cells is negligible here, so a miss of this size "
                    "is chance or a failure of conditional parallel trends; benchmarks/truth_recovery.py measures "
                    "how often the interval covers the truth over many simulated worlds.")
        return out

    def plot(self, ax=None, truth: bool = True):
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
        """Overlay of the event studies of every estimator (as in did2s::event_study)."""
        import matplotlib.pyplot as plt

        from .did.plotting import event_study_plot

        if ax is None:
            _, ax = plt.subplots(figsize=(8, 4.2))
        event_study_plot(self.dynamic.tidy().drop(columns=["band_low", "band_high"]), ax=ax,
                         label="Callaway–Sant'Anna", color="#1f4e79", offset=-0.12)
        lo_e, hi_e = self.dynamic.egt.min(), self.dynamic.egt.max()
        series = [(ESTIMATORS[k].label + ("" if not self.records[k]["not_honoured"] else
                                          f" ({'; '.join(self.records[k]['instead'].values())})"), r)
                  for k, r in self.rows.items() if k in ("twfe_event_study", "sun_abraham", "imputation")]
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
    from .specification import _cs
    from .truth import unit_effects, with_effect_outcome

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
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    vals.append(fit(k, d, spec, yname=c, inference=False).overall_att)
        out[k] = {"truth": float(vals[0]), "contamination": float(vals[1])}
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
    """
    from .specification import _cs

    spec = Specification(yname=yname, covariates=tuple(covariates), control_group=control_group,
                         anticipation=anticipation, est_method=est_method, weightsname=weightsname,
                         clustervars=clustervars, min_e=min_e, max_e=max_e, alpha=alpha)
    cs = _cs(df, spec, yname=yname, inference=True, seed=seed, biters=biters)
    dyn = cs.aggte("dynamic", min_e=min_e, max_e=max_e, na_rm=True)
    simple = cs.aggte("simple", na_rm=True)
    grp = cs.aggte("group", na_rm=True)
    pre = _cs(df, spec, yname=yname, inference=True, seed=seed, biters=biters, base_period="universal")
    pre_es = pre.aggte("dynamic", min_e=min_e, max_e=max_e, na_rm=True)
    rows = {"callaway_santanna": simple, "callaway_santanna_dynamic": dyn}
    if "twfe" in estimators:
        rows["twfe"] = fit("twfe", df, spec)
        rows["twfe_event_study"] = fit("twfe_event_study", df, spec)
    for k in ("sun_abraham", "imputation"):
        if k in estimators:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rows[k] = fit(k, df, spec)
    records = {k: spec_record(k, spec) for k in rows}
    key = truth_key or ("employer_id" if "employer_id" in df.columns else "cvegeo" if "cvegeo" in df.columns else None)
    truths, truth_dyn = _truths(df, spec, list(rows), processed, key)
    units = df.drop_duplicates("unit")
    return EventStudy(outcome=yname, spec=spec, cs=cs, dynamic=dyn, simple=simple, group=grp, pre_es=pre_es, rows=rows,
                      records=records, truths=truths, truth_dynamic=truth_dyn, n_units=int(cs.n),
                      n_treated=int((units.first_treat > 0).sum()), cells=_cell_counts(cs),
                      settings=dict(control_group=control_group, est_method=est_method, covariates=list(covariates),
                                    anticipation=anticipation, min_e=min_e, max_e=max_e, biters=biters, seed=seed,
                                    weightsname=weightsname, clustervars=clustervars))


def raw_trends(df: pd.DataFrame, yname: str, ax=None, max_cohorts: int = 6):
    """Mean outcome by month for each cohort (largest ``max_cohorts``) and the never-exposed group."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    sizes = df.drop_duplicates("unit").groupby("first_treat").size().sort_values(ascending=False)
    cohorts = [g for g in sizes.index if g > 0][:max_cohorts]
    for g in [0.0, *sorted(cohorts)]:
        d = df[df.first_treat == g].groupby("period")[yname].mean()
        lab = "never exposed" if g == 0 else f"cohort {label(g)}"
        ax.plot(d.index, d.values, lw=2.2 if g == 0 else 1.2, color="black" if g == 0 else None, label=lab)
        if g > 0:
            ax.axvline(g, lw=0.6, ls=":", color=ax.lines[-1].get_color())
    ticks = sorted(df.period.unique())[:: max(1, len(df.period.unique()) // 8)]
    ax.set_xticks(ticks)
    ax.set_xticklabels([label(t) for t in ticks], rotation=30, fontsize=8)
    ax.set_ylabel(OUTCOME_LABELS.get(yname, yname))
    ax.set_title("Raw trends by cohort (dotted line: opening month)")
    ax.legend(frameon=False, fontsize=7, ncol=2)
    return ax


def record(results_path: str, payload: dict) -> None:
    """Write the notebook's machine-readable results (headline estimates) for the renderer."""
    if not results_path:
        return
    with atomic_file(results_path) as fh:
        json.dump(_json(payload), fh, indent=1)


def simulated_banner(processed: str | Path) -> str | None:
    """An HTML banner saying plainly that the data are simulated (None on real data)."""
    m = manifest(processed)
    if not m.get("simulated"):
        return None
    return ("<div style='border:2px solid #b7410e;background:#fff4e5;padding:8px;margin:6px 0'>"
            "<b>SIMULATED DATA.</b> Every number in this report comes from the simulated CECI world of "
            "<code>ceci_impact.synthetic</code> (window " + " to ".join(m["window"]) + "), not from IMSS records. "
            "True effects are known and shown beside the estimates.</div>")


def robustness(df: pd.DataFrame, yname: str, *, covariates: list[str], est_method: str = "reg",
               anticipation: int = 0, weightsname: str | None = None, clustervars: str | None = None,
               seed: int = 2026) -> pd.DataFrame:
    """Overall effect under alternative specifications: control group × with/without covariates × anticipation."""
    rows = []
    specs = [(cg, cov, an) for cg in ("notyettreated", "nevertreated") for cov in (list(covariates), [])
             for an in sorted({anticipation, anticipation + 2})]
    for cg, cov, an in specs:
        xf = "~ " + " + ".join(cov) if cov else None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
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


def robustness_verdict(tab: pd.DataFrame) -> str:
    """Words for the sensitivity table: do all specifications agree in sign and significance?"""
    t = tab.dropna(subset=["estimate"])
    if t.empty:
        return "No alternative specification could be estimated."
    signs = np.sign(t.estimate)
    sig = (t.ci_low > 0) | (t.ci_high < 0)
    same_sign = bool((signs == signs.iloc[0]).all())
    return (f"Across {len(t)} specifications (control group, covariates, anticipation) the estimate ranges from "
            f"{t.estimate.min():+.4g} to {t.estimate.max():+.4g}; "
            + ("all share the same sign" if same_sign else "the sign changes across specifications")
            + f", and {int(sig.sum())} of {len(t)} are distinguishable from zero at 5%.")


def triple_difference(df: pd.DataFrame, y_eligible: str, y_other: str, **kw) -> EventStudy:
    """Triple differences: CS event study of (eligible − ineligible) outcomes within each employer-month."""
    d = df.dropna(subset=[y_eligible, y_other]).copy()
    d["ddd_gap"] = d[y_eligible] - d[y_other]
    kw.setdefault("estimators", ["callaway_santanna"])
    return event_study(d, "ddd_gap", **kw)


def survival_frame(processed: str | Path, near_km: float, far_km: float) -> pd.DataFrame:
    """Spells of eligible mothers (child 43 days–4 years at hire) at employers near vs far from a CECI.

    Duration in months from hire (or window start) to separation, censored at the end of the
    window; ``exposed_from`` is the month (relative to the spell start) when the employer's
    first CECI within ``near_km`` opened (for the Cox model with time-varying exposure).
    """
    sp = load("spells_exposure", processed)
    m = manifest(processed)
    p0, p1 = m["period_first"], m["period_last"]
    sp = sp[(sp.sex == 2) & (sp.eligible_at_start == 1) & (sp.start_period >= p0)].copy()
    sp["group"] = np.where(sp.nearest_km_end <= near_km, "near",
                           np.where(sp.nearest_km_end > far_km, "far", "between"))
    sp = sp[sp.group != "between"]
    end = sp.sep_period.where(sp.sep_period.notna() & (sp.sep_period <= p1), p1 + 1)
    sp["event"] = (sp.sep_period.notna() & (sp.sep_period <= p1)).astype(int)
    sp["duration"] = (end - sp.start_period).clip(lower=0.5).astype(float)
    ft = sp.first_treat.where(sp.first_treat > 0)
    sp["exposed_from"] = (ft - sp.start_period).clip(lower=0)
    return sp.reset_index(drop=True)


def kaplan_meier(sf: pd.DataFrame, ax=None):
    """Kaplan–Meier job-survival curves for near vs far (statsmodels ``SurvfuncRight``)."""
    import matplotlib.pyplot as plt
    import statsmodels.api as sm

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    out = {}
    for g, d in sf.groupby("group"):
        if len(d) < MIN_CELL:
            continue
        s = sm.SurvfuncRight(d.duration.to_numpy(), d.event.to_numpy())
        ax.step(s.surv_times, s.surv_prob, where="post", label=f"{g} (n≥{MIN_CELL})" if len(d) < 20 else f"{g}")
        out[g] = s
    ax.set_xlabel("months since hire")
    ax.set_ylabel("share still employed")
    ax.set_ylim(0, 1.02)
    ax.set_title("Job survival of eligible mothers: near vs far from a CECI")
    ax.legend(frameon=False)
    return out


def cox_time_varying(sf: pd.DataFrame) -> pd.DataFrame:
    """Cox model of separation with a time-varying 'CECI open nearby' indicator (episode splitting).

    Each spell is split at the month its employer's nearby CECI opened; statsmodels ``PHReg``
    with entry times estimates the hazard ratio of exposure.
    """
    import statsmodels.api as sm

    near = sf.group == "near"
    x = sf.exposed_from.where(near)
    split = x.notna() & (x > 0) & (x < sf.duration)
    pre = pd.DataFrame({"entry": 0.0, "exit": np.where(split, x, sf.duration),
                        "event": np.where(split, 0, sf.event),
                        "exposed": np.where(near & x.notna() & ~split & (x <= 0), 1, 0), "near": near.astype(int)})
    post = pd.DataFrame({"entry": x[split].astype(float), "exit": sf.duration[split], "event": sf.event[split],
                         "exposed": 1, "near": 1})
    ep = pd.concat([pre, post], ignore_index=True)
    ep = ep[ep.exit > ep.entry]
    mod = sm.PHReg(ep.exit.to_numpy(), ep[["exposed", "near"]].to_numpy(float), status=ep.event.to_numpy(),
                   entry=ep.entry.to_numpy())
    res = mod.fit()
    ci = res.conf_int()
    return pd.DataFrame({"term": ["CECI open nearby (time-varying)", "near employer (any time)"],
                         "hazard_ratio": np.exp(res.params), "ci_low": np.exp(ci[:, 0]),
                         "ci_high": np.exp(ci[:, 1]), "p_value": res.pvalues,
                         "spells": len(sf), "separations": int(sf.event.sum())})


def hire_retention(processed: str | Path, near_km: float, far_km: float, horizons=(6, 12)) -> pd.DataFrame:
    """Share of new hires still employed ``h`` months later, by hire month and near/far employers."""
    sp = load("spells_exposure", processed)
    m = manifest(processed)
    p0, p1 = m["period_first"], m["period_last"]
    sp = sp[sp.start_period >= p0].copy()
    sp["group"] = np.where(sp.nearest_km_end <= near_km, "near", np.where(sp.nearest_km_end > far_km, "far", None))
    sp = sp.dropna(subset=["group"])
    out = []
    for h in horizons:
        d = sp[sp.start_period + h <= p1]
        stayed = d.sep_period.isna() | (d.sep_period > d.start_period + h)
        g = d.assign(stayed=stayed).groupby(["start_period", "group"]).agg(hires=("stayed", "size"),
                                                                           retained=("stayed", "mean"))
        g = g.reset_index().assign(horizon=h)
        out.append(g)
    res = pd.concat(out, ignore_index=True)
    res["hire_month"] = [label(p) for p in res.start_period]
    return res


def all_outcomes(processed: str | Path, *, covariates: list[str], control_group: str = "notyettreated",
                 est_method: str = "reg", min_e: int = -12, max_e: int = 12, seed: int = 2026,
                 biters: int = 999, ring_km: float | None = None, alpha: float = 0.05) -> dict[str, EventStudy]:
    """The three headline outcomes: women's jobs (municipality), incapacity days and separations (employer).

    ``ring_km`` (when given) must equal the treated radius the employer panels were built with."""
    kw = dict(processed=processed, covariates=covariates, control_group=control_group, est_method=est_method,
              min_e=min_e, max_e=max_e, seed=seed, biters=biters, alpha=alpha)
    out = {"log_women_jobs": event_study(municipality_sample(processed, "log_women_jobs"), "log_women_jobs", **kw)}
    emp = employer_sample(processed, "eg_days_per_worker", ring_km)
    # employers are exposed by site, not one by one: cluster where exposure is assigned (the site whose opening sets
    # the cohort; employers beyond every ring are their own cluster)
    kw_e = dict(weightsname="size0", clustervars="site_cluster", **kw)
    out["eg_days_per_worker"] = event_study(emp, "eg_days_per_worker", **kw_e)
    out["separation_rate"] = event_study(emp, "separation_rate", **kw_e)
    return out


def summary_table(results: dict[str, EventStudy]) -> pd.DataFrame:
    """One row per outcome × estimator: effect, interval, truth (simulated) and whether the interval covers it."""
    rows = []
    for y, es in results.items():
        comp = es.comparison()
        comp.insert(0, "outcome", OUTCOME_LABELS.get(y, y))
        rows.append(comp)
    tab = pd.concat(rows, ignore_index=True)
    if "truth" in tab:
        tab["covers_truth"] = (tab.ci_low <= tab.truth) & (tab.truth <= tab.ci_high)
    return tab


def agreement_plot(results: dict[str, EventStudy]):
    """Estimator-agreement figure: each outcome's overall effect and interval by estimator (and truth)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 3.6))
    axes = np.atleast_1d(axes)
    for ax, (y, es) in zip(axes, results.items(), strict=True):
        c = es.comparison()
        ys = np.arange(len(c))[::-1]
        ax.errorbar(c.estimate, ys, xerr=[c.estimate - c.ci_low, c.ci_high - c.estimate], fmt="o", capsize=3)
        if "truth" in c and c.truth.notna().any():
            ax.scatter(c.truth, ys, marker="x", color="black", zorder=3, label="truth (simulated)")
            ax.legend(frameon=False, fontsize=7, loc="lower right")
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_yticks(ys)
        ax.set_yticklabels([e.replace(" (", "\n(") for e in c.estimator], fontsize=7)
        ax.set_title(OUTCOME_LABELS.get(y, y), fontsize=9)
    fig.tight_layout()
    return fig


def site_profile(processed: str | Path, site_id: str = "") -> pd.Series:
    """Facts about one CECI site (the first opened site when ``site_id`` is empty)."""
    sites = pd.read_parquet(Path(processed) / "sites.parquet")
    opened = sites[sites.opening_period > 0].sort_values(["opening_period", "site_id"])
    if not site_id:
        if opened.empty:
            raise CeciError("no opened CECI site in the registry")
        site_id = opened.site_id.iloc[0]
    row = sites[sites.site_id == site_id]
    if row.empty:
        raise CeciError(f"site_id={site_id!r} not in the registry; opened sites include "
                        f"{', '.join(opened.site_id.head(5))}")
    s = row.iloc[0].copy()
    s["opening_month"] = label(s.opening_period)
    return s


def site_employers(processed: str | Path, site: pd.Series, em: pd.DataFrame | None = None) -> pd.DataFrame:
    """Employers with their distance to the site (one row per employer, first month's workforce)."""
    from .geo import haversine_km

    em = load("employer_month", processed) if em is None else em
    first = em.sort_values("period").drop_duplicates("employer_id")
    first["km"] = haversine_km(site.lat, site.lon, first.lat.to_numpy(), first.lon.to_numpy())
    return first


def site_event_study(processed: str | Path, site: pd.Series, radius_km: float, window: int, outcome: str,
                     n_perm: int = 199, seed: int = 2026, biters: int = 499, alpha: float = 0.05) -> dict:
    """Local event study: employers within ``radius_km`` of the site vs control-ring employers.

    With few treated employers, analytic intervals are unreliable: the function also returns a
    randomisation-inference p-value (the site's opening reassigned to random sets of control
    employers of the same size, ``n_perm`` times).
    """
    em = load("employer_month", processed)
    emp = site_employers(processed, site, em)
    near = set(emp.loc[(emp.km <= radius_km), "employer_id"])
    ctrl = set(em.loc[em.ring == "control", "employer_id"])
    g = int(site.opening_period)
    d = em[em.employer_id.isin(near | ctrl) & em.period.between(g - window, g + window)].copy()
    d["first_treat"] = np.where(d.employer_id.isin(near), g, 0).astype(float)
    d = d.dropna(subset=[outcome])
    d["unit"] = pd.factorize(d.employer_id)[0] + 1
    d["size0"] = d.groupby("employer_id")["workers"].transform("first").astype(float)
    d = d[d.size0 > 0]
    n_t = int(d.loc[d.first_treat > 0, "unit"].nunique())
    n_c = int(d.loc[d.first_treat == 0, "unit"].nunique())
    if n_t == 0:
        return {"n_treated": 0, "n_control": n_c, "result": None, "perm_p": None}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = att_gt(d, yname=outcome, tname="period", idname="unit", gname="first_treat", control_group="nevertreated",
                   est_method="reg", bstrap=True, biters=biters, alp=alpha, seed=seed, weightsname="size0")
        dyn = r.aggte("dynamic", na_rm=True)
        simple = r.aggte("simple", na_rm=True)
    # randomisation inference on the simple post-minus-pre contrast (weighted means)
    wide = d.pivot_table(index="unit", columns="period", values=outcome)
    w0 = d.drop_duplicates("unit").set_index("unit")["size0"].reindex(wide.index)
    post_cols = [c for c in wide.columns if c >= g]
    pre_cols = [c for c in wide.columns if c < g]
    delta = (wide[post_cols].mean(axis=1) - wide[pre_cols].mean(axis=1)).fillna(0)
    treated = d.drop_duplicates("unit").set_index("unit")["first_treat"].reindex(wide.index) > 0

    def contrast(mask):
        return np.average(delta[mask], weights=w0[mask]) - np.average(delta[~mask], weights=w0[~mask])

    obs = contrast(treated.to_numpy())
    rng = np.random.default_rng(seed)
    pool = np.flatnonzero(~treated.to_numpy())
    draws = []
    for _ in range(n_perm):
        m = np.zeros(len(wide), bool)
        m[rng.choice(pool, min(n_t, pool.size - 1), replace=False)] = True
        draws.append(contrast(m))
    perm_p = float((1 + np.sum(np.abs(draws) >= abs(obs))) / (1 + n_perm))
    return {"n_treated": n_t, "n_control": n_c, "result": r, "dynamic": dyn, "simple": simple,
            "perm_contrast": float(obs), "perm_p": perm_p}


def poisson_counts(processed: str | Path, count: str, *, min_e: int = -12, max_e: int = 12):
    """PPML event study of an employer × month count (treated ring vs controls; buffer ring excluded)."""
    from .did import poisson_event_study

    df = load("employer_month", processed)
    df = df[df.ring != "buffer"]
    if count not in df.columns:
        raise CeciError(f"count {count!r} not in employer_month")
    return poisson_event_study(df, yname=count, tname="period", idname="employer_id", gname="first_treat",
                               min_e=min_e, max_e=max_e)


def honest_sensitivity(df: pd.DataFrame, yname: str, *, covariates: list[str], control_group: str = "notyettreated",
                       est_method: str = "reg", min_e: int = -12, max_e: int = 12, weightsname: str | None = None,
                       e: int | str = 0, n_m: int = 6, type: str = "smoothness", Mbarvec=(0.0, 0.5, 1.0, 1.5, 2.0),
                       biasDirection: str | None = None):
    """Rambachan–Roth sensitivity of the CS event study (universal base period, as HonestDiD requires).

    ``type="smoothness"``: M from 0 to one standard error of the target (``n_m`` values);
    ``type="relative_magnitude"``: the ``Mbarvec`` grid (C-LF intervals); ``biasDirection`` adds a known sign of
    the post-treatment trend difference (relative magnitudes only). Pre-periods are limited to
    ``min_e..-2`` and post to ``0..max_e`` so the covariance stays well conditioned.
    """
    from .did import honest_did

    xf = "~ " + " + ".join(covariates) if covariates else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = att_gt(df, yname=yname, tname="period", idname="unit", gname="first_treat", xformla=xf,
                   control_group=control_group, est_method=est_method, base_period="universal", bstrap=False,
                   cband=False, weightsname=weightsname)
        dyn = r.aggte("dynamic", min_e=min_e, max_e=max_e, na_rm=True)
    if type == "relative_magnitude":
        return honest_did(dyn, e=e, type="relative_magnitude", Mbarvec=list(Mbarvec), biasDirection=biasDirection)
    se = float(dyn.se_egt[list(dyn.egt).index(0)]) if 0 in set(dyn.egt) else float(np.nanmean(dyn.se_egt))
    return honest_did(dyn, e=e, Mvec=np.linspace(0, se, n_m))


def honest_verdict(h) -> str:
    """Words for a HonestDiD result: how large a violation of parallel trends would overturn the conclusion."""
    lo, hi = h.original
    sig = lo > 0 or hi < 0
    bd = h.breakdown
    rm = h.params.get("type") == "relative_magnitude"
    top = h.table.M.max()
    what = (f"post-treatment violations of parallel trends up to {top:.3g} times the largest pre-treatment one" if rm
            else f"curvature in the trend difference (M up to {top:.3g})")
    if not sig:
        t = h.table
        excl = t[(t.lb > 0) | (t.ub < 0)]
        if len(excl):  # the restriction moves the interval itself (smoothness extrapolates the pre-period trend)
            side = "above" if (excl.lb > 0).all() else "below" if (excl.ub < 0).all() else "away from"
            return (f"The original interval for the {h.target} includes zero, but the robust intervals lie {side} zero "
                    f"for {'Mbar' if rm else 'M'} up to {excl.M.max():.3g}: they carry the trend difference seen before "
                    "opening forward, which moves the interval. That conclusion rests on the pre-opening trend "
                    "difference being real; read it together with the pre-trend test.")
        return (f"The original interval for the {h.target} already includes zero, so allowing {what} only widens an "
                "inconclusive result.")
    if bd is None:
        return f"The {h.target} stays distinguishable from zero even allowing {what}: the conclusion is robust to that much."
    if rm:
        return (f"The {h.target} is no longer distinguishable from zero once post-treatment violations of parallel trends "
                f"may be {bd:.3g} times the largest pre-treatment violation (breakdown value of Mbar).")
    return (f"The {h.target} is no longer distinguishable from zero once the slope of the trend difference may change "
            f"by {bd:.3g} per period (breakdown value).")


MONTE_CARLO = Path(__file__).parent / "reference_data" / "truth_recovery" / "default.json"


def monte_carlo_note(path: str | Path = MONTE_CARLO) -> str:
    """What the Monte Carlo over many simulated worlds says about misses (``benchmarks/truth_recovery.py``)."""
    p = Path(path)
    if not p.exists():
        return "No Monte Carlo of truth recovery is recorded for this version."
    mc = json.loads(p.read_text())
    about = mc.pop("_about", {})
    parts = []
    for y, ests in mc.items():
        r = ests.get("callaway_santanna")
        if r:
            parts.append(f"{OUTCOME_LABELS.get(y, y)}: coverage {r['coverage']:.0%}, mean bias {r['mean_bias_se']:+.2f} SE")
    n = next(iter(mc.values()))["callaway_santanna"]["n"] if mc else 0
    return (f"Over {n:.0f} simulated {about.get('size', 'default')}-size worlds (benchmarks/truth_recovery.py, seeds "
            f"{about.get('seeds', '?')}), the headline 95% Callaway–Sant'Anna interval covered the truth of its estimand "
            "as follows — " + "; ".join(parts) + ". A miss in one world is to be read against these rates: with "
            "coverage near 95% and small mean bias it is chance, not a flaw of the estimator.")


def propensity_overlap(df: pd.DataFrame, covariates: list[str], *, gname: str = "first_treat", idname: str = "unit",
                       tname: str = "period", trim: float = 0.995) -> pd.DataFrame:
    """Propensity-score overlap per cohort, as the doubly robust / IPW 2x2 comparisons see it.

    For each cohort ``g`` a logit of membership in ``g`` against its comparison units (never treated and not yet
    treated at ``g``) on the unit-level ``covariates``: treated and comparison units, whether the design is
    singular (then ``att_gt`` sets the cohort's cells to NA), the largest score and the comparison units with a score
    above ``trim`` (where R ``did`` trims and the weights explode). One row per cohort.
    """
    import statsmodels.api as sm

    units = df.sort_values(tname).drop_duplicates(idname)
    X = sm.add_constant(units[covariates].to_numpy(float), has_constant="add")
    g = units[gname].to_numpy(float)
    rows = []
    for c in sorted(v for v in np.unique(g) if v > 0):
        m = (g == c) | (g == 0) | (g > c)
        d = (g[m] == c).astype(float)
        Xm = X[m]
        row = {"cohort": c, "treated": int(d.sum()), "comparison": int((d == 0).sum())}
        singular = np.linalg.matrix_rank(Xm[d == 1]) < 1 or np.linalg.matrix_rank(Xm) < Xm.shape[1] or d.sum() < Xm.shape[1] + 1
        ps = None
        if not singular:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    fitres = sm.Logit(d, Xm).fit(disp=0, maxiter=100)
                    ps = fitres.predict(Xm)
                    singular = not np.all(np.isfinite(fitres.params)) or not fitres.mle_retvals.get("converged", True)
                except Exception:  # perfect separation or singular Hessian
                    singular = True
        row["singular"] = bool(singular)
        row["max_score"] = float(ps.max()) if ps is not None else np.nan
        row["comparison_above_trim"] = int((ps[d == 0] > trim).sum()) if ps is not None else 0
        row["treated_above_trim"] = int((ps[d == 1] > trim).sum()) if ps is not None else 0
        rows.append(row)
    return pd.DataFrame(rows)


def choose_specification(overlap: pd.DataFrame, covariates: list[str], max_bad_share: float = 0.1) -> tuple[list[str], str]:
    """The headline covariates by overlap diagnostics, never by the size of the estimate.

    The covariate specification is kept when the cohorts with a singular propensity model or treated units above the
    trimming threshold hold at most ``max_bad_share`` of the treated units; otherwise the headline is unconditional
    (with the covariate specification reported beside it). Returns the covariates and the reason in words.
    """
    if not covariates or overlap.empty:
        return list(covariates), "No covariates were requested."
    bad = overlap.singular | (overlap.treated_above_trim > 0)
    share = float(overlap.treated[bad].sum() / max(overlap.treated.sum(), 1))
    n_bad, n = int(bad.sum()), len(overlap)
    if share <= max_bad_share:
        return list(covariates), (f"Propensity overlap is adequate: {n_bad} of {n} cohorts ({share:.0%} of treated units) "
                                  "have a singular propensity model or treated units above the trimming threshold, so the "
                                  "headline conditions on the covariates.")
    return [], (f"Propensity overlap fails for {n_bad} of {n} cohorts, holding {share:.0%} of the treated units (singular "
                "propensity models or scores near 1): with covariates their cells become NA or rest on a few comparison "
                "units, so the headline is the unconditional specification and the covariate one is reported beside it.")


def employer_density_map(emp: pd.DataFrame, site: pd.Series, radius_km: float, ax=None, k: int = MIN_CELL):
    """Where employers are around a site, without showing any one of them: employer counts on a grid of squares
    (half the radius wide, three radii around the site); squares with fewer than ``k`` employers are left blank,
    and no marker is sized by an employer's workforce."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 5))
    kx = 111.32 * np.cos(np.radians(site.lat))
    x = (emp.lon.to_numpy() - site.lon) * kx
    y = (emp.lat.to_numpy() - site.lat) * 110.57
    span, step = 3 * radius_km, radius_km / 2
    edges = np.arange(-span, span + step, step)
    H, _, _ = np.histogram2d(x, y, bins=[edges, edges])
    shown = np.ma.masked_where(H < k, H)
    mesh = ax.pcolormesh(edges, edges, shown.T, cmap="Blues", vmin=0)
    t = np.linspace(0, 2 * np.pi, 200)
    ax.plot(radius_km * np.cos(t), radius_km * np.sin(t), color="#b7410e", lw=1, label=f"{radius_km:g} km")
    ax.scatter([0], [0], marker="^", s=120, color="#b7410e", label=str(site.site_id), zorder=3)
    ax.set_aspect("equal")
    ax.set_xlabel("km east of the site")
    ax.set_ylabel("km north of the site")
    ax.set_title(f"Employers around {site.site_id} (squares with fewer than {k} employers left blank)", fontsize=9)
    ax.legend(frameon=False, fontsize=8, loc="upper right")
    plt.colorbar(mesh, ax=ax, label="employers per square", shrink=0.8)
    return ax
