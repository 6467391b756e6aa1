"""Disclosure control of published reports: dominance, differencing of nested areas, maps, and the audit's attacks."""

from __future__ import annotations

import base64
import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from ceci_impact import confidentiality as C
from ceci_impact.data.areas import VALUE_COLS, disclosure_areas
from ceci_impact.report import audit


def _matrix(sets: list[list[int]], n: int):
    r = np.concatenate([np.full(len(s), i) for i, s in enumerate(sets)])
    c = np.concatenate([np.asarray(s, int) for s in sets])
    return sp.csr_matrix((np.ones(r.size), (r, c)), shape=(len(sets), n))


def test_dominance_minimum_and_nested_difference_on_a_hand_built_table():
    vals = np.ones((12, 1)) * 10
    vals[11] = 1000  # one giant employer
    sets = [list(range(6)), list(range(7)), list(range(3)), [*range(5), 11], list(range(11))]
    M = _matrix(sets, 12)
    prim = C.primary_sensitive(M, vals)
    assert prim.tolist() == [False, False, True, True, False]  # 3 employers; a giant making 95 %
    pairs = C.risky_pairs(M, vals)
    assert {(a, b) for a, b in zip(pairs.i, pairs.j, strict=True)} >= {(0, 1)}  # {0..6} - {0..5} = one employer
    st = C.consistent_suppression(M, vals)
    assert st.status.tolist() == ["published", "differencing", "primary", "primary", "published"]
    assert st.conflict.iloc[1] == 0
    # a total with one published child whose remainder is a single employer: that child is withheld
    tot = _matrix([list(range(7)), list(range(6))], 12)
    out = C.protect_remainder(tot, 0, np.array([1]), np.array([True, True]), vals)
    assert out.tolist() == [True, False]


def test_differencing_attack_on_nested_site_areas_recovers_nothing(small_world):
    """The attack of issue 28: subtract two site pages whose areas differ by one or two employers."""
    U = disclosure_areas(small_world / "processed", radius_km=5.0)
    a = U.areas
    site = np.flatnonzero((a.family == "site").to_numpy())
    M = U.members[site]
    V = U.employers[list(VALUE_COLS)].to_numpy(float)
    raw = C.risky_pairs(M, V)
    assert len(raw) > 0, "the world must hold nested sites the attack would work on, or the test proves nothing"
    s = a.iloc[site].reset_index(drop=True)
    both = (s.status.to_numpy()[raw.i] == "published") & (s.status.to_numpy()[raw.j] == "published")
    assert not both.any()
    # every published pair of areas of the render (all families), differenced: nothing isolates < MIN or a dominated set
    pub = np.flatnonzero((a.status == "published").to_numpy() & (a.employers > 0).to_numpy())
    assert len(C.risky_pairs(U.members[pub], V)) == 0
    assert not C.primary_sensitive(U.members[pub], V).any()
    # the same through the audit, from the records pages write into their sidecars
    rec = pd.DataFrame([{**r, "page": "p"} for f in ("all", "state", "pole", "site", "cell", "pole_cell")
                        for r in U.record(f) if r["status"] == "published"])
    emp = U.employers
    sites = pd.read_parquet(small_world / "processed" / "sites.parquet")
    assert audit.audit_differencing(rec, emp, sites) == []
    # without the protection the audit sees the leak: publish the raw pair
    i, j = int(raw.i.iloc[0]), int(raw.j.iloc[0])
    leak = pd.DataFrame([{"family": "site", "key": s.key.iloc[k], "radius_km": 5.0, "employers": s.employers.iloc[k],
                          **{c: s[c].iloc[k] for c in VALUE_COLS}, "page": f"page{k}"} for k in (i, j)])
    found = audit.audit_differencing(leak, emp, sites)
    assert any(f.attack == "differencing" for f in found)


def _svg_page(fig) -> str:
    import io

    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    data = base64.b64encode(buf.getvalue().encode()).decode()
    return f"<html><body><img src='data:image/svg+xml;base64,{data}'></body></html>"


