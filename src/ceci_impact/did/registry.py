"""The estimator registry: the one list of estimators that :func:`~ceci_impact.did.compare`, the studies, the
specification records and the notebook parameters read.

A :class:`Specification` holds what an event study is asked to do (outcome, covariates, control group,
anticipation, 2x2 estimator, weights, clustering, event window, significance level). Each registered
:class:`Estimator` says what it estimates, how it is fitted under a specification, how it is inferred, which parts
of a specification apply to it and which of those it honours, the name a user selects it by, its role in the
reports and, when it has one, how :func:`~ceci_impact.did.compare` runs its event study. A new estimator is one
:func:`register` call (or one entry of :data:`ESTIMATORS` below); everything that lists estimators reads the
registry when it runs:

- :func:`~ceci_impact.did.compare` and :func:`~ceci_impact.did.triple_differences`: :func:`comparable`;
- the outcome reports' comparison (:func:`ceci_impact.study.studies.event_study`): :func:`report_rows`;
- the notebooks' ``estimators`` parameter (:mod:`ceci_impact.report.params`): :func:`selectable`;
- the specification records of tables and sidecars (:func:`ceci_impact.study.specification.spec_record`):
  :attr:`Estimator.honours`, :attr:`Estimator.applies` and :attr:`Estimator.inference`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._options import CeciError, check_option
from .core.notes import recording
from .cs import att_gt
from .dose import cont_did
from .inference import REPORT_RULE, RULES
from .regression import did_imputation, poisson_event_study, sun_abraham, twfe
from .spatial import spillover_did

PARTS = ("covariates", "control_group", "anticipation", "est_method", "weights", "clustering", "window")
# what an estimator does instead of a part it cannot honour (shown in tables and sidecars)
INSTEAD = {"covariates": "unconditional", "weights": "unweighted", "control_group": "never-treated comparison",
           "est_method": "regression", "window": "all event times", "clustering": "clustered by unit",
           "anticipation": "no anticipation",
           "inference": "own cluster-robust SE and normal intervals, not the report's small-cluster rule"}
Role = Literal["headline", "naive", "robust", "extension"]
ROLES = {"headline": "the reports' headline (always run by the outcome reports)",
         "naive": "the naive benchmark the reports compare the headline with",
         "robust": "an alternative heterogeneity-robust estimator of the same effect",
         "extension": "another estimand (spill-overs, dose, proportional effects): run by its own study"}
REPORTED = ("headline", "naive", "robust")  # the roles the outcome reports' comparison runs
SMALL_CLUSTER = REPORT_RULE  # the reports' small-cluster rule (the inference registry, did/inference/registry.py)
INFERENCE = {name: r.label for name, r in RULES.items()}  # what each rule means, in the specification records


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
        from .core.design import covariate_formula

        return covariate_formula(self.covariates)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["covariates"] = list(self.covariates)
        return d


@dataclass(frozen=True)
class Estimator:
    """A registered estimator: what it estimates, how it is fitted and inferred, what it honours, how it is chosen.

    Parameters
    ----------
    name : str
        Registry key: the row of comparison tables, specification records and sidecars.
    label : str
        Label shown in tables and reports.
    quantity : str
        The overall quantity it reports (its estimand).
    honours : frozenset of str
        The specification parts (:data:`PARTS`) it honours.
    fit : callable
        Function ``fit(df, spec, *, yname, inference, seed, biters)`` returning a result.
    inference : str
        ``'report'`` when it follows the report's inference rule, else what it uses instead.
    family : str
        The package of :mod:`ceci_impact.did` that implements it (``'cs'``, ``'regression'``, ``'spatial'``...).
    select : str
        The name that selects it (a notebook's ``estimators``, ``event_study(estimators=...)``, :func:`compare`);
        several rows may share one (``'twfe'`` selects the static and the event-study TWFE). Empty: ``name``.
    role : {'headline', 'naive', 'robust', 'extension'}
        Its place in the reports (:data:`ROLES`); the outcome reports' comparison runs the :data:`REPORTED` roles.
    applies : frozenset of str
        The specification parts that mean something for it (default all :data:`PARTS`); the others are neither
        honoured nor reported as not honoured (a regression has no 2x2 estimator to choose).
    event_study : bool
        It reports event-time estimates (drawn in the reports' overlay of event studies).
    compare_fit : callable, optional
        How :func:`~ceci_impact.did.compare` runs its event study: ``compare_fit(data, *, yname, tname, idname,
        gname, xformla, control_group, min_e, max_e, alp, seed)`` (None: not offered there).
    compare_label : str
        Its label in :func:`~ceci_impact.did.compare`'s tables (empty: ``label``).
    """

    name: str
    label: str
    quantity: str
    honours: frozenset[str]
    fit: Callable[..., Any] = field(repr=False)
    inference: str = "report"  # "report": follows the report's rule (SMALL_CLUSTER); otherwise what it uses instead
    family: str = ""
    select: str = ""
    role: Role = "robust"
    applies: frozenset[str] = frozenset(PARTS)
    event_study: bool = False
    compare_fit: Callable[..., Any] | None = field(default=None, repr=False)
    compare_label: str = ""

    def __post_init__(self):
        check_option("role", self.role, Role)
        if not self.honours <= self.applies <= set(PARTS):
            raise CeciError(f"estimator {self.name!r}: honours and applies must be parts of a specification "
                            f"({', '.join(PARTS)}), honours within applies")

    @property
    def selector(self) -> str:
        """The name that selects this estimator (``select``, else ``name``)."""
        return self.select or self.name


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


def _poisson(df, spec, *, yname, inference=True, seed=2026, biters=999):
    """PPML event study of a count outcome (never-treated comparison, unit-clustered sandwich SEs)."""
    return poisson_event_study(df, yname=yname, tname=spec.tname, idname=spec.idname, gname=spec.gname,
                               ref_e=-1 - spec.anticipation, min_e=spec.min_e, max_e=spec.max_e, alp=spec.alpha)


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


# how compare() runs each event study: R's defaults (unclustered), one specification for all
def _compare_cs(data, *, xformla, control_group, min_e, max_e, alp, seed, **kw):
    r = att_gt(data, xformla=xformla, control_group=control_group, alp=alp, seed=seed, **kw)
    return r.aggte("dynamic", min_e=-np.inf if min_e is None else min_e, max_e=np.inf if max_e is None else max_e,
                   na_rm=True)


def _compare_sun_abraham(data, *, xformla, control_group, min_e, max_e, alp, seed, **kw):
    return sun_abraham(data, alp=alp, **kw)


def _compare_imputation(data, *, xformla, control_group, min_e, max_e, alp, seed, **kw):
    return did_imputation(data, alp=alp, **kw)


def _compare_twfe(data, *, xformla, control_group, min_e, max_e, alp, seed, **kw):
    return twfe(data, type="event_study", min_e=min_e, max_e=max_e, alp=alp, **kw)


def _compare_poisson(data, *, xformla, control_group, min_e, max_e, alp, seed, **kw):
    return poisson_event_study(data, min_e=min_e, max_e=max_e, alp=alp, **kw)


_ALL = frozenset(PARTS)
_REGRESSION = _ALL - {"est_method"}  # no 2x2 estimator to choose
_EVERY_UNTREATED = _REGRESSION - {"control_group"}  # every untreated observation is a comparison (never and not yet)
_OWN_SE = "its own analytic cluster-robust SE with normal intervals (not the report's small-cluster rule)"
ESTIMATORS: dict[str, Estimator] = {e.name: e for e in [
    Estimator("callaway_santanna", "Callaway–Sant'Anna (simple)",
              "average of ATT(g,t) over post-opening cells, weighted by cohort size", _ALL, _cs_simple,
              family="cs", role="headline"),
    Estimator("callaway_santanna_dynamic", "Callaway–Sant'Anna (event-time average)",
              "average of the event-time effects 0..max_e", _ALL, _cs_dynamic, family="cs",
              select="callaway_santanna", role="headline", event_study=True, compare_fit=_compare_cs,
              compare_label="Callaway–Sant'Anna"),
    Estimator("twfe", "TWFE static (naive)", "coefficient of the post-opening indicator",
              frozenset({"covariates", "anticipation", "clustering", "window"}), _twfe("static"), _OWN_SE,
              family="regression", role="naive", applies=_EVERY_UNTREATED),
    Estimator("twfe_event_study", "TWFE event study (naive)", "average of the event-time coefficients 0..max_e",
              frozenset({"covariates", "anticipation", "clustering", "window"}), _twfe("event_study"), _OWN_SE,
              family="regression", select="twfe", role="naive", applies=_EVERY_UNTREATED, event_study=True,
              compare_fit=_compare_twfe, compare_label="TWFE (naive)"),
    Estimator("sun_abraham", "Sun–Abraham", "post-opening cohort × period effects weighted by observations",
              frozenset({"anticipation", "clustering"}), _sun_abraham, _OWN_SE, family="regression",
              role="robust", applies=_REGRESSION, event_study=True, compare_fit=_compare_sun_abraham),
    Estimator("imputation", "Imputation (BJS)", "average effect over treated observations",
              frozenset({"covariates", "anticipation", "clustering"}), _imputation,
              "its own analytic (BJS) cluster-robust SE with normal intervals (not the report's small-cluster rule)",
              family="regression", role="robust", applies=_EVERY_UNTREATED, event_study=True,
              compare_fit=_compare_imputation),
    Estimator("poisson", "Poisson event study (PPML), proportional effect",
              "average proportional effect exp(beta) - 1 over post-opening cohort × period cells, weighted by units",
              frozenset({"anticipation", "window"}), _poisson,
              "its own analytic unit-clustered sandwich SE with normal intervals (not the report's small-cluster rule)",
              family="regression", role="extension", applies=_REGRESSION, event_study=True,
              compare_fit=_compare_poisson, compare_label="Poisson (proportional)"),
    Estimator("spillover", "Spatial spillover DiD (Butts), direct effect",
              "average effect over observations within the inner ring, far units (beyond the last ring) as comparison",
              frozenset({"clustering"}), _spillover,  # the report rule (its registered fallback, named)
              family="spatial", role="extension", applies=_REGRESSION),
    Estimator("cont_did", "Continuous DiD (Callaway–Goodman-Bacon–Sant'Anna), ATT^o",
              "post-opening cells' DiD weighted by group share over its post periods (dose aggregation)",
              frozenset({"control_group", "clustering"}), _cont_did, _OWN_SE, family="dose", role="extension",
              applies=_REGRESSION),
]}


def register(estimator: Estimator, *, replace: bool = False) -> Estimator:
    """Add an estimator to :data:`ESTIMATORS`; from then on compare, the studies, the specification records and
    the notebook parameters offer it.

    Parameters
    ----------
    estimator : Estimator
        The entry to add.
    replace : bool
        Replace an entry of the same name (default: refuse it).
    """
    if estimator.name in ESTIMATORS and not replace:
        raise CeciError(f"estimator {estimator.name!r} is already registered; pass replace=True to replace it")
    ESTIMATORS[estimator.name] = estimator
    return estimator


def selectable(roles: Iterable[str] = REPORTED) -> tuple[str, ...]:
    """The names that select estimators of these roles, in registry order (a notebook's allowed ``estimators``).

    Parameters
    ----------
    roles : iterable of str
        The roles wanted (default: those the outcome reports' comparison runs, :data:`REPORTED`).
    """
    roles = set(roles)
    return tuple(dict.fromkeys(e.selector for e in ESTIMATORS.values() if e.role in roles))


def report_rows(estimators: Iterable[str]) -> list[str]:
    """The registry rows the outcome reports' comparison runs for a selection: every headline row, then the rows
    selected (by :attr:`Estimator.selector`), in registry order.

    Parameters
    ----------
    estimators : iterable of str
        Selected names, each one of :func:`selectable`.
    """
    allowed = selectable()
    chosen = set()
    for name in estimators:
        check_option("estimators item", name, Literal[allowed])
        chosen.add(name)
    return [k for k, e in ESTIMATORS.items() if e.role in REPORTED and (e.role == "headline" or e.selector in chosen)]


def comparable() -> dict[str, Estimator]:
    """The estimators :func:`~ceci_impact.did.compare` can run, by the name that selects them there."""
    return {e.selector: e for e in ESTIMATORS.values() if e.compare_fit is not None}


def compare_defaults() -> tuple[str, ...]:
    """What :func:`~ceci_impact.did.compare` runs when no estimator is named: every comparable estimator of the
    effect the reports compare (the :data:`REPORTED` roles), the headline first and the naive benchmark last."""
    order = ("headline", "robust", "naive")
    entries = comparable()
    return tuple(sorted((k for k, e in entries.items() if e.role in order), key=lambda k: order.index(entries[k].role)))
