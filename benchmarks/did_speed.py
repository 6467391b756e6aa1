"""Speed, memory and agreement of ``ceci_impact.did.att_gt`` against the Python peers.

Same simulated balanced panels for everyone (2,500 and 25,000 units × 120 periods, 10 cohorts plus
never treated), DR estimation with and without one covariate, analytic SEs and 1,000 bootstrap draws.
Each run happens in its own subprocess (ours in this environment, peers in a separate virtual
environment, never a runtime dependency of the project):

    python3 -m venv benchmarks/_peers_venv
    benchmarks/_peers_venv/bin/pip install moderndid diff-diff csdid differences pandas pyarrow
    .venv/bin/python benchmarks/did_speed.py [--units 2500 25000] [--timeout 1200] [--peers ...]

Printed per configuration: estimation time (best of ``--repeat`` fresh processes, the same for everyone),
memory added by the estimation (peak RSS after loading the data minus RSS before the call), each peer's
time divided by ours, the largest absolute difference between our ATT(g,t) and the peer's, and a
hand-written numpy floor for the same estimand (``benchmarks/_floor.py``) with the ratio ours / floor.

``--national`` times ``att_gt(..., xformla="~ x", est_method="dr")`` then ``aggte("dynamic")`` (analytic SEs
and a 999-draw bootstrap) on 250,000, 500,000 and 1,000,000 units x 72 months, with peak memory against the
input frame (see ``national()``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
PEERS_PY = HERE / "_peers_venv" / "bin" / "python"

RUNNER = textwrap.dedent(r'''
import json, resource, sys, time, warnings
warnings.simplefilter("ignore")
import numpy as np, pandas as pd
impl, data_path, out_path, cov, boot = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1", sys.argv[5] == "1"
sys.path.insert(0, sys.argv[6])
df = pd.read_parquet(data_path)
def rss_kb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
if impl == "ceci_impact":
    from ceci_impact.did import att_gt
    import formulaic
elif impl == "moderndid":
    import moderndid as md
elif impl == "csdid":
    from csdid.att_gt import ATTgt
elif impl == "diff-diff":
    from diff_diff import CallawaySantAnna
elif impl == "differences":
    from differences import ATTgt
elif impl == "numpy-floor":
    from _floor import floor_att_gt
base = rss_kb()
t0 = time.perf_counter()  # imports are done: only estimation is timed
if impl == "ceci_impact":
    r = att_gt(df, yname="y", tname="t", idname="id", gname="g", xformla="~ x" if cov else None,
               est_method="dr", bstrap=boot, biters=1000, cband=boot, seed=1)
    g, t, a = r.group, r.t, r.att
elif impl == "numpy-floor":
    g, t, a = floor_att_gt(df, cov, boot, biters=1000, seed=1)
elif impl == "moderndid":
    r = md.att_gt(df, yname="y", tname="t", idname="id", gname="g", xformla="~ x" if cov else None,
                  est_method="dr", boot=boot, biters=1000, cband=boot, random_state=1)
    g, t, a = np.asarray(r.groups), np.asarray(r.times), np.asarray(r.att_gt)
elif impl == "csdid":
    m = ATTgt(yname="y", tname="t", idname="id", gname="g", data=df, xformla="y ~ x" if cov else None,
              control_group=["nevertreated"], biters=1000, cband=boot)
    m.fit(est_method="dr", bstrap=boot)
    res = m.results
    g, t, a = np.asarray(res["group"]), np.asarray(res["year"]), np.asarray(res["att"])
elif impl == "diff-diff":
    cs = CallawaySantAnna(control_group="never_treated", estimation_method="dr", n_bootstrap=1000 if boot else 0,
                          seed=1, bootstrap_weights="mammen")
    res = cs.fit(df, outcome="y", unit="id", time="t", first_treat="g", covariates=["x"] if cov else None)
    items = sorted(res.group_time_effects.items())
    g = np.array([k[0] for k, _ in items], float); t = np.array([k[1] for k, _ in items], float)
    a = np.array([v["effect"] for _, v in items], float)
elif impl == "differences":
    d = df.assign(cohort=df.g.where(df.g > 0)).set_index(["id", "t"])
    m = ATTgt(data=d, cohort_column="cohort")
    res = m.fit(formula="y ~ x" if cov else "y", est_method="dr", boot_iterations=1000 if boot else 0,
                random_state=1, progress_bar=False)
    tab = m.results()
    att_col = [c for c in tab.columns if c[-1] == "ATT"][0]
    g = tab.index.get_level_values("cohort").to_numpy(float)
    t = tab.index.get_level_values("time").to_numpy(float)
    a = tab[att_col].to_numpy(float)
secs = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
pd.DataFrame({"group": np.asarray(g, float), "time": np.asarray(t, float), "att": np.asarray(a, float)}).to_parquet(out_path)
print(json.dumps({"seconds": secs, "added_mb": (peak - base) / 1024, "input_mb": df.memory_usage(deep=True).sum() / 2**20}))
''')


NATIONAL = textwrap.dedent(r'''
import json, sys, time, warnings
warnings.simplefilter("ignore")
import numpy as np
sys.path.insert(0, sys.argv[4])
from did_speed import make_panel
from ceci_impact.did import att_gt
n, T, boot = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
df = make_panel(n, T=T, cohorts=np.linspace(12, T - 6, 10))
input_bytes = int(df.memory_usage(deep=True).sum())
def status(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
with open("/proc/self/clear_refs", "w") as fh:  # reset the peak (VmHWM) to the present RSS
    fh.write("5")
base = status("VmRSS:")
t0 = time.perf_counter()
r = att_gt(df, yname="y", tname="t", idname="id", gname="g", xformla="~ x", est_method="dr", bstrap=boot,
           biters=999, cband=boot, seed=1)
t1 = time.perf_counter()
dyn = r.aggte("dynamic")
t2 = time.perf_counter()
print(json.dumps({"att_gt": t1 - t0, "aggte": t2 - t1, "peak": status("VmHWM:"), "base": base,
                  "input": input_bytes, "cells": int(r.att.size), "overall": dyn.overall_att,
                  "overall_se": dyn.overall_se, "factors": r.influence.nbytes, "nnz": r.influence.nnz}))
''')


def national(sizes: list[int], T: int, timeout: int) -> None:
    """att_gt (DR, one covariate) then aggte("dynamic") at national sizes, each size and inference in a fresh
    process: time, peak RSS against the input frame, and what the cell-level matrix would have taken."""
    script = Path("/tmp") / "_ceci_national.py"
    script.write_text(NATIONAL)
    print(f"{'units x months':>16} {'inference':>22} {'att_gt s':>9} {'aggte s':>8} {'total s':>8} "
          f"{'input GiB':>9} {'peak GiB':>9} {'peak/input':>10} {'cells':>6} {'cell matrix GiB':>15}")
    for n in sizes:
        for boot in (False, True):
            try:
                r = subprocess.run([sys.executable, str(script), str(n), str(T), str(int(boot)), str(HERE)],
                                   capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                print(f"{n:>10,} x {T} timeout > {timeout} s")
                continue
            if r.returncode != 0:
                print(f"{n:>10,} x {T} error: {(r.stderr.strip().splitlines() or ['?'])[-1][:150]}")
                continue
            d = json.loads(r.stdout.strip().splitlines()[-1])
            gib = 2**30
            label = "999 bootstrap draws" if boot else "analytic"
            print(f"{n:>10,} x {T:<3} {label:>22} {d['att_gt']:9.1f} {d['aggte']:8.1f} "
                  f"{d['att_gt'] + d['aggte']:8.1f} {d['input'] / gib:9.2f} {d['peak'] / gib:9.2f} "
                  f"{d['peak'] / d['input']:10.2f} {d['cells']:6d} {d['nnz'] * 12 / gib:15.2f}", flush=True)


def make_panel(n: int, T: int = 120, seed: int = 0, cohorts=None) -> pd.DataFrame:
    """Balanced panel: 10 cohorts spread over periods 20..110 (or ``cohorts``) plus never treated;
    covariate-dependent trend."""
    rng = np.random.default_rng(seed)
    cohorts = np.linspace(20, 110, 10).round().astype(int) if cohorts is None else np.round(cohorts).astype(int)
    g = np.where(rng.random(n) < 0.7, rng.choice(cohorts, n), 0)
    x = rng.normal(size=n)
    t = np.tile(np.arange(1, T + 1), n)
    gg = np.repeat(g, T)
    y = (np.repeat(rng.normal(size=n) + 0.5 * x, T) + 0.01 * t * np.repeat(x, T)
         + np.where((gg > 0) & (t >= gg), 0.5, 0.0) + rng.normal(size=n * T))
    return pd.DataFrame({"id": np.repeat(np.arange(1, n + 1), T), "t": t, "g": gg, "x": np.repeat(x, T), "y": y})


def run(impl: str, data: Path, out: Path, cov: bool, boot: bool, timeout: int, repeat: int = 1) -> dict:
    """Best of ``repeat`` runs (each in a fresh process), as ``timeit`` reports: the least disturbed by the
    machine's other work. Every implementation gets the same number of runs."""
    best = None
    for _ in range(max(1, repeat)):
        r = _run_once(impl, data, out, cov, boot, timeout)
        if best is None or (r["status"] == "ok" and (best["status"] != "ok" or r["seconds"] < best["seconds"])):
            best = r
        if r["status"] != "ok":
            break
    return best


