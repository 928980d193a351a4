"""segments generate: deterministic, follows the contract, injects documented defects."""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pytest
import yaml

from segments.cli import main
from segments.contract import TABLES
from segments.generate import DEFECT_RATES, Settings, generate
from segments.generation import vocabulary

CUSTOMERS = 4500  # four blocks of 1,000 customers and half a block
END_DATE = date(2026, 6, 30)  # the generator's default, given explicitly so the test can use it


def digest(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*.parquet"))
    }


def generate_folder(folder: Path, customers: int, seed: int) -> Path:
    """Run segments generate into folder (the default window, ending on END_DATE)."""
    arguments = ["generate", "--customers", str(customers), "--seed", str(seed)]
    assert main([*arguments, "--end-date", END_DATE.isoformat(), "--out", str(folder)]) == 0
    return folder


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_folder(tmp_path_factory.mktemp("generated"), CUSTOMERS, seed=7)


# Large enough that the rarest rate (0.1% of orders, about 90 rows here) is measured to within
# about 45% (four standard deviations), where the 5,000-customer sample would allow 100%.
RATE_CUSTOMERS = 40_000


@pytest.fixture(scope="module")
def rate_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_folder(tmp_path_factory.mktemp("rate_sample"), RATE_CUSTOMERS, seed=11)


def query(sql: str) -> list[tuple]:
    return duckdb.sql(sql).fetchall()


