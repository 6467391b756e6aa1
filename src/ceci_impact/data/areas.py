"""Every area a render publishes employer aggregates for, and which of them may be published.

A render publishes employer aggregates for nested and overlapping areas: the whole country (``all``), states,
PODECOBI poles (sets of municipalities), the radius around each CECI site (``site``), the squares of the fixed map
grid (``cell``) and the squares of each pole's needs map (``pole_cell``). Subtracting two of them must not isolate
fewer than ``MIN_CELL`` employers or a dominated set. :func:`disclosure_areas` builds the membership of every area
from the processed panels, applies the primary rules (minimum count, (n,k)-dominance), the consistent suppression
of overlapping areas and the secondary suppression under published totals
(:mod:`ceci_impact.confidentiality`); every page of a render calls it with the same inputs and therefore withholds
the same areas. The result is cached per process.

Priority of the greedy pass (an area withheld for differencing is always the later one): all, states, poles, sites
(opened first, in opening order, then planned), map squares, pole squares.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..confidentiality import (
    DOMINANCE_K,
    DOMINANCE_N,
    GRID_KM,
    MIN_CELL,
    consistent_suppression,
    grid_index,
    protect_remainder,
)
from ..geo import haversine_km
from .panels import load

VALUE_COLS = ("jobs", "women", "eligible", "eligible_parents")
FAMILIES = ("all", "state", "pole", "site", "cell", "pole_cell")


@dataclass(frozen=True)
class AreaUniverse:
    """The areas of one render: ``areas`` (family, key, employers, values, status), ``members`` (sparse areas x
    employers, rebuilt on first use when the areas came from the cache) and ``employers`` (one row per employer:
    position, municipality, pole, state and values).

    Parameters
    ----------
    areas : pandas.DataFrame
        One row per area: family, key, employers, values and disclosure status.
    employers : pandas.DataFrame
        One row per employer: position, municipality, pole, state and values.
    radius_km : float
        Radius in km around a CECI site within which an employer belongs to the site's area.
    grid_km : float
        Side in km of the grid cells of the ``cell`` and ``pole_cell`` area families.
    sites : pandas.DataFrame
        The CECI sites (``site_id``, ``lat``, ``lon``) that centre the site areas.
    """

    areas: pd.DataFrame
    employers: pd.DataFrame
    radius_km: float
    grid_km: float
    sites: pd.DataFrame

    @functools.cached_property
    def members(self):
        """Sparse membership (areas x employers), in the order of ``areas``."""
        _, M = _membership(self.employers, self.sites, self.radius_km, self.grid_km)
        return M

    def get(self, family: str, key: str) -> pd.Series | None:
        """The row of one area, or None when the universe has no such area.

        Parameters
        ----------
        family : str
            Area family (``all``, ``state``, ``pole``, ``site``, ``cell``, ``pole_cell``).
        key : str
            Area key within the family.
        """
        r = self.areas[(self.areas.family == family) & (self.areas.key == str(key))]
        return None if r.empty else r.iloc[0]

    def published(self, family: str) -> pd.DataFrame:
        """The areas of one family a page may publish.

        Parameters
        ----------
        family : str
            Area family.
        """
        a = self.areas
        return a[(a.family == family) & (a.status == "published")]

    def record(self, family: str, keys=None) -> list[dict]:
        """The published aggregates of one family as JSON-ready rows for a page's sidecar (what
        ``ceci-impact disclosure-audit`` reads back); withheld areas are listed with their status only.

        Parameters
        ----------
        family : str
            Area family.
        keys : iterable of str, optional
            Only these areas.
        """
        a = self.areas[self.areas.family == family]
        if keys is not None:
            a = a[a.key.isin([str(k) for k in keys])]
        out = []
        for r in a.itertuples(index=False):
            row = {"family": family, "key": r.key, "status": r.status}
            if family == "site":
                row["radius_km"] = self.radius_km
            if family in ("cell", "pole_cell"):
                row["grid_km"] = self.grid_km
            if r.status == "published":
                row.update(employers=int(r.employers), **{c: float(getattr(r, c)) for c in VALUE_COLS})
            out.append(row)
        return out


def eligible_by_employer(processed: str | Path, ref: int | None = None) -> pd.DataFrame:
    """Eligible parents with an active job in month ``ref`` (default: the last month), per employer, with the
    employer's location and municipality.

    Parameters
    ----------
    processed : str or Path
        Folder of built panels.
    ref : int, optional
        Reference month (period number).
    """
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


def employer_frame(processed: str | Path, ref: int | None = None) -> pd.DataFrame:
    """One row per employer: first-month position, municipality, pole and state, first-month jobs, women and
    eligible workers (what a site page publishes) and eligible parents in the last month (what the needs assessment
    publishes).

    Parameters
    ----------
    processed : str or Path
        Folder of built panels.
    ref : int, optional
        Reference month of the eligible parents (default: the last month).
    """
    em = load("employer_month", processed)
    first = em.sort_values("period").drop_duplicates("employer_id")
    e = pd.DataFrame({"employer_id": first.employer_id.to_numpy(), "lat": first.lat.to_numpy(float),
                      "lon": first.lon.to_numpy(float), "cvegeo": first.cvegeo.astype(str).to_numpy(),
                      "jobs": first.workers.to_numpy(float), "women": first.women.to_numpy(float),
                      "eligible": first.eligible.to_numpy(float)})
    if (Path(processed) / "spells_exposure.parquet").exists():
        ep = eligible_by_employer(processed, ref).set_index("employer_id").eligible_parents
        e["eligible_parents"] = e.employer_id.map(ep).fillna(0).to_numpy(float)
    else:
        e["eligible_parents"] = 0.0
    e.attrs["ref"] = ref if ref is not None else int(em.period.max())
    m = load("mun_month", processed)[["cvegeo", "pole"]].drop_duplicates("cvegeo")
    e["pole"] = e.cvegeo.map(m.set_index(m.cvegeo.astype(str)).pole).fillna("").astype(str).str.strip()
    e["state"] = e.cvegeo.str[:2]
    e["gx"], e["gy"] = grid_index(e.lat, e.lon)
    return e


def pairs_within_km(lat0, lon0, lat, lon, radius_km: float) -> tuple[np.ndarray, np.ndarray]:
    """All (centre, point) pairs with a haversine distance of at most ``radius_km``: candidates from a k-d tree
    on the unit sphere (chord distance, slightly widened), then the exact haversine test of
    :func:`ceci_impact.geo.haversine_km` (the same set a page computes for one site).

    Parameters
    ----------
    lat0, lon0 : numpy.ndarray
        Centres (decimal degrees).
    lat, lon : numpy.ndarray
        Points (decimal degrees).
    radius_km : float
        Radius.
    """
    from scipy.spatial import cKDTree

    from ..geo import EARTH_RADIUS_KM

    def xyz(la, lo):
        la, lo = np.radians(np.asarray(la, float)), np.radians(np.asarray(lo, float))
        return np.c_[np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)]

    if not len(lat0) or not len(lat):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    chord = 2 * np.sin(min(radius_km / EARTH_RADIUS_KM, np.pi) / 2) * (1 + 1e-6) + 1e-12
    hits = cKDTree(xyz(lat, lon)).query_ball_point(xyz(lat0, lon0), chord)
    r = np.repeat(np.arange(len(hits)), [len(h) for h in hits])
    c = np.fromiter((j for h in hits for j in h), np.int64, count=r.size)
    ok = haversine_km(np.asarray(lat0)[r], np.asarray(lon0)[r], np.asarray(lat)[c], np.asarray(lon)[c]) <= radius_km
    return r[ok], c[ok]


def _membership(e: pd.DataFrame, sites: pd.DataFrame, radius_km: float, grid_km: float):
    """Keys, families and the sparse membership matrix of every area."""
    import scipy.sparse as sp

    nE = len(e)
    rows, cols, keys, fams = [], [], [], []

    def add(family: str, codes: np.ndarray, labels, mask: np.ndarray | None = None):
        base = len(keys)
        idx = np.arange(nE) if mask is None else np.flatnonzero(mask)
        rows.append(base + codes[idx])
        cols.append(idx)
        keys.extend(str(x) for x in labels)
        fams.extend([family] * len(labels))

    add("all", np.zeros(nE, int), ["all"])
    for fam, col in (("state", "state"), ("pole", "pole")):
        valid = e[col].to_numpy() != ""
        codes, labels = pd.factorize(e[col].where(valid, None), sort=True)
        add(fam, codes, list(labels), valid)
    base = len(keys)
    r, c = pairs_within_km(sites.lat.to_numpy(float), sites.lon.to_numpy(float), e.lat.to_numpy(float),
                           e.lon.to_numpy(float), radius_km)
    rows.append(base + r)
    cols.append(c)
    keys.extend(sites.site_id.astype(str))
    fams.extend(["site"] * len(sites))
    gx, gy = grid_index(e.lat, e.lon, grid_km)
    cell = pd.Series([f"{x}:{y}" for x, y in zip(gx, gy, strict=True)])
    codes, labels = pd.factorize(cell, sort=True)
    add("cell", codes, list(labels))
    valid = e.pole.to_numpy() != ""
    pc = (e.pole + "|" + cell.to_numpy()).where(valid, None)
    codes, labels = pd.factorize(pc, sort=True)
    add("pole_cell", codes, list(labels), valid)
    r, c = np.concatenate(rows), np.concatenate(cols)
    M = sp.csr_matrix((np.ones(r.size, np.int32), (r, c)), shape=(len(keys), nE))
    return pd.DataFrame({"family": fams, "key": keys}), M


def _priority(areas: pd.DataFrame, sites: pd.DataFrame) -> np.ndarray:
    fam_rank = areas.family.map({f: i for i, f in enumerate(FAMILIES)}).to_numpy()
    s = sites.assign(o=np.where(sites.opening_period > 0, sites.opening_period, np.inf))
    site_rank = dict(zip(s.sort_values(["o", "site_id"]).site_id.astype(str), range(len(s)), strict=True))
    within = np.where(areas.family == "site", areas.key.map(site_rank).fillna(0), np.arange(len(areas)))
    return np.lexsort((within, fam_rank))


def _secondary(areas: pd.DataFrame, M, values: np.ndarray, pub: np.ndarray) -> np.ndarray:
    """Remainders under published totals: the country, each state, pole and site radius minus the published map
    squares (of either grid family) inside it, the country minus the states and minus the poles, and each state
    minus the poles inside it."""
    import scipy.sparse as sp

    fam = areas.family.to_numpy()
    idx = {f: np.flatnonzero(fam == f) for f in FAMILIES}
    cnt = np.asarray(M.sum(axis=1)).ravel()
    grid = np.r_[idx["cell"], idx["pole_cell"]]
    parents = np.r_[idx["all"], idx["state"], idx["pole"], idx["site"]]
    if grid.size and parents.size:
        Cn = sp.coo_matrix(M[parents] @ M[grid].T)
        full = Cn.data == cnt[grid][Cn.col]  # the square lies wholly inside the parent
        by_parent = pd.Series(grid[Cn.col[full]]).groupby(Cn.row[full]).agg(list)
        for a, ch in by_parent.items():
            p = parents[a]
            if pub[p]:
                pub = protect_remainder(M, p, np.asarray(ch), pub, values)
    top = idx["all"][0]
    if pub[top]:
        for f in ("state", "pole"):
            pub = protect_remainder(M, top, idx[f], pub, values)
    if idx["pole"].size and idx["state"].size:
        inter = (M[idx["state"]] @ M[idx["pole"]].T).toarray()
        for a, s in enumerate(idx["state"]):
            inside_p = idx["pole"][inter[a] == cnt[idx["pole"]]]
            if pub[s] and inside_p.size:
                pub = protect_remainder(M, s, inside_p, pub, values)
    return pub


def _protect(e: pd.DataFrame, sites: pd.DataFrame, radius_km: float, grid_km: float) -> tuple[pd.DataFrame, object]:
    areas, M = _membership(e, sites, radius_km, grid_km)
    values = e[list(VALUE_COLS)].to_numpy(float)
    sums = M @ values
    areas["employers"] = np.asarray(M.sum(axis=1)).ravel().astype(int)
    for c, col in enumerate(VALUE_COLS):
        areas[col] = sums[:, c]
    st = consistent_suppression(M, values, order=_priority(areas, sites))
    pub = st.status.to_numpy() == "published"
    while True:  # withholding a square can make another total's remainder disclosive: repeat to a fixed point
        new = _secondary(areas, M, values, pub)
        if (new == pub).all():
            break
        pub = new
    status = st.status.to_numpy().copy()
    status[(status == "published") & ~pub] = "secondary"
    areas["status"] = status
    areas["conflict"] = np.where(st.conflict.to_numpy() >= 0, areas.key.to_numpy()[np.maximum(st.conflict, 0)], "")
    areas.loc[areas.employers == 0, "status"] = "published"  # an empty area reveals nothing
    return areas, M


def _cache_file(key: str) -> Path:
    import hashlib
    import os
    import tempfile

    rules = "".join((Path(__file__).read_text(), (Path(__file__).parents[1] / "confidentiality.py").read_text()))
    h = hashlib.sha256((key + rules).encode()).hexdigest()[:24]
    return Path(tempfile.gettempdir()) / f"ceci-impact-areas-{os.getuid()}" / f"{h}.parquet"


def _private_dir(d: Path) -> bool:
    """Whether ``d`` is (now) a directory of this user that no one else can read or write."""
    import os

    try:
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(d)
    except OSError:
        return False
    import stat

    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077


@functools.lru_cache(maxsize=8)
def _cached(processed: str, fingerprint: str, radius_km: float, grid_km: float, ref: int | None) -> AreaUniverse:
    """The universe, computed once per data, radius, grid and rules: kept in memory and, for the other pages of a
    render (each runs in its own kernel), in a private cache file of the temporary folder."""
    import os

    e = employer_frame(processed, ref)
    sites = pd.read_parquet(Path(processed) / "sites.parquet")
    f = _cache_file(f"{processed}|{fingerprint}|{radius_km}|{grid_km}|{ref}")
    private = _private_dir(f.parent)
    areas = None
    if private and f.exists():
        try:
            areas = pd.read_parquet(f)
        except Exception:  # noqa: BLE001 - a damaged cache is recomputed
            areas = None
    U = AreaUniverse(areas=areas, employers=e, radius_km=radius_km, grid_km=grid_km, sites=sites)
    if areas is None:
        areas, M = _protect(e, sites, radius_km, grid_km)
        U = AreaUniverse(areas=areas, employers=e, radius_km=radius_km, grid_km=grid_km, sites=sites)
        U.__dict__["members"] = M
        if private:
            kept = areas.copy()  # the cache holds no value of a withheld area (only its employer count and status)
            kept.loc[kept.status != "published", list(VALUE_COLS)] = np.nan
            try:
                tmp = f.with_suffix(f".{os.getpid()}.tmp")
                kept.to_parquet(tmp)
                os.chmod(tmp, 0o600)
                os.replace(tmp, f)
            except OSError:
                pass  # no cache: every page computes the same pattern itself
    return U


def disclosure_areas(processed: str | Path, radius_km: float = 5.0, grid_km: float = GRID_KM,
                     ref: int | None = None) -> AreaUniverse:
    """The areas of a render and which may be published (rules of :mod:`ceci_impact.confidentiality`: at least
    ``MIN_CELL`` employers, no ``DOMINANCE_N`` employers above ``DOMINANCE_K`` %, no overlapping pair differing by a
    disclosive set, no total minus published cells disclosive).

    Parameters
    ----------
    processed : str or Path
        Folder of built panels.
    radius_km : float
        Radius of the site areas (the render's ``radius_km``).
    grid_km : float
        Side of the map squares.
    ref : int, optional
        Reference month of the eligible parents (default: the last month).
    """
    p = Path(processed).resolve()
    fp = ""
    if (p / "manifest.json").exists():
        fp = str(json.loads((p / "manifest.json").read_text()).get("fingerprint", ""))
    fp += str((p / "employer_month.parquet").stat().st_mtime_ns) if (p / "employer_month.parquet").exists() else ""
    return _cached(str(p), fp, float(radius_km), float(grid_km), None if ref is None else int(ref))


def draw_cells(ax, cells, values, *, label: str = "", cmap: str = "Blues", grid_km: float = GRID_KM):
    """Draw published squares of the fixed grid (keys ``"col:row"``) coloured by an aggregate that passed the
    disclosure rules, with a colour bar. Only square corners reach the figure, never an employer's position.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Axes to draw on.
    cells : iterable of str
        Square keys.
    values : array-like
        Published value of each square.
    label : str
        Colour-bar label.
    cmap : str
        Colour map.
    grid_km : float
        Side of a square.
    """
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    from ..confidentiality import grid_corners

    keys = pd.Series(list(cells), dtype=str)
    if keys.empty:
        return None
    ij = keys.str.split(":", expand=True).astype(int)
    x0, x1, y0, y1 = grid_corners(ij[0].to_numpy(), ij[1].to_numpy(), grid_km)
    polys = np.stack([np.c_[x0, y0], np.c_[x1, y0], np.c_[x1, y1], np.c_[x0, y1]], axis=1)
    pc = PolyCollection(polys, array=np.asarray(values, float), cmap=cmap, edgecolors="white", linewidths=0.3)
    ax.add_collection(pc)
    ax.autoscale_view()
    plt.colorbar(pc, ax=ax, label=label, shrink=0.8)
    return pc


__all__ = ["AreaUniverse", "DOMINANCE_K", "DOMINANCE_N", "MIN_CELL", "VALUE_COLS", "disclosure_areas",
           "draw_cells", "eligible_by_employer", "employer_frame"]
