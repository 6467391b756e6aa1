"""The simulated world's correlated shocks: present by default (serial, spatial, within-site), carried into the
outcomes, off with zero knobs (the independent world), validated, and without effect on the truth's exactness."""

from __future__ import annotations

import filecmp

import numpy as np
import pandas as pd
import pytest

from ceci_impact._options import CeciError
from ceci_impact.data import synthetic
from ceci_impact.data.synthetic_shocks import (
    Shocks,
    _icc,
    as_shocks,
    correlation_diagnostics,
    municipality_correlation,
    shocked_duration,
)
from ceci_impact.data.synthetic_world import _piecewise_duration
from ceci_impact.geo import haversine_km


def _month_demeaned(z: np.ndarray) -> np.ndarray:
    return z - z.mean(0, keepdims=True)


def _lag1(z: np.ndarray) -> float:
    z = z - z.mean(1, keepdims=True)
    return float(np.corrcoef(z[:, 1:].ravel(), z[:, :-1].ravel())[0, 1])


@pytest.fixture(scope="module")
def fields():
    return synthetic.shock_fields("default", 3)


def test_municipality_shocks_are_serially_and_spatially_correlated(fields):
    w = fields
    k = Shocks()
    m = w.mun_demand / k.mun_sd
    assert _lag1(m) == pytest.approx(k.mun_rho, abs=0.08)  # AR(1) over months
    c = np.corrcoef(m)
    d = haversine_km(w.m_lat[:, None], w.m_lon[:, None], w.m_lat[None, :], w.m_lon[None, :])
    off = ~np.eye(d.shape[0], dtype=bool)
    near, far = c[off & (d <= 100)].mean(), c[off & (d >= 800) & (w.states[:, None] != w.states[None, :])].mean()
    assert near > 0.25 and abs(far) < 0.1
    # the draws follow the kernel-plus-state correlation (pairs it makes strongly correlated, on average; one
    # pair's 48-month sample correlation is very noisy at rho = 0.85)
    target = municipality_correlation(w.m_lat, w.m_lon, w.states, k.spatial_km, k.state_share)
    strong = off & (target > 0.4)
    assert strong.sum() > 20
    assert c[strong].mean() == pytest.approx(target[strong].mean(), abs=0.15)


def test_employers_around_a_site_share_shocks(fields):
    w = fields
    near = w.e_site >= 0
    T = w.demand.shape[1]
    months = np.tile(np.arange(T), int(near.sum()))
    r = _month_demeaned(w.demand)[near].ravel()
    icc_site = _icc(r, np.repeat(w.e_site[near], T) * 1000 + months)
    k = Shocks()
    expected = (k.mun_sd**2 + k.site_sd**2) / (k.mun_sd**2 + k.site_sd**2 + k.employer_sd**2)
    assert icc_site == pytest.approx(expected, abs=0.12)
    # without the site component the employers around a site share only their municipality's shock
    w0 = synthetic.shock_fields("default", 3, {"site_sd": 0.0})
    r0 = _month_demeaned(w0.demand)[near].ravel()
    assert _icc(r0, np.repeat(w.e_site[near], T) * 1000 + months) < icc_site - 0.05
    # incapacity rates: serially correlated, shared within sites; wage multipliers move by sector
    a = _month_demeaned(w.absence)
    assert _lag1(w.absence) > 0.3
    assert _icc(a[near].ravel(), np.repeat(w.e_site[near], T) * 1000 + months) > 0.3
    lw = np.log(w.wage_f)
    assert lw.std() > 0.01 and _lag1(lw) > 0.5


@pytest.fixture(scope="module")
def independent(tmp_path_factory):
    """A small world with every shock off."""
    return synthetic.simulate("small", 3, tmp_path_factory.mktemp("none") / "raw", quiet=True, shocks="none")


