"""Orders and their lines: who buys, how often, when, how, and for how much."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np

from segments.generation import parameters as p
from segments.generation.duck import register
from segments.generation.people import People
from segments.generation.settings import (
    Bools,
    Codes,
    Floats,
    Ints,
    Settings,
    choice_codes,
    sample_days,
    weighted_days,
)
from segments.generation.vocabulary import (
    CATEGORIES,
    ORDER_CHANNELS,
    ORDER_STATUSES,
    PLACEHOLDER_EMAIL,
    sql_list,
)


@dataclass(frozen=True)
class Orders:
    person_orders: Ints  # per person: orders drawn (before the shift), which drive web sessions
    person: Ints  # per order
    day: Ints
    second: Ints
    status: Codes
    channel: Codes
    is_guest: Bools
    uses_duplicate: Bools
    has_email: Bools
    placeholder: Bools
    cents: Ints

    @property
    def count(self) -> int:
        return len(self.person)


@dataclass(frozen=True)
class Lines:
    order: Ints  # per order line: its order number
    number: Ints
    quantity: Ints
    cents: Ints
    category: Ints
    product: Ints


def is_buyer(rng: np.random.Generator, people: People) -> Bools:
    """Account holders other than prospects, and guest buyers."""
    buyers: Bools = (people.has_account & (rng.random(people.count) >= p.PROSPECT_SHARE)) | people.is_guest_buyer
    return buyers


def repeat_counts(rng: np.random.Generator, people: People, buyers: Bools, cumulative: Floats) -> Ints:
    """Repeat orders per person in the window: Poisson over the seasonally weighted active days
    at a gamma-distributed personal rate (negative binomial overall); none for non-buyers."""
    per_day = rng.gamma(p.REPEAT_RATE_SHAPE, p.REPEAT_ORDERS_PER_YEAR / 365 / p.REPEAT_RATE_SHAPE, people.count)
    exposure = weighted_days(cumulative, np.maximum(people.signup_day, 0), people.churn_day)
    counts: Ints = np.where(buyers, rng.poisson(per_day * exposure), 0)
    return counts


def order_days(rng: np.random.Generator, people: People, cumulative: Floats) -> tuple[Ints, Ints, Ints]:
    """(orders per person, person, day) of every order, person by person: a buyer who signs
    up in the window orders first on the signup day, repeats fall on seasonally weighted days."""
    buyers = is_buyer(rng, people)
    first = buyers & (people.signup_day >= 0)
    repeats = repeat_counts(rng, people, buyers, cumulative)
    repeat_person = np.repeat(people.person, repeats)
    repeat_day = sample_days(
        rng, cumulative, np.maximum(people.signup_day[repeat_person], 0), people.churn_day[repeat_person]
    )
    person = np.concatenate([people.person[first], repeat_person])
    day = np.concatenate([people.signup_day[first], repeat_day])
    by_person = np.argsort(person, kind="stable")
    return first.astype(np.int64) + repeats, person[by_person], day[by_person]


def apply_shift(rng: np.random.Generator, settings: Settings, person: Ints, day: Ints) -> tuple[Ints, Ints]:
    """--shift-date/--shift-purchase-factor: keep each order from the shift date on with
    probability factor (thinning a purchase process multiplies its rate by the factor)."""
    if settings.shift_date is None or settings.shift_purchase_factor >= 1:
        return person, day
    shift_day = (settings.shift_date - settings.start_date).days
    kept = (day < shift_day) | (rng.random(len(day)) < settings.shift_purchase_factor)
    return person[kept], day[kept]


def simulate_orders(
    rng: np.random.Generator,
    shift_rng: np.random.Generator,
    settings: Settings,
    people: People,
    cumulative: Floats,
) -> Orders:
    """Every order with its person, day, time, status, channel and identifiers (the totals are
    filled in from the lines); ``shift_rng`` draws only the --shift-date thinning."""
    counts, person, day = order_days(rng, people, cumulative)
    person, day = apply_shift(shift_rng, settings, person, day)
    size = len(person)
    hours = (p.ORDER_HOURS[0] * 3600, p.ORDER_HOURS[1] * 3600)
    second = rng.integers(*hours, size)
    status = choice_codes(rng, p.STATUS_SHARES, size)
    channel = choice_codes(rng, p.CHANNEL_SHARES, size)
    is_guest = ~people.has_account[person] | (rng.random(size) < p.GUEST_CHECKOUT_SHARE)
    uses_duplicate = people.has_duplicate[person] & (rng.random(size) < p.SECOND_ACCOUNT_ORDER_SHARE)
    has_email = is_guest | (rng.random(size) < p.ORDER_EMAIL_SHARE)
    placeholder = is_guest & (rng.random(size) < p.PLACEHOLDER_GUEST_EMAIL_SHARE)
    return Orders(
        person_orders=counts,
        person=person,
        day=day,
        second=second,
        status=status,
        channel=channel,
        is_guest=is_guest,
        uses_duplicate=uses_duplicate,
        has_email=has_email,
        placeholder=placeholder,
        cents=np.zeros(size, np.int64),
    )


def simulate_lines(rng: np.random.Generator, orders: Orders) -> tuple[Lines, Ints]:
    """Order lines, and each order's total in cents (the sum of its lines)."""
    line_counts = rng.integers(1, p.MAX_LINES + 1, orders.count)
    order = np.repeat(np.arange(orders.count), line_counts)
    number = np.arange(len(order)) - np.repeat(np.cumsum(line_counts) - line_counts, line_counts) + 1
    quantity = rng.integers(1, p.MAX_QUANTITY + 1, len(order))
    prices = rng.lognormal(p.LINE_PRICE_LOG_MEAN, p.LINE_PRICE_LOG_SIGMA, len(order))
    cents = np.maximum(np.round(prices * 100), 1).astype(np.int64)
    lines = Lines(
        order=order,
        number=number,
        quantity=quantity,
        cents=cents,
        category=rng.integers(0, len(CATEGORIES), len(order)),
        product=rng.integers(1, p.PRODUCTS, len(order)),
    )
    totals = np.bincount(order, weights=cents * quantity, minlength=orders.count).astype(np.int64)
    return lines, totals


