"""Where to open next: municipalities and poles ranked by eligible parents without a place, in tiers, with a
randomised order within each tier so that every expansion round also produces evidence.

Unmet demand of an area is the eligible parents with an active insured job there (the needs assessment,
:func:`ceci_impact.design.needs.eligible_by_employer`: insured workers whose youngest child is 43 days to 4 years
old in the reference month; an upper bound on children) minus the places of the CECI opened or planned there.
Areas are sorted by unmet demand and cut into tiers of equal size (tier 1: the largest unmet demand). Within a tier
the order of opening is drawn at random with a published seed: areas of one tier have similar need, so the order
within it costs little in targeting, and a random order is what makes the next round's openings a randomised
phase-in whose effect can be estimated without parallel-trends assumptions (randomisation inference over the
opening schedule; Athey & Imbens 2022, "Design-based analysis in difference-in-differences settings with
staggered adoption"; Roth & Sant'Anna 2023, "Efficient estimation for staggered rollout designs"). This tiered
randomisation is this project's proposal for the roll-out, not a published allocation rule.

Demand resting on fewer than ``MIN_CELL`` employers is not published and such an area is not ranked (it is
listed as "insufficient data"), as in the needs assessment's tables.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .._options import CeciError
from ..confidentiality import MIN_CELL
from ..data.panels import load, manifest
from .needs import eligible_by_employer


def _municipios(processed: str | Path) -> pd.DataFrame | None:
    """The raw ``municipios.csv`` the panels were built from (the manifest's ``raw`` folder), or None."""
    try:
        raw = Path(manifest(processed).get("raw", ""))
    except CeciError:
        return None
    f = raw / "municipios.csv"
    if not raw.parts or not f.is_file():
        return None
    return pd.read_csv(f, dtype={"cvegeo": str, "cve_ent": str})


def area_names(processed: str | Path) -> dict[str, str]:
    """Municipality names (``cvegeo`` → ``nombre``) from the raw ``municipios.csv`` the panels were built from
    (the manifest's ``raw`` folder); empty when it is not there.

    Parameters
    ----------
    processed : str or Path
        Folder of built panels.
    """
    m = _municipios(processed)
    if m is None or "nombre" not in m:
        return {}
    return dict(zip(m["cvegeo"], m["nombre"].astype(str), strict=True))


def where_to_open(processed: str | Path, *, level: str = "municipality", tiers: int = 4, seed: int = 2026,
                  ref: int | None = None) -> pd.DataFrame:
    """Areas ranked by unmet demand, in tiers, with a seeded random order of opening within each tier.

    Parameters
    ----------
    processed : str or Path
        Folder of built panels.
    level : {"municipality", "pole"}
        The areas ranked.
    tiers : int
        Number of tiers (equal numbers of ranked areas).
    seed : int
        Seed of the random order within tiers (published with the table, so the draw can be audited).
    ref : int, optional
        Reference month of the needs assessment (default: the last month).

    Returns
    -------
    pandas.DataFrame
        ``area``, ``name``, ``employers``, ``eligible_parents``, ``places``, ``unmet``, ``tier``,
        ``order_in_tier`` (random), ``rank`` (order of opening: tier, then the random order); areas with
        fewer than ``MIN_CELL`` employers at the end with NaN demand and no tier.
    """
    if level not in ("municipality", "pole"):
        raise CeciError(f"level={level!r} is not allowed; expected one of 'municipality', 'pole'")
    if not (isinstance(tiers, int) and 1 <= tiers <= 20):
        raise CeciError(f"tiers={tiers!r} is not allowed; expected a whole number from 1 to 20")
    emp = eligible_by_employer(processed, ref)
    sites = pd.read_parquet(Path(processed) / "sites.parquet", columns=["cvegeo", "pole", "capacity"])
    if level == "pole":
        poles = load("mun_month", processed)[["cvegeo", "pole"]].drop_duplicates("cvegeo")
        emp = emp.merge(poles, on="cvegeo", how="left")
        emp_key = site_key = "pole"
        emp = emp[emp[emp_key].fillna("").astype(str).str.strip() != ""]
        sites = sites[sites[site_key].fillna("").astype(str).str.strip() != ""]
    else:
        emp_key = site_key = "cvegeo"
    dem = emp.groupby(emp_key).agg(employers=("employer_id", "size"), eligible_parents=("eligible_parents", "sum"))
    sup = sites.groupby(site_key)["capacity"].sum().rename("places")
    out = dem.join(sup, how="left").fillna({"places": 0.0})
    out.index.name = "area"
    out = out.reset_index()
    small = out["employers"] < MIN_CELL
    out.loc[small, "eligible_parents"] = np.nan
    out["unmet"] = out["eligible_parents"] - out["places"]
    names = area_names(processed) if level == "municipality" else {}
    out.insert(1, "name", [names.get(str(a), str(a)) for a in out["area"]])
    ranked = out[~small].sort_values(["unmet", "area"], ascending=[False, True]).reset_index(drop=True)
    n = len(ranked)
    ranked["tier"] = (np.arange(n) * tiers // max(n, 1) + 1).astype(int)
    rng = np.random.default_rng(seed)
    ranked["order_in_tier"] = 0
    for t in range(1, tiers + 1):
        idx = np.flatnonzero(ranked["tier"].to_numpy() == t)
        ranked.loc[idx, "order_in_tier"] = rng.permutation(idx.size) + 1
    ranked = ranked.sort_values(["tier", "order_in_tier"]).reset_index(drop=True)
    ranked["rank"] = np.arange(1, n + 1)
    rest = out[small].assign(tier=pd.NA, order_in_tier=pd.NA, rank=pd.NA)
    res = pd.concat([ranked, rest], ignore_index=True)
    res.attrs.update({"seed": seed, "tiers": tiers, "level": level, "insufficient": int(small.sum()),
                      "ref": emp.attrs.get("ref")})
    return res


def where_table(ranked: pd.DataFrame, top: int = 15) -> pd.DataFrame:
    """The first ``top`` areas of :func:`where_to_open` as a publication table (row label: the area's name).

    Parameters
    ----------
    ranked : pandas.DataFrame
        :func:`where_to_open`.
    top : int
        Rows shown.
    """
    r = ranked.dropna(subset=["rank"]).head(top)
    return pd.DataFrame({"order of opening": r["rank"].astype(int), "area": r["name"].astype(str),
                         "tier": r["tier"].astype(int), "eligible parents": r["eligible_parents"],
                         "places": r["places"], "eligible parents without a place": r["unmet"]})


def where_map(ranked: pd.DataFrame, processed: str | Path, ax=None):
    """The where-to-open ranking on a map: each ranked municipality at its public centroid, coloured by tier (no
    value of any employer is encoded: the tier summarises at least ``MIN_CELL`` employers), the CECI sites
    (public facilities), and the state outlines (:func:`ceci_impact.geo.draw_states`).

    Parameters
    ----------
    ranked : pandas.DataFrame
        :func:`where_to_open` at the municipality level.
    processed : str or Path
        Folder of built panels (sites, and the municipalities' centroids from the raw ``municipios.csv``).
    ax : matplotlib Axes, optional
        Where to draw.
    """
    import matplotlib.pyplot as plt

    from ..geo import draw_states

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 5.6))
    mun = _municipios(processed)
    r = ranked.dropna(subset=["tier"])
    if mun is not None and {"lat", "lon"} <= set(mun.columns):
        r = r.merge(mun[["cvegeo", "lat", "lon"]], left_on="area", right_on="cvegeo", how="inner")
    else:
        r = r.iloc[0:0].assign(lat=[], lon=[])
    tiers = int(ranked.attrs.get("tiers", r["tier"].max() if len(r) else 1))
    cmap = plt.get_cmap("viridis_r", max(tiers, 2))
    for t in range(1, tiers + 1):
        m = r[r["tier"] == t]
        ax.scatter(m["lon"], m["lat"], s=36, color=cmap(t - 1), edgecolor="white", linewidth=0.4, zorder=2,
                   label=f"tier {t}")
    sites = pd.read_parquet(Path(processed) / "sites.parquet", columns=["lat", "lon", "opening_period"])
    ax.scatter(sites["lon"], sites["lat"], marker="^", s=22, color="#b7410e", zorder=3, label="CECI sites")
    draw_states(ax)
    ax.set_xlim(-118.6, -86.5)
    ax.set_ylim(14.3, 33.0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("Where to open next: municipalities by tier of unmet need", fontsize=11)
    ax.legend(frameon=False, fontsize=8, loc="lower left")
    return ax
