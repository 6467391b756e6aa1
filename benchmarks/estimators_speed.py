"""Wall time of every estimator on the core benchmark's 300,000-row panel, and of the Poisson event study
on 100,000 units x 60 months.

    .venv/bin/python benchmarks/estimators_speed.py
    .venv/bin/python benchmarks/estimators_speed.py --national [--sizes 1000000 500000 250000]

The panel is the 2,500 units x 120 periods panel of benchmarks/did_speed.py (10 cohorts + never treated).
``--national``: TWFE (static and event study), Sun–Abraham, imputation, the Poisson event study and HonestDiD
on a 1 M-unit x 72-month panel, each in a fresh process limited to 20 GiB of address space; an estimator that
fails or runs out of time is tried on the next smaller size, and the reason is printed.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

from ceci_impact.did import (
    att_gt,
    bacon_decomposition,
    did_imputation,
    honest_did,
    poisson_event_study,
    sun_abraham,
    twfe,
)

try:
    from benchmarks.did_speed import make_panel
except ImportError:  # run as a script from the repository root
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from did_speed import make_panel  # type: ignore[no-redef]


def timed(label, fn):
    t0 = time.perf_counter()
    out = fn()
    print(f"{label:<48} {time.perf_counter() - t0:8.2f} s")
    return out


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description="Wall time of every estimator on the 300,000-row panel.")
    ap.add_argument("--large", action="store_true",
                    help="also Sun–Abraham on an unbalanced 25,000-unit panel (2.7 M rows) with peak memory")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    df = make_panel(2500)
    kw = dict(yname="y", tname="t", idname="id", gname="g")
    print(f"panel: {len(df):,} rows (2,500 units x 120 periods)")
    cs = timed("att_gt (DR, x, 999 bootstrap draws)", lambda: att_gt(df, xformla="~ x", biters=999, **kw))
    timed("aggte dynamic", lambda: cs.aggte("dynamic", min_e=-12, max_e=12))
    timed("twfe static", lambda: twfe(df, **kw))
    tw = timed("twfe event study (binned at -12/12)", lambda: twfe(df, type="event_study", min_e=-12, max_e=12, **kw))
    timed("bacon_decomposition", lambda: bacon_decomposition(df, **kw))
    timed("sun_abraham", lambda: sun_abraham(df, **kw))
    unbal = df[np.random.default_rng(1).random(len(df)) > 0.1]
    timed(f"sun_abraham, unbalanced ({len(unbal):,} rows)", lambda: sun_abraham(unbal, **kw))
    timed("did_imputation (all horizons + pre-trends)", lambda: did_imputation(df, **kw))
    dyn_u = att_gt(df, xformla="~ x", base_period="universal", bstrap=False, **kw).aggte("dynamic", min_e=-12, max_e=12)
    timed("honest_did smoothness, 6 values of M (CS)", lambda: honest_did(dyn_u, e=0, Mvec=np.linspace(0, 0.05, 6)))
    timed("honest_did smoothness, 6 values of M (TWFE)", lambda: honest_did(tw, e=0, Mvec=np.linspace(0, 0.05, 6)))
    mbar = [0, 0.5, 1, 1.5, 2]
    timed("honest_did rel. magnitudes, 5 Mbar (CS, 11x13)", lambda: honest_did(dyn_u, e=0, type="relative_magnitude", Mbarvec=mbar))
    timed("honest_did rel. magnitudes, 5 Mbar (TWFE)", lambda: honest_did(tw, e=0, type="relative_magnitude", Mbarvec=mbar))
    timed("honest_did rel. magnitudes, 5 Mbar (TWFE, avg)", lambda: honest_did(tw, e="average", type="relative_magnitude",
                                                                            Mbarvec=mbar))
    rng = np.random.default_rng(0)
    n, T = 100_000, 60
    g = np.where(rng.random(n) < 0.5, rng.choice([20, 30, 40], n), 0)
    t = np.tile(np.arange(1, T + 1), n)
    gg = np.repeat(g, T)
    mu = np.exp(np.repeat(rng.normal(0, 0.5, n), T) + 0.01 * t + np.where((gg > 0) & (t >= gg), np.log(0.8), 0)) * 0.5
    counts = pd.DataFrame({"id": np.repeat(np.arange(n), T), "t": t, "g": gg, "y": rng.poisson(mu)})
    timed("poisson_event_study, 100,000 units x 60 months", lambda: poisson_event_study(
        counts, yname="y", tname="t", idname="id", gname="g", min_e=-12, max_e=12))


    if args.large:
        import tracemalloc

        big = make_panel(25_000)
        big = big[np.random.default_rng(1).random(len(big)) > 0.1]
        timed(f"sun_abraham, unbalanced ({len(big):,} rows)", lambda: sun_abraham(big, **kw))
        tracemalloc.start()  # a second, traced run for memory (tracing slows allocation down)
        sun_abraham(big, **kw)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"  peak memory allocated by sun_abraham: {peak / 2**30:.2f} GiB "
              f"(input {big.memory_usage(deep=True).sum() / 2**30:.2f} GiB)")


NATIONAL = r'''
import json, resource, sys, time, warnings
warnings.simplefilter("ignore")
resource.setrlimit(resource.RLIMIT_AS, (20 * 2**30, 20 * 2**30))
import numpy as np
sys.path.insert(0, sys.argv[3])
from did_speed import make_panel
from ceci_impact.did import att_gt, did_imputation, honest_did, poisson_event_study, sun_abraham, twfe
name, n = sys.argv[1], int(sys.argv[2])
T = 72
df = make_panel(n, T=T, cohorts=np.linspace(12, T - 6, 10))
kw = dict(yname="y", tname="t", idname="id", gname="g")
if name == "poisson_event_study":
    df["y"] = np.random.default_rng(0).poisson(np.exp(0.3 * df["y"].to_numpy() / df["y"].std()))
prep = None
if name.startswith("honest_did"):
    prep = att_gt(df, xformla="~ x", base_period="universal", bstrap=False, **kw).aggte("dynamic", min_e=-12, max_e=12)
    del df
def status(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
input_bytes = 0 if prep is not None else int(df.memory_usage(deep=True).sum())
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")
base = status("VmRSS:")
t0 = time.perf_counter()
if name == "twfe":
    twfe(df, **kw)
elif name == "twfe_event_study":
    twfe(df, type="event_study", min_e=-12, max_e=12, **kw)
elif name == "sun_abraham":
    sun_abraham(df, **kw)
elif name == "did_imputation":
    did_imputation(df, **kw)
elif name == "poisson_event_study":
    poisson_event_study(df, min_e=-12, max_e=12, **kw)
elif name == "honest_did_smoothness":
    honest_did(prep, e=0, Mvec=np.linspace(0, 0.05, 6))
elif name == "honest_did_relative":
    honest_did(prep, e=0, type="relative_magnitude", Mbarvec=[0, 0.5, 1, 1.5, 2])
print(json.dumps({"seconds": time.perf_counter() - t0, "peak": status("VmHWM:"), "input": input_bytes,
                  "base": base}))
'''

ESTIMATORS = ["twfe", "twfe_event_study", "sun_abraham", "did_imputation", "poisson_event_study",
              "honest_did_smoothness", "honest_did_relative"]


def national(sizes: list[int], timeout: int, only: list[str] | None = None) -> None:
    """Each estimator (or those in ``only``) on the largest of ``sizes`` (units x 72 months) that it completes."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    here = Path(__file__).resolve().parent
    script = Path("/tmp") / "_ceci_estimators_national.py"
    script.write_text(NATIONAL)
    print(f"{'estimator':<24} {'units x 72':>12} {'seconds':>9} {'peak GiB':>9} {'input GiB':>9} "
          f"{'added GiB':>9} {'added/input':>11}  note")
    for name in only or ESTIMATORS:
        why = ""
        for n in sorted(sizes, reverse=True):
            try:
                r = subprocess.run([sys.executable, str(script), name, str(n), str(here)], capture_output=True,
                                   text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                why += f"{n:,}: more than {timeout} s; "
                continue
            if r.returncode != 0:
                last = (r.stderr.strip().splitlines() or ["killed"])[-1][:120]
                why += f"{n:,}: {last}; "
                continue
            d = json.loads(r.stdout.strip().splitlines()[-1])
            note = ("HonestDiD works on the event-study estimates: its time does not grow with the units "
                    "(the CS event study is computed first, not timed)") if name.startswith("honest") else ""
            added = d["peak"] - d.get("base", 0)
            ratio = f"{added / d['input']:11.2f}" if d["input"] else f"{'-':>11}"
            print(f"{name:<24} {n:>12,} {d['seconds']:9.1f} {d['peak'] / 2**30:9.2f} {d['input'] / 2**30:9.2f} "
                  f"{added / 2**30:9.2f} {ratio}  {(why + note).strip()}", flush=True)
            break
        else:
            print(f"{name:<24} {'-':>12} {'-':>9} {'-':>9} {'-':>9}  {why}", flush=True)


if __name__ == "__main__":
    import sys

    if "--national" in sys.argv:
        import argparse

        ap = argparse.ArgumentParser()
        ap.add_argument("--national", action="store_true")
        ap.add_argument("--sizes", nargs="+", type=int, default=[1_000_000, 500_000, 250_000])
        ap.add_argument("--timeout", type=int, default=900)
        ap.add_argument("--only", nargs="+", choices=ESTIMATORS, default=None, help="these estimators only")
        a = ap.parse_args()
        national(a.sizes, a.timeout, a.only)
    else:
        main()
