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
    write(
        folder / "orders.csv",
        ORDERS_HEADER
        + "o1,c1,a@b.test,2026-01-01T10:00:00+02:00,completed,10.5,web\n"
        + "o2,,Guest@B.test,2026-01-02 10:00:00,completed,-3,store\n"
        + "o3,c2,,2026-01-03 10:00:00,returned,7,app\n",
    )
    write(
        folder / "customers.csv",
        "customer_id,email,phone,first_name,last_name,birth_date,gender,city,country,"
        "loyalty_tier,marketing_opt_in,created_at,updated_at\n"
        "c1,a@b.test,555,A,B,1990-01-01,f,P,FR,gold,yes,2025-01-01,2025-01-02\n"
        "c2,c@d.test,,C,D,,m,L,GB,,False,2025-01-01,\n",
    )
    return folder


ITEMS_HEADER = "order_id,line_number,product_id,category,quantity,unit_price\n"


def write_items(folder: Path, rows: str) -> Path:
    return write(folder / "order_items.csv", ITEMS_HEADER + rows)


def write_items_parquet(folder: Path, **columns: pa.Array) -> None:
    """One order line as Parquet; columns override the valid defaults."""
    table = {
        "order_id": pa.array(["o1"]),
        "line_number": pa.array([1], pa.int64()),
        "product_id": pa.array(["p1"]),
        "category": pa.array(["home"]),
        "quantity": pa.array([1], pa.int64()),
        "unit_price": pa.array([Decimal("2.5000")], pa.decimal128(18, 4)),
    }
    pq.write_table(pa.table({**table, **columns}), folder / "order_items.parquet")


def write_orders_parquet(folder: Path, **columns: pa.Array) -> None:
    """One order as Parquet instead of orders.csv; columns override the valid defaults."""
    table = {
        "order_id": pa.array(["o1"]),
        "customer_id": pa.array(["c1"]),
        "email": pa.array([None], pa.string()),
        "ordered_at": pa.array(["2026-01-01 10:00:00"]),
        "status": pa.array(["completed"]),
        "order_total": pa.array([Decimal("10.00")], pa.decimal128(18, 2)),
        "channel": pa.array(["web"]),
    }
    (folder / "orders.csv").unlink()
    pq.write_table(pa.table({**table, **columns}), folder / "orders.parquet")


def write_customers_parquet(folder: Path, **columns: pa.Array) -> None:
    """One CRM account as Parquet instead of customers.csv; columns override the defaults."""
    text = {
        name: pa.array([None], pa.string())
        for name in ("email", "phone", "first_name", "last_name", "gender", "city", "country", "loyalty_tier")
    }
    table = {
        "customer_id": pa.array(["c1"]),
        **text,
        "birth_date": pa.array([date(1990, 1, 1)]),
        "marketing_opt_in": pa.array([True]),
        "created_at": pa.array(["2025-01-01"]),
        "updated_at": pa.array(["2025-01-01"]),
    }
    (folder / "customers.csv").unlink()
    pq.write_table(pa.table({**table, **columns}), folder / "customers.parquet")


def fingerprint(database: Path) -> dict[str, tuple[int, str]]:
    """Row count and a content hash of every raw table."""
    with duckdb.connect(str(database), read_only=True) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "select table_name from information_schema.tables where table_schema = 'raw'"
            ).fetchall()
        ]
        result = {}
        for table in sorted(tables):
            rows = connection.execute(
                f"select * exclude (_loaded_at) from raw.{table} order by all"
                if table not in ("load_manifest", "deliveries")
                else f"select * from raw.{table} order by all"
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
        opt_in = connection.execute("select customer_id, marketing_opt_in from raw.customers order by 1").fetchall()
        assert opt_in == [("c1", True), ("c2", False)]
        for table in TABLES:
            columns = [row[0] for row in connection.execute(f"describe raw.{table.name}").fetchall()]
            assert columns == [*table.column_names, "_raw_row_id", "_source_file", "_loaded_at", "_delivery_id"]
        assert connection.execute("select count(*) from raw.web_events").fetchall()[0][0] == 0
        manifest = dict(connection.execute("select table_name, row_count from raw.load_manifest").fetchall())
        assert manifest["orders"] == 3 and manifest["customers"] == 2 and manifest["app_events"] == 0


def test_parquet_row_ids_follow_file_order(tmp_path: Path) -> None:
    folder = tmp_path / "raw"
    folder.mkdir()
    order_ids = [f"o{index:05d}" for index in range(5000, 0, -1)]  # deliberately not sorted
    pq.write_table(
        pa.table(
            {
                "order_id": order_ids,
                "customer_id": ["c"] * 5000,
                "email": [None] * 5000,
                "ordered_at": ["2026-01-01 00:00:00"] * 5000,
                "status": ["completed"] * 5000,
                "order_total": [1.0] * 5000,
                "channel": ["web"] * 5000,
            }
        ),
        folder / "orders.parquet",
        row_group_size=700,
    )
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
            "select cast(order_total as varchar) from raw.orders order by _raw_row_id"
        ).fetchall()
        items = connection.execute(
            "select line_number, quantity, cast(unit_price as varchar) from raw.order_items order by _raw_row_id"
        ).fetchall()
    return totals, items


