"""Hostile and careless inputs and runs (issue 28): no path outside the output folders, no script in a page, no code
from a parameter, no silent corruption, nothing a user owns overwritten or deleted, one line for every user error.

The build cases are mutations of the small simulated world, run through the command line as in
``tests/test_bad_inputs.py``; the render cases use tiny notebooks or the exporter directly (fast: few kernels).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from ceci_impact import CeciError, cli
from ceci_impact.report import render

from .conftest import ROOT
from .test_bad_inputs import (
    _asg,
    _case_dirs,
    _csv,
    _digest,
    _drop,
    _edit_rows,
    _lines,
    _parquet,
    _rewrite,
    _row,
    _run,
)

E, W = "error", "warning"


def _all_platform(month: str):
    def fn(header, rows):
        i = [h.lower() for h in header].index("ptpd")
        out = []
        for r in rows:
            f = r.split("|")
            f[i] = "1"
            out.append("|".join(f))
        return out
    return _edit_rows(month, fn)


def _fifo(name: str):
    def mutate(raw: Path, *_):
        (raw / name).unlink()
        os.mkfifo(raw / name)
    return mutate


def _overlap(df: pd.DataFrame) -> pd.DataFrame:
    """A second spell of one worker at the same employer starting inside the first (a duplicated record)."""
    i = int((df["end"].isna() | (df["end"] - df["start"] > pd.Timedelta(days=60))).to_numpy().argmax())
    extra = df.iloc[[i]].copy()
    extra["start"] = extra["start"] + pd.Timedelta(days=20)
    return pd.concat([df, extra], ignore_index=True)


def _huge(col: str, value: str):
    """Set ``col`` of the first working row to ``value`` (keeping ta = teu + tec + tpu + tpc when ``col`` is ta)."""
    def fn(header, rows):
        h = [x.lower() for x in header]
        k = next(k for k, r in enumerate(rows) if int(r.split("|")[h.index("ta")]) > 0)
        f = dict(zip(h, rows[k].split("|"), strict=True))
        f[col] = value
        if col == "ta":
            f.update(teu=value, tec="0", tpu="0", tpc="0")
        rows[k] = "|".join(f[x] for x in h)
        return rows
    return fn


CASES = [
    ("asg ta of 10^20", _edit_rows("2024-04", _huge("ta", "1" + "0" * 20)), (), E, "column ta: found '1000000000"),
    ("asg 400-digit wage mass", _edit_rows("2024-04", _huge("masa_sal_ta", "9" * 400)), (), E, "column masa_sal_ta"),
    ("asg month of platform work only", _all_platform("2025-09"), (), W, "flagged platform work"),
    ("municipios.csv missing", _drop("municipios.csv"), (), E, "municipios.csv: file not found"),
    ("municipios.csv is a FIFO", _fifo("municipios.csv"), (), E, "FIFO"),
    ("ceci_sites.csv is a FIFO", _fifo("ceci_sites.csv"), (), E, "FIFO"),
    ("CECI opened in 1990", _csv("ceci_sites.csv", lambda d: _row(d, "opening_date", "1990-01-15")), (), W,
     "always-treated cohort"),
    ("overlapping duplicate spell", _parquet("job_spells.parquet", _overlap), (), E, "overlapping spells"),
    ("zero-row incapacidades", _parquet("incapacidades.parquet", lambda d: d.iloc[:0]), (), E, "no rows"),
    ("zero-row job spells", _parquet("job_spells.parquet", lambda d: d.iloc[:0]), (), E, "no rows"),
    ("site id climbing out", _csv("ceci_sites.csv", lambda d: _row(d, "site_id", "../../evil")), (), E,
     "column site_id: found '../../evil'"),
    ("empty site id", _csv("ceci_sites.csv", lambda d: _row(d, "site_id", "")), (), E, "column site_id"),
    ("site id with markup", _csv("ceci_sites.csv", lambda d: _row(d, "site_id", "<b>x</b>")), (), E, "column site_id"),
    ("pole name with a script", _csv("municipios.csv", lambda d: _row(d, "polo", "<img src=x onerror=alert(1)>")),
     (), E, "column polo"),
    ("rings leaving no comparison employers", lambda raw: None, ("--ring-km", "3,100000"), E,
     "no comparison employers"),
]


@pytest.mark.parametrize("name,mutate,extra,outcome,text", CASES, ids=[c[0] for c in CASES])
def test_hostile_build_input(small_world, tmp_path, name, mutate, extra, outcome, text):
    raw, out = _case_dirs(small_world, tmp_path)
    mutate(raw)
    before = _digest(out)
    if "FIFO" in name:  # a reader that opens the FIFO would wait for a writer forever: run it where it can be killed
        try:
            p = subprocess.run([sys.executable, "-m", "ceci_impact.cli", "build", "--quiet", "--raw", str(raw),
                                "--out", str(out), *extra], capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired:
            pytest.fail("the build hung on a FIFO")
        code, err = p.returncode, p.stderr
    else:
        code, err = _run("build", "--quiet", "--raw", raw, "--out", out, *extra)
    assert "Traceback" not in err, err
    lines = [ln for ln in err.strip().splitlines() if ln]
    if outcome == E:
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (name, err)
        assert text in lines[0], (name, lines[0])
        assert _digest(out) == before, "a failed build changed the previous panels"
    else:
        assert code == 0, (name, err)
        assert any(ln.startswith("warning: ") and text in ln for ln in lines), (name, err)
        m = json.loads((out / "manifest.json").read_text())
        assert any(text in w for w in m["quality"]["warnings"])


def test_a_file_changed_during_the_build_is_detected(small_world, tmp_path, monkeypatch):
    from ceci_impact.data import panels

    raw, out = _case_dirs(small_world, tmp_path)
    before = _digest(out)
    real = panels.build_municipality_panels

    def edit_then_build(con, raw_, *a, **k):  # the asg months are read: now someone edits one
        p = _asg(raw_, "2024-05")
        lines, enc = _lines(p)
        time.sleep(0.01)
        _rewrite(p, ("\n".join(lines[:-1]) + "\n").encode(enc))
        return real(con, raw_, *a, **k)

    monkeypatch.setattr(panels, "build_municipality_panels", edit_then_build)
    code, err = _run("build", "--quiet", "--raw", raw, "--out", out)
    assert code == 2 and "changed while the build was reading it" in err, err
    assert _digest(out) == before


def test_fingerprint_covers_the_build_options(small_world, tmp_path):
    raw, out = _case_dirs(small_world, tmp_path)
    fp0 = json.loads((out / "manifest.json").read_text())["fingerprint"]
    code, err = _run("build", "--quiet", "--raw", raw, "--out", out, "--ring-km", "2,10")
    assert code == 0, err
    fp1 = json.loads((out / "manifest.json").read_text())["fingerprint"]
    assert fp1 != fp0
    code, err = _run("build", "--quiet", "--raw", raw, "--out", out)
    assert code == 0, err
    assert json.loads((out / "manifest.json").read_text())["fingerprint"] == fp0  # same data, same options


def test_build_never_deletes_a_users_dot_duckdb_file(small_world, tmp_path):
    raw, out = _case_dirs(small_world, tmp_path)
    (out / ".duckdb_my_notes.db").write_text("mine")
    code, err = _run("build", "--quiet", "--raw", raw, "--out", out)
    assert code == 2 and ".duckdb_my_notes.db" in err, err
    assert (out / ".duckdb_my_notes.db").read_text() == "mine"


# ------------------------------------------------------------------------------------------------ simulate, design
def test_simulate_never_replaces_what_it_did_not_write(small_world, tmp_path):
    _, out = _case_dirs(small_world, tmp_path)
    before = _digest(out)
    code, err = _run("simulate", "--quiet", "--size", "small", "--out", out)
    assert code == 2 and "did not write" in err and len(err.strip().splitlines()) == 1, err
    assert _digest(out) == before
    f = tmp_path / "notes.txt"
    f.write_text("mine")
    for extra in ((), ("--force",)):
        code, err = _run("simulate", "--quiet", "--size", "small", "--out", f, *extra)
        assert code == 2 and "is a file" in err, err
        assert f.read_text() == "mine"


@pytest.mark.parametrize("args,text", [
    (["simulate", "--seed", "-1", "--out", "{tmp}/w"], "--seed -1"),
    (["design", "rollout", "--periods", "200000", "--carryover", "3"], "at most 1,200"),
])
def test_command_line_errors_are_one_line(tmp_path, args, text):
    t0 = time.perf_counter()
    code, err = _run(*[a.format(tmp=tmp_path) for a in args])
    assert time.perf_counter() - t0 < 30
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1 and text in err, err


def test_unexpected_exceptions_are_one_line_too(monkeypatch):
    from ceci_impact import design

    monkeypatch.setattr(design, "optimal_rollout", lambda *a, **k: 1 / 0)
    monkeypatch.delenv("CECI_DEBUG", raising=False)
    code, err = _run("design", "rollout", "--periods", "12")
    assert code == 3 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "ZeroDivisionError" in err


# ------------------------------------------------------------------------------------------------ paths
def test_paths_built_from_names_stay_inside_the_output_folder(tmp_path):
    from ceci_impact.io import atomic_file, check_name, inside

    root = tmp_path / "reports"
    root.mkdir()
    assert inside(root, "results", "a.json") == root / "results" / "a.json"
    for parts in (("results", "../../x.json"), ("..", "x"), ("/etc/passwd",), (".",)):
        with pytest.raises(CeciError, match="outside the output folder"):
            inside(root, *parts)
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(CeciError):
        inside(root, "link", "x.html")
    for bad in ("", "..", "../x", "a/b", "<b>", ".hidden", "a" * 200, "a..b"):
        with pytest.raises(CeciError):
            check_name(bad, "run name")
    assert check_name("40_site_CECI-0001", "run name") == "40_site_CECI-0001"
    with pytest.raises(CeciError, match="through '..'"), atomic_file(root / "new" / ".." / ".." / "escaped" / "x"):
        pass
    assert not (tmp_path / "escaped").exists()


def test_hostile_site_ids_never_name_a_report(tmp_path):
    nbdir, proc = tmp_path / "notebooks", tmp_path / "data" / "processed"
    nbdir.mkdir()
    proc.mkdir(parents=True)
    shutil.copy(ROOT / "notebooks" / "40_site_profile.ipynb", nbdir)
    pd.DataFrame({"site_id": ["CECI-1", "../../../../tmp/evil"], "opening_period": [24300, 24301]}).to_parquet(
        proc / "sites.parquet")
    (nbdir / "plan.toml").write_text('[[run]]\nname = "40_site_{site_id}"\nnotebook = "40_site_profile.ipynb"\n'
                                     'expand = "opened_sites"\n')
    with pytest.raises(CeciError, match="run name"):
        render.load_plan(nbdir / "plan.toml")


# ------------------------------------------------------------------------------------------------ parameters
def _plan_for(tmp_path: Path, notebook: str) -> Path:
    (tmp_path / "plan.toml").write_text(f'[[run]]\nname = "r"\nnotebook = "{ROOT / "notebooks" / notebook}"\n')
    return tmp_path / "plan.toml"


@pytest.mark.parametrize("notebook,item,text", [
    ("10_female_employment.ipynb", "covariates=[\"x_industrial\", \"{__import__('os').system('touch {pwned}')}\"]",
     "covariates"),
    ("10_female_employment.ipynb", "covariates=[\"x_industrial + C(polo)\"]", "covariates"),
    ("50_rollout_design.ipynb", "waves=1,,2", "waves"),
    ("50_rollout_design.ipynb", "waves=200;__import__('os')", "waves"),
    ("10_female_employment.ipynb", "pole=<img src=x onerror=alert(1)>", "pole"),
    ("40_site_profile.ipynb", "site_id=../../x", "site_id"),
])
def test_parameters_are_checked_never_evaluated(tmp_path, notebook, item, text):
    """A bad --set value fails its runs before any code runs, with one line naming the parameter (recorded in the
    run's sidecar, as every failed run is)."""
    pwned = tmp_path / "pwned"
    runs, _ = render.load_plan(_plan_for(tmp_path, notebook), [item.replace("{pwned}", str(pwned))])
    assert runs[0].error and runs[0].error.startswith(f"parameter {text}") and "\n" not in runs[0].error, runs[0].error
    assert not pwned.exists()
    runs, _ = render.load_plan(_plan_for(tmp_path, "50_rollout_design.ipynb"), ["waves=200"])
    assert runs[0].parameters["waves"] == "200" and runs[0].error is None  # one wave is text, as the parameter expects


def test_formulas_name_columns_only(tmp_path):
    import numpy as np

    from ceci_impact.did.core.design import covariate_formula, design_matrix

    df = pd.DataFrame({"x1": np.arange(6.0), "x2": np.arange(1.0, 7.0), "g": list("abcabc")})
    pwned = tmp_path / "pwned"
    for f in (f"~ x1 + {{__import__('os').system('touch {pwned}')}}", "~ x1 + np.log(__import__('os').getpid())",
              "~ x1 + x1.__class__", "~ x1 + open('/etc/passwd')", "~ x1 + eval(x2)"):
        with pytest.raises(CeciError, match="xformla"):
            design_matrix(f, df)
    assert not pwned.exists()
    X, names = design_matrix("~ x1 + np.log(x2) + C(g)", df)  # the formula grammar on columns still works
    assert X.shape == (6, 5) and names[0] == "Intercept"
    assert covariate_formula(["x1", "x2"], df.columns) == "~ x1 + x2"
    for bad in (["x1 + x2"], ["{x1}"], ["missing"], [3]):
        with pytest.raises(CeciError, match="covariates"):
            covariate_formula(bad, df.columns)


# ------------------------------------------------------------------------------------------------ escaping
HOSTILE = "<img src=x onerror=alert(1)> <script>alert(2)</script> [click](javascript:alert(3)) **bold** _it_"


def _active(html: str) -> list[str]:
    """Elements or attributes of ``html`` that would run script or carry markup made from the data."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    found = [el.name for el in soup.find_all(["script", "img", "a", "strong", "em", "iframe"])]
    found += [f"{el.name}@{a}" for el in soup.find_all(True) for a in el.attrs
              if a.lower().startswith("on") or "javascript:" in str(el.attrs[a]).lower()]
    return found


def test_data_derived_text_never_becomes_markup():
    from ceci_impact.i18n import Text, msg
    from ceci_impact.report.notebook import markdown_html

    t = msg("variant.pole", pole=HOSTILE)
    for lang in ("es", "en"):
        out = markdown_html(t.lang(lang))
        assert not _active(out), out
        assert "&lt;img src=x onerror=alert(1)&gt;" in out and "**bold**" in out  # shown as written
    warnings = [f"data/raw/{HOSTILE}: 3 rows have no IMSS municipality key", "second warning"]
    page = Text({"es": "Avisos:", "en": "Warnings:"}) + "\n\n" + "\n".join(f"- {w}" for w in warnings)
    out = markdown_html(page.lang("en"))
    assert not _active(out), out
    assert out.count("<li>") == 2  # the list stays a list of inert items


def test_exported_pages_carry_no_script_from_outputs():
    from ceci_impact.report.editions import export_edition

    nb = nbformat.v4.new_notebook()
    c = nbformat.v4.new_code_cell("x")
    c.outputs = [
        nbformat.v4.new_output("display_data", data={"text/markdown": HOSTILE, "text/plain": "x"}),
        nbformat.v4.new_output("display_data", data={"text/html": "<div onmouseover='alert(4)'>t<script>alert(5)"
                                                                  "</script><a href='javascript:alert(6)'>l</a></div>"}),
        nbformat.v4.new_output("display_data", data={"application/javascript": "alert(7)"}),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), c]
    page = export_edition(nb, "t", {"run": "t"}, "en", {"name": "t"}, "t")
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page, "html.parser")
    outputs = "".join(str(o) for o in soup.select(".jp-OutputArea-output"))
    # Markdown written by code keeps its emphasis and harmless links; nothing that runs survives
    assert outputs and not [x for x in _active(outputs) if x not in ("a", "strong", "em")], outputs
    assert "&lt;img src=x onerror=alert(1)&gt;" in outputs  # the data is shown as written
    assert not [a for el in soup.find_all(True) for a in el.attrs if a.lower().startswith("on")]
    assert "alert(7)" not in page and "javascript:" not in page.replace("(javascript:alert(3))", "")


# ------------------------------------------------------------------------------------------------ render runs
def _notebook(path: Path, code: str, params: str = "x = 1") -> None:
    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell(params + "\nresults_path = \"\"  # set by the renderer")
    p.metadata["tags"] = ["parameters"]
    nb.cells = [p, nbformat.v4.new_code_cell(code)]
    nb.metadata["kernelspec"] = {"name": render.KERNEL, "language": "python", "display_name": "Python (ceci-impact)"}
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.write(nb, path)


def _render(*args) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = cli.main(["render", "--quiet", "--jobs", "1", *map(str, args)])
    return code, err.getvalue()


def test_render_refuses_a_folder_it_did_not_write_and_an_empty_only(tmp_path):
    nbdir = tmp_path / "nb"
    nbdir.mkdir()
    _notebook(nbdir / "a.ipynb", "print(1)")
    (nbdir / "plan.toml").write_text('[[run]]\nname = "a"\nnotebook = "a.ipynb"\n')
    mine = tmp_path / "site"
    mine.mkdir()
    (mine / "index.html").write_text("my home page")
    code, err = _render("--plan", nbdir / "plan.toml", "--reports", mine)
    assert code == 2 and "did not write" in err and len(err.strip().splitlines()) == 1, err
    assert (mine / "index.html").read_text() == "my home page" and sorted(os.listdir(mine)) == ["index.html"]
    reports = tmp_path / "reports"
    code, err = _render("--plan", nbdir / "plan.toml", "--reports", reports, "--only", "zzz")
    assert code == 2 and "--only 'zzz'" in err and len(err.strip().splitlines()) == 1, err
    assert not (reports / "results").exists()


def test_failure_line_shows_the_exception_not_the_banner():
    class Exc(Exception):
        ename, evalue, cell_index = "AssertionError", "", None
        traceback = ["\x1b[0;31m---------------------------------------------------------------------------\x1b[0m",
                     "\x1b[0;31mAssertionError\x1b[0m    Traceback (most recent call last)",
                     "Cell \x1b[0;32mIn[3], line 1\x1b[0m\n\x1b[0;32m----> 1\x1b[0m \x1b[38;5;28;01massert\x1b[39;00m "
                     "\x1b[38;5;241m1\x1b[39m \x1b[38;5;241m==\x1b[39m \x1b[38;5;241m2\x1b[39m\n",
                     "\x1b[0;31mAssertionError\x1b[0m: "]

    line = render._failure_line(Exc(), render.Run("r", "r.ipynb", "G"), Path("."))
    assert line == "AssertionError: raised at `assert 1 == 2`", line
    Exc.ename, Exc.evalue = "RuntimeError", "\n-----\nthe real reason"
    assert render._failure_line(Exc(), render.Run("r", "r.ipynb", "G"), Path(".")) == "RuntimeError: the real reason"


def test_rebuilding_with_other_options_rerenders(small_world, tmp_path):
    raw, proc = _case_dirs(small_world, tmp_path / "data")
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    _notebook(nbdir / "a.ipynb", "print('ok')")
    (nbdir / "plan.toml").write_text('[[run]]\nname = "a"\nnotebook = "a.ipynb"\n')
    shutil.move(str(proc), tmp_path / "data" / "processed")
    reports = tmp_path / "reports"
    code, err = _render("--plan", nbdir / "plan.toml", "--reports", reports)
    assert code == 0, err
    first = json.loads((reports / "results" / "a.json").read_text())
    code, err = _run("build", "--quiet", "--raw", raw, "--out", tmp_path / "data" / "processed", "--ring-km", "2,10")
    assert code == 0, err
    code, err = _render("--plan", nbdir / "plan.toml", "--reports", reports)
    assert code == 0, err
    second = json.loads((reports / "results" / "a.json").read_text())
    assert second["data_fingerprint"] != first["data_fingerprint"] and second["started"] >= first["started"]
    assert second["key"] != first["key"]


def test_csv_downloads_never_carry_a_spreadsheet_formula():
    import base64
    import re

    from ceci_impact.tables import table_html

    df = pd.DataFrame({"name": ["=HYPERLINK(\"http://x\",\"y\")", "@SUM(A1)", "plain", "-0.5"], "jobs": [1, -2, 3, 4]})
    page = table_html(df)
    csv = base64.b64decode(re.search(r"base64,([A-Za-z0-9+/=]+)", page).group(1)).decode()
    rows = csv.splitlines()[1:]
    assert rows[0].startswith("\"'=HYPERLINK") and rows[1].startswith("'@SUM") and rows[3] == "-0.5,4", csv
    assert rows[2] == "plain,3" and ",-2" in rows[1]


def test_leftover_cleaning_spares_look_alike_user_files(small_world, tmp_path):
    raw, out = _case_dirs(small_world, tmp_path)
    (tmp_path / ".processed.tmp-my-folder").mkdir()
    mine = [tmp_path / ".processed.tmp-my-notes.txt", tmp_path / ".processed.old-backup",
            tmp_path / ".processed.tmp-my-folder" / "notes.txt"]
    for p in mine:
        p.write_text("mine")
    stale = tmp_path / ".processed.tmp-deadbeef"
    stale.mkdir()
    code, err = _run("build", "--quiet", "--raw", raw, "--out", out)
    assert code == 0, err
    assert not stale.exists() and all(p.read_text() == "mine" for p in mine)


def test_design_assign_replaces_only_its_own_file(tmp_path):
    sites = tmp_path / "sites.csv"
    pd.DataFrame({"site_id": [f"S{i}" for i in range(40)], "pole": ["A", "B"] * 20}).to_csv(sites, index=False)
    mine = tmp_path / "plan.csv"
    mine.write_text("my own schedule\n")
    args = ["design", "assign", "--sites", sites, "--waves", "2026:20,2027:20", "--strata", "pole", "--seed", "3",
            "--quiet", "--out"]
    code, err = _run(*args, mine)
    assert code == 2 and "did not write" in err and len(err.strip().splitlines()) == 1, err
    assert mine.read_text() == "my own schedule\n"
    ours = tmp_path / "assignment.csv"
    assert _run(*args, ours)[0] == 0
    first = ours.read_bytes()
    assert _run(*args, ours)[0] == 0 and ours.read_bytes() == first  # an earlier assignment file is replaced
