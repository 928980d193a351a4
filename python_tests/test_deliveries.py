"""segments load --append: a delivery is added atomically, stamped, and never loaded twice."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from segments.cli import main
from test_load import ORDERS_HEADER, fingerprint, load, valid_folder, write


def append(folder: Path, database: Path) -> int:
    return main(["load", "--append", "--from", str(folder), "--database", str(database)])


def expected_delivery_id(files: dict[str, Path]) -> str:
    """The documented id, computed here from the bytes: SHA-256 over "table<TAB>sha256\\n" by table."""
    lines = "".join(f"{table}\t{hashlib.sha256(files[table].read_bytes()).hexdigest()}\n" for table in sorted(files))
    return hashlib.sha256(lines.encode()).hexdigest()


def second_day(folder: Path) -> Path:
    """A delivery of orders only: one new order and o1 again with a new status."""
    folder.mkdir(parents=True, exist_ok=True)
    write(
        folder / "orders.csv",
        ORDERS_HEADER
        + "o4,c1,a@b.test,2026-01-04 10:00:00,completed,4,web\n"
        + "o1,c1,a@b.test,2026-01-01T10:00:00+02:00,returned,10.5,web\n",
    )
    return folder


def query(database: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_append_adds_one_stamped_delivery_after_the_first(tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    first = valid_folder(tmp_path / "day1")
    assert load(first, database) == 0
    day2 = second_day(tmp_path / "day2")
    assert append(day2, database) == 0
    first_id = expected_delivery_id({"orders": first / "orders.csv", "customers": first / "customers.csv"})
    second_id = expected_delivery_id({"orders": day2 / "orders.csv"})
    orders = query(database, "select order_id, status, _raw_row_id, _delivery_id from raw.orders order by _raw_row_id")
    # the appended rows continue the row ids after the first delivery's, in file order
    assert [(row[0], row[1], row[2]) for row in orders] == [
        ("o1", "completed", 1),
        ("o2", "completed", 2),
        ("o3", "returned", 3),
        ("o4", "completed", 4),
        ("o1", "returned", 5),
    ]
    assert [row[3] for row in orders] == [first_id] * 3 + [second_id] * 2
    # tables the delivery does not hold are untouched
    assert query(database, "select count(*), min(_delivery_id) from raw.customers") == [(2, first_id)]
    loaded_at = dict(query(database, "select _delivery_id, max(_loaded_at) from raw.orders group by 1"))
    assert loaded_at[second_id] > loaded_at[first_id]
    deliveries = query(
        database,
        "select delivery_id, delivery_number, table_name, source_file, file_sha256, row_count, loaded_at "
        "from raw.deliveries order by delivery_number, table_name",
    )
    assert [row[:6] for row in deliveries] == [
        (
            first_id,
            1,
            "customers",
            "customers.csv",
            hashlib.sha256((first / "customers.csv").read_bytes()).hexdigest(),
            2,
        ),
        (first_id, 1, "orders", "orders.csv", hashlib.sha256((first / "orders.csv").read_bytes()).hexdigest(), 3),
        (second_id, 2, "orders", "orders.csv", hashlib.sha256((day2 / "orders.csv").read_bytes()).hexdigest(), 2),
    ]
    assert deliveries[2][6] == loaded_at[second_id]
    manifest = {
        row[0]: row[1:] for row in query(database, "select table_name, row_count, delivery_id from raw.load_manifest")
    }
    assert manifest["orders"] == (5, second_id) and manifest["customers"] == (2, second_id)


def test_the_same_delivery_again_is_refused_in_one_line_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "warehouse.duckdb"
    assert load(valid_folder(tmp_path / "day1"), database) == 0
    assert append(second_day(tmp_path / "day2"), database) == 0
    before = fingerprint(database)
    capsys.readouterr()
    # the same files in another folder are the same delivery
    assert append(second_day(tmp_path / "day2-copy"), database) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "already loaded" in error and "Traceback" not in error
    assert fingerprint(database) == before
    # the first delivery appended again is refused too (it is recorded by the plain load)
    assert append(valid_folder(tmp_path / "day1-again"), database) == 2
    assert fingerprint(database) == before


def test_a_plain_load_replaces_every_delivery_with_its_own(tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    assert load(valid_folder(tmp_path / "day1"), database) == 0
    assert append(second_day(tmp_path / "day2"), database) == 0
    assert load(valid_folder(tmp_path / "day1"), database) == 0
    assert query(database, "select count(*), max(_raw_row_id) from raw.orders") == [(3, 3)]
    assert query(database, "select count(distinct delivery_id), max(delivery_number) from raw.deliveries") == [(1, 1)]
    # so the second day may be appended again
    assert append(second_day(tmp_path / "day2"), database) == 0


def test_append_refuses_a_contract_violation_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "warehouse.duckdb"
    assert load(valid_folder(tmp_path / "day1"), database) == 0
    before = fingerprint(database)
    bad = second_day(tmp_path / "bad")
    write(bad / "orders.csv", ORDERS_HEADER + "o9,c1,,2026-01-05 10:00:00,completed,1.005,web\n")
    capsys.readouterr()
    assert append(bad, database) == 2
    assert "order_total" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert append(empty, database) == 2
    assert "no table file" in capsys.readouterr().err
    assert fingerprint(database) == before


def test_append_into_a_new_warehouse_creates_every_raw_table(tmp_path: Path) -> None:
    """The first delivery of a feed may be appended too, and need not hold orders."""
    database = tmp_path / "warehouse.duckdb"
    folder = valid_folder(tmp_path / "day1")
    (folder / "orders.csv").unlink()
    assert append(folder, database) == 0
    assert query(database, "select count(*) from raw.orders") == [(0,)]
    assert query(database, "select count(*), min(_raw_row_id), max(_raw_row_id) from raw.customers") == [(2, 1, 2)]
    assert query(database, "select count(*) from restricted.customer_key_secret") == [(1,)]


def test_append_refuses_raw_tables_without_delivery_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    database = tmp_path / "warehouse.duckdb"
    assert load(valid_folder(tmp_path / "day1"), database) == 0
    with duckdb.connect(str(database)) as connection:  # what an older loader wrote
        connection.execute("alter table raw.orders drop column _delivery_id")
    capsys.readouterr()
    assert append(second_day(tmp_path / "day2"), database) == 2
    assert "plain segments load" in capsys.readouterr().err
