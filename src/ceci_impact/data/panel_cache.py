"""Panels kept in memory by the process that read them (:func:`read_panel`, behind
:func:`ceci_impact.data.panels.load`): a report reads the employer panel several times, and a render kernel
(:mod:`ceci_impact.report.kernel_pool`) runs many reports in a row."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

_PANELS: dict[tuple, tuple[pd.DataFrame, int]] = {}  # key: (frame, bytes), least recently used first


def cache_budget() -> int:
    """Bytes of panels a process keeps: ``CECI_PANEL_CACHE_MB`` MiB (default 512; 0 turns the cache off)."""
    try:
        return max(0, int(float(os.environ.get("CECI_PANEL_CACHE_MB", "512")) * 2**20))
    except ValueError:
        return 512 * 2**20


def _copy_on_write() -> bool:
    return int(pd.__version__.split(".")[0]) >= 3 or pd.get_option("mode.copy_on_write") is True


def read_panel(path: str | Path) -> pd.DataFrame:
    """Read a parquet panel, from memory when this process read the same unchanged file before.

    The file is identified by its resolved path, size, modification time and inode, so a rebuilt panel is read
    again. Each call returns its own frame (a copy-on-write copy; a deep copy before pandas 3): changing it never
    changes what the next call returns. Panels are kept up to :func:`cache_budget` bytes, least recently used
    dropped first; a panel larger than the budget is read every time and not kept.

    Parameters
    ----------
    path : str or pathlib.Path
        The parquet file (it exists).
    """
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)
    deep = not _copy_on_write()
    hit = _PANELS.pop(key, None)
    if hit is not None:
        _PANELS[key] = hit  # most recently used last
        return hit[0].copy(deep=deep)
    df = pd.read_parquet(p)
    budget = cache_budget()
    size = int(df.memory_usage(deep=True).sum())
    for k in [k for k in _PANELS if k[0] == key[0]]:  # an older version of the same file
        del _PANELS[k]
    if size > budget:
        return df
    while _PANELS and size + sum(n for _, n in _PANELS.values()) > budget:
        del _PANELS[next(iter(_PANELS))]
    _PANELS[key] = (df, size)
    return df.copy(deep=deep)


_DERIVED: dict[tuple, pd.DataFrame] = {}  # key: (file key, name), least recently used first
DERIVED_KEEP = 8


def derived_frame(path: str | Path, name: str, fn) -> pd.DataFrame:
    """``fn(panel)`` for the parquet panel at ``path``, computed once per process while the file is unchanged (same
    resolved path, size, modification time and inode as :func:`read_panel`); each call returns its own copy.

    For small frames every page of a render derives from a large panel in the same way (the first month of each
    employer, read by a site profile seven times and by every site profile of a kernel). ``fn`` must depend on the
    panel only; ``name`` tells apart the derivations of one file. At most :data:`DERIVED_KEEP` are kept.

    Parameters
    ----------
    path : str or pathlib.Path
        The parquet file (it exists).
    name : str
        Name of the derivation (part of the key).
    fn : callable
        Panel -> frame.
    """
    p = Path(path)
    st = p.stat()
    key = ((str(p.resolve()), st.st_size, st.st_mtime_ns, st.st_ino), name)
    hit = _DERIVED.pop(key, None)
    if hit is None:
        hit = fn(read_panel(p))
        for k in [k for k in _DERIVED if k[0][0] == key[0][0] and k[1] == name]:  # an older version of the file
            del _DERIVED[k]
    _DERIVED[key] = hit  # most recently used last
    while len(_DERIVED) > DERIVED_KEEP:
        del _DERIVED[next(iter(_DERIVED))]
    return hit.copy(deep=not _copy_on_write())
