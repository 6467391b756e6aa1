"""Shared fixtures: the shared reference folder and the small simulated world."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REF = Path(__file__).parent / "reference"


@pytest.fixture(scope="session")
def mpdta() -> pd.DataFrame:
    """mpdta from ../shared/reference (the R `did` example panel); skipped when absent."""
    p = SHARED / "reference" / "mpdta.csv"
    if not p.exists():
        pytest.skip(f"{p} not present (the shared folder is not on a user's machine)")
    df = pd.read_csv(p)
    df["first_treat"] = df["first_treat"].fillna(0)
    return df


@pytest.fixture(scope="session")
def shared_data() -> Path:
    p = SHARED / "data" / "real"
    if not p.exists():
        pytest.skip(f"{p} not present (real reference data lives beside the checkout, not in it)")
    return p


@pytest.fixture(scope="session")
def small_world(tmp_path_factory) -> Path:
    """Simulate the `small` world once per session and build its panels."""
    from ceci_impact import panels, synthetic

    root = tmp_path_factory.mktemp("world")
    raw, proc = root / "raw", root / "processed"
    synthetic.simulate(size="small", seed=11, out=raw, quiet=True)
    panels.build_all(raw=raw, out=proc, quiet=True)
    return root
