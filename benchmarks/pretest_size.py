"""Size of the event-time Wald pre-test on simulated worlds where parallel trends hold given x.

For each seed the default world is simulated and the counterfactual log women's jobs per municipality (no CECI
anywhere; captured from the simulator's truth computation) are analysed with Callaway–Sant'Anna (DR, x_industrial,
not-yet-treated). There is no effect and, conditional on x, no selection on trends, so a correctly sized 5 % test
rejects in about 5 % of worlds. Prints one line per seed: Wald and bootstrap sup-t p-values, mean pre-period effect,
treated units.

    .venv/bin/python benchmarks/pretest_size.py --seeds 1 2 3 4 5 6
"""

from __future__ import annotations

import argparse
import tempfile
import warnings

import numpy as np
import pandas as pd

import ceci_impact.data.synthetic as syn
from ceci_impact.did import att_gt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6])
    ap.add_argument("--size", default="default")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    captured: dict = {}
    original = syn._cohort_att

    def capture(y1, y0, coh, months, valid=None):  # the first call carries the municipality outcomes
        captured.setdefault("mun", (y0.copy(), coh.copy(), months.copy()))
        return original(y1, y0, coh, months, valid)

    syn._cohort_att = capture
    rejections = rejections_sup = 0
    for seed in args.seeds:
        captured.clear()
        with tempfile.TemporaryDirectory() as tmp:
            out = syn.simulate(args.size, seed=seed, out=f"{tmp}/raw", end="2026-10", quiet=True)
            x = pd.read_csv(out / "municipios.csv").x_industrial.to_numpy()
        y0, coh, months = captured["mun"]
        n, T = y0.shape
        d = pd.DataFrame({"unit": np.repeat(np.arange(n), T), "period": np.tile(months, n), "y0": y0.ravel(),
                          "g": np.repeat(coh, T), "x": np.repeat(x, T)})
        d = d[d.groupby("unit").y0.transform(lambda z: np.isfinite(z).all())]
        r = att_gt(d, yname="y0", tname="period", idname="unit", gname="g", xformla="~ x",
                   control_group="notyettreated", est_method="dr", bstrap=False, cband=False)
        dyn = r.aggte("dynamic", min_e=-12, max_e=12, na_rm=True)
        p = dyn.pretest()["pvalue"]
        p_sup = dyn.pretest("sup_t", seed=seed)["pvalue"]
        rejections += p < 0.05
        rejections_sup += p_sup < 0.05
        n_tr = int((d.drop_duplicates("unit").g > 0).sum())
        pre_mean = np.nanmean(dyn.att_egt[dyn.egt < 0])
        print(f"seed {seed}: Wald p = {p:.4f}, sup-t p = {p_sup:.4f}, mean pre-period effect {pre_mean:+.5f}, "
              f"{n_tr} treated of {d.unit.nunique()} municipalities", flush=True)
    print(f"rejected at 5 %: Wald {rejections}, sup-t {rejections_sup} of {len(args.seeds)} worlds")


if __name__ == "__main__":
    main()
