"""Weighted combinations of the ATT(g,t) influence functions (what ``aggte`` forms), from the cells' factors.

Every aggregation of Callaway & Sant'Anna (2021, section 4) is a weighted average of ATT(g,t) with weights
estimated from the cohort shares, so its influence function is (R ``did``'s ``get_agg_inf_func`` and ``wif``)::

    inf_i = sum_j psi_ij W_jm + w_i * coef[cohort(i), m]

with ``psi`` the units x cells influence functions of the ATT(g,t), ``W`` (cells x columns) the weights of the
aggregation and the second term the estimated weights' part (``w_i`` the unit's sampling weight). Everything
the standard errors need is linear in ``inf`` and is formed here without a pass over units x cells where the
estimation already gave the sums:

* cluster sums ``C' inf = (C' psi) W + (C' diag(w) E) coef`` from the cells' cluster sums that ``att_gt``
  accumulated (``C`` the unit-cluster indicators, ``E`` the unit-cohort ones);
* multiplier-bootstrap sums ``V' inf = (V' psi) W + (V' diag(w) E) coef`` from the cells' bootstrap sums of
  ``att_gt`` when the draws are the same (same seed, draws and units: the weights' generator state is
  compared), so the aggregation's draws are exactly those a pass over ``inf`` would give;
* sums of squares, for comparisons without covariates, from the cohorts' outcome statistics
  (:mod:`ceci_impact.did.cs.grouped`): a unit of cohort ``h`` has ``inf_i = w_i (Y_i K_h + k_h)`` with ``K_h``
  (periods x columns) and ``k_h`` collected over the comparisons the cohort enters, so
  ``sum_{i in h} inf_i^2 = diag(K_h' G_h K_h) + Q_h (mu_h K_h + k_h)^2`` (``G_h``, ``mu_h``, ``Q_h``: the
  ``w^2``-weighted centred cross-products, mean and weight of the unit-demeaned outcomes).

What has no such summary (sums of squares with covariates, draws with other settings than the estimation's,
the matrix itself when a result asks for it) is computed from the factors over blocks of units
(:meth:`Combination.blocks`), one block in memory at a time. The results equal those of the explicit matrix up
to floating-point rounding.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from ..core.bootstrap import group_sums, summarise_draws
from ..core.mammen import MammenWeights
from .influence import CHUNK_ROWS, CellInfluence, PanelBatch


class Combination:
    """The influence functions ``psi @ W + w * coef[cohort]`` (units x ``W.shape[1]``) of an aggregation.

    Parameters
    ----------
    influence
        The cells' influence functions (factors and the sums ``att_gt`` accumulated).
    W
        Cells x columns weights.
    coef
        ``(len(cohorts) + 1) x columns`` coefficients of the estimated-weights term; the last row (units of no
        listed cohort) must be zero.
    cohorts
        Sorted cohorts that ``coef``'s rows refer to.
    unit_group, unit_weights
        Each unit's cohort (0: never treated) and sampling weight.
    nan_cols
        Columns that are undefined (NaN for every unit), e.g. an average over a group without estimates.
    derived
        Optional ``m x p`` matrix: the last ``p`` columns of ``W`` are ``W[:, :m] @ derived`` (an overall
        effect averaging the profile), so the explicit matrix forms them from the first ``m`` columns.
    """

    def __init__(self, influence: CellInfluence, W: np.ndarray, coef: np.ndarray, cohorts: np.ndarray,
                 unit_group: np.ndarray, unit_weights: np.ndarray, nan_cols: np.ndarray | None = None,
                 derived: np.ndarray | None = None):
        self.inf, self.W, self.coef, self.cohorts = influence, np.asarray(W, float), np.asarray(coef, float), cohorts
        self.unit_group, self.unit_weights = unit_group, unit_weights
        self.n, self.M = influence.n, self.W.shape[1]
        self.derived = derived
        self.nan_cols = np.zeros(self.M, bool) if nan_cols is None else np.asarray(nan_cols, bool).copy()
        if influence.failed:  # a column that draws on a cell without influence function is undefined
            self.nan_cols |= np.any(self.W[influence.failed] != 0, axis=0)
        self._cohort_slices = None

    # ---------------------------------------------------------------- per-cohort pieces of the weights' term
    def cohort_slices(self) -> list[tuple[int, int, int]]:
        """``(row of coef, lo, hi)``: the units ``lo:hi`` of each listed cohort (units are ordered by cohort)."""
        if self._cohort_slices is None:
            ug = self.unit_group
            lo = np.searchsorted(ug, self.cohorts, side="left")
            hi = np.searchsorted(ug, self.cohorts, side="right")
            if not np.all(ug[:-1] <= ug[1:]):  # not ordered (never the case for att_gt): no slices
                raise ValueError("units are not ordered by cohort")
            self._cohort_slices = [(r, int(a), int(b)) for r, (a, b) in enumerate(zip(lo, hi, strict=True)) if b > a]
        return self._cohort_slices

    def _unit_term(self, r0: int, r1: int) -> np.ndarray:
        """``w_i * coef[cohort(i)]`` for the units ``r0:r1``."""
        out = np.zeros((r1 - r0, self.M))
        for r, lo, hi in self.cohort_slices():
            a, b = max(lo, r0), min(hi, r1)
            if b > a and self.coef[r].any():
                out[a - r0:b - r0] = self.unit_weights[a:b, None] * self.coef[r]
        return out

    def _finish(self, out: np.ndarray) -> np.ndarray:
        out[..., self.nan_cols] = np.nan
        return out

    # ---------------------------------------------------------------- explicit rows
    def blocks(self, rows: int | None = None):
        """Yield ``(r0, r1, dense block)`` of the combination over blocks of units (all columns).

        Parameters
        ----------
        rows : int, optional
            Units per block (default: about 32 MiB of float64 per block, 4,096 to 65,536 rows).
        """
        m0 = self.M if self.derived is None else self.M - self.derived.shape[1]
        if rows is None:
            rows = int(min(CHUNK_ROWS, max(4096, 2**25 // (8 * max(self.M, 1)))))
        plans = [_Plan(b, self.W[b.cols, :m0]) for b in self.inf.batches]
        for r0 in range(0, self.n, rows):
            r1 = min(self.n, r0 + rows)
            out = self._unit_term(r0, r1)
            base = np.zeros((r1 - r0, m0)) if self.derived is not None else out
            for p in plans:
                p.add_into(base, self.inf.Y, r0, r1)
            if self.derived is not None:
                out[:, :m0] += base
                out[:, m0:] += base @ self.derived
            yield r0, r1, self._finish(out)

    def matrix(self) -> np.ndarray:
        """The units x columns matrix."""
        out = np.empty((self.n, self.M))
        for r0, r1, blk in self.blocks():
            out[r0:r1] = blk
        return out

    # ---------------------------------------------------------------- summaries
    def sumsq(self) -> np.ndarray:
        """``sum_i inf_im^2`` for each column."""
        stats = self.inf.cohort_stats
        if stats is not None and all(isinstance(b, PanelBatch) and b.sides for b in self.inf.batches):
            return self._finish(self._sumsq_grouped(stats))
        out = np.zeros(self.M)
        for _, _, blk in self.blocks():
            out += np.einsum("ij,ij->j", blk, blk)
        return out

    def _sumsq_grouped(self, stats) -> np.ndarray:
        T = self.inf.Y.shape[1]
        K, k = {}, {}
        for b in self.inf.batches:
            Wb = self.W[b.cols]
            if not Wb.any():
                continue
            j = np.arange(b.cols.size)
            U = sparse.csr_matrix((np.r_[np.ones(j.size), -np.ones(j.size)], (np.r_[b.tc, b.tp], np.r_[j, j])),
                                  shape=(T, j.size)) @ Wb  # sum_j (e_tc_j - e_tp_j) W_j
            for h, c, m in b.sides:
                f = b.scale * c
                K[h] = K.get(h, 0.0) + f * U
                k[h] = k.get(h, 0.0) - f * (m @ Wb)
        rows = {float(g): r for r, g in enumerate(self.cohorts)}
        out = np.zeros(self.M)
        for h in stats.groups.tolist():
            kh = k.get(h, np.zeros(self.M)) + (self.coef[rows[h]] if h in rows else 0.0)
            if h in K:
                Kh = K[h]
                out += np.einsum("tm,tm->m", Kh, stats.G[h] @ Kh) + stats.Q2[h] * (stats.mu[h] @ Kh + kh) ** 2
            else:
                out += stats.Q2[h] * kh**2
        return out

    def cluster_sums(self, codes: np.ndarray, G: int) -> np.ndarray:
        """Sums within clusters (``G`` x columns) of the units' ``codes``.

        Parameters
        ----------
        codes : numpy.ndarray
            Cluster code (0..G-1) of each unit.
        G : int
            Number of clusters.
        """
        sinks = self.inf.sinks
        if sinks is not None and sinks.S is not None and sinks.G == G and np.array_equal(sinks.codes, codes):
            S = np.nan_to_num(sinks.S, nan=0.0) @ self.W  # failed cells: their columns are NaN below
            for r, lo, hi in self.cohort_slices():
                if self.coef[r].any():
                    S += np.outer(np.bincount(codes[lo:hi], weights=self.unit_weights[lo:hi], minlength=G),
                                  self.coef[r])
            return self._finish(S)
        out = np.zeros((G, self.M))
        for r0, r1, blk in self.blocks():
            out += group_sums(codes[r0:r1], G, blk)
        return out

    def boot(self, biters: int, alp: float, rng: np.random.Generator, cluster: tuple[np.ndarray, int] | None,
             band_cols: int | None = None):
        """The multiplier bootstrap of R ``mboot`` (Mammen weights from ``rng``; over cluster sums when
        ``cluster = (codes, G)``), as :func:`ceci_impact.did.core.bootstrap.mboot` on the explicit matrix.

        Parameters
        ----------
        biters : int
            Number of bootstrap draws.
        alp : float
            Significance level of the intervals and band.
        rng : numpy.random.Generator
            Source of the Mammen weights.
        cluster : tuple of (numpy.ndarray, int) or None
            Cluster ``(codes, G)`` to draw weights by cluster; None draws by unit.
        band_cols : int, optional
            Number of leading columns that the simultaneous band covers (default all).
        """
        if cluster is not None:
            mat = self.cluster_sums(*cluster)
            n_cl = mat.shape[0]
            draws = np.sqrt(n_cl) * MammenWeights(rng, biters, n_cl).sums(mat) / n_cl
            return summarise_draws(draws, n_cl, self.n, alp, band_cols)
        weights = MammenWeights(rng, biters, self.n)
        sums = self._reused_boot(weights)
        if sums is None:
            sums = np.zeros((biters, self.M))
            for r0, r1, blk in self.blocks():
                sums += weights.vt_dot(r0, r1, blk)
            weights.release()
        draws = np.sqrt(self.n) * self._finish(sums) / self.n
        return summarise_draws(draws, self.n, self.n, alp, band_cols)

    def _reused_boot(self, weights: MammenWeights) -> np.ndarray | None:
        """``V' inf`` from the estimation's bootstrap sums when ``weights`` are the estimation's (else None)."""
        sinks = self.inf.sinks
        if sinks is None or sinks.boot is None or not sinks.weights.same_draws(weights):
            return None
        need = [(r, lo, hi) for r, lo, hi in self.cohort_slices() if self.coef[r].any()]
        if any(float(self.cohorts[r]) not in sinks.unit_boot for r, _, _ in need):
            return None
        out = np.nan_to_num(sinks.boot, nan=0.0) @ self.W
        for r, _, _ in need:
            out += np.outer(sinks.unit_boot[float(self.cohorts[r])], self.coef[r])
        return out


