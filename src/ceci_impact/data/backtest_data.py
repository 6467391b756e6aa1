"""The guarderías back-test's inputs: the compact copy shipped with the package, and how to rebuild it.

The back-test (notebook ``60_guarderias_backtest``) needs three real public tables, reduced to what the panel uses:

- ``imss_jobs_mun_quarter.parquet``: IMSS insured jobs by INEGI municipality × quarter 2000–2011, total and by
  employer size band (summed over the IMSS keys that map to one municipality);
- ``guarderias_openings.parquet``: the 1,432 IMSS subrogated guarderías of the July-2009 list, with their
  municipality match, opening date and quarter and installed capacity (names dropped);
- ``census2000_covariates.parquet``: the Census-2000 municipal covariates the back-test uses.

The originals are described in ``reference_data/guarderias/PROVENANCE.md``; ``ceci-impact backtest-data --from DIR``
rebuilds the compact copy from them (``DIR`` holds ``imss_sp/`` and ``guarderias_imss_2009/``), byte for byte.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from .._options import CeciError
from ..io import atomic_dir
from .sources import _dates, _numeric, _read_csv

SHIPPED = Path(__file__).parents[1] / "reference_data" / "guarderias"
FILES = ("imss_jobs_mun_quarter.parquet", "guarderias_openings.parquet", "census2000_covariates.parquet")
SIZE_COLS = ["emp_size_1", "emp_size_2_5", "emp_size_6_50", "emp_size_51_250", "emp_size_251_500",
             "emp_size_501_1000", "emp_size_1000"]
CENSUS_COLS = ["populationb", "urban", "industry3", "yrschl", "insured"]


def is_compact(d: Path) -> bool:
    """Whether ``d`` holds the compact back-test tables (rather than the original files).

    Parameters
    ----------
    d : pathlib.Path
        A folder.
    """
    return all((d / f).exists() for f in FILES)


def _from_originals(d: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:

    need = [d / "guarderias_imss_2009" / "guarderias_imss_subrogadas_2009.csv",
            d / "imss_sp" / "imss_employees_mun_quarter_2000_2011.csv", d / "imss_sp" / "caract_muni_census2000.csv"]
    missing = [str(p) for p in need if not p.exists()]
    if missing:
        raise CeciError(f"{d}: back-test originals missing: {', '.join(missing)}; expected the folder layout of "
                        "reference_data/guarderias/PROVENANCE.md")
    g = read_guarderias_2009(need[0])
    emp = read_imss_mun_quarters(need[1], "employees")
    cen = read_census2000(need[2])
    emp = emp[emp.cvegeo_inegi.notna() & (emp.cvegeo_inegi != "")]
    jobs = (emp.groupby(["cvegeo_inegi", "quarter_index"], as_index=False)[["emp_t", *SIZE_COLS]].sum()
            .rename(columns={"cvegeo_inegi": "cvegeo", "quarter_index": "period"})
            .sort_values(["cvegeo", "period"], ignore_index=True))
    jobs["period"] = jobs["period"].astype(np.int64)
    gd = g[["unit_id", "cvegeo", "match_method", "opening_date", "opening_quarter", "capacity"]].reset_index(drop=True)
    cen = cen[["cvegeo", *CENSUS_COLS]].sort_values("cvegeo", ignore_index=True)
    return jobs, gd, cen


def load_inputs(data_dir: str | Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The back-test's three tables from ``data_dir`` (compact copy or original files); ``None``: the shipped copy.

    Returns ``(jobs, guarderias, census)``: jobs by ``cvegeo × period`` (quarter index ``year*4 + q - 1``), the
    guarderías with ``cvegeo``, ``opening_quarter`` and ``capacity``, and the Census-2000 covariates.

    Parameters
    ----------
    data_dir : str or pathlib.Path, optional
        Folder of the compact copy or of the original files (None: the copy shipped in the package).
    """
    d = SHIPPED if data_dir in (None, "") else Path(data_dir)
    if not d.is_dir():
        raise CeciError(f"{d}: real-data folder not found; leave data_dir empty to use the copy shipped with "
                        "ceci_impact, or give a folder with the original files")
    if is_compact(d):
        jobs, gd, cen = (pd.read_parquet(d / f) for f in FILES)
        return jobs, gd, cen
    return _from_originals(d)


