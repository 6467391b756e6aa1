"""Mammen two-point multiplier weights with random access by unit.

The weight of unit ``i`` in draw ``b`` comes from 16 bits of the generator's raw stream at a fixed position
(unit-major: ``ceil(biters / 4)`` raw 64-bit words per unit), so any range of units can be regenerated on its
own (``PCG64.advance``) and a pass over the units in chunks sees exactly the weights of a pass in one piece.
``P(K1) = 47422 / 65536 = 0.723602`` (exact to 4e-6).

Products ``V' M`` are formed as ``K2 * colsum(M) + (K1 - K2) * I' M`` with the 0/1 indicators ``I`` of ``K1``.
``I`` is exact in float32, so ``I' M`` is one single-precision matrix product per block of units (twice the
throughput of double precision) on the block's columns centred at their block mean (the mean's part,
``(I' 1) mean'``, is added in double precision from the exact count of ``K1`` per draw, formed in the same
product). The sums are accumulated over blocks in double precision; their relative error is of order 1e-7 of
the draws' spread, far below the bootstrap's own sampling noise (standard errors are printed to 4 digits), and
every path that shares the weights (``att_gt``'s sums, ``aggte``'s reuse of them, ``mboot`` on an explicit
matrix) agrees to about 1e-7 relative.
"""

from __future__ import annotations

import numpy as np

SQ5 = np.sqrt(5.0)
K1 = (1 - SQ5) / 2
K2 = (1 + SQ5) / 2
P1_U16 = int(round((SQ5 + 1) / (2 * SQ5) * 65536))
FULL_BYTES = 2**28  # weights kept for reuse up to this size
BITS = np.float32  # dtype of the 0/1 indicators of K1 (exact) and of the products' blocks


def _same_state(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_state(a[k], b[k]) for k in a)
    return bool(np.array_equal(a, b)) if isinstance(a, np.ndarray) else a == b


