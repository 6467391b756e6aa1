"""Command line: ``ceci-impact simulate | build | render | design | backtest-data | kernel``.

User errors (bad files, parameters) print one line ``error: ...`` and exit with status 2,
without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import io as _io
from ._options import CeciError

EPILOG = """\
typical session:
  ceci-impact simulate --size default        # write a simulated world into data/raw
  ceci-impact build                          # build Parquet panels into data/processed
  ceci-impact render                         # execute notebooks, export HTML into reports/

with real data, put the sources into data/raw (see data/raw/README.md) and skip `simulate`.
"""


def _ring(text: str) -> tuple[float, float]:
    try:
        a, b = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two radii in km like 3,10; found {text!r}") from None
    import math

    if not (math.isfinite(a) and math.isfinite(b) and 0 < a < b):
        raise argparse.ArgumentTypeError(f"expected two finite radii in km with 0 < treated < buffer, like 3,10; "
                                         f"found {text!r}")
    return a, b


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``error: ...``, exit status 2) instead of usage plus message."""

    def error(self, message: str):  # noqa: D102
        self.exit(2, f"error: {self.prog}: {message} (see --help)\n")


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="ceci-impact", description="Evaluate CECI childcare centres with staggered difference-in-differences.",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    s = sub.add_parser("simulate", help="write a simulated CECI world in the real sources' formats",
                       description="Write a simulated world (IMSS asg-*.csv files, CECI registry, employers, job "
                                   "spells, incapacity certificates, truth.json) into --out.")
    s.add_argument("--size", default="default", choices=["small", "default", "national"],
                   help="small: tests (seconds); default: make report (about a minute); national: benchmarks")
    s.add_argument("--seed", type=int, default=2026, help="random seed (same seed, same files); default 2026")
    s.add_argument("--out", default="data/raw", help="output folder (default data/raw)")
    s.add_argument("--end", default=None,
                   help="last month of the data window, YYYY-MM, or 'latest' for the last complete month "
                        "(default: the fixed calendar of the size, so a run gives the same numbers any day)")
    s.add_argument("--first-wave", default=None, help="month the first opening wave starts, YYYY-MM")
    s.add_argument("--if-missing", action="store_true", help="do nothing when --out already holds data")
    s.add_argument("--force", action="store_true", help="replace a folder that holds data not simulated by us")
    s.add_argument("--shocks", default=None,
                   help="correlated shocks: default (docs/simulator.md), none (independent world) or "
                        "KNOB=VALUE,... (e.g. mun_sd=0.3,site_sd=0)")
    s.add_argument("--quiet", action="store_true", help="no progress lines")

    b = sub.add_parser("build", help="build the Parquet panels from the raw sources (DuckDB or Spark)",
                       description="Validate every raw source and build municipality x month, employer x month and "
                                   "spell panels into --out. A failed build leaves --out untouched.")
    b.add_argument("--raw", default="data/raw", help="raw-data folder (default data/raw)")
    b.add_argument("--out", default="data/processed", help="processed-data folder (default data/processed)")
    b.add_argument("--ring-km", type=_ring, default=(3.0, 10.0),
                   help="treated and buffer radii in km around opened CECI, e.g. 3,10 (default)")
    b.add_argument("--exposure", default="municipality", choices=["municipality", "pole"],
                   help="municipality cohort: first opening in the municipality or in its PODECOBI pole")
    b.add_argument("--memory-limit", default=None, help="DuckDB memory limit, e.g. 6GB (at least 256MB)")
    b.add_argument("--open-data-only", action="store_true",
                   help="build the municipality panels only (no employer, spell or incapacity files); without it a "
                        "missing confidential source is an error")
    b.add_argument("--allow-gaps", action="store_true",
                   help="accept months missing inside the asg window (recorded as a warning)")
    b.add_argument("--strict", action="store_true",
                   help="turn warnings (gaps, implausible jumps between months, rows without municipality) into errors")
    b.add_argument("--quiet", action="store_true", help="no progress lines (warnings and errors are still printed)")
    b.add_argument("--engine", default="duckdb", choices=["duckdb", "spark"],
                   help="where the panel SQL runs: duckdb (embedded, default) or spark (the [spark] extra and Java)")
    b.add_argument("--spark-master", default=None,
                   help="Spark master URL, e.g. local[*], spark://host:7077, yarn (default: SPARK_MASTER or local[*])")

    r = sub.add_parser("render", help="execute the run plan with Papermill and export HTML reports",
                       description="Execute every run of the plan (notebook x parameters) in worker processes, "
                                   "export HTML without code, write JSON sidecars and reports/index.html. Runs whose "
                                   "notebook, parameters, library version and data are unchanged are skipped. Safe "
                                   "to run on a schedule: a lock prevents overlapping runs and a failed run never "
                                   "replaces the last good report.")
    r.add_argument("--plan", default="notebooks/runplan.toml", help="run plan (TOML); default notebooks/runplan.toml")
    r.add_argument("--reports", default="reports", help="output folder (default reports)")
    r.add_argument("--jobs", type=int, default=None, help="worker processes (default: number of cores)")
    r.add_argument("--only", default=None, help="only runs whose name contains this text")
    r.add_argument("--force", action="store_true", help="re-run even unchanged runs")
    r.add_argument("--timeout", type=int, default=900, help="per-cell timeout in seconds (default 900)")
    r.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override a parameter in every run that declares it, e.g. --set biters=199 (repeatable)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument("--fresh-kernels", action="store_true",
                   help="start a new kernel for every run (default: one kernel per worker, reset between runs)")

    bt = sub.add_parser("backtest-data", help="rebuild the compact guarderías back-test inputs from the originals",
                        description="Rebuild the back-test's compact tables (IMSS jobs by municipality x quarter "
                                    "2000-2011, guarderías openings, Census-2000 covariates) from the original public "
                                    "files; the result is byte-identical to the copy shipped with ceci_impact.")
    bt.add_argument("--from", dest="source", required=True,
                    help="folder with imss_sp/ and guarderias_imss_2009/ (the original files)")
    bt.add_argument("--out", default=None, help="output folder (default: the copy inside the package)")
    bt.add_argument("--quiet", action="store_true", help="no progress lines")

    _design_parser(sub)

    da = sub.add_parser("disclosure-audit", help="run the known disclosure attacks on a finished render",
                        description="Attack a finished render as an intruder holding the confidential employer file "
                                    "would: employer positions in figures and tables, marker sizes or colours "
                                    "encoding one employer's value, and differences of nested or overlapping "
                                    "published areas (docs/disclosure.md). One line per finding; exit status 1 when "
                                    "anything is recoverable.")
    da.add_argument("reports_dir", metavar="REPORTS_DIR", help="the render's output folder, e.g. reports")
    da.add_argument("--processed", default=None,
                    help="confidential panels the render used (default: the sidecars' processed parameter)")
    da.add_argument("--notebooks", default="notebooks",
                    help="folder the notebooks ran in (resolves the sidecars' processed parameter)")

    k = sub.add_parser("kernel", help="register the project's Jupyter kernel (ceci-impact)")
    k.add_argument("--quiet", action="store_true")
    return p


