"""Speed, memory and agreement of ``ceci_impact.did.att_gt`` against the Python peers.

Same simulated balanced panels for everyone (2,500 and 25,000 units × 120 periods, 10 cohorts plus
never treated), DR estimation with and without one covariate, analytic SEs and 1,000 bootstrap draws.
Each run happens in its own subprocess (ours in this environment, peers in a separate virtual
environment, never a runtime dependency of the project):

    python3 -m venv benchmarks/_peers_venv
    benchmarks/_peers_venv/bin/pip install moderndid diff-diff csdid differences pandas pyarrow
    .venv/bin/python benchmarks/did_speed.py [--units 2500 25000] [--timeout 1200] [--peers ...]

Printed per configuration: wall time, memory added by the estimation (peak RSS after loading the data
minus RSS before the call), each peer's time divided by ours, and the largest absolute difference
between our ATT(g,t) and the peer's.
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
base = rss_kb()
t0 = time.perf_counter()  # imports are done: only estimation is timed
if impl == "ceci_impact":
    r = att_gt(df, yname="y", tname="t", idname="id", gname="g", xformla="~ x" if cov else None,
               est_method="dr", bstrap=boot, biters=1000, cband=boot, seed=1)
    g, t, a = r.group, r.t, r.att
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


def make_panel(n: int, T: int = 120, seed: int = 0) -> pd.DataFrame:
    """Balanced panel: 10 cohorts spread over periods 20..110 plus never treated; covariate-dependent trend."""
    rng = np.random.default_rng(seed)
    cohorts = np.linspace(20, 110, 10).round().astype(int)
    g = np.where(rng.random(n) < 0.7, rng.choice(cohorts, n), 0)
    x = rng.normal(size=n)
    t = np.tile(np.arange(1, T + 1), n)
    gg = np.repeat(g, T)
    y = (np.repeat(rng.normal(size=n) + 0.5 * x, T) + 0.01 * t * np.repeat(x, T)
         + np.where((gg > 0) & (t >= gg), 0.5, 0.0) + rng.normal(size=n * T))
    return pd.DataFrame({"id": np.repeat(np.arange(1, n + 1), T), "t": t, "g": gg, "x": np.repeat(x, T), "y": y})


def run(impl: str, data: Path, out: Path, cov: bool, boot: bool, timeout: int) -> dict:
    py = sys.executable if impl == "ceci_impact" else str(PEERS_PY)
    script = out.parent / "_runner.py"
    script.write_text(RUNNER)
    t0 = time.perf_counter()
    try:
        r = subprocess.run([py, str(script), impl, str(data), str(out), str(int(cov)), str(int(boot))],
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
    a = ap.parse_args()
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
            ours = run("ceci_impact", data, ours_out, cov, boot, a.timeout)
            mine = pd.read_parquet(ours_out) if ours["status"] == "ok" else None
            print(f"{rows:>16} {cfg:>14} {'ceci_impact':>14} {ours['seconds']:9.2f} {ours.get('added_mb', np.nan):9.0f} "
                  f"{1.0:8.2f} {'':>11}  {ours['status']} (input {ours.get('input_mb', np.nan):.0f} MB)")
            for p in peers:
                out = work / f"{p}_{n}_{cfg}.parquet"
                r = run(p, data, out, cov, boot, a.timeout)
                diff = np.nan
                if r["status"] == "ok" and mine is not None:
                    theirs = pd.read_parquet(out)
                    m = mine.merge(theirs, on=["group", "time"], suffixes=("", "_p"))
                    diff = float(np.nanmax(np.abs(m.att - m.att_p))) if len(m) else np.nan
                ratio = r["seconds"] / ours["seconds"] if ours["status"] == "ok" else np.nan
                print(f"{rows:>16} {cfg:>14} {p:>14} {r['seconds']:9.2f} {r.get('added_mb', np.nan):9.0f} "
                      f"{ratio:8.1f} {diff:11.2e}  {r['status']}", flush=True)


if __name__ == "__main__":
    main()
