"""Figures in both languages from one drawing: vector (SVG) images with alt text generated from what they show.

:func:`figure_html` is the notebook's display of a matplotlib figure (registered by
:func:`ceci_impact.report.notebook.setup`): the figure is drawn as SVG with its English texts, its texts are then
translated through the glossary (:func:`ceci_impact.i18n.term`) and it is drawn again, so each edition gets its own
labels, title, legend and alt text. Event-time axes get integer ticks, month-code axes date labels, and legends sit
beside the plot so that they never cover data. The palette (Okabe–Ito, with a distinct marker per series) stays
distinguishable under the common colour-vision deficiencies.
"""

from __future__ import annotations

import base64
import html
import io
import re

from ..i18n import LANGS, both, fmt_number, term
from ..marks import mark

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
_EVENT_AXIS = re.compile(r"event time|months since|quarters since|since opening|relative (month|period)|relative to first", re.I)

_ALT = {
    "en": {"figure": "Figure", "x": "horizontal axis", "y": "vertical axis", "series": "series",
           "from": "from", "to": "to", "panel": "panel"},
    "es": {"figure": "Figura", "x": "eje horizontal", "y": "eje vertical", "series": "series",
           "from": "de", "to": "a", "panel": "panel"},
}


def palette() -> dict:
    """matplotlib settings: the colour-blind-safe cycle with one marker per series."""
    from cycler import cycler

    return {"axes.prop_cycle": cycler(color=OKABE_ITO) + cycler(marker=MARKERS), "lines.markersize": 4,
            "svg.fonttype": "none", "legend.framealpha": 0.9}


def alt_text(fig, lang: str) -> str:
    """What the figure shows, in words: title, each panel's axes with their ranges, and the series named.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    lang : str
        Language code (``'es'`` or ``'en'``).
    """
    w = _ALT[lang]
    parts = []
    sup = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) else ""
    if sup:
        parts.append(sup)
    axes = [ax for ax in fig.axes if ax.get_visible() and (ax.lines or ax.collections or ax.patches or ax.images)]
    for i, ax in enumerate(axes):
        bits = []
        title = ax.get_title()
        if len(axes) > 1:
            bits.append(f"{w['panel']} {i + 1}" + (f" «{title}»" if title else ""))
        elif title:
            bits.append(title)
        for key, label, lim in (("x", ax.get_xlabel(), ax.get_xlim()), ("y", ax.get_ylabel(), ax.get_ylim())):
            if label:
                bits.append(f"{w[key]}: {label} ({w['from']} {fmt_number(lim[0])} {w['to']} {fmt_number(lim[1])})")
        names = [t.get_text() for t in (ax.get_legend().get_texts() if ax.get_legend() else [])]
        if names:
            bits.append(f"{w['series']}: " + ", ".join(names[:8]))
        parts.append("; ".join(bits))
    body = ". ".join(p for p in parts if p)
    return f"{w['figure']}: {body}." if body else w["figure"]


def _texts(fig):
    """Every text object of a figure a reader sees (titles, labels, legends, annotations, string tick labels)."""
    out = list(fig.texts)
    if getattr(fig, "_suptitle", None):
        out.append(fig._suptitle)
    for ax in fig.axes:
        out += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
        if ax.get_legend():
            out += list(ax.get_legend().get_texts())
            if ax.get_legend().get_title():
                out.append(ax.get_legend().get_title())
    for leg in fig.legends:
        out += list(leg.get_texts())
    return out


def _translate(fig, lang: str) -> None:
    for t in _texts(fig):
        s = t.get_text()
        if s:
            t.set_text(term(s, lang))
    for ax in fig.axes:  # categorical tick labels (strings, not numbers)
        for axis in (ax.xaxis, ax.yaxis):
            labels = [t.get_text() for t in axis.get_ticklabels()]
            if labels and any(re.search(r"[A-Za-z]{2}", s) for s in labels):
                axis.set_ticks(axis.get_ticklocs())
                axis.set_ticklabels([term(s, lang) for s in labels])


def _integer_event_ticks(fig) -> None:
    from matplotlib.ticker import MaxNLocator

    for ax in fig.axes:
        if _EVENT_AXIS.search(ax.get_xlabel() or ""):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _period_ticks(fig) -> None:
    """Axes whose ticks are month codes (``year * 12 + month - 1``, years 1990–2040) are labelled as dates."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    from ..calendar import label

    for ax in fig.axes:
        lo, hi = ax.get_xlim()
        if 1990 * 12 <= lo and hi <= 2041 * 12 and hi - lo >= 2:
            ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: label(int(round(v)))))
            for t in ax.get_xticklabels():
                t.set_rotation(30)
                t.set_horizontalalignment("right")


def _legends_outside(fig) -> None:
    """Each axes' legend moved off the data, so that it never covers it (the saved figure grows to hold it): beside
    the plot for the right-most panel of its row, below the panel otherwise (where a neighbour would be hit)."""
    right = max((ax.get_position().x1 for ax in fig.axes), default=1.0)
    for ax in fig.axes:
        leg = ax.get_legend()
        if leg is None or not leg.get_texts():
            continue
        handles, labels = leg.legend_handles, [t.get_text() for t in leg.get_texts()]
        title = leg.get_title().get_text()
        leg.remove()
        beside = ax.get_position().x1 >= right - 1e-6
        place = (dict(loc="upper left", bbox_to_anchor=(1.01, 1.0)) if beside else
                 dict(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=min(len(labels), 3)))
        ax.legend(handles, labels, title=title or None, fontsize="small", frameon=False, **place)


def _svg(fig, alt: str) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode()
    return (f"<figure class='ceci-figure'><img src='data:image/svg+xml;base64,{data}' alt='{html.escape(alt, quote=True)}'"
            " style='max-width:100%;height:auto'></figure>")


def figure_html(fig) -> str:
    """The figure for both editions: SVG with its texts in each language and alt text describing it.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    """
    _integer_event_ticks(fig)
    _period_ticks(fig)
    _legends_outside(fig)
    out = {}
    for lang in ("en", *[x for x in LANGS if x != "en"]):  # English first: the figure's own texts
        if lang != "en":
            _translate(fig, lang)
        alt = alt_text(fig, lang)
        mk = mark(lang)
        stamp = (fig.text(0.995, 0.005, mk, ha="right", va="bottom", fontsize=9, color="#b7410e",
                          fontweight="bold", alpha=0.85) if mk else None)
        out[lang] = _svg(fig, alt + (f" ({mk})" if mk else ""))
        if stamp is not None:
            stamp.remove()
    return both({k: out[k] for k in LANGS})
