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
    parser.add_argument("--from", dest="start", type=date.fromisoformat, required=True)
    parser.add_argument("--to", dest="end", type=date.fromisoformat, required=True)
    parser.add_argument("--every", choices=STEPS, default="month", help="day, week, or month (month ends)")
    add_database_argument(parser)


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
    dates = as_of_dates(args.start, args.end, args.every)
    if not dates:
        raise CommandError(f"no {args.every} end between {args.start} and {args.end}")
    database = resolve_database(args.database).resolve()
    problem = missing_prerequisite(database)
    if problem:
        raise CommandError(problem)
    build_dates(dates, database)
    print(f"built {len(dates)} as-of dates: {dates[0]} to {dates[-1]}")
    return 0
