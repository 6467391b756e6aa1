"""Shared fixtures (mpdta, the small simulated world) and the CI rule that a skipped test is a failure.

Everything the tests read lives in the repository: ``tests/reference/`` holds mpdta and every R / peer reference
value with its provenance (``tests/reference/PROVENANCE.md``), and the guarderías back-test inputs ship inside the
package (``ceci_impact/reference_data/guarderias``). Only the test that rebuilds those inputs from the original
public files needs them, through ``CECI_REAL_DATA`` (``.ci/run`` sets it when the project's shared data
folder lies beside the checkout).

On a fresh clone without the optional ``[spark]`` extra, Java or those original files, the tests that need them
skip with the reason (``pytest -ra`` lists it); under ``CI=true`` a skip fails the run, so CI runs every validation.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
REF = Path(__file__).parent / "reference"
UNDER_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def mpdta() -> pd.DataFrame:
    """mpdta, the R `did` example panel (tests/reference/mpdta.csv; never treated = 0)."""
    df = pd.read_csv(REF / "mpdta.csv")
    df["first_treat"] = df["first_treat"].fillna(0)
    return df


@pytest.fixture(scope="session")
def original_real_data() -> Path:
    """The original public files of the back-test (``CECI_REAL_DATA``); skipped when not given (failure in CI)."""
    p = os.environ.get("CECI_REAL_DATA", "")
    if not p or not Path(p).is_dir():
        pytest.skip("CECI_REAL_DATA does not name the folder of the original real files (imss_sp/, guarderias_imss_2009/)")
    return Path(p)


@pytest.fixture(scope="session")
def small_world(tmp_path_factory) -> Path:
    """Simulate the `small` world once per session and build its panels."""
    from ceci_impact.data import panels, synthetic

    root = tmp_path_factory.mktemp("world")
    raw, proc = root / "raw", root / "processed"
    synthetic.simulate(size="small", seed=11, out=raw, quiet=True)
    panels.build_all(raw=raw, out=proc, quiet=True)
    return root


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI a skipped test is a failure: every validation must run on a clean clone."""
    outcome = yield
    rep = outcome.get_result()
    if UNDER_CI and rep.skipped and not hasattr(rep, "wasxfail"):
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        rep.outcome = "failed"
        rep.longrepr = f"skipped under CI (a skipped validation test is a failure): {reason}"
