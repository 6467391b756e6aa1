"""The batched Frank–Wolfe solver of synthetic DiD equals a plain one-problem-at-a-time loop (R ``sc.weight.fw``).

The fast path (stopped problems leave the stack, gradient updated from the Gram matrix) and the path without Gram
matrices must both give, for each problem of a random stack, the weights of the straightforward loop to 1e-10, with
problems that stop at very different iterations in one stack. The conformal test's shared stacks must give the
p-value and interval of separate solves.
"""

from __future__ import annotations

import numpy as np
import pytest

from ceci_impact.did.synthetic import conformal, synthdid_solver
from ceci_impact.did.synthetic.synthdid_solver import BlockOptions, fw_batch


def _fw_reference(Y: np.ndarray, zeta: float, intercept: bool, x: np.ndarray | None, min_decrease: float,
                  max_iter: int) -> np.ndarray:
    """R's ``sc.weight.fw`` for one problem ``[A, b] = Y`` (n x (k + 1)), written plainly."""
    n, k = Y.shape[0], Y.shape[1] - 1
    if intercept:
        Y = Y - Y.mean(axis=0)
    A, b = Y[:, :k], Y[:, k]
    x = np.full(k, 1.0 / k) if x is None else np.array(x, float)
    eta = n * zeta**2
    Ax = A @ x
    vals = []
    t = 0
    while t < max_iter and (t < 2 or vals[-2] - vals[-1] > min_decrease**2):
        half_grad = (Ax - b) @ A + eta * x
        i = int(np.argmin(half_grad))
        d_x = -x.copy()
        d_x[i] += 1.0
        d_err = A[:, i] - Ax
        den = d_err @ d_err + eta * (d_x @ d_x)
        step = min(max(-(half_grad @ d_x) / den, 0.0), 1.0) if den > 0 else 0.0
        x = x + step * d_x
        Ax = Ax + step * d_err
        r = Ax - b
        vals.append(zeta**2 * (x @ x) + (r @ r) / n)
        t += 1
    return x


def _stack(seed: int, R: int, n: int, k: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    Y = rng.normal(size=(R, n, k + 1)).cumsum(axis=1)  # random walks: problems of very different difficulty
    Y[:, :, k] += rng.normal(scale=rng.uniform(0.01, 3.0, size=(R, 1)), size=(R, n))
    return Y


@pytest.mark.parametrize("gram", [True, False])
@pytest.mark.parametrize(("seed", "R", "n", "k", "intercept", "zeta"),
                         [(1, 10, 17, 9, True, 0.3), (2, 12, 8, 25, False, 1e-6), (3, 1, 12, 5, True, 0.0)])
def test_fw_batch_equals_plain_loop(monkeypatch, gram, seed, R, n, k, intercept, zeta):
    Y = _stack(seed, R, n, k)
    x0 = np.random.default_rng(seed + 100).dirichlet(np.ones(k), size=R)
    if not gram:
        monkeypatch.setattr(synthdid_solver, "GRAM_MAX_ELEMENTS", 0)
    for init in (None, x0):
        for max_iter in (3, 100, 2_000):
            fast = fw_batch(Y, zeta, intercept, init, 1e-5, max_iter)
            ref = np.stack([_fw_reference(Y[r], zeta, intercept, None if init is None else init[r], 1e-5, max_iter)
                            for r in range(R)])
            np.testing.assert_allclose(fast, ref, rtol=0, atol=1e-10)
    assert np.allclose(fast.sum(axis=1), 1.0) and (fast >= 0).all()


@pytest.mark.parametrize("grid", [None, np.linspace(-2.0, 2.0, 9)])
def test_conformal_shared_stacks_equal_separate_solves(grid):
    rng = np.random.default_rng(7)
    Y0 = rng.normal(size=(12, 20)).cumsum(axis=1)
    ytr = Y0[:3].mean(axis=0) + rng.normal(scale=0.3, size=20)
    opts = BlockOptions(zeta_omega=1e-6, zeta_lambda=1e-6, omega_intercept=False, lambda_intercept=True,
                        update_omega=True, update_lambda=False, min_decrease=1e-3)
    got = conformal.conformal_test(Y0, ytr, 14, "sc", opts, theta0=0.5, grid=grid, estimate=0.1, se=0.2, n_grid=7)

    def pv(thetas):  # one solve per candidate effect
        return np.array([conformal._pvalues(conformal._residuals(Y0, ytr, 14, "sc", opts, np.array([th])), 14, 1.0)[0]
                         for th in thetas])

    assert got["pvalue"] == pv([0.5])[0]
    if grid is None:
        u0 = conformal._residuals(Y0, ytr, 14, "sc", opts, np.array([0.1]))[0]
        s = max(0.2, float(np.std(u0[:14])))
        g = np.linspace(0.1 - 6 * s, 0.1 + 6 * s, 7)
        acc = pv(g) > 0.05
        if acc[0] or acc[-1]:
            g = np.linspace(0.1 - 18 * s, 0.1 + 18 * s, 7)
            acc = pv(g) > 0.05
    else:
        g, acc = grid, pv(grid) > 0.05
    idx = np.flatnonzero(acc)
    assert (got["ci_low"], got["ci_high"]) == (g[idx[0]], g[idx[-1]])