def create_order_tables(
    connection: duckdb.DuckDBPyConnection, orders: Orders, lines: Lines, first_order: int, first_line: int
) -> None:
    """orders_clean and order_items_clean (needs person_identity and account_ids), numbered
    from ``first_order`` and ``first_line`` (the lines' order numbers are already global)."""
    register(
        connection,
        "orders_numeric",
        {
            "order_number": first_order + np.arange(orders.count),
            "person": orders.person,
            "day": orders.day,
            "second": orders.second,
            "status": orders.status,
            "channel": orders.channel,
            "is_guest": orders.is_guest,
            "uses_duplicate": orders.uses_duplicate,
            "has_email": orders.has_email,
            "placeholder": orders.placeholder,
            "cents": orders.cents,
        },
    )
    register(
        connection,
        "lines_numeric",
        {
            "order_number": lines.order,
            "line_number": lines.number,
            "quantity": lines.quantity,
            "cents": lines.cents,
            "category": lines.category,
            "product": lines.product,
        },
    )
    connection.execute(
        f"""create table orders_clean as
        select
            'O' || lpad(cast(orders.order_number + 1 as varchar), 9, '0') as order_id,
            case when not orders.is_guest then coalesce(
                case when orders.uses_duplicate then duplicate_account.customer_id end,
                main_account.customer_id) end as customer_id,
            case
                when orders.placeholder then '{PLACEHOLDER_EMAIL}'
                when orders.has_email then identity.email
            end as email,
            at_second(orders.day * {p.SECONDS_PER_DAY} + orders.second) as ordered_at,
            {sql_list(ORDER_STATUSES)}[orders.status + 1] as status,
            cast(orders.cents / 100 as decimal(18, 2)) as order_total,
            {sql_list(ORDER_CHANNELS)}[orders.channel + 1] as channel,
            orders.person,
            orders.order_number + 1 as position
        from orders_numeric as orders
        inner join person_identity as identity on orders.person = identity.person
        left join account_ids as main_account
            on orders.person = main_account.person and not main_account.is_duplicate_account
        left join account_ids as duplicate_account
            on orders.person = duplicate_account.person and duplicate_account.is_duplicate_account"""
    )
    connection.execute(
        f"""create table order_items_clean as
        select
            'O' || lpad(cast(order_number + 1 as varchar), 9, '0') as order_id,
            line_number,
            'SKU' || lpad(cast(product as varchar), 5, '0') as product_id,
            {sql_list(CATEGORIES)}[category + 1] as category,
            quantity,
            cast(cents / 100 as decimal(18, 4)) as unit_price,
            {first_line} + row_number() over (order by order_number, line_number) as position
        from lines_numeric"""
    )
