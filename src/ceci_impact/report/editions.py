"""Spanish and English editions of one executed notebook: self-contained HTML, one language each.

The notebook ran once; its outputs carry both languages (elements with class ``ceci-i18n`` and a ``lang``), and its
markdown cells are English with their Spanish in ``messages/cells.es.toml``. Each edition keeps its language's
outputs and cells, sets ``<html lang>``, and gets the navigation bar (index, previous and next report, the other
language), a contents list and the print stylesheet. No code, embedded figures, no external requests.
"""

from __future__ import annotations

import copy
import html
import re

from ..i18n import ALL_LANGS, cells_es, fmt_timestamp, source_sha

_EXTERNAL = re.compile(r"<script[^>]+src=[\"']https?://[^>]*>\s*</script>|<link[^>]+href=[\"']https?://[^>]*>",
                       re.I)
_MATHJAX = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S)
_MODULE_CDN = re.compile(r"<script type=\"module\">(?:(?!</script>).)*?https?://(?:(?!</script>).)*?</script>", re.S)

UI = {
    "es": {"contents": "Contenido", "index": "Índice de reportes", "prev": "anterior", "next": "siguiente",
           "other": "English", "run": "reporte", "rendered": "generado", "code": "código", "data": "datos"},
    "en": {"contents": "Contents", "index": "Report index", "prev": "previous", "next": "next",
           "other": "Español", "run": "report", "rendered": "rendered", "code": "code", "data": "data"},
}

VIEWPORT = "<meta name='viewport' content='width=device-width, initial-scale=1'>"
CSS = """
<style>
.ceci-nav { font-family: sans-serif; font-size: 90%; padding: 6px 10px; border-bottom: 1px solid #ccc;
            display: flex; gap: 16px; flex-wrap: wrap; }
.ceci-toc { border: 1px solid #ccc; padding: 6px 12px; margin: 10px 0; font-family: sans-serif; font-size: 90%; }
.ceci-table table { border-collapse: collapse; margin: 6px 0; font-size: 13px; }
.ceci-table caption { text-align: left; font-weight: bold; padding: 4px 0; }
.ceci-table th, .ceci-table td { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: right; }
.ceci-table th:first-child, .ceci-table td:first-child { text-align: left; }
.ceci-note { margin: 2px 0; font-size: 90%; color: #444; }
.ceci-csv { font-size: 85%; }
.ceci-table { overflow-x: auto; max-width: 100%; } img { max-width: 100%; height: auto; }
@media (max-width: 600px) { .ceci-table table { font-size: 11px; } .ceci-table th, .ceci-table td { padding: 2px 4px; } }
@media print {
  .ceci-table { overflow: visible; } .ceci-table table { font-size: 8pt; width: 100%; table-layout: auto; }
  .ceci-table th, .ceci-table td { word-break: break-word; padding: 1px 3px; }
  .ceci-nav, .ceci-csv, .ceci-toc { display: none; }
  h2 { page-break-before: always; }
  h1 + h2, .jp-Cell:first-child h2 { page-break-before: avoid; }
  table, figure, img { page-break-inside: avoid; }
  body { font-size: 11pt; }
}
</style>
"""


def localise(nb, lang: str, notebook: str):
    """A copy of the notebook for one edition: markdown cells in ``lang`` (Spanish from the catalogue entry of
    ``notebook``, the source notebook's stem, when its translation matches the cell's current English), stderr
    noise dropped.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The executed notebook.
    lang : str
        Language code (``'es'`` or ``'en'``).
    notebook : str
        The source notebook's stem (its translations' key).
    """
    nb = copy.deepcopy(nb)
    table = cells_es().get(notebook, {}) if lang == "es" else {}
    for cell in nb.cells:
        if cell.cell_type == "markdown" and lang == "es":
            tr = table.get(cell.get("id", ""))
            if tr and tr["en"] == source_sha(cell.source):
                cell.source = tr["es"]
        elif cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", []) if not (o.get("output_type") == "stream"
                                                                        and o.get("name") == "stderr")]
            for o in cell.outputs:
                data = o.get("data", {})
                if "text/markdown" in data:  # Markdown produced by code: rendered here with raw HTML escaped
                    from .notebook import markdown_html

                    src = data.pop("text/markdown")
                    data["text/html"] = markdown_html("".join(src) if isinstance(src, list) else src)
                for mime in ("application/javascript", "text/javascript"):  # outputs never carry scripts
                    data.pop(mime, None)
    return nb


_URL_ATTRS = ("href", "src", "xlink:href", "action", "formaction", "data", "poster")
_ACTIVE_TAGS = ("script", "iframe", "object", "embed", "form", "base", "frame", "frameset", "applet")


