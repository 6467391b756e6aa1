"""Needs assessment per site, pole and state: eligible parents near planned capacity.

Demand is counted from the job spells: insured workers whose child is aged 43 days to 4 years in the reference
month (the last month of the panels) and whose job is active then. Each worker counts once; two insured parents
of one child count twice, so this is an upper bound on children (the spells carry no child identifier). Supply is
the registry's capacity (opened and planned sites). Near a site means at an employer within ``radius_km``; a pole's
demand is that of the employers in its municipalities. Every site, pole and state figure passes the render's
disclosure control (:mod:`ceci_impact.data.areas`): fewer than ``MIN_CELL`` employers, a dominated area, an area
whose difference with another published area would isolate a few employers, or a remainder under a published total
are withheld (shown as missing, with the ratio that would reveal them). Maps show grid squares, never employers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..confidentiality import GRID_KM, MIN_CELL  # noqa: F401  (documented rules)
from ..data.areas import disclosure_areas, draw_cells, eligible_by_employer  # noqa: F401  (re-exported)


def needs_assessment(processed: str | Path, radius_km: float = 5.0, ref: int | None = None) -> dict:
    """Tables of eligible parents against capacity per site, pole and state, after disclosure control.

    Returns ``{"sites", "poles", "states", "cells", "employers", "ref", "areas"}``. Site rows flag ``demand exceeds
    capacity`` and ``capacity far from eligible parents`` (fewer eligible parents within the radius than a quarter of
    the places); a site, pole or state whose employer figures the disclosure control withholds
    (:func:`ceci_impact.data.areas.disclosure_areas`) shows them as missing, with ``disclosure`` giving the reason.
    ``cells`` holds the published squares of the poles' maps; ``employers`` is the confidential input (never to be
    shown).

    Parameters
    ----------
    processed : str or Path
        Folder of built panels.
    radius_km : float
        Radius around each site (km).
    ref : int, optional
        Reference month (default: the last month of the panels).
    """
    U = disclosure_areas(processed, radius_km, ref=ref)
    A = U.areas
    sites = pd.read_parquet(Path(processed) / "sites.parquet")
    s = sites[["site_id", "name", "scheme", "pole", "cvegeo", "lat", "lon", "capacity", "opening_period"]].copy()
    s["status"] = np.where(s.opening_period > 0, "opened", "planned")
    sa = A[A.family == "site"].set_index("key")
    s["employers_near"] = s.site_id.astype(str).map(sa.employers).fillna(0).astype(int)
    s["eligible_parents_near"] = s.site_id.astype(str).map(sa.eligible_parents)
    s["disclosure"] = s.site_id.astype(str).map(sa.status).fillna("published")
    small = s.disclosure != "published"
    s.loc[small, ["eligible_parents_near"]] = np.nan
    s["employers_near"] = s.employers_near.astype(float).where(~small)
    s["parents_per_place"] = s.eligible_parents_near / s.capacity.where(s.capacity > 0)
    s["flag"] = np.select([small, s.eligible_parents_near > s.capacity, s.eligible_parents_near < 0.25 * s.capacity],
                          ["withheld (disclosure control)", "demand exceeds capacity",
                           "capacity far from eligible parents"], "")
    emp = U.employers
    poles = _group(A, sites, "pole")
    states = _group(A, sites.assign(state=sites.cvegeo.astype(str).str[:2]), "state")
    cells = A[(A.family == "pole_cell") & (A.status == "published") & (A.employers > 0)].copy()
    cells[["pole", "cell"]] = cells.key.str.split("|", n=1, expand=True)
    return {"sites": s.drop(columns="opening_period"), "poles": poles, "states": states,
            "cells": cells[["pole", "cell", "employers", "eligible_parents"]], "employers": emp,
            "ref": emp.attrs.get("ref"), "areas": U}


def _group(areas: pd.DataFrame, sites: pd.DataFrame, key: str) -> pd.DataFrame:
    dem = areas[areas.family == key].set_index("key")[["employers", "eligible_parents", "status"]]
    dem.index.name = key
    sup = sites[sites[key].fillna("").astype(str).str.strip() != ""].groupby(key).agg(
        sites=("site_id", "size"), opened=("opening_period", lambda x: int((x > 0).sum())), capacity=("capacity", "sum"))
    out = sup.join(dem, how="outer").fillna({"sites": 0, "opened": 0, "capacity": 0, "status": "published"})
    out = out.rename(columns={"status": "disclosure"})
    hide = out.disclosure != "published"
    out["employers"] = out.employers.fillna(0).astype(float).where(~hide)
    out["eligible_parents"] = out.eligible_parents.where(~hide)
    out["parents_per_place"] = out.eligible_parents / out.capacity.where(out.capacity > 0)
    out["demand exceeds capacity"] = out.eligible_parents > out.capacity
    return out.reset_index().sort_values("parents_per_place", ascending=False, na_position="last")


def needs_figure(needs: dict, pole: str, ax=None, radius_km: float = 5.0):
    """Map of one pole: eligible parents per published square of the fixed grid (``GRID_KM`` km; squares
    withheld by the disclosure control left blank, no employer drawn), and the CECI sites (public facilities) with
    their places.

    Parameters
    ----------
    needs : dict
        Result of :func:`needs_assessment`.
    pole : str
        Pole to draw.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on.
    radius_km : float
        Radius of the assessment (shown in the title).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.5))
    c = needs["cells"][needs["cells"].pole == pole]
    s = needs["sites"][needs["sites"].pole == pole]
    draw_cells(ax, c.cell, c.eligible_parents, label="eligible parents per square", cmap="Blues")
    for status, mk, col in (("opened", "s", "#b35806"), ("planned", "^", "#542788")):
        t = s[s.status == status]
        ax.scatter(t.lon, t.lat, s=10 + t.capacity / 3, marker=mk, color=col, edgecolor="black", label=f"{status} sites")
    ax.set_title(f"{pole}: eligible parents and CECI places", fontsize=10)
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.legend(fontsize=7, loc="best")
    return ax
