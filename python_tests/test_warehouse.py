"""The bundled sample built with dbt: reconciliation, quarantine, RFM, history, no leakage.

Expected values are computed here from the raw files with pandas, independently of the
models; the only things taken from the warehouse are which customer each order belongs to
(identity is tested in test_identity.py) and which raw rows staging quarantined (tested
against the generator's injected defects below).
"""

from __future__ import annotations

import itertools
import shutil
from datetime import timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dbt_runner import SAMPLE_RAW, build_warehouse, run_dbt, run_segments

pytestmark = pytest.mark.slow


def read(database: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(sql).df()


def test_every_raw_row_is_accounted_for(sample_warehouse: Path) -> None:
    reconciliation = read(sample_warehouse, "select * from quarantine.stg_quarantine__reconciliation")
    raw_counts = {path.stem: len(pd.read_parquet(path)) for path in SAMPLE_RAW.glob("*.parquet")}
    for row in reconciliation.itertuples():
        assert row.raw_rows == raw_counts[row.source_table]
        assert row.raw_rows == row.staged_rows + row.quarantined_rows + row.duplicate_rows


def test_injected_defects_are_quarantined_with_their_reason(sample_warehouse: Path) -> None:
    defects = pd.read_parquet(SAMPLE_RAW / "_truth" / "defects.parquet")
    quarantined = read(
        sample_warehouse, "select source_table, raw_row_id, rejection_reason from quarantine.stg_quarantine__rows"
    )
    merged = defects.merge(
        quarantined, left_on=["table_name", "raw_row_id"], right_on=["source_table", "raw_row_id"], how="left"
    )
    expected_reason = {
        "null_key": "missing_key",
        "future_timestamp": "future_timestamp",
        "malformed_email": "malformed_email",
        "negative_total": "negative_amount",
        "orphan_order_item": "orphan_order_item",
    }
    for defect, reason in expected_reason.items():
        rows = merged[merged.defect == defect]
        assert len(rows) > 0, defect  # the bundled sample holds every kind
        # a row of an erased customer is quarantined as erased before any other check
        assert set(rows.rejection_reason) <= {reason, "erased"}, defect
    # zero totals and re-deliveries are not quarantined (unless erased)
    for defect in ("zero_total", "duplicate_delivery"):
        rows = merged[merged.defect == defect]
        assert len(rows) > 0, defect
        assert set(rows.rejection_reason.dropna()) <= {"erased"}, defect


def raw_file(table: str) -> pd.DataFrame:
    """A raw file with its 1-based file position as raw_row_id."""
    frame = pd.read_parquet(SAMPLE_RAW / f"{table}.parquet")
    frame["raw_row_id"] = range(1, len(frame) + 1)
    return frame


@pytest.mark.parametrize(
    "table, base_model, key, winner",
    [
        ("orders", "base_shop__orders", "order_id", "last"),
        ("web_events", "base_web__events", "event_id", "first"),
        ("app_events", "base_app__events", "event_id", "first"),
        ("email_events", "base_email__events", "event_id", "first"),
    ],
)
def test_redeliveries_are_flagged_as_duplicates(
    sample_warehouse: Path, table: str, base_model: str, key: str, winner: str
) -> None:
    """Of the deliveries of one key the documented winner stays (the last for an order: it has
    the latest status, the first for an event); every other accepted delivery, and nothing
    else, is flagged is_duplicate."""
    rows = raw_file(table)
    delivered_twice = rows[rows[key].notna() & rows.duplicated(key, keep=False)]
    assert len(delivered_twice) > 0
    losers = delivered_twice[delivered_twice.duplicated(key, keep="first" if winner == "first" else "last")]
    base = read(sample_warehouse, f"select raw_row_id, rejection_reason, is_duplicate from staging.{base_model}")
    accepted = base[base.rejection_reason.isna()]
    flagged = set(accepted[accepted.is_duplicate].raw_row_id)
    assert flagged == set(losers.raw_row_id) & set(accepted.raw_row_id)
    assert len(flagged) > 0
    # exactly one delivery of every accepted key is kept
    accepted_rows = rows[rows.raw_row_id.isin(accepted.raw_row_id)]
    kept = accepted_rows[~accepted_rows.raw_row_id.isin(flagged)]
    assert kept[key].is_unique and set(kept[key]) == set(accepted_rows[key])


def test_order_channels_are_normalised_and_unknown_ones_quarantined(tmp_path: Path) -> None:
    """Three clean orders of the sample get channel 'Phone', ' Store ' and null: the first is
    quarantined as unknown_channel with its lines, the others are staged as 'store' and null,
    and every raw row is still accounted for."""
    raw = tmp_path / "raw"
    shutil.copytree(SAMPLE_RAW, raw)
    orders = raw_file("orders")
    defects = pd.read_parquet(SAMPLE_RAW / "_truth" / "defects.parquet")
    erasures = pd.read_parquet(SAMPLE_RAW / "erasure_requests.parquet")
    clean = orders[
        ~orders.raw_row_id.isin(defects[defects.table_name == "orders"].raw_row_id)
        & ~orders.order_id.duplicated(keep=False)
        & ~orders.customer_id.isin(erasures.customer_id.dropna())
        & ~orders.email.isin(erasures.email.dropna())
        & orders.customer_id.notna()
    ]
    phone, store, unrecorded = clean.raw_row_id.iloc[:3]
    orders.loc[orders.raw_row_id == phone, "channel"] = "Phone"
    orders.loc[orders.raw_row_id == store, "channel"] = " Store "
    orders.loc[orders.raw_row_id == unrecorded, "channel"] = None
    orders.drop(columns="raw_row_id").to_parquet(raw / "orders.parquet", index=False)
    database = tmp_path / "warehouse.duckdb"
    loaded = run_segments(["load", "--from", str(raw), "--database", str(database)])
    assert loaded.returncode == 0, loaded.stderr
    run_dbt(["build", "--selector", "staging"], database, tmp_path)
    reasons = read(database, "select raw_row_id, rejection_reason from staging.base_shop__orders")
    reason = dict(zip(reasons.raw_row_id, reasons.rejection_reason, strict=False))
    assert reason[phone] == "unknown_channel"
    assert pd.isna(reason[store]) and pd.isna(reason[unrecorded])
    staged = read(database, "select order_id, channel from staging.stg_shop__orders")
    channel = dict(zip(staged.order_id, staged.channel, strict=False))
    order_id = dict(zip(orders.raw_row_id, orders.order_id, strict=False))
    assert order_id[phone] not in channel
    assert channel[order_id[store]] == "store" and pd.isna(channel[order_id[unrecorded]])
    items = raw_file("order_items")
    phone_lines = set(items[items.order_id == order_id[phone]].raw_row_id)
    line_reasons = read(
        database,
        "select raw_row_id, rejection_reason from quarantine.stg_quarantine__rows where source_table = 'order_items'",
    )
    assert phone_lines and phone_lines <= set(
        line_reasons[line_reasons.rejection_reason == "order_quarantined"].raw_row_id
    )
    reconciliation = read(database, "select * from quarantine.stg_quarantine__reconciliation")
    assert (
        reconciliation.raw_rows
        == reconciliation.staged_rows + reconciliation.quarantined_rows + reconciliation.duplicate_rows
    ).all()


def test_every_quarantined_row_has_a_cause(sample_warehouse: Path) -> None:
    """The reverse of the test above: no clean row is quarantined. A quarantined row is an
    injected defect, an erased row, or a line of an order that is itself bad (quarantined,
    or its order_id was nulled)."""
    defects = pd.read_parquet(SAMPLE_RAW / "_truth" / "defects.parquet")
    listed = set(zip(defects.table_name, defects.raw_row_id, strict=False))
    quarantined = read(
        sample_warehouse, "select source_table, raw_row_id, rejection_reason from quarantine.stg_quarantine__rows"
    )
    orders, items = raw_file("orders"), raw_file("order_items")
    bad_order_rows = set(defects[defects.table_name == "orders"].raw_row_id) | set(
        quarantined[(quarantined.source_table == "orders") & (quarantined.rejection_reason == "erased")].raw_row_id
    )
    bad_order_ids = set(orders[orders.raw_row_id.isin(bad_order_rows)].order_id.dropna())
    # the generator numbers orders by file position (O000000123 is row 123), so the lines of
    # an order whose order_id was nulled still name the row of that order
    nulled_order_rows = set(defects[(defects.table_name == "orders") & (defects.defect == "null_key")].raw_row_id)
    nulled_order_ids = {f"O{row:09d}" for row in nulled_order_rows}
    assert nulled_order_ids.isdisjoint(set(orders.order_id.dropna()))
    item_order = dict(zip(items.raw_row_id, items.order_id, strict=False))
    uncaused = []
    for row in quarantined.itertuples():
        if row.rejection_reason == "erased" or (row.source_table, row.raw_row_id) in listed:
            continue
        if row.source_table == "order_items":
            order_id = item_order[row.raw_row_id]
            if row.rejection_reason == "order_quarantined" and order_id in bad_order_ids:
                continue
            if row.rejection_reason == "orphan_order_item" and order_id in nulled_order_ids:
                continue
        uncaused.append(row)
    assert uncaused == []


ORDER_WINDOWS_DAYS = (30, 45, 90, 365)  # dbt_project.yml var order_windows_days


def staged_orders(raw: Path, quarantined_row_ids: set[int]) -> pd.DataFrame:
    """Raw orders as staging keeps them: accepted rows only, the last delivery of each order_id."""
    orders = pd.read_parquet(raw / "orders.parquet")
    orders["raw_row_id"] = range(1, len(orders) + 1)  # the loader's 1-based row number
    orders = orders[~orders.raw_row_id.isin(quarantined_row_ids)].copy()
    orders["order_id"] = orders.order_id.str.strip()
    orders["status"] = orders.status.str.strip().str.lower()
    return orders.sort_values("raw_row_id").drop_duplicates("order_id", keep="last")


def independent_rfm(orders: pd.DataFrame, customer_keys: pd.Index, as_of: pd.Timestamp) -> pd.DataFrame:
    """Every customer_rfm column for every customer in customer_keys, from orders (order_id,
    customer_key, ordered_at, status, order_total), with plain pandas."""
    orders = orders[orders.ordered_at < as_of + timedelta(days=1)].copy()
    orders["total"] = orders.order_total.astype(float)
    orders["order_date"] = orders.ordered_at.dt.normalize()
    qualifying = orders[(orders.status == "completed") & (orders.total > 0)]
    grouped = qualifying.groupby("customer_key")
    result = pd.DataFrame(index=customer_keys)
    result["first_order_at"] = grouped.ordered_at.min()
    result["last_order_at"] = grouped.ordered_at.max()
    result["recency_days"] = (as_of - grouped.order_date.max()).dt.days
    result["tenure_days"] = (as_of - grouped.order_date.min()).dt.days
    result["frequency"] = grouped.size()
    result["monetary"] = grouped.total.sum()
    for days in ORDER_WINDOWS_DAYS:
        window = qualifying[qualifying.order_date > as_of - timedelta(days=days)].groupby("customer_key")
        result[f"frequency_{days}d"] = window.size()
        result[f"monetary_{days}d"] = window.total.sum()
    for status in ("returned", "cancelled"):
        result[f"{status}_orders"] = orders[orders.status == status].groupby("customer_key").size()
    counts = ["frequency", "returned_orders", "cancelled_orders"] + [
        f"frequency_{days}d" for days in ORDER_WINDOWS_DAYS
    ]
    sums = ["monetary"] + [f"monetary_{days}d" for days in ORDER_WINDOWS_DAYS]
    result[counts + sums] = result[counts + sums].fillna(0)
    result["avg_order_value"] = result.monetary / result.frequency.where(result.frequency > 0)
    for days in ORDER_WINDOWS_DAYS:
        frequency = result[f"frequency_{days}d"]
        result[f"avg_order_value_{days}d"] = result[f"monetary_{days}d"] / frequency.where(frequency > 0)
    buys_or_returns = result.frequency + result.returned_orders
    result["return_rate"] = result.returned_orders / buys_or_returns.where(buys_or_returns > 0)
    return result


def test_rfm_matches_an_independent_pandas_computation(sample_warehouse: Path) -> None:
    mart = read(sample_warehouse, "select * from marts.customer_rfm").set_index("customer_key")
    order_keys = read(
        sample_warehouse,
        "select order_id, customer_key from intermediate.int_orders_attributed where customer_key is not null",
    )
    quarantined = read(
        sample_warehouse, "select raw_row_id from quarantine.stg_quarantine__rows where source_table = 'orders'"
    )
    as_of = pd.Timestamp(mart.as_of_date.iloc[0])
    orders = staged_orders(SAMPLE_RAW, set(quarantined.raw_row_id)).merge(order_keys, on="order_id")
    expected = independent_rfm(orders, mart.index, as_of)
    # every customer with an order by the as-of date has a row; the others have zero rows
    owners = set(orders[orders.ordered_at < as_of + timedelta(days=1)].customer_key)
    assert len(owners) > 1000 and owners <= set(mart.index)
    assert (expected.frequency > 0).sum() > 1000 and (expected.frequency == 0).sum() > 0
    assert (expected.frequency_30d > 0).sum() > 10 and (expected.returned_orders > 0).sum() > 10
    assert sorted(expected.columns) == sorted(set(mart.columns) - {"as_of_date"})
    for column in expected.columns:
        wanted, got = expected[column], mart[column]
        assert (wanted.isna() == got.isna()).all(), column
        wanted, got = wanted[wanted.notna()], got[wanted.notna()]
        if column.endswith("_at"):
            assert (wanted == pd.to_datetime(got)).all(), column
        elif column.startswith(("monetary", "avg_order_value")):
            # the mart rounds to cents: within half a cent of the exact value
            assert ((wanted - got.astype(float)).abs() <= 0.005 + 1e-9).all(), column
        elif column == "return_rate":
            assert ((wanted - got.astype(float)).abs() < 1e-12).all(), column
        else:
            assert (wanted.astype(int) == got.astype(int)).all(), column


def test_total_monetary_equals_qualifying_orders(sample_warehouse: Path) -> None:
    totals = read(
        sample_warehouse,
        """
        select
            (select sum(monetary) from marts.customer_rfm) as mart_total,
            (select sum(order_total) from intermediate.int_orders_attributed, intermediate.int_as_of_date
             where customer_key is not null and order_status = 'completed' and order_total > 0
               and ordered_at < as_of_date + interval 1 day) as order_total
    """,
    )
    assert totals.mart_total[0] == totals.order_total[0]


LATE_SIGN_UP_ID = "C09999999"
# what the test below compares and reads, with everything upstream (and their data tests):
# not the quality, activation, catalog and history marts
AS_OF_FEATURES = "+customer_segments +customers +restricted_customer_profiles"


def test_later_data_does_not_change_features_of_an_earlier_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the two warehouses are compared by customer_key: they share keys through the salt
    # (each warehouse has its own secret otherwise)
    monkeypatch.setenv("SEGMENTS_CUSTOMER_KEY_SALT", "shared-salt")
    as_of = "2026-03-31"
    first = build_warehouse(SAMPLE_RAW, tmp_path / "first", {"as_of_date": as_of}, select=AS_OF_FEATURES)
    later_raw = tmp_path / "later_raw"
    shutil.copytree(SAMPLE_RAW, later_raw)
    with duckdb.connect() as connection:
        # later data: a slice of existing customers' activity again, dated after everything
        # already in the sample (which itself runs to 2026-06-30, past the as-of date)
        for table, column in [("orders", "ordered_at"), ("web_events", "occurred_at"), ("email_events", "occurred_at")]:
            key = "order_id" if table == "orders" else "event_id"
            connection.execute(f"""
                copy (
                    select * from '{SAMPLE_RAW / (table + ".parquet")}'
                    union all
                    select * replace ({key} || '-late' as {key}, timestamp '2026-07-15 03:00:00' as {column})
                    from '{SAMPLE_RAW / (table + ".parquet")}' using sample 10 percent (bernoulli, 5)
                ) to '{later_raw / (table + ".parquet")}' (format parquet)
            """)
        # a late sign-up: a cookie that only browsed anonymously before the as-of date logs
        # in to a CRM account created after it; identity then attributes the old browsing
        # to the new customer, who must still not exist as of the earlier date
        cookie = connection.execute(f"""
            select anonymous_id from '{SAMPLE_RAW / "web_events.parquet"}'
            group by anonymous_id
            having count(user_id) = 0 and min(occurred_at) < date '{as_of}'
            order by anonymous_id limit 1
        """).fetchone()[0]
        connection.execute(f"""
            copy (
                select * from '{SAMPLE_RAW / "customers.parquet"}'
                union all
                (select * replace (
                    '{LATE_SIGN_UP_ID}' as customer_id, 'late.sign.up@example.org' as email,
                    null as phone, timestamp '2026-07-10 09:00:00' as created_at,
                    timestamp '2026-07-10 09:00:00' as updated_at)
                from '{SAMPLE_RAW / "customers.parquet"}' limit 1)
            ) to '{later_raw / "customers.parquet"}' (format parquet)
        """)
        connection.execute(f"""
            copy (
                select * from '{later_raw / "web_events.parquet"}'
                union all
                (select * replace (
                    'late-sign-up-' || event_type as event_id, '{cookie}' as anonymous_id,
                    '{LATE_SIGN_UP_ID}' as user_id, 'late-sign-up-session' as session_id,
                    timestamp '2026-07-10 09:05:00' as occurred_at)
                from '{SAMPLE_RAW / "web_events.parquet"}'
                where event_type = 'page_view' limit 1)
            ) to '{later_raw / "web_events.parquet"}' (format parquet)
        """)
    second = build_warehouse(later_raw, tmp_path / "second", {"as_of_date": as_of}, select=AS_OF_FEATURES)
    for mart in ["customer_rfm", "customer_engagement", "customer_recency", "customer_segments"]:
        before = read(first, f"select * from marts.{mart} order by customer_key")
        after = read(second, f"select * from marts.{mart} order by customer_key")
        assert len(before) > 0
        pd.testing.assert_frame_equal(before, after, check_exact=False, rtol=1e-12)
    assert (
        read(second, "select count(*) as n from intermediate.int_orders_attributed where order_id like '%-late'").n[0]
        > 0
    )
    # the late sign-up case is real: the new customer owns browsing from before the as-of
    # date, and its earliest identifier sighting (the cookie) is before it too
    late_sign_up = read(
        second,
        f"""
        select
            cast(customers.first_seen_date as timestamp) as first_seen_at,
            count(*) filter (where web_events.occurred_at < date '{as_of}') as events_before_as_of
        from marts.customers
        inner join restricted.restricted_customer_profiles as profiles using (customer_key)
        inner join intermediate.int_web_events_attributed as web_events using (customer_key)
        where profiles.primary_customer_id = '{LATE_SIGN_UP_ID}'
        group by customers.first_seen_date
    """,
    )
    assert len(late_sign_up) == 1
    assert late_sign_up.events_before_as_of[0] > 0
    assert late_sign_up.first_seen_at[0] < pd.Timestamp(as_of)


def test_history_is_idempotent(sample_warehouse: Path, tmp_path: Path) -> None:
    database = tmp_path / "history.duckdb"
    shutil.copy(sample_warehouse, database)
    dates = ["2026-04-30", "2026-05-31"]
    result = run_segments(["backfill", "--from", "2026-04-01", "--to", "2026-05-31", "--database", str(database)])
    assert result.returncode == 0, result.stderr
    sizes_once = read(database, "select * from marts.segment_sizes order by all")
    segments_once = read(database, "select * from marts.customer_segments order by all")
    assert sorted(str(day)[:10] for day in sizes_once.as_of_date.unique()) == sorted([*dates, "2026-06-30"])
    run_dbt(["build", "--selector", "as_of_rebuild"], database, tmp_path / "again", {"as_of_date": dates[0]})
    pd.testing.assert_frame_equal(read(database, "select * from marts.segment_sizes order by all"), sizes_once)
    pd.testing.assert_frame_equal(read(database, "select * from marts.customer_segments order by all"), segments_once)
    # The backfilled dates were built after 2026-06-30: transitions must still pair every date
    # with the previous one, counting customers on either side only ('(none)' on the other).
    history = read(database, "select as_of_date, customer_key, rfm_segment from marts.customer_segments")
    history["as_of_date"] = history.as_of_date.astype(str).str[:10]
    expected = []
    all_dates = sorted(history.as_of_date.unique())
    assert all_dates == sorted([*dates, "2026-06-30"])
    for previous, current in itertools.pairwise(all_dates):
        before = history[history.as_of_date == previous].set_index("customer_key").rfm_segment
        after = history[history.as_of_date == current].set_index("customer_key").rfm_segment
        moves = pd.concat([before.rename("from_segment"), after.rename("to_segment")], axis=1).fillna("(none)")
        counts = moves.value_counts().rename("customers").reset_index()
        counts["from_as_of_date"], counts["to_as_of_date"] = previous, current
        expected.append(counts)
    expected_transitions = pd.concat(expected)
    actual = read(database, "select * from marts.segment_transitions where segment_family = 'rfm'")
    for column in ["from_as_of_date", "to_as_of_date"]:
        actual[column] = actual[column].astype(str).str[:10]
    columns = ["from_as_of_date", "to_as_of_date", "from_segment", "to_segment", "customers"]
    pd.testing.assert_frame_equal(
        actual[columns].sort_values(columns[:4]).reset_index(drop=True),
        expected_transitions[columns].sort_values(columns[:4]).reset_index(drop=True),
        check_dtype=False,
    )


def test_orders_only_folder_builds(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(SAMPLE_RAW / "orders.parquet", raw / "orders.parquet")
    database = build_warehouse(raw, tmp_path)
    engagement = read(database, "select * from marts.customer_engagement")
    assert len(engagement) > 0
    assert (engagement.page_views_30d == 0).all() and engagement.email_open_rate.isna().all()
    assert (engagement.engagement_score == 0).all()
    assert read(database, "select count(*) as n from marts.customer_segments").n[0] == len(engagement)
