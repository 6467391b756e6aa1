"""Agreement of ``att_gt`` and ``aggte`` between two versions of the library (a speed change must not move results).

Runs a grid of specifications (no covariate, one, two; DR, outcome regression, IPW; never-treated and not-yet-
treated comparisons; varying and universal base periods; sampling weights; clusters) with analytic standard errors
and with a 199-draw multiplier bootstrap on one simulated panel, once with the library in ``--reference-src`` and
once with this checkout's ``src``, each in a fresh process, and prints the largest relative difference of every
estimate, standard error and critical value (ATT(g,t) and the dynamic, group, simple and calendar aggregations).

    git archive <commit> src | tar -x -C /tmp/ref
    PYTHONPATH=src .venv/bin/python benchmarks/att_gt_agreement.py --reference-src /tmp/ref/src
"""

from __future__ import annotations

import argparse
import pickle
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

RUNNER = textwrap.dedent(r"""
import pickle, sys, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, sys.argv[2])
sys.path.insert(0, sys.argv[3])
import numpy as np
from did_speed import make_panel
from ceci_impact.did import att_gt
n, T = int(sys.argv[4]), 30
df = make_panel(n, T=T, cohorts=[8, 12, 17, 22, 26])
rng = np.random.default_rng(3)
df["w"] = np.repeat(1 + rng.random(n), T)
df["cl"] = np.repeat(rng.integers(0, 40, n), T)
df["x2"] = np.repeat(rng.normal(size=n), T)
cfgs = [dict(xformla=xf, est_method=em, control_group=cg, base_period=bp)
        for xf in [None, "~ x", "~ x + x2"] for em in ["dr", "reg", "ipw"]
        for cg in ["nevertreated", "notyettreated"] for bp in ["varying", "universal"]]
cfgs += [dict(xformla="~ x", weightsname="w"), dict(xformla="~ x", clustervars="cl"),
         dict(xformla=None, clustervars="cl", weightsname="w"),
         dict(xformla="~ x", clustervars="cl", weightsname="w", est_method="ipw")]
out = {}
for i, kw in enumerate(cfgs):
    for boot in (False, True):
        r = att_gt(df, yname="y", tname="t", idname="id", gname="g", bstrap=boot, biters=199, seed=3, **kw)
        res = {"att": r.att, "se": r.se, "crit": [r.crit_val]}
        for typ in ["dynamic", "group", "simple", "calendar"]:
            a = r.aggte(typ)
            res[typ + " overall"] = [a.overall_att, a.overall_se]
            if a.egt is not None:
                res[typ + " att"], res[typ + " se"] = a.att_egt, a.se_egt
        out[(i, boot)] = {k: np.asarray(v, float) for k, v in res.items()}
pickle.dump((cfgs, out), open(sys.argv[1], "wb"))
""")


def _run(src: str, path: Path, units: int) -> tuple[list, dict]:
    script = path.parent / "_agreement_runner.py"
    script.write_text(RUNNER)
    subprocess.run([sys.executable, str(script), str(path), src, str(HERE), str(units)], check=True)
    with open(path, "rb") as fh:
        return pickle.load(fh)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference-src", required=True, help="the other version's src folder")
    ap.add_argument("--units", type=int, default=3000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cfgs, ref = _run(a.reference_src, Path(tmp) / "ref.pkl", a.units)
        _, new = _run(str(HERE.parent / "src"), Path(tmp) / "new.pkl", a.units)
    for boot in (False, True):
        worst, where = 0.0, None
        for (i, b), vals in ref.items():
            if b != boot:
                continue
            for key, x in vals.items():
                y = new[(i, b)][key]
                if not np.array_equal(np.isnan(x), np.isnan(y)):
                    print(f"NA pattern differs: {cfgs[i]} {key}")
                    continue
                m = ~np.isnan(x)
                if m.any():
                    d = float(np.max(np.abs(x[m] - y[m]) / np.maximum(np.abs(x[m]), 1e-300)))
                    if d > worst:
                        worst, where = d, (cfgs[i], key)
        label = "199-draw bootstrap" if boot else "analytic"
        print(f"{label:>20}: {len(cfgs)} specifications, largest relative difference {worst:.2e} ({where})")


if __name__ == "__main__":
    main()
