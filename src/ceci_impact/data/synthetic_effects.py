"""Effect intensity of the simulated world: distance decay, spill-overs beyond the treated radius and the dose.

Called once from the exposure stage (:func:`ceci_impact.data.synthetic_stages._stage_exposure`). An employer is
exposed by the first opened CECI within ``reach_km`` (its opening month and distance); the intensity that scales
every effect of the employer (female hiring, retention, absence) is

``exp(-d / decay_km) * s(d) * (dose / median dose) ** dose_slope``

- ``s(d) = 1`` within ``spillover_from_km`` (the treated radius of the reports, 3 km) and ``spillover_effect``
  beyond it, up to ``reach_km``: the ring spill-over (Butts 2023's estimand) is non-trivial by default
  (``spillover_effect = 1``: effects just keep decaying with distance; 0 confines them to the treated radius);
- ``dose`` is the exposing site's places per 100 eligible parents: ``100 * capacity / (PARENT_SHARE * workers of
  the employers within spillover_from_km of the site)``, so a centre with more places per potential user does
  more (``dose_slope`` is the elasticity of the effect to the dose; 0 removes the dose response). The median
  dose is taken over opened sites, so the typical site keeps the effect sizes of the specification.

Every effect enters both potential worlds through the recorded ``y(1) - y(0)``, so the truth of the spill-over
and dose estimands follows from the truth files as for every estimand (:mod:`ceci_impact.data.truth`).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from ..geo import haversine_km

PARENT_SHARE = 0.10  # share of workers who are parents of a child aged 43 days to 4 years (demand proxy)


def site_doses(capacity, s_lat, s_lon, e_lat, e_lon, workers, radius_km: float) -> np.ndarray:
    """Places per 100 eligible parents of each site: ``100 * capacity / (PARENT_SHARE * workers within
    radius_km)`` (at least one eligible parent).

    Parameters
    ----------
    capacity : array_like
        Places of each site.
    s_lat, s_lon : numpy.ndarray
        Latitude and longitude of each site.
    e_lat, e_lon : numpy.ndarray
        Latitude and longitude of each employer.
    workers : numpy.ndarray
        Workers of each employer.
    radius_km : float
        Radius in km within which an employer's workers count as a site's demand.
    """
    demand = np.zeros(len(capacity))
    for c in range(0, len(e_lat), 20000):  # chunks of employers (the distance matrix stays small)
        d = haversine_km(e_lat[c:c + 20000, None], e_lon[c:c + 20000, None], s_lat[None], s_lon[None])
        demand += (d <= radius_km).T.astype(float) @ workers[c:c + 20000]
    return 100.0 * np.asarray(capacity, float) / np.maximum(PARENT_SHARE * demand, 1.0)


def exposure_intensity(w: SimpleNamespace, expo_p: np.ndarray, expo_d: np.ndarray) -> np.ndarray:
    """Effect intensity of every employer (0 if never exposed); records ``w.site_dose`` (per site) and
    ``w.expo_site`` (the exposing site of each employer, -1 if none).

    Parameters
    ----------
    w : types.SimpleNamespace
        The world under construction (spec, sites, employers, openings); updated in place.
    expo_p : numpy.ndarray
        Period of each employer's first exposure (10**9: never exposed).
    expo_d : numpy.ndarray
        Distance in km of each employer to its exposing site (inf: never exposed).
    """
    spec = w.spec
    extra = getattr(spec, "extra", {}) or {}
    spill = float(getattr(spec, "spillover_effect", extra.get("spillover_effect", 1.0)))
    slope = float(getattr(spec, "dose_slope", extra.get("dose_slope", 0.5)))
    r_in = float(getattr(spec, "spillover_from_km", extra.get("spillover_from_km", 3.0)))
    dose = site_doses(w.capacity, w.s_lat, w.s_lon, w.e_lat, w.e_lon, w.head.astype(float), r_in)
    expo_site = np.full(len(expo_d), -1, dtype=np.int64)
    oi = np.flatnonzero(w.opened)
    if oi.size:
        for c in range(0, len(expo_d), 20000):  # the exposure stage's rule: earliest opening within reach
            d = haversine_km(w.e_lat[c:c + 20000, None], w.e_lon[c:c + 20000, None], w.s_lat[None, oi],
                             w.s_lon[None, oi])
            op = np.where(d <= spec.reach_km, w.open_p[oi][None, :], 10**9)
            expo_site[c:c + 20000] = np.where(op.min(1) < 10**9, oi[op.argmin(1)], -1)
    ref = np.median(dose[oi]) if oi.size else 1.0
    exposed = np.isfinite(expo_d) & (expo_site >= 0)
    rel = np.where(exposed, dose[np.maximum(expo_site, 0)] / ref, 1.0)
    base = np.where(np.isfinite(expo_d), np.exp(-np.where(np.isfinite(expo_d), expo_d, 0.0) / spec.decay_km), 0.0)
    ring = np.where(expo_d <= r_in, 1.0, spill)
    w.site_dose = dose
    w.expo_site = expo_site
    return np.where(exposed, base * ring * rel ** slope, 0.0)
