"""Sentences and verdicts the reports quote, machine-readable sidecars and the simulated-data banner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.outcomes import OUTCOME_LABELS, OUTCOMES, headlines
from ..data.panels import manifest
from ..did.core.results import _json
from ..i18n import ALL_LANGS, Text, both, fmt_signed, month_text, msg, tr
from ..io import atomic_file
from ..marks import set_data_kind


def robustness_verdict(tab: pd.DataFrame) -> Text:
    """Words for the sensitivity table: do all specifications agree in sign and significance?

    Parameters
    ----------
    tab : pandas.DataFrame
        The sensitivity table of :func:`ceci_impact.study.studies.robustness`.
    """
    t = tab.dropna(subset=["estimate"])
    if t.empty:
        return msg("robust.none")
    r = robustness_summary(t)
    return msg("robust.range", n=r["n"], lo=fmt_signed(t.estimate.min(), 4), hi=fmt_signed(t.estimate.max(), 4),
               signs=msg("robust.same_sign" if r["same_sign"] else "robust.sign_changes"), n_sig=r["n_sig"])


def robustness_summary(tab: pd.DataFrame) -> dict:
    """The sensitivity table in numbers (for the index's credibility flags): specifications estimated, how many are
    distinguishable from zero at 5 %, and whether all share one sign.

    Parameters
    ----------
    tab : pandas.DataFrame
        The sensitivity table of :func:`ceci_impact.study.studies.robustness`.
    """
    t = tab.dropna(subset=["estimate"])
    signs = np.sign(t.estimate)
    return {"n": int(len(t)), "n_sig": int(((t.ci_low > 0) | (t.ci_high < 0)).sum()),
            "same_sign": bool(len(t) and (signs == signs.iloc[0]).all())}


def honest_verdict(h) -> Text:
    """Words for a HonestDiD result: how large a violation of parallel trends would overturn the conclusion.

    Parameters
    ----------
    h : HonestResult
        A HonestDiD result (:func:`ceci_impact.did.honest_did`).
    """
    lo, hi = h.original
    sig = lo > 0 or hi < 0
    bd = h.breakdown
    rm = h.params.get("type") == "relative_magnitude"
    top = h.table.M.max()
    what = msg("honest.what_rm" if rm else "honest.what_sm", top=f"{top:.3g}")
    target = tr(h.target)
    if not sig:
        t = h.table
        excl = t[(t.lb > 0) | (t.ub < 0)]
        if len(excl):  # the restriction moves the interval itself (smoothness extrapolates the pre-period trend)
            side = ("honest.side_above" if (excl.lb > 0).all() else "honest.side_below" if (excl.ub < 0).all()
                    else "honest.side_away")
            return msg("honest.moved", target=target, side=msg(side), m="Mbar" if rm else "M", mmax=f"{excl.M.max():.3g}")
        return msg("honest.inconclusive", target=target, what=what)
    if bd is None:
        return msg("honest.robust", target=target, what=what)
    return msg("honest.breakdown_rm" if rm else "honest.breakdown_sm", target=target, bd=f"{bd:.3g}")


MONTE_CARLO = Path(__file__).parents[1] / "reference_data" / "truth_recovery" / "small.json"

def _num(x) -> str:
    return "—" if x is None or x != x else f"{x:.2f}"


def _pct(x) -> str:
    return "—" if x is None or x != x else f"{x:.0%}"


def monte_carlo_note(path: str | Path = MONTE_CARLO) -> Text:
    """What the Monte Carlo over many simulated worlds says about misses (``benchmarks/truth_recovery.py``).

    Parameters
    ----------
    path : str or pathlib.Path
        The Monte Carlo record (``reference_data/truth_recovery/small.json``, written by
        ``benchmarks/truth_recovery.py --json``).
    """
    p = Path(path)
    if not p.exists():
        return msg("mc.none")
    mc = json.loads(p.read_text())
    about = mc.pop("_about", {})
    parts = []
    for y, ests in mc.items():
        r = ests.get("callaway_santanna")
        if r:
            parts.append(msg("mc.part", label=tr(OUTCOME_LABELS.get(y, y)), coverage=f"{r['coverage']:.0%}",
                             n=f"{r['n'] - r.get('failed', 0):.0f}", failed=f"{r.get('failed', 0):.0f}",
                             width=_num(r.get("width_ratio")), power=_pct(r.get("power")),
                             bias=f"{r['mean_bias_se']:+.2f}"))
    seeds = about.get("seeds", "?")
    out = msg("mc.summary", size=tr(about.get("size", "default")), seeds=seeds if isinstance(seeds, str) else
              f"{min(seeds)}–{max(seeds)}", n_worlds=str(about.get("worlds", len(seeds) if isinstance(seeds, list)
                                                                   else "?")),
              commit=str(about.get("commit", "?"))[:7], parts=_join(parts, "; "))
    low = [y for y, ests in mc.items() if "callaway_santanna" in ests
           and ests["callaway_santanna"]["coverage"] < 0.95 - 2 * (0.95 * 0.05 / ests["callaway_santanna"]["n"]) ** 0.5]
    if low:  # coverage more than two Monte-Carlo SEs below 95 %
        out += msg("mc.undercover", labels=_join([tr(OUTCOME_LABELS.get(y, y)) for y in low], ", "))
    missing = [o.label for o in headlines() if o.name not in mc]
    if missing:
        out += msg("mc.not_recorded", labels=_join([tr(x) for x in missing], ", "))
    return out


def bullets(items) -> Text:
    """A Markdown list of narrative items, in every language.

    Parameters
    ----------
    items : iterable
        Strings or :class:`ceci_impact.i18n.Text` values.
    """
    return _join([Text({k: v.lang(k) if isinstance(v, Text) else str(v) for k in ALL_LANGS}) for v in items], "\n\n")


def labelled(outcome: str, text) -> Text:
    """``- **outcome label**: text`` in every language.

    Parameters
    ----------
    outcome : str
        An outcome of the registry (:data:`ceci_impact.data.outcomes.OUTCOMES`).
    text : str or Text
        What is said about it.
    """
    return msg("summary.labelled", label=tr(OUTCOME_LABELS.get(outcome, outcome)), text=text)


def variant_line(outcome: str, default_outcome: str, scheme: str = "both", pole: str = "") -> Text | str:
    """Which variant of a report this is (its outcome when not the default, its scheme subset, its pole), so that
    reports of one notebook never read alike; empty for the default.

    Parameters
    ----------
    outcome : str
        An outcome of the registry (:data:`ceci_impact.data.outcomes.OUTCOMES`).
    default_outcome : str
        The notebook's default outcome.
    scheme : {'both', 'IMSS', 'Empresa'}
        The scheme subset of the report.
    pole : str
        The PODECOBI pole of the report ('' for all).
    """
    parts = []
    if outcome != default_outcome:
        parts.append(msg("variant.outcome", label=tr(OUTCOME_LABELS.get(outcome, outcome))))
    if scheme != "both":
        parts.append(msg(f"variant.scheme_{scheme}"))
    if pole:
        parts.append(msg("variant.pole", pole=pole))
    return msg("variant.line", parts=_join(parts, "; ")) if parts else ""


def join_labels(outcomes: list[str]) -> Text:
    """Outcome names as their labels, comma-separated, in every language.

    Parameters
    ----------
    outcomes : list of str
        Outcomes of the registry.
    """
    return _join([tr(OUTCOME_LABELS.get(y, y)) for y in outcomes], ", ")


def coverage_note(tab: pd.DataFrame) -> Text:
    """How many of the Callaway–Sant'Anna and TWFE intervals of the summary table cover their truth.

    Parameters
    ----------
    tab : pandas.DataFrame
        The summary table (estimates, intervals and truths by outcome and estimator).
    """
    cs, tw = tab[tab.estimator.str.startswith("Callaway")], tab[tab.estimator.str.startswith("TWFE")]
    return msg("summary.cover", cs=int(cs.covers_truth.sum()), n_cs=len(cs), tw=int(tw.covers_truth.sum()),
               n_tw=len(tw))


def poisson_sentence(pois, what: str) -> Text:
    """The PPML event study's proportional effect in a sentence (``what``: ``eg_days`` or ``separations``).

    Parameters
    ----------
    pois : EventStudyResult
        The PPML event study (:func:`ceci_impact.did.poisson_event_study`).
    what : {'eg_days', 'separations'}
        What is counted.
    """
    lo, hi = pois.overall_ci
    return msg("poisson.sentence", what=msg(f"poisson.{what}"), att=fmt_signed(pois.overall_att),
               level=f"{100 * (1 - pois.alpha):g}%", lo=fmt_signed(lo), hi=fmt_signed(hi))


def join_text(parts: list, sep: str) -> Text:
    """Narrative pieces joined by ``sep``, in every language.

    Parameters
    ----------
    parts : list
        Strings or :class:`ceci_impact.i18n.Text` values.
    sep : str
        The separator.
    """
    return _join(parts, sep)


def _join(parts: list, sep: str) -> Text:
    return Text({k: sep.join(p.lang(k) if isinstance(p, Text) else str(p) for p in parts) for k in ALL_LANGS})


def record(results_path: str, payload: dict) -> None:
    """Write the notebook's machine-readable results (headline estimates) for the renderer.

    Parameters
    ----------
    results_path : str
        The sidecar path Papermill passes to the notebook ('' writes nothing).
    payload : dict
        The results (made strict JSON).
    """
    if not results_path:
        return
    with atomic_file(results_path) as fh:
        json.dump(_json(payload), fh, indent=1)

def outcome_intro(outcome: str) -> Text:
    """The design of an outcome's report, from its registry entry: what it measures, unit, exposure, comparison,
    weights, clustering and the identifying assumption.

    Parameters
    ----------
    outcome : str
        An outcome of the registry (:data:`ceci_impact.data.outcomes.OUTCOMES`).
    """
    o = OUTCOMES[outcome]
    cl = {"cvegeo": msg("intro.cluster_cvegeo"), "site_cluster": msg("intro.cluster_site")}
    label = tr(o.label)
    label = Text({k: v[0].upper() + v[1:] for k, v in label.by_lang.items()})
    return msg("intro.design", label=label, note=tr(o.note), unit=msg(f"intro.{o.panel}"),
               cluster=cl.get(o.cluster, o.cluster or ""))


def simulated_banner(processed: str | Path) -> str | None:
    """An HTML banner saying plainly that the data are simulated (None on real data).

    Parameters
    ----------
    processed : str or pathlib.Path
        Folder of the built panels.
    """
    m = manifest(processed)
    set_data_kind("simulated" if m.get("simulated") else "real")
    if not m.get("simulated"):
        return None
    text = msg("banner.simulated", start=month_text(m["window"][0]), end=month_text(m["window"][1]))
    return ("<div style='border:2px solid #b7410e;background:#fff4e5;padding:8px;margin:6px 0'>"
            + both(text.by_lang, "span") + "</div>")


def real_data_banner() -> str:
    """An HTML tag saying the report rests on real public data (the back-test); marks its figures and downloads."""
    set_data_kind("real")
    return ("<div style='border:2px solid #1b6f3b;background:#eef7f0;padding:8px;margin:6px 0'>"
            + both(msg("banner.real").by_lang, "span") + "</div>")


def site_title(site) -> Text:
    """The heading of a site page: the centre's id and name, its scheme, pole and opening month (both languages).

    Parameters
    ----------
    site : pandas.Series
        :func:`ceci_impact.study.sites.site_profile`.
    """
    pole = str(site.get("pole") or "").strip()
    where = msg("site.title_pole", pole=pole) if pole else msg("site.title_no_pole")
    return msg("site.title", site_id=str(site["site_id"]), name=str(site.get("name", "")), scheme=tr(str(site.get("scheme", ""))),
               where=where, opened=month_text(site.get("opening_month", "")))


def pole_title(processed: str | Path, pole: str = "") -> Text:
    """The heading of a pole page, naming the pole (the first pole with an opened site when ``pole`` is empty),
    with the page's multiple-comparison statement.

    Parameters
    ----------
    processed : str or Path
        Folder of built panels.
    pole : str
        The pole's name.
    """
    if not pole:
        sites = pd.read_parquet(Path(processed) / "sites.parquet", columns=["pole", "opening_period"])
        opened = sites[(sites.opening_period > 0) & (sites.pole.fillna("") != "")].sort_values("opening_period")
        pole = str(opened.pole.iloc[0]) if len(opened) else ""
    return msg("pole.title", pole=pole) + msg("multiple.exploratory")
