"""Cost of the reports' inference on built panels: the headline (``cs_headline``), the event study
(``cs_event_study``, window -12..12) and its pre-test of every headline outcome, under one or more rules.

Prints one line per outcome and rule: seconds, the rule applied (and what it fell back from), the interval and the
pre-test. The reports' parameters: covariate ``x_industrial``, not-yet-treated comparison, ``est_method="reg"``,
each outcome's weights and cluster (the outcome registry)::

    ceci-impact simulate --size default --out /tmp/w/raw && ceci-impact build --raw /tmp/w/raw --out /tmp/w/processed
    PYTHONPATH=src .venv/bin/python benchmarks/ri_cost.py --processed /tmp/w/processed --rules ri,wcu_webb
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings

import ceci_impact.study.specification as spec
from ceci_impact.did import registry
from ceci_impact.did.inference import RULES
from ceci_impact.study.studies import headline_samples


def run(processed: str, rule: str, biters: int) -> list[dict]:
    """Time the headline, event study and pre-test of every headline outcome under ``rule``.

    Parameters
    ----------
    processed
        Folder of the built panels.
    rule
        Inference rule (a key of the registry).
    biters
        Draws (permutations or bootstrap).

    Returns
    -------
    list of dict
    """
    registry.SMALL_CLUSTER = rule  # the one setting the CS fits read (ceci_impact.did.registry)
    rows = []
    for y, df, w, cl in headline_samples(processed, None):
        df = df.dropna(subset=[y])
        kw = dict(yname=y, tname="period", idname="unit", gname="first_treat", clustervars=cl,
                  xformla="~ x_industrial", control_group="notyettreated", est_method="reg", weightsname=w,
                  biters=biters)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t0 = time.perf_counter()
            h = spec.cs_headline(df, **kw)
            t1 = time.perf_counter()
            es = spec.cs_event_study(df, **kw, min_e=-12, max_e=12)
            t2 = time.perf_counter()
            pt = es.pretest()
            t3 = time.perf_counter()
        inf = h.inference or {}
        rows.append({"outcome": y, "rule_requested": rule, "rule": inf.get("rule"),
                     "fallback_from": inf.get("fallback_from"), "units": int(df.unit.nunique()),
                     "clusters": inf.get("clusters"), "treated_clusters": inf.get("treated_clusters"),
                     "estimate": h.overall_att, "ci": list(h.overall_ci), "headline_s": round(t1 - t0, 2),
                     "event_study_s": round(t2 - t1, 2), "pretest_s": round(t3 - t2, 2),
                     "pretest": pt.get("method"), "pretest_p": pt.get("pvalue"), "warnings": len(caught),
                     "label": inf.get("label")})
        r = rows[-1]
        print(f"{y:22s} {rule:9s} applied={r['rule']}{' (fallback)' if r['fallback_from'] else ''} "
              f"est={r['estimate']:.4f} ci=({r['ci'][0]:.4f}, {r['ci'][1]:.4f}) headline {r['headline_s']:.1f}s "
              f"event study {r['event_study_s']:.1f}s pre-test {r['pretest_s']:.1f}s ({r['pretest']}, "
              f"p={r['pretest_p']})", flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    """Command line (see the module docstring).

    Parameters
    ----------
    argv
        Arguments (default: ``sys.argv``).
    """
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--processed", required=True, help="folder of the built panels")
    ap.add_argument("--rules", default="ri,wcu_webb", help="comma-separated registry rules")
    ap.add_argument("--biters", type=int, default=999)
    ap.add_argument("--json", default=None, help="write the rows to this (new) file")
    args = ap.parse_args(argv)
    rules = [r for r in args.rules.split(",") if r]
    bad = [r for r in rules if r not in RULES]
    if bad:
        ap.error(f"--rules: unknown {bad}; expected names from {sorted(RULES)}")
    if args.json and os.path.exists(args.json):
        ap.error(f"--json {args.json}: the file exists; give a new name (nothing is overwritten)")
    rows = [r for rule in rules for r in run(args.processed, rule, args.biters)]
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (the machine is shared: times scale with it)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "load_average": os.getloadavg()}, f, indent=1)


if __name__ == "__main__":
    main()
