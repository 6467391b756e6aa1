"""The small-cluster correction of the aggregations (``att_gt(..., small_cluster="welch")``), checked by hand.

With a cluster variable, the analytic variance of an aggregation is the sum of squared cluster sums of its
influence function. The correction multiplies the part from clusters that contain treated units by G1/(G1-1) and
the rest by G0/(G0-1), and uses Student-t quantiles with the Welch–Satterthwaite degrees of freedom
(V1 + V0)^2 / (V1^2/(G1-1) + V0^2/(G0-1)). Point estimates are unchanged, and without the option everything is
R's (normal intervals).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ceci_impact import CeciError
from ceci_impact.did import att_gt

from .conftest import REF


@pytest.fixture(scope="module")
def mpdta():
    d = pd.read_csv(REF / "mpdta.csv")
    d["first_treat"] = d["first_treat"].fillna(0)
    d["cl"] = d.countyreal // 37  # coarse clusters: treated and untreated counties share some of them
    return d


def _fit(d, how):
    return att_gt(d, yname="lemp", tname="year", idname="countyreal", gname="first_treat", clustervars="cl",
                  bstrap=False, cband=False, small_cluster=how, est_method="reg")


@pytest.mark.parametrize("agg", ["simple", "dynamic", "group"])
def test_welch_by_hand(mpdta, agg):
    r0, r1 = _fit(mpdta, "none"), _fit(mpdta, "welch")
    a0, a1 = r0.aggte(agg), r1.aggte(agg)
    assert a1.overall_att == a0.overall_att
    inf, cl, ug = a1.inf_overall, r1.cluster, r1.unit_group
    uc, codes = np.unique(cl, return_inverse=True)
    S = np.bincount(codes, weights=inf, minlength=uc.size)
    tr = np.bincount(codes, weights=(ug > 0).astype(float), minlength=uc.size) > 0
    G1, G0 = tr.sum(), (~tr).sum()
    V1, V0 = (S[tr] ** 2).sum() * G1 / (G1 - 1), (S[~tr] ** 2).sum() * G0 / (G0 - 1)
    n = r1.n
    assert a0.overall_se == pytest.approx(np.sqrt((S**2).sum()) / n, rel=1e-12)
    assert a1.overall_se == pytest.approx(np.sqrt(V1 + V0) / n, rel=1e-12)
    df = (V1 + V0) ** 2 / (V1**2 / (G1 - 1) + V0**2 / (G0 - 1))
    assert a1.df_overall == pytest.approx(df, rel=1e-12)
    lo, hi = a1.overall_ci
    assert hi - a1.overall_att == pytest.approx(stats.t.ppf(0.975, df) * a1.overall_se, rel=1e-12)
    lo0, hi0 = a0.overall_ci
    assert hi0 - a0.overall_att == pytest.approx(stats.norm.ppf(0.975) * a0.overall_se, rel=1e-12)
    if agg != "simple":
        t = a1.tidy()
        assert (t.ci_high - t.att >= stats.norm.ppf(0.975) * t.se - 1e-12).all()
        assert np.all(np.isfinite(a1.df_egt))


def test_option_is_checked(mpdta):
    with pytest.raises(CeciError, match="small_cluster"):
        _fit(mpdta, "cr2")


def _clustered_panel(sizes, treated, T=8, seed=0):
    """Clusters of the given sizes; in cluster ``c`` the first ``treated[c]`` (a share) of units are treated at
    period 5."""
    rng = np.random.default_rng(seed)
    rows = []
    uid = 0
    for c, m in enumerate(sizes):
        share = treated[c] if np.ndim(treated) else treated
        for k in range(m):
            g = 5 if k < int(round(share * m)) else 0
            y = rng.normal(size=T) + rng.normal()
            rows += [(uid, t + 1, g, c, y[t]) for t in range(T)]
            uid += 1
    return pd.DataFrame(rows, columns=["id", "t", "g", "cl", "y"])


def _effective_df(d):
    r = att_gt(d, yname="y", tname="t", idname="id", gname="g", clustervars="cl", bstrap=False, cband=False,
               small_cluster="effective")
    return r.aggte("simple"), r


def test_effective_clusters_equal_clusters_give_g_minus_one():
    """Six treated and six untreated clusters of ten units: every cluster weighs the same, G* = G."""
    d = _clustered_panel([10] * 12, [1.0] * 6 + [0.0] * 6)
    a, r = _effective_df(d)
    assert a.df_overall == pytest.approx(12 - 1, rel=1e-9)
    w = att_gt(d, yname="y", tname="t", idname="id", gname="g", clustervars="cl",
               bstrap=False, cband=False, small_cluster="welch").aggte("simple")
    assert a.overall_se == pytest.approx(w.overall_se, rel=1e-12)  # same variance, other degrees of freedom


def test_effective_clusters_fall_when_one_cluster_dominates():
    even, _ = _effective_df(_clustered_panel([10] * 12, [1.0] * 6 + [0.0] * 6))
    skew, _ = _effective_df(_clustered_panel([60] + [4] * 5 + [10] * 6, [1.0] * 6 + [0.0] * 6))
    assert 1 <= skew.df_overall < 0.5 * even.df_overall
    lo, hi = skew.overall_ci
    assert hi - skew.overall_att == pytest.approx(stats.t.ppf(0.975, skew.df_overall) * skew.overall_se, rel=1e-12)


def test_effective_clusters_by_hand():
    """No covariates, one cohort, never-treated controls: each unit's influence function on its outcomes is
    +-(n / W_side) (Y_t - Y_b) summed over the post cells with the aggregation's weights, so the cluster's
    coefficient vector is (n_t,c / n_t - n_0,c / n_0) * n * u with u the cells' combined change vector."""
    d = _clustered_panel([6, 9, 14, 20, 7, 11], 0.4, T=8, seed=3)
    a, r = _effective_df(d)
    units = d.drop_duplicates("id")
    nt, n0, n = (units.g > 0).sum(), (units.g == 0).sum(), len(units)
    share = units.groupby("cl").apply(lambda u: (u.g > 0).sum() / nt - (u.g == 0).sum() / n0).to_numpy() * n
    lam = share**2  # times ||u||^2, common to every cluster
    assert a.df_overall == pytest.approx(lam.sum() ** 2 / (lam**2).sum() - 1, rel=1e-9)


