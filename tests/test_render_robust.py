"""The renderer under failure: reasons on the command line, reruns after a failure, refused non-finite parameters,
valid JSON sidecars, and a render that dies with its workers and kernels."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from ceci_impact.report import params, render

from .conftest import ROOT


def _notebook(path: Path, code: str) -> None:
    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell("x = 1  # a parameter\nresults_path = \"\"  # set by the renderer")
    p.metadata["tags"] = ["parameters"]
    nb.cells = [p, nbformat.v4.new_code_cell(code)]
    nb.metadata["kernelspec"] = {"name": render.KERNEL, "language": "python", "display_name": "Python (ceci-impact)"}
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.write(nb, path)


def _plan(folder: Path, runs: dict[str, str]) -> Path:
    text = "".join(f'[[run]]\nname = "{n}"\nnotebook = "{nb}"\ngroup = "G"\n\n' for n, nb in runs.items())
    (folder / "plan.toml").write_text(text)
    return folder / "plan.toml"


def test_failure_reason_reaches_the_command_line_and_a_rerun_reruns(tmp_path, capsys):
    nbdir = tmp_path / "nb"
    nbdir.mkdir()
    flag = tmp_path / "fail"
    flag.write_text("1")
    _notebook(nbdir / "flaky.ipynb", f"from pathlib import Path\nfrom ceci_impact import CeciError\n"
                                     f"if Path({str(flag)!r}).exists():\n    raise CeciError('the panel is missing')")
    plan = _plan(nbdir, {"flaky": "flaky.ipynb"})
    reports = tmp_path / "reports"
    assert not render.render(plan, reports, quiet=True, jobs=1)
    err = capsys.readouterr().err
    assert "FAILED flaky: cell 2: CeciError: the panel is missing" in err
    fail = json.loads((reports / "results" / "flaky.failed.json").read_text())
    assert fail["error"] == "cell 2: CeciError: the panel is missing"
    assert "the panel is missing" in (reports / "es" / "index.html").read_text()
    flag.unlink()
    assert render.render(plan, reports, quiet=True, jobs=1)  # the failed run runs again, now successfully
    assert json.loads((reports / "results" / "flaky.json").read_text())["status"] == "ok"
    assert not (reports / "results" / "flaky.failed.json").exists()
    before = (reports / "results" / "flaky.json").read_text()
    assert render.render(plan, reports, quiet=True, jobs=1)  # and now it is unchanged
    assert (reports / "results" / "flaky.json").read_text() == before


def test_non_finite_parameters_are_refused():
    from ceci_impact import CeciError

    for bad in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(CeciError, match="expected a finite number"):
            params.check_overrides("20_absenteeism", {"alpha": bad})


def test_nan_override_fails_the_run_with_valid_json(tmp_path):
    nbdir = tmp_path / "nb"
    nbdir.mkdir()
    _notebook(nbdir / "20_absenteeism.ipynb", "pass")
    plan = _plan(nbdir, {"a": "20_absenteeism.ipynb"})
    reports = tmp_path / "reports"
    assert not render.render(plan, reports, quiet=True, jobs=1, overrides=["alpha=NaN"])
    text = (reports / "results" / "a.failed.json").read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"invalid JSON constant {c}"))
    assert "finite" in json.loads(text)["error"]


def test_every_declared_parameter_is_used():
    """Each name of a notebook's parameters cell is read through the validated parameters (``P.name``)."""
    for nb_path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(nb_path, as_version=4)
        cells = [c for c in nb.cells if c.cell_type == "code"]
        pcell = next(c for c in cells if "parameters" in c.metadata.get("tags", []))
        names = [ln.split("=")[0].split(":")[0].strip() for ln in pcell.source.splitlines()
                 if "=" in ln and not ln.startswith("#")]
        rest = "\n".join(c.source for c in cells if c is not pcell)
        unused = [n for n in names if f"P.{n}" not in rest and f"P['{n}']" not in rest]
        assert not unused, f"{nb_path.name}: parameters declared but never used: {unused}"
        assert set(names) == set(params.SCHEMAS[nb_path.stem]), nb_path.name
        typed = [ln for ln in pcell.source.splitlines() if "=" in ln and not ln.startswith("#")]
        assert all(re.match(r"^\w+: [\w\[\] |]+ = ", ln) for ln in typed), f"{nb_path.name}: annotate every parameter"


