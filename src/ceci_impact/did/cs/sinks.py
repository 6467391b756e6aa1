"""What one pass over the ATT(g,t) cells' influence functions accumulates (:class:`Sinks`: sums of squares,
cluster sums, multiplier-bootstrap sums, weighted combinations), and the runs of consecutive units a batch covers.
The factors themselves are in :mod:`ceci_impact.did.cs.influence`.
"""

from __future__ import annotations

import numpy as np

from ..core.bootstrap import group_sums
from ..core.mammen import MammenWeights


def runs(rows: np.ndarray) -> list[tuple[int, int]]:
    """Positions ``(lo, hi)`` of the maximal runs of consecutive values in the sorted ``rows``.

    Parameters
    ----------
    rows : numpy.ndarray
        Sorted unit codes.
    """
    if rows.size == 0:
        return []
    brk = np.flatnonzero(np.diff(rows) != 1) + 1
    edges = np.r_[0, brk, rows.size]
    return list(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))


class Sinks:
    """What one pass over the influence functions accumulates: sums of squares, cluster sums, bootstrap sums
    (``sum_i v_bi * psi_ij``) and weighted combinations ``psi @ W``.

    Parameters
    ----------
    n : int
        Units.
    k : int
        Cells.
    sumsq : bool
        Accumulate sums of squares per cell.
    cluster : tuple, optional
        Cluster codes and their number ``(codes, G)``: accumulate cluster sums.
    weights : MammenWeights, optional
        Multiplier-bootstrap weights: accumulate bootstrap sums.
    W : numpy.ndarray, optional
        Weight matrix (k x m): accumulate the combinations ``psi @ W``.
    """

    def __init__(self, n: int, k: int, *, sumsq: bool = True, cluster: tuple[np.ndarray, int] | None = None,
                 weights: MammenWeights | None = None, W: np.ndarray | None = None):
        self.n, self.k = n, k
        self.sumsq = np.zeros(k) if sumsq else None
        self.codes, self.G = cluster if cluster is not None else (None, 0)
        self.S = np.zeros((self.G, k)) if cluster is not None else None
        self.weights = weights
        self.boot = np.zeros((weights.biters, k)) if weights is not None else None
        self.W = W
        self.comb = np.zeros((n, W.shape[1])) if W is not None else None
        self.unit_boot: dict[float, np.ndarray] = {}  # cohort -> sum_i v_bi w_i over its units (biters,)

    def add(self, cols: np.ndarray, rows: np.ndarray, block: np.ndarray,
            unit_col: tuple[float, np.ndarray] | None = None) -> None:
        """Accumulate the dense ``block`` (len(rows) x len(cols)) of influence functions; ``unit_col = (cohort,
        u)`` (``u`` one value per row, zero outside the cohort) also gives the cohort's bootstrap sums
        ``sum_i v_bi u_i`` from the same weights (what an aggregation's estimated-weights term needs).

        Parameters
        ----------
        cols : numpy.ndarray
            Cell (column) indices.
        rows : numpy.ndarray
            Unit codes (sorted).
        block : numpy.ndarray
            Dense influence functions (len(rows) x len(cols)).
        unit_col : tuple, optional
            ``(cohort, u)`` for the cohort's bootstrap sums.
        """
        if self.sumsq is not None:
            self.sumsq[cols] += np.einsum("ij,ij->j", block, block)
        if self.S is not None:
            self.S[:, cols] += group_sums(self.codes[rows], self.G, block)
        if self.boot is not None:
            acc = np.zeros((self.weights.biters, cols.size))
            extra = None
            if unit_col is not None and unit_col[0] not in self.unit_boot:
                extra = np.zeros(self.weights.biters)
            for lo, hi in runs(rows):
                if extra is None:
                    acc += self.weights.vt_dot(int(rows[lo]), int(rows[hi - 1]) + 1, block[lo:hi])
                    continue
                both = self.weights.vt_dot(int(rows[lo]), int(rows[hi - 1]) + 1, block[lo:hi],
                                           unit_col[1][lo:hi, None])
                acc += both[0]
                extra += both[1][:, 0]
            self.boot[:, cols] += acc
            if extra is not None:
                self.unit_boot[unit_col[0]] = extra
        if self.comb is not None:
            Wc = self.W[cols]
            used = np.flatnonzero(np.any(Wc != 0, axis=0))
            if used.size:
                cs = slice(used[0], used[-1] + 1) if used[-1] - used[0] + 1 == used.size else used
                add = block @ Wc[:, cs]
                for lo, hi in runs(rows):
                    part = add[lo:hi]
                    if isinstance(cs, slice):
                        self.comb[rows[lo]:rows[hi - 1] + 1, cs] += part
                    else:
                        self.comb[rows[lo]:rows[hi - 1] + 1][:, cs] += part

    def add_factors(self, cols: np.ndarray, rows: np.ndarray, U: np.ndarray, E: np.ndarray,
                    unit_col: tuple[float, np.ndarray] | None = None) -> None:
        """Accumulate the influence functions ``U @ E`` (len(rows) x len(cols)) without forming them: sums of
        squares ``diag(E' (U'U) E)``, cluster sums ``(C' U) E``, bootstrap sums ``(V' U) E``; the products with
        the units read ``U`` (units x a few more columns than periods), not the units x cells matrix.
        ``unit_col`` as in :meth:`add`.

        Parameters
        ----------
        cols : numpy.ndarray
            Cell (column) indices.
        rows : numpy.ndarray
            Unit codes (sorted).
        U : numpy.ndarray
            Per-unit factors (len(rows) x r).
        E : numpy.ndarray
            Per-cell coefficients (r x len(cols)).
        unit_col : tuple, optional
            ``(cohort, u)`` for the cohort's bootstrap sums.
        """
        if self.comb is not None:
            self.add(cols, rows, U @ E, unit_col)
            return
        if self.sumsq is not None:
            self.sumsq[cols] += np.einsum("kj,kj->j", E, (U.T @ U) @ E)
        if self.S is not None:
            self.S[:, cols] += group_sums(self.codes[rows], self.G, U) @ E
        if self.boot is not None:
            extra = unit_col is not None and unit_col[0] not in self.unit_boot
            acc = np.zeros((self.weights.biters, U.shape[1]))
            acc2 = np.zeros(self.weights.biters)
            for lo, hi in runs(rows):
                r0, r1 = int(rows[lo]), int(rows[hi - 1]) + 1
                if extra:
                    both = self.weights.vt_dot(r0, r1, U[lo:hi], unit_col[1][lo:hi, None])
                    acc += both[0]
                    acc2 += both[1][:, 0]
                else:
                    acc += self.weights.vt_dot(r0, r1, U[lo:hi])
            self.boot[:, cols] += acc @ E
            if extra:
                self.unit_boot[unit_col[0]] = acc2

    def add_summaries(self, cols: np.ndarray, sumsq: np.ndarray, S: np.ndarray | None,
                      boot: np.ndarray | None) -> None:
        """Accumulate summaries computed elsewhere (:mod:`ceci_impact.did.cs.grouped`) for the cells ``cols``.

        Parameters
        ----------
        cols : numpy.ndarray
            Cell (column) indices.
        sumsq : numpy.ndarray
            Sums of squares of the cells.
        S : numpy.ndarray or None
            Cluster sums (G x len(cols)).
        boot : numpy.ndarray or None
            Bootstrap sums (biters x len(cols)).
        """
        if self.sumsq is not None:
            self.sumsq[cols] += sumsq
        if self.S is not None:
            self.S[:, cols] += S
        if self.boot is not None:
            self.boot[:, cols] += boot
        if self.comb is not None:
            raise ValueError("combinations are formed from the factors, not from summaries")

    def release(self) -> None:
        """Drop the work buffers of the bootstrap weights (the sums are kept, and the weights' identity)."""
        if self.weights is not None:
            self.weights.release()

    def fail(self, cols) -> None:
        """Cells whose influence function is undefined (NA for every unit).

        Parameters
        ----------
        cols : numpy.ndarray
            Cell (column) indices.
        """
        cols = np.asarray(cols, dtype=np.int64)
        if cols.size == 0:
            return
        for arr in (self.sumsq, self.boot):
            if arr is not None:
                arr[..., cols] = np.nan
        if self.S is not None:
            self.S[:, cols] = np.nan
        if self.comb is not None:
            bad = np.any(self.W[cols] != 0, axis=0)
            self.comb[:, bad] = np.nan
