"""Needs assessment per site, pole and state: eligible parents near planned capacity.

Demand is counted from the job spells: insured workers whose child is aged 43 days to 4 years in the reference
month (the last month of the panels) and whose job is active then. Each worker counts once; two insured parents
of one child count twice, so this is an upper bound on children (the spells carry no child identifier). Supply is
the registry's capacity (opened and planned sites). Near a site means at an employer within ``radius_km``; a pole's
demand is that of the employers in its municipalities. A count resting on fewer than ``MIN_CELL`` employers is
suppressed (shown as missing) together with the ratio that would reveal it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..confidentiality import MIN_CELL
from ..data.panels import load
from ..geo import haversine_km


def eligible_by_employer(processed: str | Path, ref: int | None = None) -> pd.DataFrame:
    """Eligible parents with an active job in month ``ref`` (default: the last month), per employer, with the
    employer's location and municipality."""
    sp = pd.read_parquet(Path(processed) / "spells_exposure.parquet",
                         columns=["employer_id", "start_period", "sep_period", "eligible_from", "eligible_to"])
    em = load("employer_month", processed)
    ref = int(em.period.max()) if ref is None else int(ref)
    active = (sp.start_period <= ref) & (sp.sep_period.isna() | (sp.sep_period >= ref))
    elig = active & (sp.eligible_from <= ref) & (sp.eligible_to >= ref)
    n = sp[elig].groupby("employer_id").size().rename("eligible_parents")
    first = em.sort_values("period").drop_duplicates("employer_id", keep="last")[["employer_id", "lat", "lon", "cvegeo"]]
    out = first.merge(n, left_on="employer_id", right_index=True, how="left").fillna({"eligible_parents": 0})
    out.attrs["ref"] = ref
    return out


def needs_assessment(processed: str | Path, radius_km: float = 5.0, ref: int | None = None) -> dict:
    """Tables of eligible parents against capacity per site, pole and state.

    Returns ``{"sites", "poles", "states", "employers", "ref"}``. Site rows flag ``demand exceeds capacity`` and
    ``capacity far from eligible parents`` (fewer eligible parents within the radius than a quarter of the places).

    Parameters
    ----------
    processed : str or pathlib.Path
        Folder of the built panels (``data/processed``).
    radius_km : float
        Distance within which eligible parents count as a site's demand.
    ref : int, optional
        Month code of the reference month (default: the last month of the panels).
    """
    emp = eligible_by_employer(processed, ref)
    sites = pd.read_parquet(Path(processed) / "sites.parquet")
    e = emp.eligible_parents.to_numpy(float)
    n_near, e_near = np.zeros(len(sites)), np.zeros(len(sites))
    step = max(1, int(2e7 // max(len(emp), 1)))  # sites per block: at most ~20 M distances in memory
    for a in range(0, len(sites), step):
        near = haversine_km(sites.lat.to_numpy()[a:a + step, None], sites.lon.to_numpy()[a:a + step, None],
                            emp.lat.to_numpy()[None, :], emp.lon.to_numpy()[None, :]) <= radius_km
        n_near[a:a + step], e_near[a:a + step] = near.sum(axis=1), near @ e
    s = sites[["site_id", "name", "scheme", "pole", "cvegeo", "lat", "lon", "capacity", "opening_period"]].copy()
    s["status"] = np.where(s.opening_period > 0, "opened", "planned")
    s["employers_near"] = n_near.astype(int)
    s["eligible_parents_near"] = e_near
    small = s.employers_near < MIN_CELL
    s.loc[small, "eligible_parents_near"] = np.nan
    s["parents_per_place"] = s.eligible_parents_near / s.capacity.where(s.capacity > 0)
    s["flag"] = np.select([small, s.eligible_parents_near > s.capacity, s.eligible_parents_near < 0.25 * s.capacity],
                          ["suppressed (fewer than 5 employers near)", "demand exceeds capacity",
                           "capacity far from eligible parents"], "")
    m = load("mun_month", processed)[["cvegeo", "pole"]].drop_duplicates("cvegeo")
    emp = emp.merge(m, on="cvegeo", how="left")
    poles = _group(emp, sites, "pole")
    emp["state"] = emp.cvegeo.astype(str).str[:2]
    st = sites.assign(state=sites.cvegeo.astype(str).str[:2])
    states = _group(emp, st, "state")
    return {"sites": s.drop(columns="opening_period"), "poles": poles, "states": states, "employers": emp,
            "ref": emp.attrs.get("ref")}


def _group(emp: pd.DataFrame, sites: pd.DataFrame, key: str) -> pd.DataFrame:
    e = emp[emp[key].fillna("").astype(str).str.strip() != ""]
    dem = e.groupby(key).agg(employers=("employer_id", "size"), eligible_parents=("eligible_parents", "sum"))
    sup = sites[sites[key].fillna("").astype(str).str.strip() != ""].groupby(key).agg(
        sites=("site_id", "size"), opened=("opening_period", lambda x: int((x > 0).sum())), capacity=("capacity", "sum"))
    out = sup.join(dem, how="outer").fillna({"sites": 0, "opened": 0, "capacity": 0, "employers": 0})
    out.loc[out.employers < MIN_CELL, "eligible_parents"] = np.nan
    out["parents_per_place"] = out.eligible_parents / out.capacity.where(out.capacity > 0)
    out["demand exceeds capacity"] = out.eligible_parents > out.capacity
    return out.reset_index().sort_values("parents_per_place", ascending=False, na_position="last")


def needs_figure(needs: dict, pole: str, ax=None, radius_km: float = 5.0):
    """Map-like view of one pole: employers sized by eligible parents, sites sized by capacity.

    Parameters
    ----------
    needs : dict
        The tables of :func:`needs_assessment`.
    pole : str
        The PODECOBI pole drawn.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure).
    radius_km : float
        The radius of the assessment (drawn around each site).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.5))
    emp = needs["employers"]
    e = emp[emp.pole == pole]
    s = needs["sites"][needs["sites"].pole == pole]
    if len(e) >= MIN_CELL:
        ax.scatter(e.lon, e.lat, s=4 + 2 * np.sqrt(e.eligible_parents), color="#4a6fa5", alpha=0.45,
                   label="employers (size: eligible parents)")
    for status, mk, col in (("opened", "s", "#b35806"), ("planned", "^", "#542788")):
        t = s[s.status == status]
        ax.scatter(t.lon, t.lat, s=10 + t.capacity / 3, marker=mk, color=col, edgecolor="black", label=f"{status} sites")
    ax.set_title(f"{pole}: eligible parents and CECI places", fontsize=10)
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.legend(fontsize=7, loc="best")
    return ax
