"""``segments publish``: write-audit-publish for BI tools.

BI tools read a separate DuckDB file (default ``published.duckdb`` beside the warehouse,
or $SEGMENTS_PUBLISHED_PATH). Publishing copies the BI-facing marts into a new file next to
it, checkpoints and closes that file, then atomically renames it over the published one.
A reader that opened the old file keeps reading a consistent snapshot; a reader that opens
the path afterwards gets the new one; nobody sees a partial state and nobody waits on a
lock, because no process ever writes to the published file in place.

It publishes only a warehouse that ``segments check`` audited: the audit stamp beside the
warehouse must match the file as it is now and record that every dbt result passed and no
critical expectation failed (``--force`` skips this). ``make build`` also runs it only after
``dbt build`` and ``segments check`` passed, so a failed build leaves the last published
segments intact.
"""

from __future__ import annotations

import argparse
import os
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from segments.check import audit_refusal
from segments.errors import CommandError
from segments.warehouse import add_database_argument, resolve_database

PUBLISHED_ENVIRONMENT_VARIABLE = "SEGMENTS_PUBLISHED_PATH"
# Marts holding raw emails and phones are restricted: never published to BI.
RESTRICTED_MARTS = ("customer_identifiers", "identity_exclusions")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_database_argument(parser)
    parser.add_argument("--published", type=Path, default=None,
                        help=f"published file (default ${PUBLISHED_ENVIRONMENT_VARIABLE}, "
                        "else published.duckdb beside the warehouse)")
    parser.add_argument("--force", action="store_true",
                        help="publish even without a matching, passing audit stamp from segments check")


def resolve_published(published: Path | None, database: Path) -> Path:
    if published is not None:
        return published
    from_environment = os.environ.get(PUBLISHED_ENVIRONMENT_VARIABLE)
    return Path(from_environment) if from_environment else database.with_name("published.duckdb")


def publish(database: Path, published: Path) -> list[str]:
    """Copy the BI-facing marts into published atomically; return the tables copied."""
    if not database.exists():
        raise CommandError(f"warehouse {database} does not exist: run make build first")
    staging_file = published.with_name(f".{published.name}.{os.getpid()}.tmp")
    staging_file.unlink(missing_ok=True)
    connection = duckdb.connect(str(staging_file))
    try:
        escaped = str(database).replace("'", "''")
        connection.execute(f"attach '{escaped}' as warehouse (read_only)")
        tables = [
            row[0] for row in connection.execute(
                "select table_name from duckdb_tables() where database_name = 'warehouse' "
                "and schema_name = 'marts' order by table_name"
            ).fetchall()
            if row[0] not in RESTRICTED_MARTS
        ]
        if "customer_segments" not in tables:
            raise CommandError(f"{database} has no marts.customer_segments: nothing to publish")
        connection.execute("create schema marts")
        for table in tables:
            connection.execute(f"create table marts.{table} as select * from warehouse.marts.{table}")
        connection.execute(
            "create table marts.publication as select ? as published_at, "
            "(select max(as_of_date) from marts.customer_segments) as latest_as_of_date, "
            # the current marts (customer_rfm, ...) hold the last build's date, which a
            # backfill of an earlier date makes older than the latest date of the history
            "(select max(as_of_date) from marts.customer_rfm) as current_as_of_date, "
            "? as tables",
            [datetime.now(timezone.utc).replace(tzinfo=None), ",".join(tables)],
        )
        connection.execute("detach warehouse")
        connection.execute("checkpoint")
    except BaseException:
        connection.close()
        staging_file.unlink(missing_ok=True)
        raise
    connection.close()
    os.replace(staging_file, published)
    return tables


def run(args: argparse.Namespace) -> int:
    database = resolve_database(args.database)
    published = resolve_published(args.published, database)
    if not database.exists():
        raise CommandError(f"warehouse {database} does not exist: run make build first")
    refusal = None if args.force else audit_refusal(database)
    if refusal:
        raise CommandError(f"refusing to publish {database}: {refusal} (--force publishes anyway)")
    tables = publish(database, published)
    print(f"published {len(tables)} marts to {published}: {', '.join(tables)}")
    return 0
