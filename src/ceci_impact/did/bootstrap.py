"""Multiplier bootstrap (Mammen weights) and simultaneous critical values, as in R `did::mboot`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse, stats

_SQ5 = np.sqrt(5.0)
_K1 = (1 - _SQ5) / 2
_K2 = (1 + _SQ5) / 2
_P1 = (_SQ5 + 1) / (2 * _SQ5)
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


def mammen_draws(inf: np.ndarray | sparse.spmatrix, biters: int, rng: np.random.Generator,
                 chunk: int = 100) -> np.ndarray:
    """Return ``(biters, k)`` matrix of ``mean_i(v_b,i * inf_i)`` with Mammen weights ``v``."""
    n = inf.shape[0]
    k = inf.shape[1]
    out = np.empty((biters, k))
    infT = inf.T.tocsr() if sparse.issparse(inf) else np.asarray(inf).T
    for start in range(0, biters, chunk):
        b = min(chunk, biters - start)
        v = np.where(rng.random((b, n)) < _P1, _K1, _K2)
        prod = infT @ v.T  # (k, b)
        out[start : start + b] = np.asarray(prod).T / n
    return out


def mboot(
    inf: np.ndarray | sparse.spmatrix,
    *,
    biters: int,
    alp: float,
    rng: np.random.Generator,
    cluster: np.ndarray | None = None,
) -> BootResult:
    """Multiplier bootstrap of an influence-function matrix (rows = units, columns = parameters).

    Mirrors R ``did::mboot``: clusters (if any) are summed first; standard errors come from
    the normalised inter-quartile range of the draws; the critical value is the
    ``1 - alp`` quantile (type 1) of the sup-t statistic over non-degenerate columns.
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
    se = np.full(k, np.nan)
    crit = np.nan
    if ndg.any():
        b = np.sort(draws[:, ndg], axis=0)
        nb = b.shape[0]
        q75 = b[int(np.ceil(0.75 * nb)) - 1]
        q25 = b[int(np.ceil(0.25 * nb)) - 1]
        bsig = (q75 - q25) / IQR_NORM
        se[ndg] = bsig * np.sqrt(n_cl) / n
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = np.abs(draws[:, ndg] / bsig)
        scaled[~np.isfinite(scaled)] = -np.inf
        bT = scaled.max(axis=1)
        bT = bT[np.isfinite(bT)]
        if bT.size:
            bT = np.sort(bT)
            crit = float(bT[int(np.ceil((1 - alp) * bT.size)) - 1])
    return BootResult(draws=draws, se=se, crit_val=crit)
