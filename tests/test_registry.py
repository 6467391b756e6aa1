"""The estimator registry (:mod:`ceci_impact.did.registry`) is the one list of estimators: ``compare``, the outcome
reports' comparison (``event_study``), the specification records and the notebooks' ``estimators`` parameter read
it, so an entry registered at run time is offered and run by all of them, and nothing else keeps a list."""

from __future__ import annotations

import dataclasses
import re

import nbformat
import pytest

from ceci_impact import CeciError
from ceci_impact.did import compare, registry, triple_differences
from ceci_impact.report import params
from ceci_impact.study import specification, studies

from .conftest import ROOT

KW = dict(yname="lemp", tname="year", idname="countyreal", gname="first_treat")
FAMILIES = {"cs", "regression", "honest", "synthetic", "spatial", "dose"}


def _toy(**over) -> registry.Estimator:
    """A new estimator: Sun–Abraham's fits under another name, honouring only clustering."""
    sa = registry.ESTIMATORS["sun_abraham"]
    kw = dict(name="toy_sa", label="Toy estimator (test)", select="", role="robust", honours=frozenset({"clustering"}),
              compare_label="Toy")
    return dataclasses.replace(sa, **{**kw, **over})


@pytest.fixture
def toy():
    """The toy estimator registered (in place, as ``register`` does for a user) for one test, then removed."""
    e = registry.register(_toy())
    yield e
    del registry.ESTIMATORS[e.name]


def test_registry_entries_are_complete_and_consistent():
    for name, e in registry.ESTIMATORS.items():
        assert e.name == name and e.label and e.quantity and callable(e.fit)
        assert e.family in FAMILIES, f"{name}: family {e.family!r}"
        assert e.honours <= e.applies <= set(registry.PARTS)
        assert e.role in registry.ROLES
        assert e.inference == "report" or "not the report's small-cluster rule" in e.inference
    assert registry.selectable() == ("callaway_santanna", "twfe", "sun_abraham", "imputation")
    assert registry.compare_defaults() == ("callaway_santanna", "sun_abraham", "imputation", "twfe")
    assert set(registry.comparable()) == {"callaway_santanna", "sun_abraham", "imputation", "twfe", "poisson"}
    assert registry.report_rows(["twfe"]) == ["callaway_santanna", "callaway_santanna_dynamic", "twfe",
                                              "twfe_event_study"]
    assert specification.ESTIMATORS is registry.ESTIMATORS and specification.Specification is registry.Specification


def test_estimator_entries_are_checked():
    with pytest.raises(CeciError, match="role='best' is not allowed"):
        _toy(role="best")
    with pytest.raises(CeciError, match="honours within applies"):
        _toy(applies=frozenset({"covariates"}))
    with pytest.raises(CeciError, match="already registered"):
        registry.register(registry.ESTIMATORS["twfe"])


def test_notebook_parameters_read_the_registry():
    """The schema's allowed ``estimators`` and default are the registry's; every notebook declares that default."""
    for nb, schema in params.SCHEMAS.items():
        if "estimators" not in schema:
            continue
        assert schema["estimators"].default == list(registry.selectable()), nb
        with pytest.raises(CeciError, match=r"item 'spillover' is not allowed; expected items among 'callaway_santanna'"):
            params.check_overrides(nb, {"estimators": ["spillover"]})
        path = ROOT / "notebooks" / f"{nb}.ipynb"
        cell = next(c for c in nbformat.read(path, as_version=4).cells if "parameters" in c.metadata.get("tags", []))
        line = next(ln for ln in cell.source.splitlines() if re.match(r"estimators\s*:", ln))
        declared = re.findall(r'"(\w+)"', line.split("=", 1)[1].split("#")[0])
        assert declared == list(registry.selectable()), f"{nb}: the notebook's estimators default is not the registry's"


def test_a_registered_estimator_is_offered_everywhere(toy, mpdta):
    """One ``register`` call: the notebooks accept it, compare runs it, the reports' comparison runs and records it."""
    assert "toy_sa" in registry.selectable() and "toy_sa" in registry.comparable()
    params.check_overrides("20_absenteeism", {"estimators": ["callaway_santanna", "toy_sa"]})
    c = compare(mpdta, estimators=["toy_sa", "twfe"], **KW)
    assert list(c.overall().estimator) == ["Toy", "TWFE (naive)"]
    sa = compare(mpdta, estimators=["sun_abraham"], **KW).overall()
    assert c.overall().overall_att.iat[0] == pytest.approx(sa.overall_att.iat[0], abs=1e-12)
    spec = registry.Specification(yname="lemp", covariates=("lpop",), clustervars="countyreal", tname="year",
                                  idname="countyreal")
    rec = specification.spec_record("toy_sa", spec)
    # asked: covariates, clustering, control group, window (no 2x2 estimator applies to a regression); honours clustering
    assert rec["not_honoured"] == ["control_group", "covariates", "inference", "window"]
    assert not rec["follows_report_inference"] and rec["inference_rule"] is None
    assert rec["instead"]["covariates"] == "unconditional"
    df = mpdta.rename(columns={"year": "period", "countyreal": "unit"})
    es = studies.event_study(df, "lemp", estimators=["toy_sa"], biters=99, est_method="reg")
    assert list(es.rows) == ["callaway_santanna", "callaway_santanna_dynamic", "toy_sa"]
    assert es.records["toy_sa"]["estimator"] == "toy_sa"
    assert "Toy estimator (test)" in set(es.comparison().estimator) and "Toy estimator (test)" in es.others


def test_unregistered_names_are_refused_in_one_line(mpdta):
    for call in (lambda: compare(mpdta, estimators=["toy_sa"], **KW),
                 lambda: triple_differences(mpdta, groupname="g", estimator="toy_sa", **KW),
                 lambda: studies.event_study(mpdta, "lemp", estimators=["toy_sa"]),
                 lambda: specification.spec_record("toy_sa", registry.Specification(yname="lemp"))):
        with pytest.raises(CeciError, match="toy_sa") as err:
            call()
        assert "\n" not in str(err.value)
