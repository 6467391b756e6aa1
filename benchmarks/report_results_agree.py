"""Do two renders publish the same numbers? (issue 27, part 3: the render made faster, the results unchanged)

Usage::

    python benchmarks/report_results_agree.py BEFORE_REPORTS AFTER_REPORTS [--top 25]

Reads every run's sidecar (``results/<run>.json``) of both renders and walks their ``results`` (the headline
numbers, tables and intervals a report records) side by side. Prints how many numbers there are, how many are
identical bit for bit, the largest relative difference for each run family and result (with the run, the path in
the sidecar and both values), and every non-numeric difference (a missing key, another length, another text). The
two renders must come from the same data (their sidecars' ``data_fingerprint`` is compared). Writes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _walk(x, y, path: str, run: str, acc: dict) -> None:
    if isinstance(x, dict) and isinstance(y, dict):
        for k in sorted(set(x) | set(y), key=str):
            if k not in x or k not in y:
                acc["other"].append((run, f"{path}/{k}", "missing in one render"))
            else:
                _walk(x[k], y[k], f"{path}/{k}", run, acc)
    elif isinstance(x, list) and isinstance(y, list):
        if len(x) != len(y):
            acc["other"].append((run, path, f"length {len(x)} against {len(y)}"))
            return
        for i, (u, v) in enumerate(zip(x, y, strict=True)):
            _walk(u, v, f"{path}[{i}]", run, acc)
    elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (x, y)):
        acc["n"] += 1
        if x == y:
            acc["same"] += 1
            return
        rel = abs(x - y) / max(abs(x), abs(y))
        key = (run.split("_")[0], path.split("/")[1].split("[")[0] if "/" in path else path)
        if rel > acc["worst"].get(key, (0.0,))[0]:
            acc["worst"][key] = (rel, run, path, x, y)
    elif x != y:
        acc["other"].append((run, path, f"{str(x)[:60]!r} against {str(y)[:60]!r}"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("before", type=Path, help="reports folder of the first render")
    ap.add_argument("after", type=Path, help="reports folder of the second render")
    ap.add_argument("--top", type=int, default=25, help="largest differences shown (default 25)")
    a = ap.parse_args(argv)
    acc = {"n": 0, "same": 0, "worst": {}, "other": []}
    runs = 0
    for f in sorted((a.before / "results").glob("*.json")):
        if f.name.startswith(".") or f.stem.endswith((".failed", ".skipped")):
            continue
        g = a.after / "results" / f.name
        if not g.exists():
            acc["other"].append((f.stem, "", "no sidecar in the second render"))
            continue
        s, t = json.loads(f.read_text()), json.loads(g.read_text())
        if s.get("data_fingerprint") != t.get("data_fingerprint"):
            sys.exit(f"{f.stem}: the renders read other data ({s.get('data_fingerprint')} against "
                     f"{t.get('data_fingerprint')}); expected two renders of the same panels")
        runs += 1
        _walk(s.get("results", {}), t.get("results", {}), "", f.stem, acc)
    print(f"runs {runs}; numbers {acc['n']}, identical {acc['same']} ({acc['n'] - acc['same']} differ)")
    print("largest relative difference by run family and result:")
    for _key, (rel, run, path, x, y) in sorted(acc["worst"].items(), key=lambda kv: -kv[1][0])[:a.top]:
        print(f"  {rel:9.2e}  {run}  {path}  {x!r} -> {y!r}")
    print(f"non-numeric differences: {len(acc['other'])}")
    for o in acc["other"][:20]:
        print("  ", *o)
    return 0


if __name__ == "__main__":
    sys.exit(main())
