"""One specification for every estimator of a comparison, and the registry of the estimators that run it.

A :class:`Specification` holds what an event study is asked to do (outcome, covariates, control group,
anticipation, 2x2 estimator, weights, clustering, event window, significance level). Each registered estimator
says which parts it honours; :func:`fit` runs it and returns the result with the specification it actually ran
under (``spec_record``), naming the parts it could not honour, so a comparison table and a JSON sidecar can say
"unconditional" or "unweighted" instead of silently comparing unlike with unlike.

A new estimator is one :class:`Estimator` entry in :data:`ESTIMATORS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..did import att_gt, cont_did, did_imputation, spillover_did, sun_abraham, twfe
from ..did.inference import REPORT_RULE, RULES
from ..did.notes import recording

PARTS = ("covariates", "control_group", "anticipation", "est_method", "weights", "clustering", "window")


@dataclass(frozen=True)
class Specification:
    """What an event study is asked to estimate and how (R ``did`` names where they exist).

    Parameters
    ----------
    yname : str
        Outcome column.
    covariates : tuple of str
        Covariate columns (conditional parallel trends).
    control_group : {'notyettreated', 'nevertreated'}
        Comparison units, as R ``did``.
    anticipation : int
        Periods of anticipation before treatment.
    est_method : {'reg', 'ipw', 'dr'}
        The 2x2 estimator of Callaway–Sant'Anna.
    weightsname : str, optional
        Column of sampling weights.
    clustervars : str, optional
        Cluster column (None: clustered by unit only).
    min_e : int
        Smallest event time of the event study.
    max_e : int
        Largest event time of the event study.
    alpha : float
        Significance level of the intervals.
    tname : str
        Period column.
    idname : str
        Unit column.
    gname : str
        Cohort column (first treated period, 0 = never).
    """

    yname: str
    covariates: tuple[str, ...] = ()
    control_group: str = "notyettreated"
    anticipation: int = 0
    est_method: str = "reg"
    weightsname: str | None = None
    clustervars: str | None = None
    min_e: int = -12
    max_e: int = 12
    alpha: float = 0.05
    tname: str = "period"
    idname: str = "unit"
    gname: str = "first_treat"

    @property
    def xformla(self) -> str | None:
        from ..did.design import covariate_formula

        return covariate_formula(self.covariates)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["covariates"] = list(self.covariates)
        return d


@dataclass(frozen=True)
class Estimator:
    """A registered estimator: label, the overall quantity it reports, the specification parts it honours.

    Parameters
    ----------
    name : str
        Registry key.
    label : str
        Label shown in tables and reports.
    quantity : str
        The overall quantity it reports.
    honours : frozenset of str
        The specification parts (:data:`PARTS`) it honours.
    fit : callable
        Function ``fit(df, spec, *, yname, inference, seed, biters)`` returning a result.
    inference : str
        ``'report'`` when it follows the report's inference rule, else what it uses instead.
    """

    name: str
    label: str
    quantity: str
    honours: frozenset[str]
    fit: Callable[..., Any] = field(repr=False)
    inference: str = "report"  # "report": follows the report's rule (SMALL_CLUSTER); otherwise what it uses instead


def _requested(spec: Specification) -> set[str]:
    """The parts of a specification that ask for something an estimator may be unable to do."""
    req = {"control_group", "est_method", "window"}
    if spec.covariates:
        req.add("covariates")
    if spec.anticipation:
        req.add("anticipation")
    if spec.weightsname:
        req.add("weights")
    if spec.clustervars:
        req.add("clustering")
    return req


SMALL_CLUSTER = REPORT_RULE  # the reports' small-cluster rule (the inference registry, did/inference/registry.py)
INFERENCE = {name: r.label for name, r in RULES.items()}  # what each rule means, in the specification records


def _cs(df: pd.DataFrame, spec: Specification, *, yname: str, inference: bool, seed: int, biters: int,
        base_period: str = "varying"):
    """Callaway–Sant'Anna under ``spec``. With a cluster variable every interval follows the reports' rule
    ``SMALL_CLUSTER`` of the inference registry (:mod:`ceci_impact.did.inference`; chosen by the held-out run of
    benchmarks/cluster_inference.py, docs/inference.md), applied by ``aggte`` to the overall effect and to each
    event time; the pre-test is the clustered wild-bootstrap Wald test. Without one, R's unit-level multiplier
    bootstrap. ``inference=False`` (point estimates only, e.g. the truth of an estimand: the estimator applied to
    the simulated effects, which have no sampling error) skips the rule. Warnings are re-emitted and recorded, never
    silenced: in the result's ``data_notes`` (shown in the
    report and its sidecar) and as ``params["warnings"]``."""
    with recording() as caught:  # every warning recorded (data_notes, params["warnings"]) and re-emitted
        r = att_gt(df, yname=yname, tname=spec.tname, idname=spec.idname, gname=spec.gname, xformla=spec.xformla,
                   control_group=spec.control_group, est_method=spec.est_method, anticipation=spec.anticipation,
                   base_period=base_period, weightsname=spec.weightsname, clustervars=spec.clustervars,
                   bstrap=inference and not spec.clustervars, cband=inference, biters=biters, alp=spec.alpha,
                   seed=seed, small_cluster=SMALL_CLUSTER if (spec.clustervars and inference) else "none")
    r.params["warnings"] = sorted({str(w.message) for w in caught})
    return r


def _cs_simple(df, spec, *, yname, inference=True, seed=2026, biters=999):
    return _cs(df, spec, yname=yname, inference=inference, seed=seed, biters=biters).aggte("simple", na_rm=True)


def _cs_dynamic(df, spec, *, yname, inference=True, seed=2026, biters=999):
    r = _cs(df, spec, yname=yname, inference=inference, seed=seed, biters=biters)
    return r.aggte("dynamic", min_e=spec.min_e, max_e=spec.max_e, na_rm=True)


def _twfe(kind: str):
    def fit(df, spec, *, yname, inference=True, seed=2026, biters=999):
        kw = dict(min_e=spec.min_e, max_e=spec.max_e) if kind == "event_study" else {}
        return twfe(df, yname=yname, tname=spec.tname, idname=spec.idname, gname=spec.gname, type=kind,
                    xformla=spec.xformla, clustervars=spec.clustervars, anticipation=spec.anticipation,
                    alp=spec.alpha, **kw)
    return fit


def _sun_abraham(df, spec, *, yname, inference=True, seed=2026, biters=999):
    return sun_abraham(df, yname=yname, tname=spec.tname, idname=spec.idname, gname=spec.gname,
                       ref_e=-1 - spec.anticipation, clustervars=spec.clustervars, alp=spec.alpha)


def _imputation(df, spec, *, yname, inference=True, seed=2026, biters=999):
    return did_imputation(df, yname=yname, tname=spec.tname, idname=spec.idname, gname=spec.gname,
                          xformla=spec.xformla, anticipation=spec.anticipation, clustervars=spec.clustervars,
                          pretrends=False, alp=spec.alpha)


def _spillover(df, spec, *, yname, inference=True, seed=2026, biters=999):
    """Butts' direct effect (inner ring) with the spillover rings and the naive ring comparison in the result;
    distance: the employer panel's ``nearest_open_km`` (nearest opened CECI each month), rings (3, 10] km."""
    return spillover_did(df, yname=yname, tname=spec.tname, idname=spec.idname, distname="nearest_open_km",
                         clustervars=spec.clustervars, pretrends=False, alp=spec.alpha,
                         small_cluster=SMALL_CLUSTER if (spec.clustervars and inference) else "none",
                         seed=seed, biters=biters)


