"""The SQL engines that build the panels: DuckDB (embedded, the default) and Apache Spark (local or a cluster).

The panels' SQL (:mod:`ceci_impact.data.panel_sql`) is written once, in DuckDB's dialect, as plain ``SELECT``
statements. :class:`DuckDBEngine` runs it as it is; :class:`SparkEngine` transpiles it with sqlglot and runs it
on Spark SQL. The dialect layer keeps the two engines equal:

- :func:`check_portable` refuses, before anything runs, the DuckDB constructs whose Spark translation changes
  their meaning (``date_diff`` counts month boundaries in DuckDB and whole months in Spark; ``list``/``array_agg``
  with ``ORDER BY`` lose their order as ``collect_list``; ``date - INTERVAL`` returns another type; the ``range``
  table function names its column differently). The panels use integer month indices (``year * 12 + month - 1``)
  and a registered ``periods`` table instead.
- Spark runs in ANSI mode (an overflow or an invalid cast raises instead of wrapping) with the session time zone
  UTC and time stamps without a zone, so that dates are not shifted.
- The output schema is DuckDB's: the Spark engine keeps a zero-row DuckDB shadow of every table and casts each
  written panel to the shadow's Arrow schema, so that both engines write the same column types.

Every written panel is one Parquet file, rows in the SQL's ``ORDER BY`` order, replaced atomically by the caller
(:func:`ceci_impact.io.atomic_dir`).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Literal

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .._options import CeciError, check_option

EngineName = Literal["duckdb", "spark"]

# DuckDB constructs whose Spark translation is not the same computation (see the module docstring)
_NOT_PORTABLE = [
    (re.compile(r"\bdate_?diff\s*\(", re.I), "date_diff counts month boundaries in DuckDB and whole months in Spark"),
    (re.compile(r"\b(list|array_agg|string_agg)\s*\([^()]*\bORDER\s+BY\b", re.I),
     "an ordered aggregate loses its order as Spark's collect_list"),
    (re.compile(r"-\s*INTERVAL\b", re.I), "date - INTERVAL returns a timestamp in DuckDB and a date in Spark"),
    (re.compile(r"\brange\s*\(", re.I), "the range table function names its column range in DuckDB and id in Spark"),
    (re.compile(r"::"), "write CAST(x AS type): the :: cast is DuckDB's own"),
]


def check_portable(step: str, sql: str) -> None:
    """Refuse SQL that would not mean the same on DuckDB and Spark; ``step`` names the panel step.

    Parameters
    ----------
    step : str
        Name of the panel step (named in the error).
    sql : str
        The step's ``SELECT`` in DuckDB's dialect.
    """
    for pattern, why in _NOT_PORTABLE:
        if pattern.search(sql):
            raise CeciError(f"panel SQL step {step}: {why}; expected SQL that both engines run the same way")


def to_spark_sql(sql: str) -> str:
    """A DuckDB ``SELECT`` in Spark SQL (sqlglot), checked with :func:`check_portable` first.

    Parameters
    ----------
    sql : str
        A ``SELECT`` statement in DuckDB's dialect.
    """
    import sqlglot

    return sqlglot.transpile(sql, read="duckdb", write="spark")[0]


class DuckDBEngine:
    """Panels built in an embedded DuckDB connection (the build's own, which also staged and checked the inputs).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The build's connection.
    """

    name = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def register(self, name: str, df: pd.DataFrame) -> None:
        """Make a pandas frame queryable as ``name``.

        Parameters
        ----------
        name : str
            Table or view name.
        df : pandas.DataFrame
            The checked input frame.
        """
        self.con.register(name, df)

    def create(self, name: str, select: str) -> None:
        """Materialise ``select`` as the table ``name``.

        Parameters
        ----------
        name : str
            Table or view name.
        select : str
            A ``SELECT`` statement in DuckDB's dialect.
        """
        check_portable(name, select)
        self.con.execute(f"CREATE OR REPLACE TABLE {name} AS {select}")

    def columns(self, name: str) -> list[str]:
        """Column names of a table or view.

        Parameters
        ----------
        name : str
            Table or view name.
        """
        return [r[0] for r in self.con.execute(f"DESCRIBE {name}").fetchall()]

    def fetch(self, select: str) -> list[tuple]:
        """Rows of a (small) query.

        Parameters
        ----------
        select : str
            A ``SELECT`` statement in DuckDB's dialect.
        """
        check_portable("query", select)
        return self.con.execute(select).fetchall()

    def write(self, name: str, select: str, path: Path) -> None:
        """Write ``select`` to one Parquet file at ``path``.

        Parameters
        ----------
        name : str
            Table or view name.
        select : str
            A ``SELECT`` statement in DuckDB's dialect.
        path : pathlib.Path
            The Parquet file written.
        """
        check_portable(name, select)
        self.con.execute(f"COPY ({select.strip()}) TO {_lit(path)} (FORMAT PARQUET)")

    def close(self) -> None:
        """Nothing to release: the caller owns the connection."""


_SPARK_TYPES = {  # Arrow type (DuckDB's output schema) -> Spark SQL type of the cast
    "int8": "TINYINT", "int16": "SMALLINT", "int32": "INT", "int64": "BIGINT", "float": "FLOAT", "double": "DOUBLE",
    "string": "STRING", "large_string": "STRING", "bool": "BOOLEAN", "date32[day]": "DATE",
}


def spark_session(master: str | None = None):
    """A Spark session: ``master`` (``--spark-master``, else ``SPARK_MASTER``, else ``local[*]``), ANSI mode, UTC.

    Raises one line when pyspark or a Java runtime is missing.

    Parameters
    ----------
    master : str, optional
        Spark master URL (default ``SPARK_MASTER``, else ``local[*]``).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise CeciError("--engine spark: pyspark is not installed; install the extra with "
                        "pip install -e '.[spark]' (and a Java runtime 17 or newer)") from None
    java = os.environ.get("JAVA_HOME")
    if not (java and Path(java, "bin", "java").exists()) and shutil.which("java") is None:
        raise CeciError("--engine spark: no Java runtime found (java not on PATH and JAVA_HOME unset); "
                        "expected Java 17 or newer, e.g. apt-get install default-jre-headless")
    master = master or os.environ.get("SPARK_MASTER") or "local[*]"
    b = (SparkSession.builder.appName("ceci-impact build").master(master)
         .config("spark.ui.enabled", "false").config("spark.sql.ansi.enabled", "true")
         .config("spark.sql.session.timeZone", "UTC").config("spark.sql.timestampType", "TIMESTAMP_NTZ")
         .config("spark.sql.execution.arrow.pyspark.enabled", "true")
         .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
         .config("spark.ui.showConsoleProgress", "false"))
    if master.startswith("local"):  # one machine: a few shuffle partitions, not the cluster default of 200
        b = b.config("spark.sql.shuffle.partitions", str(4 * (os.cpu_count() or 2)))
    try:
        spark = b.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - the JVM's failures arrive as many exception types
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CeciError(f"--engine spark: Spark did not start on master {master} ({first})") from None
    spark.sparkContext.setLogLevel("ERROR")
    return spark


class SparkEngine:
    """Panels built on Spark SQL from the same statements, transpiled by sqlglot (see the module docstring).

    The inputs are the checked frames of the build, handed to Spark through Arrow; the joins, window sums and
    aggregations run on Spark. A zero-row DuckDB shadow of every table gives the output schema.

    Parameters
    ----------
    master : str, optional
        Spark master URL (default ``SPARK_MASTER``, else ``local[*]``).
    """

    name = "spark"

    def __init__(self, master: str | None = None):
        self.spark = spark_session(master)
        self.shadow = duckdb.connect()
        self._cached: list = []

    def register(self, name: str, df: pd.DataFrame) -> None:
        """Hand a pandas frame to Spark (through Arrow) and register its empty shadow.

        Parameters
        ----------
        name : str
            Table or view name.
        df : pandas.DataFrame
            The checked input frame.
        """
        table = pa.Table.from_pandas(df, preserve_index=False)
        table = table.cast(pa.schema([_spark_safe(f) for f in table.schema]))
        sdf = self.spark.createDataFrame(table)
        sdf.createOrReplaceTempView(name)
        self.shadow.register(name, df.head(0))

    def create(self, name: str, select: str) -> None:
        """Materialise ``select`` as the (cached) temporary view ``name``.

        Parameters
        ----------
        name : str
            Table or view name.
        select : str
            A ``SELECT`` statement in DuckDB's dialect.
        """
        check_portable(name, select)
        self.shadow.execute(f"CREATE OR REPLACE TABLE {name} AS {select}")
        sdf = self.spark.sql(to_spark_sql(select)).cache()
        self._cached.append(sdf)
        sdf.createOrReplaceTempView(name)

    def columns(self, name: str) -> list[str]:
        """Column names of a view.

        Parameters
        ----------
        name : str
            Table or view name.
        """
        return list(self.spark.table(name).columns)

    def fetch(self, select: str) -> list[tuple]:
        """Rows of a (small) query.

        Parameters
        ----------
        select : str
            A ``SELECT`` statement in DuckDB's dialect.
        """
        check_portable("query", select)
        return [tuple(r) for r in self.spark.sql(to_spark_sql(select)).collect()]

    def write(self, name: str, select: str, path: Path) -> None:
        """Write ``select`` to one Parquet file at ``path``, in DuckDB's schema and the query's row order.

        Parameters
        ----------
        name : str
            Table or view name.
        select : str
            A ``SELECT`` statement in DuckDB's dialect.
        path : pathlib.Path
            The Parquet file written.
        """
        check_portable(name, select)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=path.parent))
        try:
            # the schema DuckDB writes for this SELECT: its zero-row shadow written as Parquet
            self.shadow.execute(f"COPY (SELECT * FROM ({select.strip()}) LIMIT 0) TO {_lit(tmp / 'schema.parquet')} "
                                "(FORMAT PARQUET)")
            schema = pq.read_schema(tmp / "schema.parquet")
            casts = [f"CAST(`{f.name}` AS {_spark_type(f.type)}) AS `{f.name}`" for f in schema]
            sdf = self.spark.sql(to_spark_sql(select)).selectExpr(*casts)
            sdf.write.mode("overwrite").parquet(str(tmp / "parts"))
            parts = sorted((tmp / "parts").glob("part-*.parquet"))
            with pq.ParquetWriter(path, schema) as w:  # row order: the parts in partition order, each sorted
                for part in parts:
                    for batch in pq.ParquetFile(part).iter_batches(batch_size=1 << 17):
                        w.write_table(pa.Table.from_batches([batch]).cast(schema))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def close(self) -> None:
        """Release the cached views and the shadow (the Spark session stays for the next build in the process)."""
        for sdf in self._cached:
            sdf.unpersist()
        self._cached.clear()
        self.shadow.close()


