"""Blocks of customers, the unit of randomness, and chunks of blocks, the unit of work.

Customers are numbered 0 to N - 1 and cut into blocks of ``CUSTOMERS_PER_BLOCK``. A block is
simulated on its own, every stage from the stream of (seed, stage, block), with its people
numbered from 0: shared cookies and devices pair two people of the same block, and every
row belongs to one person of the block. A chunk is a run of consecutive blocks: their
arrays are stacked, every index made global by adding the counts of the blocks (and chunks)
before it. So a block's rows, their numbers and their order are the same whatever chunk it
falls in, and the files are the same whatever ``--chunk-customers``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import TypeVar

import numpy as np

from segments.contract import TABLES
from segments.generation import parameters as p
from segments.generation.accounts import (
    AccountDetails,
    Accounts,
    simulate_account_details,
    simulate_accounts,
)
from segments.generation.app import App, simulate_app
from segments.generation.email import Email, simulate_email
from segments.generation.erasures import Erasures, simulate_erasures
from segments.generation.orders import Lines, Orders, simulate_lines, simulate_orders
from segments.generation.people import People, simulate_people
from segments.generation.plant import plant_orders
from segments.generation.settings import Bools, Codes, Floats, Ints, Settings, stream
from segments.generation.web import Web, simulate_web

LATE_TABLES = ("web_events", "app_events", "email_events")


@dataclass(frozen=True)
class Counters:
    """How many of each numbered thing: the first number of a block or chunk is the sum of
    the counters of everything before it."""

    people: int = 0
    accounts: int = 0
    versions: int = 0
    orders: int = 0
    lines: int = 0
    cookies: int = 0
    web_sessions: int = 0
    web_events: int = 0
    devices: int = 0
    app_sessions: int = 0
    app_events: int = 0
    email_events: int = 0
    requests: int = 0

    def __add__(self, other: Counters) -> Counters:
        return Counters(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


@dataclass(frozen=True)
class Flags:
    """Per row of a table, in position order: its defect (0 for none, else 1 + its index
    among the table's DEFECT_RATES), whether it arrives late, and its future timestamp."""

    code: Codes
    is_late: Bools
    future_seconds: Ints


@dataclass(frozen=True)
class Simulated:
    people: People
    accounts: Accounts
    details: AccountDetails
    orders: Orders
    lines: Lines
    web: Web
    app: App
    email: Email
    erasures: Erasures
    flags: dict[str, Flags]

    def counters(self) -> Counters:
        return Counters(
            people=self.people.count,
            accounts=len(self.accounts.account_person),
            versions=self.accounts.versions,
            orders=self.orders.count,
            lines=len(self.lines.order),
            cookies=len(self.web.cookie_person),
            web_sessions=self.web.sessions,
            web_events=len(self.web.event_session),
            devices=len(self.app.device_person),
            app_sessions=self.app.sessions,
            app_events=len(self.app.event_session),
            email_events=len(self.email.person),
            requests=len(self.erasures.account),
        )


def defect_names(table: str) -> list[str]:
    """The defects of a table, in the order their codes are numbered (from 1)."""
    return [defect for (table_name, defect) in p.DEFECT_RATES if table_name == table]


def table_rows(simulated: Simulated) -> dict[str, int]:
    """Rows of each contract table before defects (CRM versions are the customers rows)."""
    counts = simulated.counters()
    rows = {
        "customers": counts.versions,
        "orders": counts.orders,
        "order_items": counts.lines,
        "web_events": counts.web_events,
        "app_events": counts.app_events,
        "email_events": counts.email_events,
        "erasure_requests": counts.requests,
    }
    return {table.name: rows[table.name] for table in TABLES}


def draw_flags(rng: np.random.Generator, rows: dict[str, int]) -> dict[str, Flags]:
    """Defects (one at most per row, drawn in a fixed order), late arrival and future times."""
    flags: dict[str, Flags] = {}
    for name, count in rows.items():
        codes = np.zeros(count, np.int8)
        draws = rng.random(count)
        threshold = 0.0
        for index, defect in enumerate(defect_names(name), start=1):
            rate = p.DEFECT_RATES[(name, defect)]
            codes[(draws >= threshold) & (draws < threshold + rate)] = index
            threshold += rate
        is_late = (rng.random(count) < p.LATE_EVENT_SHARE) if name in LATE_TABLES else np.zeros(count, bool)
        future = rng.integers(p.FUTURE_YEARS[0] * 365 * 86400, p.FUTURE_YEARS[1] * 365 * 86400, count)
        flags[name] = Flags(code=codes, is_late=is_late, future_seconds=future)
    return flags


def simulate_block(settings: Settings, cumulative: Floats, block: int, first_account: int = 0) -> Simulated:
    """Every stage of one block, its people numbered from 0; ``first_account`` (the accounts of
    the blocks before it) names its customers for --plant-lift's holdout draw."""
    seed, horizon = settings.seed, settings.days
    people = simulate_people(stream(seed, "people", block), settings.block_size(block), cumulative)
    accounts = simulate_accounts(stream(seed, "accounts", block), people, horizon)
    details = simulate_account_details(stream(seed, "details", block), accounts.versions)
    orders = simulate_orders(stream(seed, "orders", block), stream(seed, "shift", block), settings, people, cumulative)
    orders = plant_orders(settings, accounts, orders, block, first_account)  # --plant-lift only
    lines, totals = simulate_lines(stream(seed, "lines", block), orders)
    orders = replace(orders, cents=totals)
    simulated = Simulated(
        people=people,
        accounts=accounts,
        details=details,
        orders=orders,
        lines=lines,
        web=simulate_web(stream(seed, "web", block), people, orders.person_orders, cumulative),
        app=simulate_app(stream(seed, "app", block), people, cumulative),
        email=simulate_email(stream(seed, "email", block), people, horizon),
        erasures=simulate_erasures(stream(seed, "erasures", block), accounts),
        flags={},
    )
    return replace(simulated, flags=draw_flags(stream(seed, "defects", block), table_rows(simulated)))


# Fields that hold a number of something: (part, field) -> the counter added when stacking.
INDEX_FIELDS: dict[tuple[str, str], str] = {
    ("people", "person"): "people",
    ("accounts", "account_person"): "people",
    ("accounts", "version_account"): "accounts",
    ("orders", "person"): "people",
    ("lines", "order"): "orders",
    ("web", "cookie_person"): "people",
    ("web", "session_cookie"): "cookies",
    ("web", "session_user"): "people",
    ("web", "event_session"): "web_sessions",
    ("app", "device_person"): "people",
    ("app", "session_device"): "devices",
    ("app", "session_user"): "people",
    ("app", "event_session"): "app_sessions",
    ("email", "person"): "people",
    ("erasures", "account"): "accounts",
}

Part = TypeVar("Part")


def stack_part(name: str, parts: list[Part], firsts: list[Counters]) -> Part:
    """One part (people, orders, ...) of consecutive blocks as one, indices made global."""
    columns: dict[str, Ints] = {}
    for field in fields(parts[0]):  # type: ignore[arg-type]
        counter = INDEX_FIELDS.get((name, field.name))
        arrays = [getattr(part, field.name) for part in parts]
        if counter is not None:
            arrays = [array + getattr(first, counter) for array, first in zip(arrays, firsts, strict=True)]
        columns[field.name] = np.concatenate(arrays)
    return type(parts[0])(**columns)


def simulate_chunk(
    settings: Settings, cumulative: Floats, blocks: list[int], first: Counters
) -> tuple[Simulated, Counters]:
    """The consecutive blocks of a chunk simulated and stacked, numbered from ``first``; and
    the counters after it."""
    simulated: list[Simulated] = []
    first_account = first.accounts
    for block in blocks:
        simulated.append(simulate_block(settings, cumulative, block, first_account))
        first_account += len(simulated[-1].accounts.account_person)
    return stack(simulated, first)


def stack(blocks: list[Simulated], first: Counters) -> tuple[Simulated, Counters]:
    """The blocks of a chunk as one, numbered from ``first``; and the counters after it."""
    firsts = [first]
    for block in blocks:
        firsts.append(firsts[-1] + block.counters())
    parts = {
        field.name: stack_part(field.name, [getattr(block, field.name) for block in blocks], firsts[:-1])
        for field in fields(Simulated)
        if field.name != "flags"
    }
    flags = {
        name: stack_part("flags", [block.flags[name] for block in blocks], firsts[:-1]) for name in blocks[0].flags
    }
    return Simulated(**parts, flags=flags), firsts[-1]


def chunks(settings: Settings) -> list[list[int]]:
    """The blocks of each chunk, in order."""
    per_chunk = settings.blocks_per_chunk
    return [
        list(range(start, min(start + per_chunk, settings.blocks))) for start in range(0, settings.blocks, per_chunk)
    ]
