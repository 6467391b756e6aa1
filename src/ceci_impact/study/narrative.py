"""Sentences and verdicts the reports quote, machine-readable sidecars and the simulated-data banner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.outcomes import OUTCOME_LABELS, OUTCOMES
from ..data.panels import manifest
from ..did.results import _json
from ..io import atomic_file


def robustness_verdict(tab: pd.DataFrame) -> str:
    """Words for the sensitivity table: do all specifications agree in sign and significance?"""
    t = tab.dropna(subset=["estimate"])
    if t.empty:
        return "No alternative specification could be estimated."
    signs = np.sign(t.estimate)
    sig = (t.ci_low > 0) | (t.ci_high < 0)
    same_sign = bool((signs == signs.iloc[0]).all())
    return (f"Across {len(t)} specifications (control group, covariates, anticipation) the estimate ranges from "
            f"{t.estimate.min():+.4g} to {t.estimate.max():+.4g}; "
            + ("all share the same sign" if same_sign else "the sign changes across specifications")
            + f", and {int(sig.sum())} of {len(t)} are distinguishable from zero at 5%.")

def honest_verdict(h) -> str:
    """Words for a HonestDiD result: how large a violation of parallel trends would overturn the conclusion."""
    lo, hi = h.original
    sig = lo > 0 or hi < 0
    bd = h.breakdown
    rm = h.params.get("type") == "relative_magnitude"
    top = h.table.M.max()
    what = (f"post-treatment violations of parallel trends up to {top:.3g} times the largest pre-treatment one" if rm
            else f"curvature in the trend difference (M up to {top:.3g})")
    if not sig:
        t = h.table
        excl = t[(t.lb > 0) | (t.ub < 0)]
        if len(excl):  # the restriction moves the interval itself (smoothness extrapolates the pre-period trend)
            side = "above" if (excl.lb > 0).all() else "below" if (excl.ub < 0).all() else "away from"
            return (f"The original interval for the {h.target} includes zero, but the robust intervals lie {side} zero "
                    f"for {'Mbar' if rm else 'M'} up to {excl.M.max():.3g}: they carry the trend difference seen before "
                    "opening forward, which moves the interval. That conclusion rests on the pre-opening trend "
                    "difference being real; read it together with the pre-trend test.")
        return (f"The original interval for the {h.target} already includes zero, so allowing {what} only widens an "
                "inconclusive result.")
    if bd is None:
        return f"The {h.target} stays distinguishable from zero even allowing {what}: the conclusion is robust to that much."
    if rm:
        return (f"The {h.target} is no longer distinguishable from zero once post-treatment violations of parallel trends "
                f"may be {bd:.3g} times the largest pre-treatment violation (breakdown value of Mbar).")
    return (f"The {h.target} is no longer distinguishable from zero once the slope of the trend difference may change "
            f"by {bd:.3g} per period (breakdown value).")

MONTE_CARLO = Path(__file__).parents[1] / "reference_data" / "truth_recovery" / "default.json"

def monte_carlo_note(path: str | Path = MONTE_CARLO) -> str:
    """What the Monte Carlo over many simulated worlds says about misses (``benchmarks/truth_recovery.py``)."""
    p = Path(path)
    if not p.exists():
        return "No Monte Carlo of truth recovery is recorded for this version."
    mc = json.loads(p.read_text())
    about = mc.pop("_about", {})
    parts = []
    for y, ests in mc.items():
        r = ests.get("callaway_santanna")
        if r:
            parts.append(f"{OUTCOME_LABELS.get(y, y)}: coverage {r['coverage']:.0%}, mean bias {r['mean_bias_se']:+.2f} SE")
    n = next(iter(mc.values()))["callaway_santanna"]["n"] if mc else 0
    return (f"Over {n:.0f} simulated {about.get('size', 'default')}-size worlds (benchmarks/truth_recovery.py, seeds "
            f"{about.get('seeds', '?')}), the headline 95% Callaway–Sant'Anna interval covered the truth of its estimand "
            "as follows — " + "; ".join(parts) + ". A miss in one world is to be read against these rates: with "
            "coverage near 95% and small mean bias it is chance, not a flaw of the estimator.")

def record(results_path: str, payload: dict) -> None:
    """Write the notebook's machine-readable results (headline estimates) for the renderer."""
    if not results_path:
        return
    with atomic_file(results_path) as fh:
        json.dump(_json(payload), fh, indent=1)

def outcome_intro(outcome: str) -> str:
    """The design of an outcome's report, from its registry entry: what it measures, unit, exposure, comparison,
    weights, clustering and the identifying assumption."""
    o = OUTCOMES[outcome]
    if o.panel == "municipality":
        unit = ("Unit: the municipality and month (IMSS open data). A municipality is exposed from the month its "
                "first CECI opens; municipalities not yet exposed are the comparison.")
    else:
        unit = ("Unit: the employer and month (job spells and incapacity certificates). An employer is exposed from "
                "the month the first CECI within the treated radius opens; employers in the buffer ring are left "
                "out, those beyond it are the comparison. Employers are weighted by their workforce in the first "
                "month.")
    cl = {"cvegeo": "the municipality", "site_cluster": "the site whose opening sets the employer's cohort"}
    return (f"**{o.label[0].upper() + o.label[1:]}.** {o.note}\n\n{unit} Standard errors are clustered by "
            f"{cl.get(o.cluster, o.cluster)}, where exposure is assigned. Identifying assumption: without CECI, "
            "exposed and comparison units would have followed parallel trends given the covariates, with no "
            "anticipation before opening and no spill-over onto the comparison units.")


def simulated_banner(processed: str | Path) -> str | None:
    """An HTML banner saying plainly that the data are simulated (None on real data)."""
    m = manifest(processed)
    if not m.get("simulated"):
        return None
    return ("<div style='border:2px solid #b7410e;background:#fff4e5;padding:8px;margin:6px 0'>"
            "<b>SIMULATED DATA.</b> Every number in this report comes from the simulated CECI world of "
            "<code>ceci_impact.data.synthetic</code> (window " + " to ".join(m["window"]) + "), not from IMSS records. "
            "True effects are known and shown beside the estimates.</div>")