def test_csv_numbers_that_are_exact_in_their_type_load_unchanged(tmp_path: Path) -> None:
    """Trailing zeros, a sign and blanks around a numeral change no value: accepted."""
    folder = valid_folder(tmp_path / "raw")
    write(
        folder / "orders.csv",
        ORDERS_HEADER
        + "o1,c1,,2026-01-01,completed, 10.50 ,web\n"
        + "o2,c1,,2026-01-01,completed,+7.000,web\n"
        + "o3,c1,,2026-01-01,completed,.25,web\n"
        + "o4,c1,,2026-01-01,completed,,web\n",
    )
    write_items(folder, "o1,1,p1,home,2.0,0.0001\no1,02,p2,home,+3,19.990000\n")
    write(folder / "customers.csv", (folder / "customers.csv").read_text().replace("1990-01-01", "1990-01-01 00:00:00"))
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
        product_id=pa.array(["p1", "p2", "p3"]),
        category=pa.array(["home"] * 3),
        quantity=pa.array([1, 2, 30000], pa.int16()),
        unit_price=pa.array([19.99, 0.0001, 5.0], pa.float64()),
    )
    write_orders_parquet(
        folder,
        order_id=pa.array(["o1", "o2", "o3"]),
        customer_id=pa.array(["c1"] * 3),
        email=pa.array([None] * 3, pa.string()),
        ordered_at=pa.array(["2026-01-01"] * 3),
        status=pa.array(["completed"] * 3),
        channel=pa.array(["web"] * 3),
        # 0.1 + 0.2 is 0.30000000000000004 in float64
        order_total=pa.array([0.1 + 0.2, 1e6 + 0.01, 12.0], pa.float64()),
    )
    write_customers_parquet(folder, birth_date=pa.array([datetime(1990, 1, 2)], pa.timestamp("us")))
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
        lambda folder: write(folder / "orders.parquet", ""),
        ["orders.parquet", "already given by orders.csv"],
    ),
    "missing orders": (lambda folder: (folder / "orders.csv").unlink(), ["orders", "required table is missing"]),
    "missing column": (
        lambda folder: write(
            folder / "orders.csv", ORDERS_HEADER.replace(",channel", "") + "o1,c1,,2026-01-01,completed,1\n"
        ),
        ["orders.csv", "column channel is missing"],
    ),
    "unreadable csv value": (
        lambda folder: write(folder / "orders.csv", ORDERS_HEADER + "o1,c1,,not a date,completed,1,web\n"),
        ["orders.csv", "column ordered_at", "1 value(s) cannot be read as timestamp", "row 1", "not a date"],
    ),
    "unreadable parquet value": (
        lambda folder: pq.write_table(
            pa.table(
                {
                    "customer_id": ["c1"],
                    "email": ["a@b.test"],
                    "phone": [None],
                    "first_name": [None],
                    "last_name": [None],
                    "birth_date": ["yesterday"],
                    "gender": [None],
                    "city": [None],
                    "country": [None],
                    "loyalty_tier": [None],
                    "marketing_opt_in": [None],
                    "created_at": ["2025-01-01"],
                    "updated_at": ["2025-01-01"],
                }
            ),
            (folder / "customers.csv").unlink() or folder / "customers.parquet",
        ),
        ["customers.parquet", "column birth_date", "cannot be read as date", "yesterday"],
    ),
    # A value is refused rather than rounded: every fraction below is visible to the eye.
    "fractional csv quantity": (
        lambda folder: write_items(folder, "o1,1,p1,home,1.5,2.50\n"),
        ["order_items.csv", "column quantity", "cannot be read as bigint", "a whole number", "row 1", "'1.5'"],
    ),
    "fractional csv quantity with blanks": (
        lambda folder: write_items(folder, "o1,1,p1,home,2,2.50\no1,2,p2,home, 2.5,2.50\n"),
        ["order_items.csv", "column quantity", "1 value(s)", "row 2", "' 2.5'"],
    ),
    "fractional csv line number": (
        lambda folder: write_items(folder, "o1,1.7,p1,home,1,2.50\n"),
        ["order_items.csv", "column line_number", "row 1", "'1.7'"],
    ),
    "csv total with three decimals": (
        lambda folder: write(folder / "orders.csv", ORDERS_HEADER + "o1,c1,,2026-01-01,completed,10.005,web\n"),
        [
            "orders.csv",
            "column order_total",
            "cannot be read as decimal(18, 2)",
            "at most 2 decimal places",
            "row 1",
            "'10.005'",
        ],
    ),
    "csv price with five decimals": (
        lambda folder: write_items(folder, "o1,1,p1,home,1,2.123456\n"),
        ["order_items.csv", "column unit_price", "at most 4 decimal places", "'2.123456'"],
    ),
    "csv number in another notation": (
        lambda folder: write_items(folder, "o1,1,p1,home,1e1,2.50\n"),
        ["order_items.csv", "column quantity", "'1e1'"],
    ),
    "fractional parquet quantity": (
        lambda folder: write_items_parquet(folder, quantity=pa.array([1.5], pa.float64())),
        ["order_items.parquet", "column quantity", "row 1", "1.5"],
    ),
    "fractional parquet line number": (
        lambda folder: write_items_parquet(folder, line_number=pa.array([1.7], pa.float64())),
        ["order_items.parquet", "column line_number", "1.7"],
    ),
    "parquet decimal price with five places": (
        lambda folder: write_items_parquet(folder, unit_price=pa.array([Decimal("2.12345")], pa.decimal128(10, 5))),
        ["order_items.parquet", "column unit_price", "2.12345"],
    ),
    "parquet double total with three places": (
        lambda folder: write_orders_parquet(folder, order_total=pa.array([10.005], pa.float64())),
        ["orders.parquet", "column order_total", "10.005"],
    ),
    "parquet double total a tenth of a cent off": (
        lambda folder: write_orders_parquet(folder, order_total=pa.array([1e6 + 0.001], pa.float64())),
        ["orders.parquet", "column order_total", "1000000.001"],
    ),
    "parquet boolean quantity": (
        lambda folder: write_items_parquet(folder, quantity=pa.array([True], pa.bool_())),
        ["order_items.parquet", "column quantity", "cannot be read as bigint", "true"],
    ),
    "parquet boolean total": (
        lambda folder: write_orders_parquet(folder, order_total=pa.array([True], pa.bool_())),
        ["orders.parquet", "column order_total", "cannot be read as decimal(18, 2)"],
    ),
    "parquet timestamp birth date with a time of day": (
        lambda folder: write_customers_parquet(
            folder, birth_date=pa.array([datetime(1990, 1, 1, 12, 30)], pa.timestamp("us"))
        ),
        ["customers.parquet", "column birth_date", "cannot be read as date"],
    ),
    "csv birth date with a time of day": (
        lambda folder: write(
            folder / "customers.csv",
            (folder / "customers.csv").read_text().replace("1990-01-01", "1990-01-01 12:30:00"),
        ),
        ["customers.csv", "column birth_date", "cannot be read as date", "row 1", "'1990-01-01 12:30:00'"],
    ),
    "folder named after a table": (
        lambda folder: (folder / "web_events").mkdir(),
        ["web_events/", "folders are not read", "web_events.parquet or web_events.csv"],
    ),
    "spark-style parquet folder": (
        lambda folder: (folder / "app_events.parquet").mkdir(),
        ["app_events.parquet/", "folders are not read"],
    ),
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


