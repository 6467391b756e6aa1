"""spillover_did's intervals under the inference registry's rules: the BJS cluster scores and the wild cluster
bootstrap-t checked against an explicit row-level computation, the registry's report rule and fallback honoured,
unsupported rules refused in one line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ceci_impact._options import CeciError
from ceci_impact.did.inference import REPORT_RULE, RULES, draw_weights
from ceci_impact.did.inference.registry import RI_FALLBACK
from ceci_impact.did.spatial import spillover_did

# R didimputation's cell means (the explicit computations below use them); the default's leave-out variance is
# checked by test_scores_match_dense_bjs[True] and test_leaveout_default_and_ri_fallback
KW = dict(yname="y", tname="t", idname="id", distname="dist", clustervars="zone", horizon=False, pretrends=False,
          leaveout=False)


def world(seed: int, n: int = 240, T: int = 8) -> pd.DataFrame:
    """Units on a 40 x 40 km square, 4 centres opening in periods 3..10, zone x period shocks (zones of 5 km)."""
    rng = np.random.default_rng(seed)
    xy, sxy = rng.uniform(0, 40, (n, 2)), rng.uniform(5, 35, (4, 2))
    open_t = rng.integers(3, T + 3, 4)
    t = np.arange(1, T + 1)
    dist = np.sqrt(((xy[:, None] - sxy[None]) ** 2).sum(-1))
    D = np.where(open_t[None, None] <= t[None, :, None], dist[:, None], np.inf).min(-1)
    zone = (xy[:, 0] // 5).astype(int) * 8 + (xy[:, 1] // 5).astype(int)
    tau = np.where(D <= 3, 1.0, np.where(D <= 10, 0.3, 0.0))
    y = (rng.normal(size=n)[:, None] + 0.1 * t[None] + rng.normal(0, 0.5, (64, T))[zone] + tau
         + rng.normal(size=(n, T)))
    return pd.DataFrame({"id": np.repeat(np.arange(n), T), "t": np.tile(t, n), "y": y.ravel(), "dist": D.ravel(),
                         "zone": np.repeat(zone, T)})


def explicit_direct(df: pd.DataFrame, leaveout: bool = False):
    """The direct effect's estimate, cluster scores and per-row pieces from dense least squares (BJS 2024,
    Theorem 3; no solver of the package): returns est, scores by cluster, the treated rows' cluster, cell and
    residual ``w (tau - tbar_cell)``, and the untreated part of each cluster's score."""
    df = df.sort_values(["id", "t"]).reset_index(drop=True)
    d = df.dist.to_numpy(float)
    always = pd.Series(d <= 10).groupby(df.id).transform("all").to_numpy()
    df, d = df[~always].reset_index(drop=True), d[~always]
    exposed, inner = d <= 10, d <= 3
    U = pd.get_dummies(df.id).to_numpy(float)
    P = pd.get_dummies(df.t).to_numpy(float)[:, 1:]
    Z = np.column_stack([U, P])
    Z0 = Z[~exposed]
    y = df.y.to_numpy(float)
    coef = np.linalg.lstsq(Z0, y[~exposed], rcond=None)[0]
    adj = y - Z @ coef
    rows = np.flatnonzero(inner)
    w1 = np.full(rows.size, 1.0 / rows.size)
    v0 = -Z0 @ np.linalg.pinv(Z0.T @ Z0) @ (Z[rows].T @ w1)  # BJS weights of the untreated outcomes
    cl = pd.factorize(df.zone)[0]
    G = cl.max() + 1
    g0 = pd.Series(np.where(inner, df.t, np.inf)).groupby(df.id).transform("min").to_numpy()
    cell = pd.factorize(g0[rows] * 1000 + df.t.to_numpy(float)[rows])[0]  # cohort x period of the inner ring
    tau = adj[rows]
    tbar = pd.Series(tau).groupby(cell).transform("mean").to_numpy().copy()
    if leaveout:  # BJS's leave-out average: the cell's rows in other clusters (else all rows in other clusters)
        c = cl[rows]
        for i in range(rows.size):
            other = (cell == cell[i]) & (c != c[i])
            tbar[i] = tau[other].mean() if other.any() else tau[c != c[i]].mean()
    e1 = w1 * (tau - tbar)
    ctrl = np.bincount(cl[~exposed], weights=v0 * adj[~exposed], minlength=G)
    s = ctrl + np.bincount(cl[rows], weights=e1, minlength=G)
    return float(w1 @ tau), s, cl[rows], cell, e1, ctrl


@pytest.mark.parametrize("leaveout", [False, True])
def test_scores_match_dense_bjs(leaveout):
    """The direct effect and its cluster scores equal the dense BJS computation, with R's cell means and with the
    leave-out averages (the default)."""
    df = world(5)
    r = spillover_did(df, **{**KW, "leaveout": leaveout})
    est, s, *_ = explicit_direct(df, leaveout)
    assert r.overall_att == pytest.approx(est, abs=1e-10)
    np.testing.assert_allclose(r.scores["direct (0, 3]"].to_numpy(), s, atol=1e-10)
    assert r.overall_se == pytest.approx(np.sqrt((s**2).sum()), rel=1e-10)
    assert r.params["leaveout"] is leaveout