class _Plan:
    """How one batch's cells enter the combination's columns: as a weighted one-to-one map of cells to
    columns (each cell in one column, each column from one cell: scaled columns added in place) or as a
    small dense product."""

    def __init__(self, batch, Wb: np.ndarray):
        self.b = batch
        nz = Wb != 0
        self.used = np.flatnonzero(nz.any(axis=0))
        self.cells = np.flatnonzero(nz.any(axis=1))
        self.one_to_one = bool(nz.sum(axis=0)[self.used].max(initial=0) <= 1 and nz.sum(axis=1).max(initial=0) <= 1)
        if self.one_to_one and self.used.size:
            self.col_of = np.argmax(nz[self.cells], axis=1)  # the column of each used cell
            self.val = Wb[self.cells, self.col_of]
            c = self.col_of
            self.col_slice = slice(int(c[0]), int(c[-1]) + 1) if np.all(np.diff(c) == 1) else None
            self.all_cells = self.cells.size == Wb.shape[0]
        else:
            self.Wu = Wb[:, self.used]

    def add_into(self, out: np.ndarray, Y: np.ndarray, r0: int, r1: int) -> None:
        if self.used.size == 0:
            return
        b = self.b
        lo, hi = np.searchsorted(b.rows, [r0, r1])
        if hi <= lo:
            return
        blk = b.block(Y, int(lo), int(hi))
        rows = b.rows[lo:hi] - r0
        contiguous = rows[-1] - rows[0] + 1 == rows.size
        if self.one_to_one:
            if self.all_cells:  # a block of factors is a new array; stored values (ExplicitBatch) are not
                part = blk if isinstance(b, PanelBatch) else blk.copy()
            else:
                part = blk[:, self.cells]
            part *= self.val
            if contiguous and self.col_slice is not None:
                out[rows[0]:rows[-1] + 1, self.col_slice] += part
            elif contiguous:
                out[rows[0]:rows[-1] + 1, self.col_of] += part
            else:
                out[np.ix_(rows, self.col_of)] += part
            return
        part = blk @ self.Wu
        if contiguous:
            out[rows[0]:rows[-1] + 1, self.used] += part
        else:
            out[np.ix_(rows, self.used)] += part