def _fitted_df(d):
    r = att_gt(d, yname="y", tname="t", idname="id", gname="g", clustervars="cl", bstrap=False, cband=False,
               small_cluster="effective_fitted")
    return r.aggte("simple"), r


def test_fitted_working_model_by_hand():
    """The by-hand case above with the fitted working model: cluster c's variance is
    sum_{i in c} s2_i c_i^2 + t2 (sum_{i in c} c_i)^2 (times n^2 ||u||^2), c_i = 1/n_t or -1/n_0, with s2_i and
    t2 from the residuals of y after unit and period means (t2: the mean within-cluster cross-product)."""
    d = _clustered_panel([6, 9, 14, 20, 7, 11], 0.4, T=8, seed=3)
    a, r = _fitted_df(d)
    Y = d.pivot(index="id", columns="t", values="y").to_numpy()
    units = d.drop_duplicates("id").set_index("id").loc[d.id.unique()]
    res = Y - Y.mean(axis=1, keepdims=True)
    res -= res.mean(axis=0)
    T = Y.shape[1]
    cl = units.cl.to_numpy()
    num, pairs = 0.0, 0.0
    for c in np.unique(cl):
        rc = res[cl == c]
        num += ((rc.sum(axis=0) ** 2).sum() - (rc**2).sum())
        pairs += (cl == c).sum() * ((cl == c).sum() - 1)
    t2 = max(num / ((T - 1) * pairs), 0.0)
    s2 = np.maximum((res**2).sum(axis=1) / (T - 1) - t2, 0.0)
    treated = units.g.to_numpy() > 0
    ci = np.where(treated, 1 / treated.sum(), -1 / (~treated).sum())
    lam = np.array([(s2[cl == c] * ci[cl == c] ** 2).sum() + t2 * ci[cl == c].sum() ** 2 for c in np.unique(cl)])
    assert a.df_overall == pytest.approx(lam.sum() ** 2 / (lam**2).sum() - 1, rel=1e-9)
    shared, _ = _effective_df(d)
    assert a.overall_se == pytest.approx(shared.overall_se, rel=1e-12)  # the same variance


