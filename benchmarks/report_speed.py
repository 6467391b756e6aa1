"""Time ``make report`` on a fresh clone, phase by phase (issue 27, part 3: at most 8 minutes on 2 cores).

Usage::

    python benchmarks/report_speed.py [--repo .] [--rev HEAD] [--dest /tmp/rr] [--jobs N]

Clones ``--rev`` of ``--repo`` into ``--dest`` (which must not exist), runs ``make report`` there exactly as a user
does (the environment's ``pip install``, ``simulate --size default --if-missing``, ``build``, ``render``) and prints
the wall time of each phase (the moment ``make`` echoes the next command ends the phase before), the total, the
CPU time of the whole command, the load average before and after, the render's summary line, and the render's
worker time per notebook read from the sidecars. Refuses to start while another ``ceci-impact render`` runs on the
machine (it would share the two cores). Nothing outside ``--dest`` is written.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

PHASES = (("install", None), ("simulate", "ceci-impact simulate"), ("build", "ceci-impact build"),
          ("render", "ceci-impact render"))


def _other_renders() -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout.splitlines()
    return [ln.strip() for ln in out if "ceci-impact render" in ln and str(os.getpid()) not in ln.split()[:1]]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repo", default=str(Path(__file__).resolve().parents[1]), help="repository to clone")
    ap.add_argument("--rev", default="HEAD", help="commit or branch to clone (default HEAD)")
    ap.add_argument("--dest", default="/tmp/rr", help="folder of the fresh clone (must not exist)")
    ap.add_argument("--jobs", type=int, default=None, help="render workers (default: make's default, the cores)")
    a = ap.parse_args(argv)
    dest = Path(a.dest)
    if dest.exists():
        sys.exit(f"--dest {dest} exists; expected a new folder for the fresh clone")
    busy = _other_renders()
    if busy:
        sys.exit(f"another render is running ({busy[0]}); measure when the machine is not rendering")
    sha = subprocess.run(["git", "-C", a.repo, "rev-parse", a.rev], capture_output=True, text=True,
                         check=True).stdout.strip()
    subprocess.run(["git", "clone", "-q", a.repo, str(dest)], check=True)
    subprocess.run(["git", "-C", str(dest), "checkout", "-q", sha], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    cmd = ["make", "report"] + ([f"JOBS={a.jobs}"] if a.jobs else [])
    print(f"commit {sha[:12]}  cores {os.cpu_count()}  load before {os.getloadavg()[0]:.2f}  "
          f"command: cd {dest} && {' '.join(cmd)}", flush=True)
    marks: dict[str, float] = {}
    summary = ""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=dest, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            bufsize=1)
    with open(dest / "make_report.log", "w") as log:
        for line in proc.stdout:
            log.write(line)
            for name, echo in PHASES[1:]:
                if name not in marks and line.startswith(".venv/bin/") and echo in line:
                    marks[name] = time.perf_counter() - t0
            if "render:" in line and "rendered" in line:
                summary = line.strip()
    rc = proc.wait()
    total = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    starts = [0.0] + [marks.get(n, total) for n, _ in PHASES[1:]] + [total]
    for (name, _), s, e in zip(PHASES, starts, starts[1:], strict=False):
        print(f"{name:9s} {e - s:7.1f} s")
    print(f"{'total':9s} {total:7.1f} s  ({total / 60:.1f} min; exit code {rc}; CPU user+sys of the command "
          f"{ru.ru_utime + ru.ru_stime:.0f} s; load after {os.getloadavg()[0]:.2f})")
    print(re.sub(r"^\[\s*[\d.]+s\]\s*", "", summary) or "no render summary (see make_report.log)")
    per = collections.defaultdict(list)
    for f in (dest / "reports" / "results").glob("*.json"):
        d = json.loads(f.read_text())
        if "duration_s" in d:
            per[d["notebook"]].append((d["duration_s"], d.get("cpu_s", float("nan"))))
    if per:
        print("render per notebook (worker wall time and CPU time, sums over its runs, s):")
        for nb, v in sorted(per.items(), key=lambda kv: -sum(w for w, _ in kv[1])):
            wall, cpu = sum(w for w, _ in v), sum(c for _, c in v)
            print(f"  {nb:30s} runs {len(v):3d}  wall {wall:7.1f} (mean {wall / len(v):5.1f})  cpu {cpu:7.1f}")
        allv = [x for v in per.values() for x in v]
        print(f"  {'all':30s} runs {len(allv):3d}  wall {sum(w for w, _ in allv):7.1f}  "
              f"cpu {sum(c for _, c in allv):7.1f}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
