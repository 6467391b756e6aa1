"""Time and memory of the render's disclosure control at a given number of employers (prints figures, asserts nothing).

The employers are synthetic: clustered around ``--sites`` CECI positions spread over Mexico's bounding box, with
log-normal workforces, so that site radii, grid squares, poles and states overlap the way they do in real data.

    PYTHONPATH=src python -m benchmarks.disclosure_speed --employers 1000000 --sites 700
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pandas as pd


def synthetic_employers(n: int, n_sites: int, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Synthetic employers and sites.

    Parameters
    ----------
    n : int
        Employers.
    n_sites : int
        CECI sites.
    seed : int
        Random seed.
    """
    from ceci_impact.confidentiality import grid_index

    rng = np.random.default_rng(seed)
    slat, slon = rng.uniform(15, 31, n_sites), rng.uniform(-115, -88, n_sites)
    home = rng.integers(0, n_sites, n)
    lat = slat[home] + rng.normal(0, 0.08, n)
    lon = slon[home] + rng.normal(0, 0.08, n)
    jobs = np.ceil(rng.lognormal(2, 1.3, n))
    women = np.floor(jobs * rng.uniform(0, 0.7, n))
    e = pd.DataFrame({"employer_id": np.arange(n), "lat": lat, "lon": lon, "cvegeo": [f"{h % 32 + 1:02d}{h:03d}"
                      for h in home], "jobs": jobs, "women": women, "eligible": np.floor(jobs * 0.1),
                      "eligible_parents": rng.poisson(jobs * 0.08).astype(float)})
    e["pole"] = np.where(home % 10 == 0, "pole " + (home // 10).astype(str), "")
    e["state"] = e.cvegeo.str[:2]
    e["gx"], e["gy"] = grid_index(e.lat, e.lon)
    sites = pd.DataFrame({"site_id": [f"S{i:04d}" for i in range(n_sites)], "lat": slat, "lon": slon,
                          "opening_period": rng.integers(0, 40, n_sites)})
    return e, sites


def main() -> None:
    from ceci_impact.data.areas import _protect

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--employers", type=int, default=200_000)
    ap.add_argument("--sites", type=int, default=700)
    ap.add_argument("--radius-km", type=float, default=5.0)
    a = ap.parse_args()
    e, sites = synthetic_employers(a.employers, a.sites)
    t0 = time.perf_counter()
    areas, _ = _protect(e, sites, a.radius_km, 10.0)
    dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"employers={a.employers:,} sites={a.sites} areas={len(areas):,} protect_s={dt:.1f} peak_rss_GiB={peak:.2f}")
    print(areas.groupby(["family", "status"]).size().unstack(fill_value=0).to_string())


if __name__ == "__main__":
    main()
