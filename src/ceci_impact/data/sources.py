"""Readers for every raw source: one function per source, typed and validated output.

Every reader raises :class:`ceci_impact.CeciError` with one line naming the file, the row or
column, what was found and what was expected. Nothing is coerced silently.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from .._options import CeciError
from ..calendar import label, period
from ..io import SAFE_NAME, regular_file

ASG_REQUIRED = [
    "cve_delegacion", "cve_subdelegacion", "cve_entidad", "cve_municipio", "sector_economico_1",
    "sector_economico_2", "sector_economico_4", "tamaño_patron", "sexo", "rango_edad", "rango_salarial",
    "rango_uma", "asegurados", "no_trabajadores", "ta", "teu", "tec", "tpu", "tpc", "ta_sal", "teu_sal",
    "tec_sal", "tpu_sal", "tpc_sal", "masa_sal_ta", "masa_sal_teu", "masa_sal_tec", "masa_sal_tpu",
    "masa_sal_tpc",
]
ASG_KNOWN_EXTRA = {"periodo_informacion", "rango_ingreso_vsm", "rango_ingreso_uma", "ptpd"}
ASG_NUMERIC = ASG_REQUIRED[12:]
ASG_NAME = re.compile(r"asg-(\d{4})-(\d{2})-(\d{2})\.csv")
_SIZE_RE = re.compile(r"^tama.{1,3}o_patron$")


def _err(path: Path | str, msg: str) -> CeciError:
    return CeciError(f"{path}: {msg}")


def _decode(raw: bytes) -> tuple[str, str]:
    """Decode file bytes: UTF-8 (BOM stripped) first, latin-1 fallback."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"


def normalise_asg_header(cols: Iterable[str]) -> list[str]:
    """Lower-case, strip and repair the ``tamaño_patron`` variants (``tama\\ufffdo_patron``, ``tamaÃ±o_patron``).

    Parameters
    ----------
    cols : iterable of str
        The raw column names of an ``asg`` header.
    """
    out = []
    for c in cols:
        c = c.strip().strip('"').lower()
        if _SIZE_RE.match(c) or c in ("tamano_patron", "tamaã±o_patron"):
            c = "tamaño_patron"
        out.append(c)
    return out


def asg_period(path: str | Path) -> int:
    """Integer period of an ``asg-YYYY-MM-DD.csv`` file from its name.

    Parameters
    ----------
    path : str or pathlib.Path
        An ``asg-YYYY-MM-DD.csv`` file (only its name is read).
    """
    m = ASG_NAME.fullmatch(Path(path).name)
    if not m:
        raise _err(path, "file name does not match asg-YYYY-MM-DD.csv; the month is taken from the name")
    y, mo = int(m.group(1)), int(m.group(2))
    if not 1 <= mo <= 12:
        raise _err(path, f"month {mo:02d} in the file name is not a month")
    return period(y, mo)


