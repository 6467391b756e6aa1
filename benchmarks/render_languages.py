"""Benchmark: the cost of the second language. Renders the same runs twice, from scratch, into two temporary report
folders: once with one edition only (``CECI_LANGS=en``) and once with both (Spanish and English, the default), and
prints the wall time and CPU time (all processes) of each, and the ratio.

Usage (after ``make report`` has built ``data/processed``):

    .venv/bin/python benchmarks/render_languages.py [--runs 00_summary 10_female_employment 20_absenteeism ...]
                                                    [--jobs 2] [--work /tmp/ceci-render-bench]

Each notebook executes once in both configurations; the second language adds its text to the outputs, its
drawing of every figure and its HTML export.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RUNS = ["00_summary", "01_data_overview", "10_female_employment", "20_absenteeism", "30_retention",
                "70_women_daily_wage", "50_rollout_design"]


def _plan(runs: list[str], out: Path) -> Path:
    """A run plan with the named runs of notebooks/runplan.toml (written beside the notebooks, removed after)."""
    plan = tomllib.loads((ROOT / "notebooks" / "runplan.toml").read_text())
    chosen = [r for r in plan["run"] if r["name"] in runs]
    lines = ["[defaults]", *(f"{k} = {v!r}".replace("'", '"') for k, v in plan.get("defaults", {}).items()), ""]
    for r in chosen:
        lines += ["[[run]]", f'name = "{r["name"]}"', f'notebook = "{r["notebook"]}"', f'group = "{r.get("group", "")}"']
        if r.get("parameters"):
            params = ", ".join(f"{k} = {v!r}".replace("'", '"') for k, v in r["parameters"].items())
            lines.append(f"parameters = {{ {params} }}")
        lines.append("")
    out.write_text("\n".join(lines))
    return out


def _render(plan: Path, reports: Path, jobs: int, langs: str | None) -> tuple[float, float]:
    env = dict(os.environ)
    if langs:
        env["CECI_LANGS"] = langs
    shutil.rmtree(reports, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run([str(Path(sys.executable).with_name("ceci-impact")), "render", "--plan", str(plan), "--reports",
                    str(reports), "--jobs", str(jobs), "--force", "--quiet"], check=True, env=env, cwd=ROOT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return time.perf_counter() - t, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", nargs="+", default=DEFAULT_RUNS)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--work", default="/tmp/ceci-render-bench")
    ap.add_argument("--export-share", metavar="REPORTS", default=None,
                    help="only print the share of export time in an existing reports folder (e.g. reports/ after make report)")
    args = ap.parse_args()
    if args.export_share:
        print(f"exporting the HTML editions: {_export_share(Path(args.export_share)):.1f} % of the runs' time")
        return
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    plan = _plan(args.runs, ROOT / "notebooks" / ".render_languages_plan.toml")
    try:
        one = _render(plan, work / "one_language", args.jobs, "en")
        two = _render(plan, work / "two_languages", args.jobs, None)
    finally:
        plan.unlink(missing_ok=True)
    print(f"{len(args.runs)} runs, {args.jobs} jobs")
    print(f"  one edition (CECI_LANGS=en): {one[0]:.1f} s wall, {one[1]:.1f} s CPU")
    print(f"  two editions (es + en):      {two[0]:.1f} s wall, {two[1]:.1f} s CPU")
    print(f"  second language adds {100 * (two[0] / one[0] - 1):+.1f} % wall, {100 * (two[1] / one[1] - 1):+.1f} % CPU")
    print(f"  exporting the HTML editions: {_export_share(work / 'two_languages'):.1f} % of the runs' time (sidecars)")


def _export_share(reports: Path) -> float:
    """Per cent of the runs' time spent exporting HTML (``duration_s`` against ``execute_s`` of the sidecars); run
    on a whole ``make report`` folder it gives the figure the README quotes."""
    import json

    sides = [json.loads(p.read_text()) for p in (reports / "results").glob("*.json")
             if not p.name.endswith((".failed.json", ".skipped.json"))]
    total = sum(d.get("duration_s", 0) for d in sides)
    return 100 * (total - sum(d.get("execute_s", 0) for d in sides)) / total if total else float("nan")


if __name__ == "__main__":
    main()
