"""Is the Spanish edition entirely in Spanish? A check of the visible text of exported pages.

Officials read the Spanish edition; an English sentence, header or figure label, or a code identifier
(``women_jobs0``, ``runplan.toml``, ``biasDirection``), is a defect. :func:`page_problems` lists them for one page:

- English: a text element (paragraph, list item, table cell or header, caption, figure alt text) with at least two
  words that are English and not Spanish (``the``, ``with``, ``employers`` …), or a header with one;
- code identifiers: snake_case names, file names with a code extension, camelCase names, ``Delta^`` notation.

Proper names and technical terms the glossary keeps (Callaway–Sant'Anna, HonestDiD, IMSS, CECI) are not English
words here. The check reads what a reader sees: scripts, styles and attributes other than ``alt`` are ignored.
"""

from __future__ import annotations

import re

ENGLISH = frozenset("""
the and with which from this that these those are were is been have has of for by than when where what
estimate estimates effect effects treated employers employer workers worker jobs women month months show shows
between after before each every only also not into over under their there they would could should will can
it its an at as or if but no yes table figure download rows shown outcome outcomes comparison weights cohort
cohorts event time period periods level per site sites pole poles scheme data simulated truth interval intervals
""".split()) - frozenset("no".split())
_WORD = re.compile(r"[A-Za-zÁÉÍÓÚÑÜáéíóúñü']+")
_CODE = re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b|\b\w+\.(?:toml|py|ipynb|json|parquet)\b|\b[a-z]+[A-Z][a-z]+\w*\b"
                   r"|Delta\^|\bMbar\b")
_BLOCKS = ("p", "li", "td", "th", "caption", "h1", "h2", "h3", "h4", "figcaption", "dt", "dd", "summary", "a",
           "span", "div")
_HEADERS = ("th", "h1", "h2", "h3", "h4", "caption")
_ALLOWED = re.compile(r"CECI-\d+|data:|https?://\S+")


def _english_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text) if w.lower() in ENGLISH and not (w.isupper() and len(w) > 1)]


def page_problems(page: str, *, max_items: int = 50) -> list[str]:
    """The English text and code identifiers visible on one Spanish page.

    Parameters
    ----------
    page : str
        The page's HTML.
    max_items : int
        At most this many problems are listed.
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    for tag in soup.find_all(attrs={"lang": True}):
        if tag.get("lang") not in ("es", None) and tag.name != "html":
            tag.decompose()  # the other edition's copy, or a language switcher's own label
    out: list[str] = []
    seen: set[str] = set()
    texts = []
    for tag in soup.find_all(_BLOCKS):
        if tag.find(_BLOCKS):  # leaves only: the smallest block holding the text
            own = "".join(s for s in tag.find_all(string=True, recursive=False)).strip()
            if not own:
                continue
            text = own
        else:
            text = tag.get_text(" ", strip=True)
        texts.append((tag.name, text))
    texts += [("alt", img.get("alt", "")) for img in soup.find_all("img")]
    for name, text in texts:
        text = _ALLOWED.sub(" ", text)
        if not text or text in seen:
            continue
        seen.add(text)
        eng = _english_words(text)
        if len(eng) >= 2 or (eng and name in _HEADERS):
            out.append(f"English in <{name}>: {text[:160]!r}")
        code = _CODE.findall(text)
        if code:
            out.append(f"code identifier in <{name}>: {', '.join(sorted(set(code)))[:80]} in {text[:120]!r}")
        if len(out) >= max_items:
            break
    return out
