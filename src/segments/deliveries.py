"""``segments split-deliveries --from DIR --out DIR --since DATE``: a raw folder as a daily feed.

Splits a raw folder (the generator's, or any folder that follows the contract) into the
deliveries a production feed would have sent: ``OUT/<first day - 1>/`` holds everything
that happened before ``--since`` (the history, loaded with a plain ``segments load``), then
one folder per day from ``--since`` to the last day of data, each holding the rows that
arrived that day (loaded with ``segments load --append``).

A row arrives on the day it happened (orders: ``ordered_at``, events: ``occurred_at``,
CRM versions: ``updated_at``, else ``created_at``; erasure requests: ``requested_at``),
except a share ``--late-share`` of the rows, chosen by a hash of the table and the row's
position (so the split is deterministic), which arrive 1 to ``--max-late-days`` days
later. Order lines travel with the first delivery of their order. A row with no
timestamp goes with the history; a row dated after the last day (a clock defect) goes with
the last day. Only tables with rows are written to a day's folder.
"""

from __future__ import annotations

import argparse
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb

from segments.contract import TABLES
from segments.errors import CommandError
from segments.sources import file_literal, literal

# The column whose date is the day a row happened, per table (order_items: its order's).
EVENT_TIME = {
    "customers": "coalesce(updated_at, created_at)",
    "orders": "ordered_at",
    "web_events": "occurred_at",
    "app_events": "occurred_at",
    "email_events": "occurred_at",
    "erasure_requests": "requested_at",
}
DAY_COLUMN = "_delivery_date"
DEFAULT_LATE_SHARE = 0.05
DEFAULT_MAX_LATE_DAYS = 3
ROW_COLUMN = "file_row_number"  # read_parquet's own row position
# the split's scratch database (a hidden file beside the output folder while it runs) and its memory cap
SCRATCH_SUFFIX = ".split-scratch.duckdb"
SPLIT_MEMORY_LIMIT = "2GB"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="source", type=Path, required=True, help="raw folder (Parquet files)")
    parser.add_argument("--out", type=Path, required=True, help="folder that receives one folder per delivery")
    parser.add_argument("--since", type=date.fromisoformat, required=True, help="first day delivered on its own")
    parser.add_argument("--until", type=date.fromisoformat, default=None, help="last day (default: the data's)")
    parser.add_argument(
        "--late-share", type=float, default=DEFAULT_LATE_SHARE, help="share of rows that arrive late (%(default)s)"
    )
    parser.add_argument(
        "--max-late-days",
        type=int,
        default=DEFAULT_MAX_LATE_DAYS,
        help="most days a late row arrives after (%(default)s)",
    )


def check_lateness(late_share: float, max_late_days: int) -> None:
    """One-line errors for a lateness the split cannot apply."""
    if not 0 <= late_share <= 1:
        raise CommandError("--late-share must lie between 0 and 1")
    if max_late_days < 1:
        raise CommandError("--max-late-days must be at least 1")


def run(args: argparse.Namespace) -> int:
    check_lateness(args.late_share, args.max_late_days)
    folders = split_daily(args.source, args.out, args.since, args.until, args.late_share, args.max_late_days)
    for folder, rows in folders.items():
        print(f"{folder}: {sum(rows.values()):,} rows ({', '.join(f'{t} {n:,}' for t, n in rows.items())})")
    return 0


def source_path(source: Path, table: str) -> Path | None:
    path = source / f"{table}.parquet"
    return path if path.exists() else None


def split_daily(
    source: Path,
    out: Path,
    since: date,
    until: date | None = None,
    late_share: float = 0.05,
    max_late_days: int = 3,
) -> dict[str, dict[str, int]]:
    """Write OUT/<day>/ folders (the history first); returns the rows written per folder and table."""
    if not source.is_dir():
        raise CommandError(f"folder {source} does not exist")
    if source_path(source, "orders") is None:
        raise CommandError(f"{source}/orders.parquet not found (split-deliveries reads Parquet folders)")
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = out.parent / f".{out.name}{SCRATCH_SUFFIX}"
    connection = scratch_connection(scratch)
    try:
        for table in TABLES:
            path = source_path(source, table.name)
            if path is not None:
                connection.execute(
                    f"create view {table.name}_source as "
                    f"select * from read_parquet({file_literal(path)}, file_row_number = true)"
                )
        last_day = until or latest_day(connection)
        if last_day < since:
            raise CommandError(f"--since {since} is after the last day of data {last_day}")
        history_day = since - timedelta(days=1)
        assign_days(connection, history_day, last_day, late_share, max_late_days)
        return write_days(connection, out, history_day, last_day)
    finally:
        connection.close()
        remove_scratch(scratch)


def scratch_spill(scratch: Path) -> Path:
    return scratch.with_name(scratch.name + ".tmp")