class MammenWeights:
    """Weights ``v`` (units x biters) drawn from ``rng``; ``rows(lo, hi)`` returns those of units ``lo:hi``.

    Creating the object consumes the generator's stream for all ``n`` units (it is advanced past them), so a
    second set drawn from the same generator is independent of the first.

    Parameters
    ----------
    rng : numpy.random.Generator
        The generator the weights are drawn from.
    biters : int
        Bootstrap draws (columns).
    n : int
        Units (rows).
    """

    def __init__(self, rng: np.random.Generator, biters: int, n: int):
        self.biters, self.n = int(biters), int(n)
        self.wpu = -(-self.biters // 4)
        bg = rng.bit_generator
        if not hasattr(bg, "advance"):
            raise TypeError("the bootstrap needs a generator with random access (numpy's PCG64)")
        self._state = bg.state
        self._cls = type(bg)
        bg.advance(self.n * self.wpu)
        self._kept: tuple[int, int, np.ndarray] | None = None
        self._buf: np.ndarray | None = None
        self._blk: np.ndarray | None = None

    def keep(self, lo: int, hi: int) -> None:
        """Generate the weights of units ``lo:hi`` once and keep them (for units that several passes read);
        kept only up to ``FULL_BYTES`` (as 0/1 indicators of ``K1``).

        Parameters
        ----------
        lo : int
            First unit.
        hi : int
            One past the last unit.
        """
        hi = min(hi, lo + max(1, FULL_BYTES // (np.dtype(BITS).itemsize * self.biters)))
        if hi > lo:
            self._kept = (lo, hi, self._bits(lo, hi))

    @property
    def chunk(self) -> int:
        """Units per generated block (about 8 MB of weights)."""
        return max(64, 2**23 // (np.dtype(BITS).itemsize * self.biters))

    def _bits(self, lo: int, hi: int, out: np.ndarray | None = None) -> np.ndarray:
        """1.0 where the weight of (unit, draw) is ``K1``, else 0.0, for units ``lo:hi``."""
        bg = self._cls()
        bg.state = self._state
        if lo:
            bg.advance(lo * self.wpu)
        out = np.empty((hi - lo, self.biters), BITS) if out is None else out[: hi - lo]
        step = max(1, 2**20 // (8 * self.wpu))  # raw words of about 1 MB at a time: they stay in cache
        for a in range(0, hi - lo, step):
            b = min(hi - lo, a + step)
            raw = bg.random_raw((b - a) * self.wpu)
            u16 = raw.view(np.uint16).reshape(b - a, 4 * self.wpu)[:, : self.biters]
            np.less(u16, P1_U16, out=out[a:b], casting="unsafe")
        return out

    def _make(self, lo: int, hi: int) -> np.ndarray:
        out = self._bits(lo, hi).astype(float)
        out *= K1 - K2
        out += K2  # K2 or K2 + (K1 - K2) (K1 to within one ulp)
        return out

    def vt_dot(self, lo: int, hi: int, M: np.ndarray, M2: np.ndarray | None = None):
        """``V[lo:hi]' M`` (biters x M's columns) for the units ``lo:hi`` (M has their ``hi - lo`` rows), as
        ``K2 * colsum(M) + (K1 - K2) * I' M`` with the 0/1 indicators ``I`` of ``K1``, in reused blocks (``I' M``
        in single precision on centred columns: see the module docstring). With ``M2`` (same rows),
        ``(V' M, V' M2)`` from the same weights, each block generated once.

        Parameters
        ----------
        lo : int
            First unit.
        hi : int
            One past the last unit.
        M : numpy.ndarray
            Values of units ``lo:hi`` (``hi - lo`` rows).
        M2 : numpy.ndarray, optional
            Second values of the same rows.
        """
        mats = [np.asarray(M, float)] + ([] if M2 is None else [np.asarray(M2, float)])
        edges = np.cumsum([0] + [m.shape[1] for m in mats])
        k = int(edges[-1])
        out = np.zeros((self.biters, k))
        mu = np.empty(k)
        for a, b, bits in self._bit_blocks(lo, hi):
            if self._blk is None or self._blk.shape[0] < b - a or self._blk.shape[1] < k + 1:
                self._blk = np.empty((max(b - a, self.chunk), k + 1), BITS)  # reused by every block and call
            cur = self._blk[: b - a, : k + 1]
            for m, c0, c1 in zip(mats, edges[:-1], edges[1:], strict=True):
                part = m[a - lo:b - lo]
                mu[c0:c1] = part.mean(axis=0)
                np.subtract(part, mu[c0:c1], out=cur[:, c0:c1], casting="unsafe")
            cur[:, k] = 1.0  # I' 1: the number of K1 weights per draw, exact
            prod = bits.T @ cur
            out += prod[:, :k]
            out += np.outer(prod[:, k], mu)
        out *= K1 - K2
        out += K2 * np.concatenate([m.sum(axis=0) for m in mats])
        return out if M2 is None else (out[:, :edges[1]], out[:, edges[1]:])

    def release(self) -> None:
        """Drop the kept weights and the work buffer (they are regenerated if needed)."""
        self._kept = None
        self._buf = None
        self._blk = None

    def same_draws(self, other: MammenWeights) -> bool:
        """Whether ``other`` holds exactly the weights of this object (same stream position, draws and units).

        Parameters
        ----------
        other : MammenWeights
            The weights to compare with.
        """
        return (self.biters, self.n, self._cls) == (other.biters, other.n, other._cls) and _same_state(
            self._state, other._state)

    def _bit_blocks(self, lo: int, hi: int):
        if self._kept is not None:
            k0, k1, kept = self._kept
            if k0 <= lo and hi <= k1:
                yield lo, hi, kept[lo - k0:hi - k0]
                return
        if self._buf is None:  # one buffer for every block of every call: its pages are touched once
            self._buf = np.empty((self.chunk, self.biters), BITS)
        for a in range(lo, hi, self.chunk):
            b = min(hi, a + self.chunk)
            yield a, b, self._bits(a, b, self._buf)

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """Weights of units ``lo:hi`` (``hi - lo`` x ``biters``, float64, a new array).

        Parameters
        ----------
        lo : int
            First unit.
        hi : int
            One past the last unit.
        """
        return self._make(lo, hi)

    def sums(self, mat) -> np.ndarray:
        """``v' mat`` (biters x k) for a dense or sparse ``mat`` with one row per unit, in row blocks.

        Parameters
        ----------
        mat : numpy.ndarray or scipy.sparse matrix
            One row per unit.
        """
        n, k = mat.shape
        out = np.zeros((self.biters, k))
        if hasattr(mat, "tocsr"):
            mat = mat.tocsr()
        for lo in range(0, n, self.chunk):
            hi = min(n, lo + self.chunk)
            blk = mat[lo:hi]
            blk = blk.toarray() if hasattr(blk, "toarray") else np.asarray(blk, float)
            out += self.vt_dot(lo, hi, blk)
        return out
