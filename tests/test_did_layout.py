"""The layout of :mod:`ceci_impact.did`: one package per estimator family, the public API unchanged.

``PUBLIC`` is ``ceci_impact.did.__all__`` as it was before the families got their packages (issue 29), each name
with the package that now holds it: every name must still import from ``ceci_impact.did`` and be the very object
its family package exports. The flat modules of the old layout must be gone (no shims at the old paths).
"""

from __future__ import annotations

import importlib
import importlib.util

import pytest

import ceci_impact.did as did

from .conftest import ROOT

# ceci_impact.did.__all__ before the reorganisation -> the package that holds the name now
PUBLIC = {
    "att_gt": "cs", "aggte": "cs", "AttGtResult": "cs",
    "twfe": "regression", "TwfeResult": "regression", "bacon_decomposition": "regression", "BaconResult": "regression",
    "sun_abraham": "regression", "did_imputation": "regression", "poisson_event_study": "regression",
    "honest_did": "honest", "honest_breakdown": "honest", "HonestResult": "honest",
    "synthdid": "synthetic", "SynthDidResult": "synthetic",
    "spillover_did": "spatial", "SpilloverResult": "spatial",
    "cont_did": "dose", "DoseResult": "dose",
    "AggteResult": "core", "EventStudyResult": "core", "EventStudyMoments": "core", "ResultProtocol": "core",
    "DidWarning": "core", "DataNotes": "core",
    "compare": "compare", "triple_differences": "compare", "Comparison": "compare",
}
FAMILIES = {"cs", "regression", "honest", "synthetic", "spatial", "dose"}
SHARED = {"core", "inference"}  # what every family uses: result protocol, notes, design, bootstrap; inference rules
TOP_MODULES = {"__init__.py", "compare.py", "registry.py"}  # the API, the cross-family comparison, the registry
# the flat modules of the old layout (issue 29): none may be importable at its old path
OLD_FLAT = ["aggte", "arp", "att_gt", "attgt_data", "attgt_result", "bacon", "bootstrap", "combination", "conformal",
            "deltarm", "deltasd", "design", "drdid", "fixed_effects", "grouped", "imputation", "influence", "mammen",
            "notes", "plotting", "poisson", "r_compat", "results", "sunab", "synthdid", "synthdid_panel",
            "synthdid_result", "synthdid_solver", "twfe"]


def test_every_public_name_of_before_is_still_exported():
    assert set(PUBLIC) <= set(did.__all__)
    assert len(did.__all__) == len(set(did.__all__))
    assert not [n for n in did.__all__ if not hasattr(did, n)]


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_name_is_its_family_packages_object(name):
    obj = getattr(importlib.import_module("ceci_impact.did"), name)
    exec(f"from ceci_impact.did import {name} as imported", ns := {})  # the form users write
    assert ns["imported"] is obj
    pkg = importlib.import_module(f"ceci_impact.did.{PUBLIC[name]}")
    assert getattr(pkg, name) is obj
    home = importlib.import_module(obj.__module__)  # defined where the layout says, not in a shim
    assert getattr(home, name) is obj
    assert obj.__module__.startswith(f"ceci_impact.did.{PUBLIC[name]}")


def test_one_package_per_family_and_no_flat_modules():
    root = ROOT / "src" / "ceci_impact" / "did"
    flat = {p.name for p in root.glob("*.py")}
    assert flat == TOP_MODULES, f"modules outside a family package: {sorted(flat - TOP_MODULES)}"
    packages = {p.name for p in root.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == FAMILIES | SHARED
    stray = [p.name for p in root.iterdir() if p.is_dir() and p.name != "__pycache__" and p.name not in packages]
    assert not stray, f"folders without __init__.py: {stray}"
    for fam in FAMILIES:
        pkg = importlib.import_module(f"ceci_impact.did.{fam}")
        assert pkg.__all__ and pkg.__doc__, fam
        assert all(n in did.__all__ for n in pkg.__all__), f"{fam} exports a name ceci_impact.did does not"


@pytest.mark.parametrize("old", OLD_FLAT)
def test_old_flat_module_paths_are_gone(old):
    if old in FAMILIES:  # the name now belongs to a family package
        assert importlib.util.find_spec(f"ceci_impact.did.{old}").submodule_search_locations
        return
    assert importlib.util.find_spec(f"ceci_impact.did.{old}") is None, f"shim left at ceci_impact.did.{old}"
