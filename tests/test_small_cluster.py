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
