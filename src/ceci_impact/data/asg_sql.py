"""IMSS open-data ``asg`` months read and checked in DuckDB SQL, streaming: never a whole file in memory.

One scan per file reads every column as text (``read_csv`` with ``quote=''``: the literal ``NA`` is a category),
aggregates jobs, salaried jobs and the wage mass by IMSS municipality × sex × platform flag, and counts in the same
pass the rows that break a rule (:data:`RULES`): numbers that are not non-negative integers (or, for the wage mass,
non-negative decimals), ``ta = teu + tec + tpu + tpc``, ``ta_sal <= ta``, codes outside their catalogues
(``sexo``, ``tamaño_patron``, ``rango_edad``, wage and UMA bands, ``ptpd``), a ``periodo_informacion`` that is not
the file's month. A row with the wrong number of fields (a truncated file, a shifted row) stops the scan. Only when
something is wrong is the file read again, line by line in Python, to name the first offending row and column — so
the normal path costs about one bare DuckDB scan. Messages are one line: file, row, column, what was found and what
was expected.
"""

from __future__ import annotations

import codecs
import math
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from .._options import CeciError
from .sources import ASG_KNOWN_EXTRA, ASG_REQUIRED, asg_period, normalise_asg_header

INT_COLS = ("ta", "teu", "tec", "tpu", "tpc", "ta_sal")
SIZES = tuple(f"S{k}" for k in range(1, 8))
AGES = tuple(f"E{k}" for k in range(1, 15))
WAGES = tuple(f"W{k}" for k in range(1, 26))
UMAS = tuple(f"UMA{k}" for k in range(1, 26))
_INT = re.compile(r"[0-9]+")
_DEC = re.compile(r"[0-9]+(\.[0-9]+)?")
MAX_CELL = 100_000_000  # jobs in one cell: four times Mexico's insured workforce; more is a corrupt number
MAX_DAILY_WAGE = 100_000  # pesos a day per salaried job: about 35 times the 25-UMA contribution ceiling


def _q(c: str) -> str:
    return '"' + c.replace('"', '""') + '"'


def _in(col: str, values: tuple[str, ...], blank: bool) -> str:
    vals = ", ".join(f"'{v}'" for v in values + (("", "NA") if blank else ()))
    return f"coalesce({_q(col)}, '') NOT IN ({vals})"


@dataclass(frozen=True)
class Rule:
    """A row-level rule: its SQL test for a bad row, the same test in Python, the column and what is expected.

    Parameters
    ----------
    column : str
        The ``asg`` column the rule checks (named in the error).
    sql_bad : str
        SQL expression that is true for an offending row.
    expected : str
        What a valid value looks like, for the one-line error.
    """

    column: str
    sql_bad: str
    expected: str


