"""CRM accounts: one per account holder, a second one for duplicates, and their versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np

from segments.generation import parameters as p
from segments.generation.duck import register
from segments.generation.people import People
from segments.generation.settings import Bools, Ints, within
from segments.generation.vocabulary import (
    CITIES,
    COUNTRIES,
    GENDERS,
    LOYALTY_TIERS,
    PLACEHOLDER_PHONE,
    sql_list,
)


@dataclass(frozen=True)
class Accounts:
    account_person: Ints  # per account
    is_duplicate: Bools
    created_day: Ints
    version_account: Ints  # per CRM version
    version_index: Ints
    version_day: Ints
    uses_new_email: Bools
    placeholder_phone: Bools

    @property
    def versions(self) -> int:
        return len(self.version_account)


@dataclass(frozen=True)
class AccountDetails:
    """Per CRM version: loyalty tier, city, consent flip, time of day, birth date offset."""

    tier: Ints
    city: Ints
    opt_in_flip: Bools
    second: Ints
    birth_offset: Ints


def simulate_accounts(rng: np.random.Generator, people: People, horizon: int) -> Accounts:
    account_person = np.concatenate([people.person[people.has_account], people.person[people.has_duplicate]])
    is_duplicate = np.concatenate([np.zeros(people.has_account.sum(), bool), np.ones(people.has_duplicate.sum(), bool)])
    signup = people.signup_day[account_person]
    delay = within(rng, p.DUPLICATE_ACCOUNT_DELAY_DAYS, len(account_person))
    created_day = np.where(is_duplicate, np.minimum(signup + delay, horizon - 1), signup)
    versions = 1 + rng.poisson(p.MEAN_EXTRA_VERSIONS, len(account_person))
    version_account = np.repeat(np.arange(len(account_person), dtype=np.int64), versions)
    version_index = np.arange(len(version_account)) - np.repeat(np.cumsum(versions) - versions, versions)
    gap = within(rng, p.VERSION_GAP_DAYS, len(version_account))
    version_day = np.minimum(created_day[version_account] + version_index * gap, horizon - 1)
    is_last = (versions[version_account] > 1) & (version_index == versions[version_account] - 1)
    uses_new_email = people.email_changes[account_person[version_account]] & is_last
    return Accounts(
        account_person=account_person,
        is_duplicate=is_duplicate,
        created_day=created_day,
        version_account=version_account,
        version_index=version_index,
        version_day=version_day,
        uses_new_email=uses_new_email,
        placeholder_phone=rng.random(len(version_account)) < p.PLACEHOLDER_PHONE_SHARE,
    )


def simulate_account_details(rng: np.random.Generator, versions: int) -> AccountDetails:
    return AccountDetails(
        tier=rng.integers(0, len(LOYALTY_TIERS), versions),
        city=rng.integers(0, len(CITIES), versions),
        opt_in_flip=rng.random(versions) < p.OPT_IN_FLIP_SHARE,
        second=rng.integers(0, p.SECONDS_PER_DAY, versions),
        birth_offset=within(rng, (p.AGE_YEARS[0] * 365, p.AGE_YEARS[1] * 365), versions),
    )


def create_account_tables(
    connection: duckdb.DuckDBPyConnection,
    accounts: Accounts,
    details: AccountDetails,
    birth_anchor: date,
    first: tuple[int, int],
) -> None:
    """account_ids (one row per account) and customers_clean (one row per CRM version); ``first``
    is the number of the first account and CRM version (account numbers are already global)."""
    first_account, first_version = first
    version = accounts.version_account - first_account  # the account's index in the arrays
    register(
        connection,
        "account_versions",
        {
            "account_number": accounts.version_account,
            "person": accounts.account_person[version],
            "is_duplicate_account": accounts.is_duplicate[version],
            "version_index": accounts.version_index,
            "version_day": accounts.version_day,
            "created_day": accounts.created_day[version],
            "uses_new_email": accounts.uses_new_email,
            "placeholder_phone": accounts.placeholder_phone,
            "tier": details.tier,
            "city": details.city,
            "opt_in_flip": details.opt_in_flip,
            "second": details.second,
            "birth_offset": details.birth_offset,
        },
    )
    connection.execute(
        """create table account_ids as
        select distinct account_number, person, is_duplicate_account,
            'C' || lpad(cast(account_number + 1 as varchar), 8, '0') as customer_id
        from account_versions"""
    )
    # a duplicate account writes the email and phone in another form; the last version of an
    # account whose email changes carries the new email
    connection.execute(
        f"""create table customers_clean as
        select
            account_ids.customer_id,
            case
                when versions.uses_new_email then identity.new_email
                when versions.is_duplicate_account then '  ' || upper(identity.email) || ' '
                else identity.email
            end as email,
            case
                when versions.placeholder_phone then '{PLACEHOLDER_PHONE}'
                when identity.phone is null then null
                when versions.is_duplicate_account then '+' || substr(identity.phone, 1, 2) || ' ('
                    || substr(identity.phone, 3, 3) || ') ' || substr(identity.phone, 6, 3) || '-'
                    || substr(identity.phone, 9)
                else identity.phone
            end as phone,
            upper(identity.first_name[1]) || identity.first_name[2:] as first_name,
            upper(identity.last_name[1]) || identity.last_name[2:] as last_name,
            cast(date '{birth_anchor}' - to_days(versions.birth_offset) as date) as birth_date,
            {sql_list(GENDERS)}[versions.person % {len(GENDERS)} + 1] as gender,
            {sql_list(CITIES)}[versions.city + 1] as city,
            {sql_list(COUNTRIES)}[versions.city + 1] as country,
            {sql_list(LOYALTY_TIERS)}[versions.tier + 1] as loyalty_tier,
            identity.is_opted_in != versions.opt_in_flip as marketing_opt_in,
            at_second(versions.created_day * {p.SECONDS_PER_DAY} + versions.second % 3600) as created_at,
            at_second(versions.version_day * {p.SECONDS_PER_DAY} + versions.second) as updated_at,
            versions.person,
            {first_version} + row_number() over (order by versions.account_number, versions.version_index)
                as position
        from account_versions as versions
        inner join account_ids on versions.account_number = account_ids.account_number
        inner join person_identity as identity on versions.person = identity.person"""
    )
