"""Multiplier bootstrap (Mammen weights) and simultaneous critical values, as in R `did::mboot`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse, stats

_SQ5 = np.sqrt(5.0)
_K1 = (1 - _SQ5) / 2
_K2 = (1 + _SQ5) / 2
_P1 = (_SQ5 + 1) / (2 * _SQ5)
_P1_U16 = int(round(_P1 * 65536))
_TINY = np.sqrt(np.finfo(float).eps) * 10
IQR_NORM = stats.norm.ppf(0.75) - stats.norm.ppf(0.25)


@dataclass(frozen=True)
class BootResult:
    """Bootstrap draws and what R's ``mboot`` derives from them."""

    draws: np.ndarray  # (biters, k): sqrt(n_clusters) * mean(v * psi)
    se: np.ndarray  # (k,)
    crit_val: float


def cluster_sums(inf: np.ndarray | sparse.spmatrix, cluster: np.ndarray | None) -> np.ndarray:
    """Sum influence-function rows within clusters (rows = units)."""
    if cluster is None:
        return inf.toarray() if sparse.issparse(inf) else np.asarray(inf)
    codes, uniq = _codes(cluster)
    S = sparse.csr_matrix(
        (np.ones(codes.shape[0]), (codes, np.arange(codes.shape[0]))), shape=(uniq, codes.shape[0])
    )
    out = S @ inf
    return out.toarray() if sparse.issparse(out) else np.asarray(out)


def _codes(x: np.ndarray) -> tuple[np.ndarray, int]:
    uniq, codes = np.unique(x, return_inverse=True)
    return codes, uniq.shape[0]


def _column_blocks(inf, width: int):
    """Dense column blocks of a (possibly sparse) matrix, ``width`` columns at a time."""
    k = inf.shape[1]
    for j0 in range(0, k, width):
        j1 = min(k, j0 + width)
        blk = inf[:, j0:j1]
        yield j0, j1, (blk.toarray() if sparse.issparse(blk) else np.asarray(blk))


def gram(inf, cluster: np.ndarray | None = None, rows: int = 4096) -> np.ndarray:
    """``inf' inf`` (k x k) accumulated over dense row blocks (clusters summed first if given)."""
    if cluster is not None:
        S = cluster_sums(inf, cluster)
        return S.T @ S
    inf = inf.tocsr() if sparse.issparse(inf) else np.asarray(inf)
    k = inf.shape[1]
    out = np.zeros((k, k))
    for i0 in range(0, inf.shape[0], rows):
        blk = inf[i0:i0 + rows]
        blk = blk.toarray() if sparse.issparse(blk) else blk
        out += blk.T @ blk
    return out


def mammen_draws(inf: np.ndarray | sparse.spmatrix, biters: int, rng: np.random.Generator,
                 chunk: int = 250, width: int = 128) -> np.ndarray:
    """Return ``(biters, k)`` matrix of ``mean_i(v_b,i * inf_i)`` with Mammen weights ``v``.

    Draws are generated in chunks of ``chunk`` rows and multiplied with dense column blocks of the
    influence functions (BLAS), so memory stays at a few blocks whatever ``biters`` and ``k``.
    """
    n = inf.shape[0]
    k = inf.shape[1]
    out = np.empty((biters, k))
    # Mammen two-point weights from 16-bit uniforms (P(K1) = 47422/65536 = 0.723602, exact to 4e-6), drawn
    # ``chunk`` draws at a time (float32 for BLAS; memory stays at one chunk whatever ``biters``)
    blocks = []
    for cols, rows, dense in _row_blocks(inf, width):
        d32 = dense.astype(np.float32)
        scale = np.abs(d32).max(axis=0)
        scale[~(scale > 0)] = 1.0
        d32 /= scale  # scaled columns keep float32 products accurate
        nanc = ~np.isfinite(dense).all(axis=0)
        blocks.append((cols, rows, d32, scale, nanc))
    for start in range(0, biters, chunk):
        b = min(chunk, biters - start)
        v = np.where(rng.integers(0, 65536, (b, n), dtype=np.uint16) < _P1_U16, np.float32(_K1), np.float32(_K2))
        for cols, rows, d32, scale, _ in blocks:
            vr = v if rows is None else v[:, rows]
            out[start:start + b, cols] = (vr @ d32).astype(float) * (scale / n)
    for cols, _, _, _, nanc in blocks:
        if nanc.any():
            out[:, np.arange(k)[cols][nanc]] = np.nan
    return out