def test_audit_catches_a_leaky_figure_and_a_leaky_pair_of_pages(small_world, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ceci_impact.data.areas import draw_cells

    proc = small_world / "processed"
    U = disclosure_areas(proc, radius_km=5.0)
    emp = U.employers
    sites = pd.read_parquet(proc / "sites.parquet")
    reports = tmp_path / "reports"
    for d in ("en", "results"):
        (reports / d).mkdir(parents=True)
    # a point map of employers whose marker area encodes eligible parents (the needs maps of issue 28)
    e = emp[emp.pole == emp.pole[emp.pole != ""].iloc[0]]
    fig, ax = plt.subplots()
    ax.scatter(e.lon, e.lat, s=4 + 2 * np.sqrt(e.eligible_parents))
    ax.scatter(sites.lon, sites.lat, marker="^")
    (reports / "en" / "leaky.html").write_text(_svg_page(fig))
    plt.close(fig)
    # a safe map: published squares of the grid and the sites (public)
    fig, ax = plt.subplots()
    c = U.published("cell")
    draw_cells(ax, c.key[c.employers > 0], c.employers[c.employers > 0])
    ax.scatter(sites.lon, sites.lat, marker="^")
    (reports / "en" / "safe.html").write_text(_svg_page(fig))
    plt.close(fig)
    # two site pages of nested areas that differ by fewer than MIN_CELL employers
    s = U.areas[U.areas.family == "site"].reset_index(drop=True)
    raw = C.risky_pairs(U.members[np.flatnonzero((U.areas.family == "site").to_numpy())],
                        emp[list(VALUE_COLS)].to_numpy(float))
    for k in (int(raw.i.iloc[0]), int(raw.j.iloc[0])):
        rec = {"family": "site", "key": s.key[k], "radius_km": 5.0, "status": "published",
               "employers": int(s.employers[k]), **{v: float(s[v][k]) for v in VALUE_COLS}}
        side = {"status": "ok", "parameters": {}, "results": {"disclosure_areas": [rec]}}
        (reports / "results" / f"40_site_{s.key[k]}.json").write_text(json.dumps(side))
    found = audit.disclosure_audit(reports, proc, quiet=True)
    kinds = {(f.attack, f.page.split(" ")[0]) for f in found}
    assert ("coordinates", "en/leaky.html") in kinds
    assert ("encoding", "en/leaky.html") in kinds
    assert any(f.attack == "differencing" for f in found)
    assert not any("safe.html" in f.page for f in found)
    enc = next(f for f in found if f.attack == "encoding")
    assert "eligible_parents" in enc.detail
    n = next(f for f in found if f.attack == "coordinates").detail
    assert f"{e[['lon', 'lat']].drop_duplicates().shape[0]} employer position(s)" in n


def test_audit_reads_coordinates_from_a_published_table(small_world):
    proc = small_world / "processed"
    U = disclosure_areas(proc)
    emp = U.employers
    sites = pd.read_parquet(proc / "sites.parquet")
    leaky = emp[["lat", "lon", "jobs"]].head(8).to_csv(index=False)
    assert audit.audit_table(leaky, "x.csv", emp, sites)
    safe = sites[["site_id", "lat", "lon", "capacity"]].to_csv(index=False)  # sites are public facilities
    assert audit.audit_table(safe, "y.csv", emp, sites) == []


def test_cli_disclosure_audit_exit_status(small_world, tmp_path, capsys):
    from ceci_impact.cli import main

    reports = tmp_path / "r"
    (reports / "results").mkdir(parents=True)
    proc = str(small_world / "processed")
    assert main(["disclosure-audit", str(reports), "--processed", proc]) == 0
    assert "nothing recoverable" in capsys.readouterr().out
    U = disclosure_areas(proc)
    small = U.areas[(U.areas.family == "site") & (U.areas.employers.between(1, C.MIN_CELL - 1))].iloc[0]
    rec = {"family": "site", "key": small.key, "radius_km": 5.0, "status": "published",
           "employers": int(small.employers), **{v: float(small[v]) for v in VALUE_COLS}}
    (reports / "results" / "p.json").write_text(json.dumps({"status": "ok", "results": {"disclosure_areas": [rec]}}))
    assert main(["disclosure-audit", str(reports), "--processed", proc]) == 1
    out = capsys.readouterr().out
    assert out.startswith("DISCLOSURE primary: ") and len(out.splitlines()) == 2
    assert main(["disclosure-audit", str(tmp_path / "none")]) == 2


@pytest.mark.parametrize("radius", [3.0, 5.0])
def test_needs_tables_and_maps_publish_only_protected_areas(small_world, radius):
    from ceci_impact.design import needs_assessment

    n = needs_assessment(small_world / "processed", radius_km=radius)
    a = n["areas"].areas
    for fam, tab in (("pole", n["poles"]), ("state", n["states"])):
        shown = tab.dropna(subset=["eligible_parents"])
        ok = set(a[(a.family == fam) & (a.status == "published")].key)
        assert set(shown[fam].astype(str)) <= ok
    s = n["sites"]
    assert s.loc[s.disclosure != "published", "eligible_parents_near"].isna().all()
    assert set(n["cells"].pole + "|" + n["cells"].cell) <= set(a[(a.family == "pole_cell") & (a.status == "published")].key)


def _notebook(path, code: str) -> None:
    import nbformat

    from .conftest import ROOT

    nb = nbformat.v4.new_notebook()
    nb.metadata = nbformat.read(ROOT / "notebooks" / "01_data_overview.ipynb", as_version=4).metadata
    params = nbformat.v4.new_code_cell('processed = ""\nresults_path = ""')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("from ceci_impact.report import notebook as nbk\nnbk.setup()\n" + code)]
    nbformat.write(nb, path)