def read_asegurados_file(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read one IMSS open-data ``asg`` file.

    Everything is read as text with no NA parsing (the literal ``NA`` is a category), the
    header is normalised, extra 2025-format columns are kept by name, counts are parsed as
    integers and wage masses as floats, and a ``period`` column comes from the file name.

    Parameters
    ----------
    path
        An ``asg-YYYY-MM-DD.csv`` file.
    columns
        Columns to keep (default: all required ones plus known extras present); a requested
        2025-format extra that the file lacks is skipped, and ``ptpd`` then reads ``"0"``.
    """
    path = Path(path)
    p = asg_period(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _err(path, f"cannot read file ({exc.strerror})") from None
    text, _enc = _decode(raw)
    del raw
    first_nl = text.find("\n")
    header = normalise_asg_header(text[: first_nl if first_nl >= 0 else None].rstrip("\r").split("|"))
    missing = [c for c in ASG_REQUIRED if c not in header]
    if missing:
        raise _err(path, f"missing column {', '.join(missing)}; expected the 29 IMSS columns "
                         f"(found {len(header)}: {', '.join(header[:6])}, ...)")
    unknown = [c for c in header if c not in ASG_REQUIRED and c not in ASG_KNOWN_EXTRA]
    if unknown:
        raise _err(path, f"unexpected column {', '.join(unknown)}; known extras are {', '.join(sorted(ASG_KNOWN_EXTRA))}")
    if len(set(header)) != len(header):
        raise _err(path, "duplicated column names in header")
    keep = [c for c in columns if c in header or c not in ASG_KNOWN_EXTRA] if columns else \
        [c for c in header if c in ASG_REQUIRED or c in ASG_KNOWN_EXTRA]
    try:
        df = pd.read_csv(io.StringIO(text), sep="|", dtype=str, keep_default_na=False, na_filter=False,
                         header=0, names=header, usecols=keep, engine="c")
    except pd.errors.ParserError as exc:
        raise _err(path, f"malformed row ({str(exc).strip().splitlines()[-1]}); expected {len(header)} '|'-separated fields") from None
    for c in [c for c in ASG_NUMERIC if c in keep]:
        col = df[c].str.strip()
        num = pd.to_numeric(col.replace("", "0"), errors="coerce")
        if num.isna().any():
            i = int(np.flatnonzero(num.isna().to_numpy())[0])
            raise _err(path, f"row {i + 2}, column {c}: found {df[c].iat[i]!r}, expected a number")
        df[c] = num.astype(np.int64) if not c.startswith("masa") else num.astype(float)
    if "ta" in keep and (df["ta"] < 0).any():
        i = int(np.flatnonzero((df["ta"] < 0).to_numpy())[0])
        raise _err(path, f"row {i + 2}, column ta: found {df['ta'].iat[i]}, expected a non-negative count")
    if "sexo" in keep:
        bad = ~df["sexo"].isin(["1", "2"])
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise _err(path, f"row {i + 2}, column sexo: found {df['sexo'].iat[i]!r}, expected 1 (man) or 2 (woman)")
    if "ptpd" not in df.columns and (columns is None or "ptpd" in (columns or [])):
        df["ptpd"] = "0"
    df.insert(0, "period", p)
    return df


def asg_files(folder: str | Path, allow_gaps: bool = False) -> tuple[list[Path], list[str]]:
    """The ``asg-*.csv`` files in ``folder`` in month order, and warnings.

    Errors: no file; a file named ``asg-*`` that is not ``asg-YYYY-MM-DD.csv`` (upper-case extension, compressed,
    another suffix); a date that is not the last day of its month; two files for one month; months missing inside
    the window (unless ``allow_gaps``, which turns the gap into a warning).

    Parameters
    ----------
    folder : str or pathlib.Path
        Folder holding the ``asg-*.csv`` files.
    allow_gaps : bool
        Turn months missing inside the window into a warning instead of an error.
    """
    import calendar as _cal

    folder = Path(folder)
    cands = sorted(p for p in folder.iterdir() if p.name.lower().startswith("asg-")) if folder.is_dir() else []
    odd = [p.name for p in cands if not ASG_NAME.fullmatch(p.name)]
    if odd:
        raise CeciError(f"{folder}: {', '.join(odd[:3])}: expected monthly files named asg-YYYY-MM-DD.csv "
                        "(lower-case .csv, uncompressed)")
    files = [regular_file(p, "a monthly asg file") for p in cands]
    if not files:
        raise CeciError(f"{folder}: no asg-YYYY-MM-DD.csv files found")
    seen: dict[int, Path] = {}
    for f in files:
        y, mo, d = (int(x) for x in ASG_NAME.fullmatch(f.name).groups())
        if not 1 <= mo <= 12:
            raise _err(f, f"month {mo:02d} in the file name is not a month; expected asg-YYYY-MM-DD.csv")
        last = _cal.monthrange(y, mo)[1]
        if d != last:
            raise _err(f, f"day {d:02d} in the file name: expected the month's last day ({y}-{mo:02d}-{last:02d}), "
                          "the cut-off of a monthly release")
        p = period(y, mo)
        if p in seen:
            raise CeciError(f"{f}: month {label(p)} already given by {seen[p].name}")
        seen[p] = f
    months = sorted(seen)
    gaps = [label(q) for q in range(months[0], months[-1] + 1) if q not in seen]
    warnings_ = []
    if gaps:
        msg = (f"{folder}: month(s) {', '.join(gaps[:6])}{' ...' if len(gaps) > 6 else ''} missing inside the window "
               f"{label(months[0])}..{label(months[-1])}")
        if not allow_gaps:
            raise CeciError(msg + "; expected one file per month (--allow-gaps accepts a documented gap)")
        warnings_.append(msg + " (accepted with --allow-gaps)")
    return [seen[q] for q in months], warnings_


def read_asegurados(path_or_paths: str | Path | Iterable[str | Path], crosswalk: pd.DataFrame | None = None,
                    columns: list[str] | None = None) -> pd.DataFrame:
    """Read one or several ``asg`` files (a folder, a file, or a list) and attach INEGI keys.

    Parameters
    ----------
    path_or_paths
        A folder holding ``asg-*.csv``, one file, or an iterable of files.
    crosswalk
        Output of :func:`read_crosswalk`; when given, a ``cvegeo`` column is added and an
        IMSS municipality key absent from it is an error.
    columns
        Subset of columns to read.
    """
    if isinstance(path_or_paths, (str, Path)):
        p = Path(path_or_paths)
        files = asg_files(p)[0] if p.is_dir() else [p]
    else:
        files = [Path(f) for f in path_or_paths]
    df = pd.concat([read_asegurados_file(f, columns) for f in files], ignore_index=True)
    if crosswalk is not None:
        df = attach_cvegeo(df, crosswalk, source=str(files[0].parent))
    return df


def attach_cvegeo(df: pd.DataFrame, crosswalk: pd.DataFrame, source: str = "asegurados") -> pd.DataFrame:
    """Map ``cve_municipio`` (IMSS key) to INEGI ``cvegeo``; unknown keys are an error.

    Parameters
    ----------
    df : pandas.DataFrame
        Rows with an IMSS ``cve_municipio`` column (empty = no key).
    crosswalk : pandas.DataFrame
        The crosswalk from :func:`read_crosswalk`.
    source : str
        Name of the input, used in the error message.
    """
    m = dict(zip(crosswalk["cve_municipio_imss"], crosswalk["cvegeo_inegi"], strict=False))
    out = df["cve_municipio"].map(m)
    bad = out.isna() & (df["cve_municipio"] != "")
    if bad.any():
        keys = sorted(df.loc[bad, "cve_municipio"].unique())
        raise CeciError(f"{source}: column cve_municipio: IMSS key(s) {', '.join(keys[:5])} not in the crosswalk; "
                        "expected keys listed in crosswalk_imss_municipio_to_inegi.csv")
    df = df.copy()
    df["cvegeo"] = out
    return df


def _read_csv(path: Path, required: list[str], dtype: dict | None = None) -> pd.DataFrame:
    if not path.exists():
        raise CeciError(f"{path}: file not found")
    regular_file(path, "a CSV file")
    try:
        df = pd.read_csv(path, dtype=dtype or str, keep_default_na=False, na_filter=False, encoding="utf-8")
    except UnicodeDecodeError:
        df = pd.read_csv(path, dtype=dtype or str, keep_default_na=False, na_filter=False, encoding="latin-1")
    except pd.errors.ParserError as exc:
        raise CeciError(f"{path}: malformed CSV ({str(exc).strip().splitlines()[-1]})") from None
    except pd.errors.EmptyDataError:
        raise CeciError(f"{path}: file is empty; expected columns {', '.join(required)}") from None
    df.columns = [c.strip() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise CeciError(f"{path}: missing column {', '.join(missing)}; expected columns {', '.join(required)}")
    return df


def _numeric(df: pd.DataFrame, col: str, path: Path, lo: float | None = None, hi: float | None = None,
             allow_empty: bool = False) -> pd.Series:
    s = df[col].astype(str).str.strip()
    num = pd.to_numeric(s.replace("", np.nan if allow_empty else "x"), errors="coerce")
    bad = num.isna() & ~((s == "") & allow_empty)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise CeciError(f"{path}: row {i + 2}, column {col}: found {df[col].iat[i]!r}, expected a number")
    if lo is not None or hi is not None:
        out = (num < (lo if lo is not None else -np.inf)) | (num > (hi if hi is not None else np.inf))
        if out.any():
            i = int(np.flatnonzero(out.to_numpy())[0])
            raise CeciError(f"{path}: row {i + 2}, column {col}: found {num.iat[i]}, expected a value in [{lo}, {hi}]")
    return num


def _whole(df: pd.DataFrame, col: str, path: Path) -> pd.Series:
    """A non-negative whole-number column (places, counts): a decimal is an error, not truncated."""
    num = _numeric(df, col, path, 0, None)
    frac = num != np.floor(num)
    if frac.any():
        i = int(np.flatnonzero(frac.to_numpy())[0])
        raise CeciError(f"{path}: row {i + 2}, column {col}: found {df[col].iat[i]!r}, expected a whole number")
    return num.astype(np.int64)


def _dates(df: pd.DataFrame, col: str, path: Path, allow_empty: bool) -> pd.Series:
    s = df[col].astype(str).str.strip()
    d = pd.to_datetime(s.where(s != ""), format="%Y-%m-%d", errors="coerce")
    bad = d.isna() & ((s != "") | (not allow_empty))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise CeciError(f"{path}: row {i + 2}, column {col}: found {df[col].iat[i]!r}, expected a date YYYY-MM-DD"
                        + (" or empty" if allow_empty else ""))
    return d


def read_crosswalk(path: str | Path) -> pd.DataFrame:
    """IMSS municipality key → INEGI ``cvegeo`` (many-to-one allowed, a key maps to one municipality).

    Parameters
    ----------
    path : str or pathlib.Path
        ``crosswalk_imss_municipio_to_inegi.csv``.
    """
    path = Path(path)
    df = _read_csv(path, ["cve_municipio_imss", "cvegeo_inegi"])
    df["cve_municipio_imss"] = df["cve_municipio_imss"].str.strip()
    df["cvegeo_inegi"] = df["cvegeo_inegi"].str.strip()
    bad = ~df["cve_municipio_imss"].str.fullmatch(r"[A-Z][A-Z0-9]{1,2}")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise CeciError(f"{path}: row {i + 2}, column cve_municipio_imss: found {df['cve_municipio_imss'].iat[i]!r}, "
                        "expected an IMSS municipality key: a letter and two digits such as A01 (or DF)")
    df = df[df["cvegeo_inegi"] != ""]
    badg = ~df["cvegeo_inegi"].str.fullmatch(r"\d{5}")
    if badg.any():
        i = int(np.flatnonzero(badg.to_numpy())[0])
        raise CeciError(f"{path}: column cvegeo_inegi: found {df['cvegeo_inegi'].iat[i]!r}, expected 5 digits")
    dup = df.groupby("cve_municipio_imss")["cvegeo_inegi"].nunique()
    if (dup > 1).any():
        raise CeciError(f"{path}: IMSS key {dup.index[dup.values > 1][0]} maps to several INEGI municipalities")
    return df.drop_duplicates("cve_municipio_imss").reset_index(drop=True)


def read_ceci_sites(path: str | Path, data_end: int | None = None) -> pd.DataFrame:
    """The CECI registry: one row per site.

    Columns: ``site_id, name, scheme (IMSS|Empresa), pole (may be empty), cvegeo, lat, lon,
    opening_date (YYYY-MM-DD or empty = not yet open), capacity``. With ``data_end`` (an integer
    period), an opening after the data window is an error.

    Parameters
    ----------
    path : str or pathlib.Path
        ``ceci_sites.csv``.
    data_end : int, optional
        Last integer period of the data window; an opening after it is an error.
    """
    path = Path(path)
    cols = ["site_id", "name", "scheme", "pole", "cvegeo", "lat", "lon", "opening_date", "capacity"]
    df = _read_csv(path, cols)
    df["site_id"] = df["site_id"].str.strip()
    _check_ids(path, df, "site_id")
    _check_names(path, df, "pole", allow_empty=True)
    dup = df["site_id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise CeciError(f"{path}: row {i + 2}, column site_id: duplicated site id {df['site_id'].iat[i]!r}")
    bad = ~df["scheme"].isin(["IMSS", "Empresa"])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise CeciError(f"{path}: row {i + 2}, column scheme: found {df['scheme'].iat[i]!r}, expected IMSS or Empresa")
    badg = ~df["cvegeo"].str.fullmatch(r"\d{5}")
    if badg.any():
        i = int(np.flatnonzero(badg.to_numpy())[0])
        raise CeciError(f"{path}: row {i + 2}, column cvegeo: found {df['cvegeo'].iat[i]!r}, expected a 5-digit INEGI key")
    out = pd.DataFrame({
        "site_id": df["site_id"], "name": df["name"], "scheme": df["scheme"], "pole": df["pole"].str.strip(),
        "cvegeo": df["cvegeo"], "lat": _numeric(df, "lat", path, 14.0, 33.0),
        "lon": _numeric(df, "lon", path, -119.0, -86.0),
        "opening_date": _dates(df, "opening_date", path, allow_empty=True),
        "capacity": _whole(df, "capacity", path),
    })
    op = out["opening_date"]
    out["opening_period"] = np.where(op.isna(), 0, op.dt.year * 12 + op.dt.month - 1).astype(np.int64)
    if data_end is not None:
        late = out["opening_period"] > data_end
        if late.any():
            i = int(np.flatnonzero(late.to_numpy())[0])
            raise CeciError(f"{path}: row {i + 2}, column opening_date: {op.iat[i]:%Y-%m-%d} is after the end of the "
                            f"data window ({label(data_end)}); expected an opening inside the window or empty")
    return out


# a name used as a key (a PODECOBI pole): letters of any script, digits, spaces and plain punctuation
_NAME = re.compile(r"[^\W_][\w .,'()&\u2013\u2014-]{0,99}")


def _check_ids(path: Path, df: pd.DataFrame, col: str) -> None:
    """Identifiers that may name a report file: :data:`ceci_impact.io.SAFE_NAME`, one line naming the first bad row."""
    s = df[col].astype(str)
    bad = ~s.str.fullmatch(SAFE_NAME.pattern) | s.str.contains("..", regex=False)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise CeciError(f"{path}: row {i + 2}, column {col}: found {s.iat[i]!r}, expected a non-empty identifier of "
                        "letters, digits, '_', '.' or '-' (starting with a letter or digit, at most 120 characters)")


def _check_names(path: Path, df: pd.DataFrame, col: str, allow_empty: bool) -> None:
    """Names used as keys (poles): letters, digits, spaces and ``.,'()&-``; no markup, control characters or
    leading/trailing spaces."""
    s = df[col].astype(str)
    ok = s.str.fullmatch(_NAME.pattern) & (s == s.str.strip()) | (allow_empty & (s == ""))
    if (~ok).any():
        i = int(np.flatnonzero((~ok).to_numpy())[0])
        raise CeciError(f"{path}: row {i + 2}, column {col}: found {s.iat[i]!r}, expected a name of letters, digits, "
                        "spaces and . , ' ( ) & - (at most 100 characters)" + (" or empty" if allow_empty else ""))


def read_municipios(path: str | Path) -> pd.DataFrame:
    """Municipality attributes: ``cvegeo, nombre, cve_ent, lat, lon, mujeres_15_64, x_industrial, polo``.

    Parameters
    ----------
    path : str or pathlib.Path
        ``municipios.csv``.
    """
    path = Path(path)
    df = _read_csv(path, ["cvegeo", "nombre", "lat", "lon", "mujeres_15_64"])
    badg = ~df["cvegeo"].str.strip().str.fullmatch(r"\d{5}")
    if badg.any():
        i = int(np.flatnonzero(badg.to_numpy())[0])
        raise CeciError(f"{path}: row {i + 2}, column cvegeo: found {df['cvegeo'].iat[i]!r}, expected a 5-digit INEGI "
                        "key")
    if "polo" in df:
        df["polo"] = df["polo"].str.strip()
        _check_names(path, df, "polo", allow_empty=True)
    out = df.copy()
    out["lat"] = _numeric(df, "lat", path, 14.0, 33.0)
    out["lon"] = _numeric(df, "lon", path, -119.0, -86.0)
    out["mujeres_15_64"] = _numeric(df, "mujeres_15_64", path, 0, None)
    if "x_industrial" in df:
        out["x_industrial"] = _numeric(df, "x_industrial", path)
    if out["cvegeo"].duplicated().any():
        raise CeciError(f"{path}: column cvegeo: duplicated key {out.loc[out.cvegeo.duplicated(), 'cvegeo'].iat[0]}")
    return out


def _read_parquet(path: Path, required: list[str]) -> pd.DataFrame:
    if not path.exists():
        raise CeciError(f"{path}: file not found")
    regular_file(path, "a Parquet file")
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types
        raise CeciError(f"{path}: not a readable Parquet file ({type(exc).__name__})") from None
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise CeciError(f"{path}: missing column {', '.join(missing)}; expected columns {', '.join(required)}")
    if df.empty:
        raise CeciError(f"{path}: no rows; expected at least one row (columns {', '.join(required)})")
    return df


def _first_bad(path: Path, df: pd.DataFrame, mask: pd.Series, col: str, expected: str) -> None:
    mask = np.asarray(mask, dtype=bool)
    if mask.any():
        i = int(np.flatnonzero(mask)[0])
        v = df[col].iat[i]
        v = v.item() if isinstance(v, np.generic) else v
        shown = f"{v:%Y-%m-%d}" if isinstance(v, pd.Timestamp) else repr(v)
        raise CeciError(f"{path}: row {i + 1}, column {col}: found {shown}, expected {expected}")


def read_employers(path: str | Path) -> pd.DataFrame:
    """Employers (registros patronales): ``employer_id, cvegeo, lat, lon, sector, size_band``.

    Parameters
    ----------
    path : str or pathlib.Path
        ``employers.parquet``.
    """
    path = Path(path)
    df = _read_parquet(path, ["employer_id", "cvegeo", "lat", "lon", "sector", "size_band"])
    _first_bad(path, df, df["employer_id"].duplicated(), "employer_id", "unique employer ids")
    _first_bad(path, df, ~df["lat"].between(14, 33), "lat", "a latitude in Mexico (14..33)")
    _first_bad(path, df, ~df["lon"].between(-119, -86), "lon", "a longitude in Mexico (-119..-86)")
    _first_bad(path, df, ~df["size_band"].isin([f"S{k}" for k in range(1, 8)]), "size_band", "S1..S7")
    return df


def read_job_spells(path: str | Path, employers: pd.DataFrame | None = None) -> pd.DataFrame:
    """Job spells (confidential layout): worker, employer, start, end (NaT = open), sex, birth year, child's birth.

    Parameters
    ----------
    path : str or pathlib.Path
        ``job_spells.parquet``.
    employers : pandas.DataFrame, optional
        Employers from :func:`read_employers`; every spell's employer must be listed.
    """
    path = Path(path)
    df = _read_parquet(path, ["worker_id", "employer_id", "start", "end", "sex", "birth_year", "child_birth"])
    for c in ("start", "end", "child_birth"):
        if not pd.api.types.is_datetime64_any_dtype(df[c]):
            conv = pd.to_datetime(df[c], errors="coerce")
            _first_bad(path, df, conv.isna() & df[c].notna(), c, "a date")
            df[c] = conv
    _first_bad(path, df, df["start"].isna(), "start", "a start date")
    _first_bad(path, df, df["end"].notna() & (df["end"] < df["start"]), "end", "an end date on or after start")
    _first_bad(path, df, ~df["sex"].isin([1, 2]), "sex", "1 (man) or 2 (woman)")
    by = pd.to_numeric(df["birth_year"], errors="coerce")
    _first_bad(path, df, by.isna() | (by < 1900) | (by > pd.Timestamp.now().year - 12), "birth_year",
               "a birth year of a person of working age")
    cb = df["child_birth"]
    _first_bad(path, df, cb.notna() & ((cb.dt.year < by + 12) | (cb.dt.year > by + 75)), "child_birth",
               "a child born when the parent was 12 to 75 years old")
    _first_bad(path, df, df.duplicated(["worker_id", "employer_id", "start"]), "start",
               "one spell per worker, employer and start date (duplicated spell)")
    _first_bad(path, df, _overlapping(df), "start", "a start after the end of the same worker's earlier spell at "
               "the same employer (overlapping spells would count the worker twice)")
    if employers is not None:
        _first_bad(path, df, ~df["employer_id"].isin(employers["employer_id"]), "employer_id",
                   "an employer listed in employers.parquet")
    return df


def _overlapping(df: pd.DataFrame) -> np.ndarray:
    """Rows whose spell starts on or before the end of an earlier spell of the same worker at the same employer
    (an open spell never ends)."""
    o = df[["worker_id", "employer_id", "start", "end"]].sort_values(["worker_id", "employer_id", "start"])
    end = o["end"].astype("datetime64[ns]").fillna(pd.Timestamp.max)
    w, e = o["worker_id"].to_numpy(), o["employer_id"].to_numpy()
    same = np.r_[False, (w[1:] == w[:-1]) & (e[1:] == e[:-1])]
    reach = end.groupby([o["worker_id"], o["employer_id"]], sort=False).cummax().shift(1)
    hit = same & (o["start"].to_numpy() <= reach.to_numpy())
    out = np.zeros(len(df), dtype=bool)
    out[df.index.get_indexer(o.index[hit])] = True
    return out


def check_spells_window(path: Path, df: pd.DataFrame, p1: int) -> None:
    """Spells must start by the end of the data window (``p1``, an integer period).

    Parameters
    ----------
    path : pathlib.Path
        The spells file (named in the error).
    df : pandas.DataFrame
        The spells from :func:`read_job_spells`.
    p1 : int
        Last integer period of the data window.
    """
    start_p = df["start"].dt.year * 12 + df["start"].dt.month - 1
    _first_bad(path, df, start_p > p1, "start", f"a start on or before the end of the data window ({label(p1)})")


BRANCHES = ("enfermedad_general", "riesgo_trabajo", "maternidad")


# longest certificate the law allows per branch (days): general illness and work risk 52 weeks, maternity 84 days
MAX_DAYS = {"enfermedad_general": 364, "riesgo_trabajo": 364, "maternidad": 84}


def read_incapacidades(path: str | Path, spells: pd.DataFrame | None = None) -> pd.DataFrame:
    """Incapacity certificates (confidential layout): worker, employer, start, days, branch.

    Days are whole numbers from 1 to the legal maximum of the branch (:data:`MAX_DAYS`); with ``spells``, every
    certificate's worker and employer must hold a spell together.

    Parameters
    ----------
    path : str or pathlib.Path
        ``incapacidades.parquet``.
    spells : pandas.DataFrame, optional
        Spells from :func:`read_job_spells`; each certificate's worker and employer must hold one.
    """
    path = Path(path)
    df = _read_parquet(path, ["worker_id", "employer_id", "start", "days", "branch"])
    if not pd.api.types.is_datetime64_any_dtype(df["start"]):
        conv = pd.to_datetime(df["start"], errors="coerce")
        _first_bad(path, df, conv.isna() & df["start"].notna(), "start", "a date")
        df["start"] = conv
    _first_bad(path, df, df["start"].isna(), "start", "a start date")
    _first_bad(path, df, ~df["branch"].isin(BRANCHES), "branch", " | ".join(BRANCHES))
    days = pd.to_numeric(df["days"], errors="coerce") if not pd.api.types.is_numeric_dtype(df["days"]) else df["days"]
    _first_bad(path, df, days.isna(), "days", "a number of days")
    _first_bad(path, df, (days != np.floor(days)) | (days < 1), "days", "a whole number of days, at least 1")
    limit = df["branch"].map(MAX_DAYS)
    over = days > limit
    if over.any():
        i = int(np.flatnonzero(over.to_numpy())[0])
        raise CeciError(f"{path}: row {i + 1}, column days: found {days.iat[i]:g} for {df['branch'].iat[i]}, expected at "
                        f"most {int(limit.iat[i])} (the legal maximum of the branch)")
    df["days"] = days.astype(np.int64)
    if spells is not None:
        pairs = pd.MultiIndex.from_frame(spells[["worker_id", "employer_id"]].drop_duplicates())
        known = pd.MultiIndex.from_frame(df[["worker_id", "employer_id"]]).isin(pairs)
        _first_bad(path, df, ~known, "worker_id", "a worker with a job spell at that employer (job_spells.parquet)")
    return df


# ------------------------------------------------------------------------------------ historical back-test
# Real public data of the guarderías back-test (original files; provenance in reference_data/guarderias/PROVENANCE.md).
