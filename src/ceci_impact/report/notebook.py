"""Notebook conveniences: one call sets figures, tables, warnings and one-line user errors."""

from __future__ import annotations

import warnings

from .._options import CeciError


def _one_line_error(shell, etype, evalue, tb, tb_offset=None):
    """Show a user error as one line instead of a traceback (the cell still fails)."""
    msg = f"error: {evalue}"
    print(msg)
    return [msg]


def setup() -> None:
    """Call once at the top of a notebook (after the parameters cell)."""
    import matplotlib as mpl
    import pandas as pd

    mpl.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100, "axes.spines.top": False,
                         "axes.spines.right": False, "figure.figsize": (8, 4)})
    pd.set_option("display.precision", 4)
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.width", 160)
    warnings.formatwarning = lambda m, c, f, l, line=None: f"{c.__name__}: {m}\n"
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    try:
        from IPython import get_ipython

        ip = get_ipython()
        if ip is not None:
            ip.set_custom_exc((CeciError,), _one_line_error)
    except ImportError:  # outside IPython
        pass


def md(text: str):
    """Render Markdown from code (narrative that depends on results)."""
    from IPython.display import Markdown

    return Markdown(text)


def html(text: str):
    """Render raw HTML from code (banners)."""
    from IPython.display import HTML

    return HTML(text)
