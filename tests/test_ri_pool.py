"""Randomisation inference over a pool of candidate clusters (``att_gt(..., ri_pool=...)``): dates are permuted
among the clusters that could have opened (candidate sites, opened or not); the other clusters stay comparisons
under every schedule; the draws still equal a brute-force re-estimation; careless pools get one clear line."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from ceci_impact._options import CeciError
from ceci_impact.did import att_gt
from ceci_impact.did.inference.refit import ScheduleDesign, refit_draws


def _panel(seed: int = 5, n_pool: int = 16, n_single: int = 60, T: int = 7) -> pd.DataFrame:
    """Candidate-site clusters (8 open at dates 3..6, the rest never) of 2-8 units, plus singletons with no site."""
    rng = np.random.default_rng(seed)
    sizes = np.r_[rng.integers(2, 9, n_pool), np.ones(n_single, int)]
    G = sizes.size
    g_cl = np.r_[np.resize([3.0, 4, 5, 6], 8), np.zeros(n_pool - 8), np.zeros(n_single)]
    perm = rng.permutation(n_pool)
    g_cl[:n_pool] = g_cl[:n_pool][perm]
    cl = np.repeat(np.arange(G), sizes)
    n = cl.size
    per = np.arange(1, T + 1)
    y = rng.normal(size=n)[:, None] + 0.1 * per + rng.normal(0, 0.6, (G, T))[cl] + rng.normal(size=(n, T))
    pool = np.repeat(np.arange(G) < n_pool, sizes)
    return pd.DataFrame({"unit": np.repeat(np.arange(n), T), "period": np.tile(per, n), "cl": np.repeat(cl, T),
                         "g": np.repeat(g_cl[cl], T), "pool": np.repeat(pool, T), "y": y.ravel()})


def _fit(df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return att_gt(df, yname="y", tname="period", idname="unit", gname="g", clustervars="cl", bstrap=False,
                      cband=False, est_method="reg", **kw)


def test_permutations_stay_in_pool_and_keep_dates():
    df = _panel()
    res = _fit(df, ri_pool="pool")
    d = ScheduleDesign(res)
    lab = d.permutations(50, seed=3)
    dates = d.cohorts[lab]
    out = ~d.pool
    assert out.sum() == 60 and d.pool.sum() == 16
    assert np.all(dates[:, out] == 0)  # singletons never treated under any schedule
    assert np.all(np.sort(dates[:, d.pool], axis=1) == np.sort(d.g_cl[d.pool]))  # the dates' multiset is kept
    assert (dates[1:, d.pool] != d.g_cl[d.pool]).any()  # and they do move


def test_pool_draws_equal_brute_force():
    df = _panel()
    res = _fit(df, ri_pool="pool")
    d = ScheduleDesign(res)
    lab = d.permutations(4, seed=11)
    a, b = refit_draws(res, [("simple", None)], 4, 11)
    codes = pd.factorize(df["cl"], sort=True)[0]
    for r in range(4):
        perm = df.assign(gp=d.cohorts[lab[r]][codes])
        D = (perm["g"] > 0) & (perm["period"] >= perm["g"])
        for theta0 in (0.0, 1.0):
            y0 = perm.assign(y=perm["y"] - theta0 * D)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ref = att_gt(y0, yname="y", tname="period", idname="unit", gname="gp", clustervars="cl",
                             bstrap=False, cband=False, est_method="reg").aggte("simple", na_rm=True).overall_att
            want = a[r, 0] - theta0 * b[r, 0]
            assert abs(ref - want) < 1e-10, (r, theta0, ref, want)


def test_sample_attrs_declare_the_pool_and_guard_reads_it():
    df = _panel()
    df.attrs["ri_pool"] = "pool"
    res = _fit(df)
    assert res.ri_pool is not None and res.ri_pool.sum() == (df.groupby("unit").pool.first()).sum()
    # a declared pool whose column was dropped later: every cluster (nothing to read), no error
    assert _fit(df.drop(columns="pool")).ri_pool is None
    # declared for another cluster variable: not used with this one
    other = df.copy()
    other.attrs.update(ri_pool="pool", ri_pool_cluster="municipality")
    assert _fit(other).ri_pool is None
    other.attrs["ri_pool_cluster"] = "cl"
    assert _fit(other).ri_pool is not None
    # the all-cluster guard compares clusters that open with the pool's never-opened ones, not with singletons
    ScheduleDesign(res).check_exchangeable()
    with pytest.raises(CeciError, match="heavier"):
        ScheduleDesign(_fit(df.drop(columns="pool"))).check_exchangeable()


@pytest.mark.parametrize("bad, match", [
    (lambda d: d.assign(pool=d["pool"].astype(str)), "expected a boolean"),
    (lambda d: d.assign(pool=np.where(d["period"] == 1, True, d["pool"])), "time-invariant"),
])
def test_bad_pool_one_line(bad, match):
    with pytest.raises(CeciError, match=match) as e:
        _fit(bad(_panel()), ri_pool="pool")
    assert "\n" not in str(e.value)


def test_pool_needs_clusters_and_must_hold_every_opening():
    df = _panel()
    with pytest.raises(CeciError, match="needs a cluster variable"):
        att_gt(df, yname="y", tname="period", idname="unit", gname="g", ri_pool="pool", est_method="reg")
    wrong = df.assign(pool=df["g"] == 0)  # opened clusters outside the pool
    with pytest.raises(CeciError, match="outside ri_pool"):
        ScheduleDesign(_fit(wrong, ri_pool="pool"))
    with pytest.raises(CeciError, match="column not found"):
        _fit(df, ri_pool="nope")
