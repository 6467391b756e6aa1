"""Confidentiality rules of everything a render publishes: small cells, dominance, differencing, maps.

The rules follow the practice of statistics offices for tables of establishments:

- **minimum frequency** (threshold rule): a cell resting on fewer than ``MIN_CELL`` employers is sensitive
  (INEGI, *Lineamientos para la confidencialidad de la información estadística*, and the microdata laboratory's
  rule of at least three informants, raised here to five as IMSS does for its open data);
- **(n,k)-dominance**: a cell is sensitive when its ``DOMINANCE_N`` largest contributors make more than
  ``DOMINANCE_K`` % of its value (Hundepool et al. 2012, *Statistical Disclosure Control*, Wiley, §4.2.2;
  the dominance rule of τ-Argus and of sdcTable's ``primarySuppression(type = "nk")``);
- **secondary suppression**: a suppressed cell must not come back as a published total minus the published cells
  (τ-Argus / sdcTable's secondary suppression; here the remainder of a published total must itself pass the primary
  rules, the criterion of Cox 1980, "Suppression methodology and statistical disclosure control", JASA 75);
- **differencing of overlapping areas** (Duke-Williams & Rees 1998, "Can census offices publish statistics for
  more than one small area geography?", *Int. J. Popul. Geogr.* 4): two published areas that overlap must not
  differ by fewer than ``MIN_CELL`` employers nor by a dominated set, or one of them is withheld. The rule is
  applied consistently over every area a render publishes (see :mod:`ceci_impact.data.areas`), so all pages of one
  render withhold the same areas.

Maps never show an employer or a worker: employers are counted on a fixed square grid of ``GRID_KM`` km (the same
grid on every page, so cells of two pages never partially overlap) and a cell is drawn only when it passes the rules
above.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MIN_CELL = 5  # confidentiality: employer counts below this are suppressed in published tables
DOMINANCE_N = 2  # (n,k)-dominance: the n largest contributors ...
DOMINANCE_K = 85.0  # ... may make at most k % of a published cell's value
GRID_KM = 10.0  # side of the squares of every published map of employers (km)
GRID_REF_LAT = 23.0  # latitude of the grid's equirectangular projection (Mexico's centre): one grid for the country


def suppress_small(df: pd.DataFrame, cols: list[str], k: int = MIN_CELL, *, linked: list[str] = (),
                   secondary: bool = True) -> pd.DataFrame:
    """Statistical disclosure control: counts below ``k`` in ``cols`` become ``"<k"``.

    Parameters
    ----------
    df : pandas.DataFrame
        Table to publish.
    cols : list of str
        Count columns checked against ``k``.
    k : int
        Minimum count.
    linked : list of str
        Columns (observation counts, totals of the same units) blanked in the suppressed rows, since they would give
        the suppressed count back (observations / months).
    secondary : bool
        A column with exactly one suppressed cell also suppresses its next smallest cell, so the suppressed count
        cannot be recovered as a published total minus the visible cells.
    """
    out = df.copy()
    hide = pd.Series(False, index=df.index)
    for c in cols:
        small = df[c] < k
        if secondary and int(small.sum()) == 1 and len(df) > 1:
            small.loc[df.loc[~small, c].idxmin()] = True
        hide |= small
        out[c] = out[c].astype(object).where(~small, f"<{k}")
        out.loc[small & (df[c] >= k), c] = "suppressed"
    for c in linked:
        out[c] = out[c].astype(object).where(~hide, "suppressed")
    return out


def publishable(n: int, k: int = MIN_CELL) -> bool:
    """Whether a count of confidential units may be published (and an estimate on them shown).

    Parameters
    ----------
    n : int
        Number of units.
    k : int
        Minimum count.
    """
    return int(n) >= k


def count_text(n: int, what: str, k: int = MIN_CELL) -> str:
    """``"12 employers"``, or ``"fewer than 5 employers"`` for a count that must stay suppressed.

    Parameters
    ----------
    n : int
        Number of units.
    what : str
        Noun that follows the number.
    k : int
        Minimum count.
    """
    return f"{int(n):,} {what}" if publishable(n, k) else f"fewer than {k} {what}"


# ----------------------------------------------------------------------------------------- dominance


def row_dominance(X, n: int = DOMINANCE_N) -> np.ndarray:
    """Share (in %) of each row's total made by its ``n`` largest entries, for a sparse matrix of non-negative
    contributions (rows: cells, columns: contributors). An all-zero row has share 0.

    Parameters
    ----------
    X : scipy.sparse matrix
        Contributions, one row per cell.
    n : int
        Number of largest contributors.
    """
    import scipy.sparse as sp

    X = sp.csr_matrix(X)
    X.eliminate_zeros()
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    data = np.abs(X.data.astype(float))
    order = np.lexsort((-data, rows))
    rank = np.arange(data.size) - X.indptr[rows[order]]
    top = np.bincount(rows[order][rank < n], data[order][rank < n], minlength=X.shape[0])
    total = np.bincount(rows, data, minlength=X.shape[0])
    return np.where(total > 0, 100 * top / np.where(total > 0, total, 1), 0.0)


def dominated(M, values: np.ndarray, n: int = DOMINANCE_N, k: float = DOMINANCE_K) -> np.ndarray:
    """(n,k)-dominance of each area: whether, for any value column, the ``n`` largest contributors make more than
    ``k`` % of the area's total (Hundepool et al. 2012, §4.2.2).

    Parameters
    ----------
    M : scipy.sparse matrix
        Membership (areas x employers), 0/1.
    values : numpy.ndarray
        Employer values (employers x columns), e.g. jobs, women, eligible parents.
    n, k : int, float
        Dominance parameters.
    """
    import scipy.sparse as sp

    M = sp.csr_matrix(M)
    values = np.asarray(values, float).reshape(M.shape[1], -1)
    out = np.zeros(M.shape[0], bool)
    for c in range(values.shape[1]):
        out |= row_dominance(M.multiply(values[:, c][None, :]).tocsr(), n) > k
    return out


def primary_sensitive(M, values: np.ndarray, k: int = MIN_CELL, n: int = DOMINANCE_N,
                      kdom: float = DOMINANCE_K) -> np.ndarray:
    """Primary suppression: areas with fewer than ``k`` (but more than 0) employers, or (n,k)-dominated.

    An empty area (0 employers) is not sensitive: it reveals nothing about anyone.

    Parameters
    ----------
    M : scipy.sparse matrix
        Membership (areas x employers).
    values : numpy.ndarray
        Employer values (employers x columns).
    k : int
        Minimum count.
    n, kdom : int, float
        Dominance parameters.
    """
    cnt = np.asarray(M.sum(axis=1)).ravel()
    return ((cnt > 0) & (cnt < k)) | dominated(M, values, n, kdom)


# ----------------------------------------------------------------------------------------- differencing


def _top2(M, values: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per area and value column: the sum of the ``n`` largest contributions and the largest one."""
    import scipy.sparse as sp

    tops, firsts = [], []
    for c in range(values.shape[1]):
        X = sp.csr_matrix(M.multiply(np.abs(values[:, c])[None, :]))
        X.eliminate_zeros()
        rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        order = np.lexsort((-X.data, rows))
        rank = np.arange(X.data.size) - X.indptr[rows[order]]
        tops.append(np.bincount(rows[order][rank < n], X.data[order][rank < n], minlength=X.shape[0]))
        firsts.append(np.bincount(rows[order][rank < 1], X.data[order][rank < 1], minlength=X.shape[0]))
    return np.c_[tuple(tops)], np.c_[tuple(firsts)]


