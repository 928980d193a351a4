"""segments generate: deterministic, follows the contract, injects documented defects."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import duckdb
import pytest

from segments.cli import main
from segments.contract import TABLES
from segments.generate import DEFECT_RATES, Settings, generate

CUSTOMERS = 5000


def digest(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*.parquet"))
    }


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("generated")
    assert main(["generate", "--customers", str(CUSTOMERS), "--seed", "7", "--out", str(folder)]) == 0
    return folder


def query(sql: str) -> list[tuple]:
    return duckdb.sql(sql).fetchall()


def test_same_seed_same_bytes_other_seed_other_data(generated: Path, tmp_path: Path) -> None:
    again, other = tmp_path / "again", tmp_path / "other"
    assert main(["generate", "--customers", str(CUSTOMERS), "--seed", "7", "--out", str(again)]) == 0
    assert main(["generate", "--customers", str(CUSTOMERS), "--seed", "8", "--out", str(other)]) == 0
    assert digest(again) == digest(generated)
    assert digest(other)["orders.parquet"] != digest(generated)["orders.parquet"]


def test_files_follow_the_contract(generated: Path) -> None:
    for table in TABLES:
        described = query(f"describe select * from '{generated / (table.name + '.parquet')}'")
        assert [row[0] for row in described] == table.column_names
        types = {row[0]: row[1].lower().replace(" ", "") for row in described}
        for column, contract_type in table.columns:
            assert types[column] == contract_type.replace(" ", "").replace("bigint", "bigint"), (table.name, column)


def test_documented_defect_rates_hold(generated: Path) -> None:
    # Rates are measured on the files themselves, independently of defects.parquet.
    rows = {table.name: query(f"select count(*) from '{generated / (table.name + '.parquet')}'")[0][0] for table in TABLES}
    measured = {
        ("orders", "null_key"): query(f"select count(*) from '{generated}/orders.parquet' where order_id is null")[0][0],
        ("orders", "negative_total"): query(f"select count(*) from '{generated}/orders.parquet' where order_total < 0")[0][0],
        ("orders", "malformed_email"): query(f"select count(*) from '{generated}/orders.parquet' where email like '%(at)%'")[0][0],
        ("web_events", "null_key"): query(f"select count(*) from '{generated}/web_events.parquet' where event_id is null")[0][0],
        ("web_events", "future_timestamp"): query(f"select count(*) from '{generated}/web_events.parquet' where occurred_at > timestamp '2030-01-01'")[0][0],
        ("email_events", "duplicate_delivery"): query(
            f"select count(*) - count(distinct event_id) from '{generated}/email_events.parquet' where event_id is not null")[0][0],
        ("order_items", "orphan_order_item"): query(f"select count(*) from '{generated}/order_items.parquet' where order_id like 'O-MISSING-%'")[0][0],
    }
    for (table, defect), count in measured.items():
        rate = DEFECT_RATES[(table, defect)]
        expected = rate * rows[table]
        # binomial: allow four standard deviations
        tolerance = 4 * (expected * (1 - rate)) ** 0.5 + 1
        assert abs(count - expected) <= tolerance, (table, defect, count, expected)
        assert count > 0, (table, defect)


def test_defects_file_matches_the_rows(generated: Path) -> None:
    null_orders = query(
        f"""select d.raw_row_id from '{generated}/_truth/defects.parquet' as d
        where d.table_name = 'orders' and d.defect = 'null_key' order by 1"""
    )
    in_file = query(
        f"""select file_row_number + 1 from read_parquet('{generated}/orders.parquet', file_row_number = true)
        where order_id is null order by 1"""
    )
    assert null_orders == in_file and null_orders


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
    shared_devices = query(f"select count(distinct identifier_value) from {truth} where identifier_type = 'device_id' and is_shared")[0][0]
    duplicate_accounts = query(
        f"select count(*) from (select person_id from {truth} where identifier_type = 'customer_id' group by 1 having count(*) > 1)")[0][0]
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
