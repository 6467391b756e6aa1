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
