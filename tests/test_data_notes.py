"""Nothing an estimator drops is silent: counted in ``result.data_notes``, said in the report, kept in the sidecar."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from ceci_impact.did import DataNotes, DidWarning, att_gt
from ceci_impact.did.core.notes import mask_small_counts, recording


def _mpdta_cs(df, **kw):
    return att_gt(df, yname="lemp", tname="year", idname="countyreal", gname="first_treat", bstrap=False, **kw)


def test_balancing_drops_are_counted_and_still_warned(mpdta):
    rng = np.random.default_rng(7)
    gone = rng.choice(mpdta.index, 40, replace=False)
    d = mpdta.drop(gone)
    dropped_units = mpdta.loc[gone, "countyreal"].unique()
    treated = mpdta.drop_duplicates("countyreal").set_index("countyreal").loc[dropped_units, "first_treat"] > 0
    with pytest.warns(DidWarning, match="missing in some periods"):
        res = _mpdta_cs(d)
    n = res.data_notes
    assert n.units_dropped_unbalanced == dropped_units.size
    assert n.treated_units_dropped_unbalanced == int(treated.sum())
    assert n.units_before_balance == mpdta.countyreal.nunique()
    assert res.n == mpdta.countyreal.nunique() - dropped_units.size
    assert any("missing in some periods" in w for w in n.warnings)
    rec = n.to_dict()
    assert rec["units_dropped_unbalanced"] == dropped_units.size and rec["units_before_balance"] == 500


def test_clean_panel_has_empty_notes(mpdta):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning at all on mpdta
        res = _mpdta_cs(mpdta)
    assert res.data_notes.empty


def test_missing_rows_and_small_cohorts_are_counted(mpdta):
    d = mpdta.copy()
    d.loc[d.index[:7], "lemp"] = np.nan
    keep = d.countyreal.isin(d.loc[d.first_treat == 2004, "countyreal"].unique()[:3]) | (d.first_treat != 2004)
    d = d[keep]
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        n = _mpdta_cs(d, allow_unbalanced_panel=True).data_notes
    assert n.rows_dropped_missing == 7
    assert (2004.0, 3) in n.small_cohorts
    rec = n.to_dict()
    assert {"cohort": "2004", "units": "<5"} in rec["small_cohorts"]
    assert all("(3 units)" not in w for w in rec["warnings"])


def test_small_counts_masked_in_text():
    assert mask_small_counts("group 2004 (3 units) and 12 units; 0 employers") == \
        "group 2004 (<5 units) and 12 units; 0 employers"


def test_recording_keeps_and_reemits():
    with pytest.warns(UserWarning, match="kept"):
        with recording() as caught:
            warnings.warn("kept", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["kept"]
    assert DataNotes.from_warnings(caught).warnings == ("UserWarning: kept",)


def test_no_warning_is_ignored_in_src():
    from .conftest import ROOT

    hits = [f"{p.relative_to(ROOT)}:{i}" for p in (ROOT / "src").rglob("*.py")
            for i, line in enumerate(p.read_text().splitlines(), 1)
            if "simplefilter(\"ignore\")" in line or "filterwarnings(\"ignore\")" in line.replace("'", '"')
            and "Deprecation" not in line and "FutureWarning" not in line]
    assert not hits, hits


def test_headline_sidecar_records_what_was_dropped(small_world, tmp_path):
    """Small world 11: the employer panel is unbalanced; the headline's sidecar says how many units (and exposed
    units) the estimator dropped to balance it, and the report's sentence says it in both languages."""
    from ceci_impact.study import analysis as A

    proc = small_world / "processed"
    df = A.employer_sample(proc, "eg_days_per_worker")
    o = A.OUTCOMES["eg_days_per_worker"]
    need = ["eg_days_per_worker", "first_treat", "period", "unit"] + ([o.weights] if o.weights else []) + \
        ([o.cluster] if o.cluster else []) + ["x_industrial"]
    ok = df.dropna(subset=[c for c in need if c in df.columns])
    periods = ok.groupby("unit")["period"].nunique()
    short = periods.index[periods < ok.period.nunique()]
    exposed = ok.drop_duplicates("unit").set_index("unit").loc[short, "first_treat"] > 0
    assert short.size > 0, "the small world's employer panel should be unbalanced"
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        es = A.event_study(df, "eg_days_per_worker", processed=proc, covariates=["x_industrial"], est_method="reg",
                           estimators=["callaway_santanna"], biters=49, weightsname=o.weights,
                           clustervars=o.cluster)
    path = tmp_path / "run.json"
    A.record(str(path), {"headline": es.headline(), "event_study": es.to_dict()})
    side = json.loads(path.read_text())
    notes = side["headline"]["data_notes"]

    def shown(n):
        return n if n >= 5 else "<5"

    assert notes["units_dropped_unbalanced"] == shown(short.size)
    assert notes["treated_units_dropped_unbalanced"] == shown(int(exposed.sum()))
    assert side["event_study"]["comparison"][0]["data_notes"] == notes
    sentence = es.sentence()
    assert "balance the panel" in sentence.by_lang["en"] and "balancear el panel" in sentence.by_lang["es"]
