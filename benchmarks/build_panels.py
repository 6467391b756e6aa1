"""Benchmark: build the panels from the `default` and `national` simulated worlds, and ingest real-size `asg` months.

Prints, per world and engine, the wall time of the whole build, rows per second of the employer × month panel and
the peak resident memory of the build's process tree (sampled from /proc every 0.2 s: the Python process with
DuckDB and, for ``--engine spark``, the Spark JVM in local mode). Usage:

    .venv/bin/python benchmarks/build_panels.py [--sizes default national] [--engine duckdb spark] [--work /tmp/ceci-bench]
                                               [--memory-limit 6GB] [--spark-memory 8g]
    .venv/bin/python benchmarks/build_panels.py --real-size [--months 12] [--mb 390]

``--real-size`` writes real-size months (about 390 MB and 4.4 M rows each, by replicating a default world's rows,
each replica under another ``cve_subdelegacion`` so that cells stay distinct) and prints, in one run, the seconds
per month and peak memory of the build's checked ingestion (``panels.stage_asegurados``) beside a bare DuckDB scan
of the same files (every column as text, one group-by), then the time a malformed real-size month takes to fail
with its one-line error. Worlds are simulated once into --work and reused on later runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


def _real_size_months(work: Path, months: int, mb: float) -> Path:
    """A raw folder whose asg months are real-size replicas of a default world's months."""
    import shutil

    src = work / "default_raw"
    if not (src / "truth.json").exists():
        subprocess.run([sys.executable, "-m", "ceci_impact.cli", "simulate", "--quiet", "--size", "default",
                        "--out", str(src)], check=True)
    raw = work / f"realsize_{months}_raw"
    files = sorted((src / "asegurados").glob("asg-*.csv"))[:months]
    if (raw / "asegurados").is_dir() and len(list((raw / "asegurados").glob("asg-*.csv"))) == len(files):
        return raw
    shutil.rmtree(raw, ignore_errors=True)
    (raw / "asegurados").mkdir(parents=True)
    shutil.copy2(src / "crosswalk_imss_municipio_to_inegi.csv", raw)
    for f in files:
        data = f.read_bytes()
        head, body = data.split(b"\n", 1)
        cols = head.decode("latin-1").split("|")
        k = next(i for i, c in enumerate(cols) if c == "cve_subdelegacion")
        rows = [r.split(b"|") for r in body.splitlines() if r]
        reps = int(mb * 1e6 // len(body)) + 1
        with open(raw / "asegurados" / f.name, "wb") as out:
            out.write(head + b"\n")
            for rep in range(reps):
                tag = str(rep).encode()
                out.write(b"\n".join(b"|".join([*r[:k], r[k] + tag, *r[k + 1:]]) for r in rows) + b"\n")
    return raw


_INGEST = """
import json, resource, sys, time, duckdb
from pathlib import Path
from ceci_impact.data import panels
from ceci_impact.data.asg_sql import detect_encoding, read_header, _read_csv_sql
raw, mode = Path(sys.argv[1]), sys.argv[2]
con = duckdb.connect()
files = sorted((raw / "asegurados").glob("asg-*.csv"))
encs = {f: detect_encoding(f) for f in files} if mode == "bare" else {}  # the bare scan is told the encoding
t = time.perf_counter()
if mode == "bare":
    for f in files:
        enc = encs[f]
        con.execute(f"SELECT cve_municipio, sexo, SUM(CAST(ta AS BIGINT)) FROM {_read_csv_sql(f, read_header(f, enc), enc)} "
                    "GROUP BY ALL").fetchall()
else:
    panels.stage_asegurados(raw, con, lambda *a: None)
print(json.dumps({"seconds": time.perf_counter() - t, "files": len(files),
                  "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""


def real_size(work: Path, months: int, mb: float) -> None:
    raw = _real_size_months(work, months, mb)
    size = sum(f.stat().st_size for f in (raw / "asegurados").glob("asg-*.csv"))
    res = {}
    for mode in ("bare", "checked"):
        r = subprocess.run([sys.executable, "-c", _INGEST, str(raw), mode], check=True, capture_output=True, text=True)
        res[mode] = json.loads(r.stdout.strip().splitlines()[-1])
    b, c = res["bare"], res["checked"]
    n = c["files"]
    print(f"real-size asg: {n} months, {size / n / 1e6:.0f} MB per month ({size / 1e9:.1f} GB)")
    print(f"  bare DuckDB scan (text columns, one group-by): {b['seconds'] / n:.2f} s per month, peak {b['peak_gib']:.2f} GiB")
    print(f"  checked ingestion (stage_asegurados):          {c['seconds'] / n:.2f} s per month, peak {c['peak_gib']:.2f} GiB")
    print(f"  ratio checked / bare: {c['seconds'] / b['seconds']:.2f}x; 60 months would take about "
          f"{60 * c['seconds'] / n / 60:.1f} min")
    bad = work / "realsize_bad_raw"
    import shutil

    shutil.rmtree(bad, ignore_errors=True)
    (bad / "asegurados").mkdir(parents=True)
    shutil.copy2(raw / "crosswalk_imss_municipio_to_inegi.csv", bad)
    f = sorted((raw / "asegurados").glob("asg-*.csv"))[0]
    with open(f, "rb") as src, open(bad / "asegurados" / f.name, "wb") as dst:
        half = src.read(f.stat().st_size // 2)
        dst.write(half[: half.rfind(b"\n") + 12])  # truncated mid-row: the last row keeps a few of its fields
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "ceci_impact.cli", "build", "--quiet", "--open-data-only", "--raw", str(bad),
                        "--out", str(work / "realsize_bad_out")], capture_output=True, text=True)
    print(f"  malformed real-size month: exit {r.returncode} after {time.perf_counter() - t:.1f} s: {r.stderr.strip()}")


def _tree_rss_kib(pid: int) -> int:
    """Resident memory (KiB) of a process and all its descendants, from /proc."""
    kids: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            status = (d / "status").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(d.name))
        rss[int(d.name)] = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    todo, total = [pid], 0
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo += kids.get(p, [])
    return total


def _run_sampled(cmd: list[str]) -> tuple[float, float, str]:
    """Run ``cmd``; wall seconds, peak GiB of its process tree, stderr."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss_kib(proc.pid))
        time.sleep(0.2)
    err = proc.stderr.read()
    if proc.returncode:
        raise SystemExit(f"build failed ({' '.join(cmd)}): {err.strip().splitlines()[-1] if err.strip() else proc.returncode}")
    return time.perf_counter() - t, peak / 2**20, err


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=["default", "national"])
    ap.add_argument("--work", default="/tmp/ceci-bench")
    ap.add_argument("--memory-limit", default="6GB", help="DuckDB memory limit for the build")
    ap.add_argument("--engine", nargs="+", default=["duckdb"], choices=["duckdb", "spark"],
                    help="engines to build with, each in one run (default duckdb)")
    ap.add_argument("--spark-memory", default="8g", help="Spark driver memory in local mode (default 8g)")
    ap.add_argument("--real-size", action="store_true", help="ingest real-size asg months instead (see above)")
    ap.add_argument("--months", type=int, default=12, help="with --real-size: number of months (default 12)")
    ap.add_argument("--mb", type=float, default=390, help="with --real-size: MB per month (default 390)")
    args = ap.parse_args()
    work = Path(args.work)
    if args.real_size:
        real_size(work, args.months, args.mb)
        return
    for size in args.sizes:
        raw, out = work / f"{size}_raw", work / f"{size}_processed"
        if not (raw / "truth.json").exists():
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "ceci_impact.cli", "simulate", "--quiet", "--size", size,
                            "--out", str(raw)], check=True)
            print(f"{size}: simulated in {time.perf_counter() - t:.0f} s")
        for engine in args.engine:
            dest = out.with_name(f"{out.name}_{engine}")
            cmd = [sys.executable, "-m", "ceci_impact.cli", "build", "--quiet", "--raw", str(raw), "--out", str(dest),
                   "--memory-limit", args.memory_limit, "--engine", engine]
            if engine == "spark":
                cmd = [sys.executable, "-c", "import os, sys; os.environ.setdefault('PYSPARK_SUBMIT_ARGS', "
                       f"'--driver-memory {args.spark_memory} pyspark-shell'); from ceci_impact.cli import main; "
                       "sys.exit(main(sys.argv[1:]))", *cmd[3:]]
            wall, peak, _ = _run_sampled(cmd)
            st = json.loads((dest / "manifest.json").read_text())["stats"]
            rows, secs = st["employer_month_rows"], st["employer_panel_seconds"]
            print(f"{size} [{engine}]: {st['spells']:,} job spells -> employer_month {rows:,} rows in {secs:.1f} s "
                  f"({rows / secs:,.0f} rows/s); whole build {wall:.1f} s; peak memory of the build (process tree) "
                  f"{peak:.2f} GiB", flush=True)


if __name__ == "__main__":
    main()
