"""The index of the reports, in Spanish and English: a front page that answers "did the CECI work?", navigation
by outcome, scheme, PODECOBI pole, state and site, and the glossary.

``reports/es/index.html`` and ``reports/en/index.html`` are built from the sidecars (``reports/results/*.json``);
``reports/index.html`` lets the reader choose the language (Spanish first).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
from pathlib import Path

from ..data.outcomes import OUTCOMES
from ..i18n import ALL_LANGS, LANGS, _catalogue, fmt_month, fmt_number, fmt_p, fmt_signed, fmt_timestamp, msg, term
from ..io import atomic_file
from ..study.economics import CostAssumptions, costs, decision_effect
from ..study.verdict import Verdict, headline_verdict

GROUP_ORDER = ["Summary", "Female employment", "Absenteeism", "Retention", "Productivity", "Work risks",
               "Pole profiles", "Site profiles", "Roll-out design", "Data", "Back-test"]
OUTCOME_GROUPS = ("Female employment", "Absenteeism", "Retention", "Productivity", "Work risks")
STATES = {"01": "Aguascalientes", "02": "Baja California", "03": "Baja California Sur", "04": "Campeche",
          "05": "Coahuila", "06": "Colima", "07": "Chiapas", "08": "Chihuahua", "09": "Ciudad de México",
          "10": "Durango", "11": "Guanajuato", "12": "Guerrero", "13": "Hidalgo", "14": "Jalisco", "15": "México",
          "16": "Michoacán", "17": "Morelos", "18": "Nayarit", "19": "Nuevo León", "20": "Oaxaca", "21": "Puebla",
          "22": "Querétaro", "23": "Quintana Roo", "24": "San Luis Potosí", "25": "Sinaloa", "26": "Sonora",
          "27": "Tabasco", "28": "Tamaulipas", "29": "Tlaxcala", "30": "Veracruz", "31": "Yucatán", "32": "Zacatecas"}

CSS = """
body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1200px; }
table { border-collapse: collapse; width: 100%; margin-bottom: 18px; font-size: 14px; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.verdict { font-weight: bold; } .good { color: #1b6f3b; } .bad { color: #9a1b1b; } .skip { color: #666; }
.lead { font-size: 110%; max-width: 60em; } .sim { border: 2px solid #b7410e; background: #fff4e5; padding: 6px; }
nav.lang { float: right; } .wide { overflow-x: auto; max-width: 100%; } small { color: #444; }
.note { font-size: 90%; color: #444; max-width: 60em; }
.v-detected { color: #1b6f3b; } .v-ruled_out { color: #1f4e79; } .v-inconclusive { color: #8a5a00; }
@media (max-width: 600px) { body { margin: 8px; } table { font-size: 12px; } th, td { padding: 3px 4px; } }
@media print { nav.lang { display: none; } .wide { overflow: visible; } table { font-size: 9pt; }
  th, td { word-break: break-word; } tr { page-break-inside: avoid; } }
"""
HEAD = "<meta charset='utf-8'><meta name='viewport' content='width=device-width, initial-scale=1'>"


def _t(key: str, lang: str, **kw) -> str:
    return msg(key, **kw).lang(lang)


def _sidecars(reports: Path) -> dict[str, dict]:
    rows: dict[str, dict] = {}
    for f in sorted((reports / "results").glob("*.json")):
        if f.name.startswith("."):
            continue
        d = json.loads(f.read_text())
        cur = rows.setdefault(d.get("run", f.stem), {"ok": None, "failed": None, "skipped": None})
        kind = "failed" if f.name.endswith(".failed.json") else "skipped" if f.name.endswith(".skipped.json") else "ok"
        cur[kind] = d
    return rows


def _natural(y: str, v: float) -> float:
    """A value of outcome ``y`` in the units the index shows (per cent, percentage points or its own units)."""
    if y.startswith("log_"):
        return 100 * (math.exp(v) - 1)
    return 100 * v if ("rate" in y or "share" in y) else v


def natural_effect(h: dict) -> dict:
    """An estimate in natural units: per cent for log outcomes, percentage points for rates and shares, the
    outcome's own units otherwise (with the per cent of the comparison mean when known).

    Parameters
    ----------
    h : dict
        A headline record of a sidecar.
    """
    y = h.get("outcome", "")
    b, lo, hi = h["estimate"], h["ci_low"], h["ci_high"]
    base = h.get("baseline")
    if y.startswith("log_"):
        pct = [100 * (math.exp(v) - 1) for v in (b, lo, hi)]
        return {"text": f"{fmt_signed(pct[0], 2)} % [{fmt_signed(pct[1], 2)}, {fmt_signed(pct[2], 2)}]", "unit": "",
                "relative": ""}
    unit = ""
    if "rate" in y or "share" in y:
        txt = f"{fmt_signed(100 * b, 2)} pp [{fmt_signed(100 * lo, 2)}, {fmt_signed(100 * hi, 2)}]"
    else:
        unit = OUTCOMES[y].unit_note if y in OUTCOMES else ""
        txt = f"{fmt_signed(b)} [{fmt_signed(lo)}, {fmt_signed(hi)}]"
    rel = f"{fmt_signed(100 * b / base, 2)} %" if base not in (None, 0) and base == base else ""
    return {"text": txt, "unit": unit, "relative": rel}


def _effect_text(h: dict, lang: str) -> str:
    eff = natural_effect(h)
    return eff["text"] + (f" {term(eff['unit'], lang)}" if eff["unit"] else "")


def _verdict(h: dict, lang: str) -> str:
    lo, hi = h["ci_low"], h["ci_high"]
    key = "index.verdict_up" if lo > 0 else "index.verdict_down" if hi < 0 else "index.verdict_null"
    return _t(key, lang)


def _label(h: dict) -> str:
    """The outcome's label from the registry (what the sidecar stored when the outcome is no longer registered)."""
    y = h.get("outcome", "")
    return OUTCOMES[y].label if y in OUTCOMES else h.get("label", y)


def _magnitude(y: str, x: float | None, lang: str) -> str:
    """A size of effect (a bound, a detectable effect) in the units the index shows: log points as per cent,
    rates and shares in percentage points, other outcomes in their own units."""
    if x is None:
        return "—"
    if y.startswith("log_"):
        return f"{fmt_number(100 * x, 2)} %"
    if "rate" in y or "share" in y:
        return f"{fmt_number(100 * x, 2)} pp"
    unit = OUTCOMES[y].unit_note if y in OUTCOMES else ""
    return fmt_number(x) + (f" {term(unit, lang)}" if unit else "")


def treated_clusters(outcome: str, facts: dict) -> int | None:
    """Treated clusters behind a headline: treated municipalities for municipality outcomes, opened centres
    (the site clusters) for employer outcomes.

    Parameters
    ----------
    outcome : str
        Registry name of the headline outcome.
    facts : dict
        The build's facts (``treated_municipalities``, ``centres_opened``).
    """
    panel = OUTCOMES[outcome].panel if outcome in OUTCOMES else "municipality"
    return facts.get("treated_municipalities" if panel == "municipality" else "centres_opened")


def headline_reading(h: dict, facts: dict | None) -> Verdict | None:
    """The three-state verdict of a headline record (None when it lacks a standard error).

    Parameters
    ----------
    h : dict
        The headline record (``outcome``, ``estimate``, ``se``, interval).
    facts : dict or None
        The build's facts, for the number of treated clusters.
    """
    if not isinstance(h.get("se"), (int, float)) or not h["se"] == h["se"]:
        return None
    try:
        return headline_verdict(h, treated_clusters=treated_clusters(h.get("outcome", ""), facts or {}))
    except ValueError:
        return None


def _verdict_cell(h: dict, facts: dict | None, lang: str) -> str:
    v = headline_reading(h, facts)
    if v is None:
        return f"<span class='verdict'>{html.escape(_verdict(h, lang))}</span>"
    y = h.get("outcome", "")
    text = v.text(lambda x: _magnitude(y, x, lang)).lang(lang)
    return (f"<span class='verdict v-{v.state}'>{html.escape(_t(v.label_key, lang))}</span><br>"
            f"<small>{html.escape(text)}</small>")


def _fmt_triple(vals, digits: int = 3) -> tuple[str, str, str]:
    return tuple(fmt_signed(v, digits) if v is not None else "—" for v in vals)


def _decision_cell(h: dict, facts: dict | None, lang: str) -> str:
    d = decision_effect(h, facts or {})
    if d is None:
        return "—"
    v, lo, hi = _fmt_triple((d["value"], d["lo"], d["hi"]))
    out = _t(d["key"], lang, v=v, lo=lo, hi=hi)
    if "per_centre" in d and "per_100_places" in d:
        out += _t("decision.per_centre", lang, v=fmt_signed(d["per_centre"][0]), p=fmt_signed(d["per_100_places"][0]))
    return html.escape(out)


def _money(vals, lang: str) -> tuple[str, str, str]:
    return tuple(_t("cost.unbounded", lang) if v is None else fmt_number(v, 3) for v in vals)


def _cost_text(key: str, vals: list, lang: str) -> str:
    """A cost with its interval when the gain is estimated (point value); otherwise the least it could cost, at the
    largest gain the interval does not rule out (or nothing when the interval rules out any gain)."""
    point, low, _high = vals
    if point is not None:
        v, lo, hi = _money(vals, lang)
        return _t(key, lang, v=v, lo=lo, hi=hi)
    if low is not None:
        return _t(f"{key}_at_least", lang, v=fmt_number(low, 3))
    return ""


def _cost_cell(h: dict, facts: dict | None, lang: str, assumptions: CostAssumptions | None = None) -> str:
    c = costs(h, facts or {}, assumptions)
    if not c:
        return "—"
    out = ""
    if "cost_per_woman" in c:
        out = _cost_text("cost.per_woman", c["cost_per_woman"], lang)
        if out and "guarderias_contributions" in c and c["guarderias_contributions"][0] > 0:
            out += _t("cost.contrib", lang, v=fmt_number(c["guarderias_contributions"][0], 3))
    elif "cost_per_day_avoided" in c:
        out = _cost_text("cost.per_day", c["cost_per_day_avoided"], lang)
        if out and "subsidy_saved_at_most" in c and c["subsidy_saved_at_most"][0] > 0:
            out += _t("cost.subsidy", lang, v=fmt_number(c["subsidy_saved_at_most"][0], 3))
    return html.escape(out) if out else "—"


def cost_note(facts: dict | None, lang: str, assumptions: CostAssumptions | None = None) -> str:
    """The assumptions behind the cost column, in a sentence (empty without opened places).

    Parameters
    ----------
    facts : dict or None
        The build's facts (``places_opened``, ``centres_opened``).
    lang : {'es', 'en'}
        Language of the sentence.
    assumptions : CostAssumptions, optional
        Fee, price factor and cost per place (default: :class:`CostAssumptions`).
    """
    facts = facts or {}
    if not facts.get("places_opened"):
        return ""
    a = assumptions or CostAssumptions()
    return _t("cost.assumptions", lang, fee=fmt_number(a.fee_per_child_month), year=a.fee_year,
              factor=fmt_number(a.price_factor), year_cost=fmt_number(a.cost_per_place_year),
              places=fmt_number(facts["places_opened"]), centres=fmt_number(facts.get("centres_opened")))


def _flags(h: dict, summary: dict, lang: str) -> str:
    out = []
    p = h.get("pretest_p")
    if p is not None:
        out.append(_t("index.flag_pretrend_ok" if p >= 0.05 else "index.flag_pretrend_bad", lang, p=fmt_p(p)))
    rob = (summary.get("sensitivity") or {}).get(h.get("outcome"))
    if rob:
        out.append(_t("index.flag_robust_same", lang, n=rob["n"]) if rob["same_sign"] else
                   _t("index.flag_robust_mixed", lang))
    hon = summary.get("honest") or {}
    if hon.get("outcome") == h.get("outcome"):
        bd = hon.get("breakdown_rm")
        out.append(_t("index.flag_honest", lang, bd=fmt_number(bd)) if bd is not None else
                   _t("index.flag_honest_none", lang))
    return "<br>".join(html.escape(x) for x in out)


def _truth(h: dict, lang: str) -> str:
    t = h.get("truth")
    if t is None:
        return "—"
    covers = h["ci_low"] <= t <= h["ci_high"]
    z = (h["estimate"] - t) / h["se"] if h.get("se") else float("nan")
    y = h.get("outcome", "")
    unit = " %" if y.startswith("log_") else " pp" if ("rate" in y or "share" in y) else ""
    shown = fmt_signed(_natural(y, t), 2 if unit else 3) + unit
    return html.escape(_t("index.truth_ok" if covers else "index.truth_miss", lang, truth=shown, z=f"{z:+.1f}"))


def _headline_grid(summary: dict | None, lang: str) -> str:
    if not summary:
        return f"<p>{html.escape(_t('index.no_summary', lang))}</p>"
    heads = summary.get("headlines") or []
    sim = any(h.get("truth") is not None for h in heads)
    facts = summary.get("exposure") or {}
    cols = ["index.col_outcome", "index.col_effect", "index.col_relative", "index.col_verdict",
            "index.col_decision", "index.col_cost", "index.col_flags"]
    cols += ["index.col_truth"] if sim else []
    trs = []
    for h in heads:
        cells = [html.escape(term(_label(h), lang)), html.escape(_effect_text(h, lang)),
                 html.escape(natural_effect(h)["relative"] or "—"), _verdict_cell(h, facts, lang),
                 _decision_cell(h, facts, lang), _cost_cell(h, facts, lang), _flags(h, summary, lang)]
        if sim:
            cells.append(_truth(h, lang))
        trs.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    head = "".join(f"<th>{html.escape(_t(c, lang))}</th>" for c in cols)
    note = _t("index.simulated" if sim else "index.real", lang)
    cnote = cost_note(facts, lang)
    return (f"<h2>{html.escape(_t('index.headline_title', lang))}</h2><p class='{'sim' if sim else ''}'>"
            f"{html.escape(note)}</p><div class='wide'><table class='headlines'><thead><tr>{head}</tr></thead><tbody>"
            f"{''.join(trs)}</tbody></table></div>" + (f"<p class='note'>{html.escape(cnote)}</p>" if cnote else ""))


def _headline_text(res: dict, lang: str) -> str:
    h = res.get("headline") if isinstance(res, dict) else None
    if not h or "estimate" not in h:
        return ""
    try:
        v = headline_reading(h, None)
        label = _t(v.label_key, lang) if v is not None else _verdict(h, lang)
        return f"{html.escape(_effect_text(h, lang))} — {html.escape(label)}"
    except (KeyError, TypeError, ValueError):
        return ""


def _status(d: dict, lang: str) -> tuple[str, str, dict | None]:
    ok, failed, skipped = d["ok"], d["failed"], d["skipped"]
    if failed:
        extra = html.escape(failed.get("error", "")) + (_t("index.last_good", lang) if ok else "")
        return f"<span class='bad'>{_t('index.status_failed', lang)}</span>", extra, ok
    if ok:
        return f"<span class='good'>{_t('index.status_ok', lang)}</span>", "", ok
    return f"<span class='skip'>{_t('index.status_skipped', lang)}</span>", html.escape(skipped.get("reason", "")), None


def _link(name: str, ok: dict | None) -> str:
    title = html.escape(name)
    return f"<a href='{title}.html'>{title}</a>" if ok else title


def _report_table(items: list, lang: str) -> str:
    trs = []
    for name, d in items:
        status, extra, ok = _status(d, lang)
        trs.append(f"<tr><td>{_link(name, ok)}</td><td>{status}</td><td>{_headline_text((ok or {}).get('results', {}), lang)}"
                   f"</td><td>{extra}</td></tr>")
    head = "".join(f"<th>{_t(k, lang)}</th>" for k in ("index.col_report", "index.col_status", "index.col_headline"))
    return f"<table><thead><tr>{head}<th></th></tr></thead><tbody>{''.join(trs)}</tbody></table>"


def _site_table(items: list, lang: str) -> str:
    def facts(d):
        return ((d["ok"] or {}).get("results") or {}).get("facts") or {}

    rows = sorted(items, key=lambda nd: (STATES.get(str(facts(nd[1]).get("cvegeo", ""))[:2], "~"),
                                         facts(nd[1]).get("pole", ""), facts(nd[1]).get("opening_month", ""), nd[0]))
    trs = []
    for name, d in rows:
        f = facts(d)
        status, extra, ok = _status(d, lang)
        state = STATES.get(str(f.get("cvegeo", ""))[:2], "—")
        trs.append("<tr>" + "".join(f"<td>{c}</td>" for c in (
            html.escape(state), html.escape(str(f.get("pole") or "—")), _link(name, ok),
            html.escape(str(f.get("name", ""))), html.escape(term(str(f.get("scheme", "")), lang)),
            html.escape(fmt_month(f.get("opening_month", ""), lang)),
            _headline_text((ok or {}).get("results", {}), lang) or "—")
        ) + "</tr>")
    keys = ("index.col_state", "index.col_pole", "index.col_report", "index.col_site", "index.col_scheme",
            "index.col_opening", "index.col_headline")
    head = "".join(f"<th>{_t(k, lang)}</th>" for k in keys)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(trs)}</tbody></table>"


def _glossary(lang: str) -> str:
    items = "".join(f"<dt><b>{html.escape(e[f'{lang}_term'])}</b></dt><dd>{html.escape(e[lang])}</dd>"
                    for e in _catalogue("glossary.toml")["entry"])
    return f"<h2 id='glossary'>{_t('index.glossary', lang)}</h2><dl>{items}</dl>"


def index_page(rows: dict[str, dict], lang: str) -> str:
    """The index of one language, from the sidecars (:func:`_sidecars`).

    Parameters
    ----------
    rows : dict
        Run name to its sidecar.
    lang : str
        Language code (``'es'`` or ``'en'``).
    """
    groups: dict[str, list] = {}
    for name, d in rows.items():
        main = d["failed"] or d["ok"] or d["skipped"]
        groups.setdefault(main.get("group", "Other"), []).append((name, d))
    summary = ((rows.get("00_summary") or {}).get("ok") or {}).get("results")
    other = next(x for x in ALL_LANGS if x != lang)
    parts = [f"<nav class='lang'><a href='../{other}/index.html' hreflang='{other}' lang='{other}'>"
             f"{_t('index.language', lang)}</a></nav>",
             f"<h1>{html.escape(_t('index.title', lang))}</h1><p class='lead'>{html.escape(_t('index.lead', lang))}</p>",
             _headline_grid(summary, lang),
             f"<p><a href='executive_summary.html'>{html.escape(_t('summary.link', lang))}</a></p>"]
    if "Summary" in groups:
        parts.append(_report_table(groups["Summary"], lang))
    parts.append(f"<h2>{_t('index.nav_outcome', lang)}</h2>")
    for g in OUTCOME_GROUPS:
        if g in groups:
            parts.append(f"<h3>{html.escape(term(g, lang))}</h3>" + _report_table(sorted(groups[g]), lang))
    parts.append(f"<h2>{_t('index.nav_scheme', lang)}</h2><p>{html.escape(_t('index.schemes', lang))}</p>")
    scheme = [(n, d) for g in OUTCOME_GROUPS for n, d in groups.get(g, [])
              if (d["ok"] or d["failed"] or d["skipped"] or {}).get("parameters", {}).get("scheme")]
    if scheme:
        parts.append(_report_table(sorted(scheme), lang))
    if "Pole profiles" in groups:
        parts.append(f"<h2>{_t('index.nav_pole', lang)}</h2>" + _report_table(sorted(groups["Pole profiles"]), lang))
    if "Site profiles" in groups:
        parts.append(f"<h2>{_t('index.nav_site', lang)}</h2>" + _site_table(groups["Site profiles"], lang))
    rest = [g for g in groups if g not in (*OUTCOME_GROUPS, "Summary", "Pole profiles", "Site profiles")]
    if rest:
        parts.append(f"<h2>{_t('index.nav_other', lang)}</h2>")
        for g in sorted(rest, key=lambda x: (GROUP_ORDER.index(x) if x in GROUP_ORDER else 99, x)):
            parts.append(f"<h3>{html.escape(term(g, lang))}</h3>" + _report_table(sorted(groups[g]), lang))
    parts.append(_glossary(lang))
    when = fmt_timestamp(dt.datetime.now(dt.UTC), lang)
    parts.append(f"<p class='skip'>{html.escape(_t('index.generated', lang, when=when))}</p>")
    return (f"<!DOCTYPE html>\n<html lang='{lang}'><head>{HEAD}<title>"
            f"{html.escape(_t('index.title', lang))}</title><style>{CSS}</style></head><body>{''.join(parts)}"
            "</body></html>\n")


def _brief_row(h: dict, facts: dict, lang: str) -> str:
    """One outcome of the one-page brief: what we know, what we cannot rule out, when we will know."""
    y = h.get("outcome", "")
    v = headline_reading(h, facts)
    label = html.escape(term(_label(h), lang))
    if v is None:
        return f"<tr><td>{label}</td><td colspan='3'>{html.escape(_effect_text(h, lang))}</td></tr>"
    mag = lambda x: _magnitude(y, x, lang)  # noqa: E731
    if v.state == "detected":
        know = f"{_t(v.label_key, lang)}: {_effect_text(h, lang)}"
        cannot, when = "—", _t("brief.now", lang)
    else:
        know = _t("brief.nothing", lang) if v.state == "inconclusive" else _t("brief.excluded", lang, x=mag(v.bound))
        cannot = "—" if v.state == "ruled_out" else _t("brief.not_excluded", lang, x=mag(v.bound))
        if v.state == "ruled_out":
            when = "—"
        elif v.clusters_needed is None:
            when = _t("brief.unknown", lang)
        else:
            key = "brief.soon" if v.clusters_needed <= 1000 else "brief.never"
            when = _t(key, lang, need=f"{v.clusters_needed:,}", now=f"{v.treated_clusters:,}")
    dec = _decision_cell(h, facts, lang)
    cost = _cost_cell(h, facts, lang)
    extra = " · ".join(x for x in (dec, cost) if x != "—")
    know_html = html.escape(know) + (f"<br><small>{extra}</small>" if extra else "")
    return (f"<tr><td><b>{label}</b></td><td>{know_html}</td><td>{html.escape(cannot)}<br><small>"
            f"{html.escape(_t('index.mde', lang, mde=mag(v.mde)))}</small></td><td>{html.escape(when)}</td></tr>")


BRIEF_CSS = """
body { font-family: sans-serif; margin: 16px; color: #222; max-width: 1100px; font-size: 13px; }
h1 { font-size: 20px; margin: 0 0 6px 0; } .lead { font-size: 13px; margin: 0 0 8px 0; }
table { border-collapse: collapse; width: 100%; margin-bottom: 8px; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } small { color: #444; } .note { font-size: 11px; color: #444; }
.sim { border: 2px solid #b7410e; background: #fff4e5; padding: 4px; } nav.lang { float: right; }
@media (max-width: 600px) { body { margin: 6px; font-size: 12px; } }
@media print { @page { size: A4 portrait; margin: 10mm; } nav.lang { display: none; }
  body { margin: 0; font-size: 9pt; max-width: none; } h1 { font-size: 14pt; } .note, small { font-size: 7.5pt; }
  table, tr { page-break-inside: avoid; } }
"""


def executive_summary(rows: dict[str, dict], lang: str) -> str:
    """The one-page brief (prints on one A4 page): per headline outcome what we know, what we cannot rule out and
    when we will know, with the effect in decision units and its cost.

    Parameters
    ----------
    rows : dict
        Run name to its sidecar.
    lang : str
        Language code (``'es'`` or ``'en'``).
    """
    summary = ((rows.get("00_summary") or {}).get("ok") or {}).get("results") or {}
    other = next(x for x in ALL_LANGS if x != lang)
    heads = summary.get("headlines") or []
    facts = summary.get("exposure") or {}
    sim = any(h.get("truth") is not None for h in heads)
    nav = (f"<nav class='lang'><a href='../{other}/executive_summary.html' hreflang='{other}' lang='{other}'>"
           f"{_t('index.language', lang)}</a> · <a href='index.html'>{html.escape(_t('index.title', lang))}</a></nav>")
    if heads:
        head = "".join(f"<th>{html.escape(_t(k, lang))}</th>" for k in ("index.col_outcome", "brief.know",
                                                                         "brief.cannot", "brief.when"))
        table = (f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(_brief_row(h, facts, lang) for h in heads)}"
                 "</tbody></table>")
    else:
        table = f"<p>{html.escape(_t('index.no_summary', lang))}</p>"
    note = _t("index.simulated" if sim else "index.real", lang)
    cnote = cost_note(facts, lang)
    body = (f"{nav}<h1>{html.escape(_t('summary.title', lang))}</h1>"
            f"<p class='{'sim' if sim else 'lead'}'>{html.escape(note)}</p>{table}"
            + (f"<p class='note'>{html.escape(cnote)}</p>" if cnote else "")
            + f"<p class='note'>{html.escape(_t('summary.read', lang))}</p>")
    return (f"<!DOCTYPE html>\n<html lang='{lang}'><head>{HEAD}<title>"
            f"{html.escape(_t('summary.title', lang))}</title><style>{BRIEF_CSS}</style></head><body>{body}"
            "</body></html>\n")


def write_index(reports: str | Path) -> Path:
    """Write ``reports/{es,en}/index.html``, the one-page ``executive_summary.html`` of each language and the
    language chooser ``reports/index.html``.

    Parameters
    ----------
    reports : str or pathlib.Path
        The reports folder.
    """
    reports = Path(reports)
    rows = _sidecars(reports)
    for lang in LANGS:
        (reports / lang).mkdir(parents=True, exist_ok=True)
        with atomic_file(reports / lang / "index.html", encoding="utf-8") as fh:
            fh.write(index_page(rows, lang))
        with atomic_file(reports / lang / "executive_summary.html", encoding="utf-8") as fh:
            fh.write(executive_summary(rows, lang))
    links = "".join(f"<li lang='{lang}'><a href='{lang}/index.html' hreflang='{lang}'>{_t('index.title', lang)}</a>"
                    f" — {html.escape(_t('index.landing', lang))}</li>" for lang in LANGS)
    page = (f"<!DOCTYPE html>\n<html lang='es'><head>{HEAD}<title>ceci-impact</title><style>{CSS}"
            f"</style></head><body><h1>ceci-impact</h1><ul>{links}</ul></body></html>\n")
    with atomic_file(reports / "index.html", encoding="utf-8") as fh:
        fh.write(page)
    return reports / "index.html"
