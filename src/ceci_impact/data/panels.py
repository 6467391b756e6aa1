"""Analysis panels built with DuckDB SQL from the raw sources, written as Parquet.

One function per panel; the SQL is plain (CTEs, joins, window sums, no Python UDFs) so that
the same statements run on a distributed SQL engine for national microdata.

- ``mun_month_sex.parquet`` / ``mun_month.parquet``: municipality × month (× sex) from the IMSS
  open-data files (platform workers flagged ``ptpd = 1`` are excluded and counted apart).
- ``employer_month.parquet``: employer × month from job spells and incapacity certificates,
  with distance to the nearest opened CECI, exposure ring and cohort.
- ``spells_exposure.parquet``: job spells with their employer's exposure (survival analyses).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Literal

import duckdb
import numpy as np
import pandas as pd

from .._options import CeciError, check_option
from ..calendar import label
from ..io import atomic_dir, log
from . import panel_sql
from .backtest_data import build_guarderias_panel, quarter_label  # noqa: F401  (the back-test panel)
from .engines import DuckDBEngine, EngineName, make_engine
from .provenance import check_unchanged, fingerprint, raw_state
from .sources import (
    asg_files,
    asg_period,
    check_spells_window,
    read_ceci_sites,
    read_crosswalk,
    read_employers,
    read_incapacidades,
    read_job_spells,
    read_municipios,
)

Exposure = Literal["municipality", "pole"]
EARTH_KM = 6371.0088
ASG_KEEP = ["cve_municipio", "sexo", "ta", "ta_sal", "masa_sal_ta", "ptpd"]


def _haversine_sql(a: str, b: str) -> str:
    return (
        f"2 * {EARTH_KM} * asin(sqrt(power(sin(radians({b}.lat - {a}.lat) / 2), 2) + "
        f"cos(radians({a}.lat)) * cos(radians({b}.lat)) * power(sin(radians({b}.lon - {a}.lon) / 2), 2)))"
    )


def stage_asegurados(raw: Path, con: duckdb.DuckDBPyConnection, say=log, *, allow_gaps: bool = False,
                     jump_factor: float = 2.0) -> tuple[int, int, dict]:
    """Check and stage every ``asg`` file in DuckDB SQL (:mod:`ceci_impact.data.asg_sql`) into the table ``asg``.

    Returns the first and last period and the quality record (per-file facts and warnings). IMSS keys missing from
    the crosswalk are an error; rows without a municipality key are excluded with a warning; between months, a
    municipality whose jobs jump by more than ``jump_factor`` against both neighbouring months, or a national total
    more than 10 % away from its neighbours, is a warning naming the cells.

    Parameters
    ----------
    raw : pathlib.Path
        The raw-data folder (the ``asg`` files in it or in ``asegurados/``).
    con : duckdb.DuckDBPyConnection
        The build's DuckDB connection; receives the table ``asg``.
    say : callable
        Progress printer taking one line of text (default :func:`ceci_impact.io.log`).
    allow_gaps : bool
        Turn months missing inside the window into a warning instead of an error.
    jump_factor : float
        Ratio to both neighbouring months above which a municipality's jobs are flagged.
    """
    from .asg_sql import stage_file

    folder = raw / "asegurados" if (raw / "asegurados").is_dir() else raw
    files, warn = asg_files(folder, allow_gaps=allow_gaps)
    cw = read_crosswalk(raw / "crosswalk_imss_municipio_to_inegi.csv")
    con.execute("CREATE OR REPLACE TABLE asg_raw (period BIGINT, cve_municipio VARCHAR, sexo INTEGER, ptpd INTEGER, "
                "ta BIGINT, ta_sal BIGINT, masa_sal_ta DOUBLE, rows_in BIGINT)")
    t0 = time.perf_counter()
    facts = []
    for i, f in enumerate(files):
        facts.append(stage_file(con, f, "asg_raw"))
        if facts[-1]["rows_without_municipality"]:
            warn.append(f"{f}: {facts[-1]['rows_without_municipality']:,} rows ({facts[-1]['jobs_without_municipality']:,} "
                        "jobs) have no IMSS municipality key (cve_municipio empty); excluded from the panels")
        if (i + 1) % 12 == 0 or i + 1 == len(files):
            say(f"  asegurados: {i + 1}/{len(files)} files, {sum(x['rows'] for x in facts):,} rows "
                f"({time.perf_counter() - t0:.1f} s)")
    seen: dict[tuple, str] = {}
    for f, x in zip(files, facts, strict=True):
        sig = (x["rows"], x["jobs"], x["wage_mass"])
        if sig in seen:
            raise CeciError(f"{f}: the same rows, jobs and wage mass as {seen[sig]} (a month's file copied under "
                            "another month's name?); expected each month's own release")
        seen[sig] = f.name
    con.register("cw", cw)
    unknown = con.execute("""
        SELECT a.cve_municipio, MIN(a.period) FROM asg_raw a LEFT JOIN cw ON cw.cve_municipio_imss = a.cve_municipio
        WHERE a.cve_municipio <> '' AND cw.cvegeo_inegi IS NULL GROUP BY 1 ORDER BY 2, 1
    """).fetchall()
    if unknown:
        first = next(f for f in files if asg_period(f) == unknown[0][1])
        raise CeciError(f"{first}: column cve_municipio: IMSS key(s) {', '.join(k for k, _ in unknown[:5])} not in the "
                        "crosswalk; expected keys listed in crosswalk_imss_municipio_to_inegi.csv")
    con.execute("""
        CREATE OR REPLACE TABLE asg AS
        SELECT a.period, cw.cvegeo_inegi AS cvegeo, a.cve_municipio, a.sexo, a.ptpd, a.ta, a.ta_sal, a.masa_sal_ta,
               a.rows_in
        FROM asg_raw a JOIN cw ON cw.cve_municipio_imss = a.cve_municipio
    """)
    # ``cw`` stays registered: the key checks of the municipality panels read it
    for per, jobs in con.execute("SELECT period, SUM(ta) FROM asg GROUP BY period "
                                 "HAVING SUM(ta) > 0 AND SUM(ta) FILTER (WHERE ptpd = 0) IS NULL "
                                 "OR SUM(ta) FILTER (WHERE ptpd = 0) = 0 ORDER BY period").fetchall():
        f = next(f for f in files if asg_period(f) == per)
        warn.append(f"{f}: all {int(jobs):,} jobs of {label(per)} are flagged platform work (ptpd = 1); the month has 0 "
                    "jobs in the panels, which exclude platform workers")
    warn += _plausibility(con, jump_factor)
    p = [asg_period(f) for f in files]
    return min(p), max(p), {"files": facts, "warnings": warn}


def _plausibility(con: duckdb.DuckDBPyConnection, factor: float) -> list[str]:
    """Warnings for municipality × month job counts and national totals that jump against both neighbours."""
    jumps = con.execute(f"""
        WITH m AS (SELECT cvegeo, period, SUM(ta) AS jobs FROM asg WHERE ptpd = 0 GROUP BY ALL),
        w AS (SELECT *, LAG(jobs) OVER (PARTITION BY cvegeo ORDER BY period) AS prev,
                        LEAD(jobs) OVER (PARTITION BY cvegeo ORDER BY period) AS next FROM m)
        SELECT cvegeo, period, jobs, prev, next FROM w
        WHERE prev > 0 AND next > 0 AND abs(jobs - (prev + next) / 2.0) > 100
          AND (jobs > {factor} * greatest(prev, next) OR jobs * {factor} < least(prev, next))
        ORDER BY abs(jobs - (prev + next) / 2.0) DESC LIMIT 6
    """).fetchall()
    out = []
    if jumps:
        cells = "; ".join(f"{c} in {label(p)}: {j:,} jobs against {a:,} and {b:,} in the months around it"
                          for c, p, j, a, b in jumps[:5])
        out.append(f"asegurados: municipality job counts jump by more than {factor:g}x against both neighbouring "
                   f"months ({cells})")
    nat = con.execute("""
        WITH n AS (SELECT period, SUM(ta) AS jobs FROM asg WHERE ptpd = 0 GROUP BY period),
        w AS (SELECT *, LAG(jobs) OVER (ORDER BY period) AS prev, LEAD(jobs) OVER (ORDER BY period) AS next FROM n)
        SELECT period, jobs, prev, next FROM w
        WHERE prev > 0 AND next > 0 AND abs(jobs / ((prev + next) / 2.0) - 1) > 0.10 ORDER BY period
    """).fetchall()
    if nat:
        out.append("asegurados: national total of " + "; ".join(
            f"{label(p)} ({j:,} jobs) departs by more than 10% from the months around it ({a:,}, {b:,})"
            for p, j, a, b in nat[:5]))
    return out


MAX_SITE_KM = 250.0  # a site farther than this from its municipality's centroid has the wrong key or coordinates


def check_keys(raw: Path, mun: pd.DataFrame, sites: pd.DataFrame, cw: pd.DataFrame) -> None:
    """Every key joins: crosswalk targets, site municipalities and poles exist in ``municipios.csv``; a site lies
    within :data:`MAX_SITE_KM` of its municipality.

    Parameters
    ----------
    raw : pathlib.Path
        The raw-data folder (named in the error messages).
    mun : pandas.DataFrame
        Municipality attributes from :func:`~ceci_impact.data.sources.read_municipios`.
    sites : pandas.DataFrame
        The CECI registry from :func:`~ceci_impact.data.sources.read_ceci_sites`.
    cw : pandas.DataFrame
        The IMSS-to-INEGI crosswalk from :func:`~ceci_impact.data.sources.read_crosswalk`.
    """
    from ..geo import haversine_km

    known = set(mun.cvegeo)
    bad = ~cw.cvegeo_inegi.isin(known)
    if bad.any():
        i = int(bad.to_numpy().argmax())
        raise CeciError(f"{raw / 'crosswalk_imss_municipio_to_inegi.csv'}: IMSS key {cw.cve_municipio_imss.iat[i]} maps "
                        f"to {cw.cvegeo_inegi.iat[i]!r}, expected a municipality listed in municipios.csv")
    path = raw / "ceci_sites.csv"
    bad = ~sites.cvegeo.isin(known)
    if bad.any():
        i = int(bad.to_numpy().argmax())
        raise CeciError(f"{path}: row {i + 2}, column cvegeo: found {sites.cvegeo.iat[i]!r}, expected a municipality "
                        "listed in municipios.csv")
    poles = set(mun.get("polo", pd.Series(dtype=str)).fillna("")) - {""}
    bad = (sites.pole != "") & ~sites.pole.isin(poles)
    if bad.any():
        i = int(bad.to_numpy().argmax())
        raise CeciError(f"{path}: row {i + 2}, column pole: found {sites.pole.iat[i]!r}, expected a PODECOBI pole of "
                        f"municipios.csv ({', '.join(sorted(poles)[:5])}{', ...' if len(poles) > 5 else ''}) or empty")
    c = sites.merge(mun[["cvegeo", "lat", "lon"]], on="cvegeo", suffixes=("", "_mun"))
    km = haversine_km(c.lat.to_numpy(), c.lon.to_numpy(), c.lat_mun.to_numpy(), c.lon_mun.to_numpy())
    far = km > MAX_SITE_KM
    if far.any():
        i = int(far.argmax())
        raise CeciError(f"{path}: site {c.site_id.iat[i]}: {km[i]:,.0f} km from the centre of its municipality "
                        f"{c.cvegeo.iat[i]}; expected coordinates within {MAX_SITE_KM:g} km (wrong key or lat/lon?)")


def build_municipality_panels(con, raw: Path, out: Path, p0: int, p1: int, exposure: Exposure = "municipality",
                              say=log, engine=None) -> pd.DataFrame:
    """Municipality × month × sex and municipality × month panels from the staged ``asg`` table.

    ``con`` is the build's DuckDB connection (staging and checks); the panel SQL runs on ``engine``
    (:mod:`ceci_impact.data.engines`; default: DuckDB on ``con``).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The build's DuckDB connection holding the staged ``asg`` and ``cw`` tables.
    raw : pathlib.Path
        The raw-data folder (``ceci_sites.csv``, ``municipios.csv``).
    out : pathlib.Path
        The output folder the panels and ``sites.parquet`` are written to.
    p0 : int
        First integer period of the data window.
    p1 : int
        Last integer period of the data window.
    exposure : {'municipality', 'pole'}
        Whether a municipality is exposed by a site in itself or in its PODECOBI pole.
    say : callable
        Progress printer taking one line of text (default :func:`ceci_impact.io.log`).
    engine : Engine, optional
        SQL engine for the panel steps (:mod:`ceci_impact.data.engines`); default DuckDB on ``con``.
    """
    engine = engine or DuckDBEngine(con)
    sites = read_ceci_sites(raw / "ceci_sites.csv", data_end=p1)
    mun_path = raw / "municipios.csv"
    if not mun_path.exists():
        raise CeciError(f"{mun_path}: file not found; expected the municipality attributes (cvegeo, nombre, lat, lon, "
                        "mujeres_15_64, x_industrial, polo) that the key checks, the covariate and the per-1,000-women "
                        "outcome need")
    mun = read_municipios(mun_path)
    check_keys(raw, mun, sites, con.execute("SELECT * FROM cw").df())
    sites.to_parquet(out / "sites.parquet", index=False)
    if engine.name != "duckdb":  # the staged asg aggregate (municipality x sex x platform flag x month) is small
        engine.register("asg", con.execute("SELECT * FROM asg").df())
    _share(con, engine, "sites", sites)
    _share(con, engine, "mun", mun)  # the employer panel's key check reads it on ``con``
    mcols = set(engine.columns("mun"))
    fill = {"p0": p0, "p1": p1,
            "pole_join": "m.polo <> '' AND s.pole = m.polo" if exposure == "pole" else "s.cvegeo = m.cvegeo",
            "xcol": "m.x_industrial" if "x_industrial" in mcols else "CAST(NULL AS DOUBLE)",
            "polecol": "m.polo" if "polo" in mcols else "''"}
    engine.create("mun_month_sex", panel_sql.MUN_MONTH_SEX.format(**fill))
    engine.create("mun_month", panel_sql.MUN_MONTH.format(**fill))
    for fname, select in panel_sql.MUN_WRITES:
        engine.write(fname.removesuffix(".parquet"), select, out / fname)
    n = engine.fetch("SELECT COUNT(*), COUNT(DISTINCT cvegeo), SUM(CASE WHEN first_treat > 0 THEN 1 ELSE 0 END) "
                     "FROM mun_month")[0]
    say(f"  mun_month: {n[0]:,} rows, {n[1]:,} municipalities, {n[2]:,} treated municipality-months")
    return sites


def build_employer_panel(con, raw: Path, out: Path, p0: int, p1: int, ring_km: tuple[float, float] = (3.0, 10.0),
                         say=log, engine=None) -> dict:
    """Employer × month panel and spells with exposure; ring radii ``(treated, buffer)`` in km.

    The inputs are read and checked on the build's DuckDB connection ``con``; the panel SQL
    (:data:`ceci_impact.data.panel_sql.STEPS`) runs on ``engine`` (default: DuckDB on ``con``).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The build's DuckDB connection (inputs are read and checked on it).
    raw : pathlib.Path
        The raw-data folder (``employers.parquet``, ``job_spells.parquet``, ``incapacidades.parquet``).
    out : pathlib.Path
        The output folder the employer panel and spells are written to.
    p0 : int
        First integer period of the data window.
    p1 : int
        Last integer period of the data window.
    ring_km : tuple of float
        Radii ``(treated, buffer)`` in km, with 0 < treated < buffer.
    say : callable
        Progress printer taking one line of text (default :func:`ceci_impact.io.log`).
    engine : Engine, optional
        SQL engine for the panel steps (:data:`ceci_impact.data.panel_sql.STEPS`); default DuckDB on ``con``.
    """
    engine = engine or DuckDBEngine(con)
    r1, r2 = ring_km
    if not 0 < r1 < r2:
        raise CeciError(f"ring_km={ring_km}: expected 0 < treated radius < buffer radius")
    emp = read_employers(raw / "employers.parquet")
    spells = read_job_spells(raw / "job_spells.parquet", emp)
    check_spells_window(raw / "job_spells.parquet", spells, p1)
    known = set(con.execute("SELECT cvegeo FROM mun").df().cvegeo)  # registered by the municipality panels
    bad = ~emp.cvegeo.isin(known)
    if bad.any():
        i = int(bad.to_numpy().argmax())
        raise CeciError(f"{raw / 'employers.parquet'}: row {i + 1}, column cvegeo: found {emp.cvegeo.iat[i]!r}, "
                        "expected a municipality listed in municipios.csv")
    inc = read_incapacidades(raw / "incapacidades.parquet", spells)
    for name, df in (("employers", emp), ("spells_in", spells), ("inc_in", inc),
                     ("periods", pd.DataFrame({"period": np.arange(p0, p1 + 1, dtype="int64")}))):
        _share(con, engine, name, df)
    warnings_ = _certificate_warnings(con, raw / "incapacidades.parquet", p0, p1)
    t0 = time.perf_counter()
    fill = {"r1": r1, "r2": r2, "p0": p0, "p1": p1, "p0_prev": p0 - 1, "hv": _haversine_sql("e", "s")}
    for name, sql in panel_sql.STEPS:
        engine.create(name, sql.format(**fill))
    for fname, select in panel_sql.EMPLOYER_WRITES:
        engine.write(fname.removesuffix(".parquet"), select.format(**fill), out / fname)
    n = engine.fetch("SELECT COUNT(*), COUNT(DISTINCT employer_id), SUM(CASE WHEN ring='treated' THEN 1 ELSE 0 END) "
                     "FROM employer_month")[0]
    n_control = engine.fetch("SELECT COUNT(DISTINCT employer_id) FROM employer_month WHERE ring = 'control'")[0][0]
    if not n_control:
        raise CeciError(f"--ring-km {r1:g},{r2:g}: no employer lies beyond the {r2:g} km buffer of every opened CECI, so "
                        "the employer panels would have no comparison employers; expected a buffer radius that leaves "
                        "comparison employers (such as 3,10)")
    secs = time.perf_counter() - t0
    say(f"  employer_month: {n[0]:,} rows, {n[1]:,} employers, {n[2] // max(p1 - p0 + 1, 1):,} in the treated ring "
        f"({secs:.1f} s, {engine.name})")
    return {"employer_month_rows": int(n[0]), "spells": int(len(spells)), "employer_panel_seconds": round(secs, 2),
            "warnings": warnings_}


def _share(con, engine, name: str, df: pd.DataFrame) -> None:
    """A checked input, queryable on the build's DuckDB connection (checks) and on the panel engine when that is
    another engine."""
    con.register(name, df)
    if engine.name != "duckdb":
        engine.register(name, df)


def _certificate_warnings(con, path: Path, p0: int, p1: int) -> list[str]:
    """Certificates dated outside their worker's spell at that employer, or outside the data window (excluded)."""
    out_spell, out_window = con.execute(f"""
        SELECT COUNT(*) FILTER (WHERE NOT EXISTS (
                   SELECT 1 FROM spells_in s WHERE s.worker_id = i.worker_id AND s.employer_id = i.employer_id
                   AND i.start >= s.start AND (s."end" IS NULL OR i.start <= s."end"))),
               COUNT(*) FILTER (WHERE year(i.start) * 12 + month(i.start) - 1 NOT BETWEEN {p0} AND {p1})
        FROM inc_in i
    """).fetchall()[0]
    w = []
    if out_spell:
        w.append(f"{path}: {out_spell:,} certificates start outside their worker's spell at that employer (kept, "
                 "attributed to the employer and month of their start)")
    if out_window:
        w.append(f"{path}: {out_window:,} certificates start outside the data window {label(p0)}..{label(p1)} "
                 "(excluded from the panels)")
    return w


