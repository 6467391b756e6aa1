"""Small-cluster inference (ceci_impact.did.inference): wild bootstrap enumeration and algebra, CR2 and its
Bell–McCaffrey degrees of freedom against an explicit regression, the clustered pre-test, the reports' interface."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ceci_impact.did import att_gt
from ceci_impact.did.inference import RULES, ClusterScores, bm_df, cr2_se, draw_weights, wild_test
from ceci_impact.study.specification import SMALL_CLUSTER, cs_event_study, cs_headline

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from cluster_inference import DESIGNS, World, run_design, simulate  # noqa: E402


def _scores(G=6, nc=3, seed=0):
    rng = np.random.default_rng(seed)
    S = rng.normal(size=(G, nc, 1))
    S -= S.mean(axis=0, keepdims=True)  # scores sum to zero within each cohort
    h = rng.dirichlet(np.ones(G), size=nc).T
    A = np.array([[0.0], [0.6], [0.4]])
    return ClusterScores(S, h, A, 50, np.array([0.7]), np.array([0, 3, 4]), np.ones(G, bool))


def test_rademacher_enumerates_every_sign_pattern():
    V, full = draw_weights("rademacher", 5, 999, np.random.default_rng(1))
    assert full and V.shape == (32, 5)
    assert {tuple(r) for r in V} == set(itertools.product([-1.0, 1.0], repeat=5))
    V2, full2 = draw_weights("rademacher", 12, 999, np.random.default_rng(1))
    assert not full2 and V2.shape == (999, 12)


def test_wild_pvalue_matches_full_enumeration_loop():
    cs = _scores()
    V, _ = draw_weights("rademacher", cs.G, 999, np.random.default_rng(0))
    for theta0 in (-1.0, 0.0, 0.5, 2.0):
        d = cs.estimate[0] - theta0
        St = cs.S[:, :, 0] + d * cs.n * cs.h * cs.A[:, 0][None, :]
        t = d / (np.sqrt((cs.S[:, :, 0].sum(axis=1) ** 2).sum()) / cs.n)
        hits = 0
        for v in itertools.product([-1.0, 1.0], repeat=cs.G):
            v = np.array(v)
            T = v @ St  # perturbed cohort totals
            Sstar = v * St.sum(axis=1) - cs.h @ T
            tstar = (T.sum() / cs.n) / (np.sqrt((Sstar**2).sum()) / cs.n)
            hits += abs(tstar) >= abs(t) * (1 - 1e-10)
        assert wild_test(cs, theta0, V) == pytest.approx(hits / 2**cs.G)
    assert wild_test(cs, cs.estimate[0], V) == 1.0


def _two_period(seed=3):
    rng = np.random.default_rng(seed)
    sizes = np.array([3, 5, 2, 8, 4, 6, 3, 7])
    cl = np.repeat(np.arange(8), sizes)
    treated = np.isin(cl, [0, 3, 5])
    n = cl.size
    y1 = rng.normal(size=n) + rng.normal(size=8)[cl]
    y2 = y1 + rng.normal(size=n) + rng.normal(size=8)[cl] + 0.3 * treated
    df = pd.DataFrame({"unit": np.repeat(np.arange(n), 2), "period": np.tile([1, 2], n), "cl": np.repeat(cl, 2),
                       "g": np.repeat(np.where(treated, 2, 0), 2), "y": np.c_[y1, y2].ravel()})
    return df, cl, treated, y2 - y1


def test_cr2_and_bell_mccaffrey_match_explicit_regression():
    df, cl, D, dy = _two_period()
    res = att_gt(df, yname="y", tname="period", idname="unit", gname="g", clustervars="cl", est_method="reg",
                 bstrap=False, cband=False, small_cluster="cr2_bm")
    a = res.aggte("simple")
    # the same estimate as the regression of the change on a treatment dummy, clustered: CR2 by hand
    X = np.c_[np.ones(D.size), D.astype(float)]
    XtXi = np.linalg.inv(X.T @ X)
    H = X @ XtXi @ X.T
    e = dy - H @ dy
    c = np.array([0.0, 1.0])
    P, meat = [], 0.0
    for g in np.unique(cl):
        m = cl == g
        lam, U = np.linalg.eigh(np.eye(m.sum()) - H[np.ix_(m, m)])
        Ac = U @ np.diag(1 / np.sqrt(lam)) @ U.T
        meat += (c @ XtXi @ X[m].T @ Ac @ e[m]) ** 2
        pc = np.zeros(D.size)
        pc[m] = Ac @ X[m] @ XtXi @ c
        P.append((np.eye(D.size) - H).T @ pc)
    P = np.array(P).T
    Q = P.T @ P
    assert a.overall_att == pytest.approx(c @ XtXi @ X.T @ dy, rel=1e-10)
    assert a.overall_se == pytest.approx(np.sqrt(meat), rel=1e-8)
    assert a.inference["df"][-1] == pytest.approx(np.trace(Q) ** 2 / np.sum(Q * Q), rel=1e-8)


def test_cr2_exceeds_cr0_and_df_below_clusters():
    cs = _scores()
    se0 = np.sqrt((cs.S.sum(axis=1) ** 2).sum(axis=0)) / cs.n
    assert cr2_se(cs)[0] > se0[0]
    assert bm_df(cs)[0] == pytest.approx(cs.G - 1)  # no working weights: G - 1


def test_rules_registered_once_with_labels():
    assert SMALL_CLUSTER in RULES
    for name in ("welch", "effective", "effective_fitted"):
        assert "heuristic" in RULES[name].label and not RULES[name].published
    for name in ("cr2_bm", "wcr_webb", "wcu_webb", "ri"):
        assert RULES[name].published and RULES[name].citation


@pytest.fixture(scope="module")
def world():
    return simulate(World(**DESIGNS["g30t8"]), 11, 1, tau=0.5)


def test_cs_headline_and_event_study_interface(world):
    kw = dict(yname="y", tname="period", idname="unit", gname="g", clustervars="cluster")
    h = cs_headline(world, **kw)
    lo, hi = h.overall_ci
    assert lo < h.overall_att < hi
    assert h.inference["rule"] in (SMALL_CLUSTER, RULES[SMALL_CLUSTER].name, "wcu_webb")
    es = cs_event_study(world, **kw)
    pt = es.pretest()
    # the report's rule is randomisation inference: its pre-test is the permutation Wald test
    assert pt["method"] == ("ri_wald" if SMALL_CLUSTER.startswith("ri") else "wild_wald_unrestricted")
    assert 0 < pt["pvalue"] <= 1 and pt["slope80"] > 0
    tb = es.tidy()
    post = tb[tb.event_time >= 0]
    assert np.all(post.ci_low <= post.att) and np.all(post.att <= post.ci_high)
    # not-yet-treated controls with a covariate: randomisation inference by re-estimation, no fallback
    h2 = cs_headline(world.assign(x=world["unit"] % 7), **kw, control_group="notyettreated", xformla="~ x")
    assert np.all(np.isfinite(h2.overall_ci))
    assert h2.inference["rule"] == SMALL_CLUSTER and "fallback_from" not in h2.inference
    # no cluster variable: R's unit-level path, untouched
    h3 = cs_headline(world, **{**kw, "clustervars": None})
    assert h3.inference is None


def test_small_monte_carlo_sanity():
    out = run_design("g30t8", range(1000, 1012), ("none", "cr2_bm", "wcu_webb"), biters=199)
    assert out["worlds"] == 12 and out["failed"] == 0
    r = out["rules"]
    assert r["none"]["width_ratio"] < r["cr2_bm"]["width_ratio"]  # the small-sample rule widens CR0's interval
    assert 0 <= out["pretest_size"] <= 1 and out["pretest_size_unit_chi2"] >= out["pretest_size"]
    for v in r.values():
        assert 0.5 <= v["coverage"] <= 1 and 0 <= v["power"] <= 1


def test_honest_did_bounds_the_simple_aggregation(world):
    from ceci_impact.did import honest_did
    from ceci_impact.did.inference import simple_event_weights

    kw = dict(yname="y", tname="period", idname="unit", gname="g", clustervars="cluster")
    es = cs_event_study(world, **kw)
    lv, covered = simple_event_weights(es)
    assert covered == pytest.approx(1.0) and sum(lv.values()) == pytest.approx(1.0)
    h = honest_did(es, l_vec=lv, Mvec=[0.0], target="headline")
    assert np.mean(h.original) == pytest.approx(cs_headline(world, **kw).overall_att, rel=1e-10)
    es_short = cs_event_study(world, **kw, max_e=2)
    lv2, covered2 = simple_event_weights(es_short)
    assert 0 < covered2 < 1 and sorted(lv2) == [0.0, 1.0, 2.0]


def test_effective_clusters_reported_as_a_diagnostic(world):
    h = cs_headline(world, yname="y", tname="period", idname="unit", gname="g", clustervars="cluster")
    gs = h.to_dict()["inference"]["gstar"]
    assert gs is not None and 1 <= gs[-1] <= h.inference["clusters"]


def test_point_estimates_only_skip_the_rule(mpdta):
    """The truth of an estimand (the estimator on the simulated effects) needs no interval: ``inference=False`` runs
    no small-cluster rule, so degenerate scores (no sampling error) cannot break it (found by the held-out Monte
    Carlo: the wild-bootstrap fallback had no finite bootstrap t)."""
    from ceci_impact.study.specification import Specification, _cs

    d = mpdta.assign(cl=mpdta["countyreal"] % 40, flat=0.1 * (mpdta["year"] >= mpdta["first_treat"]).astype(float)
                     * (mpdta["first_treat"] > 0))
    spec = Specification(yname="flat", tname="year", idname="countyreal", gname="first_treat", clustervars="cl",
                         control_group="nevertreated")
    r = _cs(d, spec, yname="flat", inference=False, seed=0, biters=9)
    assert r.params["small_cluster"] == "none"
    assert abs(r.aggte("simple", na_rm=True).overall_att - 0.1) < 1e-12
    with_rule = _cs(d, spec, yname="flat", inference=True, seed=0, biters=99).aggte("simple", na_rm=True)
    assert abs(with_rule.overall_att - 0.1) < 1e-12  # no crash on degenerate scores, whatever the interval
