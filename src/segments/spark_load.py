"""``segments load`` on the spark target (``SEGMENTS_TARGET=spark``): the raw folder into Spark tables.

The folder is validated exactly as for DuckDB (segments.load: the same contract, the same
errors, nothing written when it is refused), by loading it into a scratch DuckDB file. Each
raw table is then written through Parquet to a Spark table ``raw.<table>__loading``; only
when every one is written are the live tables replaced (drop, then rename), so a failure
while writing leaves the raw tables as they were. Spark has no transaction over several
tables: a reader during the few metastore renames at the end may see some tables of the
new load and some of the old (dbt builds do not run during a load).

The customer key secret (restricted.customer_key_secret) is created on the first load and
kept afterwards, as in DuckDB.

``--append`` adds one delivery with the DuckDB loader's own rules (the same checks, delivery
id, row ids, raw.deliveries and raw.load_manifest): the Spark raw tables are copied into the
scratch DuckDB file (read from their Parquet files), the delivery is appended there, and only
its rows go to Spark, first into ``raw.<table>__appending`` tables, then into the live tables;
raw.deliveries and raw.load_manifest are swapped in last. An append that failed half-way
leaves rows whose delivery raw.deliveries does not record: the next append refuses to add to
them and says to reload the history with a plain ``segments load``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import duckdb

from segments.contract import RAW_DELIVERY_ID, TABLES, TABLES_BY_NAME
from segments.errors import CommandError
from segments.load import (
    DELIVERIES_TABLE,
    RAW_SCHEMA,
    SECRET_SCHEMA,
    SECRET_TABLE,
    empty_select,
    load_folder,
    loader_connection,
    validate_folder,
)
from segments.sources import file_literal, literal

SPARK_DIR_ENVIRONMENT_VARIABLE = "SEGMENTS_SPARK_DIR"
TARGET_ENVIRONMENT_VARIABLE = "SEGMENTS_TARGET"
MANIFEST_TABLE = "load_manifest"
RAW_TABLES = [*(table.name for table in TABLES), DELIVERIES_TABLE, MANIFEST_TABLE]


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


def export_parquet(database: Path, folder: Path, delivery_id: str | None = None) -> dict[str, Path]:
    """Every raw table and the secret of a scratch DuckDB warehouse, as Parquet files; with
    delivery_id, only that delivery's rows of the contract tables."""
    files: dict[str, Path] = {}
    connection = duckdb.connect(str(database), read_only=True)
    try:
        for schema, table in [*((RAW_SCHEMA, table) for table in RAW_TABLES), (SECRET_SCHEMA, SECRET_TABLE)]:
            name = f"{schema}.{table}"
            rows = f"select * from {name}"
            if delivery_id is not None and table in TABLES_BY_NAME:
                rows += f" where {RAW_DELIVERY_ID} = {literal(delivery_id)}"
            files[name] = folder / f"{name}.parquet"
            connection.execute(f"copy ({rows}) to '{files[name]}' (format parquet)")
    finally:
        connection.close()
    return files


def spark_files(spark: Any, table: str) -> list[str]:
    """The Parquet files of a Spark table, as local paths (Spark names them by file: URIs)."""
    return [unquote(urlparse(str(uri)).path) for uri in spark.table(table).inputFiles()]


def copy_raw_tables(spark: Any, database: Path) -> None:
    """The Spark raw tables (read from their Parquet files) as the raw tables of a new DuckDB
    file, so the DuckDB loader appends to exactly what Spark holds."""
    connection = duckdb.connect(str(database))
    try:
        connection.execute(f"create schema {RAW_SCHEMA}")
        for table in RAW_TABLES:
            name = f"{RAW_SCHEMA}.{table}"
            if not has_table(spark, RAW_SCHEMA, table):
                continue
            paths = spark_files(spark, name)
            if paths:
                files = ", ".join(file_literal(path) for path in paths)
                connection.execute(
                    f"create table {name} as select * from read_parquet([{files}], hive_partitioning = false)"
                )
            elif table in TABLES_BY_NAME:  # an empty Spark table may have no file at all
                connection.execute(f"create table {name} as {empty_select(TABLES_BY_NAME[table])}")
        check_recorded_deliveries(connection)
    finally:
        connection.close()