def _slow_render(tmp_path: Path, stderr=subprocess.DEVNULL) -> tuple[subprocess.Popen, list, Path, Path]:
    """Start ``ceci-impact render`` on a notebook that sleeps; return it once its kernel runs, with its process
    tree, the plan and the reports folder."""
    nbdir = tmp_path / "nb"
    nbdir.mkdir()
    _notebook(nbdir / "slow.ipynb", "import time\ntime.sleep(120)")
    plan = _plan(nbdir, {"slow": "slow.ipynb"})
    reports = tmp_path / "reports"
    (reports / "es").mkdir(parents=True)
    cli = [str(Path(sys.executable).with_name("ceci-impact")), "render", "--plan", str(plan), "--reports",
           str(reports), "--jobs", "1", "--quiet"]
    proc = subprocess.Popen(cli, stdout=subprocess.DEVNULL, stderr=stderr, text=True)
    me = psutil.Process(proc.pid)
    deadline = time.time() + 90
    while time.time() < deadline and not any("ipykernel" in " ".join(k.cmdline()) for k in me.children(recursive=True)):
        time.sleep(0.5)
    tree = me.children(recursive=True)
    assert any("ipykernel" in " ".join(k.cmdline()) for k in tree), "no kernel started"
    return proc, tree, plan, reports


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal and process trees: Linux")
def test_sigterm_stops_workers_and_kernels_and_keeps_reports(tmp_path):
    proc, tree, plan, reports = _slow_render(tmp_path, stderr=subprocess.PIPE)
    good = reports / "es" / "slow.html"
    good.write_text("last good report")
    time.sleep(2)
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "stopped by SIGTERM" in lines[0], err
    _, alive = psutil.wait_procs(tree, timeout=20)
    assert not alive, f"still running after the render stopped: {[p.cmdline() for p in alive]}"
    assert good.read_text() == "last good report"
    # the lock is free again, and a new render cleans the killed run's leftovers
    _notebook(plan.parent / "slow.ipynb", "pass")
    assert render.render(plan, reports, quiet=True, jobs=1)
    assert not list((reports / "executed").glob(".*.running.ipynb"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal: Linux")
def test_sigkill_leaves_no_worker_writing_reports(tmp_path):
    """A render killed outright takes its workers with it (parent-death signal); their kernels then exit."""
    proc, tree, _, reports = _slow_render(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    _, alive = psutil.wait_procs(tree, timeout=30)
    assert not alive, f"orphans still running: {[p.cmdline() for p in alive]}"
    assert not (reports / "es" / "slow.html").exists()


def test_small_cells_stay_suppressed_in_site_profiles(small_world, tmp_path):
    """A site with fewer than 5 employers around it: the rendered page says so without the number, shows no map
    of employers and no estimate, and its sidecar carries no count of them."""
    import re

    import pandas as pd

    from ceci_impact.study import analysis as A

    proc = small_world / "processed"
    sites = pd.read_parquet(proc / "sites.parquet")
    em = pd.read_parquet(proc / "employer_month.parquet")
    pick = None
    for sid in sites[sites.opening_period > 0].site_id:
        for radius in (0.5, 1.0, 2.0):
            n = int((A.site_employers(proc, A.site_profile(proc, sid), em).km <= radius).sum())
            if 1 <= n < A.MIN_CELL:
                pick = (sid, radius, n)
                break
        if pick:
            break
    assert pick, "the small world has no site with 1-4 employers around it"
    sid, radius, n = pick
    nbdir = tmp_path / "nb"
    shutil_copy = __import__("shutil").copytree
    shutil_copy(ROOT / "notebooks", nbdir)
    plan = nbdir / "one.toml"
    plan.write_text(f'[[run]]\nname = "site"\nnotebook = "40_site_profile.ipynb"\ngroup = "G"\n'
                    f'parameters = {{ processed = "{proc}", site_id = "{sid}", radius_km = {radius}, biters = 99 }}\n')
    reports = tmp_path / "reports"
    assert render.render(plan, reports, quiet=True, jobs=1)
    page = (reports / "en" / "site.html").read_text()
    text = re.sub(r"<[^>]+>", " ", page)
    assert "Fewer than 5 employers" in text and "no count, map or estimate" in text
    for bad in (rf"\bOnly {n}\b", rf"\bn = {n}\b", rf"\b{n} employers\b", r"employers near\)"):
        assert not re.search(bad, text), bad
    assert page.count("<img") == 0  # no map, no event-study figure
    side = json.loads((reports / "results" / "site.json").read_text())
    assert side["results"]["local"]["employers near"] == []


def test_suppression_hides_linked_counts_and_complements():
    import pandas as pd

    from ceci_impact.study import analysis as A

    d = pd.DataFrame({"cohort": ["a", "b", "c"], "employers": [3, 40, 7], "observations": [36, 480, 84]})
    out = A.suppress_small(d, ["employers"], linked=["observations"])
    assert out.employers.tolist() == ["<5", 40, "suppressed"]  # one small cell: the next smallest goes too
    assert out.observations.tolist() == ["suppressed", 480, "suppressed"]  # 36 / 12 months would give 3 back
