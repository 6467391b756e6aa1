"""att_gt on simulated panels with known effects, and its input checks."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from ceci_impact import CeciError
from ceci_impact.did import DidWarning, att_gt, twfe


def make_panel(n=3000, T=10, seed=0, cov_trend=0.0, select_on_x=0.0, dynamic=True, unbalanced=0.0):
    """Staggered panel: cohorts 4, 6, 8 and never; effect (g-dependent) grows with event time."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    p_treat = 1 / (1 + np.exp(-(-0.3 + select_on_x * x)))
    treated = rng.random(n) < p_treat
    g = np.where(treated, rng.choice([4, 6, 8], n), 0)
    ids = np.repeat(np.arange(1, n + 1), T)
    t = np.tile(np.arange(1, T + 1), n)
    gg = np.repeat(g, T)
    xx = np.repeat(x, T)
    e = t - gg
    eff = np.where((gg > 0) & (e >= 0), (0.5 + 0.1 * (gg == 4)) * ((e + 1) if dynamic else 1), 0.0)
    y = np.repeat(rng.normal(size=n), T) + 0.2 * t + cov_trend * xx * t + eff + rng.normal(scale=0.5, size=n * T)
    df = pd.DataFrame({"id": ids, "t": t, "g": gg, "x": xx, "y": y, "eff": eff})
    if unbalanced:
        df = df[rng.random(len(df)) > unbalanced]
    return df


def true_dynamic(df, e):
    d = df[(df.g > 0) & (df.t - df.g == e)]
    return d.eff.mean()


def test_recovers_dynamic_heterogeneous_effects():
    df = make_panel()
    r = att_gt(df, yname="y", tname="t", idname="id", gname="g", bstrap=False)
    dyn = r.aggte("dynamic")
    for e, a, s in zip(dyn.egt, dyn.att_egt, dyn.se_egt, strict=True):
        truth = true_dynamic(df, e) if e >= 0 else 0.0
        assert abs(a - truth) < 4.5 * s, (e, a, truth, s)
    # TWFE static is biased here (forbidden comparisons with dynamic effects): it understates the ATT
    tw = twfe(df, yname="y", tname="t", idname="id", gname="g")
    simple = r.aggte("simple")
    assert tw.overall_att < simple.overall_att - 4 * simple.overall_se


def test_covariate_trends_need_covariates():
    df = make_panel(cov_trend=0.3, select_on_x=1.5, dynamic=False, seed=3)
    truth = df[(df.g > 0) & (df.t >= df.g)].eff.mean()
    kw = dict(yname="y", tname="t", idname="id", gname="g", bstrap=False)
    naive = att_gt(df, **kw).aggte("simple")
    assert abs(naive.overall_att - truth) > 6 * naive.overall_se
    for method in ("dr", "ipw", "reg"):
        a = att_gt(df, xformla="~ x", est_method=method, **kw).aggte("simple")
        assert abs(a.overall_att - truth) < 4 * a.overall_se, method


def test_unbalanced_panel_path():
    df = make_panel(unbalanced=0.15, seed=5, dynamic=False)
    kw = dict(yname="y", tname="t", idname="id", gname="g", bstrap=False)
    r = att_gt(df, allow_unbalanced_panel=True, **kw)
    assert r.params["panel"] is False
    a = r.aggte("simple")
    truth = df[(df.g > 0) & (df.t >= df.g)].eff.mean()
    assert abs(a.overall_att - truth) < 4 * a.overall_se
    with pytest.warns(DidWarning, match="missing in some periods"):
        rb = att_gt(df, **kw)
    assert rb.params["panel"] is True and rb.n < r.n


def test_balanced_panel_with_unbalanced_flag_uses_panel_path():
    df = make_panel(n=400, seed=1)
    a = att_gt(df, yname="y", tname="t", idname="id", gname="g", bstrap=False)
    b = att_gt(df, yname="y", tname="t", idname="id", gname="g", bstrap=False, allow_unbalanced_panel=True)
    np.testing.assert_allclose(a.att, b.att, atol=1e-12)


def test_cluster_and_bootstrap_bands():
    df = make_panel(n=1200, seed=2)
    df["region"] = df["id"] % 40
    r = att_gt(df, yname="y", tname="t", idname="id", gname="g", clustervars=["id", "region"], biters=300, seed=1)
    assert r.crit_val > 1.96
    dyn = r.aggte("dynamic")
    tb = dyn.tidy()
    assert (tb.band_high - tb.band_low >= tb.ci_high - tb.ci_low - 1e-12).all()
    assert set(["event_time", "att", "se", "ci_low", "ci_high"]) <= set(tb.columns)


