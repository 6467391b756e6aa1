"""Influence functions of the ATT(g,t) cells, held as factors instead of a units x cells matrix.

Every batch of cells that ``att_gt`` estimates together (one cohort, one comparison group) has an influence
function of the form ``scale * (a * (Y[:, t] - Y[:, b] - X @ B) + Z @ C)``: ``a`` (one value per unit used) and
``Z`` (a few columns per unit) belong to the batch, ``B``, ``C``, ``t`` and ``b`` to its cells. Storing those
factors costs a few numbers per unit and batch, where the cell-level matrix costs one number per unit and cell
(at 1 M units x 72 months, gigabytes). Everything the estimators need from the influence functions is linear in
them and is computed batch by batch on dense blocks of at most ``CHUNK_ROWS`` rows: sums of squares, sums
within clusters, multiplier-bootstrap sums and the weighted combinations that ``aggte`` forms. The sparse
units x cells matrix is built only when asked for (``to_sparse``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from ..core.bootstrap import group_sums
from .sinks import Sinks, runs

CHUNK_ROWS = 65536


@dataclass(frozen=True)
class PanelBatch:
    """The factors of one batch of balanced-panel cells (``rows`` sorted unit codes).

    Attributes
    ----------
    cols : numpy.ndarray
        Cell (column) indices.
    rows : numpy.ndarray
        Unit codes (sorted).
    a : numpy.ndarray
        Per-unit factor of the outcome changes.
    Z : numpy.ndarray
        Per-unit columns of the estimated-nuisance terms.
    B : numpy.ndarray or None
        Outcome-regression coefficients per cell (None without regression).
    C : numpy.ndarray
        Coefficients of ``Z`` per cell.
    tc : numpy.ndarray
        Current period of each cell.
    tp : numpy.ndarray
        Base period of each cell.
    scale : float
        Scale of the batch's influence functions.
    X : numpy.ndarray
        Covariates of all units (shared, not copied).
    sides : tuple
        For comparisons without covariates, ``(cohort, c, m)`` of each side (influence
        ``scale * c * w_i * (DY_ij - m_j)``); empty otherwise.
    """

    cols: np.ndarray
    rows: np.ndarray
    a: np.ndarray
    Z: np.ndarray
    B: np.ndarray | None
    C: np.ndarray
    tc: np.ndarray
    tp: np.ndarray
    scale: float
    X: np.ndarray  # covariates of all units (the batch's period when they vary), shared, not copied
    # comparisons without covariates (:mod:`ceci_impact.did.cs.grouped`): ``(cohort, c, m)`` for each side, the
    # influence function of a unit of ``cohort`` being ``scale * c * w_i * (DY_ij - m_j)``; empty otherwise
    sides: tuple = ()

    def block(self, Y: np.ndarray, lo: int, hi: int) -> np.ndarray:
        """Dense influence functions of this batch's cells on its rows ``lo:hi``.

        Parameters
        ----------
        Y : numpy.ndarray
            Outcomes (units x periods).
        lo : int
            First row position.
        hi : int
            One past the last row position.
        """
        r = self.rows[lo:hi]
        out = changes(Y, r, self.tc, self.tp)
        a = self.a[lo:hi] * self.scale
        out *= a[:, None]  # scale * (a * (DY - X B) + Z C), as a * DY + [Z, -a X] @ [C; B]: two passes
        if self.B is None:
            out += (self.Z[lo:hi] * self.scale) @ self.C
        else:
            Xr = self.X[r[0]:r[-1] + 1] if r[-1] - r[0] + 1 == r.size else self.X[r]
            out += np.hstack([self.Z[lo:hi] * self.scale, -(a[:, None] * Xr)]) @ np.vstack([self.C, self.B])
        return out


@dataclass(frozen=True)
class ExplicitBatch:
    """Cells whose influence functions are stored as values (repeated cross sections).

    Attributes
    ----------
    cols : numpy.ndarray
        Cell (column) indices.
    rows : numpy.ndarray
        Unit codes (sorted).
    vals : numpy.ndarray
        The influence functions (len(rows) x len(cols)).
    """

    cols: np.ndarray
    rows: np.ndarray
    vals: np.ndarray  # (rows, cols)

    def block(self, Y, lo: int, hi: int) -> np.ndarray:
        """Dense influence functions of the stored cells on rows ``lo:hi``.

        Parameters
        ----------
        Y : numpy.ndarray
            Unused (the values are stored).
        lo : int
            First row position.
        hi : int
            One past the last row position.
        """
        return self.vals[lo:hi]


def changes(Y: np.ndarray, rows: np.ndarray, tc: np.ndarray, tp: np.ndarray) -> np.ndarray:
    """``Y[rows][:, tc] - Y[rows][:, tp]`` from slices: rows in runs of consecutive units, cells
    in runs whose periods advance together (``tp = tc - 1``) or share a base period.

    Parameters
    ----------
    Y : numpy.ndarray
        Outcomes (units x periods).
    rows : numpy.ndarray
        Unit codes (sorted).
    tc : numpy.ndarray
        Current period of each cell.
    tp : numpy.ndarray
        Base period of each cell.
    """
    segs, j = [], 0
    while j < tc.size:
        e = j + 1
        while e < tc.size and tc[e] == tc[e - 1] + 1 and tp[e] - tp[e - 1] == tp[j + 1] - tp[j] \
                and tp[j + 1] - tp[j] in (0, 1):
            e += 1
        segs.append((j, e, int(tc[j]), int(tp[j]), int(tp[e - 1] - tp[j]) if e - j > 1 else 0))
        j = e
    out = np.empty((rows.size, tc.size))
    for lo, hi in runs(rows):
        Ys = Y[rows[lo]:rows[hi - 1] + 1]
        for j0, j1, c0, p0, dp in segs:
            L = j1 - j0
            base = Ys[:, p0:p0 + L] if dp else Ys[:, p0:p0 + 1]
            np.subtract(Ys[:, c0:c0 + L], base, out=out[lo:hi, j0:j1])
    return out


class CellInfluence:
    """The n x k influence functions of the ATT(g,t) cells, as batches of factors (see the module docstring).

    Parameters
    ----------
    n : int
        Units.
    k : int
        Cells.
    Y : numpy.ndarray, optional
        Outcomes (units x periods) the panel batches read.
    """

    def __init__(self, n: int, k: int, Y: np.ndarray | None = None):
        self.n, self.k, self.Y = n, k, Y
        self.batches: list = []
        self.failed: list[int] = []
        self.sinks: Sinks | None = None  # what att_gt accumulated over the cells (sums, cluster and bootstrap sums)
        self.cohort_stats = None  # the cohorts' statistics when every batch is a comparison without covariates

    @property
    def nbytes(self) -> int:
        """Memory held by the factors (bytes)."""
        total = self.Y.nbytes if self.Y is not None else 0
        for b in self.batches:
            total += sum(getattr(b, f).nbytes for f in ("rows", "a", "Z", "C", "vals") if hasattr(b, f))
        return total

    @property
    def nnz(self) -> int:
        """Entries of the cell-level matrix (what ``to_sparse`` would hold)."""
        return sum(b.rows.size * b.cols.size for b in self.batches) + len(self.failed) * self.n

    def add(self, batch) -> None:
        """Store one batch of cells (:class:`PanelBatch` or :class:`ExplicitBatch`).

        Parameters
        ----------
        batch : PanelBatch or ExplicitBatch
            The batch.
        """
        self.batches.append(batch)

    def fail(self, cols) -> None:
        """Mark the cells ``cols`` as not estimable (their influence functions are NA).

        Parameters
        ----------
        cols : numpy.ndarray
            Cell (column) indices.
        """
        self.failed.extend(int(j) for j in cols)

    def blocks(self, cols: np.ndarray | None = None):
        """Yield ``(cols, rows, dense block)`` over every batch in chunks of at most ``CHUNK_ROWS`` rows,
        restricted to the cells ``cols`` when given.

        Parameters
        ----------
        cols : numpy.ndarray, optional
            Restrict to these cells.
        """
        want = None if cols is None else np.isin(np.arange(self.k), cols)
        for b in self.batches:
            sel = slice(None) if want is None else want[b.cols]
            if want is not None and not sel.any():
                continue
            for lo in range(0, b.rows.size, CHUNK_ROWS):
                hi = min(lo + CHUNK_ROWS, b.rows.size)
                blk = b.block(self.Y, lo, hi)
                yield b.cols[sel], b.rows[lo:hi], (blk if want is None else blk[:, sel])

    def run(self, sinks: Sinks, cols: np.ndarray | None = None) -> Sinks:
        """One pass over the influence functions into ``sinks``.

        Parameters
        ----------
        sinks : Sinks
            What the pass accumulates.
        cols : numpy.ndarray, optional
            Restrict to these cells.
        """
        for c, r, blk in self.blocks(cols):
            sinks.add(c, r, blk)
        failed = self.failed if cols is None else [j for j in self.failed if j in set(np.asarray(cols).tolist())]
        sinks.fail(failed)
        return sinks

    def combine(self, W: np.ndarray) -> np.ndarray:
        """``psi @ W`` (n x m) for a k x m weight matrix, without forming ``psi``.

        Parameters
        ----------
        W : numpy.ndarray
            Weight matrix (k x m).
        """
        return self.run(Sinks(self.n, self.k, sumsq=False, W=np.asarray(W, float))).comb

    def gram(self, cols: np.ndarray, cluster: tuple[np.ndarray, int] | None = None, rows: int = 8192) -> np.ndarray:
        """``psi[:, cols]' psi[:, cols]`` (sums within clusters first when ``cluster = (codes, G)`` is given),
        over dense blocks of ``rows`` units: memory of one block, never the sparse matrix.

        Parameters
        ----------
        cols : numpy.ndarray
            Cell (column) indices.
        cluster : tuple, optional
            ``(codes, G)``: sum within clusters first.
        rows : int
            Units per dense block.
        """
        cols = np.asarray(cols, dtype=np.int64)
        if cluster is not None:
            S = self.run(Sinks(self.n, self.k, sumsq=False, cluster=cluster), cols).S[:, cols]
            return S.T @ S
        pos = np.full(self.k, -1)
        pos[cols] = np.arange(cols.size)
        out = np.zeros((cols.size, cols.size))
        failed = [int(pos[j]) for j in self.failed if pos[j] >= 0]
        for r0 in range(0, self.n, rows):
            r1 = min(self.n, r0 + rows)
            dense = np.zeros((r1 - r0, cols.size))
            for b in self.batches:
                sel = pos[b.cols] >= 0
                if not sel.any():
                    continue
                lo, hi = np.searchsorted(b.rows, [r0, r1])
                if hi > lo:
                    dense[np.ix_(b.rows[lo:hi] - r0, pos[b.cols[sel]])] = b.block(self.Y, lo, hi)[:, sel]
            dense[:, failed] = np.nan
            out += dense.T @ dense
        return out

    def effective_clusters(self, W: np.ndarray, codes: np.ndarray, G: int,
                           model: str = "common") -> np.ndarray | None:
        """Effective number of clusters of each combination ``psi @ W`` (Carter, Schnepel & Steigerwald 2017):
        ``G* = (sum_c l_c)^2 / sum_c l_c^2`` with ``l_c`` the variance of cluster ``c``'s sum under a working
        model of the outcomes, ``kappa_i`` the coefficients of unit ``i``'s outcomes in its influence function.

        ``model="common"``: period shocks fully shared within the cluster, ``l_c = || sum_{i in c} kappa_i ||^2``
        (the intra-cluster correlation is 1, the conservative end). ``model="fitted"``: each unit's own noise plus
        a period shock common to its cluster, ``l_c = sum_{i in c} s2_i ||kappa_i||^2 + t2 || sum_{i in c}
        kappa_i ||^2``, with ``s2_i`` and ``t2`` estimated from the two-way residuals of the outcomes
        (:meth:`shock_model`). ``G*`` is ``G`` when clusters weigh the same and falls towards 1 when a few
        dominate. None when some cells have no factors (repeated cross sections).

        Parameters
        ----------
        W : numpy.ndarray
            Weights of the combinations (k x m).
        codes : numpy.ndarray
            Cluster code of each unit.
        G : int
            Number of clusters.
        model : {'common', 'fitted'}
            Working model: period shocks fully shared within clusters, or fitted to the outcomes (:meth:`shock_model`).
        """
        if any(not isinstance(b, PanelBatch) for b in self.batches):
            return None
        W = np.asarray(W, float)
        T = self.Y.shape[1]
        us = [self._outcome_coefficients(b, W, T) for b in self.batches]
        m = W.shape[1]
        ref = np.zeros(m)  # the same variance without the common shocks: the scale of "zero"
        live = [(b, u) for b, u in zip(self.batches, us, strict=True) if u is not None]
        # K[c] = sum_b s_b[c] u_b (periods x combinations): one product of the clusters x batches sums of a*scale
        # with the batches' coefficients, instead of one G x T x m pass per batch
        S = np.zeros((G, len(live)))
        for j, (b, u) in enumerate(live):
            S[:, j] = np.bincount(codes[b.rows], weights=b.a * b.scale, minlength=G)
            ref += ((b.a * b.scale) ** 2).sum() * (u**2).sum(axis=0)
        U = np.stack([u.reshape(-1) for _, u in live]) if live else np.zeros((0, T * m))
        K = (S @ U).reshape(G, T, m)
        lam = np.einsum("gtm,gtm->gm", K, K)
        if model == "fitted":
            s2, t2 = self.shock_model(codes, G)
            lam = t2 * lam + self._unit_terms(us, codes, G, s2, W.shape[1])
            ref = ref * max(t2, float(np.mean(s2)) if s2.size else 0.0)
        tot = lam.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            # common shocks that cancel within clusters (treated and comparison units mixed alike) leave no
            # cluster weight to measure: None's fallback then applies column by column (NaN)
            return np.where(tot > 1e-12 * ref, tot**2 / (lam**2).sum(axis=0), np.nan)

    @staticmethod
    def _outcome_coefficients(b: PanelBatch, W: np.ndarray, T: int) -> np.ndarray | None:
        """The coefficients (periods x combinations) of a unit's outcomes in the combinations ``W`` of the
        batch's cells, per unit of ``a * scale``; None when the batch does not enter them."""
        u = np.zeros((T, W.shape[1]))
        np.add.at(u, b.tc, W[b.cols])
        np.add.at(u, b.tp, -W[b.cols])
        return u if u.any() else None

    def shock_model(self, codes: np.ndarray, G: int) -> tuple[np.ndarray, float]:
        """Variances of the working model ``Y_it = alpha_i + delta_t + v_ct + e_it``: each unit's own noise
        ``s2_i = var(e_it)`` and the variance ``t2`` of the period shock ``v_ct`` its cluster shares.

        From the residuals ``r`` of the outcomes after unit and period means: ``t2`` is the mean cross-product
        of two units of one cluster in one period (``sum_c sum_t [(sum_{i in c} r_it)^2 - sum_{i in c} r_it^2]
        / ((T - 1) sum_c n_c (n_c - 1))``, 0 when negative or no cluster has two units) and ``s2_i`` each unit's
        residual variance less ``t2`` (at least 0). Treatment effects that vary over time count as shared
        shocks in treated clusters, which errs on the conservative side (fewer effective clusters).

        Parameters
        ----------
        codes : numpy.ndarray
            Cluster code of each unit.
        G : int
            Number of clusters.
        """
        Y = self.Y
        n, T = Y.shape
        r = Y - Y.mean(axis=1, keepdims=True)
        r -= r.mean(axis=0, keepdims=True)
        ssq = np.einsum("it,it->i", r, r)
        cs = group_sums(codes, G, r)
        nc = np.bincount(codes, minlength=G).astype(float)
        pairs = float((nc * (nc - 1)).sum())
        dof = max(T - 1, 1)
        t2 = max((float(np.einsum("gt,gt->", cs, cs)) - float(ssq.sum())) / (dof * pairs), 0.0) if pairs else 0.0
        return np.maximum(ssq / dof - t2, 0.0), t2

    def _unit_terms(self, us: list, codes: np.ndarray, G: int, s2: np.ndarray, m: int) -> np.ndarray:
        """``sum_{i in c} s2_i ||kappa_i||^2`` per cluster and combination (G x m): each unit's coefficients
        summed over every comparison it enters, over blocks of units (memory of one block)."""
        T = self.Y.shape[1]
        out = np.zeros((G, m))
        step = max(1, 4_000_000 // (T * m))
        live = [(b, u, np.flatnonzero(u.any(axis=1))) for b, u in zip(self.batches, us, strict=True)
                if u is not None]
        for r0 in range(0, self.n, step):
            r1 = min(self.n, r0 + step)
            kap = np.zeros((r1 - r0, T, m))
            for b, u, ts in live:
                lo, hi = np.searchsorted(b.rows, [r0, r1])
                if hi > lo:
                    sa = b.a[lo:hi] * b.scale
                    kap[(b.rows[lo:hi] - r0)[:, None], ts[None, :]] += sa[:, None, None] * u[ts][None]
            q = np.einsum("itm,itm->im", kap, kap) * s2[r0:r1, None]
            out += group_sums(codes[r0:r1], G, q)
        return out

    def to_sparse(self, cols: np.ndarray | None = None) -> sparse.csc_matrix:
        """The units x cells matrix (only the columns ``cols`` when given, in that order).

        Parameters
        ----------
        cols : numpy.ndarray, optional
            The cells, in this order (default: all).
        """
        cols = np.arange(self.k) if cols is None else np.asarray(cols, dtype=np.int64)
        pos = np.full(self.k, -1)
        pos[cols] = np.arange(cols.size)
        rows_l, cols_l, vals_l = [], [], []
        for c, r, blk in self.blocks(cols):
            rows_l.append(np.repeat(r, c.size))
            cols_l.append(np.tile(pos[c], r.size))
            vals_l.append(blk.ravel())
        for j in self.failed:
            if pos[j] >= 0:
                rows_l.append(np.arange(self.n))
                cols_l.append(np.full(self.n, pos[j]))
                vals_l.append(np.full(self.n, np.nan))
        if not rows_l:
            return sparse.csc_matrix((self.n, cols.size))
        return sparse.csc_matrix((np.concatenate(vals_l), (np.concatenate(rows_l), np.concatenate(cols_l))),
                                 shape=(self.n, cols.size))