def check_recorded_deliveries(connection: duckdb.DuckDBPyConnection) -> None:
    """Refuse to append to raw tables holding rows of a delivery raw.deliveries does not
    record (an earlier append that failed before it finished)."""
    # the tables with delivery ids (a table without them is refused by the loader's own check)
    tables = {
        str(row[0])
        for row in connection.execute(
            "select table_name from duckdb_columns() where schema_name = ? and column_name = ?",
            [RAW_SCHEMA, RAW_DELIVERY_ID],
        ).fetchall()
    }
    has_deliveries = connection.execute(
        "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?", [RAW_SCHEMA, DELIVERIES_TABLE]
    ).fetchall()[0][0]
    recorded = (
        f"select delivery_id from {RAW_SCHEMA}.{DELIVERIES_TABLE}"
        if has_deliveries
        else "select cast(null as varchar) where false"
    )
    for table in TABLES:
        if table.name not in tables:
            continue
        unrecorded = connection.execute(
            f"select count(*) from {RAW_SCHEMA}.{table.name} "
            f"where {RAW_DELIVERY_ID} is not null and {RAW_DELIVERY_ID} not in ({recorded})"
        ).fetchall()[0][0]
        if unrecorded:
            raise CommandError(
                f"{RAW_SCHEMA}.{table.name} in Spark holds {unrecorded:,} rows of a delivery that "
                f"{RAW_SCHEMA}.{DELIVERIES_TABLE} does not record (an earlier append did not finish): "
                "reload the whole history with a plain segments load; nothing was loaded"
            )


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
    create_secret(spark, files)
    return row_counts


def create_secret(spark: Any, files: dict[str, Path]) -> None:
    """The scratch warehouse's customer key secret, if Spark has none yet."""
    if not has_table(spark, SECRET_SCHEMA, SECRET_TABLE):
        secret = spark.read.parquet(str(files[f"{SECRET_SCHEMA}.{SECRET_TABLE}"]))
        secret.write.format("parquet").saveAsTable(f"{SECRET_SCHEMA}.{SECRET_TABLE}")


def append_tables(spark: Any, files: dict[str, Path], delivered: set[str]) -> None:
    """Add one delivery's rows (files from export_parquet with its delivery_id; delivered: its
    tables) to the Spark raw tables, creating those Spark lacks, then swap in raw.deliveries
    and raw.load_manifest, and create the secret if absent."""
    spark.sql(f"create database if not exists {RAW_SCHEMA}")
    spark.sql(f"create database if not exists {SECRET_SCHEMA}")
    added = [table.name for table in TABLES if table.name in delivered or not has_table(spark, RAW_SCHEMA, table.name)]
    for table in added:  # an earlier append that failed before its inserts may have left these
        spark.sql(f"drop table if exists {RAW_SCHEMA}.{table}__appending")
    for table in added:
        frame = spark.read.parquet(str(files[f"{RAW_SCHEMA}.{table}"]))
        frame.write.mode("overwrite").format("parquet").saveAsTable(f"{RAW_SCHEMA}.{table}__appending")
    for table in (DELIVERIES_TABLE, MANIFEST_TABLE):
        frame = spark.read.parquet(str(files[f"{RAW_SCHEMA}.{table}"]))
        frame.write.mode("overwrite").format("parquet").saveAsTable(f"{RAW_SCHEMA}.{table}__loading")
    for table in added:
        if has_table(spark, RAW_SCHEMA, table):
            spark.sql(f"insert into {RAW_SCHEMA}.{table} select * from {RAW_SCHEMA}.{table}__appending")
            spark.sql(f"drop table {RAW_SCHEMA}.{table}__appending")
        else:
            spark.sql(f"alter table {RAW_SCHEMA}.{table}__appending rename to {RAW_SCHEMA}.{table}")
    for table in (DELIVERIES_TABLE, MANIFEST_TABLE):
        spark.sql(f"drop table if exists {RAW_SCHEMA}.{table}")
        spark.sql(f"alter table {RAW_SCHEMA}.{table}__loading rename to {RAW_SCHEMA}.{table}")
    create_secret(spark, files)


def spark_failure(folder: Path, error: Exception) -> CommandError:
    message = " ".join(str(error).split())[:300]
    return CommandError(f"loading {folder} into Spark at {spark_dir()} failed: {message}")


def load_folder_spark(folder: Path, append: bool = False) -> tuple[str, dict[str, int]]:
    """Validate folder and replace the Spark raw tables with it (or append it as one delivery);
    the delivery id and rows per table."""
    with tempfile.TemporaryDirectory(prefix="segments-spark-load-") as scratch:
        scratch_path = Path(scratch)
        database = scratch_path / "validated.duckdb"
        spark = None
        if append:
            # refuse a folder that breaks the contract before starting Spark
            with loader_connection(database) as connection:
                validate_folder(folder, connection, required=False)
            try:
                spark = session()
                copy_raw_tables(spark, database)
            except CommandError:
                raise
            except Exception as error:  # Spark's errors (Py4J, analysis) have no common base
                raise spark_failure(folder, error) from error
        delivery_id, row_counts = load_folder(folder, database, append=append)
        files = export_parquet(database, scratch_path, delivery_id if append else None)
        try:
            if append:
                append_tables(spark, files, set(row_counts))
            else:
                replace_tables(session(), files)
        except Exception as error:  # Spark's errors (Py4J, analysis) have no common base
            raise spark_failure(folder, error) from error
    return delivery_id, row_counts
