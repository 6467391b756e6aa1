"""Project hygiene: environment.yml mirrors pyproject.toml, ruff-clean sources, parameter schemas."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from ceci_impact import CeciError
from ceci_impact.report import params

from .conftest import ROOT


def test_environment_yml_mirrors_pyproject():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())
    env = (ROOT / "environment.yml").read_text()
    req = py["project"]["requires-python"].replace(">=", "")
    assert f"python>={req}" in env
    assert "- pip\n" in env and "-e .[dev,docs]" in env
    assert {"dev", "docs"} <= set(py["project"]["optional-dependencies"])
    # the environment installs the project itself, so its dependencies are exactly pyproject's
    deps = [d.split(">=")[0].split("[")[0] for d in py["project"]["dependencies"]]
    for name in ("pandas", "statsmodels", "linearmodels", "matplotlib", "seaborn", "papermill", "jupyterlab"):
        assert name in deps
    lines = [ln.strip() for ln in env.splitlines() if ln.strip().startswith("- ")]
    assert all(ln in ("- conda-forge", f"- python>={req}", "- pip", "- pip:", "- -e .[dev,docs]") for ln in lines), lines


def test_ruff_clean():
    ruff = shutil.which("ruff") or str(ROOT / ".venv" / "bin" / "ruff")
    if not shutil.os.path.exists(ruff):
        pytest.skip("ruff not installed")
    r = subprocess.run([ruff, "check", "src", "tests", "benchmarks"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:]


def test_parameter_validation_messages():
    ok = params.validate("20_absenteeism", {"ring_km": 3, "covariates": []})
    assert ok.ring_km == 3.0 and ok.covariates == []
    with pytest.raises(CeciError, match=r"parameter ring_km=99.0 is out of range; expected 0 <= ring_km <= 20"):
        params.validate("20_absenteeism", {"ring_km": 99})
    with pytest.raises(CeciError, match="item 'ols' is not allowed"):
        params.validate("10_female_employment", {"estimators": ["ols"]})
    with pytest.raises(CeciError, match="expected bool|expected int"):
        params.validate("10_female_employment", {"anticipation": True})
    with pytest.raises(AttributeError):
        ok.ring_km = 2


def test_cli_help_is_usable():
    r = subprocess.run([sys.executable, "-m", "ceci_impact.cli", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "simulate" in r.stdout and "build" in r.stdout and "render" in r.stdout
    r = subprocess.run([sys.executable, "-m", "ceci_impact.cli", "simulate", "--size", "huge"], capture_output=True,
                       text=True)
    assert r.returncode == 2 and "invalid choice" in r.stderr


def _import_graph() -> tuple[dict[str, set[str]], dict[str, Path]]:
    """Module -> the package modules it imports (relative imports, lazy ones included)."""
    import ast

    root = ROOT / "src"
    mods = {}
    for f in root.rglob("*.py"):
        name = ".".join(f.relative_to(root).with_suffix("").parts)
        mods[name.removesuffix(".__init__")] = f
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, f in mods.items():
        pkg = m if f.name == "__init__.py" else m.rsplit(".", 1)[0]
        for n in ast.walk(ast.parse(f.read_text())):
            if isinstance(n, ast.ImportFrom) and n.level:
                base = pkg.split(".")[: len(pkg.split(".")) - (n.level - 1)]
                tgt = ".".join(base + ([n.module] if n.module else []))
                graph[m] |= {c for c in [tgt, *(f"{tgt}.{a.name}" for a in n.names)] if c in mods and c != m}
    return graph, mods


# the layers, lowest first: a module may import its own layer and the layers below it (docs/architecture.md)
LAYERS = ["foundation", "data", "did", "design", "study", "report", "cli"]


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] not in LAYERS:
        return "cli" if parts[-1] == "cli" else "foundation"
    return parts[1]


def test_each_layer_imports_only_the_layers_below_it():
    graph, _ = _import_graph()
    bad = [f"{m} ({_layer(m)}) imports {t} ({_layer(t)})" for m, ts in graph.items() for t in ts
           if t != "ceci_impact" and LAYERS.index(_layer(t)) > LAYERS.index(_layer(m))]
    assert not bad, "; ".join(sorted(bad))


def test_no_import_cycle_in_src():
    """No module imports, directly or through others, a module that imports it back (lazy imports included;
    the package ``__init__`` re-exports are left out)."""
    graph, mods = _import_graph()
    inits = {m for m, f in mods.items() if f.name == "__init__.py"}
    state: dict[str, int] = {}

    def visit(u, path):
        state[u] = 1
        for v in graph[u] - inits:
            assert state.get(v) != 1, "import cycle: " + " -> ".join([*path[path.index(v):], v])
            if v not in state:
                visit(v, [*path, v])
        state[u] = 2

    for m in sorted(set(graph) - inits):
        if m not in state:
            visit(m, [m])


def test_no_function_over_150_lines_and_no_module_over_600():
    import ast

    long = []
    for f in sorted((ROOT / "src").rglob("*.py")):
        text = f.read_text()
        if len(text.splitlines()) > 600:
            long.append(f"{f.name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > 150:
                long.append(f"{f.name}: {node.name} has {node.end_lineno - node.lineno + 1} lines")
    assert not long, "; ".join(long)
