"""One CECI site: its facts, the employers around it, its local event study and density map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .._options import CeciError
from ..calendar import label
from ..confidentiality import MIN_CELL
from ..data.panels import load
from ..did import att_gt
from ..did.core.notes import recording


def site_profile(processed: str | Path, site_id: str = "") -> pd.Series:
    """Facts about one CECI site (the first opened site when ``site_id`` is empty).

    Parameters
    ----------
    processed : str or pathlib.Path
        Folder of the built panels.
    site_id : str
        The site (``CECI-0001``; '' for the first opened).
    """
    sites = pd.read_parquet(Path(processed) / "sites.parquet")
    opened = sites[sites.opening_period > 0].sort_values(["opening_period", "site_id"])
    if not site_id:
        if opened.empty:
            raise CeciError("no opened CECI site in the registry")
        site_id = opened.site_id.iloc[0]
    row = sites[sites.site_id == site_id]
    if row.empty:
        raise CeciError(f"site_id={site_id!r} not in the registry; opened sites include "
                        f"{', '.join(opened.site_id.head(5))}")
    s = row.iloc[0].copy()
    s["opening_month"] = label(s.opening_period)
    return s

def _first_rows(em: pd.DataFrame) -> pd.DataFrame:
    """Each employer's row of its first month in the panel."""
    return em.sort_values("period").drop_duplicates("employer_id")


def site_employers(processed: str | Path, site: pd.Series, em: pd.DataFrame | None = None) -> pd.DataFrame:
    """Employers with their distance to the site (one row per employer, first month's workforce).

    Parameters
    ----------
    processed : str or pathlib.Path
        Folder of the built panels.
    site : pandas.Series
        The site's facts (:func:`ceci_impact.study.sites.site_profile`).
    em : pandas.DataFrame, optional
        The employer-month panel when already loaded and changed (when None, the first months of the built panel
        come from memory after the first call: :func:`ceci_impact.data.panel_cache.derived_frame`).
    """
    from ..geo import haversine_km

    if em is None:
        from ..data.panel_cache import derived_frame

        p = Path(processed) / "employer_month.parquet"
        if not p.exists():
            load("employer_month", processed)  # its one-line message: the panel is not built
        first = derived_frame(p, "first_month_of_each_employer", _first_rows)
    else:
        first = _first_rows(em)
    first["km"] = haversine_km(site.lat, site.lon, first.lat.to_numpy(), first.lon.to_numpy())
    return first

def site_event_study(processed: str | Path, site: pd.Series, radius_km: float, window: int, outcome: str,
                     n_perm: int = 199, seed: int = 2026, biters: int = 499, alpha: float = 0.05) -> dict:
    """Local event study: employers within ``radius_km`` of the site vs control-ring employers.

    With few treated employers, analytic intervals are unreliable: the function also returns a
    randomisation-inference p-value (the site's opening reassigned to random sets of control
    employers of the same size, ``n_perm`` times).

    Parameters
    ----------
    processed : str or pathlib.Path
        Folder of the built panels.
    site : pandas.Series
        The site's facts (:func:`ceci_impact.study.sites.site_profile`).
    radius_km : float
        Employers within this distance of the site are treated.
    window : int
        Months before and after the opening kept.
    outcome : str
        An employer outcome of the registry.
    n_perm : int
        Permutations of the randomisation-inference p-value.
    seed : int
        Seed of the permutations and the bootstrap.
    biters : int
        Multiplier-bootstrap draws.
    alpha : float
        Level of the intervals.
    """
    em = load("employer_month", processed)
    emp = site_employers(processed, site)  # the built panel's first months, from memory after the first call
    near = set(emp.loc[(emp.km <= radius_km), "employer_id"])
    ctrl = set(em.loc[em.ring == "control", "employer_id"])
    g = int(site.opening_period)
    d = em[em.employer_id.isin(near | ctrl) & em.period.between(g - window, g + window)].copy()
    d["first_treat"] = np.where(d.employer_id.isin(near), g, 0).astype(float)
    d = d.dropna(subset=[outcome])
    d["unit"] = pd.factorize(d.employer_id)[0] + 1
    d["size0"] = d.groupby("employer_id")["workers"].transform("first").astype(float)
    d = d[d.size0 > 0]
    n_t = int(d.loc[d.first_treat > 0, "unit"].nunique())
    n_c = int(d.loc[d.first_treat == 0, "unit"].nunique())
    if n_t == 0:
        return {"n_treated": 0, "n_control": n_c, "result": None, "perm_p": None}
    with recording():  # re-emitted once per message, never silenced
        r = att_gt(d, yname=outcome, tname="period", idname="unit", gname="first_treat", control_group="nevertreated",
                   est_method="reg", bstrap=True, biters=biters, alp=alpha, seed=seed, weightsname="size0")
        dyn = r.aggte("dynamic", na_rm=True)
        simple = r.aggte("simple", na_rm=True)
    # randomisation inference on the simple post-minus-pre contrast (weighted means)
    wide = d.pivot_table(index="unit", columns="period", values=outcome)
    w0 = d.drop_duplicates("unit").set_index("unit")["size0"].reindex(wide.index)
    post_cols = [c for c in wide.columns if c >= g]
    pre_cols = [c for c in wide.columns if c < g]
    delta = (wide[post_cols].mean(axis=1) - wide[pre_cols].mean(axis=1)).fillna(0)
    treated = d.drop_duplicates("unit").set_index("unit")["first_treat"].reindex(wide.index) > 0

    def contrast(mask):
        return np.average(delta[mask], weights=w0[mask]) - np.average(delta[~mask], weights=w0[~mask])

    obs = contrast(treated.to_numpy())
    rng = np.random.default_rng(seed)
    pool = np.flatnonzero(~treated.to_numpy())
    draws = []
    for _ in range(n_perm):
        m = np.zeros(len(wide), bool)
        m[rng.choice(pool, min(n_t, pool.size - 1), replace=False)] = True
        draws.append(contrast(m))
    perm_p = float((1 + np.sum(np.abs(draws) >= abs(obs))) / (1 + n_perm))
    return {"n_treated": n_t, "n_control": n_c, "result": r, "dynamic": dyn, "simple": simple,
            "perm_contrast": float(obs), "perm_p": perm_p}

