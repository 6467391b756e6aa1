"""Panels kept in memory by the process that read them (data/panel_cache.py): same values as a fresh read, a
caller's change never reaches the next caller, a rebuilt panel is read again, the budget is respected."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from ceci_impact.data import panel_cache, panels


@pytest.fixture
def processed(tmp_path, monkeypatch):
    monkeypatch.setattr(panel_cache, "_PANELS", {})
    pd.DataFrame({"employer_id": [1, 2, 3], "y": [0.5, 1.5, 2.5]}).to_parquet(tmp_path / "employer_month.parquet")
    return tmp_path


def test_second_read_comes_from_memory_and_changes_do_not_leak(processed):
    a = panels.load("employer_month", processed)
    assert len(panel_cache._PANELS) == 1
    a.loc[0, "y"] = 99.0
    a["extra"] = 1
    b = panels.load("employer_month", processed)
    pd.testing.assert_frame_equal(b, pd.read_parquet(processed / "employer_month.parquet"))
    b.iloc[1, 1] = -1.0
    assert panels.load("employer_month", processed).y.tolist() == [0.5, 1.5, 2.5]


def test_a_rebuilt_panel_is_read_again(processed):
    assert panels.load("employer_month", processed).y.sum() == 4.5
    tmp = processed / "new.parquet"
    pd.DataFrame({"employer_id": [1], "y": [7.0]}).to_parquet(tmp)
    os.replace(tmp, processed / "employer_month.parquet")  # as `ceci-impact build` replaces its output
    assert panels.load("employer_month", processed).y.tolist() == [7.0]
    assert len(panel_cache._PANELS) == 1  # the old version is dropped


def test_budget_limits_what_is_kept(processed, monkeypatch):
    monkeypatch.setenv("CECI_PANEL_CACHE_MB", "0")
    assert panels.load("employer_month", processed).y.sum() == 4.5
    assert panel_cache._PANELS == {}
    monkeypatch.setenv("CECI_PANEL_CACHE_MB", "not a number")
    assert panel_cache.cache_budget() == 512 * 2**20


def test_derived_frame_computed_once_per_file_version(processed, monkeypatch):
    """Issue 27 (speed): a frame derived from a panel (a site profile's first month of each employer) is computed
    once while the file is unchanged, again after a rebuild, and a caller's change never reaches the next caller."""
    monkeypatch.setattr(panel_cache, "_DERIVED", {})
    calls = []

    def top(df):
        calls.append(1)
        return df[df.y > 1.0]

    a = panel_cache.derived_frame(processed / "employer_month.parquet", "top", top)
    a["y"] = 0.0
    b = panel_cache.derived_frame(processed / "employer_month.parquet", "top", top)
    assert b.y.tolist() == [1.5, 2.5] and len(calls) == 1
    panel_cache.derived_frame(processed / "employer_month.parquet", "other", lambda d: d.head(1))
    assert len(calls) == 1 and len(panel_cache._DERIVED) == 2  # another name, another entry
    tmp = processed / "new.parquet"
    pd.DataFrame({"employer_id": [1], "y": [7.0]}).to_parquet(tmp)
    os.replace(tmp, processed / "employer_month.parquet")
    assert panel_cache.derived_frame(processed / "employer_month.parquet", "top", top).y.tolist() == [7.0]
    assert len(calls) == 2 and len(panel_cache._DERIVED) == 2  # the old version's entry is dropped


def test_site_employers_from_memory_equal_a_fresh_derivation(small_world, monkeypatch):
    from ceci_impact.study.sites import site_employers, site_profile

    monkeypatch.setattr(panel_cache, "_DERIVED", {})
    proc = small_world / "processed"
    site = site_profile(proc, "")
    em = pd.read_parquet(proc / "employer_month.parquet")
    want = site_employers(proc, site, em)
    for _ in range(2):
        got = site_employers(proc, site)
        pd.testing.assert_frame_equal(got, want)
        got["km"] = -1.0  # a caller's change stays its own
    assert len(panel_cache._DERIVED) == 1
