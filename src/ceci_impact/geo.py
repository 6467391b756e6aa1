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
