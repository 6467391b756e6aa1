"""Weights of synthetic control and synthetic difference-in-differences (R ``synthdid`` 0.0.9 semantics).

The unit weights ``omega`` and time weights ``lambda`` solve penalised least-squares problems on the simplex by
Frank–Wolfe with exact line search, as in Arkhangelsky, Athey, Hirshberg, Imbens & Wager (2021, AER 111(12)) and the
authors' R package: a first run of at most 100 iterations, the weights at or below a quarter of the largest set to
zero ("sparsify"), then a second run from the sparsified weights of at most ``max_iter`` iterations. A run stops when
the objective falls by less than ``min_decrease**2`` in an iteration.

Everything here works on one block: the outcome matrix ``Y`` (units × periods) with the ``N0`` comparison units in the
first rows and the ``T0`` pre-periods in the first columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Largest ``R * k * k`` for which :func:`fw_batch` keeps the Gram matrices ``A'A`` of a stack (32 MB).
GRAM_MAX_ELEMENTS = 1 << 22
#: Iterations between exact re-formations of the Frank–Wolfe gradient in :func:`fw_batch`.
GRADIENT_REFRESH = 100


@dataclass(frozen=True)
class BlockOptions:
    """The regularisation and stopping rules of one block (R ``synthdid_estimate``'s ``opts``).

    Attributes
    ----------
    zeta_omega : float
        Ridge penalty of the unit weights.
    zeta_lambda : float
        Ridge penalty of the time weights.
    omega_intercept : bool
        Unit weights fitted with an intercept.
    lambda_intercept : bool
        Time weights fitted with an intercept.
    update_omega : bool
        Optimise the unit weights (else use them as given).
    update_lambda : bool
        Optimise the time weights.
    min_decrease : float
        Frank–Wolfe stops when the objective decreases less than this.
    max_iter : int
        Iterations of the second round.
    max_iter_pre_sparsify : int
        Iterations before sparsifying.
    sparsify : bool
        Sparsify the weights between the two rounds.
    """

    zeta_omega: float
    zeta_lambda: float
    omega_intercept: bool
    lambda_intercept: bool
    update_omega: bool
    update_lambda: bool
    min_decrease: float
    max_iter: int = 10_000
    max_iter_pre_sparsify: int = 100
    sparsify: bool = True


def noise_level(Y: np.ndarray, N0: int, T0: int) -> float:
    """Standard deviation of the first differences of the comparison units' pre-period outcomes.

    Parameters
    ----------
    Y : numpy.ndarray
        Outcomes (units x periods), comparison units and pre-periods first.
    N0 : int
        Comparison units.
    T0 : int
        Pre-periods.
    """
    d = np.diff(Y[:N0, :T0], axis=1)
    return float(np.std(d, ddof=1)) if d.size > 1 else 0.0


def default_options(method: str, Y: np.ndarray, N0: int, T0: int) -> BlockOptions:
    """R's defaults: ``eta.omega = ((N1 T1))^(1/4)`` for SDID, ``1e-6`` for SC; ``eta.lambda = 1e-6``; both scaled
    by the noise level; ``min.decrease = 1e-5 * noise.level``.

    Parameters
    ----------
    method : {'sdid', 'sc', 'did'}
        The estimator.
    Y : numpy.ndarray
        Outcomes (units x periods), comparison units and pre-periods first.
    N0 : int
        Comparison units.
    T0 : int
        Pre-periods.
    """
    N, T = Y.shape
    sigma = noise_level(Y, N0, T0)
    eta_omega = ((N - N0) * (T - T0)) ** 0.25 if method == "sdid" else 1e-6
    return BlockOptions(
        zeta_omega=eta_omega * sigma, zeta_lambda=1e-6 * sigma, omega_intercept=method != "sc",
        lambda_intercept=True, update_omega=method != "did", update_lambda=method == "sdid",
        min_decrease=1e-5 * sigma)


def collapsed(Y: np.ndarray, N0: int, T0: int) -> np.ndarray:
    """``(N0 + 1) x (T0 + 1)``: comparison units and the treated mean; pre-periods and the post mean (the last two
    axes of ``Y``; leading axes are a stack of blocks).

    Parameters
    ----------
    Y : numpy.ndarray
        Outcomes (... x units x periods).
    N0 : int
        Comparison units.
    T0 : int
        Pre-periods.
    """
    top = np.concatenate([Y[..., :N0, :T0], Y[..., :N0, T0:].mean(axis=-1, keepdims=True)], axis=-1)
    tr_pre = Y[..., N0:, :T0].mean(axis=-2, keepdims=True)
    tr_post = Y[..., N0:, T0:].mean(axis=(-2, -1))[..., None, None]
    bottom = np.concatenate([tr_pre, tr_post], axis=-1)
    return np.concatenate([top, bottom], axis=-2)


def _fw_gradient(A: np.ndarray, b: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``A'A`` (``R x k x k``) and ``A'b`` (``R x k``) when the Gram matrices fit in :data:`GRAM_MAX_ELEMENTS`,
    else ``(None, None)`` (the gradient is then formed from ``A`` every iteration)."""
    R, _, k = A.shape
    if R * k * k > GRAM_MAX_ELEMENTS:
        return None, None
    At = np.swapaxes(A, 1, 2)
    return np.matmul(At, A), np.matmul(At, b[:, :, None])[:, :, 0]


def fw_batch(Y: np.ndarray, zeta: float, intercept: bool, x: np.ndarray | None, min_decrease: float,
             max_iter: int) -> np.ndarray:
    """Frank–Wolfe for ``zeta^2 |x|^2 + |A x - b|^2 / n`` over the simplex, ``[A, b] = Y`` (R ``sc.weight.fw``),
    for a stack of problems of one shape at once: ``Y`` is ``R x n x (k + 1)``, ``x`` the ``R x k`` starting
    weights (uniform when ``None``). Each problem stops by its own rule, exactly as if it were solved alone.

    Speed: a problem that has stopped leaves the stack (the arrays are compacted), and the half-gradient
    ``A'(A x - b) + eta x`` is updated in ``O(k)`` per iteration from the Gram matrix ``A'A`` (the Frank–Wolfe step
    moves ``x`` towards one vertex ``e_i``, so ``A'A x`` moves towards the column ``(A'A)_i``), re-formed exactly
    from ``A`` every :data:`GRADIENT_REFRESH` iterations; ``A x`` is tracked as before, so the line search and the
    objective are the plain formulas. Stacks whose Gram matrices would exceed :data:`GRAM_MAX_ELEMENTS` form the
    gradient from ``A`` every iteration.

    Parameters
    ----------
    Y : numpy.ndarray
        Stack of problems ``[A, b]`` (R x n x (k + 1)).
    zeta : float
        Ridge penalty.
    intercept : bool
        Centre ``A`` and ``b`` (an intercept in the fit).
    x : numpy.ndarray or None
        Starting weights (R x k; None: uniform).
    min_decrease : float
        Stopping rule on the objective's decrease.
    max_iter : int
        Largest number of iterations.
    """
    R, n, k = Y.shape[0], Y.shape[1], Y.shape[2] - 1
    if intercept:
        Y = Y - Y.mean(axis=1, keepdims=True)
    A, b = np.ascontiguousarray(Y[:, :, :k], dtype=float), np.ascontiguousarray(Y[:, :, k], dtype=float)
    x = np.full((R, k), 1.0 / k) if x is None else np.array(x, float).reshape(R, k)
    out = x.copy()
    if R == 0:
        return out
    eta, z2, tol = n * zeta**2, zeta**2, min_decrease**2
    G, c = _fw_gradient(A, b)
    At = np.ascontiguousarray(np.swapaxes(A, 1, 2))  # R x k x n: column i of each problem is a contiguous row
    Ax = np.einsum("rnk,rk->rn", A, x)
    h = np.einsum("rn,rnk->rk", Ax - b, A)  # A'(Ax - b)
    idx = np.arange(R)  # problems still iterating
    rows = np.arange(R)
    prev = cur = np.full(R, np.inf)
    for t in range(max_iter):
        if t >= 2:
            go = prev - cur > tol
            if not go.all():
                out[idx[~go]] = x[~go]
                idx, rows = idx[go], rows[: int(go.sum())]
                if idx.size == 0:
                    return out
                A, At, b, x, Ax, h, cur = A[go], At[go], b[go], x[go], Ax[go], h[go], cur[go]
                if G is not None:
                    G, c = G[go], c[go]
        if G is None or (t > 0 and t % GRADIENT_REFRESH == 0):
            h = np.einsum("rn,rnk->rk", Ax - b, A)
        half_grad = h + eta * x
        i = half_grad.argmin(axis=1)
        d_x = -x
        d_x[rows, i] += 1.0
        d_err = At[rows, i] - Ax
        den = np.einsum("rn,rn->r", d_err, d_err) + eta * np.einsum("rk,rk->r", d_x, d_x)
        num = -np.einsum("rk,rk->r", half_grad, d_x)
        pos = den > 0  # den = 0 only when the step cannot move x
        step = np.where(pos, np.minimum(np.maximum(num / np.where(pos, den, 1.0), 0.0), 1.0), 0.0)[:, None]
        x = x + step * d_x
        Ax = Ax + step * d_err
        if G is not None:
            h = h + step * (G[rows, i] - h - c)  # A' d_err = (A'A)_i - A'A x (A'A symmetric)
        r = Ax - b
        prev, cur = cur, z2 * np.einsum("rk,rk->r", x, x) + np.einsum("rn,rn->r", r, r) / n
    out[idx] = x
    return out


def _sparsify(v: np.ndarray) -> np.ndarray:
    v = np.where(v <= v.max(axis=-1, keepdims=True) / 4, 0.0, v)
    return v / v.sum(axis=-1, keepdims=True)


def weights(Y: np.ndarray, zeta: float, intercept: bool, init: np.ndarray | None, o: BlockOptions) -> np.ndarray:
    """R's two-round solve: at most ``max_iter_pre_sparsify`` iterations, sparsify, then up to ``max_iter``.

    Parameters
    ----------
    Y : numpy.ndarray
        Stack of problems ``[A, b]``.
    zeta : float
        Ridge penalty.
    intercept : bool
        Fit with an intercept.
    init : numpy.ndarray or None
        Starting weights (None: uniform).
    o : BlockOptions
        Stopping rules.
    """
    x = fw_batch(Y, zeta, intercept, init, o.min_decrease, o.max_iter_pre_sparsify)
    if o.sparsify:
        x = fw_batch(Y, zeta, intercept, _sparsify(x), o.min_decrease, o.max_iter)
    return x


def sum_normalize(x: np.ndarray) -> np.ndarray:
    """``x / sum(x)``, or uniform weights when the sum is zero (R ``sum_normalize``).

    Parameters
    ----------
    x : numpy.ndarray
        Non-negative weights.
    """
    s = x.sum()
    return x / s if s != 0 else np.full(x.size, 1.0 / x.size)


@dataclass(frozen=True)
class Block:
    """One fitted block: the estimate, the weights and the options that produced them.

    Attributes
    ----------
    tau : float
        The estimate.
    omega : numpy.ndarray
        Unit weights.
    lam : numpy.ndarray
        Time weights.
    opts : BlockOptions
        The options that produced them.
    """

    tau: float
    omega: np.ndarray
    lam: np.ndarray
    opts: BlockOptions


def fit_stack(Y: np.ndarray, N0: int, T0: int, opts: BlockOptions, omega: np.ndarray | None = None,
              lam: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimates and weights of a stack of blocks of one shape (``Y``: ``R x N x T``); the weights are
    re-optimised from ``omega`` (``R x N0``) and ``lam`` (``R x T0``) where the options say so, else used as given
    (uniform when ``None``). Returns ``tau`` (``R``), ``omega`` and ``lam``.

    Parameters
    ----------
    Y : numpy.ndarray
        Stack of blocks (R x N x T).
    N0 : int
        Comparison units.
    T0 : int
        Pre-periods.
    opts : BlockOptions
        Regularisation and stopping rules.
    omega : numpy.ndarray, optional
        Starting or fixed unit weights (None: uniform).
    lam : numpy.ndarray, optional
        Starting or fixed time weights (None: uniform).
    """
    R = Y.shape[0]
    Yc = collapsed(Y, N0, T0)
    if opts.update_lambda:
        lam = weights(Yc[:, :N0, :], opts.zeta_lambda, opts.lambda_intercept, lam, opts)
    elif lam is None:
        lam = np.full((R, T0), 1.0 / T0)
    if opts.update_omega:
        omega = weights(np.swapaxes(Yc[:, :, :T0], 1, 2), opts.zeta_omega, opts.omega_intercept, omega, opts)
    elif omega is None:
        omega = np.full((R, N0), 1.0 / N0)
    lam = np.broadcast_to(lam, (R, T0))
    omega = np.broadcast_to(omega, (R, N0))
    treated = Y[:, N0:, :]
    post_tr = treated[:, :, T0:].mean(axis=(1, 2))
    pre_tr = np.einsum("rnt,rt->r", treated[:, :, :T0], lam) / treated.shape[1]
    post_c = np.einsum("rn,rnt->r", omega, Y[:, :N0, T0:]) / (Y.shape[2] - T0)
    pre_c = np.einsum("rn,rnt,rt->r", omega, Y[:, :N0, :T0], lam)
    return post_tr - pre_tr - post_c + pre_c, np.array(omega), np.array(lam)


def fit_block(Y: np.ndarray, N0: int, T0: int, opts: BlockOptions, omega: np.ndarray | None = None,
              lam: np.ndarray | None = None) -> Block:
    """One block (``Y``: ``N x T``); see :func:`fit_stack`.

    Parameters
    ----------
    Y : numpy.ndarray
        One block (N x T).
    N0 : int
        Comparison units.
    T0 : int
        Pre-periods.
    opts : BlockOptions
        Regularisation and stopping rules.
    omega : numpy.ndarray, optional
        Starting or fixed unit weights (None: uniform).
    lam : numpy.ndarray, optional
        Starting or fixed time weights (None: uniform).
    """
    tau, om, la = fit_stack(Y[None], N0, T0, opts, None if omega is None else omega[None],
                            None if lam is None else lam[None])
    return Block(tau=float(tau[0]), omega=om[0], lam=la[0], opts=opts)


def fit_method(method: str, Y: np.ndarray, N0: int, T0: int) -> Block:
    """A block fitted with R's defaults for ``method`` (``"sdid"``, ``"sc"`` or ``"did"``).

    Parameters
    ----------
    method : {'sdid', 'sc', 'did'}
        The estimator.
    Y : numpy.ndarray
        Outcomes (units x periods), comparison units and pre-periods first.
    N0 : int
        Comparison units.
    T0 : int
        Pre-periods.
    """
    opts = default_options(method, Y, N0, T0)
    if method == "did":
        return fit_block(Y, N0, T0, opts, np.full(N0, 1.0 / N0), np.full(T0, 1.0 / T0))
    return fit_block(Y, N0, T0, opts, None, np.zeros(T0) if method == "sc" else None)