def _design_parser(sub) -> None:
    d = sub.add_parser("design", help="evaluation design: minimum detectable effects, optimal and randomised "
                                      "roll-out schedules")
    ds = d.add_subparsers(dest="design_command", required=True, parser_class=_Parser)
    m = ds.add_parser("mde", help="minimum detectable effect of a panel DiD (Burlig-Preonas-Woerman eq. 2)")
    m.add_argument("--units", type=float, help="number of units J (default with --panel: the panel's units)")
    m.add_argument("--treated-share", type=float, required=True, help="share of units treated, P")
    m.add_argument("--pre", type=int, required=True, help="pre-treatment periods m")
    m.add_argument("--post", type=int, required=True, help="post-treatment periods r")
    m.add_argument("--sigma2", type=float, help="residual variance (or take it from --panel)")
    m.add_argument("--psi-pre", type=float, default=None, help="average covariance of two pre-period errors")
    m.add_argument("--psi-post", type=float, default=None, help="average covariance of two post-period errors")
    m.add_argument("--psi-cross", type=float, default=None, help="average pre/post error covariance")
    m.add_argument("--alpha", type=float, default=0.05)
    m.add_argument("--power", type=float, default=0.8)
    m.add_argument("--df", type=float, default=None, help="degrees of freedom of the t quantiles (default: units)")
    m.add_argument("--panel", default=None, help="a built panel (Parquet) to take the variance components from")
    m.add_argument("--outcome", default=None, help="outcome column of --panel")
    m.add_argument("--idname", default=None, help="unit column of --panel (default: employer_id or cvegeo)")
    m.add_argument("--tname", default="period", help="period column of --panel")
    m.add_argument("--quiet", action="store_true")
    a = ds.add_parser("assign", help="stratified randomised assignment of sites to opening waves")
    a.add_argument("--sites", required=True, help="CSV or Parquet, one row per planned site")
    a.add_argument("--waves", required=True, help="LABEL:COUNT,... in opening order, e.g. 2026:200,2027:250")
    a.add_argument("--strata", default="", help="comma-separated stratum columns, e.g. pole,scheme")
    a.add_argument("--seed", type=int, required=True)
    a.add_argument("--id", dest="id_col", default=None, help="site identifier column (default: the first)")
    a.add_argument("--out", required=True, help="assignment file to write (CSV)")
    a.add_argument("--quiet", action="store_true")
    r = ds.add_parser("rollout", help="T-optimal cumulative treated shares and sites per wave")
    r.add_argument("--periods", type=int, required=True)
    r.add_argument("--carryover", type=int, default=0)
    r.add_argument("--sites", type=int, default=None, help="number of units to schedule")
    r.add_argument("--quiet", action="store_true")


