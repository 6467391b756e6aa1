"""Notebooks execute on the small simulated world; HTML is self-contained; failures keep the last good report."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import nbformat
import pytest

from ceci_impact import CeciError
from ceci_impact.data.outcomes import OUTCOMES, headlines
from ceci_impact.report import params, render

from .conftest import ROOT

NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="session")
def rendered(small_world, tmp_path_factory):
    """Render every notebook once (one site profile) into a temporary reports folder."""
    work = tmp_path_factory.mktemp("render")
    nbdir = work / "notebooks"
    shutil.copytree(ROOT / "notebooks", nbdir)
    proc = small_world / "processed"
    runs = []
    for nb in NOTEBOOKS:
        stem = nb[:-6]
        runs.append(f'[[run]]\nname = "{stem}"\nnotebook = "{nb}"\ngroup = "G"\n')
    runs.append('[[run]]\nname = "bad_param"\nnotebook = "10_female_employment.ipynb"\ngroup = "G"\n')
    plan = nbdir / "test_plan.toml"
    plan.write_text(f'[defaults]\nprocessed = "{proc}"\nbiters = 199\n\n' + "\n".join(runs))
    reports = work / "reports"
    ok = render.render(plan, reports, jobs=2, quiet=True, timeout=600)
    return {"ok": ok, "reports": reports, "plan": plan, "nbdir": nbdir, "proc": proc}


def test_every_notebook_renders(rendered):
    reports = rendered["reports"]
    assert rendered["ok"], [json.loads(p.read_text()).get("error") for p in (reports / "results").glob("*.failed.json")]
    for nb in NOTEBOOKS:
        stem = nb[:-6]
        side = reports / "results" / f"{stem}.json"
        assert side.exists(), stem  # every notebook, the back-test included (its inputs ship with the package)
        d = json.loads(side.read_text())
        assert d["status"] == "ok" and d["data_fingerprint"] and d["code_version"] and d["duration_s"] > 0
        assert (reports / d["html"]).exists() and all((reports / p).exists() for p in d["editions"].values())
    for lang in ("es", "en"):  # both editions of the index link every report
        index = (reports / lang / "index.html").read_text()
        assert f"<html lang='{lang}'>" in index
        assert all(f"href='{nb[:-6]}.html'" in index for nb in NOTEBOOKS
                   if (reports / "results" / f"{nb[:-6]}.json").exists())
    assert "es/index.html" in (reports / "index.html").read_text()


def _pages(reports, lang=None):
    return sorted(p for d in ([lang] if lang else ["es", "en"]) for p in (reports / d).glob("*.html")
                  if p.name not in ("index.html", "executive_summary.html"))


def test_html_is_clean_and_self_contained(rendered):
    pages = _pages(rendered["reports"])
    assert pages
    for p in pages:
        h = p.read_text()
        assert 'class="jp-CodeMirrorEditor' not in h and "params.validate(" not in h, f"code in {p.name}"
        assert "highlight hl-ipython3" not in h, f"code visible in {p.name}"
        assert "Traceback" not in h and "jp-RenderedText\" data-mime-type=\"application/vnd.jupyter.stderr" not in h
        assert not re.search(r"<script[^>]+src=[\"']https?://", h), p.name
        assert not re.search(r"<link[^>]+href=[\"']https?://", h), p.name
        assert not re.search(r"import\(\"https?://", h), p.name
        assert "ceci-toc" in h
    fig_pages = [p for p in pages if "40_site" in p.name or "10_female" in p.name]
    for p in fig_pages:
        h = p.read_text()
        assert "data:image/svg+xml;base64," in h  # vector figures
        assert not re.search(r"<img[^>]+src=[\"'](?!data:)", h)
    assert "SIMULATED DATA" in (rendered["reports"] / "en" / "00_summary.html").read_text()
    assert "DATOS SIMULADOS" in (rendered["reports"] / "es" / "00_summary.html").read_text()


def test_each_edition_has_its_language_only(rendered):
    """One execution, two editions: each page declares its language and keeps only that language's outputs; the
    Spanish pages carry the Spanish of every markdown cell and of the narrative."""
    from bs4 import BeautifulSoup

    for lang, other in (("es", "en"), ("en", "es")):
        for p in _pages(rendered["reports"], lang):
            soup = BeautifulSoup(p.read_text(), "html.parser")
            assert soup.html["lang"] == lang, p
            assert not soup.select(f".ceci-i18n[lang={other}]"), p
    es = (rendered["reports"] / "es" / "10_female_employment.html").read_text()
    assert "Estudio de eventos" in es and "Construcción de la muestra" in es and "En promedio sobre" in es
    assert "Sample construction" not in es
    en = (rendered["reports"] / "en" / "10_female_employment.html").read_text()
    assert "Sample construction" in en and "Construcción de la muestra" not in en


def test_tables_and_figures_are_fit_for_publication(rendered):
    """No table shows scientific notation or a bare 0..n index; every figure has alt text describing it."""
    from bs4 import BeautifulSoup

    sci = re.compile(r"\d[eE][+-]?\d")
    for p in _pages(rendered["reports"]):
        soup = BeautifulSoup(p.read_text(), "html.parser")
        for table in soup.find_all("table"):
            cells = [td.get_text(strip=True) for td in table.find_all("td")]
            assert not [c for c in cells if sci.search(c)], (p.name, [c for c in cells if sci.search(c)][:3])
            first = [tr.find(["td", "th"]).get_text(strip=True) for tr in table.find("tbody").find_all("tr")
                     if tr.find(["td", "th"])] if table.find("tbody") else []
            assert not (len(first) > 2 and first == [str(i) for i in range(len(first))]), (p.name, "0..n index")
            assert not table.find("th", string=""), (p.name, "unnamed index column")
        for img in soup.find_all("img"):
            alt = img.get("alt", "")
            assert alt and "No description has been provided" not in alt, p.name
            assert len(alt) > 20, (p.name, alt)


def test_index_headlines_match_the_sidecars(rendered):
    """The Spanish front page shows one headline per registered headline outcome, with its three-state verdict
    read from the sidecar's interval, a minimum detectable effect, a decision-unit figure and a cost column."""
    from bs4 import BeautifulSoup

    from ceci_impact.i18n import msg, term

    reports = rendered["reports"]
    res = json.loads((reports / "results" / "00_summary.json").read_text())["results"]
    heads = res["headlines"]
    assert res.get("exposure", {}).get("centres_opened", 0) > 0
    soup = BeautifulSoup((reports / "es" / "index.html").read_text(), "html.parser")
    rows = soup.select("table.headlines tbody tr")
    assert len(rows) == len(heads) == len(headlines())
    labels = {k: msg(f"verdict.state_{k}").lang("es") for k in ("detected", "ruled_out", "inconclusive")}
    for tr, h in zip(rows, heads, strict=True):
        cells = [td.get_text(" ", strip=True) for td in tr.find_all("td")]
        assert cells[0] == term(OUTCOMES[h["outcome"]].label, "es")
        lo, hi = h["ci_low"], h["ci_high"]
        bound = max(abs(lo), abs(hi))
        practical = 0.05 if h["outcome"].startswith("log_") else 0.05 * abs(h["baseline"])
        state = "detected" if (lo > 0 or hi < 0) else "ruled_out" if bound <= practical else "inconclusive"
        assert cells[3].startswith(labels[state]), (cells[3], h)
        if state == "inconclusive":  # a ruled-out effect needs no power statement; an inconclusive one does
            assert "potencia" in cells[3]  # the minimum detectable effect at 80 % power
        assert cells[4] != "" and cells[5] != ""


