"""The Spark engine builds the same panels as DuckDB (same rows and order, numbers to 1e-9, same dtypes).

Needs the ``[spark]`` extra (pyspark, sqlglot) and a Java runtime (``.ci/run`` installs both); without them the
tests that need them are skipped with the reason, which fails the run under ``CI=true``.
"""

from __future__ import annotations

import importlib.util
import shutil

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from ceci_impact._options import CeciError
from ceci_impact.data import engines, panel_sql, panels

HAVE_SPARK = importlib.util.find_spec("pyspark") is not None and shutil.which("java") is not None
HAVE_SQLGLOT = importlib.util.find_spec("sqlglot") is not None
PANELS = ["mun_month_sex", "mun_month", "employer_month", "spells_exposure", "sites"]


@pytest.fixture(scope="module")
def both_engines(small_world, tmp_path_factory):
    if not HAVE_SPARK:
        pytest.skip("pyspark or Java missing: pip install -e '.[spark]' and a Java runtime (.ci/run installs them)")
    out = tmp_path_factory.mktemp("spark") / "processed"
    panels.build_all(raw=small_world / "raw", out=out, quiet=True, engine="spark")
    return small_world / "processed", out


@pytest.mark.parametrize("name", PANELS)
def test_spark_panel_equals_duckdb(both_engines, name):
    duck, spark = (pd.read_parquet(p / f"{name}.parquet") for p in both_engines)
    assert list(spark.columns) == list(duck.columns)
    assert spark.dtypes.to_dict() == duck.dtypes.to_dict()
    schema = [pq.read_schema(p / f"{name}.parquet") for p in both_engines]
    assert [str(f.type) for f in schema[0]] == [str(f.type) for f in schema[1]]
    assert len(spark) == len(duck) > 0
    for c in duck.columns:
        a, b = duck[c], spark[c]
        if pd.api.types.is_float_dtype(a):
            np.testing.assert_allclose(b.to_numpy(float), a.to_numpy(float), rtol=1e-9, atol=1e-12, err_msg=c)
        else:
            assert a.isna().equals(b.isna()), c
            assert a[a.notna()].equals(b[b.notna()]), c


def test_manifest_names_the_engine(both_engines):
    duck, spark = (panels.manifest(p) for p in both_engines)
    assert (duck["engine"], spark["engine"]) == ("duckdb", "spark")


def test_every_panel_step_is_portable():
    steps = panel_sql.STEPS + [("mun_month_sex", panel_sql.MUN_MONTH_SEX), ("mun_month", panel_sql.MUN_MONTH),
                               ("mun", panel_sql.MUN_FROM_ASG)] + panel_sql.MUN_WRITES + panel_sql.EMPLOYER_WRITES
    for name, sql in steps:
        engines.check_portable(name, sql)


@pytest.mark.parametrize("sql, why", [
    ("SELECT date_diff('month', a, b) FROM t", "date_diff"),
    ("SELECT list(x ORDER BY y) FROM t", "ordered aggregate"),
    ("SELECT d - INTERVAL 1 MONTH FROM t", "date - INTERVAL"),
    ("SELECT * FROM range(0, 10)", "range"),
    ("SELECT NULL::DOUBLE", "CAST"),
])
def test_non_portable_sql_is_refused(sql, why):
    with pytest.raises(CeciError, match=why):
        engines.check_portable("step_x", sql)


@pytest.mark.skipif(not HAVE_SQLGLOT, reason="sqlglot missing: pip install -e '.[spark]' (.ci/run installs it)")
def test_transpiled_sql_is_spark_dialect():
    sql = engines.to_spark_sql(panel_sql.EXPOSURE.format(r1=3, r2=10))
    assert "MIN_BY" in sql.upper() and "ARG_MIN" not in sql.upper()
    assert '"end"' not in engines.to_spark_sql(panel_sql.SPELL_PERIODS)


def test_missing_pyspark_is_one_line(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "pyspark.sql", None)
    with pytest.raises(CeciError, match=r"pyspark is not installed.*\[spark\]"):
        engines.spark_session()


def test_missing_java_is_one_line(monkeypatch):
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark missing (the pyspark message is tested above)")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(CeciError, match="no Java runtime"):
        engines.spark_session()


def test_unknown_engine_is_refused(small_world, tmp_path):
    with pytest.raises(CeciError, match="engine.*duckdb.*spark"):
        panels.build_all(raw=small_world / "raw", out=tmp_path / "p", engine="postgres", quiet=True)
