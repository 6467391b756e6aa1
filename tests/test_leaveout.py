"""BJS's leave-out averages in the conservative variance (``treated_residuals(..., leaveout=True)``) and their use
by ``spillover_did(leaveout=True)``."""

from __future__ import annotations

import numpy as np

from ceci_impact.did.regression.imputation import treated_residuals


def _brute(tau, key, cl):
    out = np.empty_like(tau)
    for i in range(tau.size):
        other = (key == key[i]) & (cl != cl[i])
        if other.any():
            out[i] = tau[i] - tau[other].mean()
        elif (cl != cl[i]).any():
            out[i] = tau[i] - tau[cl != cl[i]].mean()
        else:
            out[i] = tau[i] - tau[key == key[i]].mean()
    return out


def test_leaveout_equals_brute_force():
    rng = np.random.default_rng(4)
    n = 400
    key = rng.integers(0, 9, n)
    cl = rng.integers(0, 12, n)
    cl[key == 8] = 5  # a cell wholly inside one cluster: the all-rows leave-out fallback
    tau = rng.normal(size=n) + 0.3 * key
    got = treated_residuals(tau, key, cl, leaveout=True)
    assert np.allclose(got, _brute(tau, key, cl), atol=1e-12)
    plain = treated_residuals(tau, key, cl)
    means = np.array([tau[key == k].mean() for k in range(9)])
    assert np.allclose(plain, tau - means[key], atol=1e-12)
    one = treated_residuals(tau, key, np.zeros(n, int), leaveout=True)  # one cluster: the plain cell means
    assert np.allclose(one, plain)


def test_leaveout_widens_when_cells_hold_few_clusters():
    """A shock shared by a cluster's treated rows: the plain cell mean absorbs it, the leave-out mean does not."""
    rng = np.random.default_rng(9)
    cl = np.repeat(np.arange(4), 50)
    key = np.tile(np.arange(2), 100)
    tau = rng.normal(0, 1.0, 4)[cl] + rng.normal(0, 0.1, cl.size)
    plain = np.bincount(cl, weights=treated_residuals(tau, key, cl))
    lo = np.bincount(cl, weights=treated_residuals(tau, key, cl, leaveout=True))
    assert (lo**2).sum() > 1.2 * (plain**2).sum()
