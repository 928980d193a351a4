"""``segments online-retail``: turn the UCI Online Retail data set into a raw folder.

Mapping (documented in README.md, section "Real data: UCI Online Retail"):
- orders: one row per InvoiceNo. customer_id = CustomerID as text (null: a guest order,
  which staging quarantines as missing_identifier since the data set has no email);
  ordered_at = the invoice's first InvoiceDate (UK time, taken as UTC); an invoice whose
  number starts with ``C`` is a credit note for goods bought earlier and becomes status
  ``returned`` with the absolute value of its total; every other invoice is ``completed``
  with total = sum(Quantity * UnitPrice), so an adjustment invoice whose lines sum to less
  than zero keeps its negative total and is quarantined by staging with a reason.
- order_items: one row per input line, line_number = position within the invoice in file
  order, quantity = abs(Quantity) on credit notes.
- customers: one row per CustomerID, country of its latest invoice, created_at and
  updated_at = its first and last invoice.

Data: Daqing Chen, Sai Liang Sain, Kun Guo (2012), UCI Machine Learning Repository, CC BY 4.0.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb

from segments.errors import CommandError
from segments.sources import file_literal

SOURCE_COLUMNS = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="source", type=Path, required=True, help="online_retail.parquet (or .csv)")
    parser.add_argument("--out", type=Path, required=True, help="raw folder to write")


def run(args: argparse.Namespace) -> int:
    counts = convert(args.source, args.out)
    for table_name, rows in counts.items():
        print(f"{table_name}: {rows:,} rows")
    return 0


def convert(source: Path, out: Path) -> dict[str, int]:
    if not source.is_file():
        raise CommandError(f"{source} does not exist")
    connection = duckdb.connect(":memory:")
    connection.execute("set TimeZone = 'UTC'")
    path = str(source).replace("'", "''")
    if source.suffix.lower() == ".parquet":
        connection.execute(
            f"create view source_lines as select * exclude (file_row_number), "
            f"file_row_number + 1 as file_row from read_parquet({file_literal(source)}, file_row_number = true)"
        )
    else:
        # a table keeps insertion order, so rowid follows the file's row order
        connection.execute(f"create table source_text as select * from read_csv('{path}')")
        connection.execute("create view source_lines as select *, rowid + 1 as file_row from source_text")
    present = {row[0] for row in connection.execute("describe source_lines").fetchall()}
    missing = [column for column in SOURCE_COLUMNS if column not in present]
    if missing:
        raise CommandError(f"{source.name}: not the Online Retail layout, missing {', '.join(missing)}")
    connection.execute(
        """create table lines as
        select
            cast(InvoiceNo as varchar) as order_id,
            cast(InvoiceNo as varchar) like 'C%' as is_credit_note,
            case when CustomerID is not null
                then cast(cast(CustomerID as bigint) as varchar) end as customer_id,
            cast(InvoiceDate as timestamp) as invoiced_at,
            cast(StockCode as varchar) as product_id,
            cast(Quantity as bigint) as quantity,
            cast(UnitPrice as decimal(18, 4)) as unit_price,
            Country as country,
            file_row
        from source_lines"""
    )
    out.mkdir(parents=True, exist_ok=True)
    target = str(out).replace("'", "''")
    connection.execute(
        f"""copy (
            select
                order_id,
                any_value(customer_id order by file_row) as customer_id,
                cast(null as varchar) as email,
                min(invoiced_at) as ordered_at,
                case when bool_or(is_credit_note) then 'returned' else 'completed' end as status,
                cast(round(case when bool_or(is_credit_note)
                    then abs(sum(quantity * unit_price)) else sum(quantity * unit_price) end, 2)
                    as decimal(18, 2)) as order_total,
                'web' as channel
            from lines group by order_id order by min(file_row)
        ) to '{target}/orders.parquet' (format parquet)"""
    )
    connection.execute(
        f"""copy (
            select
                order_id,
                row_number() over (partition by order_id order by file_row) as line_number,
                product_id,
                cast(null as varchar) as category,
                case when is_credit_note then abs(quantity) else quantity end as quantity,
                unit_price
            from lines order by file_row
        ) to '{target}/order_items.parquet' (format parquet)"""
    )
    connection.execute(
        f"""copy (
            select
                customer_id,
                null::varchar as email, null::varchar as phone, null::varchar as first_name,
                null::varchar as last_name, null::date as birth_date, null::varchar as gender,
                null::varchar as city,
                arg_max(country, invoiced_at) as country,
                null::varchar as loyalty_tier, null::boolean as marketing_opt_in,
                min(invoiced_at) as created_at,
                max(invoiced_at) as updated_at
            from lines where customer_id is not null
            group by customer_id order by customer_id
        ) to '{target}/customers.parquet' (format parquet)"""
    )
    counts = {
        table: int(connection.execute(f"select count(*) from '{target}/{table}.parquet'").fetchall()[0][0])
        for table in ("orders", "order_items", "customers")
    }
    connection.close()
    return counts