def _shocked_panel(sizes, tau, T=12, seed=0):
    """Clusters of the given sizes, 40 % of each treated at period 7; outcomes with a period shock of SD
    ``tau`` shared by each cluster and unit noise of SD 1."""
    rng = np.random.default_rng(seed)
    G = len(sizes)
    v = rng.normal(scale=tau, size=(G, T))
    ids = np.repeat(np.arange(sum(sizes)), T)
    cl_u = np.repeat(np.arange(G), sizes)
    g_u = np.concatenate([np.where(np.arange(m) < int(0.4 * m), 7, 0) for m in sizes])
    y = rng.normal(size=(cl_u.size, T)) + v[cl_u] + rng.normal(size=(cl_u.size, 1))
    return pd.DataFrame({"id": ids, "t": np.tile(np.arange(1, T + 1), cl_u.size), "g": g_u[ids], "cl": cl_u[ids],
                         "y": y.ravel()})


@pytest.mark.parametrize("tau", [0.0, 0.7])
def test_fitted_shock_model_recovers_the_variances(tau):
    """400 clusters of 2 to 40 units: the estimated shared-shock variance and unit noise are the simulated
    ones (within sampling error), and the fitted G* lies between the fully shared one and G."""
    sizes = list(np.random.default_rng(1).integers(2, 41, 400))
    d = _shocked_panel(sizes, tau, seed=2)
    a, r = _fitted_df(d)
    from ceci_impact.did.core.bootstrap import cluster_codes

    s2, t2 = r.influence.shock_model(*cluster_codes(r.cluster))
    assert t2 == pytest.approx(tau**2, abs=0.03)
    assert np.mean(s2) == pytest.approx(1.0, abs=0.03)
    shared, _ = _effective_df(d)
    assert shared.df_overall <= a.df_overall + 1e-9 <= len(sizes)
    if tau == 0:  # independent units: clusters weigh by their units' squared weights, far above the shared G*
        assert a.df_overall > 1.5 * shared.df_overall


def _effective_clusters_per_batch(inf, W, codes, G):
    """The per-batch accumulation ``K += s_b[:, None, None] * u_b[None]`` that ``effective_clusters`` replaced by
    one matrix product (issue 27, part 3): the reference of the common working model."""
    T = inf.Y.shape[1]
    K = np.zeros((G, T, W.shape[1]))
    ref = np.zeros(W.shape[1])
    for b in inf.batches:
        u = inf._outcome_coefficients(b, W, T)
        if u is None:
            continue
        s = np.bincount(codes[b.rows], weights=b.a * b.scale, minlength=G)
        K += s[:, None, None] * u[None]
        ref += ((b.a * b.scale) ** 2).sum() * (u**2).sum(axis=0)
    lam = np.einsum("gtm,gtm->gm", K, K)
    tot = lam.sum(axis=0)
    return np.where(tot > 1e-12 * ref, tot**2 / (lam**2).sum(axis=0), np.nan)


@pytest.mark.parametrize("est_method", ["reg", "dr"])
def test_effective_clusters_matrix_product_equals_per_batch_sums(mpdta, est_method):
    """G* of every column of the dynamic and group aggregations equals the per-batch accumulation to 1e-12 (the
    product sums the batches in another order: float rounding only)."""
    from ceci_impact.did.core.bootstrap import cluster_codes

    r = att_gt(mpdta, yname="lemp", tname="year", idname="countyreal", gname="first_treat", clustervars="cl",
               xformla="~lpop" if est_method == "dr" else None, bstrap=False, cband=False, est_method=est_method,
               small_cluster="effective")
    codes, G = cluster_codes(r.cluster)
    rng = np.random.default_rng(11)
    W = rng.normal(size=(len(r.group), 5))  # arbitrary combinations of the cells, some negative
    got = r.influence.effective_clusters(W, codes, G)
    want = _effective_clusters_per_batch(r.influence, W, codes, G)
    assert np.all(np.isfinite(want)) and np.all(want >= 1)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