def test_summary_estimates_cover_truth_on_simulation(rendered):
    d = json.loads((rendered["reports"] / "results" / "00_summary.json").read_text())
    heads = d["results"]["headlines"]
    assert [h["outcome"] for h in heads] == [o.name for o in headlines()]  # the registry's headlines, in order
    for h in heads:
        assert h["truth"] is not None
        assert h["ci_low"] - 2 * h["se"] <= h["truth"] <= h["ci_high"] + 2 * h["se"], h


def test_bad_parameter_fails_with_one_line_and_keeps_last_html(rendered):
    reports, plan = rendered["reports"], rendered["plan"]
    html = reports / "es" / "bad_param.html"
    before = html.read_bytes()
    ok = render.render(plan, reports, only="bad_param", quiet=True, overrides=["outcome=\"no_such\""])
    assert not ok
    assert html.read_bytes() == before
    fail = json.loads((reports / "results" / "bad_param.failed.json").read_text())
    assert "outcome" in fail["error"] and "expected one of" in fail["error"] and "\n" not in fail["error"]
    assert "failed" in (reports / "en" / "index.html").read_text()
    assert "falló" in (reports / "es" / "index.html").read_text()
    with pytest.raises(CeciError, match="unknown parameter 'outcme'"):
        render.render(plan, reports, only="bad_param", quiet=True, overrides=["outcme=1"])


