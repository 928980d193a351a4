"""The bundled sample built with dbt: reconciliation, quarantine, RFM, history, no leakage.

Expected values are computed here from the raw files with pandas, independently of the
models; the only thing taken from the warehouse is which customer each order belongs to
(identity is tested in test_identity.py).
"""

from __future__ import annotations

import json
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
    raw_counts = {
        path.stem: len(pd.read_parquet(path)) for path in SAMPLE_RAW.glob("*.parquet")
    }
    for row in reconciliation.itertuples():
        assert row.raw_rows == raw_counts[row.source_table]
        assert row.raw_rows == row.staged_rows + row.quarantined_rows + row.duplicate_rows


def test_injected_defects_are_quarantined_with_their_reason(sample_warehouse: Path) -> None:
    defects = pd.read_parquet(SAMPLE_RAW / "_truth" / "defects.parquet")
    quarantined = read(sample_warehouse, "select source_table, raw_row_id, rejection_reason from quarantine.stg_quarantine__rows")
    merged = defects.merge(quarantined, left_on=["table_name", "raw_row_id"],
                           right_on=["source_table", "raw_row_id"], how="left")
    expected_reason = {
        "null_key": "missing_key", "future_timestamp": "future_timestamp",
        "malformed_email": "malformed_email", "negative_total": "negative_amount",
        "orphan_order_item": "orphan_order_item",
    }
    for defect, reason in expected_reason.items():
        rows = merged[merged.defect == defect]
        assert len(rows) > 0 or defect == "negative_total"
        # a row of an erased customer is quarantined as erased before any other check
        assert set(rows.rejection_reason) <= {reason, "erased"}, defect
    redelivered = merged[merged.defect == "duplicate_delivery"]
    assert redelivered.rejection_reason.isin([None, "erased"]).all() or redelivered.rejection_reason.isna().all()


