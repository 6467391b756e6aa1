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

import numpy as np
import pandas as pd

from .._options import CeciError
from ..io import atomic_dir

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
    from .sources import read_census2000, read_guarderias_2009, read_imss_mun_quarters

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