def _cont_did(df, spec, *, yname, inference=True, seed=2026, biters=999):
    """ATT^o of the dose-response DiD; the dose is the column ``ceci_dose`` (places per 100 eligible parents)."""
    return cont_did(df, yname=yname, tname=spec.tname, idname=spec.idname, gname=spec.gname, dname="ceci_dose",
                    control_group="notyettreated" if spec.control_group == "notyettreated" else "nevertreated",
                    clustervars=spec.clustervars, alp=spec.alpha, cband=inference, biters=biters, seed=seed)


_ALL = frozenset(PARTS)
# estimators that cannot follow the report's small-cluster rule: what they use instead (records, tables, notes)
_OWN = {"twfe": "its own analytic cluster-robust SE with normal intervals (not the report's small-cluster rule)",
        "sun_abraham": "its own analytic cluster-robust SE with normal intervals (not the report's small-cluster "
                       "rule)",
        "imputation": "its own analytic (BJS) cluster-robust SE with normal intervals (not the report's "
                      "small-cluster rule)",
        "cont_did": "its own analytic cluster-robust SE with normal intervals (not the report's small-cluster rule)"}
ESTIMATORS: dict[str, Estimator] = {e.name: e for e in [
    Estimator("callaway_santanna", "Callaway–Sant'Anna (simple)",
              "average of ATT(g,t) over post-opening cells, weighted by cohort size", _ALL, _cs_simple),
    Estimator("callaway_santanna_dynamic", "Callaway–Sant'Anna (event-time average)",
              "average of the event-time effects 0..max_e", _ALL, _cs_dynamic),
    Estimator("twfe", "TWFE static (naive)", "coefficient of the post-opening indicator",
              frozenset({"covariates", "anticipation", "clustering", "window"}), _twfe("static"), _OWN["twfe"]),
    Estimator("twfe_event_study", "TWFE event study (naive)", "average of the event-time coefficients 0..max_e",
              frozenset({"covariates", "anticipation", "clustering", "window"}), _twfe("event_study"), _OWN["twfe"]),
    Estimator("sun_abraham", "Sun–Abraham", "post-opening cohort × period effects weighted by observations",
              frozenset({"anticipation", "clustering"}), _sun_abraham, _OWN["sun_abraham"]),
    Estimator("imputation", "Imputation (BJS)", "average effect over treated observations",
              frozenset({"covariates", "anticipation", "clustering"}), _imputation, _OWN["imputation"]),
    Estimator("spillover", "Spatial spillover DiD (Butts), direct effect",
              "average effect over observations within the inner ring, far units (beyond the last ring) as comparison",
              frozenset({"clustering"}), _spillover),  # the report rule (its registered fallback, named)
    Estimator("cont_did", "Continuous DiD (Callaway–Goodman-Bacon–Sant'Anna), ATT^o",
              "post-opening cells' DiD weighted by group share over its post periods (dose aggregation)",
              frozenset({"control_group", "clustering"}), _cont_did, _OWN["cont_did"]),
]}
# what an estimator does instead of a part it cannot honour (shown in tables and sidecars)
INSTEAD = {"covariates": "unconditional", "weights": "unweighted", "control_group": "never-treated comparison",
           "est_method": "regression", "window": "all event times", "clustering": "clustered by unit",
           "anticipation": "no anticipation",
           "inference": "own cluster-robust SE and normal intervals, not the report's small-cluster rule"}