def test_input_checks():
    df = make_panel(n=300, seed=4)
    kw = dict(yname="y", tname="t", idname="id", gname="g", bstrap=False)
    bad = df.copy()
    bad.loc[bad.index[0], "g"] = 99 if bad.g.iloc[0] == 0 else 0
    with pytest.raises(CeciError, match="constant within each unit"):
        att_gt(bad, **kw)
    with pytest.raises(CeciError, match="duplicated"):
        att_gt(pd.concat([df, df.head(1)]), **kw)
    with pytest.raises(CeciError, match="control_group='nevertreat' is not allowed; expected one of"):
        att_gt(df, control_group="nevertreat", **kw)
    with pytest.raises(CeciError, match="not found in data"):
        att_gt(df, xformla="~ z", **{**kw, "yname": "nope"})
    early = df.copy()
    early.loc[early.id <= 5, "g"] = 1
    with pytest.warns(DidWarning, match="Dropped 5 units that were already treated in the first period"):
        att_gt(early, **kw)
    never = df[df.g > 0]
    with pytest.warns(DidWarning, match="No never-treated group"):
        att_gt(never, **kw)
    miss = df.copy()
    miss.loc[miss.index[:3], "y"] = np.nan
    with pytest.warns(DidWarning, match="dropped 3 rows"):
        att_gt(miss, **kw)


def test_overlap_and_collinearity_become_na_with_warning():
    df = make_panel(n=600, seed=6)
    df["x2"] = 2 * df["x"]
    with pytest.warns(DidWarning, match="set to NA"):
        r = att_gt(df, yname="y", tname="t", idname="id", gname="g", xformla="~ x + x2", bstrap=False)
    assert np.isnan(r.att).all()
    sep = df.copy()
    sep["z"] = (sep.g == 4).astype(float) * 10 + np.random.default_rng(0).normal(size=len(sep)) * 0.01
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        r2 = att_gt(sep, yname="y", tname="t", idname="id", gname="g", xformla="~ z", bstrap=False)
    assert any("overlap" in str(x.message) or "singular" in str(x.message) for x in w)
    assert np.isnan(r2.att[r2.group == 4]).all()


def test_result_object_verbs():
    df = make_panel(n=400, seed=8)
    r = att_gt(df, yname="y", tname="t", idname="id", gname="g", biters=200)
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        r.att = None
    d = r.to_dict()
    assert d["estimator"] == "att_gt" and len(d["table"]["att"]) == len(r.att)
    assert "<table" in r._repr_html_() and "Group-time ATT" in r.summary()
    agg = r.aggte("group")
    assert "<table" in agg._repr_html_() and agg.to_dict()["type"] == "group"
    with pytest.raises(CeciError, match="type='weird' is not allowed"):
        r.aggte("weird")
    import matplotlib

    matplotlib.use("Agg")
    ax = r.aggte("dynamic").plot()
    assert ax.get_title()


def test_weights():
    df = make_panel(n=500, seed=9)
    kw = dict(yname="y", tname="t", idname="id", gname="g", bstrap=False)
    a = att_gt(df, **kw)
    b = att_gt(df.assign(w=3.0), weightsname="w", **kw)
    np.testing.assert_allclose(a.att, b.att, atol=1e-12)
    np.testing.assert_allclose(a.se, b.se, atol=1e-12)
    rng = np.random.default_rng(0)
    c = att_gt(df.assign(w=np.repeat(rng.uniform(0.5, 2, 500), 10)), weightsname="w", **kw)
    assert not np.allclose(a.att, c.att)
    with pytest.warns(DidWarning, match="Time-varying weights"):
        att_gt(df.assign(w=rng.uniform(0.5, 2, len(df))), weightsname="w", **kw)
    with pytest.raises(CeciError, match="non-negative"):
        att_gt(df.assign(w=-1.0), weightsname="w", **kw)


def test_pretrend_verdict_weighs_wald_against_the_band(mpdta):
    """With few treated units per restriction a rejecting Wald test is read together with the sup-t test."""
    from ceci_impact.study import analysis as A

    df = mpdta.rename(columns={"year": "period", "countyreal": "unit"})
    es = A.event_study(df, "lemp", covariates=[], est_method="reg", biters=199, min_e=-3, max_e=3)
    base = es.pretrend_verdict()
    assert "Wald p" in base and "sup-t" in base and "universal base period" in base
    sup = es.dynamic.pretest("sup_t", seed=1)
    covers = es.dynamic.tidy().query("event_time < 0").pipe(lambda t: ((t.band_low <= 0) & (t.band_high >= 0)).all())
    assert (sup["pvalue"] >= 0.05) == bool(covers)  # the sup-t test and the simultaneous band agree
    assert es.dynamic.pretest("sup_t", seed=1) == sup  # seeded

    def fake(p_sup):
        return SimpleNamespace(pretest=lambda method="wald", **kw: {"W": 30.0, "df": 3, "pvalue": 0.001} if method == "wald"
                               else {"W": 2.0, "df": 3, "pvalue": p_sup})

    cs = SimpleNamespace(pretest=lambda: {"W": None, "df": 3, "pvalue": None})
    weak = A.EventStudy(**{**es.__dict__, "n_treated": 12, "cs": cs, "pre_es": fake(0.3)}).pretrend_verdict()
    assert "should not be read alone" in weak and "therefore weak" in weak
    strong = A.EventStudy(**{**es.__dict__, "n_treated": 12, "cs": cs, "pre_es": fake(0.01)}).pretrend_verdict()
    assert "with caution" in strong and "therefore weak" not in strong
    many = A.EventStudy(**{**es.__dict__, "n_treated": 300, "cs": cs, "pre_es": fake(0.3)}).pretrend_verdict()
    assert "should not be read alone" not in many
