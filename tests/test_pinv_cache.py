"""Pseudo-inverses remembered by content (:mod:`ceci_impact.did.core.linalg`, issue 27 part 3): an equal matrix
gets the very inverse computed before, a matrix that differs in one bit is inverted again, and estimators that fit
one design on several outcomes (the truths of a report) give exactly the results of uncached fits."""

from __future__ import annotations

import numpy as np
import pytest

from ceci_impact.did import sun_abraham, twfe
from ceci_impact.did.core import linalg

KW = dict(tname="year", idname="countyreal", gname="first_treat")


@pytest.fixture
def fresh_cache(monkeypatch):
    linalg.clear_pinv_cache()
    monkeypatch.setattr(linalg, "MIN_SIZE", 0)  # mpdta's designs are small: cache them all
    yield linalg
    linalg.clear_pinv_cache()


def _gram(n, seed):
    X = np.random.default_rng(seed).normal(size=(3 * n, n))
    X[:, -1] = X[:, 0] + X[:, 1]  # rank deficient, as a design with an absorbed indicator
    return X.T @ X


def test_equal_matrix_reuses_inverse_and_changed_matrix_does_not(fresh_cache):
    M = _gram(40, 1)
    a = linalg.pinv_cached(M)
    np.testing.assert_array_equal(a, np.linalg.pinv(M))
    assert linalg.pinv_cached(M.copy()) is a
    assert linalg._STATS == {"hits": 1, "misses": 1}
    M2 = M.copy()
    M2[3, 5] = np.nextafter(M2[3, 5], np.inf)  # one bit
    b = linalg.pinv_cached(M2)
    assert b is not a
    np.testing.assert_array_equal(b, np.linalg.pinv(M2))
    assert linalg.pinv_cached(M[:39, :39]) is not a  # another shape
    with pytest.raises(ValueError):
        a[0, 0] = 1.0  # read-only: a caller cannot corrupt what the next one gets


def test_cache_keeps_only_the_last_few(fresh_cache):
    mats = [_gram(10, s) for s in range(fresh_cache.KEEP + 2)]
    for M in mats:
        fresh_cache.pinv_cached(M)
    assert len(fresh_cache._CACHE) == fresh_cache.KEEP
    fresh_cache.pinv_cached(mats[0])  # evicted: computed again
    assert fresh_cache._STATS["misses"] == len(mats) + 1


@pytest.mark.parametrize("fit", ["sunab", "sunab_clustered", "twfe_es"])
def test_estimators_on_one_design_equal_uncached_fits(mpdta, monkeypatch, fresh_cache, fit):
    d = mpdta.assign(cl=mpdta.countyreal // 7, y2=np.random.default_rng(5).normal(size=len(mpdta)))
    d = d.drop(index=np.random.default_rng(3).choice(len(d), 300, replace=False))  # unbalanced: the sparse path

    def run(y):
        if fit == "twfe_es":
            return twfe(d, yname=y, type="event_study", clustervars="cl", **KW)
        return sun_abraham(d, yname=y, clustervars="cl" if fit == "sunab_clustered" else None, **KW)

    cached = [run(y) for y in ("lemp", "y2", "lemp")]
    assert fresh_cache._STATS["hits"] >= 2  # the second and third fits reused the first inverse
    monkeypatch.setattr(fresh_cache, "MIN_SIZE", 10**9)  # no cache at all
    plain = [run(y) for y in ("lemp", "y2", "lemp")]
    for a, b in zip(cached, plain, strict=True):
        np.testing.assert_array_equal(a.tidy().att, b.tidy().att)
        np.testing.assert_array_equal(a.tidy().se, b.tidy().se)
        assert a.overall_att == b.overall_att and a.overall_se == b.overall_se
    assert not np.allclose(cached[0].tidy().att, cached[1].tidy().att)  # other outcome, other estimates
