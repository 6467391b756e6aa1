"""Simulated world, readers, panels and the CLI's error contract."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from ceci_impact import CeciError
from ceci_impact.data import panels, sources, synthetic

CLI = [sys.executable, "-m", "ceci_impact.cli"]


def run_cli(*args):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=600)


def test_panel_women_jobs_equal_asg_sum(small_world):
    raw, proc = small_world / "raw", small_world / "processed"
    cw = sources.read_crosswalk(raw / "crosswalk_imss_municipio_to_inegi.csv")
    asg = sources.read_asegurados(raw / "asegurados", crosswalk=cw)
    women = asg[(asg.sexo == "2") & (asg.ptpd != "1")].groupby(["cvegeo", "period"]).ta.sum()
    mun = pd.read_parquet(proc / "mun_month.parquet").set_index(["cvegeo", "period"])
    joined = mun.jobs_women.to_frame().join(women.rename("asg"), how="outer").fillna(0)
    assert len(joined) == len(mun) > 0
    np.testing.assert_array_equal(joined.jobs_women.to_numpy(), joined.asg.to_numpy())
    # platform workers (ptpd = 1, from July 2025) are excluded from jobs and counted apart: nothing is lost
    sex = pd.read_parquet(proc / "mun_month_sex.parquet")
    w = sex[sex.sex == 2].set_index(["cvegeo", "period"])
    all_women = asg[asg.sexo == "2"].groupby(["cvegeo", "period"]).ta.sum()
    np.testing.assert_array_equal((w.jobs + w.platform_jobs).reindex(all_women.index).to_numpy(), all_women.to_numpy())
    assert asg.loc[asg.ptpd == "1", "ta"].sum() > 0
    # and the employer panel (built from job spells) agrees with the open data, municipality by month
    em = pd.read_parquet(proc / "employer_month.parquet").groupby(["cvegeo", "period"]).workers.sum()
    np.testing.assert_array_equal(em.reindex(mun.index).fillna(0).to_numpy(), mun.jobs_total.to_numpy())


def test_asg_formats_of_the_simulation(small_world):
    files = sorted((small_world / "raw" / "asegurados").glob("asg-*.csv"))
    heads = [f.read_bytes().split(b"\n", 1)[0] for f in files]
    assert any(b"tama\xc3\x83\xc2\xb1o_patron" in h for h in heads)  # UTF-8 mojibake variant
    assert any(h.startswith(b"\xef\xbb\xbf") for h in heads)  # BOM
    assert any(b"tama\xf1o_patron" in h for h in heads)  # latin-1
    first = sources.read_asegurados_file(files[0])
    assert list(first.columns[1:30]) == sources.ASG_REQUIRED
    nonwork = first[first.ta == 0]
    assert len(nonwork) and (nonwork.rango_salarial == "NA").all() and (nonwork.no_trabajadores > 0).all()
    assert first.sexo.isin(["1", "2"]).all()
    assert (first.ta == first.teu + first.tec + first.tpu + first.tpc).all()


def test_latin1_mangled_header_reads(tmp_path):
    header = "|".join(sources.ASG_REQUIRED).replace("tamaño_patron", "tama\ufffdo_patron")
    row = "1|2|01|A01|3|31|3101|S3|2|E5|W2|UMA4|3|0|3|3|0|0|0|3|3|0|0|0|900.5|900.5|0|0|0"
    p = tmp_path / "asg-2024-03-31.csv"
    p.write_bytes((header + "\n" + row + "\n").encode("utf-8"))
    latin = tmp_path / "asg-2024-04-30.csv"
    latin.write_bytes((header.replace("tama\ufffdo", "tamaño") + "\n" + row.replace("A01", "Ñ01") + "\n").encode("latin-1"))
    a = sources.read_asegurados_file(p)
    b = sources.read_asegurados_file(latin)
    assert "tamaño_patron" in a.columns and a.period.iat[0] == 2024 * 12 + 2
    assert b.cve_municipio.iat[0] == "Ñ01" and b.ta.iat[0] == 3


def test_cli_missing_column_one_line(tmp_path):
    raw = tmp_path / "raw"
    (raw / "asegurados").mkdir(parents=True)
    cols = [c for c in sources.ASG_REQUIRED if c != "ta"]
    (raw / "asegurados" / "asg-2024-01-31.csv").write_text("|".join(cols) + "\n", encoding="latin-1")
    (raw / "crosswalk_imss_municipio_to_inegi.csv").write_text("cve_municipio_imss,cvegeo_inegi\nA01,01001\n")
    r = run_cli("build", "--quiet", "--open-data-only", "--raw", raw, "--out", tmp_path / "proc")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "asg-2024-01-31.csv" in lines[0] and "missing column ta" in lines[0]
    r = run_cli("build", "--quiet", "--raw", raw, "--out", tmp_path / "proc")  # confidential sources missing
    assert r.returncode == 2 and "job_spells.parquet" in r.stderr and "--open-data-only" in r.stderr


def test_cli_registry_bad_date_and_failed_build_keeps_previous(small_world, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(small_world / "raw", raw)
    proc = tmp_path / "proc"
    shutil.copytree(small_world / "processed", proc)
    before = hashlib.sha256((proc / "mun_month.parquet").read_bytes()).hexdigest()
    reg = pd.read_csv(raw / "ceci_sites.csv", dtype=str, keep_default_na=False)
    i = int(np.flatnonzero(reg.opening_date != "")[0])
    reg.loc[i, "opening_date"] = "2025-13-45"
    reg.to_csv(raw / "ceci_sites.csv", index=False)
    r = run_cli("build", "--quiet", "--raw", raw, "--out", proc)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    msg = r.stderr.strip().splitlines()
    assert len(msg) == 1 and "ceci_sites.csv" in msg[0] and "opening_date" in msg[0] and "2025-13-45" in msg[0]
    assert hashlib.sha256((proc / "mun_month.parquet").read_bytes()).hexdigest() == before
    assert not list(tmp_path.glob(".proc.tmp-*"))


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda r: r.assign(site_id=r.site_id.iloc[0]), "duplicated site id"),
        (lambda r: r.assign(scheme="Municipal"), "expected IMSS or Empresa"),
        (lambda r: r.assign(opening_date=np.where(r.opening_date != "", "2099-01-01", "")), "after the end of the data"),
        (lambda r: r.drop(columns="capacity"), "missing column capacity"),
    ],
)
def test_registry_errors(small_world, tmp_path, mutate, expected):
    reg = pd.read_csv(small_world / "raw" / "ceci_sites.csv", dtype=str, keep_default_na=False)
    p = tmp_path / "ceci_sites.csv"
    mutate(reg).to_csv(p, index=False)
    m = json.loads((small_world / "processed" / "manifest.json").read_text())
    with pytest.raises(CeciError, match=expected) as e:
        sources.read_ceci_sites(p, data_end=m["period_last"])
    assert str(p) in str(e.value)


def test_spell_and_certificate_errors(small_world, tmp_path):
    sp = pd.read_parquet(small_world / "raw" / "job_spells.parquet")
    bad = sp.copy()
    k = int(np.flatnonzero(bad["end"].notna())[0])
    bad.loc[k, "end"] = bad.loc[k, "start"] - pd.Timedelta(days=3)
    bad.to_parquet(tmp_path / "job_spells.parquet")
    with pytest.raises(CeciError, match="column end.*on or after start"):
        sources.read_job_spells(tmp_path / "job_spells.parquet")
    inc = pd.read_parquet(small_world / "raw" / "incapacidades.parquet")
    inc.loc[0, "days"] = -2
    inc.to_parquet(tmp_path / "incapacidades.parquet")
    with pytest.raises(CeciError, match="found -2, expected a whole number of days, at least 1"):
        sources.read_incapacidades(tmp_path / "incapacidades.parquet")


def test_unknown_imss_key_is_an_error(small_world):
    raw = small_world / "raw"
    cw = sources.read_crosswalk(raw / "crosswalk_imss_municipio_to_inegi.csv")
    df = sources.read_asegurados_file(sorted((raw / "asegurados").glob("asg-*.csv"))[0])
    df.loc[0, "cve_municipio"] = "Z99" if "Z99" not in set(cw.cve_municipio_imss) else "Y98"
    with pytest.raises(CeciError, match="not in the crosswalk"):
        sources.attach_cvegeo(df, cw)


def test_simulation_is_deterministic_and_credible(tmp_path, small_world):
    a = synthetic.simulate("small", seed=11, out=tmp_path / "a", quiet=True)

    def digest(folder):
        h = hashlib.sha256()
        for f in sorted(Path(folder).rglob("*")):
            if f.is_file():
                h.update(f.name.encode() + f.read_bytes())
        return h.hexdigest()

    assert digest(a) == digest(small_world / "raw")
    truth = json.loads((a / "truth.json").read_text())
    assert truth["simulated"] is True
    assert set(truth["outcomes"]) == {"female_employment", "absenteeism", "separations"}
    fe = truth["outcomes"]["female_employment"]
    assert fe["overall_simple"] > 0 and truth["outcomes"]["separations"]["overall_simple"] < 0
    assert truth["outcomes"]["absenteeism"]["overall_simple"] < 0
    # CECI go where the industrial index (and so employment growth) is high
    mun = pd.read_csv(a / "municipios.csv", dtype={"cvegeo": str})
    sites = pd.read_csv(a / "ceci_sites.csv", dtype={"cvegeo": str})
    has = mun.cvegeo.isin(sites.cvegeo)
    assert mun.x_industrial[has].mean() > mun.x_industrial[~has].mean() + 0.3


def test_real_crosswalk_and_centroids(original_real_data):
    shared_data = original_real_data
    cw = sources.read_crosswalk(shared_data / "imss_sp" / "crosswalk_imss_municipio_to_inegi.csv")
    assert len(cw) > 2400 and cw.groupby("cvegeo_inegi").size().max() >= 2
    assert cw.set_index("cve_municipio_imss").cvegeo_inegi[["A83", "Y77"]].tolist() == ["08037", "08037"]


def test_sql_is_plain(tmp_path):
    src = Path(panels.__file__).read_text()
    assert "create_function" not in src and ".udf" not in src.lower()
    con = duckdb.connect()
    assert con.execute(f"SELECT {panels._haversine_sql('a', 'b')} FROM (SELECT 19.43 lat, -99.13 lon) a, "
                       "(SELECT 20.67 lat, -103.35 lon) b").fetchall()[0][0] == pytest.approx(461.0, abs=5)
