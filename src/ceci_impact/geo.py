"""Great-circle distances."""

from __future__ import annotations

import numpy as np

EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Haversine distance in kilometres between points given in decimal degrees (broadcasts).

    Parameters
    ----------
    lat1 : array_like
        Latitude of the first points (degrees).
    lon1 : array_like
        Their longitude.
    lat2 : array_like
        Latitude of the second points (degrees).
    lon2 : array_like
        Their longitude.
    """
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def state_outlines() -> dict:
    """Approximate outlines of Mexico's 32 states in longitude/latitude, shipped with the package
    (``reference_data/geo``; source and licence in its ``PROVENANCE.md``): ``{cve_ent: {"name", "rings"}}``."""
    import json
    from pathlib import Path

    path = Path(__file__).parent / "reference_data" / "geo" / "mexico_states.json"
    return json.loads(path.read_text(encoding="utf-8"))["states"]


def draw_states(ax, states: list[str] | None = None, **kw) -> None:
    """Draw state outlines on a matplotlib axis in longitude/latitude (all states, or the INEGI codes given).

    Parameters
    ----------
    ax : matplotlib Axes
        Where to draw.
    states : list of str, optional
        INEGI state codes to draw (default: all).
    **kw
        Line properties (default: thin grey).
    """
    from matplotlib.collections import LineCollection

    geo = state_outlines()
    rings = [r for k, v in geo.items() if states is None or k in states for r in v["rings"]]
    style = {"colors": "#9a9a9a", "linewidths": 0.6, "zorder": 0, **kw}
    ax.add_collection(LineCollection(rings, **style))
    ax.set_aspect(1 / 0.93)  # equirectangular at Mexico's mean latitude (cos 21.7°)
