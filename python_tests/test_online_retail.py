"""The UCI Online Retail data set through the adapter, the loader and staging.

Skips when the data set is absent (it lives beside the project, never inside it).
Expected figures come from the data set's README and from queries on the source file.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from dbt_runner import PROJECT_ROOT, run_dbt
from segments.cli import main

SOURCE = Path(
    os.environ.get(
        "ONLINE_RETAIL_PATH", PROJECT_ROOT.parent / "shared" / "data" / "online_retail" / "online_retail.parquet"
    )
)

pytestmark = pytest.mark.skipif(
    not SOURCE.exists(), reason=f"UCI Online Retail not found at {SOURCE} (set ONLINE_RETAIL_PATH)"
)


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    work_dir = tmp_path_factory.mktemp("online_retail")
    raw, database = work_dir / "raw", work_dir / "warehouse.duckdb"
    assert main(["online-retail", "--from", str(SOURCE), "--out", str(raw)]) == 0
    assert main(["load", "--from", str(raw), "--database", str(database)]) == 0
    return raw, database


def test_adapter_keeps_every_line_and_amount(converted: tuple[Path, Path]) -> None:
    _, database = converted
    with duckdb.connect(str(database), read_only=True) as connection:
        lines, orders, customers = connection.execute(
            "select (select count(*) from raw.order_items), (select count(*) from raw.orders), "
            "(select count(*) from raw.customers)"
        ).fetchall()[0]
        signed_total = connection.execute("""
            select sum(case when orders.status = 'returned' then -1 else 1 end
                       * items.quantity * items.unit_price)
            from raw.order_items as items inner join raw.orders using (order_id)
        """).fetchall()[0][0]
    source = duckdb.sql(f"""
        select count(*), count(distinct InvoiceNo), count(distinct CustomerID),
               round(sum(Quantity * UnitPrice), 2)
        from '{SOURCE}'
    """).fetchall()[0]
    assert (lines, orders, customers) == (541_909, 25_900, 4_372) == source[:3]
    assert round(float(signed_total), 2) == 9_747_747.93 == float(source[3])


@pytest.mark.slow
def test_staging_reconciles_on_real_data(converted: tuple[Path, Path], tmp_path: Path) -> None:
    _, database = converted
    run_dbt(["build", "--selector", "staging"], database, tmp_path)
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute("select * from quarantine.stg_quarantine__reconciliation").fetchall()
        reasons = dict(
            connection.execute(
                "select rejection_reason, count(*) from quarantine.stg_quarantine__rows "
                "where source_table = 'orders' group by 1"
            ).fetchall()
        )
    for table, raw_rows, staged, quarantined, duplicates in rows:
        assert raw_rows == staged + quarantined + duplicates, table
    by_table = {row[0]: row for row in rows}
    assert by_table["order_items"][1] == 541_909
    # guest invoices (no CustomerID, and the data set has no emails) cannot be attributed
    assert reasons["missing_identifier"] > 0
