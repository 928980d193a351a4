"""Feature-layer builds: the incremental daily activity model against a full refresh."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dbt_runner import SAMPLE_RAW, run_dbt, run_segments

pytestmark = pytest.mark.slow

DAILY_ACTIVITY = "select * from intermediate.int_customer_daily_activity order by customer_key, activity_date"


def read(database: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(sql).df()


def test_incremental_run_with_late_events_equals_a_full_refresh(sample_warehouse: Path, tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    shutil.copy(sample_warehouse, database)
    before = read(database, DAILY_ACTIVITY)
    latest_day = before.activity_date.max()
    late_day = latest_day - pd.Timedelta(days=2)  # inside daily_activity_lookback_days (3)
    raw = tmp_path / "raw"
    shutil.copytree(SAMPLE_RAW, raw)
    with duckdb.connect() as connection:
        # late-arriving events: copies of existing events (so of existing customers), delivered
        # after the first build and dated two days before the latest day already aggregated
        for table in ["web_events", "app_events", "email_events"]:
            connection.execute(f"""
                copy (
                    select * from '{SAMPLE_RAW / (table + ".parquet")}'
                    union all
                    select * replace (
                        event_id || '-late' as event_id,
                        timestamp '{late_day:%Y-%m-%d} 12:00:00' as occurred_at)
                    from '{SAMPLE_RAW / (table + ".parquet")}' using sample 5 percent (bernoulli, 7)
                ) to '{raw / (table + ".parquet")}' (format parquet)
            """)
    loaded = run_segments(["load", "--from", str(raw), "--database", str(database)])
    assert loaded.returncode == 0, loaded.stderr
    run_dbt(["run", "--select", "+int_customer_daily_activity"], database, tmp_path / "incremental")
    incremental = read(database, DAILY_ACTIVITY)
    run_dbt(["run", "--select", "int_customer_daily_activity", "--full-refresh"], database, tmp_path / "full")
    full = read(database, DAILY_ACTIVITY)
    # the late events changed the late day, and only through the incremental refresh
    changed = incremental.merge(before, how="left", indicator=True, on=list(before.columns))
    assert (changed._merge == "left_only").sum() > 0
    assert set(pd.to_datetime(changed[changed._merge == "left_only"].activity_date)) == {late_day}
    pd.testing.assert_frame_equal(incremental, full)
