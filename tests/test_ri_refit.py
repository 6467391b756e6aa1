"""Randomisation inference with covariates, the not-yet-treated comparison and anticipation
(:mod:`ceci_impact.did.inference.refit`): the permutation draws equal a brute-force re-estimation."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

from ceci_impact.did import att_gt
from ceci_impact.did.inference.refit import ScheduleDesign, refit_draws, ri_interval


def _panel(seed: int = 3, G: int = 14, T: int = 7, tau: float = 0.0, weights: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(3, 9, G)
    g_cl = np.r_[np.zeros(5), np.resize([3.0, 3, 4, 4, 5, 5, 6, 6, 4], G - 5)]
    rng.shuffle(g_cl)
    cl = np.repeat(np.arange(G), sizes)
    n = cl.size
    x = rng.normal(size=n) + 0.3 * rng.normal(size=G)[cl]
    z = rng.integers(0, 2, n).astype(float)
    per = np.arange(1, T + 1)
    shock = rng.normal(0, 0.7, (G, T))
    y = rng.normal(0, 1, n)[:, None] + 0.2 * per + 0.4 * x[:, None] * per + shock[cl] + rng.normal(0, 1, (n, T))
    g = g_cl[cl]
    y += tau * ((g[:, None] > 0) & (per[None, :] >= g[:, None]))
    df = pd.DataFrame({"unit": np.repeat(np.arange(n), T), "period": np.tile(per, n), "cl": np.repeat(cl, T),
                       "g": np.repeat(g, T), "x": np.repeat(x, T), "z": np.repeat(z, T), "y": y.ravel()})
    if weights:
        df["w"] = np.repeat(rng.uniform(0.5, 2.0, n), T)
    return df


def _fit(df, yname="y", gname="g", **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small cohorts: R's warning, irrelevant to the comparison
        return att_gt(df, yname=yname, tname="period", idname="unit", gname=gname, clustervars="cl", bstrap=False,
                      cband=False, **kw)


def _brute(df, res, lab, cohorts, theta0, kind, antic, **kw):
    """att_gt on Y - theta0 D (observed D) with the permuted schedule, then the aggregation."""
    codes = pd.factorize(df["cl"], sort=True)[0]
    d = df.assign(gp=cohorts[lab][codes])
    D = (d["g"] > 0) & (d["period"] >= d["g"] - antic)
    d["y0"] = d["y"] - theta0 * D
    r = _fit(d, yname="y0", gname="gp", anticipation=antic, **kw)
    if kind == "simple":
        return r.aggte("simple", na_rm=True).overall_att
    dyn = r.aggte("dynamic", na_rm=True)
    return np.r_[dyn.att_egt, dyn.overall_att]


SPECS = [
    dict(xformla=None, control_group="nevertreated", est_method="reg", base_period="varying"),
    dict(xformla="~ x", control_group="nevertreated", est_method="reg", base_period="varying"),
    dict(xformla="~ x + z", control_group="notyettreated", est_method="reg", base_period="varying"),
    dict(xformla="~ x", control_group="notyettreated", est_method="reg", base_period="universal", anticipation=1),
    dict(xformla=None, control_group="notyettreated", est_method="dr", base_period="varying"),
    dict(xformla="~ x", control_group="notyettreated", est_method="dr", base_period="universal"),
    dict(xformla="~ x", control_group="nevertreated", est_method="ipw", base_period="varying"),
]


@pytest.mark.parametrize("spec", SPECS, ids=[f"{s['est_method']}-{s['control_group']}-{s['xformla']}-"
                                              f"{s['base_period']}-a{s.get('anticipation', 0)}" for s in SPECS])
def test_draws_equal_brute_force(spec):
    weights = spec["est_method"] == "reg" and spec["control_group"] == "notyettreated"
    df = _panel(weights=weights)
    kw = dict(spec, weightsname="w" if weights else None)
    antic = kw.pop("anticipation", 0)
    res = _fit(df, anticipation=antic, **kw)
    design = ScheduleDesign(res)
    B = 5
    lab = design.permutations(B, seed=7)
    dyn = res.aggte("dynamic", na_rm=True)
    cols = [("simple", None)] + [("e", float(e)) for e in dyn.egt] + [("avg_e", tuple(float(e) for e in dyn.egt
                                                                                      if e >= 0))]
    a, b = refit_draws(res, cols, B, seed=7)
    assert a[0, 0] == pytest.approx(res.aggte("simple", na_rm=True).overall_att, abs=1e-10)
    for theta0 in (0.0, 1.7):
        for r in range(B):
            sim = _brute(df, res, lab[r], design.cohorts, theta0, "simple", antic, **kw)
            assert a[r, 0] - theta0 * b[r, 0] == pytest.approx(sim, abs=1e-10)
            dy = _brute(df, res, lab[r], design.cohorts, theta0, "dynamic", antic, **kw)
            np.testing.assert_allclose(a[r, 1:] - theta0 * b[r, 1:], dy, atol=1e-10, rtol=0)


def test_timing_permutations_keep_never_treated_and_equal_brute_force():
    df = _panel(seed=8)
    kw = dict(xformla="~ x", control_group="notyettreated", est_method="reg")
    res = _fit(df, **kw)
    design = ScheduleDesign(res)
    lab = design.permutations(6, seed=2, scope="timing")
    never = design.g_cl == 0
    assert np.all(design.cohorts[lab][:, never] == 0) and np.all(design.cohorts[lab][:, ~never] > 0)
    assert len({tuple(r) for r in lab}) > 1
    a, b = refit_draws(res, [("simple", None)], 6, seed=2, scope="timing")
    for r in range(6):
        assert a[r, 0] - 0.8 * b[r, 0] == pytest.approx(_brute(df, res, lab[r], design.cohorts, 0.8, "simple", 0,
                                                                **kw), abs=1e-10)


def test_timing_rule_falls_back_when_dates_cannot_be_rearranged():
    df = _panel(seed=8)
    df["g"] = np.where(df["g"] > 0, 4.0, 0.0)  # one opening date: a single arrangement of the timing
    res = _fit(df, xformla="~ x", control_group="notyettreated", est_method="reg", small_cluster="ri_timing",
               biters=99)
    agg = res.aggte("simple")
    assert agg.inference["fallback_from"] == "ri_timing" and "distinct ways" in agg.inference["label"]


def test_headline_uses_ri_with_covariates_and_not_yet_treated():
    df = _panel(seed=11)
    res = _fit(df, xformla="~ x", control_group="notyettreated", est_method="reg", small_cluster="ri", biters=199,
               seed=1)
    agg = res.aggte("simple", na_rm=True)
    assert agg.inference["rule"] == "ri" and "fallback_from" not in agg.inference
    lo, hi = agg.overall_ci
    assert lo < agg.overall_att < hi
    dyn = res.aggte("dynamic", na_rm=True)
    assert dyn.inference["rule"] == "ri" and "fallback_columns" not in dyn.inference


def test_sharp_null_pvalue_is_uniform_under_randomisation():
    """Under the sharp null (no effect) and a randomised schedule, P(p <= 0.1) is about 0.1: the schedule is
    re-drawn 120 times in one fixed world, the permutation p-value computed each time."""
    df = _panel(seed=21, G=16)
    base = _fit(df, xformla="~ x", control_group="notyettreated", est_method="reg")
    design = ScheduleDesign(base)
    rng = np.random.default_rng(0)
    codes = pd.factorize(df["cl"], sort=True)[0]
    pv = []
    for _ in range(120):
        g_new = design.g_cl[rng.permutation(design.G)]
        d = df.assign(g=g_new[codes])
        r = _fit(d, xformla="~ x", control_group="notyettreated", est_method="reg")
        a, b = refit_draws(r, [("simple", None)], 99, seed=int(rng.integers(1 << 30)))
        pv.append(ri_interval(a[:, 0], b[:, 0], 0.05)[2])
    pv = np.asarray(pv)
    assert 0.03 <= np.mean(pv <= 0.1) <= 0.2
    assert np.all((pv > 0) & (pv <= 1))


def test_placebo_interval_is_estimate_plus_minus_critical_value():
    rng = np.random.default_rng(0)
    a = rng.normal(size=100)
    b = np.r_[0.0, rng.normal(size=99)]
    lo, hi, p = ri_interval(a, b, 0.05, theta_star=0.5)
    d = np.abs(a[1:] - 0.5 * b[1:])
    half = np.sort(d)[::-1][4]  # rejected when (1 + #{|d| >= h}) / 100 <= 0.05: at most 4 draws at or beyond h
    assert (lo, hi) == pytest.approx((a[0] - half, a[0] + half))
    assert p == pytest.approx((1 + np.sum(d >= abs(a[0]))) / 100)


def test_cox_hazard_ratio_is_cluster_robust():
    """Duplicating every spell inside its cluster leaves the cluster-robust interval unchanged (the naive one
    would shrink by sqrt 2)."""
    from ceci_impact.study.retention import cox_time_varying

    rng = np.random.default_rng(4)
    n = 400
    group = np.where(rng.random(n) < 0.5, "near", "far")
    sf = pd.DataFrame({"group": group, "duration": rng.exponential(12, n).round(1) + 0.5,
                       "event": (rng.random(n) < 0.7).astype(int),
                       "exposed_from": np.where(group == "near", rng.integers(0, 10, n), np.nan),
                       "site_cluster": rng.integers(0, 25, n).astype(str)})
    one = cox_time_varying(sf)
    two = cox_time_varying(pd.concat([sf, sf], ignore_index=True))
    assert one.cluster.iat[0] == "site_cluster" and one.clusters.iat[0] == 25
    np.testing.assert_allclose(two[["hazard_ratio", "ci_low", "ci_high"]], one[["hazard_ratio", "ci_low", "ci_high"]],
                               rtol=1e-6)


def test_all_cluster_permutation_refuses_when_opening_clusters_are_larger():
    """Clusters that open are sites of several units, the others single units: not exchangeable."""
    df = _panel(seed=9, G=14)
    big = df.groupby("cl")["g"].transform("max") > 0
    units = df.loc[~big, "unit"].unique()
    single = df[~big & df["unit"].isin(units)].copy()
    single["cl"] = 1000 + single["unit"]  # every never-treated unit its own cluster
    extra = [single.assign(unit=single["unit"] + 10_000 * r, cl=single["cl"] + 10_000 * r) for r in range(1, 4)]
    d = pd.concat([df[big], single, *extra], ignore_index=True)
    res = _fit(d, xformla="~ x", control_group="notyettreated", est_method="reg", small_cluster="ri", biters=99)
    agg = res.aggte("simple")
    assert agg.inference["fallback_from"] == "ri" and "not exchangeable" in agg.inference["label"]
    assert agg.inference["rule"] == "wcu_webb"


def test_unit_level_path_refuses_beyond_its_budget(monkeypatch):
    import ceci_impact.did.inference.refit as rf

    monkeypatch.setattr(rf, "UNIT_LEVEL_BUDGET", 10.0)
    df = _panel(seed=8)
    res = _fit(df, xformla="~ x", control_group="notyettreated", est_method="dr", small_cluster="ri", biters=99)
    agg = res.aggte("simple")
    assert agg.inference["fallback_from"] == "ri" and "budget" in agg.inference["label"]


@pytest.mark.parametrize("kw", [dict(xformla=None, control_group="nevertreated", est_method="reg"),
                                dict(xformla="~ x", control_group="notyettreated", est_method="reg")])
def test_group_aggregation_draws_equal_brute_force(kw):
    """The group aggregation (each cohort's effect and their cohort-size weighted mean) under permuted schedules
    equals re-estimation; its columns are recognised, so RI covers them (no fallback columns)."""
    from ceci_impact.did.inference.registry import _ri_columns

    df = _panel(seed=5)
    res = _fit(df, **kw)
    grp = res.aggte("group", na_rm=True)
    W = grp.source[1]
    cols = _ri_columns(res, np.asarray(W, float).reshape(res.att.size, -1))
    assert all(c is not None for c in cols) and cols[-1][0] == "avg_g"
    assert all(c[0] in ("group", "e") for c in cols[:-1])  # a cohort with one post cell is also that event time
    design = ScheduleDesign(res)
    B = 4
    lab = design.permutations(B, seed=3)
    a, b = refit_draws(res, cols, B, seed=3)
    codes = pd.factorize(df["cl"], sort=True)[0]
    for r in range(B):
        d = df.assign(gp=design.cohorts[lab[r]][codes])
        D = (d["g"] > 0) & (d["period"] >= d["g"])
        d["y0"] = d["y"] - 0.9 * D
        ref = _fit(d, yname="y0", gname="gp", **kw).aggte("group", na_rm=True)
        want = np.r_[ref.att_egt, ref.overall_att]
        np.testing.assert_allclose(a[r] - 0.9 * b[r], want, atol=1e-10, rtol=0)
    ri = dataclasses.replace(res, params={**res.params, "small_cluster": "ri"}).aggte("group", na_rm=True)
    assert ri.inference["rule"] == "ri" and "fallback_columns" not in ri.inference