def remove_scratch(scratch: Path) -> None:
    """The scratch database, its write-ahead log and its spill folder."""
    for path in (scratch, scratch.with_name(scratch.name + ".wal")):
        path.unlink(missing_ok=True)
    shutil.rmtree(scratch_spill(scratch), ignore_errors=True)


def scratch_connection(scratch: Path) -> duckdb.DuckDBPyConnection:
    """A scratch database file in UTC with its memory capped at SPLIT_MEMORY_LIMIT: the rows
    with their days live on disk, not in memory, so a split's memory does not grow with the
    feed (beyond the cap, DuckDB spills to a folder beside the file). A killed split's
    leftovers are removed first."""
    remove_scratch(scratch)
    connection = duckdb.connect(str(scratch))
    connection.execute("set TimeZone = 'UTC'")
    connection.execute(f"set memory_limit = '{SPLIT_MEMORY_LIMIT}'")
    connection.execute(f"set temp_directory = {literal(str(scratch_spill(scratch)))}")
    return connection


def latest_day_of(source: Path) -> date:
    """The last day of a raw folder's data (as split_daily takes it)."""
    connection = duckdb.connect(":memory:")
    try:
        for table in ("customers", "orders"):
            path = source_path(source, table)
            if path is not None:
                connection.execute(f"create view {table}_source as select * from read_parquet({file_literal(path)})")
        return latest_day(connection)
    finally:
        connection.close()


def latest_day(connection: duckdb.DuckDBPyConnection) -> date:
    """The last day of the feed: the day of the latest CRM update (the generator's end date),
    or of the latest order when there is no CRM table."""
    tables = {row[0] for row in connection.execute("select view_name from duckdb_views()").fetchall()}
    table = "customers" if "customers_source" in tables else "orders"
    value = connection.execute(f"select cast(max({EVENT_TIME[table]}) as date) from {table}_source").fetchall()[0][0]
    if value is None:
        raise CommandError(f"no {table} row has a timestamp: no day to split by")
    return date.fromisoformat(str(value))


def assign_days(
    connection: duckdb.DuckDBPyConnection, history_day: date, last_day: date, late_share: float, max_late_days: int
) -> None:
    """A table <name>_days per table: the source rows with the day they are delivered."""
    views = {row[0] for row in connection.execute("select view_name from duckdb_views()").fetchall()}
    bounds = {"history_day": history_day, "last_day": last_day}
    for table, event_time in EVENT_TIME.items():
        if f"{table}_source" not in views:
            continue
        # a hash in [0, 1) per row decides whether it is late, and a second one by how much
        lateness = (
            f"case when hash({literal(table)}, {ROW_COLUMN}) % 1000000 < {round(late_share * 1000000)} "
            f"then 1 + hash({literal(table + ':days')}, {ROW_COLUMN}) % {max_late_days} else 0 end"
        )
        connection.execute(
            f"create table {table}_days as select *, "
            f"case when {event_time} is null then $history_day::date "
            f"else least($last_day::date, greatest($history_day::date, "
            f"cast({event_time} as date) + cast({lateness} as integer))) end as {DAY_COLUMN} "
            f"from {table}_source order by {DAY_COLUMN}, {ROW_COLUMN}",
            bounds,
        )
    if "order_items_source" in views:
        connection.execute(
            f"create table order_items_days as select items.*, "
            f"coalesce(first_delivery.{DAY_COLUMN}, $history_day::date) as {DAY_COLUMN} "
            "from order_items_source as items left join ("
            f"select order_id, min({DAY_COLUMN}) as {DAY_COLUMN} from orders_days group by order_id"
            ") as first_delivery on items.order_id = first_delivery.order_id "
            f"order by {DAY_COLUMN}, {ROW_COLUMN}",
            {"history_day": history_day},
        )


def write_days(
    connection: duckdb.DuckDBPyConnection, out: Path, history_day: date, last_day: date
) -> dict[str, dict[str, int]]:
    tables = {row[0] for row in connection.execute("select table_name from duckdb_tables()").fetchall()}
    written: dict[str, dict[str, int]] = {}
    day = history_day
    while day <= last_day:
        folder = out / day.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        written[folder.name] = {}
        for table in TABLES:
            if f"{table.name}_days" not in tables:
                continue
            rows = connection.execute(
                f"select count(*) from {table.name}_days where {DAY_COLUMN} = ?", [day]
            ).fetchall()[0][0]
            if not rows:
                continue
            connection.execute(
                f"copy (select * exclude ({DAY_COLUMN}, {ROW_COLUMN}) from {table.name}_days "
                f"where {DAY_COLUMN} = $day::date order by {ROW_COLUMN}) "
                f"to {literal(str(folder / (table.name + '.parquet')))} (format parquet)",
                {"day": day},
            )
            written[folder.name][table.name] = int(rows)
        day += timedelta(days=1)
    return written