def test_render_failing_the_disclosure_audit_keeps_the_previous_reports(small_world, tmp_path, capsys):
    """A run that draws employers as points is caught at the end of `render`: it exits non-zero and nothing of it is
    published: every previous file is back, byte for byte, and no file of the leaky run is left."""
    from ceci_impact.report import render
    from ceci_impact.report.gate import SNAPSHOT

    proc = small_world / "processed"
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    _notebook(nbdir / "00_summary.ipynb", "print('nothing confidential')")
    _notebook(nbdir / "01_data_overview.ipynb", "import pandas as pd, matplotlib.pyplot as plt\n"
              "e = pd.read_parquet(processed + '/employer_month.parquet').drop_duplicates('employer_id')\n"
              "fig, ax = plt.subplots()\nax.scatter(e.lon, e.lat, s=e.workers)\nax.set_title('employers');")
    plan = nbdir / "plan.toml"
    run = '[[run]]\nname = "page"\nnotebook = "{nb}"\ngroup = "G"\n'
    plan.write_text(f'[defaults]\nprocessed = "{proc}"\n' + run.format(nb="00_summary.ipynb"))
    reports = tmp_path / "reports"
    assert render.render(plan, reports, quiet=True, jobs=1)
    assert not (reports / SNAPSHOT).exists()
    before = {p.relative_to(reports): p.read_bytes() for p in reports.rglob("*") if p.is_file()}
    plan.write_text(f'[defaults]\nprocessed = "{proc}"\n' + run.format(nb="01_data_overview.ipynb")
                    + run.format(nb="00_summary.ipynb").replace('"page"', '"other"'))
    capsys.readouterr()
    assert not render.render(plan, reports, quiet=True, jobs=1)
    err = capsys.readouterr().err
    assert "DISCLOSURE coordinates: en/page.html" in err and "DISCLOSURE encoding" in err
    assert "keeps the previous reports" in err
    after = {p.relative_to(reports): p.read_bytes() for p in reports.rglob("*") if p.is_file()}
    assert after == before  # the leaky page, its sidecar, notebook and the new 'other' run are all gone