def _run_once(impl: str, data: Path, out: Path, cov: bool, boot: bool, timeout: int) -> dict:
    py = sys.executable if impl in ("ceci_impact", "numpy-floor") else str(PEERS_PY)
    script = out.parent / "_runner.py"
    script.write_text(RUNNER)
    t0 = time.perf_counter()
    try:
        r = subprocess.run([py, str(script), impl, str(data), str(out), str(int(cov)), str(int(boot)), str(HERE)],
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": f"timeout > {timeout} s", "seconds": float(timeout)}
    if r.returncode != 0:
        return {"status": "error: " + (r.stderr.strip().splitlines() or ["?"])[-1][:120], "seconds": np.nan}
    d = json.loads(r.stdout.strip().splitlines()[-1])
    d["status"] = "ok"
    d["wall"] = time.perf_counter() - t0
    return d


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--units", nargs="+", type=int, default=[2500, 25000])
    ap.add_argument("--peers", nargs="*", default=["moderndid", "diff-diff", "csdid", "differences"])
    ap.add_argument("--timeout", type=int, default=1200)
    ap.add_argument("--work", default="/tmp/ceci-did-speed")
    ap.add_argument("--configs", nargs="*", default=["nocov-analytic", "cov-analytic", "nocov-boot", "cov-boot"])
    ap.add_argument("--repeat", type=int, default=3, help="runs per implementation and configuration (best kept)")
    ap.add_argument("--no-floor", dest="floor", action="store_false", help="skip the hand-written numpy floor")
    ap.add_argument("--national", action="store_true",
                    help="att_gt + aggte('dynamic') at 250,000, 500,000 and 1,000,000 units x 72 months")
    ap.add_argument("--national-sizes", nargs="+", type=int, default=[250_000, 500_000, 1_000_000])
    a = ap.parse_args()
    if a.national:
        national(a.national_sizes, 72, a.timeout)
        return
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    peers = [p for p in a.peers if PEERS_PY.exists()]
    if not PEERS_PY.exists():
        print(f"peers venv {PEERS_PY} missing: only ceci_impact is timed (see the module docstring)")
    print(f"{'panel':>16} {'config':>14} {'implementation':>14} {'seconds':>9} {'added MB':>9} {'x ours':>8} "
          f"{'max |diff|':>11}  status")
    for n in a.units:
        data = work / f"panel_{n}.parquet"
        if not data.exists():
            make_panel(n).to_parquet(data)
        rows = f"{n:,}x120"
        for cfg in a.configs:
            cov, boot = cfg.startswith("cov"), cfg.endswith("boot")
            ours_out = work / f"ours_{n}_{cfg}.parquet"
            ours = run("ceci_impact", data, ours_out, cov, boot, a.timeout, a.repeat)
            mine = pd.read_parquet(ours_out) if ours["status"] == "ok" else None
            print(f"{rows:>16} {cfg:>14} {'ceci_impact':>14} {ours['seconds']:9.2f} {ours.get('added_mb', np.nan):9.0f} "
                  f"{1.0:8.2f} {'':>11}  {ours['status']} (input {ours.get('input_mb', np.nan):.0f} MB)")
            fastest = np.inf
            for p in peers:
                out = work / f"{p}_{n}_{cfg}.parquet"
                r = run(p, data, out, cov, boot, a.timeout, a.repeat)
                diff = _max_diff(mine, out, r)
                ratio = r["seconds"] / ours["seconds"] if ours["status"] == "ok" else np.nan
                if r["status"] == "ok":
                    fastest = min(fastest, r["seconds"])
                print(f"{rows:>16} {cfg:>14} {p:>14} {r['seconds']:9.2f} {r.get('added_mb', np.nan):9.0f} "
                      f"{ratio:8.1f} {diff:11.2e}  {r['status']}", flush=True)
            if a.floor:
                out = work / f"floor_{n}_{cfg}.parquet"
                r = run("numpy-floor", data, out, cov, boot, a.timeout, a.repeat)
                print(f"{rows:>16} {cfg:>14} {'numpy floor':>14} {r['seconds']:9.2f} {r.get('added_mb', np.nan):9.0f} "
                      f"{r['seconds'] / ours['seconds']:8.2f} {_max_diff(mine, out, r):11.2e}  {r['status']}; "
                      f"ours / floor = {ours['seconds'] / r['seconds']:.2f}", flush=True)
            if np.isfinite(fastest):
                print(f"{rows:>16} {cfg:>14} {'=> fastest peer / ours':>30} {fastest / ours['seconds']:.1f}x", flush=True)


def _max_diff(mine, out, r) -> float:
    if r["status"] != "ok" or mine is None:
        return np.nan
    m = mine.merge(pd.read_parquet(out), on=["group", "time"], suffixes=("", "_p"))
    return float(np.nanmax(np.abs(m.att - m.att_p))) if len(m) else np.nan


if __name__ == "__main__":
    main()
