"""Two languages from one execution: message catalogues, bilingual text and the number formatter of the reports.

Every report exists in Spanish (first, for IMSS readers) and English. A notebook runs once; what it shows carries
both languages, and the exporter (:mod:`ceci_impact.report.editions`) keeps one per edition:

- narrative from code is a :class:`Text` (an English ``str`` that also holds its Spanish), built from the keyed
  templates of ``messages/en.toml`` and ``messages/es.toml`` (:func:`msg`);
- table headers, category values and figure labels are translated through the glossary of terms
  ``messages/terms.toml`` (English term → Spanish; :func:`term`);
- the notebooks' markdown cells are translated in ``messages/cells.es.toml``, keyed by notebook and cell id with the
  hash of the English source they translate (a test fails when a cell changes and its translation does not).

Numbers go through one formatter (:func:`fmt_number`): significant digits chosen by magnitude, thousands
separators, never scientific notation. Mexican Spanish writes numbers as English does (decimal point, comma for
thousands), so both editions share it.
"""

from __future__ import annotations

import hashlib
import html
import math
import os
import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

ALL_LANGS = ("es", "en")  # every text holds both
# the editions written, Spanish first; CECI_LANGS=en (or es) writes one only (benchmarks/render_languages.py)
LANGS = tuple(x for x in os.environ.get("CECI_LANGS", "es,en").split(",") if x in ("es", "en")) or ("es", "en")
MESSAGES = Path(__file__).parent / "messages"


@cache
def _catalogue(name: str) -> dict:
    with open(MESSAGES / name, "rb") as fh:
        return tomllib.load(fh)


def messages(lang: str) -> dict[str, str]:
    """The keyed narrative templates of one language.

    Parameters
    ----------
    lang : str
        Language code (``'es'`` or ``'en'``).
    """
    return _catalogue(f"{lang}.toml")


def terms() -> dict[str, str]:
    """The glossary of terms: English label → Spanish."""
    return _catalogue("terms.toml")["terms"]


@cache
def _patterns() -> list[tuple[re.Pattern, str]]:
    return [(re.compile(f"^{k}$"), v) for k, v in _catalogue("terms.toml").get("patterns", {}).items()]


def cells_es() -> dict[str, dict]:
    """Spanish translations of the notebooks' markdown cells: ``{notebook: {cell_id: {"en": sha, "es": text}}}``."""
    return _catalogue("cells.es.toml")


def source_sha(text: str) -> str:
    """Short hash of an English markdown cell (what its translation was made from).

    Parameters
    ----------
    text : str
        The English markdown of the cell.
    """
    return hashlib.sha256(text.strip().encode()).hexdigest()[:12]


_MD_ACTIVE = re.compile(r"([\\`*_\[\]~|])")
_MD_LINE_START = re.compile(r"^(\s*)([#>+=-]|\d+[.)])")


def escape_md(value: Any) -> str:
    """Data-derived text made inert inside Markdown: line breaks become spaces and the characters that start
    emphasis, links, images, code, tables or strike-through are backslash-escaped, so a name from the data shows
    as written and never becomes a link or markup. Raw HTML (``<``, ``&``) is left to the renderer, which escapes
    it (:func:`ceci_impact.report.notebook.markdown_html`).

    Parameters
    ----------
    value
        The text (a name, a file path, a warning); non-strings are converted with ``str``.
    """
    s = " ".join(str(value).splitlines())
    return _MD_ACTIVE.sub(r"\\\1", s)


def _data(value: Any, lang: str) -> str:
    """A value placed into narrative: a :class:`Text` (library narrative) as it is, anything else escaped."""
    return value.lang(lang) if isinstance(value, Text) else escape_md(value)


