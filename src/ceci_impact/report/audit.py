"""``ceci-impact disclosure-audit REPORTS_DIR``: the known attacks on a finished render.

The audit plays the intruder of Hundepool et al. (2012, *Statistical Disclosure Control*, ch. 4-5) with the
confidential employer file in hand, and reports every employer-level value or position it can get back from what the
render publishes (HTML pages in every language, their embedded SVG figures and CSV downloads, the sidecars in
``results/`` and the executed notebooks):

(a) **coordinate recovery from figures.** Every SVG is parsed; each axes' data coordinates are recovered from its tick
    marks and numeric tick labels (a linear map per axis), every marker position and path vertex is mapped back to
    data coordinates and compared with the employers' (longitude, latitude). A figure with a point within a hundredth
    of a pixel of an employer is a finding. Tables (CSV downloads, sidecar tables) are searched for a pair of numeric
    columns that reproduces employer coordinates.
(b) **value decoding from marker encodings.** Among markers found at employer positions, a size or colour that
    varies between markers encodes one employer's value: a finding, with the employer value it decodes best (rank
    correlation of marker area with jobs, women, eligible workers, eligible parents).
(c) **differencing of nested and overlapping areas.** The employer aggregates the pages publish (the
    ``disclosure_areas`` of each sidecar, and the surroundings sentence of the site pages read from the HTML of
    either language) are rebuilt from the confidential file; every published area must have at least ``MIN_CELL``
    employers and not be (n,k)-dominated, every pair of overlapping published areas must differ by at least
    ``MIN_CELL`` employers and not by a dominated set, and a published total minus the published squares inside it
    must not be disclosive (:mod:`ceci_impact.confidentiality`).

Each finding is one line; the audit fails when there is any.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .._options import CeciError
from ..confidentiality import DOMINANCE_K, DOMINANCE_N, MIN_CELL, grid_index, primary_sensitive, risky_pairs
from ..data.areas import VALUE_COLS, employer_frame, pairs_within_km


@dataclass(frozen=True)
class Finding:
    """One recoverable item: the attack, the page (file) and what it gives back.

    Parameters
    ----------
    attack : str
        Name of the attack that recovered the item.
    page : str
        The published page (file) it was recovered from.
    detail : str
        What the page gives back.
    """

    attack: str
    page: str
    detail: str

    def line(self) -> str:
        """The finding as one printed line."""
        return f"DISCLOSURE {self.attack}: {self.page}: {self.detail}"


# ----------------------------------------------------------------------------------------- published material


def _pages(reports: Path) -> list[Path]:
    return sorted(p for p in reports.rglob("*") if p.is_file() and p.suffix in (".html", ".svg", ".ipynb", ".json",
                                                                              ".csv") and ".previous" not in p.parts)


def _svgs_and_csvs(path: Path) -> tuple[list[str], list[str]]:
    """SVG documents and CSV texts published by one file (data URIs, inline SVG, notebook outputs)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".svg":
        return [text], []
    if path.suffix == ".csv":
        return [], [text]
    svgs, csvs = [], []
    if path.suffix == ".ipynb":
        try:
            nb = json.loads(text)
        except json.JSONDecodeError:
            return [], []
        chunks = []
        for c in nb.get("cells", []):
            for o in c.get("outputs", []):
                for mime, v in o.get("data", {}).items():
                    v = "".join(v) if isinstance(v, list) else str(v)
                    if mime == "image/svg+xml":
                        svgs.append(v)
                    elif mime == "text/html":
                        chunks.append(v)
        text = "\n".join(chunks)
    for m in re.finditer(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)", text):
        svgs.append(base64.b64decode(m.group(1)).decode("utf-8", "replace"))
    for m in re.finditer(r"data:image/svg\+xml(?:;charset=[\w-]+)?,([^'\"]+)", text):
        from urllib.parse import unquote

        svgs.append(unquote(m.group(1)))
    svgs += re.findall(r"<svg[\s\S]*?</svg>", text)
    for m in re.finditer(r"data:text/csv;charset=utf-8;base64,([A-Za-z0-9+/=]+)", text):
        csvs.append(base64.b64decode(m.group(1)).decode("utf-8", "replace"))
    return svgs, csvs


# ----------------------------------------------------------------------------------------- (a, b) figures


