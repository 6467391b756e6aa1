"""The guarderías back-test on real data: the compact inputs shipped with the package, and their rebuild.

The panel tests run on every clone (``ceci_impact/reference_data/guarderias``); the tests that read the original
public files need ``CECI_REAL_DATA`` (set by ``.ci/run``), and check that the shipped copy is exactly their rebuild.
"""

from __future__ import annotations

import numpy as np
import pytest

from ceci_impact import CeciError
from ceci_impact.data import backtest_data, panels


def test_readers_on_real_files(original_real_data):
    shared_data = original_real_data
    g = backtest_data.read_guarderias_2009(shared_data / "guarderias_imss_2009" / "guarderias_imss_subrogadas_2009.csv")
    assert len(g) == 1432
    assert (g.cvegeo == "").sum() == 36
    assert g.opening_date.dt.year.min() == 1983 and g.opening_date.dt.year.max() == 2009
    emp = backtest_data.read_imss_mun_quarters(shared_data / "imss_sp" / "imss_employees_mun_quarter_2000_2011.csv")
    assert emp.quarter_index.nunique() == 48 and emp.year.min() == 2000 and emp.year.max() == 2011
    pat = backtest_data.read_imss_mun_quarters(shared_data / "imss_sp" / "imss_employers_mun_quarter_2000_2011.csv",
                                         "employers")
    assert (pat.pat_t >= 0).all()
    cen = backtest_data.read_census2000(shared_data / "imss_sp" / "caract_muni_census2000.csv")
    assert len(cen) == 2427 and cen.cvegeo.str.len().eq(5).all()


def test_shipped_inputs_are_the_rebuild_of_the_originals(original_real_data, tmp_path):
    import hashlib

    from ceci_impact.data import backtest_data

    backtest_data.write_compact(original_real_data, tmp_path / "bt")
    for f in backtest_data.FILES:
        assert hashlib.sha256((tmp_path / "bt" / f).read_bytes()).digest() == \
            hashlib.sha256((backtest_data.SHIPPED / f).read_bytes()).digest(), f
    a, _ = panels.build_guarderias_panel(original_real_data)
    b, _ = panels.build_guarderias_panel(None)
    import pandas as pd

    pd.testing.assert_frame_equal(a, b)


def test_shipped_inputs_are_small_and_documented():
    from ceci_impact.data import backtest_data

    total = sum((backtest_data.SHIPPED / f).stat().st_size for f in backtest_data.FILES)
    assert total < 3 * 2**20
    prov = (backtest_data.SHIPPED / "PROVENANCE.md").read_text()
    assert all(f in prov for f in backtest_data.FILES) and "isaacmeza/imss_sp" in prov


def test_backtest_panel_counts():
    df, c = panels.build_guarderias_panel(None)
    assert c["quarters"] == 48 and df.period.nunique() == 48
    assert c["guarderias_listed"] == 1432
    assert c["treated_municipalities"] == 90 and c["never_treated_municipalities"] == 1136
    assert c["cohorts"] == 18 and c["excluded_unit_before_window"] == 184
    units = df.drop_duplicates("cvegeo")
    assert units.unit.nunique() == c["treated_municipalities"] + c["never_treated_municipalities"]
    assert (df.groupby("cvegeo").size() == 48).all()
    coh = units.first_treat[units.first_treat > 0]
    assert coh.min() >= 2001 * 4 and coh.max() <= 2009 * 4 + 3
    assert np.isfinite(df.log_jobs).all() and (df.places_per_1000_jobs >= 0).all()
    # intensity is zero before the first opening in treated municipalities
    tr = df[(df.first_treat > 0) & (df.period < df.first_treat)]
    assert (tr.places_per_1000_jobs == 0).all()
    post = df[(df.first_treat > 0) & (df.period >= df.first_treat)]
    assert (post.places_per_1000_jobs > 0).mean() > 0.95


def test_missing_data_dir_is_clear(tmp_path):
    with pytest.raises(CeciError, match="real-data folder not found"):
        panels.build_guarderias_panel(tmp_path / "nope")