def test_unknown_parameter_inside_the_notebook(rendered, tmp_path):
    """Papermill-injected names the schema does not know stop the notebook with the one-line error."""
    import papermill as pm

    out = tmp_path / "x.ipynb"
    with pytest.raises(pm.PapermillExecutionError) as e:
        pm.execute_notebook(str(rendered["nbdir"] / "10_female_employment.ipynb"), str(out),
                            parameters={"processed": str(rendered["proc"]), "anticipation": "two"},
                            kernel_name=render.KERNEL, progress_bar=False, cwd=str(rendered["nbdir"]))
    assert "anticipation" in e.value.evalue and "expected int" in e.value.evalue


def test_incremental_skip(rendered):
    reports, plan = rendered["reports"], rendered["plan"]
    side = reports / "results" / "01_data_overview.json"
    t0 = json.loads(side.read_text())["finished"]
    assert render.render(plan, reports, only="01_data", quiet=True)
    assert json.loads(side.read_text())["finished"] == t0
    assert render.render(plan, reports, only="01_data", quiet=True, force=True)
    assert json.loads(side.read_text())["finished"] >= t0


def test_site_profiles_expand_to_opened_sites(rendered):
    import pandas as pd

    plan = rendered["nbdir"] / "expand.toml"
    plan.write_text(f'[defaults]\nprocessed = "{rendered["proc"]}"\n[[run]]\nname = "40_site_{{site_id}}"\n'
                    'notebook = "40_site_profile.ipynb"\nexpand = "opened_sites"\n')
    runs, _ = render.load_plan(plan)
    sites = pd.read_parquet(rendered["proc"] / "sites.parquet")
    assert len(runs) == int((sites.opening_period > 0).sum()) > 0
    assert all(r.parameters["site_id"] in r.name for r in runs)


def test_pole_profiles_expand_to_poles_with_opened_sites(rendered):
    import pandas as pd

    plan = rendered["nbdir"] / "expand_poles.toml"
    plan.write_text(f'[defaults]\nprocessed = "{rendered["proc"]}"\n[[run]]\nname = "45_pole_{{pole_slug}}"\n'
                    'notebook = "45_pole_profile.ipynb"\nexpand = "opened_poles"\n')
    runs, _ = render.load_plan(plan)
    sites = pd.read_parquet(rendered["proc"] / "sites.parquet")
    poles = set(sites.loc[(sites.opening_period > 0) & (sites.pole.fillna("") != ""), "pole"])
    assert {r.parameters["pole"] for r in runs} == poles and poles
    assert all(re.fullmatch(r"45_pole_[a-z0-9_]+", r.name) for r in runs)
    side = json.loads((rendered["reports"] / "results" / "45_pole_profile.json").read_text())["results"]
    assert side["pole"] in poles and set(side["synthetic"]) == {"log_women_jobs", "female_share",
                                                                  "eg_days_per_worker", "separation_rate"}
    site = json.loads(next((rendered["reports"] / "results").glob("40_site_profile.json")).read_text())["results"]
    assert set(site["synthetic"]) <= {"female_share", "eg_days_per_worker", "separation_rate"}