def risky_pairs(M, values: np.ndarray, k: int = MIN_CELL, n: int = DOMINANCE_N, kdom: float = DOMINANCE_K,
                block: int = 2_000_000) -> pd.DataFrame:
    """Pairs of overlapping areas whose difference would disclose: the symmetric difference of their employer sets
    has 1 to ``k - 1`` employers, or is (n,k)-dominated (the differencing attack of Duke-Williams & Rees 1998).

    The dominance of a difference is first bounded without forming it: its ``n`` largest contributions are at most
    those of the union of the two areas, ``max(top_n(A), top_n(B), top_1(A) + top_1(B))`` (for ``n = 2``), and its
    total is exact from the areas' and the intersection's totals; only pairs the bound cannot clear are formed.
    Returns ``i, j, delta`` (indices of the areas, ``i < j``, and the size of the symmetric difference).

    Parameters
    ----------
    M : scipy.sparse matrix
        Membership (areas x employers).
    values : numpy.ndarray
        Employer values (employers x columns).
    k : int
        Minimum count.
    n, kdom : int, float
        Dominance parameters.
    block : int
        Employer memberships of the formed differences handled at once (bounds memory).
    """
    import scipy.sparse as sp

    M = sp.csr_matrix(M, dtype=np.float64)
    values = np.abs(np.asarray(values, float).reshape(M.shape[1], -1))
    cnt = np.asarray(M.sum(axis=1)).ravel()
    G = sp.triu(M @ M.T, k=1).tocoo()
    i, j, inter = G.row, G.col, np.rint(G.data).astype(np.int64)
    delta = (cnt[i] + cnt[j] - 2 * inter).astype(np.int64)
    keep = delta > 0
    i, j, inter, delta = i[keep], j[keep], inter[keep], delta[keep]
    bad = delta < k
    tot = M @ values
    top, first = _top2(M, values, n)
    cand = np.zeros(i.size, bool)
    for c in range(values.shape[1]):
        Ic = sp.csr_matrix(M.multiply(values[:, c][None, :])) @ M.T  # totals of the intersections
        both = np.asarray(Ic[i, j]).ravel()
        dsum = tot[i, c] + tot[j, c] - 2 * both
        bound = np.maximum(np.maximum(top[i, c], top[j, c]), first[i, c] + (first[j, c] if n > 1 else 0))
        cand |= bound > kdom / 100 * dsum + 1e-9
    cand &= ~bad
    idx = np.flatnonzero(cand)
    if idx.size:
        size = (cnt[i[idx]] + cnt[j[idx]]).astype(np.int64)
        starts = np.r_[0, np.flatnonzero(np.diff(np.cumsum(size) // max(block, 1))) + 1]
        for a, b in zip(starts, np.r_[starts[1:], idx.size], strict=True):
            sl = idx[a:b]
            X = abs(M[i[sl]] - M[j[sl]])
            bad[sl] |= dominated(X, values, n, kdom)
    return pd.DataFrame({"i": i[bad], "j": j[bad], "delta": delta[bad]})


def consistent_suppression(M, values: np.ndarray, order: np.ndarray | None = None, k: int = MIN_CELL,
                           n: int = DOMINANCE_N, kdom: float = DOMINANCE_K) -> pd.DataFrame:
    """Which areas a render may publish: primary suppression, then a greedy pass in ``order`` that withholds an
    area whose difference with an area already kept would disclose (:func:`risky_pairs`).

    Every page of a render calls this on the same universe of areas, so the pattern is the same on every page and no
    two published areas can be subtracted to isolate fewer than ``k`` employers or a dominated set. Returns one row
    per area with ``status`` (``published``, ``primary`` or ``differencing``) and ``conflict`` (the index of the
    kept area that forced the withholding, -1 otherwise).

    Parameters
    ----------
    M : scipy.sparse matrix
        Membership (areas x employers).
    values : numpy.ndarray
        Employer values (employers x columns).
    order : numpy.ndarray, optional
        Priority of the areas (first kept first); default: their row order.
    k : int
        Minimum count.
    n, kdom : int, float
        Dominance parameters.
    """
    n_areas = M.shape[0]
    order = np.arange(n_areas) if order is None else np.asarray(order)
    prim = primary_sensitive(M, values, k, n, kdom)
    pairs = risky_pairs(M, values, k, n, kdom)
    nb: dict[int, list[int]] = {}
    for a, b in zip(pairs.i.to_numpy(), pairs.j.to_numpy(), strict=True):
        nb.setdefault(int(a), []).append(int(b))
        nb.setdefault(int(b), []).append(int(a))
    status = np.where(prim, "primary", "").astype(object)
    conflict = np.full(n_areas, -1)
    kept = np.zeros(n_areas, bool)
    for a in order:  # a loop over areas (hundreds to thousands), not over units
        if prim[a]:
            continue
        hit = [b for b in nb.get(int(a), ()) if kept[b]]
        if hit:
            status[a], conflict[a] = "differencing", hit[0]
        else:
            status[a], kept[a] = "published", True
    return pd.DataFrame({"status": status, "conflict": conflict})


def protect_remainder(M, parent: int, children: np.ndarray, published: np.ndarray, values: np.ndarray,
                      k: int = MIN_CELL, n: int = DOMINANCE_N, kdom: float = DOMINANCE_K) -> np.ndarray:
    """Secondary suppression under a published total: while the parent's employers outside the published children
    (the total minus the visible cells) are neither none nor a set passing the primary rules, withhold the published
    child with the fewest employers (Cox 1980; the singleton/remainder problem of τ-Argus). Returns the updated
    ``published`` flags.

    Parameters
    ----------
    M : scipy.sparse matrix
        Membership (areas x employers).
    parent : int
        Row of the published total.
    children : numpy.ndarray
        Rows of the cells that partition (part of) the parent.
    published : numpy.ndarray
        Publication flags of all areas (bool); a copy is returned.
    values : numpy.ndarray
        Employer values (employers x columns).
    k : int
        Minimum count.
    n, kdom : int, float
        Dominance parameters.
    """
    import scipy.sparse as sp

    published = np.asarray(published, bool).copy()
    M = sp.csr_matrix(M)
    cnt = np.asarray(M.sum(axis=1)).ravel()
    children = np.asarray(children, int)
    while True:
        vis = children[published[children]]
        shown = np.asarray(M[vis].sum(axis=0)).ravel() > 0 if vis.size else np.zeros(M.shape[1], bool)
        rest = sp.csr_matrix(M[parent].multiply(~shown[None, :]))
        if rest.nnz == 0 or not primary_sensitive(rest, values, k, n, kdom)[0] or vis.size == 0:
            return published
        published[vis[np.argmin(cnt[vis])]] = False


# ----------------------------------------------------------------------------------------- grid


def grid_index(lat, lon, km: float = GRID_KM) -> tuple[np.ndarray, np.ndarray]:
    """Column and row of the fixed ``km`` grid holding each point (equirectangular projection at
    ``GRID_REF_LAT``; the same grid on every page of every render).

    Parameters
    ----------
    lat, lon : array-like
        Decimal degrees.
    km : float
        Side of a square.
    """
    x = np.asarray(lon, float) * 111.32 * np.cos(np.radians(GRID_REF_LAT))
    y = np.asarray(lat, float) * 110.57
    return np.floor(x / km).astype(np.int64), np.floor(y / km).astype(np.int64)


def grid_corners(ix, iy, km: float = GRID_KM) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Longitude and latitude bounds (``lon0, lon1, lat0, lat1``) of grid squares.

    Parameters
    ----------
    ix, iy : array-like
        Column and row of the squares.
    km : float
        Side of a square.
    """
    kx = 111.32 * np.cos(np.radians(GRID_REF_LAT))
    ix, iy = np.asarray(ix, float), np.asarray(iy, float)
    return ix * km / kx, (ix + 1) * km / kx, iy * km / 110.57, (iy + 1) * km / 110.57
