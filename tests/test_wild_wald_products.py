"""The wild cluster bootstrap Wald pre-test with its draws formed by matrix products (issue 27, part 3) equals the
einsum formulas it replaced: same statistic, same p-value, draws' statistics equal to float rounding (1e-9)."""

from __future__ import annotations

import numpy as np
import pytest

from ceci_impact.did.inference.pretest import wild_wald
from ceci_impact.did.inference.scores import ClusterScores
from ceci_impact.did.inference.wild import draw_weights


def _scores(G, ncoh, m, seed, shift=0.0):
    rng = np.random.default_rng(seed)
    S = rng.normal(size=(G, ncoh, m)) * rng.gamma(2.0, size=(G, 1, 1))
    h = rng.dirichlet(np.ones(G), size=ncoh).T  # each cohort's weight spread over the clusters
    A = rng.normal(size=(ncoh, m)) / ncoh
    est = rng.normal(size=m) * 0.05 + shift
    return ClusterScores(S=S, h=h, A=A, n=500, estimate=est, cohorts=np.arange(ncoh), treated_cluster=h.sum(1) > 0)


def _einsum_draws(cs, biters, seed, weights, restricted):
    """The replaced formulas, verbatim."""
    S, h, n = cs.S, cs.h, cs.n
    b = cs.estimate
    St = S + n * b[None, None, :] * h[:, :, None] * cs.A[None, :, :] if restricted else S
    Vb, _ = draw_weights(weights, cs.G, biters, np.random.default_rng(seed))
    T = np.einsum("bc,cgm->bgm", Vb, St)
    Ss = Vb[:, :, None] * St.sum(axis=1)[None] - np.einsum("bgm,cg->bcm", T, h)
    num = T.sum(axis=1) / n
    Vs = np.einsum("bcm,bcl->bml", Ss, Ss) / n**2
    return np.einsum("bm,bml,bl->b", num, np.linalg.pinv(Vs), num)


@pytest.mark.parametrize(("restricted", "weights", "shift"), [(True, "webb", 0.0), (False, "rademacher", 0.0),
                                                              (True, "webb", 0.3)])
def test_wild_wald_products_equal_einsum(restricted, weights, shift):
    cs = _scores(G=37, ncoh=6, m=4, seed=7, shift=shift)
    got = wild_wald(cs, biters=399, seed=11, weights=weights, restricted=restricted)
    Ws = _einsum_draws(cs, 399, 11, weights, restricted)
    W = got["W"]
    assert got["draws"] == int(np.isfinite(Ws).sum())
    assert got["pvalue"] == float(np.mean(Ws[np.isfinite(Ws)] >= W * (1 - 1e-10)))
    assert 0 < got["pvalue"] < 1 or shift > 0


def test_wild_wald_draws_equal_einsum_to_rounding(monkeypatch):
    """The draws' statistics themselves: captured from the new code through ``np.linalg.pinv``'s input."""
    import ceci_impact.did.inference.pretest as pt

    cs = _scores(G=23, ncoh=5, m=3, seed=2)
    seen = {}
    real = np.linalg.pinv

    def spy(M, *a, **k):
        if M.ndim == 3:
            seen["Vs"] = M.copy()
        return real(M, *a, **k)

    monkeypatch.setattr(pt.np.linalg, "pinv", spy)
    wild_wald(cs, biters=199, seed=3)
    monkeypatch.setattr(pt.np.linalg, "pinv", real)
    b = cs.estimate
    St = cs.S + cs.n * b[None, None, :] * cs.h[:, :, None] * cs.A[None, :, :]
    Vb, _ = draw_weights("webb", cs.G, 199, np.random.default_rng(3))
    T = np.einsum("bc,cgm->bgm", Vb, St)
    Ss = Vb[:, :, None] * St.sum(axis=1)[None] - np.einsum("bgm,cg->bcm", T, cs.h)
    np.testing.assert_allclose(seen["Vs"], np.einsum("bcm,bcl->bml", Ss, Ss) / cs.n**2, rtol=1e-9, atol=0)