def test_notebooks_committed_clean():
    for nb in NOTEBOOKS:
        n = nbformat.read(ROOT / "notebooks" / nb, as_version=4)
        code = [c for c in n.cells if c.cell_type == "code"]
        assert not any(c.outputs for c in code), nb
        tagged = [i for i, c in enumerate(code) if "parameters" in c.metadata.get("tags", [])]
        assert tagged == [0], nb
        assert "params.validate(" in code[1].source, nb
        for line in code[0].source.splitlines():
            assert "#" in line, f"{nb}: parameter line without a comment: {line}"
        stem = nb[:-6]
        assert stem in params.SCHEMAS


@pytest.mark.browser
def test_reports_open_in_a_real_browser(rendered, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("chromium not installed (.ci/run installs Debian's chromium)")
    script = ROOT / "tests" / "browser_check.py"
    reports = rendered["reports"]
    pages = [reports / "index.html"] + [reports / lang / name for lang in ("es", "en")
                                         for name in ("index.html", "00_summary.html", "20_absenteeism.html")]
    shots = reports / "screenshots"  # kept beside the reports for inspection
    shots.mkdir(exist_ok=True)
    r = subprocess.run([sys.executable, str(script), chromium, str(shots), *map(str, pages)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(list(shots.glob("*.png"))) >= len(pages) - 1
    for shot in shots.glob("*.png"):
        from PIL import Image

        im = Image.open(shot).convert("L")
        lo, hi = im.getextrema()
        assert hi - lo > 50, f"blank screenshot {shot.name}"


def test_overlapping_renders_are_refused(rendered):
    import fcntl

    reports = rendered["reports"]
    with open(reports / ".render.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(CeciError, match="another `ceci-impact render` holds"):
            render.render(rendered["plan"], reports, only="01_data", quiet=True)
        fcntl.flock(fh, fcntl.LOCK_UN)
    assert render.render(rendered["plan"], reports, only="01_data", quiet=True)


def test_kernels_talk_over_private_unix_sockets():
    """Rendering kernels use IPC sockets, one path per kernel (parallel workers must never share them)."""
    from ceci_impact.report.render import _ipc_kernel_manager

    km_class = _ipc_kernel_manager()
    a, b = km_class(kernel_name="ceci-impact"), km_class(kernel_name="ceci-impact")
    assert a.transport == b.transport == "ipc" and a.ip != b.ip


def test_render_passes_the_disclosure_audit(rendered):
    """A normal render of the small world publishes nothing the audit's attacks recover (issue 28)."""
    from ceci_impact.report.audit import disclosure_audit, published_areas
    from ceci_impact.report.gate import SNAPSHOT

    assert rendered["ok"]
    assert disclosure_audit(rendered["reports"], rendered["proc"], quiet=True) == []
    assert not (rendered["reports"] / SNAPSHOT).exists()
    assert len(published_areas(rendered["reports"])) > 0  # the pages do publish area aggregates, all of them safe



def test_spanish_edition_has_no_english_and_no_code_names(rendered):
    """Every Spanish page (figures' alt text included) is in Spanish and shows no code identifier
    (:func:`ceci_impact.report.language_check.page_problems`); the index is checked without the row of the run
    this fixture makes fail on purpose (its error line is the run's own message)."""
    from bs4 import BeautifulSoup

    from ceci_impact.report.language_check import page_problems

    problems = {}
    for page in sorted((rendered["reports"] / "es").glob("*.html")):
        if page.name == "bad_param.html":  # this fixture's own run name (an identifier) heads that page
            continue
        text = page.read_text()
        if page.name == "index.html":
            soup = BeautifulSoup(text, "html.parser")
            for tr in soup.find_all("tr"):
                if "bad_param" in tr.get_text():
                    tr.decompose()
            text = str(soup)
        found = page_problems(text)
        if found:
            problems[page.name] = found[:5]
    assert not problems, problems