def test_same_seed_same_bytes_whatever_the_chunk_size_other_seed_other_data(
    generated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The fixture is one chunk (the default chunk is larger than CUSTOMERS). Chunks of 2,000
    customers (the last one of 500, half a block) and of 777 (rounded up to blocks of 1,000:
    five chunks) give byte-identical files, ground truth included; another seed does not."""
    capsys.readouterr()
    for chunk, chunks in ((2000, 3), (777, 5)):
        again = tmp_path / f"chunks_of_{chunk}"
        arguments = ["generate", "--customers", str(CUSTOMERS), "--seed", "7", "--chunk-customers", str(chunk)]
        assert main([*arguments, "--out", str(again)]) == 0
        progress = capsys.readouterr().err
        assert f"chunk {chunks}/{chunks}:" in progress and f"chunk {chunks + 1}/" not in progress
        assert digest(again) == digest(generated), chunk
    other = tmp_path / "other"
    assert main(["generate", "--customers", str(CUSTOMERS), "--seed", "8", "--out", str(other)]) == 0
    assert digest(other)["orders.parquet"] != digest(generated)["orders.parquet"]


def test_the_plant_treats_the_people_whose_first_customer_id_draws_outside_the_holdout(tmp_path: Path) -> None:
    """With UPLIFT 1 every treated person gets exactly one extra order: the people who gain one
    over the same simulation without the plant are exactly those whose lowest customer_id in
    the written ground truth (their first account: a block numbers its holders' accounts
    before its duplicates) draws at or above the holdout share, in every block of the chunk.
    The plant draws per block: one chunk of three blocks and three of one give the same bytes."""
    from segments.generation.blocks import Counters, simulate_chunk
    from segments.generation.plant import PlantedLift, holdout_draw
    from segments.generation.settings import day_weights

    plant = PlantedLift("lifecycle", "active", date(2026, 5, 1), 1.0, 0.5, "salt")
    planted = Settings(3000, 5, END_DATE, 730, None, 1.0, plant, 1000)
    cumulative = np.cumsum(day_weights(planted))
    with_plant, _ = simulate_chunk(planted, cumulative, [0, 1, 2], Counters())
    without, _ = simulate_chunk(replace(planted, plant_lift=None), cumulative, [0, 1, 2], Counters())
    extra = np.bincount(with_plant.orders.person, minlength=3000) - np.bincount(without.orders.person, minlength=3000)
    assert set(np.unique(extra)) == {0, 1}
    generate(planted, tmp_path / "raw")
    generate(replace(planted, chunk_customers=3000), tmp_path / "one_chunk")
    assert digest(tmp_path / "one_chunk") == digest(tmp_path / "raw")
    first_ids = query(
        "select person_id, min(identifier_value) from "
        f"'{tmp_path / 'raw' / '_truth' / 'identifiers.parquet'}' where identifier_type = 'customer_id' group by 1"
    )
    treated = {
        int(person[1:]) - 1 for person, first in first_ids if holdout_draw("salt", "lifecycle", "active", first) >= 0.5
    }
    assert set(np.flatnonzero(extra).tolist()) == treated
    assert {person // 1000 for person in treated} == {0, 1, 2}


def test_ids_are_unique_across_blocks_and_chunks(generated: Path) -> None:
    """Every id of a table is distinct apart from the documented re-deliveries (and CRM
    versions sharing their account's customer_id), so numbering runs on across blocks."""
    redelivered = dict(
        query(
            f"select table_name, count(*) from '{generated}/_truth/defects.parquet' "
            "where defect = 'duplicate_delivery' group by all"
        )
    )
    for table, key in (("orders", "order_id"), ("web_events", "event_id"), ("app_events", "event_id")):
        keyed, distinct = query(f"select count({key}), count(distinct {key}) from '{generated}/{table}.parquet'")[0]
        assert keyed - distinct == redelivered[table], table
    accounts = query(f"select count(distinct customer_id) from '{generated}/customers.parquet'")[0][0]
    truth = query(
        f"select count(*), count(distinct identifier_value) from '{generated}/_truth/identifiers.parquet' "
        "where identifier_type = 'customer_id'"
    )[0]
    # one true person per account, and every account of the file (null keys aside) in the truth
    assert truth[0] == truth[1] >= accounts > CUSTOMERS * 0.8 * 0.95


def test_files_follow_the_contract(generated: Path) -> None:
    for table in TABLES:
        described = query(f"describe select * from '{generated / (table.name + '.parquet')}'")
        assert [row[0] for row in described] == table.column_names
        types = {row[0]: row[1].lower().replace(" ", "") for row in described}
        for column, contract_type in table.columns:
            assert types[column] == contract_type.replace(" ", ""), (table.name, column)


# How each kind of bad row shows in a written file, as a where clause (duplicates are counted
# separately). Written from the defect descriptions in docs/generator.md, not from the generator.
KEY_COLUMNS = {
    "customers": "customer_id",
    "orders": "order_id",
    "order_items": "order_id",
    "web_events": "event_id",
    "app_events": "event_id",
    "email_events": "event_id",
}
TIMESTAMP_COLUMNS = {
    "orders": "ordered_at",
    "web_events": "occurred_at",
    "app_events": "occurred_at",
    "email_events": "occurred_at",
}
# Every generated timestamp lies within the history, so anything after its last day is future.
END_OF_HISTORY = END_DATE + timedelta(days=1)


def defect_condition(table: str, defect: str) -> str:
    if defect == "null_key":
        return f"{KEY_COLUMNS[table]} is null"
    if defect == "malformed_email":
        return "email is not null and not regexp_full_match(lower(trim(email)), '[^@\\s]+@[^@\\s]+\\.[^@\\s.]+')"
    if defect == "future_timestamp":
        return f"{TIMESTAMP_COLUMNS[table]} >= timestamp '{END_OF_HISTORY}'"
    if defect == "zero_total":
        return "order_total = 0"
    if defect == "negative_total":
        return "order_total < 0"
    if defect == "orphan_order_item":
        return "order_id like 'O-MISSING-%'"
    raise AssertionError(f"no measurement for defect {defect} of {table}: add one")


def test_every_documented_defect_rate_holds(rate_sample: Path) -> None:
    """Each (table, defect) of DEFECT_RATES is counted in the file itself and compared with its
    rate; the count must also equal the rows _truth/defects.parquet lists for it."""
    listed = {
        (table, defect): count
        for table, defect, count in query(
            f"select table_name, defect, count(*) from '{rate_sample}/_truth/defects.parquet' group by all"
        )
    }
    for (table, defect), rate in DEFECT_RATES.items():
        path = f"'{rate_sample}/{table}.parquet'"
        written, distinct_keys, keyed = query(
            f"select count(*), count(distinct {KEY_COLUMNS[table]}), count({KEY_COLUMNS[table]}) from {path}"
        )[0]
        if defect == "duplicate_delivery":
            count = keyed - distinct_keys  # every delivery after the first of a key
            assert table != "customers"  # CRM versions share a customer_id by design
        else:
            count = query(f"select count(*) from {path} where {defect_condition(table, defect)}")[0][0]
        # the rate is a share of the rows before re-deliveries were appended
        redelivered = keyed - distinct_keys if (table, "duplicate_delivery") in DEFECT_RATES else 0
        rows = written - redelivered
        expected = rate * rows
        # Each row is bad with probability rate, independently: the count is binomial(rows,
        # rate). Four standard deviations (plus one for rounding) fail a correct generator with
        # probability about 6e-5 per rate, 1e-3 for all twenty; the seed is fixed anyway.
        tolerance = 4 * (expected * (1 - rate)) ** 0.5 + 1
        assert expected >= 50, (table, defect, expected, "sample too small to measure this rate")
        assert abs(count - expected) <= tolerance, (table, defect, count, expected, tolerance)
        assert count == listed.get((table, defect), 0), (table, defect, count, listed.get((table, defect)))


def test_defects_file_matches_the_rows(generated: Path) -> None:
    """The file rows _truth/defects.parquet names are exactly the rows with a null key, and
    exactly the rows whose key was already delivered at an earlier row (late rows and
    re-deliveries sit at the end of the file, so this checks their row numbers too)."""
    for table, key in KEY_COLUMNS.items():
        rows = f"read_parquet('{generated}/{table}.parquet', file_row_number = true)"
        listed = {
            defect: [
                row
                for (row,) in query(
                    f"select raw_row_id from '{generated}/_truth/defects.parquet' "
                    f"where table_name = '{table}' and defect = '{defect}' order by 1"
                )
            ]
            for defect in ("null_key", "duplicate_delivery")
        }
        null_rows = query(f"select file_row_number + 1 from {rows} where {key} is null order by 1")
        assert listed["null_key"] == [row for (row,) in null_rows] and null_rows, table
        if (table, "duplicate_delivery") not in DEFECT_RATES:
            continue  # CRM versions share a customer_id, order lines an order_id, by design
        again = query(f"""select file_row_number + 1 from (
            select file_row_number, row_number() over (partition by {key} order by file_row_number) as delivery
            from {rows} where {key} is not null) where delivery > 1 order by 1""")
        assert listed["duplicate_delivery"] == [row for (row,) in again] and again, table


def test_ground_truth_covers_every_identifier(generated: Path) -> None:
    truth = f"'{generated}/_truth/identifiers.parquet'"
    missing = query(f"""
        with seen as (
            select 'customer_id' as identifier_type, customer_id as identifier_value from '{generated}/customers.parquet'
            union select 'customer_id', user_id from '{generated}/web_events.parquet'
            union select 'anonymous_id', anonymous_id from '{generated}/web_events.parquet'
            union select 'device_id', device_id from '{generated}/app_events.parquet'
            union select 'email', lower(trim(email)) from '{generated}/orders.parquet' where email not like '%(at)%'
            union select 'phone', regexp_replace(phone, '[^0-9]', '', 'g') from '{generated}/customers.parquet'
        )
        select count(*) from seen
        where identifier_value is not null
          and (identifier_type, identifier_value) not in (select (identifier_type, identifier_value) from {truth})
    """)[0][0]
    assert missing == 0
    shared_devices = query(
        f"select count(distinct identifier_value) from {truth} where identifier_type = 'device_id' and is_shared"
    )[0][0]
    duplicate_accounts = query(
        f"select count(*) from (select person_id from {truth} where identifier_type = 'customer_id' group by 1 having count(*) > 1)"
    )[0][0]
    variants = query(f"select count(*) from '{generated}/customers.parquet' where email != lower(trim(email))")[0][0]
    assert shared_devices > 0 and duplicate_accounts > 0 and variants > 0


def test_shift_reduces_purchases_after_the_shift_date(tmp_path: Path) -> None:
    base = Settings(3000, 3, date(2026, 6, 30), 730, None, 1.0)
    shifted = Settings(3000, 3, date(2026, 6, 30), 730, date(2026, 1, 1), 0.5)
    generate(base, tmp_path / "base")
    generate(shifted, tmp_path / "shifted")

    def counts(folder: Path) -> tuple[int, int]:
        return query(f"""select count(*) filter (where ordered_at < '2026-01-01'),
            count(*) filter (where ordered_at >= '2026-01-01' and ordered_at < '2027-01-01')
            from '{folder}/orders.parquet'""")[0]

    before_base, after_base = counts(tmp_path / "base")
    before_shift, after_shift = counts(tmp_path / "shifted")
    # the same people order before the shift; only the random defects drawn on top differ
    assert abs(before_shift - before_base) <= 0.01 * before_base
    assert 0.4 < after_shift / after_base < 0.6


def test_dates_follow_the_end_date(tmp_path: Path) -> None:
    """With another --end-date, erasure requests and birth dates move with it: requests fall in
    the last 180 days of history, and every customer is 18 or older 180 days before the end."""
    end = date(2024, 3, 31)
    assert (
        main(
            [
                "generate",
                "--customers",
                "3000",
                "--seed",
                "5",
                "--end-date",
                end.isoformat(),
                "--days",
                "400",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    first_request, last_request, requests = query(
        f"select min(requested_at), max(requested_at), count(*) from '{tmp_path}/erasure_requests.parquet'"
    )[0]
    assert requests > 0
    assert first_request.date() >= end - timedelta(days=180) and last_request.date() <= end
    oldest, youngest = query(f"select min(birth_date), max(birth_date) from '{tmp_path}/customers.parquet'")[0]
    anchor = end - timedelta(days=180)
    # ages 18 to 80 at the anchor, counted in years of 365 days
    assert anchor - timedelta(days=80 * 365) <= oldest and youngest <= anchor - timedelta(days=18 * 365)
    latest_order = query(
        f"select max(ordered_at) from '{tmp_path}/orders.parquet' where ordered_at < timestamp '{end + timedelta(days=365)}'"
    )[0][0]
    assert latest_order.date() <= end


# --- volume, buyers and the population before the window -----------------------------------
# The generator's default window (730 days to 2026-06-30) is the 24 full months from July 2024.
LEVEL_CUSTOMERS = 20_000
WINDOW_START = date(2024, 7, 1)
PEAK_MONTHS = (11, 12)  # docs/generator.md: November and December weigh 1.8 times a normal day


@pytest.fixture(scope="module")
def level_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_folder(tmp_path_factory.mktemp("level_sample"), LEVEL_CUSTOMERS, seed=1)


def daily_orders_by_month(folder: Path) -> list[tuple[date, float]]:
    """(month, orders per day) of each month, over distinct order ids within the history."""
    rows = query(f"""
        with orders as (
            select distinct order_id, ordered_at from '{folder}/orders.parquet'
            where order_id is not null and ordered_at < timestamp '{END_OF_HISTORY}'
        )
        select cast(date_trunc('month', ordered_at) as date) as month, count(*) as orders
        from orders group by 1 order by 1""")
    # orders per day of the month (a month's length is the days to the next month's first)
    return [
        (month, orders / ((month.replace(day=28) + timedelta(days=4)).replace(day=1) - month).days)
        for month, orders in rows
    ]


def test_monthly_order_volume_is_level_apart_from_seasonality(level_sample: Path) -> None:
    months = daily_orders_by_month(level_sample)
    assert months[0][0] == WINDOW_START and len(months) == 24
    first, last = months[0][1], months[-1][1]
    assert 0.7 <= last / first <= 1.4, (first, last)
    # outside the peak season, a least-squares line through log daily orders grows less than
    # 10% a year either way
    normal = [(index, rate) for index, (month, rate) in enumerate(months) if month.month not in PEAK_MONTHS]
    mean_x = sum(x for x, _ in normal) / len(normal)
    mean_y = sum(math.log(y) for _, y in normal) / len(normal)
    slope = sum((x - mean_x) * (math.log(y) - mean_y) for x, y in normal) / sum((x - mean_x) ** 2 for x, _ in normal)
    assert abs(math.exp(12 * slope) - 1) < 0.10, math.exp(12 * slope)
    # the peak season stands out by about its weight
    peak = [rate for month, rate in months if month.month in PEAK_MONTHS]
    assert 1.5 <= (sum(peak) / len(peak)) / (sum(y for _, y in normal) / len(normal)) <= 2.1


def orders_per_person(folder: Path) -> list[int]:
    """Distinct orders of each person who ordered, people found from the orders' customer_id or
    email through the ground truth (shared and placeholder identifiers left out)."""
    return [
        count
        for (count,) in query(f"""
        with truth as (
            select identifier_type, identifier_value, person_id from '{folder}/_truth/identifiers.parquet'
            where not is_shared and not is_placeholder
        ),
        orders as (
            select distinct order_id, customer_id, lower(trim(email)) as email from '{folder}/orders.parquet'
            where order_id is not null
        ),
        owned as (
            select orders.order_id, coalesce(by_id.person_id, by_email.person_id) as person_id
            from orders
            left join truth as by_id on by_id.identifier_type = 'customer_id' and by_id.identifier_value = orders.customer_id
            left join truth as by_email on by_email.identifier_type = 'email' and by_email.identifier_value = orders.email
        )
        select count(distinct order_id) from owned where person_id is not null group by person_id""")
    ]


def test_orders_per_buyer_and_one_time_share_stay_on_target(level_sample: Path) -> None:
    """docs/generator.md: buyers average 2.84 orders (within 5%) and 43% order once (within 3
    points), the figures of the generator before volume was made level."""
    counts = orders_per_person(level_sample)
    assert len(counts) > 0.6 * LEVEL_CUSTOMERS
    mean = sum(counts) / len(counts)
    one_time = sum(1 for count in counts if count == 1) / len(counts)
    assert abs(mean / 2.84 - 1) <= 0.05, mean
    assert abs(one_time - 0.43) <= 0.03, one_time


def test_a_share_of_people_signed_up_before_the_window(level_sample: Path) -> None:
    """With steady arrivals and exponential lifetimes of mean 420 days (docs/generator.md), the
    share of people active in a 730-day window who signed up before it is 420 / (420 + 730);
    measured on each person's earliest CRM account."""
    expected = 420 / (420 + 730)
    before, people = query(f"""
        with accounts as (
            select truth.person_id, min(customers.created_at) as created_at
            from '{level_sample}/customers.parquet' as customers
            inner join '{level_sample}/_truth/identifiers.parquet' as truth
                on truth.identifier_type = 'customer_id' and truth.identifier_value = customers.customer_id
            group by 1
        )
        select count(*) filter (where created_at < timestamp '{WINDOW_START}'), count(*) from accounts""")[0]
    assert abs(before / people - expected) <= 0.03, before / people
    # and they order in the first month of the window as everyone else does
    early = query(f"""select count(distinct orders.order_id) from '{level_sample}/orders.parquet' as orders
        inner join '{level_sample}/customers.parquet' as customers using (customer_id)
        where customers.created_at < timestamp '{WINDOW_START}' and orders.ordered_at < timestamp '{WINDOW_START + timedelta(days=31)}'""")[
        0
    ][0]
    assert early > 0


def test_enumerations_are_the_ones_staging_accepts() -> None:
    """The generator's enumerations are the dbt vars staging checks values against."""
    project = yaml.safe_load((Path(__file__).parents[1] / "dbt_project.yml").read_text())["vars"]
    assert list(vocabulary.ORDER_STATUSES) == project["order_statuses"]
    assert list(vocabulary.ORDER_CHANNELS) == project["order_channels"]
    assert list(vocabulary.WEB_EVENT_TYPES) == project["web_event_types"]
    assert list(vocabulary.APP_EVENT_NAMES) == project["app_event_names"]
    assert list(vocabulary.EMAIL_EVENT_TYPES) == project["email_event_types"]


def test_a_negative_seed_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--customers", "10", "--seed", "-1", "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == ["segments generate: error: --seed must not be negative"]
    assert not (tmp_path / "out").exists()


def test_daily_deliveries_are_the_same_rows_as_one_folder_split_by_arrival_day(
    generated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--deliveries daily: the history, then one folder per day; over all folders, exactly the
    rows of the single folder (the same seed), each delivered on its day or up to
    --max-late-days after it, never before (a row dated after the last day, a clock defect,
    comes with the last day); order lines with their order's first delivery; the truth once."""
    feed = tmp_path / "feed"
    max_late = 2
    arguments = ["generate", "--customers", str(CUSTOMERS), "--seed", "7", "--end-date", END_DATE.isoformat()]
    daily = ["--deliveries", "daily", "--delivery-days", "3", "--late-share", "0.2", "--max-late-days", str(max_late)]
    assert main([*arguments, *daily, "--out", str(feed)]) == 0
    days = [END_DATE - timedelta(days=offset) for offset in (3, 2, 1, 0)]
    assert sorted(path.name for path in feed.iterdir()) == [day.isoformat() for day in days] + ["_truth"]
    assert digest(feed / "_truth") == digest(generated / "_truth")
    since = days[1]
    arrival_time = {
        "web_events": "occurred_at",
        "app_events": "occurred_at",
        "email_events": "occurred_at",
        "orders": "ordered_at",
        "erasure_requests": "requested_at",
    }
    late_rows = 0
    with duckdb.connect(":memory:") as connection:
        connection.execute("set TimeZone = 'UTC'")
        for table in TABLES:
            single = f"read_parquet('{generated / (table.name + '.parquet')}')"
            parts = [
                f"select *, date '{day}' as delivered_on from read_parquet('{path}')"
                for day in days
                if (path := feed / day.isoformat() / f"{table.name}.parquet").exists()
            ]
            connection.execute(f"create table {table.name}_feed as {' union all '.join(parts)}")
            delivered = f"select * exclude (delivered_on) from {table.name}_feed"
            for left, right in ((f"select * from {single}", delivered), (delivered, f"select * from {single}")):
                assert connection.execute(f"select count(*) from ({left} except all {right})").fetchall() == [(0,)], (
                    table.name
                )
            if table.name not in arrival_time:
                continue
            happened = f"cast({arrival_time[table.name]} as date)"
            bounds = connection.execute(
                f"select count(*) filter (where delivered_on > date '{days[0]}' and delivered_on < date '{END_DATE}' "
                f"and {happened} > delivered_on), "
                f"count(*) filter (where delivered_on > date '{days[0]}' and {happened} < delivered_on - {max_late}), "
                f"count(*) filter (where delivered_on = date '{days[0]}' and {happened} >= date '{since}'), "
                f"count(*) filter (where delivered_on > date '{days[0]}' and {happened} < delivered_on) "
                f"from {table.name}_feed"
            ).fetchall()[0]
            assert bounds[:3] == (0, 0, 0), (table.name, bounds)
            late_rows += bounds[3]
        # every order line arrives with its order's first delivery
        assert connection.execute(
            "select count(*) from order_items_feed as items left join "
            "(select order_id, min(delivered_on) as first_on from orders_feed group by order_id) as orders "
            "on items.order_id = orders.order_id "
            "where items.delivered_on is distinct from coalesce(orders.first_on, date '" + str(days[0]) + "')"
        ).fetchall() == [(0,)]
    assert late_rows > 0
    assert f"{END_DATE.isoformat()}:" in capsys.readouterr().out


def test_daily_deliveries_refuse_csv_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arguments = ["generate", "--customers", "10", "--out", str(tmp_path / "feed"), "--format", "csv"]
    assert main([*arguments, "--deliveries", "daily"]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