def _spark_safe(field: pa.Field) -> pa.Field:
    """Arrow types Spark reads: large strings as strings, time stamps in microseconds without a zone."""
    t = field.type
    if pa.types.is_large_string(t):
        return field.with_type(pa.string())
    if pa.types.is_timestamp(t):
        return field.with_type(pa.timestamp("us"))
    return field


def _spark_type(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return "TIMESTAMP_NTZ"
    key = str(t)
    if key not in _SPARK_TYPES:
        raise CeciError(f"--engine spark: a panel column of type {t} has no Spark equivalent here; expected one of "
                        + ", ".join(_SPARK_TYPES))
    return _SPARK_TYPES[key]


def _lit(p: Path) -> str:
    return "'" + str(p).replace("'", "''") + "'"


def make_engine(engine: EngineName, con: duckdb.DuckDBPyConnection, *, spark_master: str | None = None):
    """The engine named ``engine`` (``"duckdb"`` uses the build's connection ``con``).

    Spark's driver memory and other settings come from Spark's own configuration (``spark-defaults.conf``,
    ``PYSPARK_SUBMIT_ARGS``, or ``spark-submit --driver-memory`` when the build runs under spark-submit).

    Parameters
    ----------
    engine : {'duckdb', 'spark'}
        The engine.
    con : duckdb.DuckDBPyConnection
        The build's DuckDB connection (the checked inputs are registered there).
    spark_master : str, optional
        Spark master URL (``local[*]``, ``yarn``, ``spark://host:7077``; default ``SPARK_MASTER`` or local).
    """
    check_option("engine", engine, EngineName)
    return DuckDBEngine(con) if engine == "duckdb" else SparkEngine(spark_master)