_NUM = re.compile(r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?")


def _tick_value(text: str) -> float | None:
    t = text.replace("\u2212", "-").replace(",", "").strip().rstrip("°").strip()
    try:
        return float(t)
    except ValueError:
        return None


def _axis_map(axes, ns: str, axis: str) -> tuple[float, float] | None:
    """Linear map svg = a * data + b of one axis from its ticks (position of the tick mark, numeric label)."""
    import xml.etree.ElementTree as ET

    pos, val = [], []
    for g in axes.iter(f"{ns}g"):
        if not re.fullmatch(f"{axis}tick_\\d+", g.get("id", "")):
            continue
        use = next((u for u in g.iter(f"{ns}use")), None)
        txt = "".join("".join(t.itertext()) for t in g.iter(f"{ns}text"))
        if not txt.strip():  # text drawn as glyph paths (svg.fonttype "path"): matplotlib keeps it as a comment
            txt = next((c.text for c in g.iter() if c.tag is ET.Comment and c.text and c.text.strip()), "")
        v = _tick_value(txt)
        if use is None or v is None:
            continue
        pos.append(float(use.get("x" if axis == "x" else "y", "nan")))
        val.append(v)
    if len(set(val)) < 2:
        return None
    a, b = np.polyfit(val, pos, 1)
    return (a, b) if a != 0 else None


def _path_nums(d: str) -> tuple[list[float], list[float]]:
    nums = [float(x) for x in _NUM.findall(re.sub(r"[A-Za-z]", " ", d))]
    return nums[0::2], nums[1::2]


def _points(root, axes, ns: str) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """Markers of one axes in svg units: position (a ``use`` element's anchor, or a drawn path's bounding-box
    centre), area (of the marker's shape) and style; and every path vertex (outside ``defs`` and ticks)."""
    shape = {}
    for p in root.iter(f"{ns}path"):
        if p.get("id"):
            xs, ys = _path_nums(p.get("d", ""))
            shape["#" + p.get("id")] = (max(xs) - min(xs)) * (max(ys) - min(ys)) if xs and ys else 0.0
    pos, area, style, verts = [], [], [], []
    skip = {id(u) for g in axes.iter(f"{ns}g") if re.fullmatch(r"[xy]tick_\d+", g.get("id", "")) for u in g.iter()}
    skip |= {id(u) for d in axes.iter(f"{ns}defs") for u in d.iter()}
    for el in axes.iter():
        if id(el) in skip:
            continue
        if el.tag == f"{ns}use" and el.get("x") is not None:
            href = el.get("{http://www.w3.org/1999/xlink}href") or el.get("href") or ""
            pos.append((float(el.get("x")), float(el.get("y", 0))))
            area.append(shape.get(href, np.nan))
            style.append(href + "|" + el.get("style", ""))
        elif el.tag == f"{ns}path" and el.get("d") and not el.get("transform"):
            xs, ys = _path_nums(el.get("d"))
            if not xs or len(xs) != len(ys):
                continue
            verts.extend(zip(xs, ys, strict=True))
            pos.append(((max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2))
            area.append((max(xs) - min(xs)) * (max(ys) - min(ys)))
            style.append(el.get("style", ""))
    return (np.asarray(pos, float).reshape(-1, 2), np.asarray(area, float), style,
            np.asarray(verts, float).reshape(-1, 2))


def _on_grid(xy: np.ndarray, tol: float) -> np.ndarray:
    """Whether each ``(lon, lat)`` lies within ``tol`` of a corner or the centre of its square of the fixed map
    grid (public geometry drawn by every grid map: a chance coincidence with an employer reveals nothing).

    Parameters
    ----------
    xy : numpy.ndarray
        Points (longitude, latitude).
    tol : float
        Tolerance in degrees.
    """
    from ..confidentiality import grid_corners, grid_index

    ix, iy = grid_index(xy[:, 1], xy[:, 0])
    x0, x1, y0, y1 = grid_corners(ix, iy)
    cand = [(x0, y0), (x0, y1), (x1, y0), (x1, y1), ((x0 + x1) / 2, (y0 + y1) / 2)]
    return np.any([np.hypot(xy[:, 0] - cx, xy[:, 1] - cy) <= tol for cx, cy in cand], axis=0)


def _trees(emp: pd.DataFrame, sites: pd.DataFrame) -> tuple:
    """k-d trees of the employers' and the sites' positions (the site tree None without sites)."""
    from scipy.spatial import cKDTree

    return (cKDTree(emp[["lon", "lat"]].to_numpy(float)),
            cKDTree(sites[["lon", "lat"]].to_numpy(float)) if len(sites) else None)


def audit_svg(svg: str, page: str, emp: pd.DataFrame, sites: pd.DataFrame, trees: tuple | None = None) -> list[Finding]:
    """Attacks (a) and (b) on one SVG figure.

    Parameters
    ----------
    svg : str
        The SVG document.
    page : str
        Where it was published (for the finding's line).
    emp : pandas.DataFrame
        Confidential employers (``lon``, ``lat`` and value columns).
    sites : pandas.DataFrame
        CECI sites (public positions, never a finding).
    trees : tuple, optional
        The positions' k-d trees of ``emp`` and ``sites`` (:func:`_trees`), built once per audit; built here when
        None.
    """
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(svg, parser=ET.XMLParser(target=ET.TreeBuilder(insert_comments=True)))
    except ET.ParseError:
        return [Finding("figure", page, "an SVG figure that cannot be parsed (not audited)")]
    ns = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    out = []
    tree, site_tree = trees or _trees(emp, sites)
    axes_groups = [g for g in root.iter(f"{ns}g") if re.fullmatch(r"axes_\d+", g.get("id", ""))]
    for ax in axes_groups:
        mx, my = _axis_map(ax, ns, "x"), _axis_map(ax, ns, "y")
        if mx is None or my is None:
            continue
        marks, area, styles, verts = _points(root, ax, ns)
        pts = np.r_[marks, verts]
        if not len(pts):
            continue
        data = np.c_[(pts[:, 0] - mx[1]) / mx[0], (pts[:, 1] - my[1]) / my[0]]
        tol = 0.01 * max(abs(1 / mx[0]), abs(1 / my[0]))  # a hundredth of a pixel, in data units
        d, idx = tree.query(data, distance_upper_bound=tol)
        hit = np.isfinite(d)
        if site_tree is not None and hit.any():
            ds, _ = site_tree.query(data[hit], distance_upper_bound=tol)
            hit[np.flatnonzero(hit)[np.isfinite(ds)]] = False
        if hit.any():  # the fixed grid's corners and centres are public geometry, not an employer's position
            hit[np.flatnonzero(hit)[_on_grid(data[hit], tol)]] = False
        n_emp = len(set(idx[hit]))
        if n_emp == 0:
            continue
        out.append(Finding("coordinates", page, f"{ax.get('id')}: {n_emp} employer position(s) drawn exactly "
                           f"(of {len(emp)} employers; {int(hit.sum())} matching points)"))
        m = hit[: len(marks)]
        varies = len({styles[i] for i in np.flatnonzero(m)}) > 1 or np.unique(np.round(area[m], 3)).size > 1
        if m.sum() >= 2 and varies:
            e = emp.iloc[idx[: len(marks)][m]]
            rho = {c: abs(pd.Series(area[m]).corr(pd.Series(e[c].to_numpy()), method="spearman"))
                   for c in VALUE_COLS if c in e and e[c].nunique() > 1}
            best = max(rho, key=lambda c: np.nan_to_num(rho[c]), default=None)
            what = f"; marker area ranks {best} with rank correlation {rho[best]:.2f}" if best else ""
            out.append(Finding("encoding", page, f"{ax.get('id')}: marker size or colour varies across {int(m.sum())} "
                               f"markers at employer positions: each encodes one employer's value{what}"))
    return out


def audit_table(csv: str, page: str, emp: pd.DataFrame, sites: pd.DataFrame, trees: tuple | None = None) -> list[Finding]:
    """Coordinate recovery from a published table: a pair of numeric columns that reproduces employer positions.

    Parameters
    ----------
    csv : str or pandas.DataFrame
        The table (CSV text or frame).
    page : str
        Where it was published.
    emp : pandas.DataFrame
        Confidential employers.
    sites : pandas.DataFrame
        CECI sites (public positions).
    trees : tuple, optional
        The positions' k-d trees (:func:`_trees`), built once per audit; built here when None.
    """
    import io

    try:
        t = csv if isinstance(csv, pd.DataFrame) else pd.read_csv(io.StringIO(csv))
    except Exception:  # noqa: BLE001 - a table pandas cannot read is not audited here
        return []
    num = t.apply(pd.to_numeric, errors="coerce")
    cols = [c for c in num if num[c].notna().any()]
    tree = (trees or _trees(emp, sites))[0]
    site_xy = {(round(a, 5), round(b, 5)) for a, b in sites[["lon", "lat"]].to_numpy(float)}
    vals = {c: num[c].to_numpy(dtype=float, na_value=np.nan) for c in cols}  # missing values as NaN, dropped below
    for x in cols:
        for y in cols:
            if x == y:
                continue
            both = ~(np.isnan(vals[x]) | np.isnan(vals[y]))
            if not both.any():
                continue
            xy = np.column_stack([vals[x][both], vals[y][both]])
            d, idx = tree.query(xy, distance_upper_bound=1e-4)
            ok = np.isfinite(d)
            ok[ok] = [(round(a, 5), round(b, 5)) not in site_xy for a, b in xy[ok]]
            if ok.any():
                return [Finding("coordinates", page, f"table columns {x!r}, {y!r} give {len(set(idx[ok]))} employer "
                                "position(s)")]
    return []


def _sidecar_tables(obj) -> list[pd.DataFrame]:
    """Tables inside a sidecar: dicts of equal-length lists and lists of records."""
    out = []
    if isinstance(obj, dict):
        lists = {k: v for k, v in obj.items() if isinstance(v, list) and v and not isinstance(v[0], (dict, list))}
        if len(lists) >= 2 and len({len(v) for v in lists.values()}) == 1:
            out.append(pd.DataFrame(lists))
        for v in obj.values():
            out += _sidecar_tables(v)
    elif isinstance(obj, list):
        if obj and all(isinstance(r, dict) for r in obj):
            out.append(pd.DataFrame(obj))
        for v in obj:
            if isinstance(v, (dict, list)):
                out += _sidecar_tables(v)
    return out


# ----------------------------------------------------------------------------------------- (c) differencing


def _near_regex(lang: str) -> re.Pattern:
    """The site pages' surroundings sentence of one language as a pattern capturing the published numbers."""
    from ..i18n import messages

    t = re.escape(messages(lang)["site.near"])
    for name in ("n", "jobs", "women", "eligible", "km"):
        t = t.replace(re.escape("{" + name + "}"), f"(?P<{name}>[0-9][0-9,.]*)")
    return re.compile(t)


def published_areas(reports: Path) -> pd.DataFrame:
    """Every employer aggregate the render publishes for an area: sidecar ``disclosure_areas`` records, and the
    surroundings sentence of site pages read from their HTML (so a page that publishes without a record is audited
    too). One row per (page, area).

    Parameters
    ----------
    reports : Path
        The render's folder.
    """
    rows = []
    pats = {}
    for side in sorted((reports / "results").glob("*.json")):
        try:
            s = json.loads(side.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if not isinstance(s, dict) or s.get("status") != "ok":
            continue
        res = s.get("results") or {}
        for r in res.get("disclosure_areas", []) if isinstance(res, dict) else []:
            if isinstance(r, dict) and r.get("status") == "published" and "employers" in r:
                rows.append({**r, "page": side.name})
        params = s.get("parameters", {})
        for lang, rel in (s.get("editions") or {}).items():
            page = reports / rel
            if not page.exists() or not params.get("site_id"):
                continue
            pats.setdefault(lang, None)
            try:
                pats[lang] = pats[lang] or _near_regex(lang)
            except KeyError:
                continue
            text = re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8", errors="replace"))
            m = pats[lang].search(text)
            if m:
                g = {k: float(v.replace(",", "")) for k, v in m.groupdict().items()}
                rows.append({"family": "site", "key": str(params["site_id"]), "radius_km": g["km"],
                             "employers": g["n"], "jobs": g["jobs"], "women": g["women"], "eligible": g["eligible"],
                             "page": str(page.relative_to(reports)), "status": "published"})
    for page in sorted(reports.glob("*/*.html")):
        rows += _table_areas(page, reports)
    return pd.DataFrame(rows)


def _table_areas(page: Path, reports: Path) -> list[dict]:
    """Pole and state aggregates published as tables (their CSV downloads): a first column ``pole`` or ``state``
    and an ``employers`` column."""
    import io

    out = []
    for csv in _svgs_and_csvs(page)[1]:
        try:
            t = pd.read_csv(io.StringIO(csv), dtype=str, keep_default_na=False)
        except Exception:  # noqa: BLE001 - a table pandas cannot read is not an area table
            continue
        if t.empty or t.columns[0] not in ("pole", "state") or "employers" not in t:
            continue
        v = {c: pd.to_numeric(t[c], errors="coerce") for c in ("employers", *VALUE_COLS) if c in t}
        for i in np.flatnonzero(v["employers"].notna().to_numpy()):
            out.append({"family": t.columns[0], "key": t.iloc[i, 0], "status": "published",
                        "page": str(page.relative_to(reports)), **{c: float(x.iloc[i]) for c, x in v.items()}})
    return out


def _members(pub: pd.DataFrame, emp: pd.DataFrame, sites: pd.DataFrame):
    """Sparse membership (published areas x employers) rebuilt from the confidential file."""
    import scipy.sparse as sp

    sidx = sites.assign(site_id=sites.site_id.astype(str)).drop_duplicates("site_id").set_index("site_id")
    groups = {f: emp.groupby(emp[f].astype(str)).indices for f in ("state", "pole")}
    grids: dict[float, dict] = {}
    none = np.zeros(0, np.int64)
    rows, cols = [], []
    for i, r in enumerate(pub.itertuples(index=False)):
        fam, key = r.family, str(r.key)
        if fam == "all":
            j = np.arange(len(emp))
        elif fam in ("state", "pole"):
            j = groups[fam].get(key, none)
        elif fam == "site" and key in sidx.index:
            s = sidx.loc[key]
            j = pairs_within_km(np.array([s.lat]), np.array([s.lon]), emp.lat.to_numpy(float), emp.lon.to_numpy(float),
                                float(r.radius_km))[1]
        elif fam in ("cell", "pole_cell"):
            g = float(getattr(r, "grid_km", np.nan))
            if g not in grids:
                gx, gy = grid_index(emp.lat, emp.lon, g)
                cell = pd.Series(gx).astype(str) + ":" + pd.Series(gy).astype(str)
                grids[g] = {"cell": cell.groupby(cell).indices,
                            "pole_cell": (emp.pole.reset_index(drop=True) + "|" + cell).groupby(
                                emp.pole.reset_index(drop=True) + "|" + cell).indices}
            j = grids[g][fam].get(key, none)
        else:
            continue
        rows.append(np.full(len(j), i))
        cols.append(np.asarray(j, np.int64))
    r = np.concatenate(rows) if rows else np.zeros(0, int)
    c = np.concatenate(cols) if cols else np.zeros(0, int)
    return sp.csr_matrix((np.ones(r.size, np.int32), (r, c)), shape=(len(pub), len(emp)))


def _label(r) -> str:
    extra = f" ({r.radius_km:g} km)" if r.family == "site" and pd.notna(r.radius_km) else ""
    return f"{r.family} {r.key}{extra}"


def audit_differencing(pub: pd.DataFrame, emp: pd.DataFrame, sites: pd.DataFrame) -> list[Finding]:
    """Attack (c): primary rules of each published area, differences of every overlapping pair, and totals minus
    the published squares inside them.

    Parameters
    ----------
    pub : pandas.DataFrame
        Published areas (:func:`published_areas`).
    emp : pandas.DataFrame
        Confidential employers.
    sites : pandas.DataFrame
        CECI sites.
    """
    if pub.empty:
        return []
    for c in ("radius_km", "grid_km"):
        pub[c] = pub[c] if c in pub else np.nan
    pub = pub.drop_duplicates(["family", "key", "radius_km", "grid_km"]).reset_index(drop=True)
    M = _members(pub, emp, sites)
    V = emp[list(VALUE_COLS)].to_numpy(float)
    out = []
    prim = primary_sensitive(M, V)
    cnt = np.asarray(M.sum(axis=1)).ravel()
    for i in np.flatnonzero(prim):
        r = pub.iloc[i]
        why = f"{cnt[i]} employer(s)" if cnt[i] < MIN_CELL else (f"dominated: {DOMINANCE_N} employers make more than "
                                                                   f"{DOMINANCE_K:g} % of a value")
        out.append(Finding("primary", str(r.page), f"{_label(r)} published with {why}"))
    pairs = risky_pairs(M, V)
    for a, b, dlt in pairs.itertuples(index=False):
        ra, rb = pub.iloc[a], pub.iloc[b]
        diff = ", ".join(f"{c} {abs(float(ra[c]) - float(rb[c])):g}" for c in ("employers", *VALUE_COLS)
                         if c in pub and pd.notna(ra[c]) and pd.notna(rb[c]))
        why = f"differ by {dlt} employer(s)" if dlt < MIN_CELL else "differ by a dominated set of employers"
        out.append(Finding("differencing", f"{ra.page} - {rb.page}",
                           f"{_label(ra)} minus {_label(rb)}: the areas {why}; the published difference gives "
                           f"them back ({diff})"))
    import scipy.sparse as sp

    grid = np.flatnonzero(pub.family.isin(["cell", "pole_cell"]).to_numpy())
    parents = np.flatnonzero(~pub.family.isin(["cell", "pole_cell"]).to_numpy())
    if grid.size and parents.size:
        Cn = sp.coo_matrix(M[parents] @ M[grid].T)
        full = (Cn.data == cnt[grid][Cn.col]) & (cnt[grid][Cn.col] > 0)  # squares wholly inside the parent
        for a, ch in pd.Series(grid[Cn.col[full]]).groupby(Cn.row[full]).agg(list).items():
            p, ch = parents[a], np.asarray(ch)
            shown = np.asarray(M[ch].sum(axis=0)).ravel() > 0
            rest = M[p].multiply(~shown[None, :]).tocsr()
            if rest.nnz and primary_sensitive(rest, V)[0]:
                r = pub.iloc[p]
                out.append(Finding("differencing", str(r.page), f"{_label(r)} minus the {ch.size} published squares "
                                   f"inside it leaves {rest.nnz} employer(s) that the rules would suppress"))
    return out


# ----------------------------------------------------------------------------------------- driver


def _processed_from(reports: Path, notebooks: Path | None) -> Path:
    base = notebooks or Path("notebooks")
    for side in sorted((reports / "results").glob("*.json")):
        try:
            p = json.loads(side.read_text()).get("parameters", {}).get("processed")
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            continue
        if p and (base / p / "employer_month.parquet").exists():
            return (base / p).resolve()
    return Path("data/processed")


def disclosure_audit(reports: str | Path, processed: str | Path | None = None, notebooks: str | Path | None = None,
                     quiet: bool = False) -> list[Finding]:
    """Run the attacks (a), (b), (c) on a finished render; print one line per finding; return the findings.

    Parameters
    ----------
    reports : str or Path
        The render's folder.
    processed : str or Path, optional
        The confidential panels the render was made from (default: the ``processed`` parameter of the sidecars,
        relative to ``notebooks``, else ``data/processed``).
    notebooks : str or Path, optional
        Folder the notebooks ran in (resolves the sidecars' ``processed``).
    quiet : bool
        Do not print.
    """
    reports = Path(reports)
    if not reports.is_dir():
        raise CeciError(f"{reports}: reports folder not found (expected the output folder of `ceci-impact render`)")
    processed = Path(processed) if processed else _processed_from(reports, Path(notebooks) if notebooks else None)
    if not (processed / "employer_month.parquet").exists():
        if not quiet:
            print(f"disclosure-audit: {processed} holds no employer panel: no confidential employer data to protect")
        return []
    emp = employer_frame(processed)
    sites = pd.read_parquet(processed / "sites.parquet")
    trees = _trees(emp, sites)  # once per audit, not once per figure
    seen: dict[tuple[str, bytes], list[tuple[str, str]]] = {}  # a figure or CSV published again (the executed
    found: list[Finding] = []  # notebook and an edition) is audited once; its findings are reported on every page

    def once(kind: str, text: str, rel: str, audit) -> list[Finding]:
        key = (kind, hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest())
        if key not in seen:
            seen[key] = [(x.attack, x.detail) for x in audit(text, rel, emp, sites, trees)]
        return [Finding(a, rel, d) for a, d in seen[key]]

    for f in _pages(reports):
        rel = str(f.relative_to(reports))
        if f.suffix == ".json":
            try:
                tables = _sidecar_tables(json.loads(f.read_text()))
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            for t in tables:
                found += audit_table(t, rel, emp, sites, trees)[:1]
            continue
        svgs, csvs = _svgs_and_csvs(f)
        for s in svgs:
            found += once("svg", s, rel, audit_svg)
        for c in csvs:
            found += once("csv", c, rel, audit_table)
    found += audit_differencing(published_areas(reports), emp, sites)
    if not quiet:
        for x in found:
            print(x.line())
        print(f"disclosure-audit: {len(found)} finding(s) in {reports}" if found else
              f"disclosure-audit: {reports}: nothing recoverable (figures, tables, sidecars, differences of "
              f"{len(published_areas(reports))} published area aggregates checked)")
    return found
