"""Rebuild ``src/ceci_impact/reference_data/geo/mexico_states.json`` (state outlines in longitude/latitude).

Source: the npm package ``@svg-maps/mexico`` 2.0.0 (CC BY 4.0, based on MapSVG's map of Mexico): the 32 states as
SVG paths in an unprojected (equirectangular) drawing without geographic coordinates. The drawing is placed on the
globe by the affine map ``lon = a + b x``, ``lat = c + d y`` whose four numbers maximise the share of municipal
centroids (INEGI municipalities, ``municip_centroids.csv`` of jairgs/Mexico-GeoJSON @ 0f0e41b) that fall inside
their own state's outline, starting from the least-squares fit of the states' centres. Coordinates are rounded to
0.01 degree (about 1 km): outlines for orientation, not official boundaries.

Usage (needs npm and the two inputs)::

    npm pack @svg-maps/mexico@2.0.0 && tar xzf svg-maps-mexico-2.0.0.tgz
    python tools/build_state_outlines.py package/index.js MUNICIPAL_CENTROIDS.csv ESTADOS.csv OUT.json
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata

import numpy as np
import pandas as pd
from matplotlib.path import Path as MPath
from scipy import optimize


def parse(path: str) -> list[np.ndarray]:
    """The rings of an SVG path made of M/m, L/l, H/h, V/v and Z/z commands."""
    toks = re.findall(r"[MmLlHhVvZz]|-?[\d.]+(?:e-?\d+)?", path)
    rings, cur, x, y, cmd, i, start = [], [], 0.0, 0.0, "M", 0, (0.0, 0.0)
    while i < len(toks):
        t = toks[i]
        if t.isalpha():
            cmd, i = t, i + 1
            if cmd in "Zz":
                if cur:
                    rings.append(cur)
                cur, (x, y) = [], start
            continue
        if cmd in "Mm":
            dx, dy = float(toks[i]), float(toks[i + 1])
            i += 2
            x, y = (x + dx, y + dy) if cmd == "m" else (dx, dy)
            if cur:
                rings.append(cur)
            cur, start = [(x, y)], (x, y)
            cmd = "l" if cmd == "m" else "L"
        elif cmd in "Ll":
            dx, dy = float(toks[i]), float(toks[i + 1])
            i += 2
            x, y = (x + dx, y + dy) if cmd == "l" else (dx, dy)
            cur.append((x, y))
        elif cmd in "Hh":
            v = float(toks[i])
            i += 1
            x = x + v if cmd == "h" else v
            cur.append((x, y))
        elif cmd in "Vv":
            v = float(toks[i])
            i += 1
            y = y + v if cmd == "v" else v
            cur.append((x, y))
    if cur:
        rings.append(cur)
    return [np.array(r) for r in rings if len(r) >= 3]


def _norm(s: str) -> str:
    return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode().lower().replace(".", "").strip()


def main(index_js: str, centroids_csv: str, estados_csv: str, out: str) -> None:
    d = json.loads(open(index_js, encoding="utf-8").read().replace("export default ", "").rstrip().rstrip(";"))
    ents = pd.read_csv(estados_csv, dtype=str)
    codes = {_norm(n): c for n, c in zip(ents.nombre_estado, ents.cve_ent, strict=True)}
    codes.update({"mexico": "15", "ciudad de mexico": "09", "mexico city": "09"})
    states = {}
    for loc in d["locations"]:
        n = _norm(loc["name"])
        code = codes.get(n) or next(c for k, c in codes.items() if k.startswith(n) or n.startswith(k))
        states[code] = (loc["name"], parse(loc["path"]))
    mun = pd.read_csv(centroids_csv, dtype={"CVE_ENT": str})

    def share(p):
        a, b, c, dd = p
        ok = 0
        for code, (_, rings) in states.items():
            m = mun[mun.CVE_ENT == code]
            xy = np.c_[(m.long.to_numpy() - a) / b, (m.lat.to_numpy() - c) / dd]
            inside = np.zeros(len(m), bool)
            for r in rings:
                inside ^= MPath(r).contains_points(xy)
            ok += inside.sum()
        return ok / len(mun)

    cen = mun.groupby("CVE_ENT")[["long", "lat"]].median()
    sx = np.array([np.concatenate(r)[:, 0].mean() for _, r in states.values()])
    sy = np.array([np.concatenate(r)[:, 1].mean() for _, r in states.values()])
    lon = cen.reindex(list(states)).long.to_numpy()
    lat = cen.reindex(list(states)).lat.to_numpy()
    bl = np.polyfit(sx, lon, 1)[::-1]
    bt = np.polyfit(sy, lat, 1)[::-1]
    p0 = np.array([bl[0], bl[1], bt[0], bt[1]])
    simplex = [p0] + [p0 + np.eye(4)[k] * s for k, s in enumerate((0.3, 0.001, 0.3, 0.001))]
    res = optimize.minimize(lambda p: -share(p), p0, method="Nelder-Mead",
                            options={"xatol": 1e-5, "fatol": 1e-5, "maxiter": 600, "initial_simplex": simplex})
    a, b, c, dd = res.x
    geo = {"source": "@svg-maps/mexico 2.0.0 (CC BY 4.0; based on MapSVG), placed by tools/build_state_outlines.py",
           "transform": {"lon": [a, b], "lat": [c, dd]},
           "municipal_centroids_inside": round(float(-res.fun), 4),
           "states": {code: {"name": name, "rings": [np.round(np.c_[a + b * r[:, 0], c + dd * r[:, 1]], 2).tolist()
                                                     for r in rings]}
                      for code, (name, rings) in sorted(states.items())}}
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(geo, fh, ensure_ascii=False, separators=(",", ":"))
    print(f"{out}: {len(states)} states; {100 * geo['municipal_centroids_inside']:.1f} % of municipal centroids "
          "inside their state")


if __name__ == "__main__":
    main(*sys.argv[1:5])
