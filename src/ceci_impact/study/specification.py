"""The study side of the estimator registry: the specification record of a run and the reports' CS calls.

The registry itself (:class:`Specification`, :class:`Estimator`, :data:`ESTIMATORS`, what each estimator estimates,
how it is fitted and inferred and which parts of a specification it honours) lives in the did layer,
:mod:`ceci_impact.did.registry`, and is re-exported here. Each registered estimator says which parts it honours;
:func:`fit` runs it and returns the result with the specification it actually ran under (``spec_record``), naming
the parts it could not honour, so a comparison table and a JSON sidecar can say "unconditional" or "unweighted"
instead of silently comparing unlike with unlike.

A new estimator is one :class:`Estimator` entry in :data:`ceci_impact.did.registry.ESTIMATORS` (or one
:func:`ceci_impact.did.registry.register` call).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._options import CeciError
from ..did import att_gt
from ..did import registry as _registry
from ..did.core.notes import recording
from ..did.registry import ESTIMATORS, INFERENCE, INSTEAD, PARTS, Estimator, Specification, _cs  # noqa: F401  (re-exported)


def __getattr__(name: str):
    """``SMALL_CLUSTER``: the reports' small-cluster rule, read from the registry (one setting, never a copy)."""
    if name == "SMALL_CLUSTER":
        return _registry.SMALL_CLUSTER
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    e = _entry(name)
    req = _requested(spec) & e.applies  # e.g. a regression has no 2x2 estimator to choose
    missing = sorted(req - e.honours)
    rec = {"estimator": name, **spec.to_dict(), "not_honoured": missing,
           "instead": {m: INSTEAD[m] for m in missing}}
    if e.inference == "report":
        rule = _registry.SMALL_CLUSTER if spec.clustervars else "none"
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
    e = _entry(name)
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
                   biters=biters, alp=alp, seed=seed, small_cluster=_registry.SMALL_CLUSTER if clustervars else "none")
    r.params["warnings"] = sorted({str(w.message) for w in caught})
    return r


def _entry(name: str) -> Estimator:
    """The registry entry ``name``, or one line listing the registered names."""
    if name not in ESTIMATORS:
        raise CeciError(f"estimator {name!r} is not registered; expected one of {', '.join(map(repr, ESTIMATORS))}")
    return ESTIMATORS[name]
