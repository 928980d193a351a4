"""generate(): simulate each entity from its own seeded stream, assemble the tables, write."""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np

from segments.generation import parameters as p
from segments.generation.accounts import (
    create_account_tables,
    simulate_account_details,
    simulate_accounts,
)
from segments.generation.app import create_app_tables, simulate_app
from segments.generation.duck import connect
from segments.generation.email import create_email_tables, simulate_email
from segments.generation.erasures import create_erasure_tables, simulate_erasures
from segments.generation.orders import (
    create_order_tables,
    simulate_lines,
    simulate_orders,
)
from segments.generation.people import create_person_identity, simulate_people
from segments.generation.plant import plant_orders
from segments.generation.settings import Settings, day_weights, stream
from segments.generation.web import create_web_tables, simulate_web
from segments.generation.write import inject_defects_and_write, write_truth


class Progress:
    """One line per stage on stderr with the elapsed time."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:7.1f}s] {message}", file=sys.stderr, flush=True)


def generate(settings: Settings, out: Path, file_format: str = "parquet") -> dict[str, int]:
    """Write the raw folder and its ground truth; return the row count of every table."""
    progress = Progress()
    seed = settings.seed
    horizon = settings.days
    cumulative = np.cumsum(day_weights(settings))

    people = simulate_people(stream(seed, "people"), settings.customers, cumulative)
    progress(f"people: {people.count:,}")
    accounts = simulate_accounts(stream(seed, "accounts"), people, horizon)
    details = simulate_account_details(stream(seed, "details"), accounts.versions)
    progress(f"crm versions: {accounts.versions:,}")
    orders = simulate_orders(stream(seed, "orders"), stream(seed, "shift"), settings, people, cumulative)
    orders = plant_orders(settings, accounts, orders)  # --plant-lift only
    lines, totals = simulate_lines(stream(seed, "lines"), orders)
    orders = replace(orders, cents=totals)
    progress(f"orders: {orders.count:,}, order items: {len(lines.order):,}")
    web = simulate_web(stream(seed, "web"), people, orders.person_orders, cumulative)
    progress(f"web sessions: {web.sessions:,}, web events: {len(web.event_session):,}")
    app = simulate_app(stream(seed, "app"), people, cumulative)
    progress(f"app sessions: {app.sessions:,}, app events: {len(app.event_session):,}")
    email = simulate_email(stream(seed, "email"), people, horizon)
    progress(f"email events: {len(email.person):,}")
    erasures = simulate_erasures(stream(seed, "erasures"), accounts)

    spill_directory = tempfile.mkdtemp(prefix="segments_generate_")
    connection = connect(spill_directory, settings.start_epoch)
    create_person_identity(connection, people)
    birth_anchor = settings.end_date - timedelta(days=p.BIRTH_ANCHOR_DAYS_BEFORE_END)
    create_account_tables(connection, accounts, details, birth_anchor)
    create_order_tables(connection, orders, lines)
    create_web_tables(connection, web)
    create_app_tables(connection, app)
    create_email_tables(connection, email)
    first_request = settings.end_date - timedelta(days=p.ERASURE_START_DAYS_BEFORE_END)
    create_erasure_tables(connection, erasures, first_request)
    progress("tables assembled")

    counts = inject_defects_and_write(
        connection, stream(seed, "defects"), horizon * p.SECONDS_PER_DAY, out, file_format, progress
    )
    write_truth(connection, out)
    progress(f"ground truth written to {out / '_truth'}")
    connection.close()
    shutil.rmtree(spill_directory, ignore_errors=True)
    return counts
