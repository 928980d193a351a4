"""The same project on Apache Spark (issue 13): the sample loaded, built and tested on local
Spark (the spark target, dbt-spark's session method) passes every test and equals DuckDB.

One module fixture loads the bundled sample into a fresh Spark warehouse with
``SEGMENTS_TARGET=spark segments load`` and builds it with ``segments dbt build``, with the
DuckDB sample warehouse's customer key secret as SEGMENTS_CUSTOMER_KEY_SALT (the same keys on
both engines). Every table of marts and restricted is then compared with the session's
DuckDB sample build (engine_equality: exact counts and dates, money to the cent, floats to a
relative 1e-9), and the build audit and the published views are checked.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dbt_runner import BIN, PROJECT_ROOT, SAMPLE_RAW, key_salt
from engine_equality import table_differences

COMPARED_SCHEMAS = ("marts", "restricted")
EXPORTED_SCHEMAS = (*COMPARED_SCHEMAS, "audit", "published")
# scratch space of a model (connected_components, reachable_identifiers) never outlives its build
SCRATCH_SUFFIXES = ("__labels", "__next_labels", "__reached", "__next_reached", "__kept")
# what differs between any two builds, whatever the engine: the time a build recorded a row,
# and the warehouse's own secret (both builds salt keys with SEGMENTS_CUSTOMER_KEY_SALT)
BUILD_TIME_COLUMNS = ("recorded_at",)
PER_WAREHOUSE_TABLES = ("customer_key_secret",)


def spark_environment(folder: Path, salt: str) -> dict[str, str]:
    environment = dict(os.environ)
    environment.update(
        {
            "SEGMENTS_TARGET": "spark",
            "SEGMENTS_SPARK_DIR": str(folder / "spark"),
            "SEGMENTS_CUSTOMER_KEY_SALT": salt,
            "SPARK_LOCAL_IP": "127.0.0.1",
            "DBT_PROFILES_DIR": str(PROJECT_ROOT / "profiles"),
            "DBT_TARGET_PATH": str(folder / "target"),
            "DBT_LOG_PATH": str(folder / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
    )
    return environment


def run(command: list[str], environment: dict[str, str], log: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, check=False)
    log.write_text(result.stdout + "\n" + result.stderr)
    return result


@pytest.fixture(scope="module")
def spark_sample(sample_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample built on Spark; its tables exported as Parquet under the returned folder."""
    folder = tmp_path_factory.mktemp("spark_sample")
    environment = spark_environment(folder, key_salt(sample_warehouse))
    loaded = run([str(BIN / "segments"), "load", "--from", str(SAMPLE_RAW)], environment, folder / "load.log")
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    built = run([str(BIN / "segments"), "dbt", "build"], environment, folder / "build.log")
    summary = [line for line in built.stdout.splitlines() if "Done. PASS=" in line]
    assert built.returncode == 0, f"the Spark build failed:\n{built.stdout[-6000:]}"
    assert summary and " ERROR=0 " in summary[-1], summary
    exported = run(
        [sys.executable, str(Path(__file__).with_name("spark_export.py")), str(folder / "export"), *EXPORTED_SCHEMAS],
        environment,
        folder / "export.log",
    )
    assert exported.returncode == 0, exported.stderr[-3000:]
    return folder / "export"


def duckdb_tables(database: Path, schema: str) -> dict[str, pa.Table]:
    with duckdb.connect(str(database), read_only=True) as connection:
        names = [
            row[0]
            for row in connection.execute(
                "select table_name from information_schema.tables where table_schema = ? and table_type = 'BASE TABLE'",
                [schema],
            ).fetchall()
        ]
        return {name: connection.sql(f"select * from {schema}.{name}").to_arrow_table() for name in names}


def without_build_times(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    return {
        name: table.drop_columns([column for column in BUILD_TIME_COLUMNS if column in table.column_names])
        for name, table in tables.items()
        if name not in PER_WAREHOUSE_TABLES
    }


def spark_tables(export: Path, schema: str) -> dict[str, pa.Table]:
    return {
        path.name.removeprefix(f"{schema}.").removesuffix(".parquet"): pq.read_table(path)
        for path in sorted(export.glob(f"{schema}.*.parquet"))
    }


@pytest.mark.parametrize("schema", COMPARED_SCHEMAS)
def test_every_table_equals_the_duckdb_build(spark_sample: Path, sample_warehouse: Path, schema: str) -> None:
    """Every table of the schema, on Spark and on DuckDB: the same tables, rows and values."""
    expected = duckdb_tables(sample_warehouse, schema)
    actual = {
        name: table for name, table in spark_tables(spark_sample, schema).items() if not name.endswith(SCRATCH_SUFFIXES)
    }
    assert sorted(actual) == sorted(expected), "the two engines built different tables"
    assert any(table.num_rows for table in expected.values()), f"{schema} is empty: nothing was compared"
    problems = [
        problem
        for name in sorted(expected)
        for problem in table_differences(f"{schema}.{name}", expected[name], actual[name])
    ]
    assert not problems, "\n".join(problems)


def test_no_scratch_table_outlives_the_build(spark_sample: Path) -> None:
    leftovers = [path.name for path in spark_sample.glob("*.parquet") if path.stem.endswith(SCRATCH_SUFFIXES)]
    assert not leftovers


def test_the_build_audit_records_a_passed_build(spark_sample: Path) -> None:
    builds = pq.read_table(spark_sample / "audit.dbt_builds.parquet").to_pylist()
    finished = [row for row in builds if row["finished_at"] is not None]
    assert [row["status"] for row in finished] == ["passed"], builds
    assert finished[0]["raw_identity"], "the build did not record which raw data it read"


def test_bi_reads_published_views_of_the_passed_build(spark_sample: Path, sample_warehouse: Path) -> None:
    """Every relation marked meta.publish is a view in schema published over its copy made by
    the passed build, and reads what the mart holds."""
    with duckdb.connect(str(sample_warehouse), read_only=True) as connection:
        rows = connection.execute("select distinct table_name from audit.publish_relations").fetchall()
    expected = sorted(row[0] for row in rows)
    published = spark_tables(spark_sample, "published")
    views = {name: table for name, table in published.items() if "__build_" not in name}
    copies = sorted(name.split("__build_")[0] for name in published if "__build_" in name)
    assert sorted(views) == expected
    assert copies == expected
    marts = spark_tables(spark_sample, "marts")
    problems = [
        problem for name, view in views.items() for problem in table_differences(f"published.{name}", marts[name], view)
    ]
    assert not problems, "\n".join(problems)


def test_the_loader_opens_spark_as_the_dbt_profile_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """segments load's SparkSession options (spark_load.session_config) are the spark target's
    server_side_parameters in profiles/profiles.yml, rendered with the same environment."""
    import jinja2
    import yaml

    from segments.spark_load import session_config

    monkeypatch.setenv("SEGMENTS_SPARK_DIR", str(tmp_path / "spark"))
    monkeypatch.setenv("SEGMENTS_SPARK_DRIVER_MEMORY", "3g")
    monkeypatch.setenv("SEGMENTS_SPARK_SHUFFLE_PARTITIONS", "5")
    source = (PROJECT_ROOT / "profiles" / "profiles.yml").read_text()
    rendered = jinja2.Template(source).render(env_var=lambda name, default="": os.environ.get(name, default))
    profile = yaml.safe_load(rendered)["segments_warehouse"]["outputs"]["spark"]
    assert {key: str(value) for key, value in profile["server_side_parameters"].items()} == session_config()
