"""People: who has an account, buys as a guest, when they sign up and churn, their names."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np

from segments.generation import parameters as p
from segments.generation.duck import register
from segments.generation.settings import Bools, Floats, Ints, sample_days
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


def pre_window_share(horizon: int) -> float:
    """Share of the people active in a window of ``horizon`` days who signed up before it.

    With arrivals at a steady rate a and exponential lifetimes of mean L, a·L people are
    active at any moment (the window's first day included) and a·horizon arrive during it."""
    return p.MEAN_ACTIVE_DAYS / (p.MEAN_ACTIVE_DAYS + horizon)


def signup_and_churn(rng: np.random.Generator, count: int, cumulative: Floats) -> tuple[Ints, Ints]:
    """Signup and churn day of each person (day 0 is the window's first day).

    A person who exists before the window signed up a day or more before it: by the
    exponential's lack of memory, both their age and their remaining lifetime on day 0 are
    exponential with the mean lifetime. Everyone else signs up in the window on a day drawn
    with the seasonal weights. Nobody churns before the window starts."""
    horizon = len(cumulative)
    exists_before = rng.random(count) < pre_window_share(horizon)
    age_at_start = 1 + rng.exponential(p.MEAN_ACTIVE_DAYS, count).astype(np.int64)
    in_window = sample_days(rng, cumulative, np.zeros(count, np.int64), np.full(count, horizon - 1))
    signup_day = np.where(exists_before, -age_at_start, in_window)
    active_days = rng.exponential(p.MEAN_ACTIVE_DAYS, count).astype(np.int64)
    churn_day = np.minimum(np.maximum(signup_day, 0) + active_days, horizon - 1)
    return signup_day, churn_day


def simulate_people(rng: np.random.Generator, count: int, cumulative: Floats) -> People:
    has_account = rng.random(count) < p.ACCOUNT_SHARE
    is_guest_buyer = ~has_account & (rng.random(count) < p.GUEST_BUYER_SHARE)
    signup_day, churn_day = signup_and_churn(rng, count, cumulative)
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
    register(
        connection,
        "people",
        {
            "person": people.person,
            "first_name": people.first_name,
            "last_name": people.last_name,
            "domain": people.domain,
            "has_phone": people.has_phone,
            "is_opted_in": people.is_opted_in,
        },
    )
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
