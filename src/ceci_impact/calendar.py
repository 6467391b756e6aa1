"""Monthly periods as integers (``year * 12 + month - 1``) and conversions to dates and labels."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ._options import CeciError


def period(year: int, month: int) -> int:
    """Integer period of a calendar month.

    Parameters
    ----------
    year : int
        Calendar year.
    month : int
        Month, 1 to 12.
    """
    return int(year) * 12 + int(month) - 1


def parse_month(text: str, name: str = "month") -> int:
    """Parse ``"YYYY-MM"`` into an integer period; one clear error otherwise.

    Parameters
    ----------
    text : str
        A month as ``"YYYY-MM"``.
    name : str
        The parameter's name (named in the error).
    """
    try:
        y, m = str(text).split("-")[:2]
        y, m = int(y), int(m)
        if not 1 <= m <= 12:
            raise ValueError
    except ValueError:
        raise CeciError(f"{name}={text!r} is not a month; expected YYYY-MM, e.g. 2026-03") from None
    return period(y, m)


def label(p: int | float) -> str:
    """``"YYYY-MM"`` label of an integer period (0 or NaN → ``"never"``).

    Parameters
    ----------
    p : int or float
        Integer period (0 or NaN: never treated).
    """
    if p is None or (isinstance(p, float) and not np.isfinite(p)) or p == 0:
        return "never"
    p = int(p)
    return f"{p // 12:04d}-{p % 12 + 1:02d}"


def month_start(p: int) -> dt.date:
    """First day of period ``p``.

    Parameters
    ----------
    p : int
        Integer period (``year * 12 + month - 1``).
    """
    return dt.date(p // 12, p % 12 + 1, 1)


def month_end(p: int) -> dt.date:
    """Last day of period ``p``.

    Parameters
    ----------
    p : int
        Integer period (``year * 12 + month - 1``).
    """
    return month_start(p + 1) - dt.timedelta(days=1)


def periods_of(dates: pd.Series | np.ndarray) -> np.ndarray:
    """Integer periods of an array of dates (NaT → -1).

    Parameters
    ----------
    dates : pandas.Series or numpy.ndarray
        Dates (NaT allowed).
    """
    d = pd.to_datetime(pd.Series(dates))
    out = (d.dt.year * 12 + d.dt.month - 1).to_numpy()
    return np.where(d.isna().to_numpy(), -1, out).astype(np.int64)


def last_complete_month(today: dt.date | None = None) -> int:
    """The latest calendar month that has ended.

    Parameters
    ----------
    today : datetime.date, optional
        The day of reference (default: today).
    """
    today = today or dt.date.today()
    return period(today.year, today.month) - 1