@pytest.mark.parametrize("seed", [5, 6])
def test_wild_unrestricted_matches_explicit_bootstrap(seed):
    """wcu_webb's interval is the percentile-t interval of an explicit bootstrap loop: each world multiplies the
    clusters' residuals by Webb weights, re-centres the treated residuals within their cohort x event-time cell
    (the cell means re-estimated) and recomputes the clustered t statistic."""
    df, B = world(seed), 199
    r = spillover_did(df, **KW, small_cluster="wcu_webb", biters=B, seed=11)
    est, s, cl1, cell, e1, ctrl = explicit_direct(df)
    G = s.size
    V, _ = draw_weights("webb", G, B, np.random.default_rng(11))
    se = np.sqrt((s**2).sum())
    t = np.empty(B)
    for b in range(B):
        e = V[b, cl1] * e1
        e -= pd.Series(e).groupby(cell).transform("mean").to_numpy()  # the cell means re-estimated
        sb = V[b] * ctrl + np.bincount(cl1, weights=e, minlength=G)
        t[b] = abs((V[b] * s).sum()) / np.sqrt((sb**2).sum())
    q = np.sort(t)[int(np.ceil(0.95 * B)) - 1]
    lo, hi = r.overall_ci
    assert lo == pytest.approx(est - q * se, rel=1e-8) and hi == pytest.approx(est + q * se, rel=1e-8)
    assert r.inference["rule"] == "wcu_webb" and "fallback_from" not in r.inference


def test_wild_restricted_inverts_the_explicit_test():
    """wcr_webb's interval ends are where the explicit restricted bootstrap test (cell means moved to theta0)
    crosses the 5 % level: just inside the interval the p-value is above 0.05, just outside at or below."""
    df, B = world(7), 199
    r = spillover_did(df, **KW, small_cluster="wcr_webb", biters=B, seed=3)
    est, s, cl1, cell, e1, ctrl = explicit_direct(df)
    G, n1 = s.size, cl1.size
    V, _ = draw_weights("webb", G, B, np.random.default_rng(3))
    se = np.sqrt((s**2).sum())

    def pvalue(theta0):
        e1r = e1 + (est - theta0) / n1  # treated residuals under H0: every cell's effect equals theta0
        sr = ctrl + np.bincount(cl1, weights=e1r, minlength=G)
        ts = np.empty(B)
        for b in range(B):
            e = V[b, cl1] * e1r
            e -= pd.Series(e).groupby(cell).transform("mean").to_numpy()
            sb = V[b] * ctrl + np.bincount(cl1, weights=e, minlength=G)
            ts[b] = abs((V[b] * sr).sum()) / np.sqrt((sb**2).sum())
        return np.mean(ts >= abs(est - theta0) / se * (1 - 1e-10))

    lo, hi = r.overall_ci
    eps = 1e-3 * se
    assert lo < est < hi
    assert pvalue(lo + eps) > 0.05 >= pvalue(lo - eps)
    assert pvalue(hi - eps) > 0.05 >= pvalue(hi + eps)


def test_report_rule_and_fallback_honoured():
    """The reports' rule (the registry's REPORT_RULE) cannot permute a schedule spillover_did does not see: the
    registered fallback is applied and named; the heuristic is labelled; unsupported and unknown rules give one
    line listing the allowed values; estimates never depend on the rule."""
    df = world(5)
    rep = spillover_did(df, **KW, small_cluster=REPORT_RULE, biters=99, seed=1)
    fb = spillover_did(df, **KW, small_cluster=RI_FALLBACK, biters=99, seed=1)
    assert rep.inference["requested"] == REPORT_RULE
    if REPORT_RULE == "ri":
        assert rep.inference["fallback_from"] == "ri" and rep.inference["rule"] == RI_FALLBACK
        assert "not applicable" in rep.inference["label"]
        pd.testing.assert_frame_equal(rep.ring_effects(), fb.ring_effects())
    assert "heuristic" in spillover_did(df, **KW, small_cluster="effective").inference["label"]
    none = spillover_did(df, **KW).ring_effects()
    np.testing.assert_allclose(rep.ring_effects().att, none.att)
    np.testing.assert_allclose(rep.ring_effects().se, none.se)
    assert spillover_did(df, **KW).inference["label"] == RULES["none"].label
    with pytest.raises(CeciError, match="not available for spillover_did.*wcu_webb"):
        spillover_did(df, **KW, small_cluster="cr2_bm")
    with pytest.raises(CeciError, match="small_cluster='wild' is not allowed; expected one of"):
        spillover_did(df, **KW, small_cluster="wild")