def spec_record(name: str, spec: Specification) -> dict:
    """The specification an estimator ran under: the requested one, the parts it could not honour, and what it
    did instead.

    Parameters
    ----------
    name : str
        Registry key of the estimator.
    spec : Specification
        The specification requested.
    """
    e = ESTIMATORS[name]
    req = _requested(spec)
    if not name.startswith("callaway_santanna"):
        req.discard("est_method")  # regressions: no 2x2 estimator to choose
    if name in ("twfe", "twfe_event_study", "imputation"):
        req.discard("control_group")  # every untreated observation is a comparison (never and not yet treated)
    missing = sorted(req - e.honours)
    rec = {"estimator": name, **spec.to_dict(), "not_honoured": missing,
           "instead": {m: INSTEAD[m] for m in missing}}
    if e.inference == "report":
        rule = SMALL_CLUSTER if spec.clustervars else "none"
        rec["inference"] = INFERENCE[rule]
        rec["inference_rule"] = rule
        rec["follows_report_inference"] = True
    else:
        rec["inference"] = e.inference
        rec["inference_rule"] = None
        rec["follows_report_inference"] = not spec.clustervars  # unclustered pages use every estimator's own SEs
        if spec.clustervars:  # shown in the comparison table's specification column, with the other parts
            rec["not_honoured"] = sorted([*rec["not_honoured"], "inference"])
            rec["instead"]["inference"] = INSTEAD["inference"]
    return rec


def fit(name: str, df: pd.DataFrame, spec: Specification, *, yname: str | None = None, inference: bool = True,
        seed: int = 2026, biters: int = 999):
    """Run the registered estimator ``name`` on ``df`` under ``spec`` (``yname`` overrides the outcome).

    Parameters
    ----------
    name : str
        Registry key of the estimator (:data:`ESTIMATORS`).
    df : pandas.DataFrame
        The panel.
    spec : Specification
        The specification to run under.
    yname : str, optional
        Outcome column overriding ``spec.yname``.
    inference : bool
        Compute standard errors and intervals (False: point estimates only).
    seed : int
        Seed of the bootstrap draws.
    biters : int
        Number of bootstrap draws.
    """
    e = ESTIMATORS[name]
    out = e.fit(df, spec, yname=yname or spec.yname, inference=inference, seed=seed, biters=biters)
    if e.inference != "report" and spec.clustervars and isinstance(getattr(out, "params", None), dict):
        out.params["inference_note"] = e.inference  # said on the result (to_dict, sidecars), not only the report
    return out


