"""``segments generate``: a deterministic, realistic synthetic raw folder.

Randomness comes from one numpy generator seeded by ``--seed`` and is drawn in a fixed
order, vectorised (no Python loop over people or events). The arrays go to DuckDB, which
builds the text columns and writes each table sorted by a unique position, so the same
arguments give byte-identical files.

Every rate and shape parameter is a named constant below; docs/generator.md explains them.
The generator also writes ground truth under ``DIR/_truth/`` (the loader ignores
subdirectories): ``identifiers.parquet`` maps every identifier to its true person and
``defects.parquet`` lists every deliberately bad row by table and file position.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from segments.contract import TABLES
from segments.errors import CommandError

# --- people --------------------------------------------------------------------------------
ACCOUNT_SHARE = 0.80  # people with a CRM account
GUEST_BUYER_SHARE = 0.50  # of people without an account: buy as guests by email
PHONE_SHARE = 0.70  # accounts that give a phone
DUPLICATE_ACCOUNT_SHARE = 0.03  # accounts whose person opens a second account
EMAIL_CHANGE_SHARE = 0.05  # accounts whose email changes in a later version
MEAN_EXTRA_VERSIONS = 1.0  # Poisson mean of CRM updates after creation
OPT_IN_SHARE = 0.60  # accounts that consent to marketing
PRE_SIGNUP_BROWSING_DAYS = 30  # anonymous browsing may start this long before signup
MEAN_ACTIVE_DAYS = 420  # exponential lifetime before a person churns
DUPLICATE_ACCOUNT_DELAY_DAYS = (30, 200)  # a second account opens this many days after the first (high exclusive)
VERSION_GAP_DAYS = (20, 120)  # days between successive CRM versions of an account (high exclusive)
OPT_IN_FLIP_SHARE = 0.1  # CRM versions whose marketing consent differs from the person's
AGE_YEARS = (18, 80)  # age range at the birth-date anchor (high exclusive)
BIRTH_ANCHOR_DAYS_BEFORE_END = 180  # ages are counted at this many days before --end-date
# --- orders --------------------------------------------------------------------------------
PROSPECT_SHARE = 0.12  # account holders who never order
ORDER_COUNT_SHAPE = 0.6  # negative binomial n: many one-time buyers, long tail
ORDER_COUNT_P = 0.25  # negative binomial p (mean extra orders = n(1-p)/p)
GUEST_CHECKOUT_SHARE = 0.15  # orders by account holders placed as guest (email only)
SECOND_ACCOUNT_ORDER_SHARE = 0.5  # orders of a person with two accounts placed from the second
ORDER_EMAIL_SHARE = 0.70  # logged-in orders that also carry the checkout email
LINE_PRICE_LOG_MEAN = 3.0  # log-normal unit price: median about 20
LINE_PRICE_LOG_SIGMA = 0.8
MAX_LINES = 5
MAX_QUANTITY = 3
STATUS_SHARES = {"completed": 0.90, "cancelled": 0.05, "returned": 0.05}
CHANNEL_SHARES = {"web": 0.60, "app": 0.25, "store": 0.15}
WEEKEND_WEIGHT = 1.3  # weekly seasonality: Saturday and Sunday
PEAK_SEASON_WEIGHT = 1.8  # yearly seasonality: November and December
# --- web, app, email -----------------------------------------------------------------------
WEB_SHARE = 0.85
MEAN_EXTRA_COOKIES = 0.7
MEAN_WEB_SESSIONS = 4.0
MEAN_EVENTS_PER_SESSION = 3.0
LOGGED_IN_SESSION_SHARE = 0.60
WEB_EVENT_SHARES = {
    "page_view": 0.50,
    "product_view": 0.30,
    "add_to_cart": 0.12,
    "checkout": 0.04,
    "purchase": 0.04,
}
DEVICE_TYPES = ("desktop", "mobile", "tablet")
APP_SHARE = 0.30  # account holders with the app
SECOND_DEVICE_SHARE = 0.30
LOGGED_IN_APP_SESSION_SHARE = 0.9  # app sessions with a logged-in user
MEAN_APP_SESSIONS = 4.0
APP_EVENT_SHARES = {"screen_view": 0.55, "product_view": 0.30, "add_to_cart": 0.10, "purchase": 0.05}
SHARED_DEVICE_SHARE = 0.01  # app devices (tablets) on which a second person logs in
SHARED_COOKIE_SHARE = 0.005  # cookies on which a second person logs in
CAMPAIGN_EVERY_DAYS = 14
CAMPAIGN_REACH = 0.5  # share of opted-in accounts each campaign is sent to
EMAIL_FUNNEL = {"delivered": 0.97, "open": 0.25, "click": 0.04, "bounce": 0.03, "unsubscribe": 0.003}
LATE_EVENT_SHARE = 0.01  # event rows appended at the end of the file, out of time order
# --- placeholders and privacy --------------------------------------------------------------
PLACEHOLDER_EMAIL = "test@example.com"
PLACEHOLDER_PHONE = "0000000000"
PLACEHOLDER_GUEST_EMAIL_SHARE = 0.01  # guest orders typed with the placeholder email
PLACEHOLDER_PHONE_SHARE = 0.01  # CRM records with the placeholder phone
ERASURE_SHARE = 0.005  # accounts that ask for erasure
ERASURE_START_DAYS_BEFORE_END = 180  # the first erasure request is this many days before --end-date
ERASURE_SPREAD_DAYS = 150  # later requests follow one a day, cycling over this many days
# --- bad rows: (table, defect) -> share of that table's rows -------------------------------
DEFECT_RATES: dict[tuple[str, str], float] = {
    ("customers", "null_key"): 0.002,
    ("customers", "malformed_email"): 0.002,
    ("orders", "null_key"): 0.002,
    ("orders", "zero_total"): 0.001,
    ("orders", "negative_total"): 0.001,
    ("orders", "future_timestamp"): 0.001,
    ("orders", "malformed_email"): 0.002,
    ("orders", "duplicate_delivery"): 0.002,
    ("order_items", "null_key"): 0.001,
    ("order_items", "orphan_order_item"): 0.002,
    ("web_events", "null_key"): 0.002,
    ("web_events", "future_timestamp"): 0.001,
    ("web_events", "duplicate_delivery"): 0.005,
    ("app_events", "null_key"): 0.002,
    ("app_events", "future_timestamp"): 0.001,
    ("app_events", "duplicate_delivery"): 0.005,
    ("email_events", "null_key"): 0.002,
    ("email_events", "malformed_email"): 0.002,
    ("email_events", "future_timestamp"): 0.001,
    ("email_events", "duplicate_delivery"): 0.005,
}
FUTURE_YEARS = (5, 15)  # future timestamps lie this many years after the end of history

FIRST_NAMES = (
    "ana", "ben", "chloe", "david", "emma", "felix", "grace", "hugo", "iris", "jack",
    "kate", "leo", "maya", "noah", "olga", "paul", "quinn", "rosa", "sam", "tara",
)
LAST_NAMES = (
    "smith", "jones", "garcia", "muller", "rossi", "dubois", "silva", "novak", "kim", "ito",
    "brown", "martin", "lopez", "weber", "costa", "berg", "nowak", "lee", "sato", "khan",
)
DOMAINS = ("example.org", "mail.test", "inbox.test", "post.test")
CITIES = ("london", "paris", "berlin", "madrid", "rome", "lisbon", "vienna", "prague")
COUNTRIES = ("GB", "FR", "DE", "ES", "IT", "PT", "AT", "CZ")
LOYALTY_TIERS = ("bronze", "silver", "gold", "platinum")
CATEGORIES = ("home", "garden", "toys", "fashion", "beauty", "books", "electronics", "sports")
SECONDS_PER_DAY = 86_400
DUCKDB_MEMORY_LIMIT = "6GB"


@dataclass(frozen=True)
class Settings:
    customers: int
    seed: int
    end_date: date
    days: int
    shift_date: date | None
    shift_purchase_factor: float


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--customers", type=int, required=True, help="number of people")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--end-date", type=date.fromisoformat, default=date(2026, 6, 30),
        help="last day of history (default 2026-06-30)",
    )
    parser.add_argument("--days", type=int, default=730, help="days of history (default 730)")
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument(
        "--shift-date", type=date.fromisoformat, default=None,
        help="from this date on, multiply every purchase rate by --shift-purchase-factor",
    )
    parser.add_argument("--shift-purchase-factor", type=float, default=1.0)


def run(args: argparse.Namespace) -> int:
    if args.customers < 1:
        raise CommandError("--customers must be at least 1")
    if args.days < 30:
        raise CommandError("--days must be at least 30")
    if not 0 <= args.shift_purchase_factor <= 1:
        raise CommandError("--shift-purchase-factor must lie between 0 and 1")
    settings = Settings(
        args.customers, args.seed, args.end_date, args.days, args.shift_date,
        args.shift_purchase_factor,
    )
    counts = generate(settings, args.out, args.format)
    for table_name, rows in counts.items():
        print(f"{table_name}: {rows:,} rows")
    return 0


class Progress:
    """One line per stage on stderr with the elapsed time."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:7.1f}s] {message}", file=sys.stderr, flush=True)