def write_compact(original_dir: str | Path, out: str | Path = SHIPPED) -> Path:
    """Rebuild the compact back-test tables from the original files (atomically; deterministic bytes).

    Parameters
    ----------
    original_dir : str or pathlib.Path
        Folder with ``imss_sp/`` and ``guarderias_imss_2009/``.
    out : str or pathlib.Path
        Folder of the compact tables (default: the package's copy).
    """
    jobs, gd, cen = _from_originals(Path(original_dir))
    out = Path(out)
    keep = [p for p in out.glob("*") if p.name not in FILES] if out.is_dir() else []
    with atomic_dir(out) as tmp:
        for p in keep:  # the provenance note and anything else that is not a generated table stays
            (tmp / p.name).write_bytes(p.read_bytes())
        for df, name in zip((jobs, gd, cen), FILES, strict=True):
            df.to_parquet(tmp / name, index=False, compression="zstd")
    return out


# the back-test's readers of the original public files (formerly in sources.py)
GUARDERIA_COLS = ["clave_guarderia", "nombre_guarderia", "capacidad_instalada", "inicio_operacion",
                  "esquema_contratacion", "cve_ent_inegi", "cvegeo_inegi_match", "match_method"]


def read_guarderias_2009(path: str | Path) -> pd.DataFrame:
    """IMSS subrogated childcare units operating in July 2009 (1,432 rows), with opening dates.

    Returns ``unit_id, name, capacity, opening_date, opening_quarter (year*4 + q - 1), cvegeo, match_method``.
    Units without a municipality match keep ``cvegeo`` empty; a missing opening date or capacity is kept as
    missing (the caller decides), an unparseable one is an error.

    Parameters
    ----------
    path : str or pathlib.Path
        The 2009 list of IMSS childcare units (CSV).
    """
    path = Path(path)
    df = _read_csv(path, GUARDERIA_COLS)
    d = _dates(df, "inicio_operacion", path, allow_empty=True)
    cap = _numeric(df, "capacidad_instalada", path, 0, None, allow_empty=True)
    out = pd.DataFrame({
        "unit_id": df["clave_guarderia"].str.strip() + "-" + df.index.astype(str),
        "name": df["nombre_guarderia"], "capacity": cap, "opening_date": d,
        "cvegeo": df["cvegeo_inegi_match"].str.strip(), "match_method": df["match_method"].str.strip(),
    })
    out["opening_quarter"] = np.where(d.isna(), -1, d.dt.year * 4 + (d.dt.month - 1) // 3).astype(np.int64)
    bad = (out.cvegeo != "") & ~out.cvegeo.str.fullmatch(r"\d{5}")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise CeciError(f"{path}: row {i + 2}, column cvegeo_inegi_match: found {out.cvegeo.iat[i]!r}, expected 5 digits")
    return out


def read_imss_mun_quarters(path: str | Path, kind: str = "employees") -> pd.DataFrame:
    """IMSS jobs (``kind="employees"``, column ``emp_t``) or employers (``"employers"``, ``pat_t``) by
    IMSS municipality × quarter, 2000–2011, with size bands; ``quarter_index = year*4 + quarter - 1``.

    Parameters
    ----------
    path : str or pathlib.Path
        The IMSS municipality × quarter CSV.
    kind : {'employees', 'employers'}
        Whether the file counts jobs (``emp_t``) or employers (``pat_t``).
    """
    path = Path(path)
    total = {"employees": "emp_t", "employers": "pat_t"}.get(kind)
    if total is None:
        raise CeciError(f"kind={kind!r} is not allowed; expected 'employees' or 'employers'")
    df = _read_csv(path, ["cve_municipio_imss", "cvegeo_inegi", "year", "quarter", total])
    out = df.copy()
    for c in [c for c in df.columns if c.startswith(("emp_", "pat"))] + ["year", "quarter"]:
        out[c] = _numeric(df, c, path, 0, None)
    badq = ~out["quarter"].isin([1, 2, 3, 4])
    if badq.any():
        i = int(np.flatnonzero(badq.to_numpy())[0])
        raise CeciError(f"{path}: row {i + 2}, column quarter: found {df['quarter'].iat[i]!r}, expected 1..4")
    out["quarter_index"] = (out["year"] * 4 + out["quarter"] - 1).astype(np.int64)
    return out


def read_census2000(path: str | Path) -> pd.DataFrame:
    """Census-2000 municipal covariates (``cvemun`` INEGI key, urban share, schooling, industry shares, population).

    Parameters
    ----------
    path : str or pathlib.Path
        The Census-2000 municipal covariates CSV.
    """
    path = Path(path)
    df = _read_csv(path, ["cvemun", "urban", "yrschl", "populationb", "industry3"])
    out = pd.DataFrame({"cvegeo": df["cvemun"].str.zfill(5)})
    for c in df.columns:
        if c != "cvemun":
            out[c] = _numeric(df, c, path, allow_empty=True)
    if out.cvegeo.duplicated().any():
        raise CeciError(f"{path}: column cvemun: duplicated key {out.cvegeo[out.cvegeo.duplicated()].iat[0]}")
    return out


# the back-test panel (formerly in panels.py)
def quarter_label(q: float) -> str:
    """``YYYYQn`` label of a quarter index (``year*4 + q - 1``); 0 → ``never``.

    Parameters
    ----------
    q : float
        Quarter index ``year*4 + q - 1`` (0 or NaN: never treated).
    """
    if not q or not np.isfinite(q):
        return "never"
    q = int(q)
    return f"{q // 4}Q{q % 4 + 1}"


def build_guarderias_panel(data_dir: str | Path | None = None, first_year: int = 2001,
                           last_year: int = 2009) -> tuple[pd.DataFrame, dict]:
    """Municipality × quarter back-test panel (2000–2011) of IMSS jobs around guardería openings.

    ``data_dir``: ``None`` (or empty) reads the compact inputs shipped with the package
    (:mod:`ceci_impact.data.backtest_data`); a folder with the original files or a compact copy also works.
    Cohort = quarter of the first guardería opening in the municipality within ``first_year``–``last_year``;
    municipalities with a unit opened before ``first_year`` (or after ``last_year``) are excluded; never treated =
    municipalities with no unit in the 2009 list. Only municipalities with IMSS jobs in every quarter are kept
    (balanced panel; size-band outcomes are ``log(1 + jobs)`` since a band can be empty).
    Returns the panel and a dictionary of counts saying what was dropped.

    Parameters
    ----------
    data_dir : str or pathlib.Path, optional
        Folder of the original or compact inputs; None reads the packaged inputs.
    first_year : int
        First year of openings that define a cohort.
    last_year : int
        Last year of openings that define a cohort.
    """
    mq, g, cen = load_inputs(data_dir)
    con = duckdb.connect()
    con.register("g", g)
    con.register("mq_in", mq)
    con.register("cen", cen)
    con.execute("""
        CREATE TABLE mq AS
        SELECT cvegeo, period, CAST(emp_t AS DOUBLE) AS jobs,
               CAST(emp_size_1 + emp_size_2_5 + emp_size_6_50 AS DOUBLE) AS jobs_small,
               CAST(emp_size_51_250 + emp_size_251_500 + emp_size_501_1000 + emp_size_1000 AS DOUBLE) AS jobs_large
        FROM mq_in
    """)
    nq = con.execute("SELECT COUNT(DISTINCT period) FROM mq").fetchall()[0][0]
    q0, q1 = first_year * 4, last_year * 4 + 3
    con.execute(f"""
        CREATE TABLE coh AS
        SELECT cvegeo, MIN(opening_quarter) AS first_q, COUNT(*) AS units, SUM(COALESCE(capacity, 0)) AS places,
               MIN(CASE WHEN opening_quarter BETWEEN {q0} AND {q1} THEN opening_quarter END) AS first_in_window
        FROM g WHERE cvegeo <> '' AND opening_quarter >= 0 GROUP BY cvegeo
    """)
    con.execute(f"""
        CREATE TABLE panel AS
        WITH bal AS (
            SELECT cvegeo FROM mq GROUP BY cvegeo
            HAVING COUNT(*) = {nq} AND MIN(jobs) > 0
        ), base AS (
            SELECT cvegeo, jobs AS jobs_2000q1 FROM mq WHERE period = (SELECT MIN(period) FROM mq)
        ), cap AS (
            SELECT g.cvegeo, m.period, SUM(COALESCE(g.capacity, 0)) AS places_open
            FROM g JOIN (SELECT DISTINCT period FROM mq) m ON g.opening_quarter <= m.period
            WHERE g.cvegeo <> '' AND g.opening_quarter >= 0 GROUP BY g.cvegeo, m.period
        )
        SELECT mq.cvegeo, mq.period, mq.jobs, mq.jobs_small, mq.jobs_large,
               ln(mq.jobs) AS log_jobs, ln(1 + mq.jobs_small) AS log_jobs_small, ln(1 + mq.jobs_large) AS log_jobs_large,
               CASE WHEN c.cvegeo IS NULL THEN 0 ELSE c.first_in_window END AS first_treat,
               CASE WHEN c.cvegeo IS NULL THEN 'never'
                    WHEN c.first_q < {q0} THEN 'pre_window'
                    WHEN c.first_in_window IS NULL THEN 'post_window' ELSE 'treated' END AS status,
               COALESCE(c.units, 0) AS units_2009, COALESCE(c.places, 0) AS places_2009,
               1000.0 * COALESCE(cap.places_open, 0) / b.jobs_2000q1 AS places_per_1000_jobs,
               ln(cen.populationb) AS pob_2000_log, cen.urban, cen.industry3 AS manuf_share, cen.yrschl,
               cen.insured AS insured_share_2000
        FROM mq JOIN bal USING (cvegeo) JOIN base b USING (cvegeo)
        LEFT JOIN coh c USING (cvegeo)
        LEFT JOIN cap ON cap.cvegeo = mq.cvegeo AND cap.period = mq.period
        LEFT JOIN cen ON cen.cvegeo = mq.cvegeo
        ORDER BY mq.cvegeo, mq.period
    """)
    df = con.execute("SELECT * FROM panel").df()
    all_mun = con.execute("SELECT COUNT(DISTINCT cvegeo) FROM mq").fetchall()[0][0]
    con.close()
    units = df.drop_duplicates("cvegeo")
    counts = {
        "guarderias_listed": int(len(g)), "guarderias_unmatched_municipality": int((g.cvegeo == "").sum()),
        "guarderias_missing_date": int((g.opening_quarter < 0).sum()),
        "municipalities_with_imss_jobs": int(all_mun), "municipalities_balanced": int(len(units)),
        "dropped_unbalanced": int(all_mun - len(units)),
        "excluded_unit_before_window": int((units.status == "pre_window").sum()),
        "excluded_unit_after_window": int((units.status == "post_window").sum()),
        "treated_municipalities": int((units.status == "treated").sum()),
        "never_treated_municipalities": int((units.status == "never").sum()),
        "cohorts": int(units.loc[units.status == "treated", "first_treat"].nunique()),
        "quarters": int(df.period.nunique()),
    }
    df = df[df.status.isin(["treated", "never"])].dropna(subset=["pob_2000_log", "urban", "manuf_share"]).copy()
    counts["missing_census_covariates"] = int(counts["treated_municipalities"] + counts["never_treated_municipalities"]
                                              - df.cvegeo.nunique())
    df["unit"] = pd.factorize(df.cvegeo)[0] + 1
    df["first_treat"] = df.first_treat.astype(float)
    return df.reset_index(drop=True), counts