def test_every_row_carries_the_rule_interval():
    """Event-time, pre-trend, naive and difference rows all have intervals under the rule, containing the
    estimate; the overall interval is the table's first row."""
    df = world(6)
    r = spillover_did(df, **{**KW, "horizon": True, "pretrends": True}, small_cluster="wcr_webb", biters=99)
    t = r.tidy()
    ok = t.se > 0
    assert t.loc[ok, ["ci_low", "ci_high"]].notna().all().all()
    assert ((t.ci_low[ok] <= t.att[ok]) & (t.att[ok] <= t.ci_high[ok])).all()
    assert r.overall_ci == (t.ci_low.iat[0], t.ci_high.iat[0])
    assert r.to_dict()["inference"]["rule"] == "wcr_webb"


def test_pole_rings_respect_disclosure(small_world, monkeypatch):
    """Pole pages: the ring estimates of a pole use the report rule; a ring with fewer than MIN_CELL employers
    is withheld (estimate and interval missing, '—' in the sentence), and a direct ring under the threshold
    withholds the whole table with a note in both languages."""
    import json
    import warnings

    from ceci_impact import confidentiality
    from ceci_impact.study import spatial_dose as SD
    from ceci_impact.study.site_synth import opened_poles

    proc = small_world / "processed"
    pole = opened_poles(proc)[0]
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        st, note = SD.pole_spillover_study(proc, pole, "separation_rate", biters=99)
        if st is not None:
            assert st.result.inference["requested"] == REPORT_RULE
            json.dumps(st.to_dict())
        monkeypatch.setattr(confidentiality, "MIN_CELL", 10**9)
        st2, note2 = SD.pole_spillover_study(proc, pole, "separation_rate", biters=99)
    assert st2 is None and "withheld" in note2.lang("en") and note2.lang("es") != note2.lang("en")


def test_municipality_doses_and_grid(small_world):
    """Municipality doses: places of the municipality's CECI opened by its cohort month per 100 eligible parents
    of its employers in the first month (recomputed here); the grid lies inside the doses' range."""
    from ceci_impact.data.panels import load
    from ceci_impact.study import spatial_dose as SD
    from ceci_impact.study.samples import municipality_sample

    proc = small_world / "processed"
    df = municipality_sample(proc, "log_women_jobs")
    got = SD.municipality_doses(proc, df).set_index("cvegeo")
    sites, emp = load("sites", proc), load("employer_month", proc)
    elig = emp[emp.period == emp.period.min()].groupby("cvegeo").eligible.sum()
    for cv, g in df.drop_duplicates("cvegeo").query("first_treat > 0").set_index("cvegeo").first_treat.items():
        cap = sites[(sites.cvegeo == cv) & (sites.opening_period > 0) & (sites.opening_period <= g)].capacity.sum()
        want = 100 * cap / elig.get(cv, 0) if cap > 0 and elig.get(cv, 0) > 0 else np.nan
        assert got.ceci_dose[cv] == pytest.approx(want, nan_ok=True)
    dpos = pd.Series([1.234, 2.5, 3.1, 4.75, 5.2, 7.9])
    from ceci_impact.study.dose_response import _dose_grid

    grid = _dose_grid(dpos)
    assert grid.min() >= dpos.min() and grid.max() <= dpos.max() and len(grid) > 3


def test_few_exposed_clusters_warned():
    """The reports' sentence warns (both languages) when fewer than FEW_TREATED_CLUSTERS clusters hold the treated
    ring, and not when there are more (units as clusters)."""
    from ceci_impact.study.spatial_dose import FEW_TREATED_CLUSTERS, SpilloverStudy

    df = world(5, n=800)
    few = spillover_did(df, **KW)
    many = spillover_did(df, **{**KW, "clustervars": None})
    assert few.inference["treated_clusters"] < FEW_TREATED_CLUSTERS <= many.inference["treated_clusters"]
    s_few, s_many = SpilloverStudy(few, "y").sentence(), SpilloverStudy(many, "y").sentence()
    assert "descriptive" in s_few.lang("en") and "descriptivas" in s_few.lang("es")
    assert "descriptive" not in s_many.lang("en") and "descriptivas" not in s_many.lang("es")


def test_leaveout_default_and_ri_fallback():
    """The default is BJS's leave-out variance; where the reports ask for randomisation inference it then applies
    normal intervals on that variance (the held-out choice of benchmarks/SEEDS.md), named on the result."""
    from ceci_impact.did.spatial.inference import ri_fallback

    df = world(6)
    kw = {k: v for k, v in KW.items() if k != "leaveout"}
    d = spillover_did(df, **kw)
    assert d.params["leaveout"] is True and "leave-out" in d.inference["label"]
    rep = spillover_did(df, **kw, small_cluster="ri")
    assert ri_fallback(True) == "none" and rep.inference["rule"] == "none"
    assert rep.inference["fallback_from"] == "ri" and "not applicable" in rep.inference["label"]
    assert "Appendix A.6" in rep.inference["citation"]
    pd.testing.assert_frame_equal(rep.ring_effects(), d.ring_effects())
    r_means = spillover_did(df, **KW)
    np.testing.assert_allclose(d.ring_effects().att, r_means.ring_effects().att)  # estimates never change
    assert not np.allclose(d.ring_effects().se, r_means.ring_effects().se)
