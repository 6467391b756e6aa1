"""HonestDiD relative magnitudes (Delta^RM, C-LF and conditional intervals) and the ARP machinery behind them.

Reference values
- tests/reference/mpdta_R_peers_other.json, ``R_HonestDiD`` (copied from the project peer-output file
  mpdta_R_peers.json, tests/reference/PROVENANCE.md; HonestDiD 0.2.6, R 4.2.2): relative-magnitude C-LF intervals
  for Mbar = 0, 0.5, 1, 1.5, 2 of the TWFE and the
  Callaway–Sant'Anna (not-yet-treated, universal base) event studies on mpdta. The issue asks for 1e-4; the
  intervals are grid values (step 4.4e-4), so agreement means every grid decision at the ends matches R.
- tests/reference/honestdid_R_extra.json: further cases computed for this repository with HonestDiD's own R
  sources (commit 618494f, version 0.2.6; ``computeConditionalCS_DeltaRM`` called directly) on R 4.2.2 with
  mvtnorm 1.1-3, lpSolveAPI 5.5.2.0-17.15, Rglpk 0.6-4 and TruncatedNormal's ``norminvp``: one post period (the
  no-nuisance test), the average of post periods, a later post period, the purely conditional test, and two
  random event studies (5 pre × 6 post, 1 pre × 3 post). Each case stores R's lower/upper bound and the number
  of accepted grid values; also R's ``set.seed(0); mvtnorm::rmvnorm`` draws and ``TruncatedNormal::norminvp``
  quantiles; and ``sd_cases``: smoothness intervals by test inversion (``computeConditionalCS_DeltaSD``, C-LF and
  conditional; one and several post periods, post average) with R's grid ends.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from ceci_impact import CeciError
from ceci_impact.did import att_gt, honest_did, twfe
from ceci_impact.did.honest.arp import DualLP, truncnorm_quantile
from ceci_impact.did.honest.deltarm import conditional_cs_rm, create_A_RM, identified_set_rm
from ceci_impact.did.honest.deltasd import conditional_cs_sd, create_A_SD
from ceci_impact.did.honest.honest import event_study_moments
from ceci_impact.did.honest.r_compat import r_rmvnorm

from .conftest import REF

PEERS = json.loads((REF / "mpdta_R_peers_other.json").read_text())["R_HonestDiD"]
EXTRA = json.loads((REF / "honestdid_R_extra.json").read_text())
KW = dict(yname="lemp", tname="year", idname="countyreal", gname="first_treat")


def test_r_random_draws_and_truncated_normal_quantiles():
    m = EXTRA["r_primitives"]
    np.testing.assert_allclose(r_rmvnorm(4, np.array(m["sigma"])), m["rmvnorm"], atol=1e-12)
    np.testing.assert_allclose(r_rmvnorm(2, np.array(m["sigma_singular"])), m["rmvnorm_singular"], atol=1e-12)
    for (p, lo, hi), q in zip(m["norminvp_args"], m["norminvp"], strict=True):
        assert truncnorm_quantile(p, float(lo), float(hi)) == pytest.approx(q, abs=1e-8)


def test_dual_lp_matches_direct_linear_programmes():
    """The cached dual-vertex solver returns the LP optimum for every right-hand side, including degenerate
    problems (rows without nuisance parameters, as in Delta^RM)."""
    rng = np.random.default_rng(7)
    for M, k in ((8, 3), (14, 6), (6, 1)):
        X = rng.normal(size=(M, k))
        X[:2] = 0.0  # moments without nuisance parameter → degenerate dual vertices
        sd = rng.uniform(0.5, 2.0, size=M)
        Y = rng.normal(size=(300, M)) @ np.diag(sd)
        lp = DualLP(sd, X)
        eta, lam, _ = lp.solve(Y)
        direct = [optimize.linprog(np.r_[1.0, np.zeros(k)], A_ub=-np.column_stack([sd, X]), b_ub=-y,
                                   bounds=[(None, None)] * (k + 1), method="highs").fun for y in Y[:60]]
        np.testing.assert_allclose(eta[:60], direct, atol=1e-9)
        np.testing.assert_allclose(np.einsum("ij,ij->i", lam, Y), eta, atol=1e-9)  # lam is an optimal dual vertex
        assert (lam >= -1e-12).all() and np.allclose(lam @ np.column_stack([sd, X]), np.eye(k + 1)[0], atol=1e-9)
        assert lp.lp_solves < 0.7 * len(Y)  # many right-hand sides settled by a known vertex


def test_create_A_RM_restriction():
    """A delta <= 0 holds exactly for trend differences inside Delta^RM(Mbar) and fails outside."""
    K, P = 3, 2
    pre = np.array([0.0, 0.01, -0.01])  # changes +0.01, -0.02, then +0.01 into delta_0 = 0
    A = create_A_RM(K, P, 1.0, 0, max_positive=False)
    ok = np.r_[pre, 0.015, 0.0]  # post changes 0.015, -0.015 — within Mbar=1 × 0.02
    bad = np.r_[pre, 0.025, 0.0]
    # the largest pre-period change (-0.02, into t = -1) is s = -1 in R's indexing, with negative sign
    A_s = create_A_RM(K, P, 1.0, -1, max_positive=False)
    assert (A_s @ ok <= 1e-12).all() and not (A_s @ bad <= 1e-12).all()
    assert A.shape[1] == K + P


def test_identified_set_rm_is_an_interval_widening_in_mbar():
    b = np.array(PEERS["twfe_es"]["betahat"])
    sets = [identified_set_rm(m, b, np.eye(4)[0], 3, 4) for m in (0, 0.5, 1, 2)]
    assert sets[0][0] == pytest.approx(b[3], abs=1e-10) and sets[0][1] == pytest.approx(b[3], abs=1e-10)
    assert all(a[0] >= c[0] - 1e-12 and a[1] <= c[1] + 1e-12 for a, c in zip(sets, sets[1:], strict=False))


@pytest.mark.parametrize("key", ["twfe_es", "cs_es_notyet_universal"])
def test_relative_magnitudes_match_R_from_betahat(key):
    e = PEERS[key]
    b, S = np.array(e["betahat"]), np.array(e["sigma"])
    widths = []
    for row in e["relative_magnitudes"]:
        grid, acc = conditional_cs_rm(b, S, e["numPrePeriods"], e["numPostPeriods"], Mbar=row["Mbar"])
        assert grid[acc].min() == pytest.approx(row["lb"], abs=1e-4)
        assert grid[acc].max() == pytest.approx(row["ub"], abs=1e-4)
        widths.append(grid[acc].max() - grid[acc].min())
    assert (np.diff(widths) > 0).all()


def test_relative_magnitudes_match_R_from_our_event_studies(mpdta):
    tw = twfe(mpdta, type="event_study", **KW)
    cs = att_gt(mpdta, control_group="notyettreated", base_period="universal", bstrap=False, cband=False, **KW)
    for res, key in ((tw, "twfe_es"), (cs.aggte("dynamic"), "cs_es_notyet_universal")):
        e = PEERS[key]
        mbar = [r["Mbar"] for r in e["relative_magnitudes"]]
        h = honest_did(res, e=0, type="relative_magnitude", Mbarvec=mbar)
        t = h.tidy()
        assert list(t.columns) == ["M", "lb", "ub", "method"] and t.method.iat[0] == "Original"
        assert (h.table.method == "C-LF").all()
        np.testing.assert_allclose(h.table.lb, [r["lb"] for r in e["relative_magnitudes"]], atol=1e-4)
        np.testing.assert_allclose(h.table.ub, [r["ub"] for r in e["relative_magnitudes"]], atol=1e-4)
        # with Mbar = 0 the interval sits close to the original one (R: [-0.0398, 0.0033] vs [-0.0397, 0.0034])
        assert abs(h.table.lb.iat[0] - h.original[0]) < 1e-3 and abs(h.table.ub.iat[0] - h.original[1]) < 1e-3
        assert h.to_dict()["type"] == "relative_magnitude"
        assert "Relative magnitudes" in h._repr_html_()


R_CASES = [(section, c["name"]) for section in ("cases", "sd_cases", "directional_cases", "linear_trend_cases")
           for c in EXTRA[section]]


@pytest.mark.parametrize(("section", "case"), R_CASES)
def test_conditional_intervals_match_R_other_cases(section, case):
    """The R runs of honestdid_R_extra.json: relative magnitudes (``cases``), smoothness by test inversion
    (``sd_cases``), sign and shape restrictions RMB/RMM/SDB/SDM (``directional_cases``) and deviations from a
    linear trend SDRM/SDRMB/SDRMM (``linear_trend_cases``)."""
    c = next(x for x in EXTRA[section] if x["name"] == case)
    smooth = section == "sd_cases" or c.get("family") == "SD"
    kw = dict(hybrid="LF" if c["method"] == "C-LF" else "ARP", bias_direction=c.get("biasDirection"),
              monotonicity_direction=c.get("monotonicityDirection"))
    if section == "linear_trend_cases":
        kw["linear_trend"] = True
    fn = conditional_cs_sd if smooth else conditional_cs_rm
    for r in c["R"]:
        value = r["value"] if "value" in r else r["M"] if smooth else r["Mbar"]
        grid, acc = fn(np.array(c["betahat"]), np.array(c["sigma"]), c["numPrePeriods"], c["numPostPeriods"],
                       np.array(c["l_vec"], float), value, **kw)
        if "grid_lb" in r:  # R's default grid
            assert grid[0] == pytest.approx(r["grid_lb"], abs=1e-12) and grid[-1] == pytest.approx(r["grid_ub"], abs=1e-12)
        assert grid[acc].min() == pytest.approx(r["lb"], abs=1e-4)
        assert grid[acc].max() == pytest.approx(r["ub"], abs=1e-4)
        assert abs(int(acc.sum()) - r["n_accept"]) <= 2  # interior grid decisions agree too


def test_honest_did_relative_magnitude_options_and_errors(mpdta):
    tw = twfe(mpdta, type="event_study", **KW)
    avg = honest_did(tw, e="average", type="relative_magnitude", Mbarvec=[0.5], method="Conditional")
    assert avg.table.method.iat[0] == "Conditional" and avg.target == "average post-treatment effect"
    assert honest_did(tw, type="relative_magnitude", Mbarvec=[1.0]).params["method"] == "C-LF"
    with pytest.raises(CeciError, match="not available for type='relative_magnitude'"):
        honest_did(tw, type="relative_magnitude", method="FLCI")
    with pytest.raises(CeciError, match="is not allowed"):
        honest_did(tw, type="relative_magnitude", method="C-F")
    with pytest.raises(CeciError, match="universal base period"):
        honest_did(att_gt(mpdta, bstrap=False, **KW).aggte("dynamic"), type="relative_magnitude")
    with pytest.warns(UserWarning, match="end of the grid"):
        honest_did(tw, type="relative_magnitude", Mbarvec=[2.0], grid_lb=-0.05, grid_ub=0.05, gridPoints=101)
    e, b, S = event_study_moments(tw)
    assert list(e) == [-4, -3, -2, 0, 1, 2, 3] and np.isfinite(S).all()


def test_breakdown_and_verdict_for_relative_magnitudes():
    from ceci_impact.did.honest.honest import HonestResult
    from ceci_impact.study.analysis import honest_verdict

    table = pd.DataFrame({"M": [0.0, 0.5, 1.0], "lb": [0.01, 0.002, -0.01], "ub": [0.05, 0.06, 0.07], "method": "C-LF"})
    h = HonestResult(table=table, original=(0.012, 0.048), target="effect at event time 0", alpha=0.05,
                     params={"type": "relative_magnitude"})
    assert h.breakdown == 1.0
    assert "1 times the largest pre-treatment violation" in honest_verdict(h)


def test_honest_did_reads_imputation_and_sun_abraham(mpdta):
    """Every event-study estimator feeds HonestDiD: the imputation estimator's joint covariance (pre-trend
    coefficients and event-time effects from their cluster scores) has the reported SEs on its diagonal and is
    positive semi-definite; relative-magnitude and smoothness intervals widen with M̄ and M."""
    from ceci_impact.did import did_imputation, sun_abraham

    imp = did_imputation(mpdta, **KW)
    V = imp.vcov.to_numpy()
    se = imp.table.set_index("event_time").se.reindex(imp.vcov.index).to_numpy()
    np.testing.assert_allclose(np.sqrt(np.diag(V)), se, rtol=1e-12)
    assert np.linalg.eigvalsh(V).min() > -1e-12 and np.abs(V - V.T).max() < 1e-15
    for res in (imp, sun_abraham(mpdta, **KW)):
        rm = honest_did(res, type="relative_magnitude", Mbarvec=[0, 1, 2])
        sd = honest_did(res, type="smoothness", Mvec=[0, 0.01, 0.02])
        for h in (rm, sd):
            w = (h.table.ub - h.table.lb).to_numpy()
            assert (np.diff(w) > 0).all() and np.isfinite(w).all()


def test_honest_breakdown_brackets_the_switch(mpdta):
    from ceci_impact.did import honest_breakdown

    tw = twfe(mpdta, type="event_study", **KW)
    bd = honest_breakdown(tw, e=1, type="relative_magnitude", tol=0.005)
    assert 0 < bd < 2
    t = honest_did(tw, e=1, type="relative_magnitude", Mbarvec=[bd - 0.005, bd]).table
    assert not (t.lb.iat[0] <= 0 <= t.ub.iat[0]) and t.lb.iat[1] <= 0 <= t.ub.iat[1]
    assert honest_breakdown(tw, e=0, type="relative_magnitude") == 0.0  # the original interval already covers zero
    assert honest_breakdown(tw, e=1, type="relative_magnitude", upper=0.1) is None


def test_verdict_when_robust_intervals_move_away_from_zero():
    from ceci_impact.did.honest.honest import HonestResult
    from ceci_impact.study.analysis import honest_verdict

    table = pd.DataFrame({"M": [0.0, 0.001], "lb": [-0.016, -0.017], "ub": [-0.002, -0.001], "method": "FLCI"})
    h = HonestResult(table=table, original=(-0.012, 0.0015), target="effect at event time 0", alpha=0.05,
                     params={"type": "smoothness"})
    v = honest_verdict(h)
    assert "robust intervals lie below zero" in v and "already includes zero" not in v
    assert "The original interval already includes zero." in h._repr_html_()


def test_smoothness_methods_through_honest_did(mpdta):
    tw = twfe(mpdta, type="event_study", **KW)
    A = create_A_SD(3, 4)
    assert A.shape == (12, 7) and (A @ np.r_[0.03, 0.02, 0.01, -0.01, -0.02, -0.03, -0.04] <= 1e-12).all()  # linear
    ref = next(x for x in EXTRA["sd_cases"] if x["name"] == "sd_twfe_lf")
    h = honest_did(tw, type="smoothness", method="C-LF", Mvec=[r["M"] for r in ref["R"]])
    np.testing.assert_allclose(h.table.lb, [r["lb"] for r in ref["R"]], atol=1e-4)
    np.testing.assert_allclose(h.table.ub, [r["ub"] for r in ref["R"]], atol=1e-4)
    assert (h.table.method == "C-LF").all() and h.params["method"] == "C-LF"


def test_honest_did_bias_direction_options(mpdta):
    tw = twfe(mpdta, type="event_study", **KW)
    ref = next(x for x in EXTRA["directional_cases"] if x["name"] == "rmb_twfe_neg")
    h = honest_did(tw, type="relative_magnitude", Mbarvec=[r["value"] for r in ref["R"]], biasDirection="negative")
    np.testing.assert_allclose(h.table.lb, [r["lb"] for r in ref["R"]], atol=1e-4)
    np.testing.assert_allclose(h.table.ub, [r["ub"] for r in ref["R"]], atol=1e-4)
    assert "negative" in h._repr_html_() and h.params["biasDirection"] == "negative"
    plain = honest_did(tw, type="relative_magnitude", Mbarvec=[1.0])
    assert (h.table.ub.iat[-1] - h.table.lb.iat[-1]) <= (plain.table.ub.iat[0] - plain.table.lb.iat[0]) + 1e-12
    assert honest_did(tw, type="smoothness", Mvec=[0.01], monotonicityDirection="decreasing").params["method"] == "C-LF"
    with pytest.raises(CeciError, match="need method='C-LF' or 'Conditional'"):
        honest_did(tw, type="smoothness", method="FLCI", biasDirection="positive")
    with pytest.raises(CeciError, match="not both"):
        honest_did(tw, type="relative_magnitude", biasDirection="positive", monotonicityDirection="increasing")
    with pytest.raises(CeciError, match="is not allowed"):
        honest_did(tw, type="relative_magnitude", biasDirection="up")
    with pytest.raises(CeciError, match="gridPoints must be an integer"):
        honest_did(tw, type="relative_magnitude", gridPoints=1)
    with pytest.raises(CeciError, match="Mvec must be non-negative"):
        honest_did(tw, Mvec=[-0.01])


def test_honest_did_linear_trend_bound(mpdta):
    tw = twfe(mpdta, type="event_study", **KW)
    ref = next(x for x in EXTRA["linear_trend_cases"] if x["name"] == "sdrm_twfe")
    h = honest_did(tw, type="relative_magnitude", bound="deviation from linear trend", Mbarvec=[r["value"] for r in ref["R"]])
    np.testing.assert_allclose(h.table.lb, [r["lb"] for r in ref["R"]], atol=1e-4)
    np.testing.assert_allclose(h.table.ub, [r["ub"] for r in ref["R"]], atol=1e-4)
    assert "linear trend" in h._repr_html_()
    with pytest.raises(CeciError, match="applies to type='relative_magnitude' only"):
        honest_did(tw, type="smoothness", bound="deviation from linear trend")
    with pytest.raises(CeciError, match="at least two pre-periods"):
        conditional_cs_rm(np.zeros(3), np.eye(3), 1, 2, linear_trend=True)


def test_binned_twfe_endpoints_are_left_out(mpdta):
    """Binned end points pool several event times, so HonestDiD does not treat them as single periods."""
    kw = dict(type="event_study", **KW)
    assert twfe(mpdta, min_e=-4, max_e=3, **kw).params["binned"] == []  # nothing pooled: all periods kept
    e, _, _ = event_study_moments(twfe(mpdta, min_e=-3, max_e=2, **kw))
    assert list(e) == [-2, 0, 1]


def test_pooled_poisson_end_points_are_recorded_and_left_out():
    """The Poisson event study records the end points it pools, so HonestDiD leaves them out (as for TWFE)."""
    from ceci_impact.did import poisson_event_study

    rng = np.random.default_rng(3)
    n, T = 300, 12
    g = np.where(np.arange(n) < 100, 6, np.where(np.arange(n) < 200, 8, 0))
    df = pd.DataFrame({"id": np.repeat(np.arange(n), T), "t": np.tile(np.arange(1, T + 1), n), "g": np.repeat(g, T)})
    df["y"] = rng.poisson(np.exp(1 + 0.2 * ((df.g > 0) & (df.t >= df.g))))
    r = poisson_event_study(df, yname="y", tname="t", idname="id", gname="g", min_e=-3, max_e=2)
    assert r.params["binned"] == [-3, 2]
    e, _, _ = event_study_moments(r)
    assert -3 not in e and 2 not in e and {-2, 0, 1} <= set(e)


def test_cs_honest_covariance_is_clustered(mpdta):
    """HonestDiD reads the CS event study's covariance clustered as the estimate (sums within clusters)."""
    from ceci_impact.did import att_gt

    d = mpdta.assign(state=mpdta.countyreal // 40)
    kw = dict(yname="lemp", tname="year", idname="countyreal", gname="first_treat", base_period="universal",
              bstrap=False, cband=False)
    a = att_gt(d, **kw).aggte("dynamic")
    b = att_gt(d, clustervars="state", **kw).aggte("dynamic")
    _, _, Sa = event_study_moments(a)
    _, _, Sb = event_study_moments(b)
    assert not np.allclose(Sa, Sb)
    np.testing.assert_allclose(np.sqrt(np.diag(Sb)), b.se_egt[b.egt != -1], rtol=1e-10)
