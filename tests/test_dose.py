"""cont_did against R contdid's published README output (its example data regenerated exactly with R's RNG),
a closed-form dose response, and bad input.

The README of bcallaway11/contdid (commit 443c1c1) simulates ``simulate_contdid_data(n=5000, num_time_periods=4,
num_groups=4)`` after ``set.seed(1234)`` and prints ``head(df)`` and the summaries below. R's generator is
Mersenne-Twister with R's seed scrambling (``set.seed``: 50 LCG steps, then 625 LCG values, ``mti = 624``),
``runif`` = MT output * 2^-32, ``rnorm`` by inversion from two uniforms (``BIG = 2^27``) and ``sample(prob=)`` by
inversion after R's ``revsort`` of the probabilities: reimplemented below, it reproduces the printed ``head(df)``.
Published point estimates are rounded to 4 decimals (tolerance 6e-5). Published standard errors come from 100
bootstrap draws; the ATT^o one is compared within 10 % (bootstrap noise). contdid's ACRT standard errors scale the
treated units' influence function by ``n / n_cell`` instead of ``n / n_treated`` (understated by about
``n_treated / n_cell``), so ours are not compared with them; tests/test_dose.py::test_acrt_se_matches_spread
checks ours against the sampling spread instead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtri

from ceci_impact._options import CeciError
from ceci_impact.did.dose import cont_did


class _RRandom:
    """R's default generator (Mersenne-Twister, inversion normals) seeded as ``set.seed(seed)``."""

    def __init__(self, seed: int):
        s = np.uint32(seed)
        key = np.empty(625, np.uint32)
        with np.errstate(over="ignore"):
            for _ in range(50):
                s = np.uint32(np.uint32(69069) * s + np.uint32(1))
            for j in range(625):
                s = np.uint32(np.uint32(69069) * s + np.uint32(1))
                key[j] = s
        self.bg = np.random.MT19937()
        self.bg.state = {"bit_generator": "MT19937", "state": {"key": key[1:], "pos": 624}}

    def unif(self, n: int) -> np.ndarray:
        return self.bg.random_raw(n).astype(float) * 2.3283064365386963e-10

    def norm(self, n: int) -> np.ndarray:
        u = self.unif(2 * n).reshape(n, 2)
        return ndtri((np.floor(134217728 * u[:, 0]) + u[:, 1]) / 134217728)


def _revsort(a: list[float], ib: list[int]) -> tuple[list[float], list[int]]:
    """R's ``revsort`` (heap sort into descending order, carrying the permutation)."""
    a, ib = [None, *a], [None, *ib]
    n = len(a) - 1
    lo, ir = (n >> 1) + 1, n
    while True:
        if lo > 1:
            lo -= 1
            ra, ii = a[lo], ib[lo]
        else:
            ra, ii = a[ir], ib[ir]
            a[ir], ib[ir] = a[1], ib[1]
            ir -= 1
            if ir == 1:
                a[1], ib[1] = ra, ii
                return a[1:], ib[1:]
        i, j = lo, lo << 1
        while j <= ir:
            if j < ir and a[j] > a[j + 1]:
                j += 1
            if ra > a[j]:
                a[i], ib[i] = a[j], ib[j]
                i, j = j, j + j
            else:
                j = ir + 1
        a[i], ib[i] = ra, ii


def contdid_example(seed: int = 1234, n: int = 5000, T: int = 4, lin: float = 0.0, quad: float = 0.0) -> pd.DataFrame:
    """``set.seed(seed); simulate_contdid_data(n, T, T, dose_linear_effect=lin, dose_quadratic_effect=quad)``."""
    r = _RRandom(seed)
    p, perm = _revsort([1 / T] * T, list(range(1, T + 1)))
    j = np.minimum(np.searchsorted(np.cumsum(p), r.unif(n), side="left"), T - 1)
    G = np.r_[0, np.arange(2, T + 1)][np.array(perm)[j] - 1]
    D = r.unif(n)
    eta = G + r.norm(n)
    Y0 = np.column_stack([tp + eta + r.norm(n) for tp in range(1, T + 1)])
    Y1 = np.column_stack([lin * D + quad * D**2 + tp + eta + r.norm(n) for tp in range(1, T + 1)])
    post = np.column_stack([(G <= tp) & (G != 0) for tp in range(1, T + 1)])
    return pd.DataFrame({"id": np.repeat(np.arange(1, n + 1), T), "G": np.repeat(G, T),
                         "D": np.repeat(np.where(G == 0, 0.0, D), T), "time_period": np.tile(np.arange(1, T + 1), n),
                         "Y": np.where(post, Y1, Y0).ravel()})


KW = dict(yname="Y", tname="time_period", idname="id", gname="G", dname="D", num_knots=1, degree=3)


@pytest.fixture(scope="module")
def example() -> pd.DataFrame:
    return contdid_example()


