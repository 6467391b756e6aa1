"""cont_did on R contdid's README example (regenerated exactly: tests/test_dose.py) and the sampling spread of
ACRT^o against its analytic standard error.

    PYTHONPATH=src .venv/bin/python benchmarks/contdid_example.py [--reps 60] [--units 2000]

Prints our ATT^o, ACRT^o and the slope event study with analytic standard errors beside contdid's published values
(README, commit 443c1c1; its standard errors come from 100 bootstrap draws), then, over ``--reps`` panels of the same
design (seeds 1..reps, ``--units`` units, linear dose effect 1), the standard deviation of ACRT^o and our mean SE.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.test_dose import KW, contdid_example  # noqa: E402

from ceci_impact.did import cont_did  # noqa: E402

PUBLISHED = {"ATT^o": (-0.0265, 0.0301), "ACRT^o": (0.1341, 0.0485)}
PUBLISHED_ES_SLOPE = [(-0.0701, 0.0808), (-0.2212, 0.0892), (0.1592, 0.0586), (0.0551, 0.0828), (-0.5405, 0.1154)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=60)
    ap.add_argument("--units", type=int, default=2000)
    a = ap.parse_args()
    df = contdid_example()
    r = cont_did(df, target_parameter="slope", aggregation="dose", cband=False, **KW)
    print("README example (n = 5000): estimate (SE) ours | contdid published")
    for name, (est, se) in [("ATT^o", (r.att_o, r.att_o_se)), ("ACRT^o", (r.acrt_o, r.acrt_o_se))]:
        pe, ps = PUBLISHED[name]
        print(f"  {name:7s} {est:8.4f} ({se:.4f}) | {pe:8.4f} ({ps:.4f})")
    es = cont_did(df, target_parameter="slope", aggregation="eventstudy", cband=False, **KW).event_table
    for (e, est, se), (pe, ps) in zip(es[["event_time", "att", "se"]].to_numpy(), PUBLISHED_ES_SLOPE, strict=True):
        print(f"  ACRT^es({e:+.0f}) {est:8.4f} ({se:.4f}) | {pe:8.4f} ({ps:.4f})")
    est, se = [], []
    for s in range(1, a.reps + 1):
        x = cont_did(contdid_example(seed=s, n=a.units, lin=1.0), target_parameter="slope", cband=False, **KW)
        est.append(x.acrt_o)
        se.append(x.acrt_o_se)
    print(f"ACRT^o over {a.reps} panels of {a.units} units: SD {np.std(est, ddof=1):.4f}, mean analytic SE "
          f"{np.mean(se):.4f}, mean estimate {np.mean(est):.4f} (truth 1)")


if __name__ == "__main__":
    main()