def sanitise_outputs(soup) -> None:
    """Make the outputs and markdown of an exported notebook inert: no ``<script>`` (or other active element), no
    event-handler attribute (``on...``) and no ``javascript:``/``vbscript:`` URL anywhere in them, whatever a producer
    forgot to escape. The page's own template (styles, the navigation) is outside the outputs and kept.

    Parameters
    ----------
    soup : bs4.BeautifulSoup
        The exported notebook page, changed in place.
    """
    areas = soup.select(".jp-OutputArea-output, .jp-RenderedMarkdown, .jp-RenderedHTMLCommon, .jp-MarkdownCell")
    for area in areas:
        for el in area.find_all(_ACTIVE_TAGS):
            el.decompose()
        for el in area.find_all(["meta"]):
            el.decompose()
    for el in soup.find_all(True):
        for attr in list(el.attrs):
            low = attr.lower()
            val = el.attrs[attr]
            text = " ".join(val) if isinstance(val, list) else str(val)
            plain = re.sub(r"[\s\x00-\x1f]", "", text).lower()
            if low.startswith("on") or (low in _URL_ATTRS and plain.startswith(("javascript:", "vbscript:"))):
                del el.attrs[attr]


def _keep_language(soup, lang: str) -> None:
    for el in soup.select(".ceci-i18n[lang]"):
        if el.get("lang") != lang:
            el.decompose()


def _nav(lang: str, nav: dict) -> str:
    u = UI[lang]
    other = next(x for x in ALL_LANGS if x != lang)
    links = [f"<a href='index.html'>⌂ {u['index']}</a>"]
    if nav.get("prev"):
        links.append(f"<a href='{html.escape(nav['prev'])}.html'>← {u['prev']}</a>")
    if nav.get("next"):
        links.append(f"<a href='{html.escape(nav['next'])}.html'>{u['next']} →</a>")
    links.append(f"<a href='../{other}/{html.escape(nav['name'])}.html' hreflang='{other}' lang='{other}'>"
                 f"{u['other']}</a>")
    return "<nav class='ceci-nav'>" + "".join(links) + "</nav>"


def _meta_value(key: str, value, lang: str) -> str:
    """A value of the page's metadata line for a reader: the render time in Mexico City time, words for dates."""
    if key == "rendered":
        import datetime as dt

        try:
            return fmt_timestamp(dt.datetime.fromisoformat(str(value)), lang)
        except ValueError:
            return str(value)
    return str(value)


def export_edition(nb, title: str, meta: dict, lang: str, nav: dict, notebook: str) -> str:
    """One edition of an executed notebook as self-contained HTML (``nav``: ``name``, ``prev``, ``next`` runs).

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The executed notebook.
    title : str
        The page title.
    meta : dict
        The run's record (name, parameters, times) shown in the page.
    lang : str
        Language code (``'es'`` or ``'en'``).
    nav : dict
        Navigation: ``name``, ``prev`` and ``next`` runs.
    notebook : str
        The source notebook's stem.
    """
    from bs4 import BeautifulSoup
    from nbconvert import HTMLExporter

    nb = localise(nb, lang, notebook)
    exp = HTMLExporter(template_name="lab")
    exp.exclude_input = True
    exp.exclude_input_prompt = True
    exp.exclude_output_prompt = True
    exp.embed_images = True
    body, _ = exp.from_notebook_node(nb, resources={"metadata": {"name": title}})
    body = _MODULE_CDN.sub("", _EXTERNAL.sub("", _MATHJAX.sub("", body)))
    soup = BeautifulSoup(body, "html.parser")
    _keep_language(soup, lang)
    sanitise_outputs(soup)
    if soup.html is not None:
        soup.html["lang"] = lang
    u = UI[lang]
    heads = [(int(h.name[1]), h.get("id", ""), h.get_text().replace("¶", "").strip()) for h in soup.find_all(["h1", "h2"])]
    toc = "".join(f"<li style='margin-left:{(lv - 1) * 14}px'><a href='#{html.escape(hid)}'>{html.escape(t)}</a></li>"
                  for lv, hid, t in heads if hid)
    meta_line = " · ".join(f"{html.escape(u.get(k, k))}: {html.escape(_meta_value(k, v, lang))}" for k, v in meta.items())
    block = (f"{_nav(lang, nav)}<nav class='ceci-toc'><b>{u['contents']}</b><ul style='list-style:none;"
             f"padding-left:4px'>{toc}</ul><div style='color:#666;font-size:85%'>{meta_line}</div></nav>")
    if soup.body is not None:
        soup.body.insert(0, BeautifulSoup(block, "html.parser"))
    if soup.head is not None:
        if soup.head.find("meta", attrs={"name": "viewport"}) is None:
            soup.head.insert(0, BeautifulSoup(VIEWPORT, "html.parser"))
        soup.head.append(BeautifulSoup(CSS, "html.parser"))
        if soup.title is not None and heads:
            soup.title.string = next((t for lv, _, t in heads if lv == 1), heads[0][2])  # the page's H1 names it
    return str(soup)
