"""The dose response in the reports: a municipality dose study or a note whose reason is in the reader's language
(the reasons are catalogue messages, not English error text); the design report's reading."""

from __future__ import annotations

import json
import warnings

import pytest

from ceci_impact.study import spatial_dose as SD
from ceci_impact.study.samples import municipality_sample


def test_municipality_dose_or_note_speaks_both_languages(small_world):
    proc = small_world / "processed"
    df = municipality_sample(proc, "log_women_jobs")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        dz, note = SD.municipality_dose_or_note(proc, df, "log_women_jobs", biters=49)
        with pytest.raises(SD.DoseUnavailable):  # one dose per municipality would need 10**6 of them
            SD.municipality_dose_study(proc, df, "log_women_jobs", degree=10**6, biters=49)
    assert (dz is None) != (note is None)
    if note is not None:
        es, en = note.lang("es"), note.lang("en")
        assert es != en and "cont_did" not in es and "municipios" in es
    else:
        json.dumps(dz.to_dict())


def test_design_reading_follows_the_interval():
    """The reading says the effect rises with the dose only when ACRT^o's interval is above zero, falls only
    when below, and cannot tell otherwise."""
    from types import SimpleNamespace

    def study(acrt, se):
        return SimpleNamespace(result=SimpleNamespace(acrt_o=acrt, acrt_o_se=se))

    up, down, flat = (SD.dose_reading(study(a, 1.0), "y").lang("en") for a in (2.5, -2.5, 1.5))
    assert "grows with the dose" in up and "decreases with the dose" in down and "cannot tell" in flat
    assert "contiene el cero" in SD.dose_reading(study(0.1, 1.0), "y").lang("es")
