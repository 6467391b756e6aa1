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

from ..i18n import ALL_LANGS, cells_es, source_sha

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
@media print {
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
    return nb


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
    if soup.html is not None:
        soup.html["lang"] = lang
    u = UI[lang]
    heads = [(int(h.name[1]), h.get("id", ""), h.get_text().replace("¶", "").strip()) for h in soup.find_all(["h1", "h2"])]
    toc = "".join(f"<li style='margin-left:{(lv - 1) * 14}px'><a href='#{html.escape(hid)}'>{html.escape(t)}</a></li>"
                  for lv, hid, t in heads if hid)
    meta_line = " · ".join(f"{html.escape(u.get(k, k))}: {html.escape(str(v))}" for k, v in meta.items())
    block = (f"{_nav(lang, nav)}<nav class='ceci-toc'><b>{u['contents']}</b><ul style='list-style:none;"
             f"padding-left:4px'>{toc}</ul><div style='color:#666;font-size:85%'>{meta_line}</div></nav>")
    if soup.body is not None:
        soup.body.insert(0, BeautifulSoup(block, "html.parser"))
    if soup.head is not None:
        soup.head.append(BeautifulSoup(CSS, "html.parser"))
        if soup.title is not None and heads:
            soup.title.string = heads[0][2]
    return str(soup)