class Text(str):
    """Narrative in both languages: the ``str`` is the English, ``by_lang`` holds every language.

    A ``Text`` is trusted Markdown (catalogue templates); a plain ``str`` combined with it (``+``, :meth:`join`,
    a value of :func:`msg`) is data and is escaped with :func:`escape_md`, so a name from the data never becomes
    markup.

    Parameters
    ----------
    by_lang : dict
        Language code to the text in that language (``'en'`` is required).
    """

    by_lang: dict[str, str]

    def __new__(cls, by_lang: dict[str, str]):
        obj = super().__new__(cls, by_lang["en"])
        obj.by_lang = dict(by_lang)
        return obj

    def __add__(self, other: str) -> Text:
        return Text({k: self.by_lang[k] + _data_block(other, k) for k in ALL_LANGS})

    def __radd__(self, other: str) -> Text:
        return Text({k: _data_block(other, k) + self.by_lang[k] for k in ALL_LANGS})

    def join(self, parts) -> Text:  # type: ignore[override]
        """The parts joined by this text as separator, in every language.

        Parameters
        ----------
        parts : iterable
            Strings or :class:`Text` values to join.
        """
        parts = list(parts)
        return Text({k: self.by_lang[k].join(_data(p, k) for p in parts) for k in ALL_LANGS})

    def lang(self, lang: str) -> str:
        """The text in ``lang`` (the English when that language is missing).

        Parameters
        ----------
        lang : str
            Language code (``'es'`` or ``'en'``).
        """
        return self.by_lang.get(lang, self.by_lang["en"])


def _data_block(value: Any, lang: str) -> str:
    """A plain string appended to narrative: escaped line by line (its line breaks and a list marker ``- `` that
    opens a line are kept, so a list of data items stays a list of inert items)."""
    if isinstance(value, Text):
        return value.lang(lang)
    out = []
    for line in str(value).split("\n"):
        m = re.match(r"^(\s*(?:[-*] )?)(.*)$", line)
        rest = _MD_LINE_START.sub(lambda g: g.group(1) + (g.group(2)[:-1] + "\\" + g.group(2)[-1]
                                                          if g.group(2)[0].isdigit() else "\\" + g.group(2)),
                                  escape_md(m.group(2)))
        out.append(m.group(1) + rest if m.group(2) else line)
    return "\n".join(out)


def in_lang(text: Any, lang: str) -> str:
    """The text of one language (a plain string is the same in both).

    Parameters
    ----------
    text : object
        A :class:`Text` or any value (whose ``str`` is used).
    lang : str
        Language code (``'es'`` or ``'en'``).
    """
    return text.lang(lang) if isinstance(text, Text) else str(text)


def msg(key: str, **values: Any) -> Text:
    """The message ``key`` in every language, formatted with ``values`` (a :class:`Text` value is used in the
    matching language; numbers are formatted by the template's format spec).

    Parameters
    ----------
    key : str
        The template's key in ``messages/en.toml`` and ``messages/es.toml``.
    **values
        The template's fields; a :class:`Text` value is used in the matching language.
    """
    out = {}
    for lang in ALL_LANGS:
        template = messages(lang).get(key)
        if template is None:
            raise KeyError(f"message {key!r} missing from messages/{lang}.toml")
        out[lang] = template.format(**{k: v.lang(lang) if isinstance(v, Text) else
                                       escape_md(v) if isinstance(v, str) else v for k, v in values.items()})
    return Text(out)


def term(label: Any, lang: str) -> str:
    """A label (column header, category, figure text) in ``lang``: the glossary's translation, else the label.

    Parameters
    ----------
    label : object
        A column header, category or figure text (its ``str`` is looked up).
    lang : str
        Language code (``'es'`` or ``'en'``).
    """
    s = str(label)
    if lang == "en" or not s.strip():
        return s
    hit = terms().get(s)
    if hit is not None:
        return hit
    for pattern, repl in _patterns():
        m = pattern.match(s)
        if m:  # the captured parts are labels too
            parts = [term(x, lang) for x in m.groups()]
            return re.sub(r"\\(\d)", lambda g, parts=parts: parts[int(g.group(1)) - 1], repl)
    if "; " in s:  # a list of labels
        return "; ".join(term(part, lang) for part in s.split("; "))
    _missing(s)
    return s


def tr(label: Any) -> Text:
    """A label in every language (through the glossary).

    Parameters
    ----------
    label : object
        A column header, category or figure text (its ``str`` is looked up).
    """
    return Text({lang: term(label, lang) for lang in ALL_LANGS})


def _missing(s: str) -> None:
    """Record a label with letters and no translation (``CECI_I18N_MISSING`` names the file), for the glossary."""
    path = os.environ.get("CECI_I18N_MISSING")
    if path and re.search(r"[A-Za-z]{2}", s):
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(s.replace("\n", " ") + "\n")