def cs_headline(data: pd.DataFrame, *, yname: str, tname: str, idname: str, gname: str, clustervars: str | None,
                xformla: str | None = None, control_group: str = "nevertreated", est_method: str = "reg",
                weightsname: str | None = None, seed: int = 2026, biters: int = 999, alp: float = 0.05):
    """The reports' Callaway–Sant'Anna headline: ``att_gt`` then ``aggte("simple")`` with the reports' inference
    rule (``SMALL_CLUSTER`` of the inference registry when ``clustervars`` is given).

    Parameters
    ----------
    data
        Long panel.
    yname, tname, idname, gname
        Outcome, period, unit and first-treatment columns (R ``did`` names).
    clustervars
        Cluster column (None: unit-level inference, R's multiplier bootstrap).
    xformla
        Covariate formula such as ``"~ x"``.
    control_group
        ``"nevertreated"`` or ``"notyettreated"``.
    est_method
        ``"reg"``, ``"dr"`` or ``"ipw"``.
    weightsname
        Sampling weights column.
    seed
        Seed of the bootstrap or permutations.
    biters
        Draws of the bootstrap or permutations.
    alp
        Significance level.

    Returns
    -------
    AggteResult
        With ``overall_att``, ``overall_ci`` and ``inference`` (the rule, its label and citation).
    """
    r = _cs_fit(data, yname, tname, idname, gname, clustervars, xformla, control_group, est_method, weightsname,
                seed, biters, alp, "varying")
    return r.aggte("simple", na_rm=True)


def cs_event_study(data: pd.DataFrame, *, yname: str, tname: str, idname: str, gname: str, clustervars: str | None,
                   xformla: str | None = None, control_group: str = "nevertreated", est_method: str = "reg",
                   weightsname: str | None = None, seed: int = 2026, biters: int = 999, alp: float = 0.05,
                   min_e: float = -np.inf, max_e: float = np.inf):
    """The reports' event study (universal base period, as HonestDiD needs): ``aggte("dynamic")`` with the
    reports' inference rule; its ``pretest()`` is the reports' pre-test (clustered wild-bootstrap Wald test with
    the pre-trend it detects with 80 % power when ``clustervars`` is given).

    Parameters
    ----------
    data
        Long panel.
    yname, tname, idname, gname
        Outcome, period, unit and first-treatment columns.
    clustervars
        Cluster column.
    xformla
        Covariate formula.
    control_group
        ``"nevertreated"`` or ``"notyettreated"``.
    est_method
        ``"reg"``, ``"dr"`` or ``"ipw"``.
    weightsname
        Sampling weights column.
    seed
        Seed of the bootstrap or permutations.
    biters
        Draws.
    alp
        Significance level.
    min_e, max_e
        Event-time window.

    Returns
    -------
    AggteResult
    """
    r = _cs_fit(data, yname, tname, idname, gname, clustervars, xformla, control_group, est_method, weightsname,
                seed, biters, alp, "universal")
    return r.aggte("dynamic", min_e=min_e, max_e=max_e, na_rm=True)


def _cs_fit(data, yname, tname, idname, gname, clustervars, xformla, control_group, est_method, weightsname, seed,
            biters, alp, base_period):
    """``att_gt`` as the reports run it (see :func:`cs_headline`); warnings recorded in ``params["warnings"]`` and
    the result's ``data_notes``, and re-emitted."""
    with recording() as caught:
        r = att_gt(data, yname=yname, tname=tname, idname=idname, gname=gname, xformla=xformla,
                   control_group=control_group, est_method=est_method, base_period=base_period,
                   weightsname=weightsname, clustervars=clustervars, bstrap=not clustervars, cband=False,
                   biters=biters, alp=alp, seed=seed, small_cluster=SMALL_CLUSTER if clustervars else "none")
    r.params["warnings"] = sorted({str(w.message) for w in caught})
    return r