def choice_codes(rng: np.random.Generator, shares: dict[str, float], size: int) -> np.ndarray:
    probabilities = np.array(list(shares.values()))
    return rng.choice(len(shares), size=size, p=probabilities / probabilities.sum()).astype(np.int8)


def sql_list(values: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join("'" + value + "'" for value in values) + "]"


def day_weights(settings: Settings) -> np.ndarray:
    """Relative purchase weight of each day of history: weekends and the peak season."""
    start = settings.end_date - timedelta(days=settings.days - 1)
    days = [start + timedelta(days=offset) for offset in range(settings.days)]
    weights = np.array(
        [
            (WEEKEND_WEIGHT if day.weekday() >= 5 else 1.0)
            * (PEAK_SEASON_WEIGHT if day.month in (11, 12) else 1.0)
            for day in days
        ]
    )
    return weights


def sample_days(
    rng: np.random.Generator, cumulative: np.ndarray, first: np.ndarray, last: np.ndarray
) -> np.ndarray:
    """A day in [first, last] per row, drawn with the seasonal day weights."""
    low = np.where(first > 0, cumulative[np.maximum(first - 1, 0)], 0.0)
    high = cumulative[last]
    targets = low + rng.random(len(first)) * (high - low)
    return np.minimum(np.searchsorted(cumulative, targets, side="right"), last)


def generate(settings: Settings, out: Path, file_format: str = "parquet") -> dict[str, int]:
    """Write the raw folder and its ground truth; return the row count of every table."""
    progress = Progress()
    rng = np.random.default_rng(settings.seed)
    people = settings.customers
    horizon = settings.days
    start_day = settings.end_date - timedelta(days=horizon - 1)
    start_epoch = int(datetime(start_day.year, start_day.month, start_day.day, tzinfo=timezone.utc).timestamp())
    weights = day_weights(settings)
    cumulative = np.cumsum(weights)
    birth_anchor = settings.end_date - timedelta(days=BIRTH_ANCHOR_DAYS_BEFORE_END)
    erasure_start = settings.end_date - timedelta(days=ERASURE_START_DAYS_BEFORE_END)

    # people
    person = np.arange(people, dtype=np.int64)
    has_account = rng.random(people) < ACCOUNT_SHARE
    is_guest_buyer = ~has_account & (rng.random(people) < GUEST_BUYER_SHARE)
    signup_day = rng.integers(0, horizon, people)
    active_days = rng.exponential(MEAN_ACTIVE_DAYS, people).astype(np.int64)
    churn_day = np.minimum(signup_day + active_days, horizon - 1)
    has_phone = has_account & (rng.random(people) < PHONE_SHARE)
    has_duplicate = has_account & (rng.random(people) < DUPLICATE_ACCOUNT_SHARE)
    email_changes = has_account & (rng.random(people) < EMAIL_CHANGE_SHARE)
    is_opted_in = has_account & (rng.random(people) < OPT_IN_SHARE)
    first_name = rng.integers(0, len(FIRST_NAMES), people)
    last_name = rng.integers(0, len(LAST_NAMES), people)
    domain = rng.integers(0, len(DOMAINS), people)
    progress(f"people: {people:,}")

    # CRM versions: one account per holder, a second account for duplicates
    account_person = np.concatenate([person[has_account], person[has_duplicate]])
    account_is_duplicate = np.concatenate(
        [np.zeros(has_account.sum(), bool), np.ones(has_duplicate.sum(), bool)]
    )
    account_number = np.arange(len(account_person), dtype=np.int64)
    account_created_day = np.where(
        account_is_duplicate,
        np.minimum(signup_day[account_person] + rng.integers(*DUPLICATE_ACCOUNT_DELAY_DAYS, len(account_person)), horizon - 1),
        signup_day[account_person],
    )
    versions = 1 + rng.poisson(MEAN_EXTRA_VERSIONS, len(account_person))
    version_account = np.repeat(account_number, versions)
    version_index = np.arange(len(version_account)) - np.repeat(np.cumsum(versions) - versions, versions)
    version_day = np.minimum(
        account_created_day[version_account] + version_index * rng.integers(*VERSION_GAP_DAYS, len(version_account)),
        horizon - 1,
    )
    version_person = account_person[version_account]
    version_uses_new_email = email_changes[version_person] & (version_index >= 1) & (versions[version_account] > 1) & (version_index == versions[version_account] - 1)
    version_placeholder_phone = rng.random(len(version_account)) < PLACEHOLDER_PHONE_SHARE
    progress(f"crm versions: {len(version_account):,}")

    # orders
    buyers = (has_account & (rng.random(people) >= PROSPECT_SHARE)) | is_guest_buyer
    order_counts = np.where(
        buyers, 1 + rng.negative_binomial(ORDER_COUNT_SHAPE, ORDER_COUNT_P, people), 0
    )
    order_person = np.repeat(person, order_counts)
    order_day = sample_days(rng, cumulative, signup_day[order_person], churn_day[order_person])
    if settings.shift_date is not None and settings.shift_purchase_factor < 1:
        shift_day = (settings.shift_date - start_day).days
        kept = (order_day < shift_day) | (rng.random(len(order_day)) < settings.shift_purchase_factor)
        order_person, order_day = order_person[kept], order_day[kept]
    orders = len(order_person)
    order_second = rng.integers(6 * 3600, 23 * 3600, orders)
    order_status = choice_codes(rng, STATUS_SHARES, orders)
    order_channel = choice_codes(rng, CHANNEL_SHARES, orders)
    order_is_guest = ~has_account[order_person] | (rng.random(orders) < GUEST_CHECKOUT_SHARE)
    order_uses_duplicate = has_duplicate[order_person] & (rng.random(orders) < SECOND_ACCOUNT_ORDER_SHARE)
    order_has_email = order_is_guest | (rng.random(orders) < ORDER_EMAIL_SHARE)
    order_placeholder = order_is_guest & (rng.random(orders) < PLACEHOLDER_GUEST_EMAIL_SHARE)
    line_counts = rng.integers(1, MAX_LINES + 1, orders)
    line_order = np.repeat(np.arange(orders), line_counts)
    line_number = np.arange(len(line_order)) - np.repeat(np.cumsum(line_counts) - line_counts, line_counts) + 1
    line_quantity = rng.integers(1, MAX_QUANTITY + 1, len(line_order))
    line_cents = np.maximum(
        np.round(rng.lognormal(LINE_PRICE_LOG_MEAN, LINE_PRICE_LOG_SIGMA, len(line_order)) * 100), 1
    ).astype(np.int64)
    line_category = rng.integers(0, len(CATEGORIES), len(line_order))
    line_product = rng.integers(1, 5000, len(line_order))
    order_cents = np.bincount(line_order, weights=line_cents * line_quantity, minlength=orders).astype(np.int64)
    progress(f"orders: {orders:,}, order items: {len(line_order):,}")

    # web: cookies, sessions, events
    web_people = person[rng.random(people) < WEB_SHARE]
    cookie_counts = 1 + rng.poisson(MEAN_EXTRA_COOKIES, len(web_people))
    cookie_person = np.repeat(web_people, cookie_counts)
    cookie_device = rng.integers(0, len(DEVICE_TYPES), len(cookie_person))
    cookie_first = np.repeat(np.cumsum(cookie_counts) - cookie_counts, cookie_counts)
    person_cookie_first = np.full(people, -1)
    person_cookie_first[web_people] = np.cumsum(cookie_counts) - cookie_counts
    person_cookie_count = np.zeros(people, np.int64)
    person_cookie_count[web_people] = cookie_counts
    del cookie_first
    session_counts = rng.poisson(MEAN_WEB_SESSIONS, people) + order_counts
    session_counts[person_cookie_count == 0] = 0
    session_person = np.repeat(person, session_counts)
    session_cookie = person_cookie_first[session_person] + (
        rng.random(len(session_person)) * person_cookie_count[session_person]
    ).astype(np.int64)
    session_day = sample_days(
        rng, cumulative,
        np.maximum(signup_day[session_person] - PRE_SIGNUP_BROWSING_DAYS, 0),
        churn_day[session_person],
    )
    session_logged_in = (
        has_account[session_person]
        & (session_day >= signup_day[session_person])
        & (rng.random(len(session_person)) < LOGGED_IN_SESSION_SHARE)
    )
    session_user = session_person.copy()
    # shared cookies: a second account holder logs in on someone else's cookie
    account_holders = person[has_account]
    shared_cookies = rng.choice(
        len(cookie_person), size=int(len(cookie_person) * SHARED_COOKIE_SHARE), replace=False
    )
    shared_cookie_guest = (
        rng.choice(account_holders, size=len(shared_cookies))
        if len(account_holders)
        else np.zeros(0, np.int64)
    )
    distinct = shared_cookie_guest != cookie_person[shared_cookies]
    shared_cookies, shared_cookie_guest = shared_cookies[distinct], shared_cookie_guest[distinct]
    extra_session_cookie = np.repeat(shared_cookies, 2)
    extra_session_user = np.repeat(shared_cookie_guest, 2)
    session_cookie = np.concatenate([session_cookie, extra_session_cookie])
    session_user = np.concatenate([session_user, extra_session_user])
    session_day = np.concatenate([session_day, np.maximum(signup_day[extra_session_user], 0)])
    session_logged_in = np.concatenate([session_logged_in, np.ones(len(extra_session_user), bool)])
    sessions = len(session_cookie)
    session_start = session_day * SECONDS_PER_DAY + rng.integers(0, SECONDS_PER_DAY - 3600, sessions)
    event_counts = 1 + rng.poisson(MEAN_EVENTS_PER_SESSION, sessions)
    event_session = np.repeat(np.arange(sessions), event_counts)
    event_offset = rng.exponential(60.0, len(event_session)).astype(np.int64)
    event_second = session_start[event_session] + np.cumsum(event_offset) - np.repeat(
        np.cumsum(np.bincount(event_session, weights=event_offset, minlength=sessions)) - np.bincount(event_session, weights=event_offset, minlength=sessions), event_counts
    ).astype(np.int64)
    event_type = choice_codes(rng, WEB_EVENT_SHARES, len(event_session))
    event_product = rng.integers(1, 5000, len(event_session))
    progress(f"web sessions: {sessions:,}, web events: {len(event_session):,}")

    # app: devices, sessions, events
    app_people = person[has_account & (rng.random(people) < APP_SHARE)]
    device_counts = 1 + (rng.random(len(app_people)) < SECOND_DEVICE_SHARE)
    device_person = np.repeat(app_people, device_counts)
    device_platform = rng.integers(0, 2, len(device_person))
    app_session_counts = rng.poisson(MEAN_APP_SESSIONS, len(device_person)) + 1
    app_session_device = np.repeat(np.arange(len(device_person)), app_session_counts)
    app_session_user = device_person[app_session_device]
    shared_devices = rng.choice(len(device_person), size=int(len(device_person) * SHARED_DEVICE_SHARE), replace=False) if len(device_person) > 1 else np.array([], np.int64)
    shared_device_guest = device_person[(shared_devices + 1) % len(device_person)] if len(shared_devices) else np.array([], np.int64)
    keep = shared_device_guest != device_person[shared_devices] if len(shared_devices) else np.array([], bool)
    shared_devices, shared_device_guest = shared_devices[keep], shared_device_guest[keep]
    app_session_device = np.concatenate([app_session_device, np.repeat(shared_devices, 3)])
    app_session_user = np.concatenate([app_session_user, np.repeat(shared_device_guest, 3)])
    app_sessions = len(app_session_device)
    app_session_day = sample_days(
        rng, cumulative, signup_day[app_session_user], np.maximum(churn_day[app_session_user], signup_day[app_session_user])
    )
    app_session_logged_in = rng.random(app_sessions) < LOGGED_IN_APP_SESSION_SHARE
    app_session_start = app_session_day * SECONDS_PER_DAY + rng.integers(0, SECONDS_PER_DAY - 3600, app_sessions)
    app_event_counts = 1 + rng.poisson(MEAN_EVENTS_PER_SESSION, app_sessions)
    app_event_session = np.repeat(np.arange(app_sessions), app_event_counts)
    app_event_index = np.arange(len(app_event_session)) - np.repeat(np.cumsum(app_event_counts) - app_event_counts, app_event_counts)
    app_event_second = app_session_start[app_event_session] + app_event_index * rng.integers(5, 120, len(app_event_session))
    app_event_name = np.where(app_event_index == 0, 0, 1 + choice_codes(rng, APP_EVENT_SHARES, len(app_event_session)))
    progress(f"app sessions: {app_sessions:,}, app events: {len(app_event_session):,}")

    # email: campaigns to opted-in account holders after signup
    campaign_days = np.arange(0, horizon, CAMPAIGN_EVERY_DAYS)
    opted = person[is_opted_in]
    reach = rng.binomial(len(campaign_days), CAMPAIGN_REACH, len(opted))
    send_person = np.repeat(opted, reach)
    send_campaign = rng.integers(0, len(campaign_days), len(send_person))
    send_ok = campaign_days[send_campaign] >= signup_day[send_person]
    send_person, send_campaign = send_person[send_ok], send_campaign[send_ok]
    sends = len(send_person)
    send_second = campaign_days[send_campaign] * SECONDS_PER_DAY + 9 * 3600 + rng.integers(0, 3600, sends)
    funnel = {name: rng.random(sends) for name in EMAIL_FUNNEL}
    bounced = funnel["bounce"] < EMAIL_FUNNEL["bounce"]
    delivered = ~bounced & (funnel["delivered"] < EMAIL_FUNNEL["delivered"] / (1 - EMAIL_FUNNEL["bounce"]))
    opened = delivered & (funnel["open"] < EMAIL_FUNNEL["open"])
    clicked = opened & (funnel["click"] < EMAIL_FUNNEL["click"] / EMAIL_FUNNEL["open"])
    unsubscribed = opened & (funnel["unsubscribe"] < EMAIL_FUNNEL["unsubscribe"] / EMAIL_FUNNEL["open"])
    stage_masks = [np.ones(sends, bool), delivered, opened, clicked, bounced, unsubscribed]
    stage_delays = [0, 60, 7200, 7500, 120, 7600]
    email_send = np.concatenate([np.flatnonzero(mask) for mask in stage_masks])
    email_stage = np.concatenate([np.full(mask.sum(), index, np.int8) for index, mask in enumerate(stage_masks)])
    email_second = send_second[email_send] + np.array(stage_delays)[email_stage] + rng.integers(0, 600, len(email_send))
    progress(f"email sends: {sends:,}, email events: {len(email_send):,}")

    # erasure requests
    erased_accounts = rng.choice(
        np.flatnonzero(~account_is_duplicate), size=int(np.count_nonzero(~account_is_duplicate) * ERASURE_SHARE), replace=False
    )
    erasure_kind = rng.integers(0, 3, len(erased_accounts))  # 0 customer_id, 1 email, 2 both

    connection = duckdb.connect(":memory:")
    connection.execute("set TimeZone = 'UTC'")
    connection.execute("set preserve_insertion_order = true")
    # bounded memory: DuckDB spills sorts and joins to disk beyond this
    connection.execute(f"set memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
    spill_directory = tempfile.mkdtemp(prefix="segments_generate_")
    connection.execute(f"set temp_directory = '{spill_directory}'")

    def register(name: str, columns: dict[str, np.ndarray]) -> None:
        connection.register(name, pa.table({key: np.asarray(value) for key, value in columns.items()}))

    register("people", {
        "person": person, "first_name": first_name, "last_name": last_name, "domain": domain,
        "has_phone": has_phone, "is_opted_in": is_opted_in,
    })
    register("account_versions", {
        "account_number": version_account, "person": version_person,
        "is_duplicate_account": account_is_duplicate[version_account],
        "version_index": version_index, "version_day": version_day,
        "created_day": account_created_day[version_account],
        "uses_new_email": version_uses_new_email, "placeholder_phone": version_placeholder_phone,
        "tier": rng.integers(0, len(LOYALTY_TIERS), len(version_account)),
        "city": rng.integers(0, len(CITIES), len(version_account)),
        "opt_in_flip": rng.random(len(version_account)) < OPT_IN_FLIP_SHARE,
        "second": rng.integers(0, SECONDS_PER_DAY, len(version_account)),
        "birth_offset": rng.integers(AGE_YEARS[0] * 365, AGE_YEARS[1] * 365, len(version_account)),
    })
    register("orders_numeric", {
        "order_number": np.arange(orders), "person": order_person, "day": order_day,
        "second": order_second, "status": order_status, "channel": order_channel,
        "is_guest": order_is_guest, "uses_duplicate": order_uses_duplicate,
        "has_email": order_has_email, "placeholder": order_placeholder, "cents": order_cents,
    })
    register("lines_numeric", {
        "order_number": line_order, "line_number": line_number, "quantity": line_quantity,
        "cents": line_cents, "category": line_category, "product": line_product,
    })
    register("cookies", {"cookie_number": np.arange(len(cookie_person)), "person": cookie_person, "device": cookie_device})
    register("web_sessions", {
        "session_number": np.arange(sessions), "cookie_number": session_cookie, "user_person": session_user,
        "logged_in": session_logged_in,
    })
    register("web_numeric", {
        "event_number": np.arange(len(event_session)), "session_number": event_session,
        "second": event_second, "event_type": event_type, "product": event_product,
    })
    register("devices", {"device_number": np.arange(len(device_person)), "person": device_person, "platform": device_platform})
    register("app_sessions", {
        "session_number": np.arange(app_sessions), "device_number": app_session_device,
        "user_person": app_session_user, "logged_in": app_session_logged_in,
    })
    register("app_numeric", {
        "event_number": np.arange(len(app_event_session)), "session_number": app_event_session,
        "second": app_event_second, "event_name": app_event_name,
    })
    register("email_numeric", {
        "event_number": np.arange(len(email_send)), "person": send_person[email_send],
        "campaign": send_campaign[email_send], "stage": email_stage, "second": email_second,
    })
    register("erasures", {
        "request_number": np.arange(len(erased_accounts)), "account_number": erased_accounts, "kind": erasure_kind,
    })
    connection.execute(
        "create macro at_second(seconds) as "
        f"make_timestamp(({start_epoch} + seconds) * 1000000::bigint)"
    )
    connection.execute(
        f"""create table person_identity as
        select
            person,
            'P' || lpad(cast(person + 1 as varchar), 8, '0') as person_id,
            {sql_list(FIRST_NAMES)}[first_name + 1] as first_name,
            {sql_list(LAST_NAMES)}[last_name + 1] as last_name,
            {sql_list(FIRST_NAMES)}[first_name + 1] || '.' || {sql_list(LAST_NAMES)}[last_name + 1]
                || '.' || cast(person + 1 as varchar) || '@' || {sql_list(DOMAINS)}[domain + 1] as email,
            'new.' || {sql_list(FIRST_NAMES)}[first_name + 1] || '.' || cast(person + 1 as varchar)
                || '@' || {sql_list(DOMAINS)}[(domain + 1) % {len(DOMAINS)} + 1] as new_email,
            case when has_phone then '44' || lpad(cast(person + 1 as varchar), 8, '0') end as phone,
            is_opted_in
        from people"""
    )
    # person's current email: the new one once it changed
    connection.execute(
        """create table account_ids as
        select distinct account_number, person, is_duplicate_account,
            'C' || lpad(cast(account_number + 1 as varchar), 8, '0') as customer_id
        from account_versions"""
    )
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
            ['female', 'male', 'other'][versions.person % 3 + 1] as gender,
            {sql_list(CITIES)}[versions.city + 1] as city,
            {sql_list(COUNTRIES)}[versions.city + 1] as country,
            {sql_list(LOYALTY_TIERS)}[versions.tier + 1] as loyalty_tier,
            identity.is_opted_in != versions.opt_in_flip as marketing_opt_in,
            at_second(versions.created_day * {SECONDS_PER_DAY} + versions.second % 3600) as created_at,
            at_second(versions.version_day * {SECONDS_PER_DAY} + versions.second) as updated_at,
            versions.person,
            row_number() over (order by versions.account_number, versions.version_index) as position
        from account_versions as versions
        inner join account_ids on versions.account_number = account_ids.account_number
        inner join person_identity as identity on versions.person = identity.person"""
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
            at_second(orders.day * {SECONDS_PER_DAY} + orders.second) as ordered_at,
            {sql_list(list(STATUS_SHARES))}[orders.status + 1] as status,
            cast(orders.cents / 100 as decimal(18, 2)) as order_total,
            {sql_list(list(CHANNEL_SHARES))}[orders.channel + 1] as channel,
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
            row_number() over (order by order_number, line_number) as position
        from lines_numeric"""
    )
    connection.execute(
        f"""create table web_events_clean as
        select
            'W' || lpad(cast(events.event_number + 1 as varchar), 10, '0') as event_id,
            'anon-' || lpad(cast(sessions.cookie_number + 1 as varchar), 9, '0') as anonymous_id,
            case when sessions.logged_in then account_ids.customer_id end as user_id,
            'ws-' || cast(sessions.session_number + 1 as varchar) as session_id,
            {sql_list(list(WEB_EVENT_SHARES))}[events.event_type + 1] as event_type,
            case {sql_list(list(WEB_EVENT_SHARES))}[events.event_type + 1]
                when 'page_view' then '/'
                when 'checkout' then '/checkout'
                when 'purchase' then '/checkout/complete'
                else '/products/SKU' || lpad(cast(events.product as varchar), 5, '0')
            end as page_path,
            case when events.event_type in (1, 2)
                then 'SKU' || lpad(cast(events.product as varchar), 5, '0') end as product_id,
            at_second(events.second) as occurred_at,
            {sql_list(DEVICE_TYPES)}[cookies.device + 1] as device_type,
            events.event_number + 1 as position
        from web_numeric as events
        inner join web_sessions as sessions on events.session_number = sessions.session_number
        inner join cookies on sessions.cookie_number = cookies.cookie_number
        left join account_ids
            on sessions.user_person = account_ids.person and not account_ids.is_duplicate_account"""
    )
    connection.execute(
        f"""create table app_events_clean as
        select
            'A' || lpad(cast(events.event_number + 1 as varchar), 10, '0') as event_id,
            'dev-' || lpad(cast(sessions.device_number + 1 as varchar), 8, '0') as device_id,
            case when sessions.logged_in then account_ids.customer_id end as user_id,
            'as-' || cast(sessions.session_number + 1 as varchar) as session_id,
            ['app_open', 'screen_view', 'product_view', 'add_to_cart', 'purchase'][events.event_name + 1]
                as event_name,
            at_second(events.second) as occurred_at,
            ['ios', 'android'][devices.platform + 1] as platform,
            events.event_number + 1 as position
        from app_numeric as events
        inner join app_sessions as sessions on events.session_number = sessions.session_number
        inner join devices on sessions.device_number = devices.device_number
        left join account_ids
            on sessions.user_person = account_ids.person and not account_ids.is_duplicate_account"""
    )
    connection.execute(
        f"""create table email_events_clean as
        select
            'E' || lpad(cast(events.event_number + 1 as varchar), 10, '0') as event_id,
            identity.email,
            'CMP' || lpad(cast(events.campaign + 1 as varchar), 4, '0') as campaign_id,
            ['sent', 'delivered', 'open', 'click', 'bounce', 'unsubscribe'][events.stage + 1] as event_type,
            at_second(events.second) as occurred_at,
            events.event_number + 1 as position
        from email_numeric as events
        inner join person_identity as identity on events.person = identity.person"""
    )
    connection.execute(
        f"""create table erasure_requests_clean as
        select
            'R' || lpad(cast(erasures.request_number + 1 as varchar), 6, '0') as request_id,
            case when erasures.kind in (0, 2) then account_ids.customer_id end as customer_id,
            case when erasures.kind in (1, 2) then identity.email end as email,
            timestamp '{erasure_start}' + to_days(erasures.request_number % {ERASURE_SPREAD_DAYS})
                as requested_at,
            erasures.request_number + 1 as position
        from erasures
        inner join account_ids on erasures.account_number = account_ids.account_number
        inner join person_identity as identity on account_ids.person = identity.person"""
    )
    progress("tables assembled")

    counts = inject_defects_and_write(
        connection, rng, horizon * SECONDS_PER_DAY, out, file_format, progress
    )
    write_truth(connection, out)
    progress(f"ground truth written to {out / '_truth'}")
    connection.close()
    shutil.rmtree(spill_directory, ignore_errors=True)
    return counts


KEYS = {
    "customers": "customer_id",
    "orders": "order_id",
    "order_items": "order_id",
    "web_events": "event_id",
    "app_events": "event_id",
    "email_events": "event_id",
}
TIMESTAMPS = {"orders": "ordered_at", "web_events": "occurred_at", "app_events": "occurred_at", "email_events": "occurred_at"}
LATE_TABLES = ("web_events", "app_events", "email_events")


def inject_defects_and_write(
    connection: duckdb.DuckDBPyConnection,
    rng: np.random.Generator,
    horizon_seconds: int,
    out: Path,
    file_format: str,
    progress: Progress,
) -> dict[str, int]:
    """Apply the documented defects, order the rows, write every table and defects.parquet."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "_truth").mkdir(exist_ok=True)
    counts: dict[str, int] = {}
    defect_selects: list[str] = []
    for table in TABLES:
        name = table.name
        rows = connection.execute(f"select count(*) from {name}_clean").fetchall()[0][0]
        defect_names = [defect for (table_name, defect) in DEFECT_RATES if table_name == name]
        # one defect at most per row; drawn in a fixed order for determinism
        codes = np.zeros(rows, np.int8)
        draws = rng.random(rows)
        threshold = 0.0
        for index, defect in enumerate(defect_names, start=1):
            rate = DEFECT_RATES[(name, defect)]
            codes[(draws >= threshold) & (draws < threshold + rate)] = index
            threshold += rate
        is_late = (rng.random(rows) < LATE_EVENT_SHARE) if name in LATE_TABLES else np.zeros(rows, bool)
        future_seconds = rng.integers(FUTURE_YEARS[0] * 365 * 86400, FUTURE_YEARS[1] * 365 * 86400, rows)
        connection.register(
            f"{name}_flags",
            pa.table({"position": np.arange(1, rows + 1), "defect_code": codes, "is_late": is_late, "future_seconds": future_seconds}),
        )
        defect_case = "case flags.defect_code " + " ".join(
            f"when {index} then '{defect}'" for index, defect in enumerate(defect_names, start=1)
        ) + " end" if defect_names else "null"
        replacements: dict[str, str] = {}
        key = KEYS.get(name)
        if key:
            replacements[key] = f"case when defect = 'null_key' then null else clean.{key} end"
        if name == "order_items":
            replacements["order_id"] = (
                "case when defect = 'null_key' then null "
                "when defect = 'orphan_order_item' then 'O-MISSING-' || cast(clean.position as varchar) "
                "else clean.order_id end"
            )
        if name in TIMESTAMPS:
            column = TIMESTAMPS[name]
            replacements[column] = (
                f"case when defect = 'future_timestamp' then at_second({horizon_seconds} + "
                f"clean.future_seconds) else clean.{column} end"
            )
        if "email" in table.column_names and ("orders" == name or name in ("customers", "email_events")):
            replacements["email"] = (
                "case when defect = 'malformed_email' then replace(coalesce(clean.email, 'someone@mail.test'), '@', '(at)') "
                "else clean.email end"
            )
        if name == "orders":
            replacements["order_total"] = (
                "case when defect = 'zero_total' then 0.00 "
                "when defect = 'negative_total' then -clean.order_total else clean.order_total end"
            )
        columns = ",\n    ".join(replacements.get(column, f"clean.{column}") + f" as {column}" for column in table.column_names)
        connection.execute(
            f"""create view {name}_flagged as
            with joined as (
                select clean.*, flags.is_late, flags.future_seconds, {defect_case} as defect
                from {name}_clean as clean
                inner join {name}_flags as flags using (position)
            )
            select {columns}, defect, is_late, position
            from joined as clean"""
        )
        # duplicates are delivered again: appended after the late rows, as a second copy
        connection.execute(
            f"""create view {name}_final as
            with delivered as (
                select *, 0 as copy from {name}_flagged
                union all
                select * replace ('duplicate_delivery' as defect), 1 as copy
                from {name}_flagged where defect = 'duplicate_delivery'
            )
            select * exclude (copy), row_number() over (order by copy, is_late, position) as file_row
            from delivered"""
        )
        columns_list = ", ".join(table.column_names)
        target = out / f"{name}.{file_format}"
        options = "(format parquet, compression zstd, row_group_size 1000000)" if file_format == "parquet" else "(format csv, header true)"
        written = connection.execute(
            f"copy (select {columns_list} from {name}_final order by file_row) to '{target}' {options}"
        ).fetchall()
        counts[name] = int(written[0][0])
        for other in ("parquet", "csv"):
            stale = out / f"{name}.{other}"
            if other != file_format and stale.exists():
                stale.unlink()
        # the first copy of a duplicated row is fine; only the re-delivery is the defect
        defect_selects.append(
            f"select '{name}' as table_name, file_row as raw_row_id, defect from {name}_final "
            f"where defect is not null and (defect != 'duplicate_delivery' or file_row > "
            f"(select count(*) from {name}_flagged))"
        )
        progress(f"{name}: {counts[name]:,} rows written")
    connection.execute(
        f"copy ({' union all '.join(defect_selects)} order by table_name, raw_row_id) "
        f"to '{out / '_truth' / 'defects.parquet'}' (format parquet)"
    )
    return counts


def write_truth(connection: duckdb.DuckDBPyConnection, out: Path) -> None:
    """identifiers.parquet: every identifier (normalised) with its true person(s)."""
    connection.execute(
        f"""copy (
        with pairs as (
            select 'customer_id' as identifier_type, customer_id as identifier_value, person
            from account_ids
            union
            select 'email', lower(trim(email)), person from customers_clean
            union
            select 'email', lower(trim(email)), person from orders_clean where email is not null
            union
            select 'email', email, person_identity.person from email_events_clean
            inner join person_identity using (email)
            union
            select 'phone', regexp_replace(phone, '[^0-9]', '', 'g'), person
            from customers_clean where phone is not null
            union
            select 'anonymous_id', 'anon-' || lpad(cast(cookie_number + 1 as varchar), 9, '0'), person
            from cookies
            union
            select 'anonymous_id', 'anon-' || lpad(cast(cookie_number + 1 as varchar), 9, '0'), user_person
            from web_sessions where logged_in
            union
            select 'device_id', 'dev-' || lpad(cast(device_number + 1 as varchar), 8, '0'), person
            from devices
            union
            select 'device_id', 'dev-' || lpad(cast(device_number + 1 as varchar), 8, '0'), user_person
            from app_sessions
        ),
        people_per_identifier as (
            select identifier_type, identifier_value, count(distinct person) as people
            from pairs group by all
        )
        select
            pairs.identifier_type,
            pairs.identifier_value,
            person_identity.person_id,
            people_per_identifier.people > 1 as is_shared,
            pairs.identifier_value in ('{PLACEHOLDER_EMAIL}', '{PLACEHOLDER_PHONE}') as is_placeholder
        from pairs
        inner join people_per_identifier using (identifier_type, identifier_value)
        inner join person_identity on pairs.person = person_identity.person
        order by all
        ) to '{out / '_truth' / 'identifiers.parquet'}' (format parquet)"""
    )