def both(by_lang: dict[str, str], tag: str = "div") -> str:
    """HTML holding every language, each in an element with its ``lang`` (the exporter keeps one).

    Parameters
    ----------
    by_lang : dict
        Language code to HTML.
    tag : str
        The element wrapping each language.
    """
    return "".join(f"<{tag} class='ceci-i18n' lang='{k}'>{by_lang[k]}</{tag}>" for k in LANGS if k in by_lang)


def fmt_number(x: Any, digits: int = 3) -> str:
    """One number for a reader: ``digits`` significant digits (at least the integer part), thousands separators,
    never scientific notation; integers as integers; missing as an em dash.

    Parameters
    ----------
    x : object
        A number (missing values give an em dash).
    digits : int
        Significant digits (at least the integer part is kept).
    """
    if x is None or isinstance(x, bool):
        return "—" if x is None else str(x)
    try:
        v = float(x)
    except (TypeError, ValueError):
        return html.escape(str(x))
    if not math.isfinite(v):
        return "—"
    if float(v).is_integer() and (abs(v) >= 1 or _is_int_type(x)):  # whole numbers (counts) as integers
        return f"{int(v):,}"
    if v == 0:
        return "0"
    mag = math.floor(math.log10(abs(v)))
    decimals = max(0, digits - 1 - mag)
    out = f"{v:,.{decimals}f}"
    return "0" if float(out.replace(",", "")) == 0 and decimals > 12 else out


def _is_int_type(x: Any) -> bool:
    import numpy as np

    return isinstance(x, (int, np.integer))


def fmt_signed(x: Any, digits: int = 3) -> str:
    """A signed number (``+0.0253``, ``−1.67``) with :func:`fmt_number`'s digits.

    Parameters
    ----------
    x : object
        A number (missing values give an em dash).
    digits : int
        Significant digits (at least the integer part is kept).
    """
    v = _finite(x)
    return "—" if v is None else ("+" if v >= 0 else "−") + fmt_number(abs(v), digits)


def fmt_p(p: Any) -> str:
    """A p-value: three decimals, ``<0.001`` below.

    Parameters
    ----------
    p : float
        The p-value (missing gives an em dash).
    """
    v = _finite(p)
    return "—" if v is None else "<0.001" if v < 0.001 else f"{v:.3f}"


def _finite(x: Any) -> float | None:
    """``x`` as a finite float, or None."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


MONTHS = {"es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
                 "noviembre", "diciembre"),
          "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                 "November", "December")}


def fmt_month(value: Any, lang: str) -> str:
    """A month for a reader: ``"junio de 2024"`` / ``"June 2024"`` from ``"2024-06"``, a date or a datetime;
    anything else is returned as given (escaped by the caller).

    Parameters
    ----------
    value : Any
        ``"YYYY-MM"`` or ``"YYYY-MM-DD"`` text, or an object with ``year`` and ``month``.
    lang : str
        ``"es"`` or ``"en"``.
    """
    year = month = None
    if hasattr(value, "year") and hasattr(value, "month"):
        year, month = int(value.year), int(value.month)
    else:
        m = re.fullmatch(r"(\d{4})-(\d{2})(?:-\d{2})?", str(value).strip())
        if m:
            year, month = int(m.group(1)), int(m.group(2))
    if year is None or not 1 <= month <= 12:
        return str(value)
    name = MONTHS.get(lang, MONTHS["en"])[month - 1]
    return f"{name} de {year}" if lang == "es" else f"{name} {year}"


def fmt_timestamp(when: Any, lang: str, tz: str = "America/Mexico_City") -> str:
    """A moment for a reader, in Mexico City time: ``"5 de diciembre de 2026, 09:30 (hora del centro de México)"``.

    Parameters
    ----------
    when : datetime
        An aware datetime.
    lang : str
        ``"es"`` or ``"en"``.
    tz : str
        IANA time zone shown.
    """
    from zoneinfo import ZoneInfo

    local = when.astimezone(ZoneInfo(tz))
    name = MONTHS.get(lang, MONTHS["en"])[local.month - 1]
    if lang == "es":
        return f"{local.day} de {name} de {local.year}, {local:%H:%M} (hora del centro de México)"
    return f"{name} {local.day}, {local.year}, {local:%H:%M} (Mexico City time)"


def month_text(value: Any) -> Text:
    """A month in every language (:func:`fmt_month`), for a message value.

    Parameters
    ----------
    value : Any
        What :func:`fmt_month` accepts.
    """
    return Text({lang: fmt_month(value, lang) for lang in ALL_LANGS})
