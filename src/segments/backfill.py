"""``segments backfill --from DATE --to DATE --every month``: build successive as-of dates.

For each as-of date, oldest first, runs ``dbt build --selector as_of_rebuild`` (selectors.yml:
int_as_of_date and everything downstream: features, segments, their data tests) with
``--vars '{as_of_date: ...}'``, in this process, on one parse of the project. The segment
history models replace the rows of the date they build, so running a date again never
duplicates it. A date whose build fails stops the backfill; the segments that moved at that
date (if its drift gate failed) are printed. A warehouse that was never loaded or never
built is refused before dbt runs, naming what to run first.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from calendar import monthrange
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from segments.drift_report import print_moved_segments
from segments.errors import CommandError
from segments.warehouse import DATABASE_ENVIRONMENT_VARIABLE, add_database_argument, resolve_database

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STEPS = ("day", "week", "month")
# A backfill rebuilds only the as-of-dependent models: everything upstream must exist.
LOADED_TABLE = ("raw", "orders")
BUILT_TABLES = (("intermediate", "int_orders_attributed"), ("marts", "customers"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", type=date.fromisoformat, default=None)
    parser.add_argument("--to", dest="end", type=date.fromisoformat, default=None)
    parser.add_argument("--every", choices=STEPS, default="month", help="day, week, or month (month ends)")
    parser.add_argument(
        "--restate",
        action="store_true",
        help="instead of --from/--to: rebuild the history dates that deliveries loaded since they "
        "were built reach back to (late rows, re-deliveries)",
    )
    add_database_argument(parser)


# Per raw table, the time a row's data belongs to (order_items: none, they have no date and
# no history model reads them).
RAW_DATA_TIMES = {
    "customers": "coalesce(updated_at, created_at)",
    "orders": "ordered_at",
    "web_events": "occurred_at",
    "app_events": "occurred_at",
    "email_events": "occurred_at",
    "erasure_requests": "requested_at",
}


def latest_history_date(database: Path) -> date:
    import duckdb

    with duckdb.connect(str(database), read_only=True) as connection:
        latest = connection.execute("select max(as_of_date) from marts.segment_catalog_history").fetchall()[0][0]
    return date.fromisoformat(str(latest))


def restated_dates(database: Path) -> list[date]:
    """The history's as-of dates, but its latest, that changed since they were built
    (segment_catalog_history.recorded_at): a delivery loaded since holds a row dated on or
    before the date (late rows, a re-delivered day), or a customer of that date had its key
    merged or split since (marts.customer_key_merges). A full build of every delivery would
    give those dates other rows, so they are rebuilt; the latest date is the one the build
    just made."""
    import duckdb  # here, not at the top: segments --help must not load it

    connection = duckdb.connect(str(database), read_only=True)
    try:
        tables = {
            row[0]
            for row in connection.execute("select table_name from duckdb_tables() where schema_name = 'raw'").fetchall()
        }
        if "deliveries" not in tables:
            raise CommandError(f"{database} records no deliveries (raw.deliveries): load it with this segments first")
        earliest = " union all ".join(
            f"select _delivery_id as delivery_id, min(cast({column} as date)) as earliest_date from raw.{table} "
            "group by _delivery_id"
            for table, column in RAW_DATA_TIMES.items()
            if table in tables
        )
        has_merge_log = bool(
            connection.execute(
                "select count(*) from duckdb_tables() "
                "where schema_name = 'marts' and table_name = 'customer_key_merges'"
            ).fetchall()[0][0]
        )
        # a date that holds a customer whose key merged or split after it was built: a full
        # build gives that customer other rows on it (the identity graph is the current one)
        merged = (
            """
            union
            select built.as_of_date
            from built
            inner join marts.customer_key_merges as merges
                on merges.merged_at > built.built_at
            inner join marts.customer_segments as segments
                on segments.as_of_date = built.as_of_date
                    and segments.customer_key in (merges.merged_customer_key, merges.surviving_customer_key)
            """
            if has_merge_log
            else ""
        )
        rows = connection.execute(f"""
            with built as (
                select as_of_date, max(recorded_at) as built_at
                from marts.segment_catalog_history
                group by as_of_date
            ),
            delivered as (
                select
                    deliveries.delivery_id,
                    max(deliveries.loaded_at) as loaded_at,
                    min(earliest.earliest_date) as earliest_date
                from raw.deliveries as deliveries
                inner join ({earliest}) as earliest on deliveries.delivery_id = earliest.delivery_id
                group by deliveries.delivery_id
            ),
            stale as (
                select built.as_of_date
                from built
                inner join delivered
                    on delivered.loaded_at > built.built_at and delivered.earliest_date <= built.as_of_date
                {merged}
            )
            select distinct as_of_date
            from stale
            where as_of_date < (select max(as_of_date) from built)
            order by 1
        """).fetchall()
    finally:
        connection.close()
    return [date.fromisoformat(str(row[0])) for row in rows]


def as_of_dates(start: date, end: date, every: str) -> list[date]:
    """The as-of dates from start to end inclusive; months step through month ends."""
    if end < start:
        raise CommandError(f"--to {end} is before --from {start}")
    dates: list[date] = []
    if every == "month":
        year, month = start.year, start.month
        while True:
            month_end = date(year, month, monthrange(year, month)[1])
            if month_end > end:
                break
            if month_end >= start:
                dates.append(month_end)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return dates
    step = timedelta(days=1 if every == "day" else 7)
    current = start
    while current <= end:
        dates.append(current)
        current += step
    return dates


def missing_prerequisite(database: Path) -> str | None:
    """What to run before a backfill (None when the warehouse is loaded and built)."""
    import duckdb  # here, not at the top: segments --help must not load it

    if not database.exists():
        return f"warehouse {database} does not exist: run segments load --from DIR, then dbt build, first"
    try:
        connection = duckdb.connect(str(database), read_only=True)
    except duckdb.Error as error:
        return f"cannot open {database} read-only ({str(error).splitlines()[0]})"
    try:
        tables = set(connection.execute("select schema_name, table_name from duckdb_tables()").fetchall())
        tables |= set(connection.execute("select schema_name, view_name from duckdb_views()").fetchall())
    finally:
        connection.close()
    if LOADED_TABLE not in tables:
        return f"{database} holds no loaded raw data: run segments load --from DIR, then dbt build, first"
    if not all(table in tables for table in BUILT_TABLES):
        return f"{database} was never built: run dbt build first (a backfill rebuilds only the as-of-dependent models)"
    return None


def dbt_log_line(event: Any) -> str | None:
    """The text dbt would print for an event at info level or above (None for debug)."""
    if event.info.level in ("debug", "none"):
        return None
    return str(event.info.msg)


def print_dbt_output(lines: list[str]) -> None:
    """The end of what dbt said in the failed invocation, on stderr."""
    print("\n".join(lines)[-4000:], file=sys.stderr)


def release_warehouse() -> None:
    """Close the connection dbt-duckdb keeps to the warehouse after an invocation: DuckDB
    refuses a read-only connection to a file this process already holds read-write."""
    import gc

    if "dbt.adapters.duckdb.connections" not in sys.modules:
        return  # dbt never ran in this process: nothing is open
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    DuckDBConnectionManager.close_all_connections()  # type: ignore[no-untyped-call]
    gc.collect()


def build_dates(dates: list[date], database: Path) -> None:
    """Build each as-of date in this process: dbt parses the project once, then runs
    ``build --selector as_of_rebuild`` per date on that manifest. That is exact because the
    as-of date is read only in model SQL, which dbt renders again, with the invocation's
    vars, every time it compiles a node (no config, ref or source depends on it)."""
    # here, not at the top: segments --help must not load dbt
    from dbt.cli.main import dbtRunner
    from dbt.contracts.graph.manifest import Manifest

    os.environ[DATABASE_ENVIRONMENT_VARIABLE] = str(database)
    os.environ.setdefault("DBT_PROFILES_DIR", str(PROJECT_ROOT / "profiles"))
    os.environ.setdefault("DBT_PROJECT_DIR", str(PROJECT_ROOT))
    lines: list[str] = []

    def collect(event: Any) -> None:
        line = dbt_log_line(event)
        if line is not None:
            lines.append(line)

    # dbt prints nothing itself; its lines reach stderr (below) only when a date fails. Its
    # log file (logs/dbt.log) keeps dbt's default level, debug, unless $DBT_LOG_LEVEL_FILE says otherwise
    quiet = ["--log-level", "none", "--project-dir", os.environ["DBT_PROJECT_DIR"]]
    # parsed without --vars, so the partial-parse state of a plain `dbt build` is reused
    parsed = dbtRunner(callbacks=[collect]).invoke(["parse", *quiet])
    manifest = parsed.result
    if not parsed.success or not isinstance(manifest, Manifest):
        print_dbt_output(lines)
        raise CommandError(f"dbt parse failed: {parsed.exception or 'see the output above'}")
    runner = dbtRunner(manifest=manifest, callbacks=[collect])
    for as_of_date in dates:
        print(f"building as of {as_of_date}", flush=True)
        lines.clear()
        date_vars = json.dumps({"as_of_date": as_of_date.isoformat()})
        result = runner.invoke(["build", *quiet, "--selector", "as_of_rebuild", "--vars", date_vars])
        if not result.success:
            print_dbt_output(lines)
            # a failing drift gate stops the history here: say which segments moved
            release_warehouse()
            print_moved_segments(database)
            raise CommandError(f"dbt build failed for as_of_date {as_of_date}; later dates not built")


def run(args: argparse.Namespace) -> int:
    database = resolve_database(args.database).resolve()
    if args.restate:
        if args.start is not None or args.end is not None:
            raise CommandError("--restate chooses the dates itself: give it without --from and --to")
        problem = missing_prerequisite(database)
        if problem:
            raise CommandError(problem)
        dates = restated_dates(database)
        if not dates:
            print("no history date to restate: no delivery since reaches back before the latest as-of date")
            return 0
        # then the latest date again: a backfill leaves the feature marts at the date it built last
        build_dates([*dates, latest_history_date(database)], database)
        print(f"restated {len(dates)} as-of dates: {', '.join(map(str, dates))}")
        return 0
    if args.start is None or args.end is None:
        raise CommandError("give --from and --to (or --restate)")
    dates = as_of_dates(args.start, args.end, args.every)
    if not dates:
        raise CommandError(f"no {args.every} end between {args.start} and {args.end}")
    problem = missing_prerequisite(database)
    if problem:
        raise CommandError(problem)
    build_dates(dates, database)
    print(f"built {len(dates)} as-of dates: {dates[0]} to {dates[-1]}")
    return 0
