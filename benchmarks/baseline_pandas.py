"""The same RFM computation as baseline_one_query.sql, in pandas.

    python benchmarks/baseline_pandas.py --database benchmark_output/runs/250k/warehouse.duckdb

Reads raw.orders and raw.erasure_requests from a loaded warehouse (the fetch is timed too),
applies the staging rules that change RFM, then computes recency, frequency, monetary,
tie-safe quintile scores and the named segments. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SEGMENT_MAP = PROJECT_ROOT / "seeds" / "rfm_segment_map.csv"
CUTOFF_TENTHS = (2, 4, 6, 8)  # var rfm_score_cutoffs, in tenths so comparisons are exact
EMAIL_PATTERN = r"[^@\s]+@[^@\s]+\.[^@\s.]+"
STATUSES = ("completed", "cancelled", "returned")
CHANNELS = ("web", "app", "store")


def clean(values: pd.Series) -> pd.Series:
    """Trimmed text, blank as null."""
    trimmed = values.astype("string").str.strip()
    return trimmed.mask(trimmed == "")


def naive_identity(orders: pd.DataFrame) -> pd.DataFrame:
    """Every normalised customer_id and email is its own customer."""
    accounts = clean(orders.customer_id).dropna().drop_duplicates()
    emails = clean(orders.email).str.lower().dropna().drop_duplicates()
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "identifier_type": "customer_id",
                    "identifier_value": accounts,
                    "customer_key": "customer_id:" + accounts,
                }
            ),
            pd.DataFrame({"identifier_type": "email", "identifier_value": emails, "customer_key": "email:" + emails}),
        ],
        ignore_index=True,
    )


def accepted_orders(orders: pd.DataFrame, erasure_requests: pd.DataFrame) -> pd.DataFrame:
    """The order rows staging accepts, the last accepted delivery of each order_id."""
    frame = pd.DataFrame(
        {
            "raw_row_id": orders._raw_row_id,
            "order_id": clean(orders.order_id),
            "customer_id": clean(orders.customer_id),
            "email": clean(orders.email).str.lower(),
            "ordered_at": orders.ordered_at,
            "status": clean(orders.status).str.lower(),
            "channel": clean(orders.channel).str.lower(),
            "total_cents": (orders.order_total.astype(float) * 100).round().astype("Int64"),
        }
    )
    erased_accounts = set(clean(erasure_requests.customer_id).dropna())
    request_emails = clean(erasure_requests.email).str.lower().dropna()
    erased_emails = set(request_emails[request_emails.str.fullmatch(EMAIL_PATTERN)])
    valid_email = frame.email.isna() | frame.email.str.fullmatch(EMAIL_PATTERN).fillna(False)
    keep = (
        ~frame.customer_id.isin(erased_accounts).fillna(False)
        & ~frame.email.isin(erased_emails).fillna(False)
        & frame.order_id.notna()
        & (frame.customer_id.notna() | frame.email.notna())
        & valid_email.astype(bool)
        & frame.ordered_at.notna()
        & ~(frame.ordered_at > orders._loaded_at + pd.Timedelta(hours=24)).fillna(False)
        & frame.status.isin(STATUSES).fillna(False)
        & (frame.channel.isna() | frame.channel.isin(CHANNELS).fillna(False))
        & (frame.total_cents >= 0).fillna(False)
    )
    accepted = frame[keep.astype(bool)]
    return accepted.sort_values("raw_row_id").drop_duplicates("order_id", keep="last")


def score(worse: pd.Series, tied: pd.Series, scored: int) -> pd.Series:
    """1 + the cut-offs at or below the middle of the tied block (exact integers)."""
    doubled_position_tenths = 10 * (2 * worse + tied)
    result = pd.Series(1, index=worse.index)
    for tenths in CUTOFF_TENTHS:
        result += (doubled_position_tenths >= 2 * scored * tenths).astype(int)
    return result


def pandas_rfm(
    orders: pd.DataFrame,
    erasure_requests: pd.DataFrame,
    segment_map: pd.DataFrame,
    as_of: date,
    identity_map: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Scores and segments per customer_key from raw orders (the loader's columns)."""
    identities = naive_identity(orders) if identity_map is None else identity_map
    accepted = accepted_orders(orders, erasure_requests)
    keys = identities.set_index(["identifier_type", "identifier_value"]).customer_key
    account_keys = keys.get("customer_id", pd.Series(dtype="string"))
    email_keys = keys.get("email", pd.Series(dtype="string"))
    customer_key = accepted.customer_id.map(account_keys)
    customer_key = customer_key.fillna(accepted.email.map(email_keys))
    as_of_end = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    qualifying = accepted.assign(customer_key=customer_key)[
        (accepted.status == "completed")
        & (accepted.total_cents > 0)
        & (accepted.ordered_at < as_of_end)
        & customer_key.notna()
    ]
    grouped = qualifying.groupby("customer_key")
    measures = pd.DataFrame(
        {
            "recency_days": (pd.Timestamp(as_of) - grouped.ordered_at.max().dt.normalize()).dt.days,
            "frequency": grouped.size(),
            "monetary_cents": grouped.total_cents.sum().astype(np.int64),
        }
    )
    scored = len(measures)
    for column, name, higher_is_better in (
        ("recency_days", "r_score", False),
        ("frequency", "f_score", True),
        ("monetary_cents", "m_score", True),
    ):
        values = measures[column] if higher_is_better else -measures[column]
        worse = values.rank(method="min").astype(np.int64) - 1
        tied = measures.groupby(column)[column].transform("size")
        measures[name] = score(worse, tied, scored)
    measures["fm_score"] = (measures.f_score + measures.m_score) / 2
    segments = measures.reset_index().merge(segment_map, on="r_score")
    segments = segments[segments.fm_score.between(segments.fm_score_min, segments.fm_score_max)]
    segments = segments.assign(monetary=segments.monetary_cents / 100)
    columns = ["customer_key", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", "rfm_segment"]
    return segments[columns].sort_values("customer_key").reset_index(drop=True)


def read_raw(connection: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, pd.DataFrame]:
    """raw.orders and raw.erasure_requests of a loaded warehouse."""
    orders = connection.execute("select * from raw.orders").df()
    erasure_requests = connection.execute("select * from raw.erasure_requests").df()
    return orders, erasure_requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", type=Path, required=True)
    parser.add_argument(
        "--as-of", type=date.fromisoformat, default=None, help="as-of date (default: the project's, from the warehouse)"
    )
    args = parser.parse_args()
    with duckdb.connect(str(args.database), read_only=True) as connection:
        if args.as_of is None:
            row = connection.execute("select as_of_date from intermediate.int_as_of_date").fetchone()
            as_of: date = row[0] if row is not None else date.today()
        else:
            as_of = args.as_of
        started = time.monotonic()
        orders, erasure_requests = read_raw(connection)
    result = pandas_rfm(orders, erasure_requests, pd.read_csv(SEGMENT_MAP), as_of)
    seconds = time.monotonic() - started
    print(json.dumps({"seconds": seconds, "customers": len(result)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
