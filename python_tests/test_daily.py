"""Daily runs: a feed replayed as daily `segments load --append` runs, each followed by a build,
ends in the same marts as one full build of every delivery.

The feed is the bundled sample split by `segments split-deliveries` into the history up to
2026-06-28, then one delivery per day for 2026-06-29 and 2026-06-30 (5% of the rows arriving
1 to 2 days late), and on the last day, by hand: the whole 2026-06-29 delivery again (a
re-delivered day), an order linking a CRM account to a guest's email (a merge of two
customers), an erasure request for a customer with history and a new CRM version of an
account. Both warehouses share the key salt, so their customer keys compare.

Two paths, each on its own warehouse:
- daily: load the history, build; append 06-29, build; append 06-30, build, then
  `segments backfill --restate` (the history dates the last deliveries changed);
- full: load the history and append both days (the same raw rows), one build, then
  `segments backfill` of the daily path's earlier as-of dates.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dbt_runner import DATA_ONLY, SAMPLE_RAW, run_dbt, run_segments
from test_privacy import scan_for_values

SINCE = "2026-06-29"
DAYS = ["2026-06-28", "2026-06-29", "2026-06-30"]  # the history's folder, then one per day
SALT = "daily-replay-salt"
# Columns that record when something ran (wall-clock time: a load, a build), which two
# warehouses loaded and built at other times never share.
WALL_CLOCK_COLUMNS = {"recorded_at", "loaded_at"}
# The merge log depends on the builds run, not only on the data (a first build records
# nothing): checked on its own below.
PATH_DEPENDENT_TABLES = {"marts.customer_key_merges"}
COMPARED_SCHEMAS = ("staging", "quarantine", "intermediate", "marts", "restricted")


def sample_sql(sql: str) -> list[tuple]:
    with duckdb.connect() as connection:
        return connection.execute(sql.replace("RAW/", f"{SAMPLE_RAW}/")).fetchall()


def pick_people() -> dict[str, str]:
    """Hand-made cases from the sample: an account with orders (merged with a guest's email),
    a guest email with orders and no account, an account to erase and one to update."""
    accounts = [
        row[0]
        for row in sample_sql("""
            select customers.customer_id
            from 'RAW/customers.parquet' as customers
            inner join 'RAW/orders.parquet' as orders using (customer_id)
            where customers.customer_id ~ '^C[0-9]+$'
                and customers.email ~ '^[a-z0-9._]+@[a-z0-9.]+$'
                and orders.status = 'completed' and orders.ordered_at < '2026-06-01'
            group by customers.customer_id
            having count(distinct customers.email) = 1 and count(distinct orders.order_id) >= 2
            order by customers.customer_id
            limit 3
        """)
    ]
    guest = sample_sql("""
        select orders.email
        from 'RAW/orders.parquet' as orders
        where orders.customer_id is null and orders.email ~ '^[a-z0-9._]+@[a-z0-9.]+$'
            and orders.status = 'completed' and orders.ordered_at < '2026-06-01'
            and orders.email not in (select email from 'RAW/customers.parquet' where email is not null)
            and orders.email not in (
                select email from 'RAW/orders.parquet' where customer_id is not null and email is not null
            )
        group by orders.email
        order by count(*) desc, orders.email
        limit 1
    """)[0][0]
    assert len(accounts) == 3
    return {"merged": accounts[0], "guest_email": guest, "erased": accounts[1], "updated": accounts[2]}


def append_rows(path: Path, sql: str) -> None:
    """Add the rows of sql (same columns) to the Parquet file at path (created if absent)."""
    with duckdb.connect() as connection:
        connection.execute("set TimeZone = 'UTC'")
        # each side in parentheses: a limit in sql must not apply to the union
        base = f"(select * from '{path}') union all " if path.exists() else ""
        connection.execute(f"create table rows as {base}({sql})")
        connection.execute(f"copy rows to '{path}' (format parquet)")


def make_feed(feed: Path, people: dict[str, str]) -> dict[str, Path]:
    run = run_segments(
        ["split-deliveries", "--from", str(SAMPLE_RAW), "--out", str(feed), "--since", SINCE, "--max-late-days", "2"]
    )
    assert run.returncode == 0, run.stderr
    folders = {day: feed / day for day in DAYS}
    assert sorted(path.name for path in feed.iterdir()) == DAYS
    last = folders[DAYS[-1]]
    # a re-delivered day: every file of 06-29 again in the 06-30 delivery
    for redelivered in sorted(folders[DAYS[1]].glob("*.parquet")):
        append_rows(last / redelivered.name, f"select * from '{redelivered}'")
    # a merge: an order carrying the account's customer_id and the guest's email
    append_rows(
        last / "orders.parquet",
        f"""select * replace (
            'daily-merge-order' as order_id, '{people["merged"]}' as customer_id,
            '{people["guest_email"]}' as email, timestamp '2026-06-30 10:00:00' as ordered_at,
            'completed' as status, 55.00::decimal(18, 2) as order_total, 'web' as channel)
        from '{SAMPLE_RAW}/orders.parquet' limit 1""",
    )
    # an erasure of a customer with history
    append_rows(
        last / "erasure_requests.parquet",
        f"""select * replace (
            'daily-erasure' as request_id, '{people["erased"]}' as customer_id, null as email,
            timestamp '2026-06-30 08:00:00' as requested_at)
        from '{SAMPLE_RAW}/erasure_requests.parquet' limit 1""",
    )
    # a CRM update: the account's latest version with a new tier and city
    append_rows(
        last / "customers.parquet",
        f"""select * replace (
            case when loyalty_tier = 'platinum' then 'bronze' else 'platinum' end as loyalty_tier,
            'Daily Update City' as city, timestamp '2026-06-30 09:00:00' as updated_at)
        from '{SAMPLE_RAW}/customers.parquet'
        where customer_id = '{people["updated"]}'
        order by updated_at desc limit 1""",
    )
    return folders


def load(folder: Path, database: Path, append: bool) -> None:
    run = run_segments(["load", *(["--append"] if append else []), "--from", str(folder)], database)
    assert run.returncode == 0, run.stdout + run.stderr


def build(database: Path, work_dir: Path) -> None:
    run_dbt(["build", *DATA_ONLY], database, work_dir)


def backfill(database: Path, arguments: list[str]) -> str:
    run = run_segments(["backfill", *arguments], database)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def history_dates(database: Path) -> list[str]:
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute("select distinct as_of_date from marts.customer_segments order by 1").fetchall()
    return [str(row[0]) for row in rows]


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("daily")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("SEGMENTS_CUSTOMER_KEY_SALT", SALT)
    try:
        people = pick_people()
        folders = make_feed(root / "feed", people)
        daily = root / "daily" / "warehouse.duckdb"
        daily.parent.mkdir()
        before_last: dict[str, pd.DataFrame] = {}
        for index, day in enumerate(DAYS):
            load(folders[day], daily, append=index > 0)
            if index == len(DAYS) - 1:
                with duckdb.connect(str(daily), read_only=True) as connection:
                    before_last["customers"] = connection.execute(
                        "select profiles.primary_customer_id, customers.customer_key, customers.first_seen_date "
                        "from marts.customers inner join restricted.restricted_customer_profiles as profiles "
                        "using (customer_key)"
                    ).df()
                    before_last["identifiers"] = connection.execute(
                        "select identifier_type, identifier_value, customer_key, first_seen_at "
                        "from restricted.customer_identifiers"
                    ).df()
            build(daily, root / "daily")
        restated = backfill(daily, ["--restate"])
        full = root / "full" / "warehouse.duckdb"
        full.parent.mkdir()
        for index, day in enumerate(DAYS):
            load(folders[day], full, append=index > 0)
        build(full, root / "full")
        # the daily path's earlier as-of dates, then the latest again (the feature marts hold
        # the date a backfill built last)
        backfill(full, ["--from", history_dates(daily)[0], "--to", DAYS[-1], "--every", "day"])
        yield {
            "people": people,
            "folders": folders,
            "daily": daily,
            "full": full,
            "restated": restated,
            "before_last": before_last,
        }
    finally:
        monkeypatch.undo()


def model_tables(database: Path) -> dict[str, list[str]]:
    """Every table and view dbt builds (staging, quarantine, intermediate, marts, restricted),
    with its columns; the key secret is not dbt's and the merge log is path-dependent."""
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute(f"""
            select table_schema || '.' || table_name, column_name
            from information_schema.columns
            where table_schema in {COMPARED_SCHEMAS} and table_name != 'customer_key_secret'
            order by table_schema, table_name, ordinal_position
        """).fetchall()
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        if table not in PATH_DEPENDENT_TABLES:
            tables.setdefault(table, []).append(column)
    return tables


def table_rows(database: Path, table: str, columns: list[str]) -> pd.DataFrame:
    kept = [column for column in columns if column not in WALL_CLOCK_COLUMNS]
    # a quarantined row keeps its raw row as JSON, load time included: compared without it
    select = ", ".join(
        f"""regexp_replace("{column}"::varchar, '"_loaded_at":"[^"]*"', '') as "{column}\""""
        if column == "raw_record"
        else f'"{column}"'
        for column in kept
    )
    with duckdb.connect(str(database), read_only=True) as connection:
        frame = connection.execute(f"select {select} from {table} order by all").df()
    return frame.reset_index(drop=True)


def test_every_mart_of_the_daily_runs_equals_the_full_build(replay: dict[str, object]) -> None:
    daily, full = replay["daily"], replay["full"]
    assert isinstance(daily, Path) and isinstance(full, Path)
    tables = model_tables(full)
    assert model_tables(daily) == tables
    assert {
        "marts.customer_segments",
        "marts.segment_memberships",
        "marts.customers",
        "staging.base_web__events",
        "quarantine.stg_quarantine__rows",
    } <= set(tables)
    # the history holds one as-of date per daily build, every one compared
    assert history_dates(daily) == history_dates(full) == DAYS
    different = []
    for table, columns in tables.items():
        left, right = table_rows(daily, table, columns), table_rows(full, table, columns)
        try:
            pd.testing.assert_frame_equal(left, right, check_exact=False, rtol=1e-12)
        except AssertionError as error:
            different.append(f"{table}: {str(error).splitlines()[:6]}")
    assert different == []


def test_the_feed_holds_every_hard_case(replay: dict[str, object]) -> None:
    """The equality is not trivial: late rows, a re-delivered day, duplicates removed."""
    folders = replay["folders"]
    assert isinstance(folders, dict)
    last = folders[DAYS[-1]]
    late = sample_sql(f"select count(*) from '{last}/web_events.parquet' where occurred_at < date '{DAYS[-1]}'")
    # the re-delivered day alone brings web events of 06-29; late ones of 06-28 come too
    late_from_before = sample_sql(
        f"select count(*) from '{last}/web_events.parquet' where occurred_at < date '{DAYS[1]}'"
    )
    assert late[0][0] > 0 and late_from_before[0][0] > 0
    # every hand-made row is in the last delivery, beside the day's own rows
    for table, key in [("orders", "order_id"), ("erasure_requests", "request_id")]:
        assert sample_sql(f"select count(*) from '{last}/{table}.parquet' where {key} like 'daily-%'") == [(1,)]
    day_orders = sample_sql(f"select count(*) from '{folders[DAYS[1]]}/orders.parquet'")[0][0]
    assert sample_sql(f"select count(*) from '{last}/orders.parquet'")[0][0] > day_orders + 1
    daily = replay["daily"]
    assert isinstance(daily, Path)
    with duckdb.connect(str(daily), read_only=True) as connection:
        duplicates = dict(
            connection.execute(
                "select source_table, duplicate_rows from quarantine.stg_quarantine__reconciliation"
            ).fetchall()
        )
    assert duplicates["web_events"] > 0 and duplicates["orders"] > 0


def test_reconciliation_is_exact_over_every_delivery(replay: dict[str, object]) -> None:
    """raw rows = staged + quarantined + duplicates per raw table, over all deliveries, and raw
    rows = the rows of every delivery (counted from the files, not the warehouse)."""
    daily, folders = replay["daily"], replay["folders"]
    assert isinstance(daily, Path) and isinstance(folders, dict)
    delivered: dict[str, int] = {}
    for folder in folders.values():
        for path in folder.glob("*.parquet"):
            delivered[path.stem] = delivered.get(path.stem, 0) + sample_sql(f"select count(*) from '{path}'")[0][0]
    with duckdb.connect(str(daily), read_only=True) as connection:
        rows = connection.execute("select * from quarantine.stg_quarantine__reconciliation").df()
    for row in rows.itertuples():
        assert row.raw_rows == delivered.get(row.source_table, 0), row.source_table
        assert row.raw_rows == row.staged_rows + row.quarantined_rows + row.duplicate_rows, row.source_table


def test_a_merge_keeps_the_older_key_and_is_logged(replay: dict[str, object]) -> None:
    daily, people, before = replay["daily"], replay["people"], replay["before_last"]
    assert isinstance(daily, Path) and isinstance(people, dict) and isinstance(before, dict)
    identifiers = before["identifiers"]
    account = identifiers[
        (identifiers.identifier_type == "customer_id") & (identifiers.identifier_value == people["merged"])
    ]
    guest = identifiers[
        (identifiers.identifier_type == "email") & (identifiers.identifier_value == people["guest_email"])
    ]
    assert len(account) == 1 and len(guest) == 1
    account_key, guest_key = account.customer_key.iloc[0], guest.customer_key.iloc[0]
    assert account_key != guest_key  # two customers before the last delivery
    # the older customer is the one whose earliest identifier was seen first
    first_seen = identifiers.groupby("customer_key").first_seen_at.min()
    assert first_seen[account_key] != first_seen[guest_key]
    older, newer = sorted([account_key, guest_key], key=lambda key: first_seen[key])
    with duckdb.connect(str(daily), read_only=True) as connection:
        now = connection.execute(
            "select distinct customer_key from restricted.customer_identifiers "
            "where (identifier_type = 'email' and identifier_value = ?) "
            "or (identifier_type = 'customer_id' and identifier_value = ?)",
            [people["guest_email"], people["merged"]],
        ).fetchall()
        merges = connection.execute(
            "select merged_customer_key, surviving_customer_key, is_merge, delivery_id from marts.customer_key_merges"
        ).fetchall()
        last_delivery = connection.execute(
            "select delivery_id from raw.deliveries order by delivery_number desc limit 1"
        ).fetchall()[0][0]
    assert now == [(older,)]
    assert (newer, older, True, last_delivery) in merges


def test_an_erasure_in_a_delivery_reaches_every_layer_and_every_history_date(replay: dict[str, object]) -> None:
    daily, people, before = replay["daily"], replay["people"], replay["before_last"]
    assert isinstance(daily, Path) and isinstance(people, dict) and isinstance(before, dict)
    customers = before["customers"]
    erased = customers[customers.primary_customer_id == people["erased"]]
    assert len(erased) == 1
    erased_key = erased.customer_key.iloc[0]
    emails = sample_sql(
        f"select distinct lower(email) from 'RAW/customers.parquet' where customer_id = '{people['erased']}'"
    )
    values = {people["erased"].lower(), *(row[0] for row in emails if row[0])}
    assert scan_for_values(daily, values) == []
    with duckdb.connect(str(daily), read_only=True) as connection:
        for table in ("customer_segments", "segment_memberships"):
            left = connection.execute(f"select count(*) from marts.{table} where customer_key = ?", [erased_key])
            assert left.fetchall() == [(0,)], table


def test_the_latest_crm_version_wins_across_deliveries(replay: dict[str, object]) -> None:
    daily, people = replay["daily"], replay["people"]
    assert isinstance(daily, Path) and isinstance(people, dict)
    with duckdb.connect(str(daily), read_only=True) as connection:
        city = connection.execute(
            "select city from staging.stg_crm__customers where customer_id = ?", [people["updated"]]
        ).fetchall()
    assert city == [("Daily Update City",)]