# --- Issue 9 section 4: the loader refuses what is not a value -------------------------------

ORDER_ROW = "o1,c1,a@b.test,2026-01-01 10:00:00,completed,10.5,web\n"


def refused(folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Load folder over a previous valid load: exit 2, warehouse unchanged; the stderr."""
    database = tmp_path / "warehouse.duckdb"
    assert load(valid_folder(tmp_path / "previous"), database) == 0
    before = fingerprint(database)
    capsys.readouterr()
    assert load(folder, database) == 2
    message = capsys.readouterr().err
    assert "Traceback" not in message
    assert fingerprint(database) == before
    return message


SPECIAL_TIMESTAMP_TEXT = [
    "infinity",
    "-infinity",
    "epoch",
    "now",
    "today",
    "yesterday",
    "tomorrow",
    "allballs",
    " Infinity ",
    "0000-01-01",
    "0000-01-01 10:00:00",
    "-0001-01-01",
    "1899-12-31 23:59:59",
    "10000-01-01",
    "2026-01-01 10:00:00 BC",
    "2026-01-01 10:00:00.1234567",
]


@pytest.mark.parametrize("value", SPECIAL_TIMESTAMP_TEXT)
def test_csv_special_or_out_of_range_timestamp_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    """DuckDB's special words, years outside 1900..9999 and sub-microsecond digits are not
    timestamps of the contract, in a timestamp column and in a date column."""
    folder = valid_folder(tmp_path / "raw")
    write(folder / "orders.csv", ORDERS_HEADER + ORDER_ROW.replace("2026-01-01 10:00:00", value))
    write(
        folder / "customers.csv",
        (folder / "customers.csv").read_text().replace("1990-01-01", value.replace(" 10:00:00", "")),
    )
    message = refused(folder, tmp_path, capsys)
    for fragment in (
        "orders.csv: column ordered_at",
        "cannot be read as timestamp",
        "row 1",
        repr(value),
        "customers.csv: column birth_date",
        "cannot be read as date",
    ):
        assert fragment in message, message


PARQUET_TIMESTAMPS = {
    "infinity": pa.array([2**63 - 1], pa.timestamp("us")),
    "-infinity": pa.array([-(2**63 - 1)], pa.timestamp("us")),
    "millisecond infinity": pa.array([2**63 - 1], pa.timestamp("ms")),
    "zoned infinity": pa.array([2**63 - 1], pa.timestamp("us", tz="UTC")),
    "year 1": pa.array([datetime(1, 1, 1)], pa.timestamp("us")),
    "year 1800": pa.array([datetime(1800, 1, 1)], pa.timestamp("us")),
    "nanoseconds": pa.array([1_767_261_600_000_000_001], pa.timestamp("ns")),
    "zoned nanoseconds": pa.array([1_767_261_600_000_000_500], pa.timestamp("ns", tz="UTC")),
    "text infinity": pa.array(["infinity"]),
    "text epoch": pa.array(["epoch"]),
}


@pytest.mark.parametrize("case", list(PARQUET_TIMESTAMPS))
def test_parquet_special_or_inexact_timestamp_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    folder = valid_folder(tmp_path / "raw")
    write_orders_parquet(folder, ordered_at=PARQUET_TIMESTAMPS[case])
    message = refused(folder, tmp_path, capsys)
    for fragment in ("orders.parquet: column ordered_at", "cannot be read as timestamp", "row 1"):
        assert fragment in message, message


@pytest.mark.parametrize(
    "birth_date",
    [
        pa.array([2**31 - 1], pa.date32()),
        pa.array([-(2**31 - 1)], pa.date32()),
        pa.array([date(1, 1, 1)], pa.date32()),
        pa.array([2**63 - 1], pa.timestamp("us")),
    ],
    ids=["infinity", "-infinity", "year 1", "timestamp infinity"],
)
def test_parquet_special_date_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], birth_date: pa.Array
) -> None:
    folder = valid_folder(tmp_path / "raw")
    write_customers_parquet(folder, birth_date=birth_date)
    message = refused(folder, tmp_path, capsys)
    assert "customers.parquet: column birth_date" in message and "cannot be read as date" in message


def test_exact_timestamps_at_the_range_edges_load(tmp_path: Path) -> None:
    """Nanosecond Parquet values that are whole microseconds, and the range edges, load exactly."""
    folder = valid_folder(tmp_path / "raw")
    write_orders_parquet(
        folder,
        order_id=pa.array(["o1", "o2", "o3"]),
        customer_id=pa.array(["c1"] * 3),
        email=pa.array([None] * 3, pa.string()),
        status=pa.array(["completed"] * 3),
        order_total=pa.array([Decimal("1.00")] * 3, pa.decimal128(18, 2)),
        channel=pa.array(["web"] * 3),
        ordered_at=pa.array(
            [1_767_261_600_000_001_000, -2_208_988_800_000_000_000, 7_258_118_400_000_000_000], pa.timestamp("ns")
        ),
    )
    pq.write_table(
        pa.table(
            {
                "event_id": ["e1"],
                "email": ["a@b.test"],
                "campaign_id": ["k1"],
                "event_type": ["open"],
                "occurred_at": pa.array([1_767_261_600_000_002_000], pa.timestamp("ns", tz="UTC")),
            }
        ),
        folder / "email_events.parquet",
    )
    database = tmp_path / "warehouse.duckdb"
    assert load(folder, database) == 0
    with duckdb.connect(str(database), read_only=True) as connection:
        assert connection.execute("select occurred_at from raw.email_events").fetchall() == [
            (datetime(2026, 1, 1, 10, 0, 0, 2),)
        ]
    with duckdb.connect(str(database), read_only=True) as connection:
        loaded = connection.execute("select ordered_at from raw.orders order by _raw_row_id").fetchall()
    assert loaded == [(datetime(2026, 1, 1, 10, 0, 0, 1),), (datetime(1900, 1, 1),), (datetime(2200, 1, 1),)]


NOT_TEXT = {
    "list": (pa.array([["C1", "C9"]]), "VARCHAR[]"),
    "binary": (pa.array([b"\xff\xfe"], pa.binary()), "BLOB"),
    "large binary": (pa.array([b"ab"], pa.large_binary()), "BLOB"),
    "float": (pa.array([1.0], pa.float64()), "DOUBLE"),
    "float32": (pa.array([1.0], pa.float32()), "FLOAT"),
    "decimal": (pa.array([Decimal("1.0")], pa.decimal128(5, 1)), "DECIMAL"),
    "boolean": (pa.array([True]), "BOOLEAN"),
    "date": (pa.array([date(2026, 1, 1)]), "DATE"),
    "timestamp": (pa.array([datetime(2026, 1, 1)], pa.timestamp("us")), "TIMESTAMP"),
    "struct": (pa.array([{"id": "C1"}]), "STRUCT"),
    "map": (pa.array([[("k", "v")]], pa.map_(pa.string(), pa.string())), "MAP"),
}


@pytest.mark.parametrize("column", ["customer_id", "email"])
@pytest.mark.parametrize("case", list(NOT_TEXT))
def test_varchar_column_from_a_non_string_parquet_type_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, column: str
) -> None:
    folder = valid_folder(tmp_path / "raw")
    values, found_type = NOT_TEXT[case]
    write_orders_parquet(folder, **{column: values})
    message = refused(folder, tmp_path, capsys)
    for fragment in (f"orders.parquet: column {column} has type", found_type, "a varchar column"):
        assert fragment in message, message


def test_string_and_integer_parquet_ids_load_as_text(tmp_path: Path) -> None:
    """large_string, dictionary strings and integers are accepted (integers as their digits)."""
    folder = valid_folder(tmp_path / "raw")
    write_orders_parquet(
        folder,
        order_id=pa.array(["o1"], pa.large_string()),
        customer_id=pa.array([7], pa.int32()),
        email=pa.array(["a@b.test"]).dictionary_encode(),
    )
    database = tmp_path / "warehouse.duckdb"
    assert load(folder, database) == 0
    with duckdb.connect(str(database), read_only=True) as connection:
        row = connection.execute("select order_id, customer_id, email from raw.orders").fetchall()
    assert row == [("o1", "7", "a@b.test")]


def test_invalid_utf8_in_a_parquet_string_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = valid_folder(tmp_path / "raw")
    offsets = pa.py_buffer(b"\x00\x00\x00\x00\x02\x00\x00\x00")
    email = pa.Array.from_buffers(pa.string(), 1, [None, offsets, pa.py_buffer(b"\xff\xfe")])
    write_orders_parquet(folder, email=email)
    message = refused(folder, tmp_path, capsys)
    assert "orders.parquet: column email: cannot be read" in message and "UTF8" in message, message


DUPLICATED_HEADERS = {
    "exact": "order_id,customer_id,email,ordered_at,status,order_total,channel,email",
    "case": "order_id,customer_id,Email,ordered_at,status,order_total,channel,email",
    "blanks": "order_id,customer_id,email,ordered_at,status,order_total,channel, email ",
    "extra column twice": "order_id,customer_id,email,ordered_at,status,order_total,channel,x,X",
}


@pytest.mark.parametrize("case", list(DUPLICATED_HEADERS))
@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_duplicated_column_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, file_format: str
) -> None:
    folder = valid_folder(tmp_path / "raw")
    names = DUPLICATED_HEADERS[case].split(",")
    values = ORDER_ROW.strip().split(",") + ["dup"] * (len(names) - 7)
    if file_format == "csv":
        write(folder / "orders.csv", ",".join(names) + "\n" + ",".join(values) + "\n")
    else:
        (folder / "orders.csv").unlink()
        arrays = [pa.array([value]) for value in values]
        pq.write_table(pa.Table.from_arrays(arrays, names=names), folder / "orders.parquet")
    message = refused(folder, tmp_path, capsys)
    duplicated = names[-1].strip().lower()
    assert f"orders.{file_format}: column {duplicated} appears 2 times" in message, message


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
@pytest.mark.parametrize(
    "helper",
    [
        "_file_row",
        "rowid",
        "file_row_number",
        "File_Row_Number",  # hides DuckDB's virtual column whatever its case
        "filename",
        "_raw_row_id",
        "_source_file",
        "_loaded_at",
        "ROWID",
    ],
)
def test_extra_column_named_like_a_loader_column_is_ignored(tmp_path: Path, helper: str, file_format: str) -> None:
    """No file column can replace the loader's row numbers or lineage columns."""
    folder = valid_folder(tmp_path / "raw")
    rows = [ORDER_ROW.strip().replace("o1", f"o{index}") for index in (1, 2, 3)]
    if file_format == "csv":
        write(folder / "orders.csv", f"{helper},{ORDERS_HEADER}" + "".join(f"99,{row}\n" for row in rows))
    else:
        (folder / "orders.csv").unlink()
        columns = list(zip(*(row.split(",") for row in rows), strict=False))
        table = pa.Table.from_arrays(
            [pa.array([99, 98, 97])] + [pa.array(list(column)) for column in columns],
            names=[helper, *ORDERS_HEADER.strip().split(",")],
        )
        pq.write_table(table, folder / "orders.parquet")
    database = tmp_path / "warehouse.duckdb"
    assert load(folder, database) == 0
    with duckdb.connect(str(database), read_only=True) as connection:
        loaded = connection.execute(
            "select order_id, _raw_row_id, _source_file from raw.orders order by _raw_row_id"
        ).fetchall()
    assert loaded == [(f"o{index}", index, f"orders.{file_format}") for index in (1, 2, 3)]


def test_fifo_is_refused_without_being_opened(tmp_path: Path) -> None:
    """A FIFO would block the loader forever: it is refused before it is opened."""
    import os
    import subprocess
    import sys

    folder = valid_folder(tmp_path / "raw")
    (folder / "orders.csv").unlink()
    os.mkfifo(folder / "orders.csv")
    database = tmp_path / "warehouse.duckdb"
    result = subprocess.run(
        [sys.executable, "-m", "segments.cli", "load", "--from", str(folder), "--database", str(database)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "orders.csv: is a FIFO, not a regular file" in result.stderr
    assert "Traceback" not in result.stderr and not database.exists()


def test_symlink_to_a_regular_file_is_followed(tmp_path: Path) -> None:
    folder = valid_folder(tmp_path / "raw")
    target = tmp_path / "elsewhere.csv"
    (folder / "orders.csv").rename(target)
    (folder / "orders.csv").symlink_to(target)
    assert load(folder, tmp_path / "warehouse.duckdb") == 0


MALFORMED_CSV = {
    "not utf-8": (
        ORDERS_HEADER.encode() + ORDER_ROW.encode() + b"o2,c1,\xff\xfe@b.test,2026-01-01,completed,1,web\n",
        ["orders.csv: line 3 in column email: not UTF-8 encoded", "0xff"],
    ),
    "latin-1 header": (
        ORDERS_HEADER.encode() + "o1,c1,caf\u00e9@b.test,2026-01-01,completed,1,web\n".encode("latin-1"),
        ["orders.csv: line 2 in column email: not UTF-8"],
    ),
    "too few fields": (
        ORDERS_HEADER + ORDER_ROW + "o2,c1,,2026-01-01,completed,1\n",
        ["orders.csv: line 3: row has 6 field(s), the header has 7"],
    ),
    "too many fields": (
        ORDERS_HEADER + "o2,c1,,2026-01-01,completed,1,web,extra\n" + ORDER_ROW,
        ["orders.csv: line 2: row has 8 field(s), the header has 7"],
    ),
    "trailing delimiter": (ORDERS_HEADER + ORDER_ROW.replace("\n", ",\n"), ["orders.csv: line 2: row has 8 field(s)"]),
    "unterminated quote": (
        ORDERS_HEADER + ORDER_ROW + 'o2,c1,"a@b.test,2026-01-01,completed,1,web\n' + ORDER_ROW,
        ["orders.csv: line 3: a quoted value is never closed"],
    ),
    "text after a closing quote": (
        ORDERS_HEADER + 'o2,c1,"a"@b.test,2026-01-01,completed,1,web\n',
        ["orders.csv: line 2: text after a closing quote"],
    ),
    "empty line": (ORDERS_HEADER + ORDER_ROW + "\n" + ORDER_ROW, ["orders.csv: line 3 is empty"]),
    "empty file": ("", ["orders.csv: is empty (no header row)"]),
    "line after a quoted line break": (
        ORDERS_HEADER + 'o1,c1,"a\nb",2026-01-01,completed,1,web\no2,c1\n',
        ["orders.csv: line 4: row has 2 field(s)"],
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED_CSV))
def test_malformed_csv_is_one_line_naming_file_line_and_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    folder = valid_folder(tmp_path / "raw")
    content, fragments = MALFORMED_CSV[case]
    path = folder / "orders.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    message = refused(folder, tmp_path, capsys)
    problem_lines = [line for line in message.splitlines() if "orders.csv" in line]
    assert len(problem_lines) == 1, message
    for fragment in fragments:
        assert fragment in problem_lines[0], message


def test_csv_with_bom_crlf_mixed_case_and_padded_headers_loads(tmp_path: Path) -> None:
    folder = valid_folder(tmp_path / "raw")
    header = " Order_ID ,Customer_Id,EMAIL,ordered_at ,Status,order_total,Channel"
    path = folder / "orders.csv"
    path.write_bytes(
        b"\xef\xbb\xbf"
        + (header + "\r\n" + ORDER_ROW.replace("\n", "\r\n") + 'o2,c1,"x\r\ny",2026-01-01,completed,2,web\r\n').encode()
    )
    database = tmp_path / "warehouse.duckdb"
    assert load(folder, database) == 0
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute(
            "select order_id, email, channel, _raw_row_id from raw.orders order by _raw_row_id"
        ).fetchall()
    assert rows == [("o1", "a@b.test", "web", 1), ("o2", "x\r\ny", "web", 2)]


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_header_only_file_loads_an_empty_table(tmp_path: Path, file_format: str) -> None:
    folder = valid_folder(tmp_path / "raw")
    if file_format == "csv":
        write(folder / "orders.csv", ORDERS_HEADER)
    else:
        (folder / "orders.csv").unlink()
        pq.write_table(
            pa.table({name: pa.array([], pa.string()) for name in ORDERS_HEADER.strip().split(",")}),
            folder / "orders.parquet",
        )
    database = tmp_path / "warehouse.duckdb"
    assert load(folder, database) == 0
    with duckdb.connect(str(database), read_only=True) as connection:
        assert connection.execute("select count(*) from raw.orders").fetchall() == [(0,)]


def corrupt_parquet(folder: Path) -> None:
    """A valid orders.parquet whose first data page has its bytes flipped."""
    (folder / "orders.csv").unlink()
    path = folder / "orders.parquet"
    count = 2000
    pq.write_table(
        pa.table(
            {
                "order_id": [f"o{index}" for index in range(count)],
                "customer_id": ["c1"] * count,
                "email": [f"e{index}@b.test" for index in range(count)],
                "ordered_at": ["2026-01-01"] * count,
                "status": ["completed"] * count,
                "order_total": [1.0] * count,
                "channel": ["web"] * count,
            }
        ),
        path,
    )
    offset = pq.ParquetFile(path).metadata.row_group(0).column(0).data_page_offset
    data = bytearray(path.read_bytes())
    for index in range(offset + 20, offset + 60):
        data[index] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("case", ["corrupt data page", "zero-byte parquet", "not parquet"])
def test_unreadable_parquet_is_one_line_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    folder = valid_folder(tmp_path / "raw")
    if case == "corrupt data page":
        corrupt_parquet(folder)
    else:
        (folder / "orders.csv").unlink()
        (folder / "orders.parquet").write_bytes(b"" if case == "zero-byte parquet" else b"a,b\n1,2\n")
    message = refused(folder, tmp_path, capsys)
    assert "orders.parquet:" in message and "cannot be read" in message, message


class FailingConnection:
    """A DuckDB connection whose statement containing `fail_on` raises `error`."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, fail_on: str, error: Exception):
        self._connection, self._fail_on, self._error = connection, fail_on, error

    def execute(self, sql: str, *args: object) -> object:
        if self._fail_on in sql:
            raise self._error
        self._connection.execute(sql, *args)
        return self

    def __getattr__(self, name: str) -> object:
        return getattr(self._connection, name)


@pytest.mark.parametrize("fail_on", ["warehouse.raw.order_items", "commit", "attach"])
@pytest.mark.parametrize(
    "error",
    [
        OSError(28, "No space left on device"),
        duckdb.IOException("IO Error: Could not write file: No space left on device\nsecond line"),
    ],
    ids=["OSError", "duckdb.IOException"],
)
def test_write_failure_is_one_line_and_leaves_the_previous_load(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fail_on: str,
    error: Exception,
) -> None:
    """A full disk mid-way through the load: exit 2, one line, the previous raw tables intact,
    and the next load succeeds."""
    import segments.load as load_module

    database = tmp_path / "warehouse.duckdb"
    assert load(valid_folder(tmp_path / "previous"), database) == 0
    before = fingerprint(database)
    capsys.readouterr()
    real_connect = duckdb.connect
    with monkeypatch.context() as patch:
        patch.setattr(
            load_module.duckdb,
            "connect",
            lambda *args, **kwargs: FailingConnection(real_connect(*args, **kwargs), fail_on, error),
        )
        assert load(valid_folder(tmp_path / "raw"), database) == 2
    message = capsys.readouterr().err
    assert len(message.strip().splitlines()) == 1, message
    assert "No space left on device" in message and str(database) in message, message
    assert fingerprint(database) == before
    assert load(valid_folder(tmp_path / "raw"), database) == 0


def test_locked_warehouse_is_one_line_and_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import subprocess
    import sys

    database = tmp_path / "warehouse.duckdb"
    assert load(valid_folder(tmp_path / "previous"), database) == 0
    before = fingerprint(database)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\n"
            f"connection = duckdb.connect({str(database)!r})\nprint('held', flush=True)\n"
            "sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        capsys.readouterr()
        assert load(valid_folder(tmp_path / "raw"), database) == 2
        message = capsys.readouterr().err
    finally:
        holder.communicate(timeout=30)
    assert len(message.strip().splitlines()) == 1, message
    assert f"cannot open the warehouse {database}" in message and "lock" in message, message
    assert fingerprint(database) == before


def test_a_parquet_file_is_read_where_it_lies_not_copied(tmp_path: Path) -> None:
    """The loader's checks read a Parquet file through a view over the file: no table holds
    its rows in memory (a copy would, and at 10M customers it held 19 GiB)."""
    from segments.load import loader_connection, validate_folder

    folder = valid_folder(tmp_path / "raw")
    write_orders_parquet(folder)
    with loader_connection(tmp_path / "warehouse.duckdb") as connection:
        validate_folder(folder, connection)
        tables = connection.execute("select table_name from duckdb_tables() where temporary").fetchall()
        views = {
            row[0] for row in connection.execute("select view_name from duckdb_views() where temporary").fetchall()
        }
    assert "source_orders" in views
    assert ("source_orders_data",) not in tables  # the CSV files are parsed into tables; orders is not


def test_a_file_changed_during_the_load_is_refused_and_nothing_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Parquet file is read by the checks and again by the insert: a file rewritten between
    the two (here with a total that is not a number, which the insert would turn into null)
    is refused, and the warehouse keeps its previous load."""
    import segments.load

    folder = valid_folder(tmp_path / "raw")
    write_orders_parquet(folder, order_total=pa.array(["10.00"]))
    checked = segments.load.new_delivery

    def rewrite_after_the_checks(files: dict[str, segments.load.RawFile]) -> segments.load.Delivery:
        if files["orders"].path.parent != folder:  # the earlier, valid load
            return checked(files)
        pq.write_table(
            pq.read_table(folder / "orders.parquet").set_column(5, "order_total", pa.array(["abc"])),
            folder / "orders.parquet",
        )
        return checked(files)

    monkeypatch.setattr(segments.load, "new_delivery", rewrite_after_the_checks)
    message = refused(folder, tmp_path, capsys)
    assert message.strip().splitlines()[-1] == (
        "segments load: error: orders.parquet changed while it was being loaded; nothing was loaded"
    ), message


def test_the_loaders_duckdb_takes_the_profiles_variables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from segments.load import default_temp_directory, loader_connection

    monkeypatch.setenv("SEGMENTS_DUCKDB_MEMORY_LIMIT", "300MB")
    monkeypatch.setenv("SEGMENTS_DUCKDB_THREADS", "1")
    monkeypatch.delenv("SEGMENTS_DUCKDB_TEMP_DIRECTORY", raising=False)
    database = tmp_path / "warehouse.duckdb"
    with loader_connection(database) as connection:
        settings = connection.execute(
            "select current_setting('memory_limit'), current_setting('threads'), current_setting('temp_directory')"
        ).fetchall()[0]
    assert settings[1:] == (1, f"{database}.tmp") and settings[0].startswith("286")  # 300 MB in MiB
    # a first load into a folder that does not exist yet spills into its nearest existing ancestor
    assert default_temp_directory(tmp_path / "new" / "sub" / "w.duckdb") == tmp_path / ".w.duckdb.tmp"
    monkeypatch.setenv("SEGMENTS_DUCKDB_MEMORY_LIMIT", "lots")
    assert load(valid_folder(tmp_path / "raw"), database) == 2
    message = capsys.readouterr().err.strip().splitlines()
    assert len(message) == 1 and "SEGMENTS_DUCKDB_MEMORY_LIMIT=lots" in message[0], message
    assert not database.exists()


def test_a_folder_named_like_a_glob_is_read_as_itself(tmp_path: Path) -> None:
    """DuckDB reads a path holding [ as a glob: g[1]/orders.parquet would read g1/orders.parquet."""
    folder = valid_folder(tmp_path / "g[1]")
    write_orders_parquet(folder, order_id=pa.array(["the-right-file"]))
    decoy = valid_folder(tmp_path / "g1")
    write_orders_parquet(decoy, order_id=pa.array(["the-decoy"]))
    database = tmp_path / "warehouse.duckdb"
    assert load(folder, database) == 0
    with duckdb.connect(str(database), read_only=True) as connection:
        assert connection.execute("select order_id from raw.orders").fetchall() == [("the-right-file",)]