# every file a build writes into its output folder (anything else there is a user's file, never deleted)
OUTPUT_FILES = frozenset({
    "mun_month_sex.parquet", "mun_month.parquet", "sites.parquet", "employer_month.parquet", "spells_exposure.parquet",
    "manifest.json", "truth.json", "truth_employer_month.parquet", "truth_mun_month.parquet", "README.md",
})
CONFIDENTIAL = ("employers.parquet", "job_spells.parquet", "incapacidades.parquet")
_MEMORY = __import__("re").compile(r"^\s*(\d+(?:\.\d+)?)\s*(KB|MB|GB|TB|KIB|MIB|GIB|TIB)\s*$", __import__("re").I)


def check_memory_limit(text: str | None) -> str | None:
    """A DuckDB memory limit such as ``6GB``; at least 256 MB (one clear line otherwise).

    Parameters
    ----------
    text : str or None
        The ``--memory-limit`` value (None: no limit).
    """
    if text is None:
        return None
    m = _MEMORY.match(str(text))
    if not m:
        raise CeciError(f"--memory-limit {text!r}: expected a size such as 6GB or 512MB")
    scale = {"KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
    if float(m.group(1)) * scale[m.group(2).upper()] < 256e6:
        raise CeciError(f"--memory-limit {text!r} is too small; expected at least 256MB")
    return f"{m.group(1)}{m.group(2).upper()}"


def check_output_folder(raw: Path, out: Path) -> None:
    """Refuse an output folder that would destroy data: the raw folder itself, one inside it or above it, or a
    folder holding files that ``build`` did not write (named in the message).

    Parameters
    ----------
    raw : pathlib.Path
        The raw-data folder.
    out : pathlib.Path
        The requested ``--out`` folder.
    """
    r, o = raw.resolve(), out.resolve()
    if o == r:
        raise CeciError(f"--out {out} is the raw-data folder; expected a separate folder such as data/processed")
    if r in o.parents:
        raise CeciError(f"--out {out} lies inside the raw-data folder {raw}; expected a folder outside it")
    if o in r.parents:
        raise CeciError(f"--out {out} contains the raw-data folder {raw}; replacing it would delete the raw data; "
                        "expected a separate folder such as data/processed")
    if o.exists() and not o.is_dir():
        raise CeciError(f"--out {out} is a file; expected a folder")
    if o.is_dir():
        foreign = sorted(p.name for p in o.iterdir() if p.name not in OUTPUT_FILES and p.name != ".duckdb_tmp")
        if foreign:
            raise CeciError(f"--out {out} holds files that ceci-impact build did not write ({', '.join(foreign[:5])}"
                            f"{', ...' if len(foreign) > 5 else ''}); expected an empty folder or earlier panels — "
                            "move them or choose another --out")


def _sql_path(p: Path) -> str:
    """A path as a SQL string literal (quotes doubled)."""
    return "'" + str(p).replace("'", "''") + "'"


def build_all(raw: str | Path = "data/raw", out: str | Path = "data/processed", *,
              ring_km: tuple[float, float] = (3.0, 10.0), exposure: Exposure = "municipality",
              memory_limit: str | None = None, open_data_only: bool = False, allow_gaps: bool = False,
              strict: bool = False, quiet: bool = False, engine: EngineName = "duckdb",
              spark_master: str | None = None) -> Path:
    """Build every panel from ``raw`` into ``out`` (replaced atomically: a failure leaves ``out`` untouched).

    Parameters
    ----------
    raw, out
        Raw-data and processed-data folders.
    ring_km
        ``(treated, buffer)`` radii in km: employers within the first radius of an opened CECI are
        treated, those between the two are a buffer (excluded from comparisons), others controls.
    exposure
        Municipality cohort: first opening ``"municipality"`` or anywhere in the municipality's ``"pole"``.
    memory_limit
        DuckDB memory limit, e.g. ``"6GB"`` (at least 256 MB).
    open_data_only
        Build the municipality panels only (no confidential sources); without it a missing employer, spell or
        incapacity file is an error, never a silently smaller set of panels.
    allow_gaps
        Accept months missing inside the ``asg`` window (a warning instead of an error).
    strict
        Turn every warning (gaps, implausible jumps, rows without a municipality key) into an error, for scheduled
        runs. Warnings are printed even with ``quiet`` and recorded in the manifest (``quality``).
    quiet
        Silence progress lines.
    engine
        Where the panel SQL runs: ``"duckdb"`` (embedded, the default) or ``"spark"`` (Apache Spark; the extra
        ``pip install -e '.[spark]'`` and a Java runtime). The inputs are read and checked in DuckDB either way.
    spark_master
        Spark master URL (``local[*]``, ``spark://host:7077``, ``yarn``); default ``SPARK_MASTER`` or ``local[*]``.
    """
    check_option("exposure", exposure, Exposure)
    check_option("engine", engine, EngineName)
    raw, out = Path(raw), Path(out)
    if not raw.is_dir():
        raise CeciError(f"{raw}: raw-data folder not found; run `ceci-impact simulate` or put the sources there")
    r1, r2 = ring_km
    if not (np.isfinite(r1) and np.isfinite(r2) and 0 < r1 < r2):
        raise CeciError(f"--ring-km {r1:g},{r2:g}: expected two finite radii in km with 0 < treated < buffer, such as 3,10")
    memory_limit = check_memory_limit(memory_limit)
    check_output_folder(raw, out)
    have = [f for f in CONFIDENTIAL if (raw / f).exists()]
    if have and len(have) < len(CONFIDENTIAL) or not have and not open_data_only:
        missing = [f for f in CONFIDENTIAL if f not in have]
        raise CeciError(f"{raw}: {', '.join(missing)} not found; the employer panels need {', '.join(CONFIDENTIAL)} "
                        + ("(found only " + ", ".join(have) + ")" if have else
                           "— with open data only, build with --open-data-only"))
    say = (lambda *a: None) if quiet else log
    try:
        return _build(raw, out, dict(ring_km=ring_km, exposure=exposure, memory_limit=memory_limit,
                                     open_data_only=open_data_only, allow_gaps=allow_gaps, strict=strict,
                                     engine=engine, spark_master=spark_master), say)
    except (OSError, duckdb.IOException, duckdb.OutOfMemoryException) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CeciError(f"{out}: the build could not write its panels ({msg}); the previous panels are untouched") from None


def _always_treated(path: Path, sites: pd.DataFrame, p0: int) -> list[str]:
    """A warning for CECI opened on or before the window's first month: an always-treated cohort (no estimator can
    compare it before and after opening, and it is no comparison unit either)."""
    early = sites[(sites.opening_period > 0) & (sites.opening_period <= p0)]
    if early.empty:
        return []
    first = early.sort_values("opening_period").iloc[0]
    return [f"{path}: {len(early):,} site(s) opened on or before the first month of the data window ({label(p0)}), "
            f"e.g. {first.site_id} opened {label(int(first.opening_period))}; their municipalities and nearby "
            "employers are an always-treated cohort with no month before opening (no effect can be estimated for "
            "them)"]


def _warn(msg: str) -> None:
    """A warning line: printed even in quiet mode (the cron log shows it) and recorded in the manifest."""
    import sys
    print(f"warning: {msg}", file=sys.stderr, flush=True)


def _build(raw: Path, out: Path, o: dict, say) -> Path:
    ring_km, exposure, memory_limit, open_data_only = o["ring_km"], o["exposure"], o["memory_limit"], o["open_data_only"]
    allow_gaps, strict, warn = o["allow_gaps"], o["strict"], _warn
    t0 = time.perf_counter()
    state = raw_state(raw)
    fp = fingerprint(raw, {k: o[k] for k in ("ring_km", "exposure", "open_data_only", "allow_gaps")})
    with atomic_dir(out) as tmp:
        con = duckdb.connect()
        con.execute(f"SET temp_directory = {_sql_path(tmp / '.duckdb_tmp')}")
        if memory_limit:
            con.execute(f"SET memory_limit = '{memory_limit}'")
        engine = make_engine(o["engine"], con, spark_master=o["spark_master"])
        say(f"building panels from {raw} (engine: {engine.name})")
        t_asg = time.perf_counter()
        p0, p1, quality = stage_asegurados(raw, con, say, allow_gaps=allow_gaps)
        if strict and quality["warnings"]:
            raise CeciError(f"--strict: {len(quality['warnings'])} warning(s), the first: {quality['warnings'][0]}")
        for w in quality["warnings"]:
            warn(w)
        sites = build_municipality_panels(con, raw, tmp, p0, p1, exposure, say, engine)
        early = _always_treated(raw / "ceci_sites.csv", sites, p0)
        if strict and early:
            raise CeciError(f"--strict: {len(early)} warning(s), the first: {early[0]}")
        for w in early:
            warn(w)
        quality["warnings"] += early
        stats = {"municipality_panels_seconds": round(time.perf_counter() - t_asg, 2)}
        if not open_data_only:
            emp_stats = build_employer_panel(con, raw, tmp, p0, p1, ring_km, say, engine)
            extra = emp_stats.pop("warnings")
            if strict and extra:
                raise CeciError(f"--strict: {len(extra)} warning(s), the first: {extra[0]}")
            for w in extra:
                warn(w)
            quality["warnings"] += extra
            stats.update(emp_stats)
        else:
            say("  --open-data-only: municipality panels only (no employer panels)")
        engine.close()
        con.close()
        shutil.rmtree(tmp / ".duckdb_tmp", ignore_errors=True)
        check_unchanged(raw, state)
        manifest = {"raw": str(raw.resolve()), "window": [label(p0), label(p1)], "period_first": p0, "period_last": p1,
                    "ring_km": list(ring_km), "exposure": exposure, "engine": engine.name, "open_data_only": bool(open_data_only),
                    "fingerprint": fp, "allow_gaps": bool(o["allow_gaps"]),
                    "simulated": (raw / "truth.json").exists(), "built_seconds": round(time.perf_counter() - t0, 2),
                    "stats": stats, "quality": quality}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
        for name in ("truth.json", "truth_employer_month.parquet", "truth_mun_month.parquet"):
            if (raw / name).exists():  # simulated worlds: both worlds' outcomes, for estimand truths
                shutil.copy2(raw / name, tmp / name)
    say(f"panels written to {out} in {time.perf_counter() - t0:.1f} s")
    return out


def load(name: str, processed: str | Path = "data/processed") -> pd.DataFrame:
    """Read a built panel (``mun_month``, ``mun_month_sex``, ``employer_month``, ``spells_exposure``).

    A panel read before by this process is returned from memory while its file is unchanged (same path, size,
    modification time and inode; a rebuilt panel is read again; :func:`ceci_impact.data.panel_cache.read_panel`): a
    report calls this for the same panel several times, and a render kernel runs many reports. Each call returns its
    own frame, so changing it never changes what the next call returns.

    Parameters
    ----------
    name : str
        The panel: ``mun_month``, ``mun_month_sex``, ``employer_month``, ``spells_exposure`` or ``sites``.
    processed : str or pathlib.Path
        Folder of the built panels (``data/processed``).
    """
    p = Path(processed) / f"{name}.parquet"
    if not p.exists():
        raise CeciError(f"{p}: panel not built; run `ceci-impact build` first")
    from .panel_cache import read_panel

    return read_panel(p)


def manifest(processed: str | Path = "data/processed") -> dict:
    """The manifest written by :func:`build_all` (window, fingerprint, simulated flag).

    Parameters
    ----------
    processed : str or pathlib.Path
        Folder of the built panels (``data/processed``).
    """
    p = Path(processed) / "manifest.json"
    if not p.exists():
        raise CeciError(f"{p}: not found; run `ceci-impact build` first")
    return json.loads(p.read_text())


def truth(processed: str | Path = "data/processed") -> dict | None:
    """The simulated world's true effects, or ``None`` on real data.

    Parameters
    ----------
    processed : str or pathlib.Path
        The processed-data folder that may hold ``truth.json``.
    """
    p = Path(processed) / "truth.json"
    return json.loads(p.read_text()) if p.exists() else None


__all__ = ["build_all", "load", "manifest", "truth", "fingerprint", "build_guarderias_panel", "quarter_label"]