def _row_blocks(inf, width: int):
    """Blocks of columns sharing the same nonzero rows (the cells of one comparison), densified on those rows.

    Yields ``(columns, rows, dense)``; ``rows`` is None for a dense input. A sparse influence-function
    matrix built by ``att_gt`` has runs of columns with identical row sets, so the bootstrap multiplies
    only the rows that matter.
    """
    k = inf.shape[1]
    if not sparse.issparse(inf):
        for j0, j1, dense in _column_blocks(inf, width):
            yield slice(j0, j1), None, dense
        return
    inf = inf.tocsc()
    ip, ix, dt = inf.indptr, inf.indices, inf.data
    j = 0
    while j < k:
        rows = ix[ip[j]:ip[j + 1]]
        m = 1
        while j + m < k and m < width and ip[j + m + 1] - ip[j + m] == rows.size and np.array_equal(
                ix[ip[j + m]:ip[j + m + 1]], rows):
            m += 1
        if rows.size == 0:
            out = np.zeros((1, m))
            yield slice(j, j + m), np.zeros(1, np.int64), out
        else:
            yield slice(j, j + m), rows, dt[ip[j]:ip[j + m]].reshape(m, rows.size).T
        j += m


def mboot(
    inf: np.ndarray | sparse.spmatrix,
    *,
    biters: int,
    alp: float,
    rng: np.random.Generator,
    cluster: np.ndarray | None = None,
    band_cols: int | None = None,
) -> BootResult:
    """Multiplier bootstrap of an influence-function matrix (rows = units, columns = parameters).

    Mirrors R ``did::mboot``: clusters (if any) are summed first; standard errors come from
    the normalised inter-quartile range of the draws; the critical value is the
    ``1 - alp`` quantile (type 1) of the sup-t statistic over non-degenerate columns (only the first
    ``band_cols`` columns when given, so other parameters can share the same draws).
    """
    n = inf.shape[0]
    if cluster is not None:
        mat = cluster_sums(inf, cluster)
        n_cl = mat.shape[0]
    else:
        mat = inf
        n_cl = n
    draws = np.sqrt(n_cl) * mammen_draws(mat, biters, rng)
    k = draws.shape[1]
    finite = np.all(np.isfinite(draws), axis=0)
    ndg = finite & (np.sum(np.where(finite, draws, 0) ** 2, axis=0) > _TINY)
    in_band = np.zeros(k, bool)
    in_band[: (k if band_cols is None else band_cols)] = True
    se = np.full(k, np.nan)
    crit = np.nan
    if ndg.any():
        b = np.sort(draws[:, ndg], axis=0)
        nb = b.shape[0]
        q75 = b[int(np.ceil(0.75 * nb)) - 1]
        q25 = b[int(np.ceil(0.25 * nb)) - 1]
        bsig = (q75 - q25) / IQR_NORM
        se[ndg] = bsig * np.sqrt(n_cl) / n
        sel = in_band[ndg]
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = np.abs(draws[:, ndg][:, sel] / bsig[sel])
        scaled[~np.isfinite(scaled)] = -np.inf
        bT = scaled.max(axis=1) if scaled.shape[1] else np.empty(0)
        bT = bT[np.isfinite(bT)]
        if bT.size:
            bT = np.sort(bT)
            crit = float(bT[int(np.ceil((1 - alp) * bT.size)) - 1])
    return BootResult(draws=draws, se=se, crit_val=crit)
