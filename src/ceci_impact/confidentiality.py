"""Confidentiality rules of published tables: small cells and the numbers that would reveal them."""

from __future__ import annotations

import pandas as pd

MIN_CELL = 5  # confidentiality: employer counts below this are suppressed in published tables

def suppress_small(df: pd.DataFrame, cols: list[str], k: int = MIN_CELL, *, linked: list[str] = (),
                   secondary: bool = True) -> pd.DataFrame:
    """Statistical disclosure control: counts below ``k`` in ``cols`` become ``"<k"``.

    ``linked`` columns (observation counts, totals of the same units) are blanked in the suppressed rows, since
    they would give the suppressed count back (observations / months). With ``secondary``, a column with exactly one
    suppressed cell also suppresses its next smallest cell, so the suppressed count cannot be recovered as a
    published total minus the visible cells.

    Parameters
    ----------
    df : pandas.DataFrame
        The table to publish.
    cols : list of str
        Count columns checked.
    k : int
        Smallest count published (:data:`MIN_CELL`).
    linked : list of str
        Columns that would give a suppressed count back; blanked in suppressed rows.
    secondary : bool
        Complementary suppression of the next smallest cell when a column has one suppressed cell.
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
        Number of confidential units (employers or workers).
    k : int
        Smallest count published.
    """
    return int(n) >= k

def count_text(n: int, what: str, k: int = MIN_CELL) -> str:
    """``"12 employers"``, or ``"fewer than 5 employers"`` for a count that must stay suppressed."""
    return f"{int(n):,} {what}" if publishable(n, k) else f"fewer than {k} {what}"