def rules(header: list[str], period: int) -> list[Rule]:
    """The row rules that apply to a file with this header (extras only when present).

    Parameters
    ----------
    header : list of str
        The file's normalised header (rules for optional columns only when present).
    period : int
        The file's integer period (year * 12 + month - 1), taken from its name.
    """
    y, m = divmod(period, 12)
    out = [Rule(c, f"NOT regexp_full_match(coalesce({_q(c)}, ''), '[0-9]+')", "a non-negative whole number")
           for c in INT_COLS]
    out.append(Rule("masa_sal_ta", "NOT regexp_full_match(coalesce(masa_sal_ta, ''), '[0-9]+(\\.[0-9]+)?')",
                    "a non-negative amount"))
    ints = {c: f"TRY_CAST({_q(c)} AS BIGINT)" for c in INT_COLS}
    out += [Rule(c, f"regexp_full_match(coalesce({_q(c)}, ''), '[0-9]+') AND ({ints[c]} IS NULL OR {ints[c]} > "
                    f"{MAX_CELL})", f"a count of at most {MAX_CELL:,} jobs in one cell") for c in INT_COLS]
    out.append(Rule("masa_sal_ta", f"regexp_full_match(coalesce(masa_sal_ta, ''), '[0-9]+(\\.[0-9]+)?') AND "
                                   f"(NOT isfinite(TRY_CAST(masa_sal_ta AS DOUBLE)) OR TRY_CAST(masa_sal_ta AS DOUBLE) "
                                   f"> {MAX_DAILY_WAGE} * greatest(coalesce({ints['ta_sal']}, 0), 1))",
                    f"a daily wage mass of at most {MAX_DAILY_WAGE:,} pesos per salaried job (ta_sal)"))
    out.append(Rule("ta", f"{ints['ta']} <> {ints['teu']} + {ints['tec']} + {ints['tpu']} + {ints['tpc']}",
                    "ta = teu + tec + tpu + tpc"))
    out.append(Rule("ta_sal", f"{ints['ta_sal']} > {ints['ta']}", "ta_sal <= ta (salaried jobs are jobs)"))
    out.append(Rule("sexo", _in("sexo", ("1", "2"), False), "1 (man) or 2 (woman)"))
    out.append(Rule("tamaño_patron", _in("tamaño_patron", SIZES, True), "S1..S7 (or empty)"))
    out.append(Rule("rango_edad", _in("rango_edad", AGES, True), "E1..E14"))
    out.append(Rule("rango_salarial", _in("rango_salarial", WAGES, True), "W1..W25 or NA"))
    out.append(Rule("rango_uma", _in("rango_uma", UMAS, True), "UMA1..UMA25 or NA"))
    if "rango_ingreso_vsm" in header:
        out.append(Rule("rango_ingreso_vsm", _in("rango_ingreso_vsm", WAGES, True), "W1..W25 or NA"))
    if "rango_ingreso_uma" in header:
        out.append(Rule("rango_ingreso_uma", _in("rango_ingreso_uma", UMAS, True), "UMA1..UMA25 or NA"))
    if "ptpd" in header:
        out.append(Rule("ptpd", "coalesce(ptpd, '') NOT IN ('', '0', '1')", "0, 1 or empty (platform-worker flag)"))
    if "periodo_informacion" in header:
        out.append(Rule("periodo_informacion",
                        f"NOT starts_with(regexp_replace(coalesce(periodo_informacion, ''), '[^0-9]', '', 'g'), "
                        f"'{y:04d}{m + 1:02d}')", f"the file's month {y:04d}-{m + 1:02d}"))
    return out


def _py_bad(rule: Rule, row: dict[str, str], period: int) -> bool:
    """The Python twin of a rule's SQL test (used only to name the first offending row)."""
    c, v = rule.column, row.get(rule.column, "")
    if rule.expected.startswith("a count of at most"):
        return bool(_INT.fullmatch(v)) and int(v) > MAX_CELL
    if rule.expected.startswith("a daily wage mass"):
        if not _DEC.fullmatch(v):
            return False
        sal = int(row["ta_sal"]) if _INT.fullmatch(row.get("ta_sal", "")) else 0
        return not math.isfinite(float(v)) or float(v) > MAX_DAILY_WAGE * max(sal, 1)
    if rule.expected.startswith("ta ="):
        try:
            return int(row["ta"]) != sum(int(row[k]) for k in ("teu", "tec", "tpu", "tpc"))
        except ValueError:
            return False
    if rule.expected.startswith("ta_sal <="):
        try:
            return int(row["ta_sal"]) > int(row["ta"])
        except ValueError:
            return False
    if c in INT_COLS:
        return not _INT.fullmatch(v)
    if c == "masa_sal_ta":
        return not _DEC.fullmatch(v)
    if c == "periodo_informacion":
        y, m = divmod(period, 12)
        return not re.sub(r"[^0-9]", "", v).startswith(f"{y:04d}{m + 1:02d}")
    allowed = {"sexo": ("1", "2"), "tamaño_patron": SIZES + ("", "NA"), "rango_edad": AGES + ("", "NA"),
               "rango_salarial": WAGES + ("", "NA"), "rango_uma": UMAS + ("", "NA"),
               "rango_ingreso_vsm": WAGES + ("", "NA"), "rango_ingreso_uma": UMAS + ("", "NA"),
               "ptpd": ("", "0", "1")}[c]
    return v not in allowed


