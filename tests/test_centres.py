"""All centres on one chart (robust empirical-Bayes intervals, Benjamini–Hochberg), the scheme comparison and
where to open next (study/site_ranking.py, study/schemes.py, design/expansion.py)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ceci_impact._options import CeciError
from ceci_impact.design import expansion as ex
from ceci_impact.did import att_gt
from ceci_impact.study import schemes as sc
from ceci_impact.study import site_ranking as sr


def _rho_bruteforce(m2: float, chi: float) -> float:
    """Largest non-coverage over two-point distributions of t = b² with mean m2 (the extreme points of the set
    of distributions with a second-moment constraint), by grid search."""
    best = sr._r(math.sqrt(m2), chi)
    for t1 in np.linspace(0, m2, 11):
        for t2 in np.geomspace(max(m2, 1e-6) * 1.0001, 400 + 50 * m2, 400):
            p = (m2 - t1) / (t2 - t1)
            val = (1 - p) * sr._r(math.sqrt(t1), chi) + p * sr._r(math.sqrt(t2), chi)
            best = max(best, val)
    return float(best)


@pytest.mark.parametrize("m2", [0.05, 1.0, 25.0])
def test_robust_critical_value_solves_the_worst_case(m2):
    c = sr.robust_critical_value(m2, 0.05)
    assert sr._rho(m2, c) == pytest.approx(0.05, abs=1e-8)
    assert _rho_bruteforce(m2, c) == pytest.approx(0.05, abs=2e-4)
    assert c >= stats.norm.ppf(0.975) - 1e-12
    # more uncertainty about the bias, wider interval
    assert sr.robust_critical_value(2 * m2) > c


def test_robust_ebci_average_coverage_under_a_skewed_prior():
    """Average coverage across units at least 95 % (up to Monte Carlo error) whatever the distribution of the
    true effects; here a skewed two-point one, where parametric EB intervals under-cover."""
    rng = np.random.default_rng(7001)
    k, reps, cover = 60, 200, []
    se = rng.uniform(0.5, 2.0, k)
    for _ in range(reps):
        theta = np.where(rng.random(k) < 0.1, 3.0, 0.0)
        y = theta + se * rng.standard_normal(k)
        t = sr.eb_shrink(y, se).table
        cover.append(np.mean((t.eb_low <= theta) & (theta <= t.eb_high)))
    assert np.mean(cover) >= 0.94


def test_eb_shrinks_towards_the_mean_by_noise():
    sh = sr.eb_shrink([0.0, 1.0, 2.0, 10.0], [1.0, 1.0, 1.0, 5.0])
    t = sh.table
    assert (t.weight > 0).all() and (t.weight < 1).all()
    assert t.weight.iloc[3] < t.weight.iloc[0]  # the noisiest estimate is shrunk most
    assert abs(t.shrunk.iloc[3] - sh.mean) < abs(10.0 - sh.mean)
    with pytest.raises(CeciError):
        sr.eb_shrink([1.0, 2.0], [1.0, 1.0])


def test_bh_qvalues_match_the_step_up_rule():
    rng = np.random.default_rng(3)
    p = rng.uniform(size=30) ** 3
    q = sr.bh_qvalues(p)
    for fdr in (0.05, 0.1, 0.2):
        order = np.sort(p)
        passed = np.flatnonzero(order <= fdr * np.arange(1, 31) / 30)
        n_reject = passed.max() + 1 if passed.size else 0
        assert int((q <= fdr).sum()) == n_reject


def test_site_estimates_and_ranking(small_world):
    proc = small_world / "processed"
    est = sr.site_estimates(proc, "eg_days_per_worker")
    assert est.attrs["not_estimated"] == int((est.n_treated < 5).sum())
    assert est.loc[est.n_treated < 5, "estimate"].isna().all()
    ranked = sr.rank_sites(est)
    assert ranked.shrunk.is_monotonic_increasing and len(ranked) == est.estimate.notna().sum()
    assert ((ranked.eb_low <= ranked.shrunk) & (ranked.shrunk <= ranked.eb_high)).all()
    tab = sr.ranking_table(ranked)
    assert list(tab.columns)[0] == "centre" and (tab["exposed employers"] >= 5).all()


def test_scheme_rows_reproduce_att_gt_and_the_difference_uses_shared_controls(mpdta):
    d = mpdta.copy()
    d["cl"] = d["countyreal"] % 41
    scheme = pd.Series(np.where(d.drop_duplicates("countyreal")["countyreal"] % 2 == 0, "IMSS", "Empresa"),
                       index=d.drop_duplicates("countyreal")["countyreal"])
    scheme = scheme[d.drop_duplicates("countyreal").set_index("countyreal")["first_treat"] > 0]
    out = sc.scheme_comparison(d, "lemp", scheme, tname="year", idname="countyreal", clustervars="cl",
                               control_group="nevertreated")
    for s in sc.SCHEMES:
        keep = (d.first_treat == 0) | d.countyreal.map(scheme).eq(s)
        a = att_gt(d[keep], yname="lemp", tname="year", idname="countyreal", gname="first_treat", bstrap=False,
                   clustervars="cl", control_group="nevertreated").aggte("simple")
        assert out.loc[s, "estimate"] == pytest.approx(a.overall_att, abs=1e-12)
        assert out.loc[s, "se"] == pytest.approx(a.overall_se, rel=1e-10)
    diff = out.loc["difference"]
    assert diff.estimate == pytest.approx(out.loc["IMSS", "estimate"] - out.loc["Empresa", "estimate"])
    # shared never-treated controls: the estimates covary positively, so the difference's variance is below
    # the sum of the two variances
    assert diff.se ** 2 < out.loc["IMSS", "se"] ** 2 + out.loc["Empresa", "se"] ** 2


def test_where_to_open_tiers_and_seeded_order(small_world):
    proc = small_world / "processed"
    a = ex.where_to_open(proc, tiers=3, seed=5)
    b = ex.where_to_open(proc, tiers=3, seed=5)
    c = ex.where_to_open(proc, tiers=3, seed=6)
    pd.testing.assert_frame_equal(a, b)
    ranked = a.dropna(subset=["rank"])
    assert (ranked.employers >= 5).all() and a.loc[a.employers < 5, "eligible_parents"].isna().all()
    # tiers by unmet demand: every area of tier 1 needs at least as much as every area of tier 2
    t = ranked.groupby("tier")["unmet"]
    assert (t.min().iloc[:-1].to_numpy() >= t.max().iloc[1:].to_numpy()).all()
    assert set(a.dropna(subset=["rank"]).area) == set(c.dropna(subset=["rank"]).area)
    assert list(a.dropna(subset=["rank"]).area) != list(c.dropna(subset=["rank"]).area)
    with pytest.raises(CeciError):
        ex.where_to_open(proc, level="state")


def test_state_outlines_place_known_cities_in_their_states():
    from matplotlib.path import Path as MPath

    from ceci_impact.geo import state_outlines

    geo = state_outlines()
    assert len(geo) == 32
    cities = {"14": (-103.35, 20.67), "19": (-100.31, 25.67), "31": (-89.62, 20.97), "20": (-96.72, 17.06),
              "26": (-110.96, 29.07), "09": (-99.13, 19.43), "08": (-106.09, 28.64), "07": (-93.12, 16.75)}
    for code, pt in cities.items():
        inside = [k for k, v in geo.items() if any(MPath(np.array(r)).contains_point(pt) for r in v["rings"])]
        assert inside == [code], (code, inside)


def test_where_map_draws(small_world):
    import matplotlib

    matplotlib.use("Agg")
    proc = small_world / "processed"
    ax = ex.where_map(ex.where_to_open(proc), proc)
    assert len(ax.collections) >= 3  # tiers, sites, state outlines
