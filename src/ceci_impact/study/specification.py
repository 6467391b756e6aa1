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

import pandas as pd

from ..did import att_gt, did_imputation, sun_abraham, twfe
from ..did.notes import recording

PARTS = ("covariates", "control_group", "anticipation", "est_method", "weights", "clustering", "window")


@dataclass(frozen=True)
class Specification:
    """What an event study is asked to estimate and how (R ``did`` names where they exist)."""

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
        return "~ " + " + ".join(self.covariates) if self.covariates else None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["covariates"] = list(self.covariates)
        return d


@dataclass(frozen=True)
class Estimator:
    """A registered estimator: label, the overall quantity it reports, the specification parts it honours."""

    name: str
    label: str
    quantity: str
    honours: frozenset[str]
    fit: Callable[..., Any] = field(repr=False)


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


SMALL_CLUSTER = "effective"  # the small-cluster correction of the reports' CS estimates (att_gt's small_cluster)
INFERENCE = {  # what each correction means, in the sidecars' specification records
    "none": "cluster-robust analytic SE, normal intervals (R did)",
    "welch": "cluster-robust analytic SE, G/(G-1) per side, Student-t with Welch-Satterthwaite df",
    "effective": "cluster-robust analytic SE, G/(G-1) per side, Student-t with G*-1 df (effective clusters of "
                 "Carter-Schnepel-Steigerwald, period shocks fully shared within a cluster)",
    "effective_fitted": "cluster-robust analytic SE, G/(G-1) per side, Student-t with G*-1 df (effective clusters "
                        "of Carter-Schnepel-Steigerwald, working model fitted to the outcomes)",
}


def _cs(df: pd.DataFrame, spec: Specification, *, yname: str, inference: bool, seed: int, biters: int,
        base_period: str = "varying"):
    """Callaway–Sant'Anna under ``spec``. With a cluster variable the pointwise standard errors are the analytic
    cluster-robust ones (square root of the summed squared cluster sums of the influence functions, with
    ``G/(G-1)`` factors on treated and other clusters), and intervals use Student-t quantiles with ``G* - 1``
    degrees of freedom, ``G*`` the effective number of clusters of Carter, Schnepel & Steigerwald (2017) from the
    design (``small_cluster="effective"``): with some 15 treated site clusters of very unequal weight the
    Welch–Satterthwaite degrees of freedom of the two parts (``"welch"``) left the small worlds' intervals too
    short (coverage 0.80–0.85 in one of three batches of 20 worlds; benchmarks/truth_recovery.py). The clustered
    multiplier bootstrap gives the simultaneous bands: with few clusters, a few of which dominate, its IQR-based
    standard error understates the spread (small world, seed 119, separation rate clustered by municipality:
    0.0030 against 0.0049 analytic)."""
    with recording():  # re-emitted, and recorded in the result's data_notes (shown in the report and its sidecar)
        return att_gt(df, yname=yname, tname=spec.tname, idname=spec.idname, gname=spec.gname, xformla=spec.xformla,
                      control_group=spec.control_group, est_method=spec.est_method, anticipation=spec.anticipation,
                      base_period=base_period, weightsname=spec.weightsname, clustervars=spec.clustervars,
                      bstrap=inference and not spec.clustervars, cband=inference, biters=biters, alp=spec.alpha,
                      seed=seed, small_cluster=SMALL_CLUSTER if spec.clustervars else "none")


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


_ALL = frozenset(PARTS)
ESTIMATORS: dict[str, Estimator] = {e.name: e for e in [
    Estimator("callaway_santanna", "Callaway–Sant'Anna (simple)",
              "average of ATT(g,t) over post-opening cells, weighted by cohort size", _ALL, _cs_simple),
    Estimator("callaway_santanna_dynamic", "Callaway–Sant'Anna (event-time average)",
              "average of the event-time effects 0..max_e", _ALL, _cs_dynamic),
    Estimator("twfe", "TWFE static (naive)", "coefficient of the post-opening indicator",
              frozenset({"covariates", "anticipation", "clustering", "window"}), _twfe("static")),
    Estimator("twfe_event_study", "TWFE event study (naive)", "average of the event-time coefficients 0..max_e",
              frozenset({"covariates", "anticipation", "clustering", "window"}), _twfe("event_study")),
    Estimator("sun_abraham", "Sun–Abraham", "post-opening cohort × period effects weighted by observations",
              frozenset({"anticipation", "clustering"}), _sun_abraham),
    Estimator("imputation", "Imputation (BJS)", "average effect over treated observations",
              frozenset({"covariates", "anticipation", "clustering"}), _imputation),
]}
# what an estimator does instead of a part it cannot honour (shown in tables and sidecars)
INSTEAD = {"covariates": "unconditional", "weights": "unweighted", "control_group": "never-treated comparison",
           "est_method": "regression", "window": "all event times", "clustering": "clustered by unit",
           "anticipation": "no anticipation"}


def spec_record(name: str, spec: Specification) -> dict:
    """The specification an estimator ran under: the requested one, the parts it could not honour, and what it
    did instead."""
    e = ESTIMATORS[name]
    req = _requested(spec)
    if not name.startswith("callaway_santanna"):
        req.discard("est_method")  # regressions: no 2x2 estimator to choose
    if name in ("twfe", "twfe_event_study", "imputation"):
        req.discard("control_group")  # every untreated observation is a comparison (never and not yet treated)
    missing = sorted(req - e.honours)
    rec = {"estimator": name, **spec.to_dict(), "not_honoured": missing,
           "instead": {m: INSTEAD[m] for m in missing}}
    if name.startswith("callaway_santanna") and spec.clustervars:
        rec["inference"] = INFERENCE[SMALL_CLUSTER]
    return rec


def fit(name: str, df: pd.DataFrame, spec: Specification, *, yname: str | None = None, inference: bool = True,
        seed: int = 2026, biters: int = 999):
    """Run the registered estimator ``name`` on ``df`` under ``spec`` (``yname`` overrides the outcome)."""
    return ESTIMATORS[name].fit(df, spec, yname=yname or spec.yname, inference=inference, seed=seed, biters=biters)