def detect_encoding(path: Path) -> str:
    """``"utf-8"`` (with or without BOM) or ``"latin-1"``, read in 16 MB blocks; UTF-16 and a BOM followed by
    non-UTF-8 bytes are errors.

    Parameters
    ----------
    path : pathlib.Path
        The ``asg`` file to read.
    """
    with open(path, "rb") as fh:
        head = fh.read(4096)
        if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
            raise CeciError(f"{path}: the file is UTF-16 encoded (NUL bytes in its header); expected UTF-8 or latin-1 "
                            "text — save it as UTF-8")
        bom = head.startswith(b"\xef\xbb\xbf")
        dec = codecs.getincrementaldecoder("utf-8")("strict")
        fh.seek(0)
        offset = 0
        try:
            while chunk := fh.read(1 << 24):
                dec.decode(chunk)
                offset += len(chunk)
            dec.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            if bom:
                raise CeciError(f"{path}: starts with a UTF-8 byte-order mark but byte {offset + exc.start:,} is not "
                                "UTF-8; expected one encoding for the whole file (UTF-8 or latin-1)") from None
            return "latin-1"
    return "utf-8"


def read_header(path: Path, encoding: str) -> list[str]:
    """The normalised header of an ``asg`` file, checked against the IMSS columns.

    Parameters
    ----------
    path : pathlib.Path
        The ``asg`` file whose first line is read.
    encoding : str
        Its encoding, as returned by :func:`detect_encoding`.
    """
    with open(path, "rb") as fh:
        line = fh.readline()
    text = line.decode(encoding).lstrip("\ufeff").rstrip("\r\n")
    header = normalise_asg_header(text.split("|"))
    missing = [c for c in ASG_REQUIRED if c not in header]
    if missing:
        raise CeciError(f"{path}: missing column {', '.join(missing)}; expected the 29 IMSS columns "
                        f"(found {len(header)}: {', '.join(header[:6])}, ...)")
    unknown = [c for c in header if c not in ASG_REQUIRED and c not in ASG_KNOWN_EXTRA]
    if unknown:
        raise CeciError(f"{path}: unexpected column {', '.join(unknown)}; known extras are "
                        f"{', '.join(sorted(ASG_KNOWN_EXTRA))}")
    if len(set(header)) != len(header):
        raise CeciError(f"{path}: duplicated column names in header")
    return header


def _read_csv_sql(path: Path, header: list[str], encoding: str) -> str:
    cols = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in header) + "}"
    p = "'" + str(path).replace("'", "''") + "'"
    return (f"read_csv({p}, delim='|', header=true, columns={cols}, auto_detect=false, quote='', escape='', "
            f"encoding='{encoding}', strict_mode=true, null_padding=false)")


def locate(path: Path, header: list[str], encoding: str, period: int, rule_list: list[Rule]) -> CeciError:
    """Read the file line by line and return the one-line error for its first offending row.

    Parameters
    ----------
    path : pathlib.Path
        The ``asg`` file that failed a rule in SQL.
    header : list of str
        Its normalised header.
    encoding : str
        Its encoding.
    period : int
        Its integer period.
    rule_list : list of Rule
        The rules to test each row against, in order.
    """
    n = len(header)
    with open(path, encoding=encoding, errors="strict", newline="") as fh:
        fh.readline()
        for i, line in enumerate(fh, start=2):
            line = line.rstrip("\r\n")
            f = line.split("|")
            if len(f) != n:
                cut = "" if line.endswith(("\n",)) else " (the file may be truncated)" if i > 2 else ""
                return CeciError(f"{path}: row {i}: found {len(f)} '|'-separated fields, expected {n}{cut}")
            row = dict(zip(header, f, strict=True))
            for r in rule_list:
                if _py_bad(r, row, period):
                    return CeciError(f"{path}: row {i}, column {r.column}: found {row.get(r.column, '')!r}, "
                                     f"expected {r.expected}")
    return CeciError(f"{path}: a row breaks the file's rules but could not be located; expected "
                     + "; ".join(r.expected for r in rule_list))