def test_example_data_is_the_readme_data(example):
    head = example.head(6)
    assert head.G.tolist() == [2, 2, 2, 2, 4, 4]
    np.testing.assert_allclose(head.D.iloc[[0, 4]], [0.08593221, 0.17217781], atol=5e-9)
    np.testing.assert_allclose(head.Y, [0.3579583, 5.2354694, 3.2717079, 4.3988042, 5.9743351, 5.8463051], atol=5e-8)


def test_dose_aggregation_matches_contdid(example):
    r = cont_did(example, target_parameter="slope", aggregation="dose", cband=False, **KW)
    assert abs(r.att_o - -0.0265) < 6e-5 and abs(r.acrt_o - 0.1341) < 6e-5
    assert abs(r.att_o_se / 0.0301 - 1) < 0.10
    assert r.overall_att == r.acrt_o
    t = r.tidy()
    assert len(t) == 90 and (t.band_low <= t.ci_low + 1e-12).all()


def test_slope_event_study_matches_contdid(example):
    r = cont_did(example, target_parameter="slope", aggregation="eventstudy", biters=200, **KW)
    np.testing.assert_allclose(r.event_table.att, [-0.0701, -0.2212, 0.1592, 0.0551, -0.5405], atol=6e-5)
    assert abs(r.overall_att - 0.1341) < 6e-5
    m = r.event_study()
    np.testing.assert_allclose(np.sqrt(np.diag(m.vcov)), r.event_table.se, rtol=1e-10)
    assert r.crit_val["acrt"] > 1.96 and (r.tidy().band_high > r.tidy().ci_high).all()


def test_closed_form_dose_response():
    """Y(d) - Y(0) = 1 + 2 d exactly (no noise in changes): ATT(d) = 1 + 2d and ACRT(d) = 2 at every dose."""
    rng = np.random.default_rng(5)
    n, T = 600, 5
    G = rng.choice([0, 3, 4], n)
    D = np.where(G > 0, rng.uniform(0.5, 3, n), 0.0)
    t = np.arange(1, T + 1)
    Y = rng.normal(size=n)[:, None] + 0.3 * t[None] + np.where((G[:, None] > 0) & (t[None] >= G[:, None]),
                                                               1 + 2 * D[:, None], 0)
    df = pd.DataFrame({"id": np.repeat(np.arange(n), T), "t": np.tile(t, n), "y": Y.ravel(),
                       "g": np.repeat(G, T), "d": np.repeat(D, T)})
    kw = dict(yname="y", tname="t", idname="id", gname="g", dname="d", cband=False)
    r = cont_did(df, **kw)
    np.testing.assert_allclose(r.dose_table.att, 1 + 2 * r.dose_table.dose, atol=1e-8)
    np.testing.assert_allclose(r.dose_table.acrt, 2, atol=1e-8)
    assert abs(r.acrt_o - 2) < 1e-8 and abs(r.att_o - (1 + 2 * D[G > 0].mean())) < 0.1
    es = cont_did(df, aggregation="eventstudy", **kw)
    pre = es.event_table[es.event_table.event_time < 0]
    np.testing.assert_allclose(pre.att, 0, atol=1e-8)


def test_acrt_se_matches_spread():
    """Analytic ACRT^o standard error against its sampling spread over 30 simulated example panels."""
    est, se = [], []
    for s in range(101, 131):
        r = cont_did(contdid_example(seed=s, n=800, lin=1.0), target_parameter="slope", cband=False, **KW)
        est.append(r.acrt_o)
        se.append(r.acrt_o_se)
    ratio = np.mean(se) / np.std(est, ddof=1)
    assert 0.7 < ratio < 1.4, ratio
    assert abs(np.mean(est) - 1.0) < 3 * np.std(est, ddof=1) / np.sqrt(30)


def test_bad_options(example):
    small = example[example.id <= 400]
    with pytest.raises(CeciError, match="dose_est_method='cck' is not allowed; expected one of 'parametric'"):
        cont_did(small, dose_est_method="cck", **KW)
    with pytest.raises(CeciError, match="target_parameter"):
        cont_did(small, target_parameter="curve", **KW)
    with pytest.raises(CeciError, match="dname"):
        cont_did(small, **{**KW, "dname": "nope"})
    with pytest.raises(CeciError, match="dvals"):
        cont_did(small, dvals=[0.5, 2.0], **KW)
    with pytest.raises(CeciError, match="balanced panel"):
        cont_did(small.iloc[1:], **KW)
    varying = small.assign(D=np.where(small.time_period == 4, small.D + 1, small.D))
    with pytest.raises(CeciError, match="time-invariant"):
        cont_did(varying, **KW)


def test_bands_are_seeded(example):
    small = example[example.id <= 1500]
    a = cont_did(small, biters=200, seed=7, **KW)
    b = cont_did(small, biters=200, seed=7, **KW)
    c = cont_did(small, biters=200, seed=8, **KW)
    assert a.crit_val == b.crit_val and a.crit_val != c.crit_val
    assert a.to_dict()["att_o"] == a.att_o and "ATT^o" in a._repr_html_()
