"""People: who has an account, buys as a guest, when they sign up and churn, their names."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np

from segments.generation import parameters as p
from segments.generation.duck import register
from segments.generation.settings import Bools, Ints
from segments.generation.vocabulary import DOMAINS, FIRST_NAMES, LAST_NAMES, sql_list


@dataclass(frozen=True)
class People:
    person: Ints
    has_account: Bools
    is_guest_buyer: Bools
    signup_day: Ints
    churn_day: Ints
    has_phone: Bools
    has_duplicate: Bools
    email_changes: Bools
    is_opted_in: Bools
    first_name: Ints
    last_name: Ints
    domain: Ints

    @property
    def count(self) -> int:
        return len(self.person)


def simulate_people(rng: np.random.Generator, count: int, horizon: int) -> People:
    has_account = rng.random(count) < p.ACCOUNT_SHARE
    is_guest_buyer = ~has_account & (rng.random(count) < p.GUEST_BUYER_SHARE)
    signup_day = rng.integers(0, horizon, count)
    active_days = rng.exponential(p.MEAN_ACTIVE_DAYS, count).astype(np.int64)
    churn_day = np.minimum(signup_day + active_days, horizon - 1)
    has_phone = has_account & (rng.random(count) < p.PHONE_SHARE)
    has_duplicate = has_account & (rng.random(count) < p.DUPLICATE_ACCOUNT_SHARE)
    email_changes = has_account & (rng.random(count) < p.EMAIL_CHANGE_SHARE)
    is_opted_in = has_account & (rng.random(count) < p.OPT_IN_SHARE)
    return People(
        person=np.arange(count, dtype=np.int64),
        has_account=has_account,
        is_guest_buyer=is_guest_buyer,
        signup_day=signup_day,
        churn_day=churn_day,
        has_phone=has_phone,
        has_duplicate=has_duplicate,
        email_changes=email_changes,
        is_opted_in=is_opted_in,
        first_name=rng.integers(0, len(FIRST_NAMES), count),
        last_name=rng.integers(0, len(LAST_NAMES), count),
        domain=rng.integers(0, len(DOMAINS), count),
    )


def create_person_identity(connection: duckdb.DuckDBPyConnection, people: People) -> None:
    """person_identity: each person's id, names, emails (current and changed) and phone."""
    register(connection, "people", {
        "person": people.person, "first_name": people.first_name, "last_name": people.last_name,
        "domain": people.domain, "has_phone": people.has_phone, "is_opted_in": people.is_opted_in,
    })
    first, last, domains = sql_list(FIRST_NAMES), sql_list(LAST_NAMES), sql_list(DOMAINS)
    connection.execute(
        f"""create table person_identity as
        select
            person,
            'P' || lpad(cast(person + 1 as varchar), 8, '0') as person_id,
            {first}[first_name + 1] as first_name,
            {last}[last_name + 1] as last_name,
            {first}[first_name + 1] || '.' || {last}[last_name + 1]
                || '.' || cast(person + 1 as varchar) || '@' || {domains}[domain + 1] as email,
            'new.' || {first}[first_name + 1] || '.' || cast(person + 1 as varchar)
                || '@' || {domains}[(domain + 1) % {len(DOMAINS)} + 1] as new_email,
            case when has_phone then '44' || lpad(cast(person + 1 as varchar), 8, '0') end as phone,
            is_opted_in
        from people"""
    )
