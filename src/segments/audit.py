"""The audit gate: what the warehouse says about the dbt build that made it.

``dbt build`` records itself in the warehouse (macros/audit/build_audit.sql, hooks in
dbt_project.yml): on-run-start inserts a row into ``audit.dbt_builds`` with status
'started' before any model runs; on-run-end sets it to 'passed' only when every node of the
project ran and passed and the build was not a selection, else 'failed' or 'partial'. The
row keeps the identity of the raw data the build read (a hash of ``raw.load_manifest``,
which ``segments load`` rewrites). The warehouse is vouched for when its latest recorded
build passed and the raw data is still the one that build read; nothing here reads
target/run_results.json or the file's size or modification time, so read-only dbt
commands (docs generate, compile, show, ls), which record nothing, change nothing.

``segments check`` then runs the expectations on that warehouse and writes its stamp,
``<warehouse>.audit.json``, naming the build's invocation id and raw identity; ``segments
publish`` publishes only when the stamp names the build the warehouse records as passing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from segments.errors import CommandError

AUDIT_STAMP_SUFFIX = ".audit.json"
# the same value as macro duckdb__raw_data_identity_sql (macros/audit/build_audit.sql)
RAW_IDENTITY_SQL = (
    "select md5(string_agg(cast(manifest as varchar), chr(10) order by cast(manifest as varchar))) "
    "from {catalog}raw.load_manifest as manifest"
)


@dataclass(frozen=True)
class BuildRecord:
    """One row of audit.dbt_builds."""

    invocation_id: str
    command: str
    started_at: str
    status: str
    raw_identity: str | None
    reason: str | None


def one_line(error: BaseException) -> str:
    """An exception's message on one line (DuckDB messages span several)."""
    return " ".join(str(error).split()) or type(error).__name__


def open_read_only(database: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the warehouse, or a CommandError saying why not."""
    if not database.exists():
        raise CommandError(f"warehouse {database} does not exist: run dbt build first")
    try:
        return duckdb.connect(str(database), read_only=True)
    except (duckdb.Error, OSError) as error:
        raise CommandError(f"cannot open the warehouse {database} read-only: {one_line(error)}") from error


def has_table(connection: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> bool:
    database_filter = "database_name = ?" if catalog else "database_name = current_database()"
    parameters = [catalog, schema, table] if catalog else [schema, table]
    return bool(
        connection.execute(
            f"select count(*) from duckdb_tables() where {database_filter} and schema_name = ? and table_name = ?",
            parameters,
        ).fetchall()[0][0]
    )


def raw_identity(connection: duckdb.DuckDBPyConnection, catalog: str = "") -> str | None:
    """The identity of the loaded raw data now (None when nothing was loaded)."""
    if not has_table(connection, catalog, "raw", "load_manifest"):
        return None
    prefix = f"{catalog}." if catalog else ""
    identity = connection.execute(RAW_IDENTITY_SQL.format(catalog=prefix)).fetchall()[0][0]
    return None if identity is None else str(identity)


def latest_build(connection: duckdb.DuckDBPyConnection, catalog: str = "") -> BuildRecord | None:
    """The latest build, run, seed or snapshot recorded in the warehouse."""
    if not has_table(connection, catalog, "audit", "dbt_builds"):
        return None
    prefix = f"{catalog}." if catalog else ""
    rows = connection.execute(
        "select invocation_id, command, cast(started_at as varchar), status, raw_identity, reason "
        f"from {prefix}audit.dbt_builds order by build_number desc limit 1"
    ).fetchall()
    return BuildRecord(*rows[0]) if rows else None


def build_refusal(build: BuildRecord | None, current_raw_identity: str | None) -> str | None:
    """Why the recorded build does not vouch for the warehouse (None when it does)."""
    if build is None:
        return "the warehouse records no dbt build (schema audit): run dbt build"
    if build.status == "started":
        return (
            f"dbt {build.command} {build.invocation_id} started at {build.started_at} and never "
            "finished (killed, or still running): run dbt build"
        )
    if build.status != "passed":
        return f"the last dbt {build.command} ({build.invocation_id}) {build.status}: {build.reason}; run dbt build"
    if build.raw_identity is None or build.raw_identity != current_raw_identity:
        return f"the raw data changed after dbt build {build.invocation_id} (segments load ran after it): run dbt build"
    return None


def vouching_build(connection: duckdb.DuckDBPyConnection, catalog: str = "") -> tuple[BuildRecord | None, str | None]:
    """The latest recorded build and why it does not vouch for the warehouse (None if it does)."""
    build = latest_build(connection, catalog)
    return build, build_refusal(build, raw_identity(connection, catalog))


def audit_stamp_path(database: Path) -> Path:
    """The check's stamp, written beside the warehouse."""
    return database.with_name(database.name + AUDIT_STAMP_SUFFIX)


def write_audit_stamp(database: Path, build: BuildRecord, critical_failures: int) -> dict[str, Any]:
    """Record the check's outcome for this build of the warehouse (replaced atomically)."""
    stamp = {
        "warehouse": str(database.resolve()),
        "build_invocation_id": build.invocation_id,
        "raw_identity": build.raw_identity,
        "critical_expectation_failures": critical_failures,
        "passed": critical_failures == 0,
    }
    path = audit_stamp_path(database)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(json.dumps(stamp, indent=2) + "\n")
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise CommandError(f"cannot write the audit stamp {path}: {one_line(error)}") from error
    return stamp


def stamp_refusal(database: Path, build: BuildRecord) -> str | None:
    """Why the check's stamp does not vouch for this build (None when it passed for it)."""
    path = audit_stamp_path(database)
    try:
        stamp = json.loads(path.read_text())
    except FileNotFoundError:
        return f"no audit stamp {path}: run segments check after dbt build"
    except (OSError, ValueError) as error:
        return f"cannot read the audit stamp {path}: {one_line(error)}"
    if (
        not isinstance(stamp, dict)
        or stamp.get("build_invocation_id") != build.invocation_id
        or stamp.get("raw_identity") != build.raw_identity
    ):
        return f"segments check has not audited dbt build {build.invocation_id}: run segments check"
    if not stamp.get("passed"):
        return (
            f"segments check failed for dbt build {build.invocation_id}: "
            f"{stamp.get('critical_expectation_failures')} critical expectation(s) failed"
        )
    return None


def publish_relations(
    connection: duckdb.DuckDBPyConnection, invocation_id: str, catalog: str = ""
) -> list[tuple[str, str]]:
    """(schema, table) of every model the build marked config.meta.publish."""
    if not has_table(connection, catalog, "audit", "publish_relations"):
        return []
    prefix = f"{catalog}." if catalog else ""
    return [
        (schema, table)
        for schema, table in connection.execute(
            f"select distinct schema_name, table_name from {prefix}audit.publish_relations "
            "where invocation_id = ? order by schema_name, table_name",
            [invocation_id],
        ).fetchall()
    ]
