"""Erasure requests: a share of first accounts ask, by customer_id, email or both."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np

from segments.generation import parameters as p
from segments.generation.accounts import Accounts
from segments.generation.duck import register
from segments.generation.settings import Ints

BY_CUSTOMER_ID, BY_EMAIL, BY_BOTH = 0, 1, 2  # what a request names


@dataclass(frozen=True)
class Erasures:
    account: Ints  # per request: the account number
    kind: Ints


def simulate_erasures(rng: np.random.Generator, accounts: Accounts) -> Erasures:
    first_accounts = np.flatnonzero(~accounts.is_duplicate)
    chosen = first_accounts[rng.random(len(first_accounts)) < p.ERASURE_SHARE]
    return Erasures(account=chosen, kind=rng.integers(0, 3, len(chosen)))


def create_erasure_tables(
    connection: duckdb.DuckDBPyConnection, erasures: Erasures, first_day: date, first_request: int
) -> None:
    """erasure_requests_clean (needs account_ids and person_identity), numbered from
    ``first_request`` (their account numbers are already global)."""
    register(
        connection,
        "erasures",
        {
            "request_number": first_request + np.arange(len(erasures.account)),
            "account_number": erasures.account,
            "kind": erasures.kind,
        },
    )
    connection.execute(
        f"""create table erasure_requests_clean as
        select
            'R' || lpad(cast(erasures.request_number + 1 as varchar), 6, '0') as request_id,
            case when erasures.kind in ({BY_CUSTOMER_ID}, {BY_BOTH}) then account_ids.customer_id end
                as customer_id,
            case when erasures.kind in ({BY_EMAIL}, {BY_BOTH}) then identity.email end as email,
            timestamp '{first_day}' + to_days(erasures.request_number % {p.ERASURE_SPREAD_DAYS})
                as requested_at,
            erasures.request_number + 1 as position
        from erasures
        inner join account_ids on erasures.account_number = account_ids.account_number
        inner join person_identity as identity on account_ids.person = identity.person"""
    )
