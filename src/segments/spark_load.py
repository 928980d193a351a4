"""``segments load`` on the spark target (``SEGMENTS_TARGET=spark``): the raw folder into Spark tables.

The folder is validated exactly as for DuckDB (segments.load: the same contract, the same
errors, nothing written when it is refused), by loading it into a scratch DuckDB file. Each
raw table is then written through Parquet to a Spark table ``raw.<table>__loading``; only
when every one is written are the live tables replaced (drop, then rename), so a failure
while writing leaves the raw tables as they were. Spark has no transaction over several
tables: a reader during the few metastore renames at the end may see some tables of the
new load and some of the old (dbt builds do not run during a load).

The customer key secret (restricted.customer_key_secret) is created on the first load and
kept afterwards, as in DuckDB. Appending a delivery (``--append``) is DuckDB's only.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import duckdb

from segments.contract import TABLES
from segments.errors import CommandError
from segments.load import DELIVERIES_TABLE, RAW_SCHEMA, SECRET_SCHEMA, SECRET_TABLE, load_folder

SPARK_DIR_ENVIRONMENT_VARIABLE = "SEGMENTS_SPARK_DIR"
TARGET_ENVIRONMENT_VARIABLE = "SEGMENTS_TARGET"
RAW_TABLES = [*(table.name for table in TABLES), DELIVERIES_TABLE, "load_manifest"]


def is_spark_target() -> bool:
    return os.environ.get(TARGET_ENVIRONMENT_VARIABLE, "") == "spark"


def spark_dir() -> Path:
    return Path(os.environ.get(SPARK_DIR_ENVIRONMENT_VARIABLE) or "spark").resolve()


def session_config() -> dict[str, str]:
    """The SparkSession options of the spark target in profiles/profiles.yml (its
    server_side_parameters; python_tests/test_spark.py checks that they agree)."""
    folder = spark_dir()
    return {
        "spark.master": "local[2]",
        "spark.app.name": "segments_warehouse",
        "spark.sql.warehouse.dir": f"{folder}/warehouse",
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={folder}/metastore_db;create=true",
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={folder}",
        "spark.driver.memory": os.environ.get("SEGMENTS_SPARK_DRIVER_MEMORY", "4g"),
        "spark.driver.maxResultSize": os.environ.get("SEGMENTS_SPARK_MAX_RESULT_SIZE", "0"),
        "spark.sql.shuffle.partitions": os.environ.get("SEGMENTS_SPARK_SHUFFLE_PARTITIONS", "2"),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.timestampType": "TIMESTAMP_NTZ",
        "spark.ui.enabled": "false",
        "spark.sql.legacy.createHiveTableByDefault": "false",
        "spark.sql.sources.default": "parquet",
    }


def session() -> Any:
    """A SparkSession with the spark target's options and the Hive metastore."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.enableHiveSupport()
    for key, value in session_config().items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def export_parquet(database: Path, folder: Path) -> dict[str, Path]:
    """Every raw table and the secret of a scratch DuckDB warehouse, as Parquet files."""
    files: dict[str, Path] = {}
    connection = duckdb.connect(str(database), read_only=True)
    try:
        for name in [*(f"{RAW_SCHEMA}.{table}" for table in RAW_TABLES), f"{SECRET_SCHEMA}.{SECRET_TABLE}"]:
            path = folder / f"{name}.parquet"
            connection.execute(f"copy {name} to '{path}' (format parquet)")
            files[name] = path
    finally:
        connection.close()
    return files


def has_table(spark: Any, schema: str, table: str) -> bool:
    return bool(spark.catalog.tableExists(f"{schema}.{table}"))


def replace_tables(spark: Any, files: dict[str, Path]) -> dict[str, int]:
    """Write each raw table beside the live one, then swap them all in; the secret only if absent."""
    spark.sql(f"create database if not exists {RAW_SCHEMA}")
    spark.sql(f"create database if not exists {SECRET_SCHEMA}")
    row_counts: dict[str, int] = {}
    for table in RAW_TABLES:
        frame = spark.read.parquet(str(files[f"{RAW_SCHEMA}.{table}"]))
        frame.write.mode("overwrite").format("parquet").saveAsTable(f"{RAW_SCHEMA}.{table}__loading")
        row_counts[table] = int(spark.table(f"{RAW_SCHEMA}.{table}__loading").count())
    for table in RAW_TABLES:
        spark.sql(f"drop table if exists {RAW_SCHEMA}.{table}")
        spark.sql(f"alter table {RAW_SCHEMA}.{table}__loading rename to {RAW_SCHEMA}.{table}")
    if not has_table(spark, SECRET_SCHEMA, SECRET_TABLE):
        secret = spark.read.parquet(str(files[f"{SECRET_SCHEMA}.{SECRET_TABLE}"]))
        secret.write.format("parquet").saveAsTable(f"{SECRET_SCHEMA}.{SECRET_TABLE}")
    return row_counts


def load_folder_spark(folder: Path, append: bool = False) -> tuple[str, dict[str, int]]:
    """Validate folder and replace the Spark raw tables with it; the delivery id and rows per table."""
    if append:
        raise CommandError("--append is not available on the spark target yet: load the whole history (docs/spark.md)")
    with tempfile.TemporaryDirectory(prefix="segments-spark-load-") as scratch:
        scratch_path = Path(scratch)
        delivery_id, row_counts = load_folder(folder, scratch_path / "validated.duckdb")
        files = export_parquet(scratch_path / "validated.duckdb", scratch_path)
        try:
            replace_tables(session(), files)
        except Exception as error:  # Spark's errors (Py4J, analysis) have no common base
            message = " ".join(str(error).split())[:300]
            raise CommandError(f"loading {folder} into Spark at {spark_dir()} failed: {message}") from error
    return delivery_id, row_counts