def independent_rfm(raw: Path, order_keys: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    orders = pd.read_parquet(raw / "orders.parquet")
    orders["file_row"] = range(len(orders))
    orders = orders.sort_values("file_row").drop_duplicates("order_id", keep="last")
    orders = orders.merge(order_keys, on="order_id")  # staged orders with their customer
    orders["status"] = orders.status.str.strip().str.lower()
    orders = orders[orders.ordered_at < as_of + timedelta(days=1)]
    qualifying = orders[(orders.status == "completed") & (orders.order_total.astype(float) > 0)].copy()
    qualifying["order_date"] = qualifying.ordered_at.dt.normalize()
    qualifying["total"] = qualifying.order_total.astype(float)
    grouped = qualifying.groupby("customer_key")
    result = pd.DataFrame({
        "frequency": grouped.size(),
        "monetary": grouped.total.sum().round(2),
        "recency_days": (as_of - grouped.order_date.max()).dt.days,
    })
    for days in (30, 90, 365):
        window = qualifying[qualifying.order_date > as_of - timedelta(days=days)]
        result[f"frequency_{days}d"] = window.groupby("customer_key").size()
        result[f"monetary_{days}d"] = window.groupby("customer_key").total.sum().round(2)
    result["returned_orders"] = orders[orders.status == "returned"].groupby("customer_key").size()
    return result.fillna({column: 0 for column in result.columns if column != "recency_days"})


def test_rfm_matches_an_independent_pandas_computation(sample_warehouse: Path) -> None:
    mart = read(sample_warehouse, "select * from marts.customer_rfm").set_index("customer_key")
    order_keys = read(sample_warehouse, "select order_id, customer_key from intermediate.int_orders_attributed where customer_key is not null")
    as_of = pd.Timestamp(mart.as_of_date.iloc[0])
    expected = independent_rfm(SAMPLE_RAW, order_keys, as_of)
    assert len(expected) > 1000
    buyers = mart[mart.frequency > 0]
    assert set(buyers.index) == set(expected.index)
    joined = expected.join(mart.add_suffix("_mart"))
    for column in ["frequency", "recency_days", "frequency_30d", "frequency_90d", "frequency_365d", "returned_orders"]:
        assert (joined[column].astype(int) == joined[f"{column}_mart"].astype(int)).all(), column
    for column in ["monetary", "monetary_30d", "monetary_90d", "monetary_365d"]:
        assert ((joined[column] - joined[f"{column}_mart"].astype(float)).abs() < 0.005).all(), column
    non_buyers = mart[mart.frequency == 0]
    assert (non_buyers.monetary == 0).all() and non_buyers.recency_days.isna().all()


def test_total_monetary_equals_qualifying_orders(sample_warehouse: Path) -> None:
    totals = read(sample_warehouse, """
        select
            (select sum(monetary) from marts.customer_rfm) as mart_total,
            (select sum(order_total) from intermediate.int_orders_attributed, intermediate.int_as_of_date
             where customer_key is not null and order_status = 'completed' and order_total > 0
               and ordered_at < as_of_date + interval 1 day) as order_total
    """)
    assert totals.mart_total[0] == totals.order_total[0]


def test_later_data_does_not_change_features_of_an_earlier_date(tmp_path: Path) -> None:
    as_of = "2026-03-31"
    first = build_warehouse(SAMPLE_RAW, tmp_path / "first", {"as_of_date": as_of})
    later_raw = tmp_path / "later_raw"
    shutil.copytree(SAMPLE_RAW, later_raw)
    with duckdb.connect() as connection:
        # later data: a slice of existing customers' activity again, dated after everything
        # already in the sample (which itself runs to 2026-06-30, past the as-of date)
        for table, column in [("orders", "ordered_at"), ("web_events", "occurred_at"), ("email_events", "occurred_at")]:
            key = "order_id" if table == "orders" else "event_id"
            connection.execute(f"""
                copy (
                    select * from '{SAMPLE_RAW / (table + '.parquet')}'
                    union all
                    select * replace ({key} || '-late' as {key}, timestamp '2026-07-15 03:00:00' as {column})
                    from '{SAMPLE_RAW / (table + '.parquet')}' using sample 10 percent (bernoulli, 5)
                ) to '{later_raw / (table + '.parquet')}' (format parquet)
            """)
    second = build_warehouse(later_raw, tmp_path / "second", {"as_of_date": as_of})
    for mart in ["customer_rfm", "customer_engagement", "customer_recency", "customer_segments"]:
        before = read(first, f"select * from marts.{mart} order by customer_key")
        after = read(second, f"select * from marts.{mart} order by customer_key")
        assert len(before) > 0
        pd.testing.assert_frame_equal(before, after, check_exact=False, rtol=1e-12)
    assert read(second, "select count(*) as n from intermediate.int_orders_attributed where order_id like '%-late'").n[0] > 0


def test_history_is_idempotent(sample_warehouse: Path, tmp_path: Path) -> None:
    database = tmp_path / "history.duckdb"
    shutil.copy(sample_warehouse, database)
    dates = ["2026-04-30", "2026-05-31"]
    result = run_segments(["backfill", "--from", "2026-04-01", "--to", "2026-05-31", "--database", str(database)])
    assert result.returncode == 0, result.stderr
    sizes_once = read(database, "select * from marts.segment_sizes order by all")
    segments_once = read(database, "select * from marts.customer_segments order by all")
    assert sorted(str(day)[:10] for day in sizes_once.as_of_date.unique()) == sorted(dates + ["2026-06-30"])
    run_dbt(["build", "--select", "int_as_of_date+"], database, tmp_path / "again", {"as_of_date": dates[0]})
    pd.testing.assert_frame_equal(read(database, "select * from marts.segment_sizes order by all"), sizes_once)
    pd.testing.assert_frame_equal(read(database, "select * from marts.customer_segments order by all"), segments_once)
    # The backfilled dates were built after 2026-06-30: transitions must still pair every date
    # with the previous one, counting customers on either side only ('(none)' on the other).
    history = read(database, "select as_of_date, customer_key, rfm_segment from marts.customer_segments")
    history["as_of_date"] = history.as_of_date.astype(str).str[:10]
    expected = []
    all_dates = sorted(history.as_of_date.unique())
    assert all_dates == sorted(dates + ["2026-06-30"])
    for previous, current in zip(all_dates, all_dates[1:]):
        before = history[history.as_of_date == previous].set_index("customer_key").rfm_segment
        after = history[history.as_of_date == current].set_index("customer_key").rfm_segment
        moves = pd.concat([before.rename("from_segment"), after.rename("to_segment")], axis=1).fillna("(none)")
        counts = moves.value_counts().rename("customers").reset_index()
        counts["from_as_of_date"], counts["to_as_of_date"] = previous, current
        expected.append(counts)
    expected_transitions = pd.concat(expected)
    actual = read(database, "select * from marts.segment_transitions")
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
