"""Retention: survival of job spells near and far from CECI sites, Kaplan–Meier, Cox with time-varying
exposure, retention of new hires."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .._options import CeciError
from ..calendar import label
from ..confidentiality import MIN_CELL
from ..data.panels import load, manifest


def survival_frame(processed: str | Path, near_km: float, far_km: float) -> pd.DataFrame:
    """Spells of eligible mothers (child 43 days–4 years at hire) at employers near vs far from a CECI.

    Duration in months from hire (or window start) to separation, censored at the end of the
    window; ``exposed_from`` is the month (relative to the spell start) when the employer's
    first CECI within ``near_km`` opened (for the Cox model with time-varying exposure).

    Parameters
    ----------
    processed : str or pathlib.Path
        Folder of the built panels.
    near_km : float
        Employers within this distance of a CECI are near.
    far_km : float
        Employers beyond this distance of every CECI are far.
    """
    sp = load("spells_exposure", processed)
    m = manifest(processed)
    p0, p1 = m["period_first"], m["period_last"]
    sp = sp[(sp.sex == 2) & (sp.eligible_at_start == 1) & (sp.start_period >= p0)].copy()
    sp["group"] = np.where(sp.nearest_km_end <= near_km, "near",
                           np.where(sp.nearest_km_end > far_km, "far", "between"))
    sp = sp[sp.group != "between"]
    end = sp.sep_period.where(sp.sep_period.notna() & (sp.sep_period <= p1), p1 + 1)
    sp["event"] = (sp.sep_period.notna() & (sp.sep_period <= p1)).astype(int)
    sp["duration"] = (end - sp.start_period).clip(lower=0.5).astype(float)
    ft = sp.first_treat.where(sp.first_treat > 0)
    sp["exposed_from"] = (ft - sp.start_period).clip(lower=0)
    # the cluster where exposure is assigned, as for the employer outcomes' DiD (study/samples.py): the site whose
    # opening sets the employer's cohort, an employer beyond every ring being its own cluster
    emp = Path(processed) / "employer_month.parquet"
    if not emp.exists():
        raise CeciError(f"{emp}: panel not built; run `ceci-impact build` first")
    em = pd.read_parquet(emp, columns=["employer_id", "cohort_site"]).dropna().drop_duplicates("employer_id")
    site = sp["employer_id"].map(em.set_index("employer_id")["cohort_site"])
    sp["site_cluster"] = site.where(site.notna(), sp["employer_id"]).astype(str)
    return sp.reset_index(drop=True)

def kaplan_meier(sf: pd.DataFrame, ax=None):
    """Kaplan–Meier job-survival curves for near vs far (statsmodels ``SurvfuncRight``).

    Parameters
    ----------
    sf : pandas.DataFrame
        The spells of :func:`survival_frame`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on.
    """
    import matplotlib.pyplot as plt
    import statsmodels.api as sm

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    out = {}
    for g, d in sf.groupby("group"):
        if len(d) < MIN_CELL:
            continue
        s = sm.SurvfuncRight(d.duration.to_numpy(), d.event.to_numpy())
        ax.step(s.surv_times, s.surv_prob, where="post", label=f"{g} (n≥{MIN_CELL})" if len(d) < 20 else f"{g}")
        out[g] = s
    ax.set_xlabel("months since hire")
    ax.set_ylabel("share still employed")
    ax.set_ylim(0, 1.02)
    ax.set_title("Job survival of eligible mothers: near vs far from a CECI")
    ax.legend(frameon=False)
    return out

def cox_time_varying(sf: pd.DataFrame) -> pd.DataFrame:
    """Cox model of separation with a time-varying 'CECI open nearby' indicator (episode splitting).

    Each spell is split at the month its employer's nearby CECI opened; statsmodels ``PHReg``
    with entry times estimates the hazard ratio of exposure. Standard errors are cluster-robust (the sandwich
    covariance of Lin & Wei 1989, statsmodels ``fit(groups=...)``) by the cluster where exposure is assigned
    (``site_cluster`` of :func:`survival_frame`: the site whose opening sets the employer's exposure, as in the
    employer outcomes' DiD), so spells of one employer, and of employers around one site, are not counted as
    independent; the table says which (``cluster``, ``clusters``). Without that column, by employer.

    Parameters
    ----------
    sf : pandas.DataFrame
        The spells of :func:`survival_frame`.
    """
    import statsmodels.api as sm

    near = sf.group == "near"
    x = sf.exposed_from.where(near)
    split = x.notna() & (x > 0) & (x < sf.duration)
    ccol = "site_cluster" if "site_cluster" in sf else "employer_id"
    pre = pd.DataFrame({"entry": 0.0, "exit": np.where(split, x, sf.duration),
                        "event": np.where(split, 0, sf.event),
                        "exposed": np.where(near & x.notna() & ~split & (x <= 0), 1, 0), "near": near.astype(int),
                        "cl": sf[ccol].to_numpy()})
    post = pd.DataFrame({"entry": x[split].astype(float), "exit": sf.duration[split], "event": sf.event[split],
                         "exposed": 1, "near": 1, "cl": sf[ccol][split].to_numpy()})
    ep = pd.concat([pre, post], ignore_index=True)
    ep = ep[ep.exit > ep.entry]
    mod = sm.PHReg(ep.exit.to_numpy(), ep[["exposed", "near"]].to_numpy(float), status=ep.event.to_numpy(),
                   entry=ep.entry.to_numpy())
    res = mod.fit(groups=pd.factorize(ep["cl"])[0])  # cluster-robust sandwich covariance (Lin & Wei 1989)
    ci = res.conf_int()
    return pd.DataFrame({"term": ["CECI open nearby (time-varying)", "near employer (any time)"],
                         "hazard_ratio": np.exp(res.params), "ci_low": np.exp(ci[:, 0]),
                         "ci_high": np.exp(ci[:, 1]), "p_value": res.pvalues,
                         "spells": len(sf), "separations": int(sf.event.sum()), "cluster": ccol,
                         "clusters": int(ep["cl"].nunique())})

def hire_retention(processed: str | Path, near_km: float, far_km: float, horizons=(6, 12)) -> pd.DataFrame:
    """Share of new hires still employed ``h`` months later, by hire month and near/far employers.

    Parameters
    ----------
    processed : str or pathlib.Path
        Folder of the built panels.
    near_km : float
        Employers within this distance of a CECI are near.
    far_km : float
        Employers beyond this distance of every CECI are far.
    horizons : tuple of int
        Months after hire at which retention is measured.
    """
    sp = load("spells_exposure", processed)
    m = manifest(processed)
    p0, p1 = m["period_first"], m["period_last"]
    sp = sp[sp.start_period >= p0].copy()
    sp["group"] = np.where(sp.nearest_km_end <= near_km, "near", np.where(sp.nearest_km_end > far_km, "far", None))
    sp = sp.dropna(subset=["group"])
    out = []
    for h in horizons:
        d = sp[sp.start_period + h <= p1]
        stayed = d.sep_period.isna() | (d.sep_period > d.start_period + h)
        g = d.assign(stayed=stayed).groupby(["start_period", "group"]).agg(hires=("stayed", "size"),
                                                                           retained=("stayed", "mean"))
        g = g.reset_index().assign(horizon=h)
        out.append(g)
    res = pd.concat(out, ignore_index=True)
    res["hire_month"] = [label(p) for p in res.start_period]
    return res
