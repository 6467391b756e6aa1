"""The scalable att_gt path (factored influence functions, cohort statistics, streamed bootstrap) against the
direct computation on the materialised units x cells matrix, with the same Mammen weights.

Every quantity is recomputed from ``res.inffunc`` (the sparse matrix built from the factors, the object the
previous implementation held) with the textbook formulas: analytic SEs from column sums of squares (or of
cluster sums), the multiplier bootstrap as ``mboot`` on that matrix, aggregations as ``inffunc @ weights`` plus
the estimated-weights term. Tolerance 1e-10 (relative)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from ceci_impact.did import att_gt
from ceci_impact.did.core.bootstrap import cluster_sums, mboot
from ceci_impact.did.core.mammen import K1, K2, P1_U16, MammenWeights
from ceci_impact.did.cs.aggte import _wif_times

TOL = 1e-10
BOOT_TOL = 1e-4  # bootstrap sums in float32 products (ceci_impact.did.core.mammen): about 1e-6, at worst 1e-5, relative


def _panel(n=900, T=14, seed=0, unbalanced=False):
    rng = np.random.default_rng(seed)
    g = np.where(rng.random(n) < 0.6, rng.choice([5, 8, 11], n), 0)
    x = rng.normal(size=n)
    t = np.tile(np.arange(1, T + 1), n)
    gg = np.repeat(g, T)
    y = (np.repeat(rng.normal(size=n) * 3 + 0.5 * x, T) + 0.05 * t * np.repeat(x, T)
         + np.where((gg > 0) & (t >= gg), 0.4, 0.0) + rng.normal(size=n * T))
    df = pd.DataFrame({"id": np.repeat(np.arange(n) * 7 + 3, T), "t": t, "g": gg, "x": np.repeat(x, T), "y": y,
                       "cl": np.repeat(np.arange(n) % 37, T), "w": np.repeat(1 + (np.arange(n) % 4) / 2, T)})
    df = df.sample(frac=1.0, random_state=seed)  # rows in no particular order: the general path
    if unbalanced:
        df = df.iloc[: int(len(df) * 0.97)]
    return df


def _close(a, b, rtol=TOL):
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert np.array_equal(np.isnan(a), np.isnan(b))
    m = ~np.isnan(a)
    np.testing.assert_allclose(a[m], b[m], rtol=rtol, atol=1e-14)


CASES = [
    dict(xformla="~ x"),
    dict(xformla=None),
    dict(xformla=None, control_group="notyettreated", base_period="universal"),
    dict(xformla="~ x", control_group="notyettreated", weightsname="w"),
    dict(xformla=None, weightsname="w", clustervars="cl"),
    dict(xformla="~ x", clustervars="cl", est_method="ipw"),
    dict(xformla="~ x", est_method="reg", anticipation=1),
]


@pytest.mark.parametrize("kw", CASES, ids=[str(i) for i in range(len(CASES))])
@pytest.mark.parametrize("sorted_rows", [True, False], ids=["sorted", "shuffled"])
def test_att_gt_equals_the_materialised_computation(kw, sorted_rows):
    df = _panel(seed=3)
    if sorted_rows:
        df = df.sort_values(["id", "t"])
    common = dict(yname="y", tname="t", idname="id", gname="g", **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ra = att_gt(df, bstrap=False, cband=False, **common)
        rb = att_gt(df, bstrap=True, cband=True, biters=299, seed=11, **common)
    _close(ra.att, rb.att)
    IF, n = ra.inffunc, ra.n
    cluster = ra.cluster
    if cluster is not None:
        var = (cluster_sums(IF, cluster) ** 2).sum(axis=0) / n
    else:
        var = np.asarray(IF.multiply(IF).sum(axis=0)).ravel() / n
    se = np.sqrt(var / n)
    se[~(se > np.sqrt(np.finfo(float).eps) * 10)] = np.nan
    _close(ra.se, se)
    boot = mboot(rb.inffunc, biters=299, alp=0.05, rng=np.random.default_rng(11), cluster=rb.cluster)
    _close(rb.se, np.where(np.isnan(se), np.nan, boot.se), BOOT_TOL)
    assert rb.crit_val == pytest.approx(boot.crit_val, rel=BOOT_TOL)
    # aggregation: inffunc @ weights + the estimated-weights term, one event time at a time
    dyn = ra.aggte("dynamic", na_rm=True)
    att = ra.att
    pg = np.array([np.mean(ra.unit_weights * (ra.unit_group == g)) for g in ra.group])
    ok = ~np.isnan(att)
    for i, e in enumerate(dyn.egt):
        we = np.flatnonzero((ra.t - ra.group == e) & ok)
        wts = pg[we] / pg[we].sum()
        ref = IF[:, we] @ wts + _wif_times(att[we], ra.group[we], pg[we], ra.unit_weights, ra.unit_group)
        _close(dyn.inf_egt[:, i], ref)


def test_unbalanced_panel_path():
    df = _panel(seed=5, unbalanced=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = att_gt(df, yname="y", tname="t", idname="id", gname="g", xformla="~ x", allow_unbalanced_panel=True,
                   bstrap=True, biters=199, seed=2)
    boot = mboot(r.inffunc, biters=199, alp=0.05, rng=np.random.default_rng(2), cluster=None)
    _close(r.se, np.where(r.analytic_na, np.nan, boot.se), BOOT_TOL)


def test_mammen_weights_random_access():
    w = MammenWeights(np.random.default_rng(4), 999, 5000)
    full = w.rows(0, 5000)
    assert set(np.unique(full)) <= {K1, K2} | {K2 + (K1 - K2)}
    np.testing.assert_array_equal(w.rows(1234, 1300), full[1234:1300])
    pieces = np.vstack([w.rows(a, min(5000, a + 700)) for a in range(0, 5000, 700)])
    np.testing.assert_array_equal(pieces, full)
    M = np.random.default_rng(0).normal(size=(5000, 3))  # the streamed product equals the product with V
    ref = full.T @ M  # float32 products of the 0/1 indicators: equal to 1e-5 of the sums' spread
    np.testing.assert_allclose(w.sums(M), ref, rtol=0, atol=1e-5 * np.abs(ref).max())
    share = (full < 0).mean()
    assert abs(share - P1_U16 / 65536) < 4 * np.sqrt(0.2 / full.size)  # P(K1) = 0.7236
    # the generator is advanced past the weights: a second set drawn from it differs
    rng = np.random.default_rng(4)
    MammenWeights(rng, 999, 5000)
    assert not np.array_equal(MammenWeights(rng, 999, 5000).rows(0, 10), full[:10])


def test_no_cell_matrix_is_kept():
    """The result holds factors of a few numbers per unit and comparison, not one per unit and cell."""
    df = _panel(n=2000, T=60, seed=1).sort_values(["id", "t"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = att_gt(df, yname="y", tname="t", idname="id", gname="g", xformla="~ x", bstrap=False)
    factors = r.influence.nbytes - r.influence.Y.nbytes
    assert factors < 0.25 * r.influence.nnz * 8  # about 6 numbers per unit and comparison against 59
    assert "inffunc" not in r.__dict__  # built only on request


@pytest.mark.parametrize("kw", [dict(xformla="~ x"), dict(xformla=None, clustervars="cl"),
                                dict(xformla="~ x", control_group="notyettreated")])
def test_covariance_and_pretest_from_blocks(kw):
    """V and the Wald pre-test come from the factors in blocks; equal to the sparse matrix's cross-products."""
    from ceci_impact.did.core.bootstrap import gram

    df = _panel(seed=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = att_gt(df, yname="y", tname="t", idname="id", gname="g", bstrap=False, **kw)
    ref = gram(r.inffunc, r.cluster if r.cluster_analytic else None) / r.n
    np.testing.assert_allclose(r.V, ref, rtol=TOL, atol=1e-12 * np.abs(ref).max())
    pre = np.flatnonzero((r.group > r.t) & ~r.analytic_na)
    a = r.att[pre]
    W = r.n * a @ np.linalg.solve(ref[np.ix_(pre, pre)], a)
    assert r.pretest()["W"] == pytest.approx(W, rel=1e-8)
