"""One kernel per render worker, reused across runs (issue 27): nothing of one run reaches the next, and a failed
run (an error, a timeout, a kernel that died) is followed by a good run in a new kernel."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest

from ceci_impact.report import render


def _notebook(path: Path, code: str) -> None:
    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell("x = 1  # a parameter\nresults_path = \"\"  # set by the renderer")
    p.metadata["tags"] = ["parameters"]
    nb.cells = [p, *(nbformat.v4.new_code_cell(c) for c in code.split("\n# --\n"))]
    nb.metadata["kernelspec"] = {"name": render.KERNEL, "language": "python", "display_name": "Python (ceci-impact)"}
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.write(nb, path)


def _plan(folder: Path, runs: list[tuple[str, str]]) -> Path:
    text = "".join(f'[[run]]\nname = "{n}"\nnotebook = "{nb}"\ngroup = "G"\n\n' for n, nb in runs)
    (folder / "plan.toml").write_text(text)
    return folder / "plan.toml"


def _pid_cell(pids: Path, name: str) -> str:
    return f"import os\nopen({str(pids / name)!r}, 'w').write(str(os.getpid()))"


def _stream(reports: Path, run: str) -> str:
    nb = nbformat.read(reports / "executed" / f"{run}.ipynb", as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.fixture
def world(tmp_path):
    nbdir, pids = tmp_path / "nb", tmp_path / "pids"
    nbdir.mkdir()
    pids.mkdir()
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "warnlib.py").write_text("import warnings\n\ndef f():\n    warnings.warn('a library warning')\n")
    return nbdir, pids, tmp_path


def test_runs_share_a_kernel_but_not_its_state(world):
    """The second and third runs execute in the first run's kernel (same process) and see a fresh kernel's state:
    no variable, environment variable, working directory, matplotlib or pandas setting, warning filter, sys.path
    entry or execution count of the run before; and a library warning shown in one run is shown again in the next."""
    nbdir, pids, tmp = world
    lib = str(tmp / "lib")
    dirty = (f"{_pid_cell(pids, 'a')}\n# --\n"
             "import sys, warnings, matplotlib.pyplot as plt, pandas as pd\n"
             f"sys.path.insert(0, {lib!r})\nimport warnlib\nwarnlib.f()\n"
             "leak = 42\nos.environ['CECI_LEAK'] = '1'\nplt.rcParams['lines.linewidth'] = 7\n"
             "pd.set_option('display.max_rows', 3)\nplt.figure()\nos.chdir('/')\n"
             "get_ipython().set_custom_exc((ValueError,), lambda *a, **k: print('custom'))\n"
             "warnings.simplefilter('ignore')")
    clean = ("import os, sys, warnings, matplotlib as mpl, matplotlib.pyplot as plt, pandas as pd\n"
             "assert 'leak' not in globals() and 'warnlib' not in globals()\n"
             "assert 'CECI_LEAK' not in os.environ\n"
             f"assert os.getcwd() == {str(nbdir)!r}, os.getcwd()\n"
             "assert mpl.rcParams['lines.linewidth'] != 7 and plt.get_fignums() == []\n"
             "assert pd.get_option('display.max_rows') == 60\n"
             f"assert {lib!r} not in sys.path\n"
             "assert not any(f[0] == 'ignore' and f[1] is None and f[2] is Warning for f in warnings.filters)\n"
             "assert get_ipython().custom_exceptions == ()\n"
             "assert get_ipython().execution_count <= 4, get_ipython().execution_count\n"
             f"sys.path.insert(0, {lib!r})\nimport warnlib\nwarnlib.f()\n# --\n{_pid_cell(pids, '{name}')}")
    _notebook(nbdir / "dirty.ipynb", dirty)
    _notebook(nbdir / "clean_b.ipynb", clean.replace("{name}", "b"))
    _notebook(nbdir / "clean_c.ipynb", clean.replace("{name}", "c"))
    plan = _plan(nbdir, [("a", "dirty.ipynb"), ("b", "clean_b.ipynb"), ("c", "clean_c.ipynb")])
    reports = tmp / "reports"
    ok = render.render(plan, reports, quiet=True, jobs=1)
    errors = [json.loads(p.read_text())["error"] for p in (reports / "results").glob("*.failed.json")]
    assert ok, errors
    assert all(json.loads((reports / "results" / f"{n}.json").read_text())["cpu_s"] > 0 for n in "abc")
    pid = {n: (pids / n).read_text() for n in "abc"}
    assert pid["a"] == pid["b"] == pid["c"]  # one kernel for the three runs
    assert pid["a"] != str(os.getpid())
    for run in ("b", "c"):  # the warning the library raised was shown in each run, not only the first
        assert "a library warning" in _stream(reports, run), run
    # the executed notebooks count their cells from 1, as in a fresh kernel
    counts = [c.execution_count for c in nbformat.read(reports / "executed" / "c.ipynb", as_version=4).cells
              if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1)), counts


FAILURES = {  # run name: (code, the failure line's expected text; None: the run itself passes)
    "raises": ("raise ValueError('boom')", "cell 3: ValueError: boom"),
    "kills": ("import os\nos._exit(3)", "DeadKernelError"),
    "exits": ("exit()", None),  # the kernel exits on request: the run passes, the next run needs a new kernel
}


def test_a_failed_run_does_not_poison_the_next(world):
    """Runs that raise, kill their kernel or make it exit, each followed in the same worker by a good run: the good
    run executes in a new kernel and sees nothing of the failed one; each failure keeps its one-line reason."""
    nbdir, pids, tmp = world
    runs = []
    for name, (code, _) in FAILURES.items():
        _notebook(nbdir / f"{name}.ipynb", f"{_pid_cell(pids, name)}\n# --\nsecret = 1\n{code}")
        _notebook(nbdir / f"after_{name}.ipynb", f"assert 'secret' not in globals()\n{_pid_cell(pids, 'after_' + name)}")
        runs += [(name, f"{name}.ipynb"), (f"after_{name}", f"after_{name}.ipynb")]
    reports = tmp / "reports"
    assert not render.render(_plan(nbdir, runs), reports, quiet=True, jobs=1)
    for name, (_, expected) in FAILURES.items():
        after = json.loads((reports / "results" / f"after_{name}.json").read_text())
        assert after["status"] == "ok", (name, after)
        assert (pids / name).read_text() != (pids / f"after_{name}").read_text(), name  # a new kernel
        failed = reports / "results" / f"{name}.failed.json"
        if expected is None:
            assert not failed.exists() and json.loads((reports / "results" / f"{name}.json").read_text())["status"] == "ok"
            continue
        err = json.loads(failed.read_text())["error"]
        assert expected in err and "\n" not in err, err
        assert (reports / "executed" / f"{name}.failed.ipynb").exists()


def test_a_timed_out_run_is_stopped_and_the_next_runs(world):
    """A cell past the timeout fails its run; the kernel still computing it is killed, and the next run executes
    in a new kernel without waiting for it."""
    nbdir, pids, tmp = world
    _notebook(nbdir / "slow.ipynb", f"{_pid_cell(pids, 'slow')}\n# --\nimport time\ntime.sleep(120)")
    _notebook(nbdir / "good.ipynb", _pid_cell(pids, "good"))
    plan = _plan(nbdir, [("slow", "slow.ipynb"), ("good", "good.ipynb")])
    reports = tmp / "reports"
    assert not render.render(plan, reports, quiet=True, jobs=1, timeout=3)
    err = json.loads((reports / "results" / "slow.failed.json").read_text())["error"]
    assert "Timeout" in err or "timed out" in err, err
    assert json.loads((reports / "results" / "good.json").read_text())["status"] == "ok"
    import psutil

    assert not psutil.pid_exists(int((pids / "slow").read_text()))  # the kernel stuck in the cell is gone


def test_fresh_kernels_still_start_one_kernel_per_run(world):
    nbdir, pids, tmp = world
    _notebook(nbdir / "a.ipynb", _pid_cell(pids, "a"))
    _notebook(nbdir / "b.ipynb", _pid_cell(pids, "b"))
    plan = _plan(nbdir, [("a", "a.ipynb"), ("b", "b.ipynb")])
    assert render.render(plan, tmp / "reports", quiet=True, jobs=1, fresh_kernels=True)
    assert (pids / "a").read_text() != (pids / "b").read_text()