def test_zero_knobs_give_the_independent_world(independent, tmp_path):
    assert synthetic.shock_fields("small", 3, "none").demand is None
    zero = {k: 0.0 for k in ("mun_sd", "site_sd", "employer_sd", "absence_mun_sd", "absence_site_sd",
                             "absence_employer_sd", "wage_sector_sd", "wage_mun_loading")}
    a = independent
    b = synthetic.simulate("small", 3, tmp_path / "b", quiet=True, shocks=zero)
    s = synthetic.simulate("small", 3, tmp_path / "s", quiet=True)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file() and p.name != "truth.json")
    _, mismatch, errors = filecmp.cmpfiles(a, b, [str(f) for f in files], shallow=False)
    assert not mismatch and not errors
    # the shocks draw from their own generator: employers and sites are the same with them
    for f in ("ceci_sites.csv", "employers.parquet"):
        assert filecmp.cmp(a / f, s / f, shallow=False), f
    assert not filecmp.cmp(a / "job_spells.parquet", s / "job_spells.parquet", shallow=False)
    da, ds = correlation_diagnostics(a), correlation_diagnostics(s)
    assert abs(da["absence_icc_site_month"]) < 0.05 and da["mun_growth_serial"] < 0.05
    assert ds["absence_icc_site_month"] > da["absence_icc_site_month"]


def test_outcomes_carry_the_shocks(independent, tmp_path):
    """y(0) of the reports' outcomes shows the shocks: municipal employment growth is serially correlated and
    correlated with neighbours, employer absenteeism is correlated within site clusters (strong knobs, so that one
    small world's Poisson noise does not hide them); zeroed, the same statistics are about zero."""
    strong = {"mun_sd": 0.6, "site_sd": 0.4, "absence_mun_sd": 0.6, "absence_site_sd": 0.5}
    d = correlation_diagnostics(synthetic.simulate("small", 3, tmp_path / "s", quiet=True, shocks=strong))
    z = correlation_diagnostics(independent)
    assert d["mun_growth_serial"] > 0.1 > z["mun_growth_serial"]
    assert d["mun_growth_corr_within_100km"] - d["mun_growth_corr_beyond_500km"] > 0.05
    assert d["absence_icc_site_month"] > 0.15 > 0.05 > z["absence_icc_site_month"]
    assert d["absence_icc_mun_month"] > 0.1


def test_shocked_duration_matches_the_closed_form_without_shocks():
    """With a flat factor the month-by-month search gives the closed form's durations; a month-varying factor
    keeps the common-random-numbers ordering (a lower treated hazard never shortens a spell)."""
    rng = np.random.default_rng(0)
    n, p0, p1 = 20000, 100, 135
    T = p1 - p0 + 1
    emp = rng.integers(0, 50, n)
    s = rng.integers(p0 - 1, p1 + 1, n)
    a = rng.integers(p0 - 5, p1 + 10, n)
    b = a + rng.integers(0, 40, n)
    c0 = rng.uniform(0.005, 0.2, n)
    c1 = c0 * rng.uniform(0.3, 1.0, n)
    L = rng.exponential(1.0, n) * (1 + 1e-9)
    flat = np.c_[np.zeros(50), np.cumsum(np.ones((50, T)), 1)]
    for cc in (c0, c1):
        got = shocked_duration(L, s, a, b, c0, cc, flat, emp, p0, p1, _piecewise_duration)
        want = _piecewise_duration(L, s, a, b, c0, cc)
        assert (got != want).mean() < 1e-3  # only floating-point ties at a month boundary may differ
    f = np.c_[np.zeros(50), np.cumsum(np.exp(rng.normal(0, 0.5, (50, T))), 1)]
    d1 = shocked_duration(L, s, a, b, c0, c1, f, emp, p0, p1, _piecewise_duration)
    d0 = shocked_duration(L, s, a, b, c0, c0, f, emp, p0, p1, _piecewise_duration)
    assert (d1 >= d0).all() and (d1 > d0).any() and (d0 >= 1).all()


def test_knobs_are_checked():
    assert as_shocks(None) == Shocks() and as_shocks("none") == Shocks.none()
    assert as_shocks({"mun_rho": 0.5}).mun_rho == 0.5
    assert as_shocks("mun_sd=0.3, site_sd=0") == as_shocks({"mun_sd": 0.3, "site_sd": 0.0})
    for bad in ({"mun_rho": 1.0}, {"site_sd": -0.1}, {"no_such_knob": 1}, {"state_share": 2.0}, "lots",
                "mun_sd=abc", "mun_sd=nan"):
        with pytest.raises(CeciError):
            as_shocks(bad)


def test_truth_json_records_the_knobs(small_world):
    import json

    rec = json.loads((small_world / "raw" / "truth.json").read_text())["world"]["shocks"]
    assert rec == Shocks().to_dict()
    assert pd.read_parquet(small_world / "raw" / "truth_employer_month.parquet").eg_days_0.sum() > 0