@pytest.mark.parametrize("radius", [3.0, 10.0])
def test_every_published_area_of_a_render_survives_the_audit_at_any_radius(small_world, radius):
    """With a radius as large as the map squares, squares fall wholly inside site areas: a site total minus its
    squares must not disclose either (and nothing else may, whatever the radius)."""
    U = disclosure_areas(small_world / "processed", radius_km=radius)
    rec = pd.DataFrame([{**r, "page": "p"} for f in ("all", "state", "pole", "site", "cell", "pole_cell")
                        for r in U.record(f) if r["status"] == "published"])
    sites = pd.read_parquet(small_world / "processed" / "sites.parquet")
    assert audit.audit_differencing(rec, U.employers, sites) == []
    assert (U.areas.family == "site").sum() == len(sites)


def test_grid_geometry_is_not_an_employer_position():
    """A point at a corner or centre of the fixed map grid is public geometry: the audit does not count it as an
    employer's position even when an employer happens to sit there (found on the default world: a grid square's
    centre within 0.001 degree of an employer made a clean render fail)."""
    import numpy as np

    from ceci_impact.confidentiality import grid_corners, grid_index
    from ceci_impact.report.audit import _on_grid

    ix, iy = grid_index(np.array([19.4]), np.array([-99.1]))
    x0, x1, y0, y1 = grid_corners(ix, iy)
    pts = np.array([[x0[0], y0[0]], [(x0[0] + x1[0]) / 2, (y0[0] + y1[0]) / 2], [x0[0] + 0.013, y0[0] + 0.017]])
    assert _on_grid(pts, 1e-6).tolist() == [True, True, False]


def test_audit_once_per_figure_findings_on_every_page(small_world, tmp_path, monkeypatch):
    """Issue 27 (speed): a figure published on several pages (the executed notebook and an edition) is audited
    once, its findings reported on every page; the k-d trees are built once per audit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    proc = small_world / "processed"
    emp = audit.employer_frame(proc)
    reports = tmp_path / "reports"
    for d in ("en", "es"):
        (reports / d).mkdir(parents=True)
    fig, ax = plt.subplots()
    ax.scatter(emp.lon.head(30), emp.lat.head(30))
    page = _svg_page(fig)
    plt.close(fig)
    for d in ("en", "es"):
        (reports / d / "leaky.html").write_text(page)
    calls = {"svg": 0, "trees": 0}
    real_svg, real_trees = audit.audit_svg, audit._trees

    def spy_svg(*a, **k):
        calls["svg"] += 1
        return real_svg(*a, **k)

    def spy_trees(*a, **k):
        calls["trees"] += 1
        return real_trees(*a, **k)

    monkeypatch.setattr(audit, "audit_svg", spy_svg)
    monkeypatch.setattr(audit, "_trees", spy_trees)
    found = audit.disclosure_audit(reports, proc, quiet=True)
    pages = sorted({f.page for f in found if f.attack == "coordinates"})
    assert pages == ["en/leaky.html", "es/leaky.html"]
    assert calls == {"svg": 1, "trees": 1}
    a, b = (sorted((f.attack, f.detail) for f in found if f.page == p) for p in pages)
    assert a == b and a


def test_audit_table_skips_missing_values_of_each_pair(small_world):
    """A column pair is audited on the rows where both are present (missing values of other columns, or a nullable
    integer column with missing entries, do not hide a leak)."""
    proc = small_world / "processed"
    emp = audit.employer_frame(proc)
    sites = pd.read_parquet(proc / "sites.parquet")
    t = emp[["lat", "lon"]].head(6).reset_index(drop=True)
    t["n"] = pd.array([1, None, 3, None, 5, None], dtype="Int64")
    t.loc[0, "lat"] = np.nan
    t["note"] = ["a", "b", "c", "d", "e", "f"]
    found = audit.audit_table(t, "t.csv", emp, sites)
    assert found and "'lon', 'lat'" in found[0].detail and "5 employer" in found[0].detail
    assert audit.audit_table(t.assign(lat=np.nan), "t.csv", emp, sites) == []
