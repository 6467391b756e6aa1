"""Notebook conveniences: one call sets figures, tables, warnings and one-line user errors."""

from __future__ import annotations

import contextlib
import functools
import warnings

from .._options import CeciError


def _one_line_error(shell, etype, evalue, tb, tb_offset=None):
    """Show a user error as one line instead of a traceback (the cell still fails)."""
    msg = f"error: {evalue}"
    print(msg)
    return [msg]


def setup() -> None:
    """Call once at the top of a notebook (after the parameters cell).

    Besides figure and warning settings it registers the bilingual displays: a ``DataFrame`` or an estimator's
    result shows as a publication table in both languages with its CSV (:mod:`ceci_impact.report.tables`), a
    figure as SVG in both languages with alt text (:mod:`ceci_impact.report.figure_html`); the exporter keeps one
    language per edition.
    """
    import matplotlib as mpl
    import pandas as pd

    from .figure_html import palette

    mpl.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100, "axes.spines.top": False,
                         "axes.spines.right": False, "figure.figsize": (8, 4), **palette()})
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
            _register_displays(ip)
    except ImportError:  # outside IPython
        pass


def _register_displays(ip) -> None:
    """Bilingual HTML for data frames and figures (results build theirs with :func:`ceci_impact.tables.table_html`),
    and no second, monolingual copy of figures."""
    import matplotlib.pyplot as plt
    import pandas as pd
    from matplotlib.figure import Figure

    plt.close(plt.figure())  # loads the inline backend now, so that its own figure formatters are replaced below
    from ..tables import table_html
    from .figure_html import figure_html

    f = ip.display_formatter.formatters
    for mime in ("image/png", "image/svg+xml", "image/jpeg", "application/pdf"):
        with contextlib.suppress(KeyError):
            f[mime].pop(Figure)
    f["text/html"].for_type(Figure, figure_html)
    f["text/html"].for_type(pd.DataFrame, table_html)


@functools.cache
def _markdown():
    import mistune

    return mistune.create_markdown(escape=True, plugins=["strikethrough", "footnotes", "table"])


def markdown_html(text: str) -> str:
    """Markdown to HTML for a published page: raw HTML in the text is escaped (shown, never run) and links or
    images with a harmful scheme (``javascript:``, ``data:``...) are dropped by the renderer.

    Parameters
    ----------
    text
        Markdown (narrative from the catalogues, with data-derived values already escaped by
        :func:`ceci_impact.i18n.msg`).
    """
    return _markdown()(str(text))


def md(text):
    """Render Markdown from code (narrative that depends on results): a :class:`ceci_impact.i18n.Text` in both
    languages, a plain string as it is; raw HTML inside either is escaped (:func:`markdown_html`).

    Parameters
    ----------
    text : str or Text
        Markdown (both languages when a :class:`ceci_impact.i18n.Text`).
    """
    from IPython.display import HTML

    from ..i18n import Text, both

    if isinstance(text, Text):
        return HTML(both({k: markdown_html(v) for k, v in text.by_lang.items()}))
    return HTML(markdown_html(text))


def html(text: str):
    """Render raw HTML from code (banners).

    Parameters
    ----------
    text : str
        HTML (already escaped where data-derived).
    """
    from IPython.display import HTML

    return HTML(text)
