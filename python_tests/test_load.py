"""segments load: contract violations are refused atomically; valid folders load typed."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from segments.cli import main
from segments.contract import TABLES

ORDERS_HEADER = "order_id,customer_id,email,ordered_at,status,order_total,channel\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def valid_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write(folder / "orders.csv", ORDERS_HEADER
          + "o1,c1,a@b.test,2026-01-01T10:00:00+02:00,completed,10.5,web\n"
          + "o2,,Guest@B.test,2026-01-02 10:00:00,completed,-3,store\n"
          + "o3,c2,,2026-01-03 10:00:00,returned,7,app\n")
    write(folder / "customers.csv",
          "customer_id,email,phone,first_name,last_name,birth_date,gender,city,country,"
          "loyalty_tier,marketing_opt_in,created_at,updated_at\n"
          "c1,a@b.test,555,A,B,1990-01-01,f,P,FR,gold,yes,2025-01-01,2025-01-02\n"
          "c2,c@d.test,,C,D,,m,L,GB,,False,2025-01-01,\n")
    return folder


ITEMS_HEADER = "order_id,line_number,product_id,category,quantity,unit_price\n"


def write_items(folder: Path, rows: str) -> Path:
    return write(folder / "order_items.csv", ITEMS_HEADER + rows)


def write_items_parquet(folder: Path, **columns: pa.Array) -> None:
    """One order line as Parquet; columns override the valid defaults."""
    table = {
        "order_id": pa.array(["o1"]), "line_number": pa.array([1], pa.int64()),
        "product_id": pa.array(["p1"]), "category": pa.array(["home"]),
        "quantity": pa.array([1], pa.int64()),
        "unit_price": pa.array([Decimal("2.5000")], pa.decimal128(18, 4)),
    }
    pq.write_table(pa.table({**table, **columns}), folder / "order_items.parquet")


def write_orders_parquet(folder: Path, **columns: pa.Array) -> None:
    """One order as Parquet instead of orders.csv; columns override the valid defaults."""
    table = {
        "order_id": pa.array(["o1"]), "customer_id": pa.array(["c1"]), "email": pa.array([None], pa.string()),
        "ordered_at": pa.array(["2026-01-01 10:00:00"]), "status": pa.array(["completed"]),
        "order_total": pa.array([Decimal("10.00")], pa.decimal128(18, 2)), "channel": pa.array(["web"]),
    }
    (folder / "orders.csv").unlink()
    pq.write_table(pa.table({**table, **columns}), folder / "orders.parquet")


def write_customers_parquet(folder: Path, **columns: pa.Array) -> None:
    """One CRM account as Parquet instead of customers.csv; columns override the defaults."""
    text = {name: pa.array([None], pa.string()) for name in (
        "email", "phone", "first_name", "last_name", "gender", "city", "country", "loyalty_tier")}
    table = {
        "customer_id": pa.array(["c1"]), **text, "birth_date": pa.array([date(1990, 1, 1)]),
        "marketing_opt_in": pa.array([True]), "created_at": pa.array(["2025-01-01"]),
        "updated_at": pa.array(["2025-01-01"]),
    }
    (folder / "customers.csv").unlink()
    pq.write_table(pa.table({**table, **columns}), folder / "customers.parquet")


def fingerprint(database: Path) -> dict[str, tuple[int, str]]:
    """Row count and a content hash of every raw table."""
    with duckdb.connect(str(database), read_only=True) as connection:
        tables = [row[0] for row in connection.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'"
        ).fetchall()]
        result = {}
        for table in sorted(tables):
            rows = connection.execute(
                f"select * exclude (_loaded_at) from raw.{table} order by all"
                if table != "load_manifest" else f"select * from raw.{table} order by all"
            ).fetchall()
            result[table] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
        return result


def load(folder: Path, database: Path) -> int:
    return main(["load", "--from", str(folder), "--database", str(database)])


def test_valid_folder_loads_with_types_lineage_and_empty_optional_tables(tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    assert load(valid_folder(tmp_path / "raw"), database) == 0
    with duckdb.connect(str(database), read_only=True) as connection:
        orders = connection.execute(
            "select order_id, ordered_at, order_total, _raw_row_id, _source_file from raw.orders order by _raw_row_id"
        ).fetchall()
        assert [row[0] for row in orders] == ["o1", "o2", "o3"]
        assert str(orders[0][1]) == "2026-01-01 08:00:00"  # +02:00 converted to UTC
        assert str(orders[1][2]) == "-3.00"  # negative totals load; staging quarantines them
        assert [row[3] for row in orders] == [1, 2, 3]
        assert orders[0][4] == "orders.csv"
        opt_in = connection.execute(
            "select customer_id, marketing_opt_in from raw.customers order by 1"
        ).fetchall()
        assert opt_in == [("c1", True), ("c2", False)]
        for table in TABLES:
            columns = [row[0] for row in connection.execute(f"describe raw.{table.name}").fetchall()]
            assert columns == table.column_names + ["_raw_row_id", "_source_file", "_loaded_at"]
        assert connection.execute("select count(*) from raw.web_events").fetchall()[0][0] == 0
        manifest = dict(connection.execute(
            "select table_name, row_count from raw.load_manifest"
        ).fetchall())
        assert manifest["orders"] == 3 and manifest["customers"] == 2 and manifest["app_events"] == 0


def test_parquet_row_ids_follow_file_order(tmp_path: Path) -> None:
    folder = tmp_path / "raw"
    folder.mkdir()
    order_ids = [f"o{index:05d}" for index in range(5000, 0, -1)]  # deliberately not sorted
    pq.write_table(pa.table({
        "order_id": order_ids, "customer_id": ["c"] * 5000, "email": [None] * 5000,
        "ordered_at": ["2026-01-01 00:00:00"] * 5000, "status": ["completed"] * 5000,
        "order_total": [1.0] * 5000, "channel": ["web"] * 5000,
    }), folder / "orders.parquet", row_group_size=700)
    database = tmp_path / "warehouse.duckdb"
    assert load(folder, database) == 0
    with duckdb.connect(str(database), read_only=True) as connection:
        loaded = connection.execute("select order_id from raw.orders order by _raw_row_id").fetchall()
    assert [row[0] for row in loaded] == order_ids


def test_reload_replaces_instead_of_appending(tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    folder = valid_folder(tmp_path / "raw")
    assert load(folder, database) == 0
    assert load(folder, database) == 0
    with duckdb.connect(str(database), read_only=True) as connection:
        assert connection.execute("select count(*) from raw.orders").fetchall()[0][0] == 3


def loaded_numbers(database: Path) -> tuple[list[tuple], list[tuple]]:
    """Order totals and order-line numbers as loaded, in file order (decimals as text)."""
    with duckdb.connect(str(database), read_only=True) as connection:
        totals = connection.execute(
            "select cast(order_total as varchar) from raw.orders order by _raw_row_id").fetchall()
        items = connection.execute(
            "select line_number, quantity, cast(unit_price as varchar) from raw.order_items "
            "order by _raw_row_id").fetchall()
    return totals, items


def test_csv_numbers_that_are_exact_in_their_type_load_unchanged(tmp_path: Path) -> None:
    """Trailing zeros, a sign and blanks around a numeral change no value: accepted."""
    folder = valid_folder(tmp_path / "raw")
    write(folder / "orders.csv", ORDERS_HEADER
          + "o1,c1,,2026-01-01,completed, 10.50 ,web\n"
          + "o2,c1,,2026-01-01,completed,+7.000,web\n"
          + "o3,c1,,2026-01-01,completed,.25,web\n"
          + "o4,c1,,2026-01-01,completed,,web\n")
    write_items(folder, "o1,1,p1,home,2.0,0.0001\no1,02,p2,home,+3,19.990000\n")
    write(folder / "customers.csv", (folder / "customers.csv").read_text().replace(
        "1990-01-01", "1990-01-01 00:00:00"))
    database = tmp_path / "warehouse.duckdb"
    assert load(folder, database) == 0
    totals, items = loaded_numbers(database)
    assert [row[0] for row in totals] == ["10.50", "7.00", "0.25", None]
    assert items == [(1, 2, "0.0001"), (2, 3, "19.9900")]
    with duckdb.connect(str(database), read_only=True) as connection:
        birth_dates = connection.execute("select birth_date from raw.customers order by 1").fetchall()
    assert birth_dates == [(date(1990, 1, 1),), (None,)]


def test_parquet_numbers_that_are_exact_in_their_type_load_unchanged(tmp_path: Path) -> None:
    """Parquet numbers of other types load when their value fits the column exactly; a float
    within float representation error of a decimal (a float sum) counts as that decimal."""
    folder = valid_folder(tmp_path / "raw")
    write_items_parquet(
        folder,
        order_id=pa.array(["o1", "o1", "o2"]),
        line_number=pa.array([1.0, 2.0, 1.0], pa.float64()),
        product_id=pa.array(["p1", "p2", "p3"]), category=pa.array(["home"] * 3),
        quantity=pa.array([1, 2, 30000], pa.int16()),
        unit_price=pa.array([19.99, 0.0001, 5.0], pa.float64()),
    )
    write_orders_parquet(
        folder,
        order_id=pa.array(["o1", "o2", "o3"]), customer_id=pa.array(["c1"] * 3),
        email=pa.array([None] * 3, pa.string()), ordered_at=pa.array(["2026-01-01"] * 3),
        status=pa.array(["completed"] * 3), channel=pa.array(["web"] * 3),
        # 0.1 + 0.2 is 0.30000000000000004 in float64
        order_total=pa.array([0.1 + 0.2, 1e6 + 0.01, 12.0], pa.float64()),
    )
    write_customers_parquet(
        folder, birth_date=pa.array([datetime(1990, 1, 2)], pa.timestamp("us")))
    database = tmp_path / "warehouse.duckdb"
    assert load(folder, database) == 0
    totals, items = loaded_numbers(database)
    with duckdb.connect(str(database), read_only=True) as connection:
        birth_date = connection.execute("select birth_date from raw.customers").fetchall()
    assert [row[0] for row in totals] == ["0.30", "1000000.01", "12.00"]
    assert items == [(1, 1, "19.9900"), (2, 2, "0.0001"), (1, 30000, "5.0000")]
    assert birth_date == [(date(1990, 1, 2),)]


BAD_FOLDERS = {
    "unknown file": (lambda folder: write(folder / "notes.txt", "hello"), ["notes.txt", "unknown file"]),
    "two files for one table": (
        lambda folder: write(folder / "orders.parquet", ""), ["orders.parquet", "already given by orders.csv"]),
    "missing orders": (lambda folder: (folder / "orders.csv").unlink(), ["orders", "required table is missing"]),
    "missing column": (
        lambda folder: write(folder / "orders.csv", ORDERS_HEADER.replace(",channel", "") + "o1,c1,,2026-01-01,completed,1\n"),
        ["orders.csv", "column channel is missing"]),
    "unreadable csv value": (
        lambda folder: write(folder / "orders.csv", ORDERS_HEADER + "o1,c1,,not a date,completed,1,web\n"),
        ["orders.csv", "column ordered_at", "1 value(s) cannot be read as timestamp", "row 1", "not a date"]),
    "unreadable parquet value": (
        lambda folder: pq.write_table(pa.table({
            "customer_id": ["c1"], "email": ["a@b.test"], "phone": [None], "first_name": [None],
            "last_name": [None], "birth_date": ["yesterday"], "gender": [None], "city": [None],
            "country": [None], "loyalty_tier": [None], "marketing_opt_in": [None],
            "created_at": ["2025-01-01"], "updated_at": ["2025-01-01"],
        }), (folder / "customers.csv").unlink() or folder / "customers.parquet"),
        ["customers.parquet", "column birth_date", "cannot be read as date", "yesterday"]),
    # A value is refused rather than rounded: every fraction below is visible to the eye.
    "fractional csv quantity": (
        lambda folder: write_items(folder, "o1,1,p1,home,1.5,2.50\n"),
        ["order_items.csv", "column quantity", "cannot be read as bigint", "a whole number",
         "row 1", "'1.5'"]),
    "fractional csv quantity with blanks": (
        lambda folder: write_items(folder, "o1,1,p1,home,2,2.50\no1,2,p2,home, 2.5,2.50\n"),
        ["order_items.csv", "column quantity", "1 value(s)", "row 2", "' 2.5'"]),
    "fractional csv line number": (
        lambda folder: write_items(folder, "o1,1.7,p1,home,1,2.50\n"),
        ["order_items.csv", "column line_number", "row 1", "'1.7'"]),
    "csv total with three decimals": (
        lambda folder: write(folder / "orders.csv", ORDERS_HEADER + "o1,c1,,2026-01-01,completed,10.005,web\n"),
        ["orders.csv", "column order_total", "cannot be read as decimal(18, 2)",
         "at most 2 decimal places", "row 1", "'10.005'"]),
    "csv price with five decimals": (
        lambda folder: write_items(folder, "o1,1,p1,home,1,2.123456\n"),
        ["order_items.csv", "column unit_price", "at most 4 decimal places", "'2.123456'"]),
    "csv number in another notation": (
        lambda folder: write_items(folder, "o1,1,p1,home,1e1,2.50\n"),
        ["order_items.csv", "column quantity", "'1e1'"]),
    "fractional parquet quantity": (
        lambda folder: write_items_parquet(folder, quantity=pa.array([1.5], pa.float64())),
        ["order_items.parquet", "column quantity", "row 1", "1.5"]),
    "fractional parquet line number": (
        lambda folder: write_items_parquet(folder, line_number=pa.array([1.7], pa.float64())),
        ["order_items.parquet", "column line_number", "1.7"]),
    "parquet decimal price with five places": (
        lambda folder: write_items_parquet(
            folder, unit_price=pa.array([Decimal("2.12345")], pa.decimal128(10, 5))),
        ["order_items.parquet", "column unit_price", "2.12345"]),
    "parquet double total with three places": (
        lambda folder: write_orders_parquet(folder, order_total=pa.array([10.005], pa.float64())),
        ["orders.parquet", "column order_total", "10.005"]),
    "parquet double total a tenth of a cent off": (
        lambda folder: write_orders_parquet(folder, order_total=pa.array([1e6 + 0.001], pa.float64())),
        ["orders.parquet", "column order_total", "1000000.001"]),
    "parquet boolean quantity": (
        lambda folder: write_items_parquet(folder, quantity=pa.array([True], pa.bool_())),
        ["order_items.parquet", "column quantity", "cannot be read as bigint", "true"]),
    "parquet boolean total": (
        lambda folder: write_orders_parquet(folder, order_total=pa.array([True], pa.bool_())),
        ["orders.parquet", "column order_total", "cannot be read as decimal(18, 2)"]),
    "parquet timestamp birth date with a time of day": (
        lambda folder: write_customers_parquet(
            folder, birth_date=pa.array([datetime(1990, 1, 1, 12, 30)], pa.timestamp("us"))),
        ["customers.parquet", "column birth_date", "cannot be read as date"]),
    "csv birth date with a time of day": (
        lambda folder: write(folder / "customers.csv", (folder / "customers.csv").read_text().replace(
            "1990-01-01", "1990-01-01 12:30:00")),
        ["customers.csv", "column birth_date", "cannot be read as date", "row 1", "'1990-01-01 12:30:00'"]),
    "folder named after a table": (
        lambda folder: (folder / "web_events").mkdir(),
        ["web_events/", "folders are not read", "web_events.parquet or web_events.csv"]),
    "spark-style parquet folder": (
        lambda folder: (folder / "app_events.parquet").mkdir(),
        ["app_events.parquet/", "folders are not read"]),
}


@pytest.mark.parametrize("case", list(BAD_FOLDERS))
@pytest.mark.parametrize("warehouse_exists", [False, True])
def test_contract_violation_is_refused_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, warehouse_exists: bool
) -> None:
    database = tmp_path / "warehouse.duckdb"
    if warehouse_exists:
        assert load(valid_folder(tmp_path / "previous"), database) == 0
        before = fingerprint(database)
    capsys.readouterr()
    folder = valid_folder(tmp_path / "raw")
    break_folder, expected_fragments = BAD_FOLDERS[case]
    break_folder(folder)
    assert load(folder, database) != 0
    message = capsys.readouterr().err
    for fragment in expected_fragments:
        assert fragment in message, message
    if warehouse_exists:
        assert fingerprint(database) == before
    else:
        assert not database.exists()


def test_missing_folder_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert load(tmp_path / "nowhere", tmp_path / "warehouse.duckdb") == 2
    assert "does not exist" in capsys.readouterr().err
