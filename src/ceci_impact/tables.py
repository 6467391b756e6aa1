"""Tables fit for publication, in both languages: human column names, one number formatter, no index, a caption
and the table as CSV, embedded in the page.

:func:`table_html` is what a notebook shows for a ``DataFrame`` (:func:`ceci_impact.report.notebook.setup`
registers it), and every estimator's result builds its ``_repr_html_`` with it (:mod:`ceci_impact.did.core.results`).
"""

from __future__ import annotations

import base64
import html
import re
from typing import Any

import numpy as np
import pandas as pd

from .i18n import LANGS, _catalogue, both, fmt_number, fmt_p, in_lang, term

_P_COLUMNS = re.compile(r"(^|_)(p|pvalue|p_value|p-value)($|_)", re.I)


def column_label(col: Any, lang: str) -> str:
    """A column's header: code names (``ci_low``) become words, then the glossary gives the Spanish.

    Parameters
    ----------
    col : object
        The column name.
    lang : str
        Language code (``'es'`` or ``'en'``).
    """
    s = str(col)
    en = _catalogue("terms.toml").get("columns", {}).get(s, s)
    return term(en, lang)


def _cell(v: Any, col: str, lang: str) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)) or v is pd.NA or v is pd.NaT:
        return "—"
    if isinstance(v, (bool, np.bool_)):
        return {"es": "sí", "en": "yes"}[lang] if v else "no"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        return fmt_p(v) if _P_COLUMNS.search(col) else fmt_number(v, 3)
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d")
    return html.escape(term(v, lang))


def _frame(df: pd.DataFrame) -> pd.DataFrame:
    """The frame to show: a named index (a grouping key) becomes columns, an unnamed one (row numbers, also after
    filtering) is dropped."""
    return df.reset_index(drop=all(n is None for n in df.index.names))


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy for a CSV download where a text cell that a spreadsheet would run as a formula (starting with
    ``= + - @``, a tab or a carriage return, and not a number) starts with an apostrophe instead (OWASP's advice
    against CSV injection); numbers are untouched.

    Parameters
    ----------
    df
        The table to download.
    """
    out = df.copy()
    for c in out.columns:
        s = out[c]
        if not (pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)):
            continue
        text = s.map(lambda v: isinstance(v, str)).astype(bool)
        st = s.where(text, "").astype(str)
        risky = text & st.str.startswith(_FORMULA_START) & pd.to_numeric(st, errors="coerce").isna()
        if risky.any():
            out[c] = s.where(~risky, "'" + st)
    return out


def _csv(d: pd.DataFrame, lang: str) -> str:
    """The whole table as CSV in ``lang`` (headers and category labels translated, numbers as they are), after a
    comment line naming the data kind when it is known (:mod:`ceci_impact.marks`)."""
    from .marks import note

    out = d.copy()
    for c in out.columns:
        if pd.api.types.is_object_dtype(out[c]) or pd.api.types.is_string_dtype(out[c]):
            out[c] = [in_lang(v, lang) if not isinstance(v, str) else term(v, lang) for v in out[c]]
    out.columns = [column_label(c, lang) for c in out.columns]
    head = note(lang)
    return (f"# {head}\n" if head else "") + csv_safe(out).to_csv(index=False)


def _slug(text: str, name: str) -> str:
    return re.sub(r"[^a-z0-9áéíóúñü]+", "-", text.lower()).strip("-")[:60] or name


def table_html(df: pd.DataFrame, caption: Any = None, notes: list | None = None, name: str = "table",
               max_rows: int = 200) -> str:
    """The table in both languages (each in its ``lang`` element), with a CSV download of the whole table in the
    same language (file name from the caption, with the data kind's mark when known).

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    caption : str or Text, optional
        Its caption (both languages when a :class:`ceci_impact.i18n.Text`).
    notes : list, optional
        Notes printed under the table.
    name : str
        File name of the CSV download when there is no caption (without extension).
    max_rows : int
        Rows shown (the download holds them all).
    """
    from .marks import mark

    d = _frame(df)
    shown = d.head(max_rows)
    out = {}
    for lang in LANGS:
        csv = base64.b64encode(_csv(d, lang).encode("utf-8")).decode()
        stem = in_lang(caption, lang) if caption else {"es": "tabla", "en": name}[lang]
        mk = mark(lang)
        slug = _slug(str(stem), name) + (f"-{_slug(mk, '')}" if mk else "")
        head = "".join(f"<th>{html.escape(column_label(c, lang))}</th>" for c in shown.columns)
        cols = [str(c) for c in shown.columns]
        body = "".join("<tr>" + "".join(f"<td>{_cell(v, c, lang)}</td>" for v, c in zip(row, cols, strict=True))
                       + "</tr>" for row in shown.itertuples(index=False, name=None))
        cap = f"<caption>{html.escape(in_lang(caption, lang))}</caption>" if caption else ""
        more = ""
        if len(d) > max_rows:
            more = {"es": f"<p class='ceci-note'>Se muestran {max_rows:,} de {len(d):,} filas; el CSV las tiene todas.</p>",
                    "en": f"<p class='ceci-note'>{max_rows:,} of {len(d):,} rows shown; the CSV has them all.</p>"}[lang]
        foot = "".join(f"<p class='ceci-note'>{html.escape(in_lang(n, lang))}</p>" for n in (notes or []))
        link = {"es": "Descargar la tabla (CSV)", "en": "Download the table (CSV)"}[lang]
        out[lang] = (f"<div class='ceci-table'><table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
                     f"{more}{foot}<a class='ceci-csv' download='{html.escape(slug, quote=True)}.csv' "
                     f"href='data:text/csv;charset=utf-8;base64,{csv}'>{link}</a></div>")
    return both(out)
