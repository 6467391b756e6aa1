"""TWFE, Goodman-Bacon, Sun–Abraham, imputation, Poisson, compare and triple differences.

Reference values: tests/reference/mpdta_R_peers_other.json (from the project peer-output file mpdta_R_peers.json,
see tests/reference/PROVENANCE.md: fixest 0.14.2, bacondecomp 0.1.1, didimputation 0.5.0 on mpdta, R 4.2.2). Tolerances: 1e-8 for
regression-based estimates (exact algebra); 1e-7 for the imputation estimator, whose unit and
period effects are fitted by alternating projections to 1e-13.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ceci_impact import CeciError
from ceci_impact.did import (
    att_gt,
    bacon_decomposition,
    compare,
    did_imputation,
    poisson_event_study,
    sun_abraham,
    triple_differences,
    twfe,
)

from .conftest import REF

PEERS = json.loads((REF / "mpdta_R_peers_other.json").read_text())
KW = dict(yname="lemp", tname="year", idname="countyreal", gname="first_treat")


def test_twfe_matches_fixest(mpdta):
    st = twfe(mpdta, **KW)
    ref = PEERS["R_fixest"]["twfe_static"]["cluster_default_ssc"][0]
    assert st.overall_att == pytest.approx(-0.036549, abs=1e-6)
    assert st.overall_att == pytest.approx(ref["estimate"], abs=1e-10)
    assert st.overall_se == pytest.approx(ref["se"], abs=1e-9)
    es = twfe(mpdta, type="event_study", **KW).tidy().set_index("event_time")
    for row in PEERS["R_fixest"]["twfe_event_study"]["cluster_default_ssc"]:
        e = int(row["term"].split("::")[1])
        assert es.att[e] == pytest.approx(row["estimate"], abs=1e-10)
        assert es.se[e] == pytest.approx(row["se"], abs=1e-9)


def test_bacon_matches_bacondecomp_and_sums_to_twfe(mpdta):
    b = bacon_decomposition(mpdta, **KW)
    assert b.table.weight.sum() == pytest.approx(1.0, abs=1e-12)
    assert abs(b.weighted_sum - b.twfe_estimate) < 1e-10
    ref = pd.DataFrame(PEERS["R_bacondecomp"]["table"]).replace({"untreated": {99999: np.inf}})
    got = b.table.copy()
    for _, r in ref.iterrows():
        m = got[(got.treated == r.treated) & (got.untreated == r.untreated)]
        assert len(m) == 1, r.to_dict()
        assert m.estimate.iat[0] == pytest.approx(r.estimate, abs=1e-10)
        assert m.weight.iat[0] == pytest.approx(r.weight, abs=1e-10)
        assert m.type.iat[0] == r.type
    assert b.weighted_sum == pytest.approx(PEERS["R_bacondecomp"]["weighted_sum"], abs=1e-10)


def test_sun_abraham_matches_fixest_sunab(mpdta):
    r = sun_abraham(mpdta, **KW)
    ref = PEERS["R_fixest"]["sunab"]
    tb = r.tidy().set_index("event_time")
    for row in ref["event_time"]:
        e = int(row["term"].split("::")[1])
        assert tb.att[e] == pytest.approx(row["estimate"], abs=1e-10)
        assert tb.se[e] == pytest.approx(row["se"], abs=1e-9)
    assert r.overall_att == pytest.approx(ref["att"][0]["estimate"], abs=1e-10)
    assert r.overall_se == pytest.approx(ref["att"][0]["se"], abs=1e-9)
    coh = r.extra["cohort"].set_index("cohort")
    for row in ref["cohort"]:
        c = float(row["term"].split("::")[1])
        assert coh.att[c] == pytest.approx(row["estimate"], abs=1e-10)
        assert coh.se[c] == pytest.approx(row["se"], abs=1e-9)


def test_sun_abraham_sparse_path_equals_dense_regression(mpdta):
    """Unbalanced panels (and other clusterings) use sparse normal equations; they equal the dense saturated
    regression (within_ols on the explicit cohort x period design) to 1e-12, and on mpdta fixest's sunab."""
    from ceci_impact.did.regression.sunab import _sunab_sparse
    from ceci_impact.did.regression.twfe import within_ols

    g, t = mpdta.first_treat.to_numpy(float), mpdta.year.to_numpy(float)
    rel = np.where(g > 0, t - g, np.nan)
    meta = [(c, int(e)) for c in sorted(np.unique(g[g > 0])) for e in sorted(np.unique(rel[g == c])) if e != -1]
    cell = np.full(len(mpdta), -1)
    for j, (c, e) in enumerate(meta):
        cell[(g == c) & (rel == e)] = j
    uid, tid = pd.factorize(mpdta.countyreal)[0], pd.factorize(mpdta.year)[0]
    b, V, _ = _sunab_sparse(mpdta.lemp.to_numpy(float), uid, tid, cell, len(meta), uid)
    coef = sun_abraham(mpdta, **KW).extra["coefficients"]
    np.testing.assert_allclose(b, coef.estimate, atol=1e-12)
    np.testing.assert_allclose(np.sqrt(np.diag(V)), coef.se, atol=1e-12)

    d = mpdta.assign(cl=mpdta.countyreal // 7).drop(index=np.random.default_rng(3).choice(len(mpdta), 400, replace=False))
    for data, clv in ((d, None), (d, "cl"), (mpdta.assign(cl=mpdta.countyreal // 7), "cl")):
        r = sun_abraham(data, clustervars=clv, **KW)
        g, t = data.first_treat.to_numpy(float), data.year.to_numpy(float)
        rel = np.where(g > 0, t - g, np.nan)
        X = np.column_stack([((g == c) & (rel == e)).astype(float) for c, e in meta])
        bd, Vd, kd = within_ols(data.lemp.to_numpy(float), X, pd.factorize(data.countyreal)[0],
                                pd.factorize(data.year)[0], data[clv or "countyreal"].to_numpy())
        cf = r.extra["coefficients"]
        np.testing.assert_allclose(cf.estimate, bd, atol=1e-12)
        np.testing.assert_allclose(cf.se, np.sqrt(np.diag(Vd)), atol=1e-12)


def test_imputation_matches_didimputation(mpdta):
    r = did_imputation(mpdta, **KW)
    ref = PEERS["R_didimputation"]
    assert r.overall_att == pytest.approx(ref["static"][0]["estimate"], abs=1e-7)
    assert r.overall_se == pytest.approx(ref["static"][0]["std.error"], abs=1e-7)
    tb = r.tidy().set_index("event_time")
    for row in ref["horizon_pretrends"]:
        e = int(row["term"])
        assert tb.att[e] == pytest.approx(row["estimate"], abs=1e-7)
        assert tb.se[e] == pytest.approx(row["std.error"], abs=1e-7)
    assert r.extra["pretest"]["df"] == 3


def test_covariates_by_period_match_fixest_didimputation_and_did2s(mpdta):
    """Time-invariant covariates enter interacted with period dummies (conditional parallel trends): fixest
    ``lemp ~ post + i(year, lpop, ref = 2003) | countyreal + year`` to 1e-10, didimputation with
    ``first_stage = ~ 0 | countyreal + year + year[lpop]`` to 1e-7 (R's fixed effects converge to 1e-6 by default),
    and did2s's point estimate (the same imputation estimand; did2s's GMM standard error is not implemented)."""
    st = twfe(mpdta, xformla="~ lpop", **KW)
    fx = {r["term"]: r for r in PEERS["R_fixest"]["twfe_static_lpop_x_year"]["cluster_default_ssc"]}
    assert st.overall_att == pytest.approx(fx["post"]["estimate"], abs=1e-10)
    assert st.overall_se == pytest.approx(fx["post"]["se"], abs=1e-9)
    for term, r in fx.items():
        assert st.coef[term] == pytest.approx(r["estimate"], abs=1e-10), term
        assert np.sqrt(st.vcov.loc[term, term]) == pytest.approx(r["se"], abs=1e-9), term
    assert list(st.tidy().term) == ["post"]  # covariate coefficients stay out of the effect table
    es = twfe(mpdta, xformla="~ lpop", type="event_study", **KW)
    assert set(es.tidy().event_time) == {-4, -3, -2, -1, 0, 1, 2, 3}  # used to raise IndexError
    imp = did_imputation(mpdta, xformla="~ lpop", pretrends=False, **KW)
    ref = PEERS["R_didimputation"]["static_lpop_x_year"][0]
    assert imp.overall_att == pytest.approx(ref["estimate"], abs=1e-7)
    assert imp.overall_se == pytest.approx(ref["std.error"], abs=1e-7)
    assert imp.overall_att == pytest.approx(PEERS["R_did2s"]["static_lpop_x_year"][0]["estimate"], abs=1e-7)


def test_imputation_point_estimates_match_did2s(mpdta):
    r = did_imputation(mpdta, pretrends=False, **KW)
    d2 = PEERS["R_did2s"]
    assert r.overall_att == pytest.approx(d2["static"][0]["estimate"], abs=1e-7)
    tb = r.tidy().set_index("event_time")
    for row in d2["event_study"]:
        e = int(row["term"].split("::")[1])
        if e >= 0:
            assert tb.att[e] == pytest.approx(row["estimate"], abs=1e-7)


@pytest.mark.parametrize("estimand,agg", [("simple", "simple"), ("cohort", "group"), ("calendar", "calendar")])
def test_cs_aggregations_match_staggered(mpdta, estimand, agg):
    """R staggered's ``staggered_cs`` (not-yet-treated) and ``staggered_sa`` (never treated) estimands equal R did's
    aggregations with those control groups; staggered's design-based (Neyman) SEs are another variance, not
    compared."""
    ref = PEERS["R_staggered"]
    for cg, name in (("notyettreated", "cs"), ("nevertreated", "sa")):
        r = att_gt(mpdta, control_group=cg, bstrap=False, **KW).aggte(agg)
        assert r.overall_att == pytest.approx(ref[f"{name}_{estimand}"][0]["estimate"], abs=1e-10)


def hand_panel(n=400, seed=0):
    """One treated cohort (g = 2), never-treated controls, two periods."""
    rng = np.random.default_rng(seed)
    g = np.where(np.arange(n) < n // 2, 2, 0)
    y1 = rng.normal(size=n)
    y2 = y1 + 0.3 + np.where(g == 2, 1.5, 0) + rng.normal(scale=0.5, size=n)
    return pd.DataFrame({"id": np.repeat(np.arange(n), 2), "t": np.tile([1, 2], n), "g": np.repeat(g, 2),
                         "y": np.column_stack([y1, y2]).ravel()}), y1, y2, g


def test_estimators_coincide_on_hand_computable_case():
    df, y1, y2, g = hand_panel()
    did = (y2[g == 2] - y1[g == 2]).mean() - (y2[g == 0] - y1[g == 0]).mean()
    kw = dict(yname="y", tname="t", idname="id", gname="g")
    cs = att_gt(df, bstrap=False, **kw).aggte("simple").overall_att
    sa = sun_abraham(df, **kw).overall_att
    im = did_imputation(df, **kw).overall_att
    tw = twfe(df, **kw).overall_att
    for v in (cs, sa, im, tw):
        assert v == pytest.approx(did, abs=1e-9)


def test_poisson_matches_glm_and_recovers_proportional_effect():
    import statsmodels.api as sm

    rng = np.random.default_rng(1)
    n, T = 300, 6
    g = np.where(rng.random(n) < 0.5, rng.choice([3, 5], n), 0)
    t = np.tile(np.arange(1, T + 1), n)
    gg = np.repeat(g, T)
    mu = np.exp(np.repeat(rng.normal(0, 0.5, n), T) + 0.05 * t + np.where((gg > 0) & (t >= gg), np.log(0.7), 0))
    df = pd.DataFrame({"id": np.repeat(np.arange(n), T), "t": t, "g": gg, "y": rng.poisson(mu * 3)})
    r = poisson_event_study(df, yname="y", tname="t", idname="id", gname="g")
    # the same saturated model as a Poisson GLM with unit and period dummies
    coefs = r.extra["coefficients"]
    X = pd.get_dummies(df.id.astype(str), drop_first=False).astype(float)
    X = X.join(pd.get_dummies(df.t.astype(str), drop_first=True).astype(float).add_prefix("t"))
    rel = np.where(df.g > 0, df.t - df.g, np.nan)
    names = []
    for c, e in zip(coefs.cohort, coefs.event_time, strict=True):
        nm = f"c{c:g}e{e}"
        X[nm] = ((df.g == c) & (rel == e)).astype(float)
        names.append(nm)
    keep = df.groupby("id").y.transform("sum") > 0
    fit = sm.GLM(df.y[keep], X[keep], family=sm.families.Poisson()).fit(tol=1e-12)
    np.testing.assert_allclose(coefs.log_rate_ratio, fit.params[names], atol=1e-6)
    assert r.overall_att == pytest.approx(-0.3, abs=4 * r.overall_se)
    with pytest.raises(CeciError, match="non-negative count"):
        poisson_event_study(df.assign(y=-df.y), yname="y", tname="t", idname="id", gname="g")


def test_compare_and_triple_differences(mpdta):
    import matplotlib

    matplotlib.use("Agg")
    c = compare(mpdta, estimators=["callaway_santanna", "sun_abraham", "imputation", "twfe"], seed=1, **KW)
    ov = c.overall()
    assert list(ov.estimator) == ["Callaway–Sant'Anna", "Sun–Abraham", "Imputation (BJS)", "TWFE (naive)"]
    assert {"estimator", "event_time", "att", "se", "ci_low", "ci_high"} <= set(c.tidy().columns)
    assert c.plot().get_title()
    with pytest.raises(CeciError, match="is not allowed"):
        compare(mpdta, estimators=["ols"], **KW)
    # triple differences: eligible group gets +0.2 after treatment, others nothing; common shocks difference out
    rng = np.random.default_rng(3)
    d = pd.concat([mpdta.assign(elig=1), mpdta.assign(elig=0)], ignore_index=True)
    post = (d.first_treat > 0) & (d.year >= d.first_treat)
    d["y"] = d.lemp + 0.5 * (d.first_treat > 0) * (d.year - 2003) + np.where(post & (d.elig == 1), 0.2, 0.0) \
        + rng.normal(scale=0.01, size=len(d))
    r = triple_differences(d, yname="y", tname="year", idname="countyreal", gname="first_treat", groupname="elig",
                           estimator="imputation")
    assert r.overall_att == pytest.approx(0.2, abs=0.01)


def test_honest_did_smoothness_matches_R(mpdta):
    """HonestDiD 0.2.6 smoothness FLCIs (R_HonestDiD in the peers file) to 1e-4, from its betahat/sigma and from
    our own TWFE and CS (universal base, not-yet-treated) event studies."""
    from ceci_impact.did import honest_did
    from ceci_impact.did.honest.honest import event_study_moments, flci, r_normal_draws

    # R's set.seed(0); rnorm(3), reproduced (HonestDiD's folded-normal quantiles use these draws)
    np.testing.assert_allclose(r_normal_draws(3), [1.262954284880793, -0.326233360705649, 1.329799262922501],
                               atol=1e-12)
    ref = PEERS["R_HonestDiD"]
    for key in ("twfe_es", "cs_es_notyet_universal"):
        e = ref[key]
        for row in e["smoothness"]:
            r = flci(np.array(e["betahat"]), np.array(e["sigma"]), e["numPrePeriods"], e["numPostPeriods"], M=row["M"])
            assert r["lb"] == pytest.approx(row["lb"], abs=1e-4) and r["ub"] == pytest.approx(row["ub"], abs=1e-4)
    tw = twfe(mpdta, type="event_study", **KW)
    cs = att_gt(mpdta, control_group="notyettreated", base_period="universal", bstrap=False, cband=False, **KW)
    for res, key in ((tw, "twfe_es"), (cs.aggte("dynamic"), "cs_es_notyet_universal")):
        e = ref[key]
        _, b, S = event_study_moments(res)
        np.testing.assert_allclose(b, e["betahat"], atol=1e-10)
        np.testing.assert_allclose(S, e["sigma"], atol=1e-12)
        h = honest_did(res, e=0, Mvec=[r["M"] for r in e["smoothness"]])
        t = h.tidy()
        assert t.lb.iat[0] == pytest.approx(e["original_cs"][0]["lb"][0], abs=1e-6)
        assert t.ub.iat[0] == pytest.approx(e["original_cs"][0]["ub"][0], abs=1e-6)
        np.testing.assert_allclose(h.table.lb, [r["lb"] for r in e["smoothness"]], atol=1e-4)
        np.testing.assert_allclose(h.table.ub, [r["ub"] for r in e["smoothness"]], atol=1e-4)
        width = (h.table.ub - h.table.lb).to_numpy()
        assert (np.diff(width) > 0).all()  # intervals lengthen as M grows
    avg = honest_did(tw, e="average", Mvec=[0, 0.02])
    assert avg.target == "average post-treatment effect"
    with pytest.raises(CeciError, match="not a post-treatment event time"):
        honest_did(tw, e=7)
    with pytest.raises(CeciError, match="is not allowed"):
        honest_did(tw, type="relative_magnitudes")


@pytest.mark.parametrize("name", ["att_gt", "twfe", "sun_abraham", "did_imputation", "poisson_event_study",
                                  "bacon_decomposition"])
def test_every_estimator_applies_the_same_panel_checks(mpdta, name):
    """Duplicated unit-period rows and a cohort that varies within a unit are refused with one line by every
    event-study estimator, as by att_gt."""
    import ceci_impact.did as D

    fn = getattr(D, name)
    df = mpdta.assign(emp=np.exp(mpdta.lemp).round())
    kw = dict(KW, yname="emp" if name == "poisson_event_study" else "lemp")
    dup = pd.concat([df, df.iloc[[3]]], ignore_index=True)
    with pytest.raises(CeciError, match=r"duplicated \(countyreal, year\) rows.*expected one row per unit and period"):
        fn(dup, **kw)
    vary = df.copy()
    vary.loc[(vary.countyreal == vary.countyreal.iat[0]) & (vary.year == 2007), "first_treat"] = 2006
    with pytest.raises(CeciError, match="'first_treat' must be constant within each unit"):
        fn(vary, **kw)


@pytest.mark.parametrize("xformla", ["~ lpop", "~ lpop + noise"])
def test_imputation_pretrends_absorb_the_first_stage_covariates(mpdta, xformla):
    """R didimputation's pre-trend regression is ``feols(y ~ i(event_time) + first_stage)`` on untreated rows: the
    first stage's covariates (here lpop by year) are absorbed too. The lead dummies are projected through the
    exact first-stage solver, never formed densely; the dense regression with the same columns gives the same
    coefficients and clustered SEs."""
    from ceci_impact.did.core.design import covariate_design
    from ceci_impact.did.regression.fixed_effects import within_ols

    mpdta = mpdta.assign(noise=np.random.default_rng(5).normal(size=len(mpdta)))  # time-varying: the other path
    r = did_imputation(mpdta, xformla=xformla, **KW)
    g, t = mpdta.first_treat.to_numpy(), mpdta.year.to_numpy()
    e = np.where(g > 0, t - g, np.nan)
    m = ~((g > 0) & (t >= g))
    leads = [-4, -3, -2]
    L = np.column_stack([(m & (e == k)).astype(float) for k in leads])
    Xc, _ = covariate_design(xformla, mpdta, "countyreal", "year")
    b, V, _ = within_ols(mpdta.lemp.to_numpy()[m], np.column_stack([L, Xc])[m], pd.factorize(mpdta.countyreal[m])[0],
                         pd.factorize(mpdta.year[m])[0], mpdta.countyreal.to_numpy()[m])
    tb = r.tidy().set_index("event_time")
    np.testing.assert_allclose(tb.att[leads].to_numpy(), b[:3], atol=1e-10)
    np.testing.assert_allclose(tb.se[leads].to_numpy(), np.sqrt(np.diag(V))[:3], atol=1e-10)
    plain = did_imputation(mpdta, **KW).tidy().set_index("event_time")
    assert abs(plain.att[-4] - tb.att[-4]) > 1e-3  # the covariates matter here: the old test ignored them


def test_imputation_standard_errors_equal_the_explicit_bjs_weights(mpdta):
    """BJS's conservative variance from the explicit imputation weights ``v0 = -Z0 (Z0'Z0)^+ Z1'w1`` (a dense design
    of unit and period dummies, lpop by period and a time-varying covariate, pseudo-inverse) equals the estimator's,
    which never forms ``v0``: per horizon, clustered by groups of counties, to 1e-10."""
    d = mpdta.assign(noise=np.random.default_rng(7).normal(size=len(mpdta)), grp=mpdta.countyreal % 29)
    r = did_imputation(d, xformla="~ lpop + noise", clustervars="grp", pretrends=False, **KW)
    g, t = d.first_treat.to_numpy(), d.year.to_numpy()
    tr = (g > 0) & (t >= g)
    uid, tid = pd.factorize(d.countyreal)[0], pd.factorize(d.year)[0]
    Z = np.column_stack([np.eye(uid.max() + 1)[uid], np.eye(tid.max() + 1)[tid],
                         np.eye(tid.max() + 1)[tid] * d.lpop.to_numpy()[:, None], d.noise.to_numpy()])
    Z0, Z1 = Z[~tr], Z[tr]
    y = d.lemp.to_numpy()
    coef = np.linalg.pinv(Z0) @ y[~tr]
    adj = y - Z @ coef
    e = np.where(g > 0, t - g, np.nan)
    cl = d.grp.to_numpy()
    tb = r.tidy().set_index("event_time")
    for h in sorted(set(e[tr].astype(int))):
        w1 = (e[tr] == h) / (e[tr] == h).sum()
        v = np.zeros(len(d))
        v[tr] = w1
        v[~tr] = -Z0 @ (np.linalg.pinv(Z0.T @ Z0) @ (Z1.T @ w1))
        resid = adj.copy()
        cell = pd.Series(v[tr] ** 2 * adj[tr]).groupby([g[tr], e[tr]]).transform("sum").to_numpy()
        wsum = pd.Series(v[tr] ** 2).groupby([g[tr], e[tr]]).transform("sum").to_numpy()
        resid[tr] = adj[tr] - np.where(wsum > 0, cell / np.where(wsum > 0, wsum, 1), 0.0)
        s = pd.Series(v * resid).groupby(cl).sum().to_numpy()
        assert tb.att[h] == pytest.approx(w1 @ adj[tr], abs=1e-10)
        assert tb.se[h] == pytest.approx(np.sqrt((s**2).sum()), abs=1e-10), h
