"""The bad-input corpus: each case is a copy of the small world with one defect, made by a mutation function.

Every case must end as stated — an error (exit status 2, one line on stderr naming the problem, no traceback) or a
warning (exit status 0, a ``warning:`` line, recorded in the manifest) — and a failed build must leave the previous
panels byte for byte as they were. Nothing here is a stored file: the defects are made from the simulated world.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from ceci_impact import cli


# ----------------------------------------------------------------------------------------------- mutation helpers
def _asg(raw: Path, month: str) -> Path:
    return next((raw / "asegurados").glob(f"asg-{month}-*.csv"))


def _rewrite(path: Path, data: bytes) -> None:
    """Replace a file (the case folder holds hard links to the shared world: never write through them)."""
    path.unlink()
    path.write_bytes(data)


def _lines(path: Path) -> tuple[list[str], str]:
    raw = path.read_bytes()
    enc = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "latin-1"
    try:
        text = raw.decode("utf-8") if enc != "latin-1" else raw.decode("utf-8")
        enc = "utf-8"
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
        enc = "latin-1"
    return text.lstrip("\ufeff").splitlines(), enc


def _edit_rows(month: str, fn: Callable[[list[str], list[str]], list[str]]):
    """Mutation applying ``fn(header, rows) -> rows`` to one month's file."""
    def mutate(raw: Path, *_):
        p = _asg(raw, month)
        lines, enc = _lines(p)
        header = lines[0].split("|")
        rows = fn(header, lines[1:])
        _rewrite(p, ("\n".join([lines[0], *rows]) + "\n").encode(enc))
    return mutate


def _set(col: str, value: str, row: int = 3):
    def fn(header, rows):
        i = [h.lower() for h in header].index(col)
        f = rows[row].split("|")
        f[i] = value
        rows[row] = "|".join(f)
        return rows
    return fn


def _first_working_row(header, rows) -> int:
    i = [h.lower() for h in header].index("ta")
    return next(k for k, r in enumerate(rows) if int(r.split("|")[i]) > 0)


def _working_row(change: Callable[[dict], dict]):
    """Edit the first row with jobs: ``change`` maps its fields (by lower-case name) to the new values."""
    def fn(header, rows):
        h = [x.lower() for x in header]
        k = _first_working_row(header, rows)
        f = dict(zip(h, rows[k].split("|"), strict=True))
        f.update(change(f))
        rows[k] = "|".join(f[c] for c in h)
        return rows
    return fn


_bump_ta = _working_row(lambda f: {"ta": str(int(f["ta"]) + 1)})
_salaried_above_jobs = _working_row(lambda f: {"ta_sal": str(int(f["ta"]) + 1)})
_negative_teu = _working_row(lambda f: {"teu": "-1"})
_huge_cell = _working_row(lambda f: {"ta": str(int(f["ta"]) + 100_000), "teu": str(int(f["ta"]) + 100_000),
                                     "tec": "0", "tpu": "0", "tpc": "0",
                                     "ta_sal": str(int(f["ta_sal"]) + 100_000), "teu_sal": str(int(f["ta_sal"]) + 100_000)})


