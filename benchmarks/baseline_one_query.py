"""Run the one-query lower bound (baseline_one_query.sql) on a loaded warehouse.

    python benchmarks/baseline_one_query.py --database benchmark_output/runs/250k/warehouse.duckdb

Prints one JSON line: the seconds the query took and how many customers it scored. The
warehouse is opened read-only; only temporary views are created.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

PROJECT_ROOT = Path(__file__).resolve().parent.parent
QUERY = Path(__file__).with_name("baseline_one_query.sql")
SEGMENT_MAP = PROJECT_ROOT / "seeds" / "rfm_segment_map.csv"

# every normalised customer_id and email of an order is its own customer (no identity graph)
NAIVE_IDENTITY = """
create or replace temporary view identity_map as
select distinct
    'customer_id' as identifier_type,
    nullif(trim(customer_id), '') as identifier_value,
    'customer_id:' || nullif(trim(customer_id), '') as customer_key
from raw.orders
where nullif(trim(customer_id), '') is not null
union all
select distinct
    'email' as identifier_type,
    nullif(lower(trim(email)), '') as identifier_value,
    'email:' || nullif(lower(trim(email)), '') as customer_key
from raw.orders
where nullif(lower(trim(email)), '') is not null
"""

# the project's identities (the marts the warehouse built)
PROJECT_IDENTITY = """
create or replace temporary view identity_map as
select identifier_type, identifier_value, customer_key
from restricted.customer_identifiers
where identifier_type in ('customer_id', 'email')
"""


def project_as_of_date(connection: duckdb.DuckDBPyConnection) -> date:
    """The as-of date the project used (intermediate.int_as_of_date)."""
    row = connection.execute("select as_of_date from intermediate.int_as_of_date").fetchone()
    if row is None:
        raise ValueError("intermediate.int_as_of_date is empty")
    value: date = row[0]
    return value


def one_query_rfm(connection: duckdb.DuckDBPyConnection, as_of: date, identity: str = "naive") -> pd.DataFrame:
    """Scores and segments per customer_key from the raw tables of the connected warehouse."""
    connection.execute(PROJECT_IDENTITY if identity == "project" else NAIVE_IDENTITY)
    connection.execute(
        f"create or replace temporary view segment_map as select * from read_csv('{SEGMENT_MAP}', header = true)"
    )
    connection.execute(f"set variable as_of_date = date '{as_of.isoformat()}'")
    return connection.execute(QUERY.read_text()).df()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", type=Path, required=True)
    parser.add_argument(
        "--as-of", type=date.fromisoformat, default=None, help="as-of date (default: the project's, from the warehouse)"
    )
    parser.add_argument("--identity", choices=("naive", "project"), default="naive")
    args = parser.parse_args()
    with duckdb.connect(str(args.database), read_only=True) as connection:
        as_of = args.as_of or project_as_of_date(connection)
        started = time.monotonic()
        result = one_query_rfm(connection, as_of, args.identity)
        seconds = time.monotonic() - started
    print(json.dumps({"seconds": seconds, "customers": len(result)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