def stage_file(con: duckdb.DuckDBPyConnection, path: Path, table: str = "asg") -> dict:
    """Check one ``asg`` file and append its municipality × sex × platform-flag sums to ``table``.

    Returns the file's facts (rows, jobs, duplicated-cell estimate, rows without municipality key) for the build's
    quality record. Raises :class:`CeciError` with one line on the first problem.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The build's DuckDB connection.
    path : pathlib.Path
        The ``asg-YYYY-MM-DD.csv`` file to check and stage.
    table : str
        Name of the DuckDB table the sums are appended to.
    """
    period = asg_period(path)
    enc = detect_encoding(path)
    header = read_header(path, enc)
    rl = rules(header, period)
    bad = " OR ".join(f"({r.sql_bad})" for r in rl)
    ptpd = "coalesce(ptpd, '0') = '1'" if "ptpd" in header else "false"
    cells = ", ".join(_q(c) for c in ("cve_subdelegacion", "cve_municipio", "sector_economico_4", "tamaño_patron",
                                      "sexo", "rango_edad", "rango_salarial", "rango_uma"))
    src = _read_csv_sql(path, header, enc)
    sql = f"""
        SELECT coalesce(cve_municipio, '') AS cve_municipio, TRY_CAST(sexo AS INTEGER) AS sexo,
               CASE WHEN {ptpd} THEN 1 ELSE 0 END AS ptpd,
               SUM(TRY_CAST(ta AS BIGINT)) AS ta, SUM(TRY_CAST(ta_sal AS BIGINT)) AS ta_sal,
               SUM(TRY_CAST(masa_sal_ta AS DOUBLE)) AS masa_sal_ta, COUNT(*) AS rows_in,
               COUNT(*) FILTER (WHERE {bad}) AS bad_rows, approx_count_distinct(hash({cells})) AS distinct_cells
        FROM {src} GROUP BY ALL
    """
    try:
        df = con.execute(sql).df()
    except duckdb.InvalidInputException:  # field counts (strict mode): name the row
        raise locate(path, header, enc, period, rl) from None
    except duckdb.ConversionException:
        raise locate(path, header, enc, period, rl) from None
    if df.empty:
        raise CeciError(f"{path}: no data rows (header only); expected the month's jobs")
    if int(df.bad_rows.sum()):
        raise locate(path, header, enc, period, rl)
    rows = int(df.rows_in.sum())
    distinct = int(df.distinct_cells.sum())
    if distinct < 0.97 * rows:  # HyperLogLog counts: a few per cent of error, so only clear duplication
        raise CeciError(f"{path}: about {1 - distinct / rows:.0%} of the {rows:,} rows repeat a cell already given "
                        "(same municipality, sector, size, sex, age and wage band); expected one row per cell")
    df.insert(0, "period", period)
    con.register("asg_file", df.drop(columns=["bad_rows", "distinct_cells"]))
    con.execute(f"INSERT INTO {table} SELECT period, cve_municipio, sexo, ptpd, ta, ta_sal, masa_sal_ta, rows_in "
                "FROM asg_file")
    con.unregister("asg_file")
    nokey = df[df.cve_municipio == ""]
    return {"file": path.name, "period": period, "encoding": enc, "rows": rows, "jobs": int(df.ta.sum()),
            "wage_mass": round(float(df.masa_sal_ta.sum()), 2),
            "rows_without_municipality": int(nokey.rows_in.sum()), "jobs_without_municipality": int(nokey.ta.sum())}
