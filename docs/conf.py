"""Sphinx configuration of the ceci-impact documentation (``make docs``: warnings are errors).

The Markdown pages in ``docs/`` are read by myst-parser. The home page lists the guide's pages in a fixed order and
then every other ``docs/*.md`` page automatically (:func:`_list_other_pages`), so a new page joins the site without
an edit here.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

project = "ceci-impact"
author = "ceci-impact contributors"
copyright = "2026, ceci-impact contributors"  # noqa: A001 (Sphinx's name)
try:
    from ceci_impact import __version__ as release
except Exception:  # pragma: no cover - the build fails later with the import error itself
    release = "0.1.0"
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# API reference: one page per public object, numpydoc renders the Parameters / Returns sections
autosummary_generate = True
autodoc_typehints = "none"
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

html_theme = "pydata_sphinx_theme"
html_title = "ceci-impact"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
html_static_path: list[str] = []

# the guide's pages, in reading order; every other docs/*.md page follows them on the home page
GUIDE = ["user-guide", "methods", "validation", "benchmarks", "architecture", "api", "changelog"]


def _list_other_pages() -> list[str]:
    """Every ``docs/*.md`` page that is not the home page or one of :data:`GUIDE`, sorted by name."""
    return sorted(p.stem for p in HERE.glob("*.md") if p.stem not in {"index", *GUIDE})


def _add_other_pages(app, docname, source):
    """Append the other pages' toctree to the home page (Sphinx ``source-read`` event)."""
    if docname != "index":
        return
    others = _list_other_pages()
    if others:
        source[0] += "\n\n```{toctree}\n:maxdepth: 1\n:caption: More topics\n\n" + "\n".join(others) + "\n```\n"


def setup(app):
    app.connect("source-read", _add_other_pages)
