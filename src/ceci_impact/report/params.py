"""Notebook parameters: one schema per notebook, validated in the cell after ``parameters``.

``validate(notebook, namespace)`` checks every name of the schema (type, allowed values, range),
rejects unknown names that look like parameters, and returns a frozen ``Params`` object. Errors
are one line naming the parameter, the value found and what is allowed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .._options import CeciError
from ..data.outcomes import OUTCOMES
from ..data.outcomes import family as outcome_family
from ..did.registry import selectable


@dataclass(frozen=True)
class Spec:
    """One parameter: type, allowed values or numeric range, and a description.

    Parameters
    ----------
    type : type or tuple of type
        Allowed Python type(s) of the value.
    default : object
        Default value.
    doc : str
        Description of the parameter.
    choices : tuple, optional
        Allowed values (None: any value of the type).
    lo : float, optional
        Smallest allowed value of a number.
    hi : float, optional
        Largest allowed value of a number.
    each : tuple or callable, optional
        Allowed values for the items of a list parameter (a callable returning them is read at each check, e.g. the
        estimator registry's :func:`ceci_impact.did.registry.selectable`).
    pattern : str, optional
        Regular expression a str value (or every item of a list) must match in full.
    expected : str
        What the pattern means, for the error message.
    """

    type: type | tuple[type, ...]
    default: Any
    doc: str
    choices: tuple | None = None
    lo: float | None = None
    hi: float | None = None
    each: tuple | Callable[[], tuple] | None = None  # allowed values for the items of a list parameter
    pattern: str | None = None  # a regular expression a str value (or every item of a list) must match in full
    expected: str = ""  # what the pattern means, for the message


COMMON = {
    "processed": Spec(str, "../data/processed", "folder of built panels (relative to notebooks/)"),
    "results_path": Spec(str, "", "where to write the machine-readable results JSON (set by the renderer)"),
    "seed": Spec(int, 2026, "seed of bootstrap draws", lo=0),
    "biters": Spec(int, 999, "bootstrap draws for uniform bands", lo=99, hi=100_000),
    "alpha": Spec(float, 0.05, "significance level", lo=0.001, hi=0.5),
}
IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]{0,63}"  # a plain column name: never an expression
POLE = r"(|[^\W_][\w .,'()&\u2013\u2014-]{0,99})"  # a pole name as municipios.csv may hold it, or empty
POLE_TEXT = "a pole name of letters, digits, spaces and . , ' ( ) & -, or empty"
DID = {
    "control_group": Spec(str, "notyettreated", "comparison units", choices=("nevertreated", "notyettreated")),
    "est_method": Spec(str, "reg", "2x2 estimator (reg: small cohorts defeat propensity-score models)",
                       choices=("dr", "ipw", "reg")),
    "anticipation": Spec(int, 0, "months of anticipation before opening", lo=0, hi=12),
    "covariates": Spec(list, ["x_industrial"], "covariates for conditional parallel trends (column names)",
                       pattern=IDENTIFIER, expected="a column name (letters, digits and '_', not starting with a digit)"),
    "min_e": Spec(int, -12, "first event time shown", lo=-60, hi=0),
    "max_e": Spec(int, 12, "last event time shown", lo=0, hi=60),
    "estimators": Spec(list, list(selectable()), "estimators to compare (names in the estimator registry)",
                       each=selectable),
}

SCHEMAS: dict[str, dict[str, Spec]] = {
    "00_summary": {**COMMON, **{k: DID[k] for k in ("control_group", "est_method", "covariates", "min_e", "max_e")},
                   "ring_km": Spec(float, 0.0, "treated radius (km) the employer panels must have; 0 = as built", lo=0, hi=20)},
    "15_centres_compared": {
        **{k: COMMON[k] for k in ("processed", "results_path", "seed", "alpha")},
        **{k: DID[k] for k in ("control_group", "est_method", "covariates")},
        "outcome": Spec(str, "eg_days_per_worker", "employer outcome of the all-centre ranking",
                        choices=tuple(k for k, o in OUTCOMES.items() if o.panel == "employer")),
        "fdr": Spec(float, 0.10, "false discovery rate across centres", lo=0.001, hi=0.5),
        "tiers": Spec(int, 4, "tiers of the where-to-open ranking", lo=1, hi=20),
        "top": Spec(int, 15, "areas listed in the where-to-open table", lo=1, hi=500),
    },
    "01_data_overview": {k: COMMON[k] for k in ("processed", "results_path")},
    "10_female_employment": {
        **COMMON, **DID,
        "outcome": Spec(str, "log_women_jobs", "municipality outcome",
                        choices=outcome_family("women")),
        "scheme": Spec(str, "both", "CECI scheme defining exposure", choices=("both", "IMSS", "Empresa")),
        "pole": Spec(str, "", "restrict to one PODECOBI pole (empty = all)", pattern=POLE, expected=POLE_TEXT),
    },
    "20_absenteeism": {
        **COMMON, **DID,
        "outcome": Spec(str, "eg_days_per_worker", "employer outcome",
                        choices=outcome_family("absenteeism")),
        "ring_km": Spec(float, 0.0, "treated radius (km) the employer panels must have; 0 = as built", lo=0, hi=20),
    },
    "30_retention": {
        **COMMON, **DID,
        "outcome": Spec(str, "separation_rate", "employer outcome", choices=outcome_family("retention")),
        "near_km": Spec(float, 3.0, "'near' radius for survival curves (km)", lo=0.5, hi=20),
        "far_km": Spec(float, 10.0, "'far' beyond this distance (km)", lo=1, hi=200),
    },
    "70_outcome_report": {
        **COMMON, **DID,
        "outcome": Spec(str, "avg_wage_women", "any registered outcome (ceci_impact.data.outcomes.OUTCOMES)",
                        choices=tuple(OUTCOMES)),
        "ring_km": Spec(float, 0.0, "treated radius (km) the employer panels must have; 0 = as built", lo=0, hi=20),
    },
    "40_site_profile": {
        **COMMON,
        "site_id": Spec(str, "", "CECI site id (empty = first opened site)", pattern=r"(|[A-Za-z0-9][A-Za-z0-9_.-]{0,119})",
                        expected="a site id of letters, digits, '_', '.' or '-', or empty"),
        "radius_km": Spec(float, 5.0, "surroundings radius (km)", lo=0.5, hi=50),
        "window": Spec(int, 12, "months before and after opening shown", lo=3, hi=36),
    },
    "45_pole_profile": {
        **{k: v for k, v in COMMON.items() if k != "biters"},
        "pole": Spec(str, "", "PODECOBI pole (empty = the first pole with an opened site)", pattern=POLE,
                     expected=POLE_TEXT),
        "pre": Spec(int, 24, "months before the pole's first opening used for employer outcomes", lo=6, hi=120),
        "reps": Spec(int, 50, "placebo replications of the standard errors", lo=10, hi=2000),
    },
    "50_rollout_design": {
        **{k: v for k, v in COMMON.items() if k not in ("biters",)},
        "waves": Spec(str, "200,250,200,200,150", "announced sites per year, in order (comma-separated)",
                      pattern=r"[1-9][0-9]{0,5}(,[1-9][0-9]{0,5}){0,49}",
                      expected="positive whole numbers of sites separated by commas, such as 200,250,200"),
        "months": Spec(int, 60, "months of the evaluation horizon", lo=12, hi=240),
        "pre": Spec(int, 12, "pre-opening months of the MDE calculation", lo=1, hi=120),
        "post": Spec(int, 12, "post-opening months of the MDE calculation", lo=1, hi=120),
        "reps": Spec(int, 40, "simulated roll-outs per configuration", lo=5, hi=2000),
        "radius_km": Spec(float, 5.0, "radius of the needs assessment (km)", lo=0.5, hi=50),
        "power": Spec(float, 0.8, "target power", lo=0.5, hi=0.99),
    },
    "60_guarderias_backtest": {
        **{k: v for k, v in COMMON.items() if k != "processed"},
        "data_dir": Spec(str, "", "back-test inputs: empty = the compact copy shipped with ceci_impact; or a folder "
                                  "with the original files"),
        "control_group": DID["control_group"],
        "covariates": Spec(list, ["pob_2000_log", "urban", "manuf_share"], "Census-2000 covariates",
                           pattern=IDENTIFIER, expected="a column name (letters, digits and '_')"),
        "min_e": Spec(int, -8, "first event time (quarters)", lo=-40, hi=0),
        "max_e": Spec(int, 12, "last event time (quarters)", lo=0, hi=40),
    },
}


_IGNORED = {"exit", "quit"}


class Params(Mapping):
    """Read-only mapping of validated parameters; attribute access too (``P.outcome``).

    Parameters
    ----------
    values : dict
        The validated parameter values.
    """

    def __init__(self, values: dict[str, Any]):
        object.__setattr__(self, "_v", MappingProxyType(dict(values)))

    def __getitem__(self, key: str) -> Any:
        return self._v[key]

    def __iter__(self):
        return iter(self._v)

    def __len__(self) -> int:
        return len(self._v)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._v[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("parameters are read-only")

    def __repr__(self) -> str:
        return "Params(" + ", ".join(f"{k}={v!r}" for k, v in self._v.items()) + ")"


def _check(name: str, value: Any, spec: Spec) -> Any:
    types = spec.type if isinstance(spec.type, tuple) else (spec.type,)
    if float in types and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise CeciError(f"parameter {name}={value!r}: expected a finite number")
    if isinstance(value, bool) and bool not in types or not isinstance(value, types):
        tn = " or ".join(t.__name__ for t in types)
        raise CeciError(f"parameter {name}={value!r}: expected {tn}, found {type(value).__name__}")
    if spec.choices is not None and value not in spec.choices:
        raise CeciError(f"parameter {name}={value!r} is not allowed; expected one of "
                        + ", ".join(repr(c) for c in spec.choices))
    if spec.lo is not None and value < spec.lo or spec.hi is not None and value > spec.hi:
        raise CeciError(f"parameter {name}={value!r} is out of range; expected {spec.lo} <= {name} <= {spec.hi}")
    if spec.pattern is not None:
        import re

        for v in (value if isinstance(value, list) else [value]):
            if not isinstance(v, str) or not re.fullmatch(spec.pattern, v):
                raise CeciError(f"parameter {name}: found {v!r}, expected {spec.expected or spec.pattern}")
    if spec.each is not None:
        each = spec.each() if callable(spec.each) else spec.each
        for v in value:
            if v not in each:
                raise CeciError(f"parameter {name}: item {v!r} is not allowed; expected items among "
                                + ", ".join(repr(c) for c in each))
    return value


def validate(notebook: str, namespace: dict[str, Any]) -> Params:
    """Validate a notebook's parameters taken from ``namespace`` (e.g. ``globals()``).

    Names that the schema does not know but that look like parameters (lower-case names bound
    to plain literals in the namespace, not modules or functions) are rejected, which catches a
    misspelt Papermill ``-p`` override.

    Parameters
    ----------
    notebook : str
        The notebook's stem (its schema's name).
    namespace : dict
        The notebook's variables (``globals()``) holding the parameters.
    """
    if notebook not in SCHEMAS:
        raise CeciError(f"unknown notebook {notebook!r}; expected one of {', '.join(SCHEMAS)}")
    schema = SCHEMAS[notebook]
    out = {}
    for name, spec in schema.items():
        out[name] = _check(name, namespace.get(name, spec.default), spec)
    for name, value in namespace.items():
        if name in schema or name.startswith("_") or not name[:1].islower():
            continue
        if isinstance(value, (str, int, float, bool, list, dict, tuple)) and name not in _IGNORED:
            raise CeciError(f"unknown parameter {name!r} for {notebook}; expected one of {', '.join(schema)}")
    return Params(out)


def defaults(notebook: str) -> dict[str, Any]:
    """Default parameter values of a notebook.

    Parameters
    ----------
    notebook : str
        Name of the notebook (a key of :data:`SCHEMAS`).
    """
    return {k: s.default for k, s in SCHEMAS[notebook].items()}


def check_overrides(notebook: str, overrides: dict[str, Any]) -> None:
    """Validate parameters before a run (renderer side): unknown names and bad values.

    Parameters
    ----------
    notebook : str
        Name of the notebook (a key of :data:`SCHEMAS`; others are not checked).
    overrides : dict
        The parameter values requested for the run.
    """
    schema = SCHEMAS.get(notebook)
    if schema is None:
        return
    for k, v in overrides.items():
        if k not in schema:
            raise CeciError(f"unknown parameter {k!r} for {notebook}; expected one of {', '.join(schema)}")
        _check(k, v, schema[k])
