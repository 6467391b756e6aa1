"""Pseudo-inverses of Gram matrices, remembered by content (issue 27, part 3: speed of the reports).

A report fits one design several times: the estimate on the outcome and, on simulated data, the truth of the same
estimand on the effect outcomes (``_effect_treated`` and ``_effect_other``, same rows, same indicators). The
saturated regressions (Sun–Abraham, the TWFE event study) invert a cohort x event-time Gram matrix of a few
thousand rows, whose SVD dominates their time and which depends on the design only. :func:`pinv_cached` returns
``numpy.linalg.pinv(M)`` and keeps the last few results keyed by a hash of ``M``'s bytes, shape and dtype: an
equal matrix (bit for bit) gets the very array computed before, so results are identical to an uncached call, and
any change of the design — one row, one indicator, one rounding — is a different key.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np

MIN_SIZE = 256  # smaller matrices are inverted directly (the hash would cost as much as the SVD)
KEEP = 4  # matrices remembered (each n x n floats: 4 of 3,000 x 3,000 are 288 MB)
_CACHE: OrderedDict[bytes, np.ndarray] = OrderedDict()
_STATS = {"hits": 0, "misses": 0}


def _key(M: np.ndarray) -> bytes:
    h = hashlib.blake2b(digest_size=20)
    h.update(repr((M.shape, M.dtype.str)).encode())
    h.update(np.ascontiguousarray(M).tobytes())
    return h.digest()


def pinv_cached(M: np.ndarray) -> np.ndarray:
    """``numpy.linalg.pinv(M)`` (default ``rcond``), the same array again for a matrix equal bit for bit to one of
    the last :data:`KEEP` inverted (read-only: callers must not write into it).

    Parameters
    ----------
    M : numpy.ndarray
        A square matrix (a Gram matrix ``X'X``).

    Returns
    -------
    numpy.ndarray
        Its Moore–Penrose pseudo-inverse.
    """
    M = np.asarray(M)
    if M.ndim != 2 or M.shape[0] < MIN_SIZE:
        return np.linalg.pinv(M)
    k = _key(M)
    hit = _CACHE.get(k)
    if hit is not None:
        _CACHE.move_to_end(k)
        _STATS["hits"] += 1
        return hit
    _STATS["misses"] += 1
    out = np.linalg.pinv(M)
    out.setflags(write=False)
    _CACHE[k] = out
    while len(_CACHE) > KEEP:
        _CACHE.popitem(last=False)
    return out


def clear_pinv_cache() -> None:
    """Forget every remembered pseudo-inverse (and the hit counts)."""
    _CACHE.clear()
    _STATS.update(hits=0, misses=0)
