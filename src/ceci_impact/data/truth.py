"""True effects on simulated data, for exactly the estimand of an estimate.

A simulated world records both worlds' outcome components per unit and month (with CECI and without, the same
random numbers; ``truth_employer_month.parquet`` and ``truth_mun_month.parquet``). The unit-level effect of an
outcome is ``tau_it = y_it(1) - y_it(0)``. Every difference-in-differences estimator in the suite is linear in the
outcome given its design (units, periods, cohorts, weights, covariates, comparison group), so applying the
estimator, unchanged, to the outcome ``D_it * tau_it`` (``D`` = the estimator's treated cells) gives the weighted
average of unit effects that it estimates — with the same sample, weights, exposure rings, window and aggregation
as the estimate, and no noise. That is the truth shown beside each estimate.

The rest of the effect, ``(1 - D_it) * tau_it`` (effects in cells the estimator treats as untreated: before the
cohort date, in comparison units), is *contamination*: run through the same estimator it measures the bias that
effects outside the treated cells add (anticipation, exposure before the ring's cohort date, spill-overs).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .outcomes import OUTCOMES
from .panels import manifest


def has_truth(outcome: str) -> bool:
    """Whether the simulator records both worlds for this outcome (its registry entry has a ``truth`` formula).

    Parameters
    ----------
    outcome : str
        An outcome of the registry.
    """
    return outcome in OUTCOMES and OUTCOMES[outcome].truth is not None


def unit_effects(processed: str | Path, outcome: str) -> pd.DataFrame | None:
    """``tau_it = y_it(1) - y_it(0)`` per unit and month, with ``y(1)``; ``None`` on real data or for an outcome
    without recorded potential outcomes.

    Parameters
    ----------
    processed : str or pathlib.Path
        Folder of the built panels (``data/processed``).
    outcome : str
        An outcome of the registry (:data:`ceci_impact.data.outcomes.OUTCOMES`).
    """
    if not has_truth(outcome) or not manifest(processed).get("simulated"):
        return None
    o = OUTCOMES[outcome]
    p, key = Path(processed) / o.truth_file, o.unit_key
    if not p.exists():
        return None
    c = pd.read_parquet(p).sort_values([key, "period"], ignore_index=True)
    try:
        y1, y0 = o.truth(c, "1"), o.truth(c, "0")
    except KeyError:  # a world simulated before this outcome's components were recorded
        return None
    return pd.DataFrame({key: c[key], "period": c["period"], "y1": y1, "tau": y1 - y0})


def with_effect_outcome(df: pd.DataFrame, tau: pd.DataFrame, key: str, *, anticipation: int = 0,
                        gname: str = "first_treat", tname: str = "period", yname: str | None = None) -> pd.DataFrame:
    """The sample with two added outcomes: ``_effect_treated = D * tau`` and ``_effect_other = (1 - D) * tau``.

    ``D`` marks the estimator's treated cells (``t >= g - anticipation``, ``g > 0``). Both are missing exactly where
    the observed outcome ``yname`` is missing, so the estimator sees the same rows (an unbalanced panel stays
    unbalanced in the same way). A cell with an observed outcome but no defined unit effect (the outcome exists in
    only one world, e.g. workers hired because of a CECI at an employer with none otherwise) gets effect 0; their
    number is in ``attrs["cells_without_effect"]``.

    Parameters
    ----------
    df : pandas.DataFrame
        The estimation sample.
    tau : pandas.DataFrame
        Unit effects of :func:`unit_effects`.
    key : str
        Unit key joining the sample to the effects (``'cvegeo'`` or ``'employer_id'``).
    anticipation : int
        Periods before the cohort date counted as treated, as in the estimator.
    gname : str
        Cohort column.
    tname : str
        Period column.
    yname : str, optional
        Observed outcome whose missing cells the effect outcomes copy (None: none missing).
    """
    m = df[[key, tname]].merge(tau[[key, "period"] + ["tau"]].rename(columns={"period": tname}),
                               on=[key, tname], how="left")
    t = m["tau"].to_numpy(float)
    missing = ~np.isfinite(t)
    t = np.where(missing, 0.0, t)
    g = df[gname].to_numpy(float)
    d = (g > 0) & (df[tname].to_numpy(float) >= g - anticipation)
    seen = df[yname].notna().to_numpy() if yname else np.ones(len(df), bool)
    out = df.assign(_effect_treated=np.where(seen, np.where(d, t, 0.0), np.nan),
                    _effect_other=np.where(seen, np.where(d, 0.0, t), np.nan))
    out.attrs["cells_without_effect"] = int((missing & seen).sum())
    return out