def _truncate(raw: Path, *_):
    p = _asg(raw, "2024-06")
    data = p.read_bytes()
    _rewrite(p, data[: len(data) // 2])  # mid-row: the last row loses its trailing fields


def _rename(month: str, new_name: str):
    def mutate(raw: Path, *_):
        p = _asg(raw, month)
        os.rename(p, p.with_name(new_name))
    return mutate


def _delete(month: str):
    def mutate(raw: Path, *_):
        _asg(raw, month).unlink()
    return mutate


def _bom_then_latin1(raw: Path, *_):
    p = next(f for f in sorted((raw / "asegurados").glob("asg-*.csv")) if not f.read_bytes().startswith(b"\xef\xbb"))
    data = p.read_bytes()
    try:
        data.decode("utf-8")
        data = data.replace("tamaño".encode(), "tamaño".encode("latin-1"))
    except UnicodeDecodeError:
        pass
    _rewrite(p, b"\xef\xbb\xbf" + data)


def _utf16(raw: Path, *_):
    p = _asg(raw, "2024-03")
    lines, _ = _lines(p)
    _rewrite(p, ("\n".join(lines) + "\n").encode("utf-16"))


def _csv(name: str, fn: Callable[[pd.DataFrame], pd.DataFrame]):
    def mutate(raw: Path, *_):
        p = raw / name
        df = fn(pd.read_csv(p, dtype=str, keep_default_na=False))
        p.unlink()
        df.to_csv(p, index=False)
    return mutate


def _parquet(name: str, fn: Callable[[pd.DataFrame], pd.DataFrame]):
    def mutate(raw: Path, *_):
        p = raw / name
        df = fn(pd.read_parquet(p))
        p.unlink()
        df.to_parquet(p, index=False)
    return mutate


def _row(df: pd.DataFrame, col: str, value, i: int = 0) -> pd.DataFrame:
    df = df.copy()
    if df[col].dtype.kind in "iu" and not isinstance(value, int):
        df[col] = df[col].astype(object)
    df.loc[df.index[i], col] = value
    return df


def _eg_row(df: pd.DataFrame) -> int:
    return int((df.branch == "enfermedad_general").to_numpy().argmax())


def _days(value):
    def fn(df):
        df = df.copy()
        if not isinstance(value, int):
            df["days"] = df["days"].astype(str if isinstance(value, str) else float)
        df.loc[df.index[_eg_row(df)], "days"] = value
        return df
    return fn


def _far_site(df):
    df = df.copy()
    df.loc[df.index[0], "lat"] = str(float(df.lat.iat[0]) + 5.5 if float(df.lat.iat[0]) < 26 else float(df.lat.iat[0]) - 5.5)
    return df


def _copy_month(src: str, dst: str):
    def mutate(raw: Path, *_):
        a, b = _asg(raw, src), _asg(raw, dst)
        _rewrite(b, a.read_bytes())
    return mutate


def _cert_before_spell(df):
    df = df.copy()
    df.loc[df.index[0], "start"] = df.start.iat[0] - pd.Timedelta(days=4000)
    return df


def _drop(name: str):
    def mutate(raw: Path, *_):
        (raw / name).unlink()
    return mutate


# ----------------------------------------------------------------------------------------------- the corpus
E, W = "error", "warning"
CASES: list[tuple[str, Callable, tuple, str, str]] = [
    # (name, mutation, extra build arguments, outcome, text the line must contain)
    ("asg truncated mid-row", _truncate, (), E, "fields, expected"),
    ("asg row with 20 fields", _edit_rows("2024-05", lambda h, r: [*r[:4], "|".join(r[4].split("|")[:20]), *r[5:]]), (), E, "found 20 '|'-separated fields"),
    ("asg row with 26 fields", _edit_rows("2024-05", lambda h, r: [*r[:4], "|".join(r[4].split("|")[:26]), *r[5:]]), (), E, "found 26"),
    ("asg row with 30 fields", _edit_rows("2024-05", lambda h, r: [*r[:4], r[4] + "|7", *r[5:]]), (), E, "found 30"),
    ("asg ta not the sum of its parts", _edit_rows("2024-04", _bump_ta), (), E, "ta = teu + tec + tpu + tpc"),
    ("asg decimal ta", _edit_rows("2024-04", _set("ta", "1.5")), (), E, "column ta: found '1.5'"),
    ("asg empty ta", _edit_rows("2024-04", _set("ta", "")), (), E, "column ta: found ''"),
    ("asg ta_sal above ta", _edit_rows("2024-04", _salaried_above_jobs), (), E, "ta_sal <= ta"),
    ("asg negative wage mass", _edit_rows("2024-04", _set("masa_sal_ta", "-12.5")), (), E, "column masa_sal_ta"),
    ("asg negative teu", _edit_rows("2024-04", _negative_teu), (), E, "column teu: found '-1'"),
    ("asg every row duplicated", _edit_rows("2024-04", lambda h, r: r + r), (), E, "repeat a cell"),
    ("asg header-only month", _edit_rows("2024-04", lambda h, r: []), (), E, "no data rows"),
    ("asg gap month", _delete("2024-07"), (), E, "2024-07 missing inside the window"),
    ("asg gap month accepted", _delete("2024-07"), ("--allow-gaps",), W, "2024-07 missing"),
    ("asg gap month under --strict", _delete("2024-07"), ("--allow-gaps", "--strict"), E, "--strict"),
    ("asg upper-case .CSV", _rename("2024-08", "asg-2024-08-31.CSV"), (), E, "asg-2024-08-31.CSV"),
    ("asg zipped month", _rename("2024-08", "asg-2024-08-31.zip"), (), E, "uncompressed"),
    ("asg impossible date 02-31", _rename("2024-02", "asg-2024-02-31.csv"), (), E, "last day"),
    ("asg day 00", _rename("2024-06", "asg-2024-06-00.csv"), (), E, "last day"),
    ("asg mid-month cut-off", _rename("2024-06", "asg-2024-06-15.csv"), (), E, "last day"),
    ("asg periodo_informacion of another month", _edit_rows("2025-09", _set("periodo_informacion", "2025-08")), (), E, "periodo_informacion"),
    ("asg ptpd = S", _edit_rows("2025-09", _set("ptpd", "S")), (), E, "column ptpd: found 'S'"),
    ("asg unknown sexo", _edit_rows("2024-04", _set("sexo", "3")), (), E, "column sexo"),
    ("asg unknown size band", _edit_rows("2024-04", _set("tamaño_patron", "S9")), (), E, "tamaño_patron"),
    ("asg empty IMSS key", _edit_rows("2024-04", _set("cve_municipio", "")), (), W, "no IMSS municipality key"),
    ("asg empty IMSS key under --strict", _edit_rows("2024-04", _set("cve_municipio", "")), ("--strict",), E, "--strict"),
    ("asg unknown IMSS key", _edit_rows("2024-04", _set("cve_municipio", "Q00")), (), E, "not in the crosswalk"),
    ("asg cell of 100,000 jobs", _edit_rows("2024-09", _huge_cell), (), W, "jump"),
    ("asg BOM then latin-1 bytes", _bom_then_latin1, (), E, "byte-order mark"),
    ("asg UTF-16", _utf16, (), E, "UTF-16"),
    ("crosswalk target unknown", _csv("crosswalk_imss_municipio_to_inegi.csv", lambda d: _row(d, "cvegeo_inegi", "99999")), (), E, "municipios.csv"),
    ("site municipality unknown", _csv("ceci_sites.csv", lambda d: _row(d, "cvegeo", "99998")), (), E, "column cvegeo"),
    ("site unknown pole", _csv("ceci_sites.csv", lambda d: _row(d, "pole", "Atlantis")), (), E, "column pole"),
    ("site 600 km from its municipality", _csv("ceci_sites.csv", _far_site), (), E, "km from the centre"),
    ("site decimal capacity", _csv("ceci_sites.csv", lambda d: _row(d, "capacity", "150.5")), (), E, "whole number"),
    ("employer municipality unknown", _parquet("employers.parquet", lambda d: _row(d, "cvegeo", "99997")), (), E, "employers.parquet"),
    ("duplicated spell", _parquet("job_spells.parquet", lambda d: pd.concat([d, d.iloc[[5]]], ignore_index=True)), (), E, "duplicated spell"),
    ("spell after the window", _parquet("job_spells.parquet", lambda d: _row(_row(d, "start", pd.Timestamp("2030-01-01")), "end", pd.NaT)), (), E, "end of the data window"),
    ("child born in 1900", _parquet("job_spells.parquet", lambda d: _row(d, "child_birth", pd.Timestamp("1900-01-01"))), (), E, "child_birth"),
    ("incapacity of 400 days", _parquet("incapacidades.parquet", _days(400)), (), E, "legal maximum"),
    ("incapacity of 100,000 days", _parquet("incapacidades.parquet", _days(100_000)), (), E, "legal maximum"),
    ("incapacity without start", _parquet("incapacidades.parquet", lambda d: _row(d, "start", pd.NaT)), (), E, "column start"),
    ("incapacity with NaN days", _parquet("incapacidades.parquet", _days(float("nan"))), (), E, "column days"),
    ("incapacity days as text", _parquet("incapacidades.parquet", _days("siete")), (), E, "column days"),
    ("incapacity of an unknown worker", _parquet("incapacidades.parquet", lambda d: _row(d, "worker_id", "T9999999999")), (), E, "job spell"),
    ("job spells missing", _drop("job_spells.parquet"), (), E, "job_spells.parquet not found"),
    ("July's file under June's name", _copy_month("2024-07", "2024-06"), (), E, "same rows, jobs and wage mass"),
    ("certificate outside its spell and the window", _parquet("incapacidades.parquet", _cert_before_spell), (), W, "outside their worker's spell"),
    ("certificate outside the window", _parquet("incapacidades.parquet", _cert_before_spell), (), W, "outside the data window"),
    ("certificate outside its spell under --strict", _parquet("incapacidades.parquet", _cert_before_spell), ("--strict",), E, "--strict"),
]


# ----------------------------------------------------------------------------------------------- running a case
def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _run(*args) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = cli.main([str(a) for a in args])
        except SystemExit as exc:  # argparse's option errors
            code = exc.code
    return code, err.getvalue()


@pytest.fixture(scope="module")
def world(small_world, tmp_path_factory):
    return small_world


def _case_dirs(world: Path, tmp: Path) -> tuple[Path, Path]:
    raw = tmp / "raw"
    shutil.copytree(world / "raw", raw, copy_function=os.link)
    out = tmp / "processed"
    shutil.copytree(world / "processed", out)
    return raw, out


@pytest.mark.parametrize("name,mutate,extra,outcome,text", CASES, ids=[c[0] for c in CASES])
def test_bad_input(world, tmp_path, name, mutate, extra, outcome, text):
    raw, out = _case_dirs(world, tmp_path)
    mutate(raw)
    before = _digest(out)
    code, err = _run("build", "--quiet", "--raw", raw, "--out", out, *extra)
    assert "Traceback" not in err, err
    lines = [ln for ln in err.strip().splitlines() if ln]
    if outcome == E:
        assert code == 2, (name, err)
        assert len(lines) == 1 and lines[0].startswith("error: "), (name, err)
        assert text in lines[0], (name, lines[0])
        assert _digest(out) == before, "a failed build changed the previous panels"
    else:
        assert code == 0, (name, err)
        assert any(ln.startswith("warning: ") and text in ln for ln in lines), (name, err)
        m = json.loads((out / "manifest.json").read_text())
        assert any(text in w for w in m["quality"]["warnings"]), m["quality"]
    assert not list(tmp_path.glob(".processed.tmp-*")), "a temporary folder was left behind"


def test_clean_world_builds_without_warnings(world):
    m = json.loads((world / "processed" / "manifest.json").read_text())
    assert m["quality"]["warnings"] == []


@pytest.mark.parametrize("target", ["raw", "parent", "inside"])
def test_output_equal_to_inside_or_above_raw_is_refused(world, tmp_path, target):
    raw = tmp_path / "data" / "raw"
    shutil.copytree(world / "raw", raw, copy_function=os.link)
    before = _digest(raw)
    out = {"raw": raw, "parent": tmp_path / "data", "inside": raw / "processed"}[target]
    code, err = _run("build", "--quiet", "--raw", raw, "--out", out)
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert _digest(raw) == before


def test_user_files_in_the_output_are_never_deleted(world, tmp_path):
    raw, out = _case_dirs(world, tmp_path)
    (out / "my_notes.txt").write_text("mine")
    code, err = _run("build", "--quiet", "--raw", raw, "--out", out)
    assert code == 2 and "my_notes.txt" in err
    assert (out / "my_notes.txt").read_text() == "mine"


def test_option_and_environment_errors_are_one_line(world, tmp_path):
    raw, out = _case_dirs(world, tmp_path)
    for args in (["--memory-limit", "lots"], ["--memory-limit", "1MB"], ["--ring-km", "3,inf"], ["--ring-km", "10,3"]):
        code, err = _run("build", "--quiet", "--raw", raw, "--out", out, *args)
        assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o555)
    try:
        if os.access(ro, os.W_OK):  # root ignores permissions: make the parent a file instead
            os.chmod(ro, 0o755)
            shutil.rmtree(ro)
            ro.write_text("a file, not a folder")
        code, err = _run("build", "--quiet", "--raw", raw, "--out", ro / "proc")
        assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    finally:
        if ro.is_dir():
            os.chmod(ro, 0o755)
    quoted = tmp_path / "it's here" / "proc"
    code, err = _run("build", "--quiet", "--raw", raw, "--out", quoted)
    assert code == 0 and (quoted / "mun_month.parquet").exists(), err


def test_leftovers_of_a_killed_build_are_cleaned(world, tmp_path):
    raw, out = _case_dirs(world, tmp_path)
    stale = tmp_path / ".processed.tmp-deadbeef"
    stale.mkdir()
    (stale / "half.parquet").write_text("x")
    code, err = _run("build", "--quiet", "--raw", raw, "--out", out)
    assert code == 0, err
    assert not stale.exists()
