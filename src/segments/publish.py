"""``segments publish``: write-audit-publish for BI tools.

BI tools read a separate DuckDB file (default ``published.duckdb`` beside the warehouse,
or $SEGMENTS_PUBLISHED_PATH). Publishing attaches the warehouse read-only (so no build can
change it meanwhile), checks the gate on that snapshot, copies the relations the build
recorded as published into a new, uniquely named file in the published file's folder,
with their table and column comments, checkpoints and closes it, removes a stale WAL of
the published file, then atomically renames the new file over it. A reader that opened
the old file keeps reading a consistent snapshot; a reader that opens the path afterwards
gets the new one; nobody sees a partial state and nobody waits on a lock, because no
process ever writes to the published file in place.

What is published is an allow-list declared in dbt: the models with
``config: meta: {publish: true}``, which the build records in ``audit.publish_relations``.
A model without the flag is never published.

The gate (``--force`` skips it): the warehouse's latest recorded dbt build passed, the raw
data is still the one it read, and the audit stamp of ``segments check`` names that build
and passed (segments.audit). The published file may never be the warehouse itself.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from segments.errors import CommandError
from segments.warehouse import add_database_argument, resolve_database

if TYPE_CHECKING:  # imported by publish() only, so ``segments --help`` stays light
    import duckdb

PUBLISHED_ENVIRONMENT_VARIABLE = "SEGMENTS_PUBLISHED_PATH"
TEMPORARY_NAME = re.compile(r"\.(?P<name>.+?)\.(?P<pid>\d+)(\.[0-9a-f]{8})?\.tmp(\.wal)?")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_database_argument(parser)
    add_published_argument(parser, "published file")
    parser.add_argument(
        "--force",
        action="store_true",
        help="publish even when the warehouse's last build or segments check did not pass",
    )


def add_published_argument(parser: argparse.ArgumentParser, what: str) -> None:
    """--published, resolved by resolve_published (every command that reads or writes the file)."""
    parser.add_argument(
        "--published",
        type=Path,
        default=None,
        help=f"{what} (default ${PUBLISHED_ENVIRONMENT_VARIABLE}, else published.duckdb beside the warehouse)",
    )


def resolve_published(published: Path | None, database: Path) -> Path:
    if published is not None:
        return published
    from_environment = os.environ.get(PUBLISHED_ENVIRONMENT_VARIABLE)
    return Path(from_environment) if from_environment else database.with_name("published.duckdb")


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def check_destination(database: Path, published: Path) -> None:
    """Refuse a published path that is the warehouse, a directory, or in a missing folder."""
    same = published.resolve() == database.resolve()
    if not same and published.exists():
        try:
            same = os.path.samefile(published, database)
        except OSError:
            same = False
    if same:
        raise CommandError(
            f"the published file {published} is the warehouse {database}: "
            f"set {PUBLISHED_ENVIRONMENT_VARIABLE} or --published to another file"
        )
    if published.is_dir():
        raise CommandError(f"the published path {published} is a directory, not a file")
    if not published.parent.is_dir():
        raise CommandError(f"the folder of the published file {published.parent} does not exist")


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(published: Path) -> None:
    """Delete temporary files that killed publishes left beside the published file."""
    for candidate in published.parent.iterdir():
        match = TEMPORARY_NAME.fullmatch(candidate.name)
        if match and match["name"] == published.name and not process_alive(int(match["pid"])):
            candidate.unlink(missing_ok=True)


def copy_relations(connection: duckdb.DuckDBPyConnection, relations: list[tuple[str, str]]) -> None:
    """Copy each relation from catalog warehouse into catalog publication, with its comments."""
    for schema in sorted({schema for schema, _ in relations}):
        connection.execute(f"create schema if not exists publication.{quote(schema)}")
    for schema, table in relations:
        target = f"publication.{quote(schema)}.{quote(table)}"
        connection.execute(f"create table {target} as select * from warehouse.{quote(schema)}.{quote(table)}")
        comment = connection.execute(
            "select comment from duckdb_tables() where database_name = 'warehouse' and schema_name = ? "
            "and table_name = ? union all select comment from duckdb_views() where database_name = 'warehouse' "
            "and schema_name = ? and view_name = ?",
            [schema, table, schema, table],
        ).fetchall()
        if comment and comment[0][0]:
            connection.execute(f"comment on table {target} is {literal(comment[0][0])}")
        for column, column_comment in connection.execute(
            "select column_name, comment from duckdb_columns() where database_name = 'warehouse' "
            "and schema_name = ? and table_name = ? and comment is not null and comment != '' "
            "order by column_index",
            [schema, table],
        ).fetchall():
            connection.execute(f"comment on column {target}.{quote(column)} is {literal(column_comment)}")


def publish(database: Path, published: Path, force: bool = False) -> list[str]:
    """Publish the allow-listed relations of the warehouse atomically; return them as
    schema.table. Without force, only a warehouse whose latest build and check passed."""
    import uuid

    import duckdb

    from segments.audit import one_line, publish_relations, stamp_refusal, vouching_build

    if not database.exists():
        raise CommandError(f"warehouse {database} does not exist: run make build first")
    check_destination(database, published)
    try:
        remove_stale_temporaries(published)
    except OSError as error:
        raise CommandError(f"cannot clean the folder {published.parent}: {one_line(error)}") from error
    staging_file = published.with_name(f".{published.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    staging_wal = staging_file.with_name(staging_file.name + ".wal")
    connection = duckdb.connect(":memory:")
    try:
        try:
            connection.execute(f"attach {literal(str(database))} as warehouse (read_only)")
        except duckdb.Error as error:
            raise CommandError(f"cannot open the warehouse {database} read-only: {one_line(error)}") from error
        build, refusal = vouching_build(connection, "warehouse")
        if not force:
            if refusal is None and build is not None:
                refusal = stamp_refusal(database, build)
            if refusal or build is None:
                raise CommandError(f"refusing to publish {database}: {refusal} (--force publishes anyway)")
        relations = publish_relations(connection, build.invocation_id, "warehouse") if build else []
        if build is None or not relations:
            raise CommandError(
                f"{database} records no relation marked publish (config meta publish: true) "
                "for its last dbt build: run dbt build"
            )
        existing = set(
            connection.execute(
                "select schema_name, table_name from duckdb_tables() where database_name = 'warehouse' "
                "union all select schema_name, view_name from duckdb_views() where database_name = 'warehouse'"
            ).fetchall()
        )
        missing = [f"{schema}.{table}" for schema, table in relations if (schema, table) not in existing]
        if missing:
            raise CommandError(f"{database} lacks relations marked publish: {', '.join(missing[:5])}: run dbt build")
        if ("marts", "customer_segments") not in relations:
            raise CommandError(f"{database} publishes no marts.customer_segments: nothing to publish")
        connection.execute(f"attach {literal(str(staging_file))} as publication")
        copy_relations(connection, relations)
        names = [f"{schema}.{table}" for schema, table in relations]
        connection.execute(
            "create table publication.marts.publication as select ? as published_at, "
            "(select max(as_of_date) from publication.marts.customer_segments) as latest_as_of_date, "
            # the current marts (customer_rfm, ...) hold the last build's date, which a
            # backfill of an earlier date makes older than the latest date of the history
            "(select max(as_of_date) from publication.marts.customer_rfm) as current_as_of_date, "
            "? as tables, ? as build_invocation_id",
            [datetime.now(UTC).replace(tzinfo=None), ",".join(names), build.invocation_id],
        )
        connection.execute("checkpoint publication")
        connection.execute("detach publication")
        connection.execute("detach warehouse")
        connection.close()
        if staging_wal.exists():
            raise CommandError(f"the new publication {staging_file} kept a WAL after its checkpoint")
        # a WAL left by a killed writer of the published file would not match the new file
        published.with_name(published.name + ".wal").unlink(missing_ok=True)
        os.replace(staging_file, published)
    except (duckdb.Error, OSError) as error:
        raise CommandError(
            f"publishing {database} to {published} failed, the last publication is unchanged: {one_line(error)}"
        ) from error
    finally:
        connection.close()
        for leftover in (staging_file, staging_wal):
            with contextlib.suppress(OSError):
                leftover.unlink(missing_ok=True)
    return names


def run(args: argparse.Namespace) -> int:
    database = resolve_database(args.database)
    published = resolve_published(args.published, database)
    names = publish(database, published, force=args.force)
    print(f"published {len(names)} relations to {published}: {', '.join(names)}")
    return 0
