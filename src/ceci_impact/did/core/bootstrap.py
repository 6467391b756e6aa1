"""Multiplier bootstrap (Mammen weights) and simultaneous critical values, as in R `did::mboot`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse, stats

from .mammen import MammenWeights

_TINY = np.sqrt(np.finfo(float).eps) * 10
IQR_NORM = stats.norm.ppf(0.75) - stats.norm.ppf(0.25)


@dataclass(frozen=True)
class BootResult:
    """Bootstrap draws and what R's ``mboot`` derives from them.

    Attributes
    ----------
    draws : numpy.ndarray
        The bootstrap draws (biters x parameters).
    se : numpy.ndarray
        Bootstrap standard errors (normalised IQR).
    crit_val : float
        Critical value of the simultaneous band (sup-t).
    """

    draws: np.ndarray  # (biters, k): sqrt(n_clusters) * mean(v * psi)
    se: np.ndarray  # (k,)
    crit_val: float


def group_sums(codes: np.ndarray, G: int, M):
    """The rows of ``M`` (a vector, a dense or a sparse matrix) summed by their group ``codes`` (0..G-1): one
    sparse indicator product, ``G`` rows out.

    Parameters
    ----------
    codes : numpy.ndarray
        Group code (0..G-1) of each row.
    G : int
        Number of groups.
    M : numpy.ndarray or scipy.sparse matrix
        The rows summed (a vector or a matrix).
    """
    ind = sparse.csr_matrix((np.ones(codes.shape[0]), (codes, np.arange(codes.shape[0]))), shape=(G, codes.shape[0]))
    return ind @ M


def cluster_sums(inf: np.ndarray | sparse.spmatrix, cluster: np.ndarray | None) -> np.ndarray:
    """Sum influence-function rows within clusters (rows = units).

    Parameters
    ----------
    inf : numpy.ndarray or scipy.sparse matrix
        Influence functions: one row per unit, one column per parameter.
    cluster : numpy.ndarray, optional
        Cluster of each row (None: every unit its own cluster).
    """
    if cluster is None:
        return inf.toarray() if sparse.issparse(inf) else np.asarray(inf)
    out = group_sums(*cluster_codes(cluster), inf)
    return out.toarray() if sparse.issparse(out) else np.asarray(out)


def cluster_codes(x: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes 0..G-1 of the sorted distinct clusters of ``x`` and G.

    Parameters
    ----------
    x : numpy.ndarray
        Cluster labels.
    """
    uniq, codes = np.unique(x, return_inverse=True)
    return codes, uniq.shape[0]


def gram(inf, cluster: np.ndarray | None = None, rows: int = 4096) -> np.ndarray:
    """``inf' inf`` (k x k) accumulated over dense row blocks (clusters summed first if given).

    Parameters
    ----------
    inf : numpy.ndarray or scipy.sparse matrix
        Influence functions: one row per unit, one column per parameter.
    cluster : numpy.ndarray, optional
        Cluster of each row (None: every unit its own cluster).
    rows : int
        Rows per dense block.
    """
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


def mammen_draws(inf: np.ndarray | sparse.spmatrix, biters: int, rng: np.random.Generator) -> np.ndarray:
    """Return the ``(biters, k)`` matrix of ``mean_i(v_b,i * inf_i)`` with Mammen weights ``v`` (float64, the
    weights regenerated chunk by chunk: see :mod:`ceci_impact.did.core.mammen`).

    Parameters
    ----------
    inf : numpy.ndarray or scipy.sparse matrix
        Influence functions: one row per unit, one column per parameter.
    biters : int
        Bootstrap draws.
    rng : numpy.random.Generator
        The generator of the weights.
    """
    return MammenWeights(rng, biters, inf.shape[0]).sums(inf) / inf.shape[0]


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

    Parameters
    ----------
    inf : numpy.ndarray or scipy.sparse matrix
        Influence functions: one row per unit, one column per parameter.
    biters : int
        Bootstrap draws.
    alp : float
        Significance level of the band.
    rng : numpy.random.Generator
        The generator of the weights.
    cluster : numpy.ndarray, optional
        Cluster of each row (None: every unit its own cluster).
    band_cols : int, optional
        Only the first ``band_cols`` columns enter the sup-t band (default: all).
    """
    n = inf.shape[0]
    if cluster is not None:
        mat = cluster_sums(inf, cluster)
        n_cl = mat.shape[0]
    else:
        mat = inf
        n_cl = n
    draws = np.sqrt(n_cl) * mammen_draws(mat, biters, rng)
    return summarise_draws(draws, n_cl, n, alp, band_cols)


def summarise_draws(draws: np.ndarray, n_cl: int, n: int, alp: float, band_cols: int | None = None) -> BootResult:
    """Standard errors (normalised IQR) and the sup-t critical value of bootstrap ``draws`` (``sqrt(n_cl) *``
    the mean over ``n_cl`` clusters of weighted influence functions), as R ``mboot`` derives them.

    Parameters
    ----------
    draws : numpy.ndarray
        The bootstrap draws (biters x parameters).
    n_cl : int
        Clusters (or units).
    n : int
        Units.
    alp : float
        Significance level of the band.
    band_cols : int, optional
        Only the first ``band_cols`` columns enter the sup-t band (default: all).
    """
    k = draws.shape[1]
    D = np.ascontiguousarray(draws.T)  # one row per parameter: every step below reads contiguous rows
    with np.errstate(invalid="ignore", over="ignore"):
        ss = np.einsum("ij,ij->i", D, D)
    ndg = np.isfinite(ss) & (ss > _TINY)  # a non-finite draw makes the sum non-finite
    in_band = np.zeros(k, bool)
    in_band[: (k if band_cols is None else band_cols)] = True
    se = np.full(k, np.nan)
    crit = np.nan
    if ndg.any():
        nb = D.shape[1]
        i75, i25 = int(np.ceil(0.75 * nb)) - 1, int(np.ceil(0.25 * nb)) - 1
        Dn = D if ndg.all() else D[ndg]
        b = np.partition(Dn, (i25, i75), axis=1)  # the two order statistics a full sort would give
        bsig = (b[:, i75] - b[:, i25]) / IQR_NORM
        se[ndg] = bsig * np.sqrt(n_cl) / n
        sel = in_band[ndg] & (bsig > 0) & np.isfinite(bsig)
        scaled = b  # reuse the partitioned copy's memory for |draw| / bsig of the band's parameters
        if sel.all():
            np.divide(Dn, bsig[:, None], out=scaled)
        else:
            scaled = Dn[sel] / bsig[sel, None]
        np.abs(scaled, out=scaled)
        bT = scaled.max(axis=0) if scaled.shape[0] else np.empty(0)
        bT = bT[np.isfinite(bT)]
        if bT.size:
            bT = np.sort(bT)
            crit = float(bT[int(np.ceil((1 - alp) * bT.size)) - 1])
    return BootResult(draws=draws, se=se, crit_val=crit)