def site_surroundings(processed: str | Path, site: pd.Series, radius_km: float) -> pd.Series:
    """What a site page may publish about the employers within ``radius_km``: the area's row of the render's
    disclosure control (:func:`ceci_impact.data.areas.disclosure_areas`), with ``status`` ``published``,
    ``primary`` (fewer than ``MIN_CELL`` employers or dominated), ``differencing`` (its difference with another
    published area would isolate a few employers; ``conflict`` names that area) or ``secondary``.

    Parameters
    ----------
    processed : str or Path
        Folder of built panels.
    site : pandas.Series
        The site (from :func:`site_profile`).
    radius_km : float
        Radius of the surroundings (km).
    """
    from ..data.areas import disclosure_areas

    row = disclosure_areas(processed, radius_km).get("site", str(site.site_id))
    if row is None:
        raise CeciError(f"site_id={site.site_id!r} not in the disclosure areas of {processed}")
    return row


def map_cells(processed: str | Path, site: pd.Series, radius_km: float) -> pd.DataFrame:
    """The published squares of the render's grid (with at least one employer) within three radii of the site:
    what :func:`employer_density_map` draws.

    Parameters
    ----------
    processed : str or Path
        Folder of built panels.
    site : pandas.Series
        The site.
    radius_km : float
        Radius of the surroundings (km).
    """
    from ..confidentiality import GRID_KM, grid_corners
    from ..data.areas import disclosure_areas
    from ..geo import haversine_km

    cells = disclosure_areas(processed, radius_km).published("cell")
    cells = cells[cells.employers > 0]
    if cells.empty:
        return cells
    ij = cells.key.str.split(":", expand=True).astype(int)
    x0, x1, y0, y1 = grid_corners(ij[0].to_numpy(), ij[1].to_numpy())
    d = haversine_km(site.lat, site.lon, (y0 + y1) / 2, (x0 + x1) / 2)
    return cells[d <= 3 * radius_km + GRID_KM]


def employer_density_map(processed: str | Path, site: pd.Series, radius_km: float, ax=None, k: int = MIN_CELL):
    """Where employers are around a site, without showing any one of them: employer counts on the render's fixed
    grid (``GRID_KM`` km squares, the same on every page), for squares within three radii of the site; squares the
    disclosure control withholds (fewer than ``k`` employers, dominated, or disclosive by difference) are left
    blank. Only the site (a public facility) is drawn as a point.

    Parameters
    ----------
    processed : str or Path
        Folder of built panels.
    site : pandas.Series
        The site.
    radius_km : float
        Radius of the surroundings (drawn as a circle).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on.
    k : int
        Minimum count (shown in the title).
    """
    import matplotlib.pyplot as plt

    from ..data.areas import draw_cells

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 5))
    cells = map_cells(processed, site, radius_km)
    draw_cells(ax, cells.key, cells.employers, label="employers per square", cmap="Blues")
    t = np.linspace(0, 2 * np.pi, 200)
    kx = 111.32 * np.cos(np.radians(site.lat))
    ax.plot(site.lon + radius_km * np.cos(t) / kx, site.lat + radius_km * np.sin(t) / 110.57, color="#b7410e", lw=1,
            label=f"{radius_km:g} km")
    ax.scatter([site.lon], [site.lat], marker="^", s=120, color="#b7410e", label=str(site.site_id), zorder=3)
    ax.set_aspect(1 / np.cos(np.radians(site.lat)))
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_title(f"Employers around {site.site_id}", fontsize=9)
    ax.legend(frameon=False, fontsize=8, loc="upper right")
    return ax


def site_facts(site: pd.Series) -> pd.DataFrame:
    """The public facts of one site as a table with row labels (what each number is), for its page.

    Parameters
    ----------
    site : pandas.Series
        :func:`site_profile`.
    """
    rows = [("site", site.get("site_id")), ("name", site.get("name")), ("scheme", site.get("scheme")),
            ("PODECOBI pole", site.get("pole") or "—"), ("municipality (INEGI code)", site.get("cvegeo")),
            ("opening month", site.get("opening_month")), ("places", site.get("capacity")),
            ("latitude", site.get("lat")), ("longitude", site.get("lon"))]
    return pd.DataFrame(rows, columns=["fact", "value"])