def _design(args) -> None:
    from . import design

    if args.design_command == "mde":
        kw = {}
        units = args.units
        if args.panel:
            import pandas as pd

            if not args.outcome:
                raise CeciError("--panel needs --outcome (the outcome column whose variance components to use)")
            if not Path(args.panel).is_file():
                raise CeciError(f"--panel {args.panel}: file not found; expected a built panel such as "
                                "data/processed/employer_month.parquet")
            try:
                df = pd.read_parquet(args.panel)
            except Exception as exc:
                raise CeciError(f"--panel {args.panel}: could not be read as Parquet ({type(exc).__name__})") from None
            idn = args.idname or next((c for c in ("employer_id", "cvegeo") if c in df.columns), None)
            if idn is None:
                raise CeciError(f"--panel {args.panel}: no unit column; give --idname")
            g = "first_treat" if "first_treat" in df.columns else None
            vc = design.variance_components(df, args.outcome, idn, args.tname, args.pre, args.post, gname=g)
            kw = {"sigma2": vc.sigma2, "psi_pre": vc.psi_pre, "psi_post": vc.psi_post, "psi_cross": vc.psi_cross}
            units = units or df[idn].nunique()
            print(f"variance components of {args.outcome} ({vc.n_units} units, periods {vc.periods[0]} to "
                  f"{vc.periods[-1]}): sigma2 {vc.sigma2:.6g}, psi_pre {vc.psi_pre:.6g}, psi_post {vc.psi_post:.6g}, "
                  f"psi_cross {vc.psi_cross:.6g}")
        elif args.sigma2 is None:
            raise CeciError("give --sigma2 (and optionally --psi-pre/--psi-post/--psi-cross), or --panel and --outcome")
        for k in ("sigma2", "psi_pre", "psi_post", "psi_cross"):
            if getattr(args, k) is not None:
                kw[k] = getattr(args, k)
        if units is None:
            raise CeciError("give --units (the number of units J)")
        mde = design.mde_panel(units, args.treated_share, args.pre, args.post, alpha=args.alpha, power=args.power,
                               df=args.df, **kw)
        print(f"MDE {mde:.6g} (J={units:g}, P={args.treated_share:g}, m={args.pre}, r={args.post}, "
              f"alpha={args.alpha:g}, power={args.power:g})")
    elif args.design_command == "assign":
        from .design.assignment import file_sha256, read_sites

        sites = read_sites(args.sites)
        strata = [s.strip() for s in args.strata.split(",") if s.strip()]
        res = design.assign_waves(sites, design.parse_waves(args.waves), strata, args.seed, id_col=args.id_col,
                                  source=args.sites, sha256=file_sha256(args.sites))
        res.write(args.out)
        if not args.quiet:
            print(res.balance.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
            print(f"assignment written to {args.out} (sites SHA-256 {res.meta['sites_sha256'][:12]}..., "
                  f"seed {args.seed})", file=sys.stderr)
    else:
        w = design.optimal_rollout(args.periods, args.carryover)
        line = " ".join(f"{x:.4f}" for x in w)
        print(f"cumulative treated shares: {line}")
        if args.sites:
            print("units opening per period: " + " ".join(str(n) for n in design.sites_per_wave(w, args.sites)))


def main(argv: list[str] | None = None) -> int:
    """The ``ceci-impact`` command line: run one sub-command; returns the exit status (2 for a user error, printed in one line).

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default: ``sys.argv[1:]``).
    """
    args = parser().parse_args(argv)
    _io.QUIET = bool(args.quiet)
    try:
        if args.command == "simulate":
            from .data.synthetic import check_simulate_folder, simulate

            out = Path(args.out)
            if args.seed < 0 or args.seed >= 2**63:
                raise CeciError(f"--seed {args.seed}: expected a whole number from 0 to 2^63 - 1")
            has_data = out.is_dir() and any(p.name != "README.md" for p in out.iterdir())
            if has_data and args.if_missing:
                if not args.quiet:
                    print(f"{out} already holds data; nothing simulated (--if-missing)", file=sys.stderr)
                return 0
            check_simulate_folder(out, force=args.force)
            simulate(args.size, args.seed, out, end=args.end, first_wave=args.first_wave, quiet=args.quiet,
                     shocks=args.shocks)
        elif args.command == "build":
            from .data.panels import build_all

            build_all(args.raw, args.out, ring_km=args.ring_km, exposure=args.exposure,
                      memory_limit=args.memory_limit, open_data_only=args.open_data_only,
                      allow_gaps=args.allow_gaps, strict=args.strict, quiet=args.quiet, engine=args.engine,
                      spark_master=args.spark_master)
        elif args.command == "render":
            from .report.render import render

            ok = render(args.plan, args.reports, jobs=args.jobs, only=args.only, force=args.force,
                        timeout=args.timeout, overrides=args.set, quiet=args.quiet, fresh_kernels=args.fresh_kernels)
            return 0 if ok else 1
        elif args.command == "backtest-data":
            from .data.backtest_data import SHIPPED, write_compact

            out = write_compact(args.source, args.out or SHIPPED)
            if not args.quiet:
                print(f"back-test inputs written to {out}", file=sys.stderr)
        elif args.command == "design":
            _design(args)
        elif args.command == "disclosure-audit":
            from .report.audit import disclosure_audit

            return 1 if disclosure_audit(args.reports_dir, args.processed, args.notebooks) else 0
        elif args.command == "kernel":
            from .report.render import ensure_kernel

            ensure_kernel(quiet=args.quiet)
    except CeciError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # permissions, disk full, read-only folders: the environment, not a bug
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print(f"error: {args.command}: not enough memory for this problem; expected a smaller problem or more memory",
              file=sys.stderr)
        return 2
    except Exception as exc:  # never a traceback on the command line; CECI_DEBUG=1 shows it
        import os

        if os.environ.get("CECI_DEBUG"):
            raise
        first = (str(exc).strip().splitlines() or [""])[0]
        print(f"error: {args.command}: unexpected {type(exc).__name__}: {first} (a bug or an unchecked input: please "
              "report it; CECI_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
