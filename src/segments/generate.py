"""``segments generate``: a deterministic, realistic synthetic raw folder.

How it works. Every random draw comes from numpy, vectorised (no Python loop over people,
orders or events), from one generator per stage seeded by ``(seed, stage)``: a stage draws
the same numbers whatever another stage did, so ``--shift-date`` changes purchases after
the shift and nothing else. Each table is first simulated as numeric columns, defects are
drawn and applied, and the rows are put into their final file order in numpy. DuckDB then
only formats the text columns (a projection, no join and no sort) and streams the result
into the file, so the same arguments give byte-identical files.

Every rate and shape parameter is a named constant below; docs/generator.md documents
them. The ground truth goes under ``DIR/_truth/`` (the loader ignores subdirectories):
``identifiers.parquet`` maps every identifier, normalised as the warehouse normalises it,
to its true person, and ``defects.parquet`` lists every deliberately bad row by table and
1-based file position (the loader's ``_raw_row_id``).
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
import pyarrow.parquet as pq

from segments.contract import TABLES, TABLES_BY_NAME
from segments.errors import CommandError

Columns = dict[str, np.ndarray]

# --- people --------------------------------------------------------------------------------
ACCOUNT_SHARE = 0.80  # people with a CRM account
GUEST_BUYER_SHARE = 0.50  # of people without an account: buy as guests by email (rest browse)
PHONE_SHARE = 0.70  # accounts that give a phone
DUPLICATE_ACCOUNT_SHARE = 0.03  # account holders who open a second account later
DUPLICATE_ACCOUNT_DELAY_DAYS = (30, 200)  # the second account comes this many days later
GENDER_SHARES = {"female": 0.49, "male": 0.49, "other": 0.02}
AGE_YEARS = (18, 80)  # birth dates are uniform in this age range at the end date
MEAN_ACTIVE_DAYS = 420  # exponential lifetime after signup before a person churns
PRE_SIGNUP_BROWSING_DAYS = 30  # anonymous browsing may start this long before signup
# --- CRM versions --------------------------------------------------------------------------
MEAN_EXTRA_VERSIONS = 1.2  # Poisson mean of CRM updates after creation
VERSION_GAP_DAYS = (20, 150)  # days between two versions of an account
TIER_SHARES = {"bronze": 0.55, "silver": 0.30, "gold": 0.12, "platinum": 0.03}
TIER_UPGRADE_SHARE = 0.30  # a later version moves one tier up
MOVE_SHARE = 0.10  # accounts whose city changes in a later version
OPT_IN_SHARE = 0.60  # accounts that consent to marketing at signup
OPT_IN_CHANGE_SHARE = 0.10  # accounts whose consent flips in a later version
EMAIL_CHANGE_SHARE = 0.05  # accounts whose last version carries a new email
PLACEHOLDER_PHONE_SHARE = 0.03  # accounts without a phone that type 0000000000
# --- orders --------------------------------------------------------------------------------
PROSPECT_SHARE = 0.12  # account holders who never order
FIRST_ORDER_MEAN_DAYS = 7.0  # exponential delay from signup to the first order
PURCHASE_RATE_MEAN = 2.5  # repeat orders per active year, mean of the per-person gamma rate
PURCHASE_RATE_SHAPE = 0.35  # gamma shape: most buy once, a long tail buys often
GUEST_CHECKOUT_SHARE = 0.15  # orders by account holders placed as guest (email only)
DUPLICATE_ACCOUNT_ORDER_SHARE = 0.50  # orders after the second account that use it
ORDER_EMAIL_SHARE = 0.70  # logged-in orders that also carry the checkout email
PLACEHOLDER_GUEST_EMAIL_SHARE = 0.01  # guest orders typed with test@example.com
LINE_PRICE_LOG_MEAN = 3.0  # log-normal unit price: median exp(3.0) = 20.09
LINE_PRICE_LOG_SIGMA = 0.8
MAX_LINES = 5  # 1 to MAX_LINES lines per order, uniform
MAX_QUANTITY = 3  # 1 to MAX_QUANTITY units per line, uniform
PRODUCTS = 5000
STATUS_SHARES = {"completed": 0.90, "cancelled": 0.05, "returned": 0.05}
CHANNEL_SHARES = {"web": 0.60, "app": 0.25, "store": 0.15}
WEEKEND_WEIGHT = 1.3  # weekly seasonality: Saturday and Sunday
PEAK_SEASON_WEIGHT = 1.8  # yearly seasonality: November and December
# --- web -----------------------------------------------------------------------------------
WEB_SHARE = 0.85  # people who visit the web shop
MEAN_EXTRA_COOKIES = 0.7  # Poisson mean of further browsers (cookies) used one after another
MEAN_WEB_SESSIONS = 4.0  # Poisson mean of browsing sessions, plus one per order
LOGGED_IN_SESSION_SHARE = 0.60  # sessions after signup in which the person logs in
MEAN_EXTRA_EVENTS = 3.0  # events per session: 1 + Poisson(this)
MEAN_SECONDS_BETWEEN_EVENTS = 60.0  # exponential gap between two events of a session
WEB_EVENT_SHARES = {  # events after the landing page_view
    "page_view": 0.45,
    "product_view": 0.33,
    "add_to_cart": 0.12,
    "checkout": 0.05,
    "purchase": 0.05,
}
DEVICE_TYPE_SHARES = {"desktop": 0.45, "mobile": 0.45, "tablet": 0.10}
SHARED_COOKIE_SHARE = 0.005  # cookies on which a second person logs in (2 sessions)
# --- app -----------------------------------------------------------------------------------
APP_SHARE = 0.30  # account holders with the app
SECOND_DEVICE_SHARE = 0.30  # app users with a second device
MEAN_APP_SESSIONS = 5.0  # sessions per device: 1 + Poisson(this - 1)
APP_LOGGED_IN_SHARE = 0.90  # app sessions with user_id set
APP_EVENT_SHARES = {  # events after the app_open
    "screen_view": 0.55,
    "product_view": 0.30,
    "add_to_cart": 0.10,
    "purchase": 0.05,
}
APP_SECONDS_BETWEEN_EVENTS = (5, 120)  # uniform gap between two app events
PLATFORM_SHARES = {"ios": 0.55, "android": 0.45}
SHARED_DEVICE_SHARE = 0.02  # devices (family tablets) on which a second person logs in (3 sessions)
# --- email ---------------------------------------------------------------------------------
CAMPAIGN_EVERY_DAYS = 14  # one campaign every two weeks
CAMPAIGN_REACH = 0.50  # share of opted-in accounts each campaign is sent to
EMAIL_BOUNCE_RATE = 0.02  # of sends; a bounce stops further sends to that person
EMAIL_OPEN_RATE = 0.22  # of delivered
EMAIL_CLICK_RATE = 0.12  # of opened
EMAIL_UNSUBSCRIBE_RATE = 0.02  # of opened; stops further sends to that person
# --- placeholders, late rows, privacy ------------------------------------------------------
PLACEHOLDER_EMAIL = "test@example.com"
PLACEHOLDER_PHONE = "0000000000"
LATE_EVENT_SHARE = 0.01  # event rows appended at the end of the file, out of time order
ERASURE_SHARE = 0.005  # accounts that ask for erasure (by customer_id, email or both)
# --- bad rows ------------------------------------------------------------------------------
# Every defect, in code order (code = position + 1). line_of_bad_order is not drawn: it marks
# the lines of an order that carries a quarantined defect, which staging rejects with it.
DEFECTS = (
    "null_key",
    "zero_total",
    "negative_total",
    "future_timestamp",
    "malformed_email",
    "missing_identifier",
    "duplicate_delivery",
    "orphan_order_item",
    "line_of_bad_order",
)
# (table, defect) -> share of that table's simulated rows. At most one defect per row.
DEFECT_RATES: dict[tuple[str, str], float] = {
    ("customers", "null_key"): 0.002,
    ("customers", "malformed_email"): 0.002,
    ("orders", "null_key"): 0.002,
    ("orders", "zero_total"): 0.001,
    ("orders", "negative_total"): 0.001,
    ("orders", "future_timestamp"): 0.001,
    ("orders", "malformed_email"): 0.002,
    ("orders", "missing_identifier"): 0.001,
    ("orders", "duplicate_delivery"): 0.002,
    ("order_items", "null_key"): 0.001,
    ("order_items", "orphan_order_item"): 0.002,
    ("web_events", "null_key"): 0.002,
    ("web_events", "future_timestamp"): 0.001,
    ("web_events", "missing_identifier"): 0.001,
    ("web_events", "duplicate_delivery"): 0.005,
    ("app_events", "null_key"): 0.002,
    ("app_events", "future_timestamp"): 0.001,
    ("app_events", "missing_identifier"): 0.001,
    ("app_events", "duplicate_delivery"): 0.005,
    ("email_events", "null_key"): 0.002,
    ("email_events", "future_timestamp"): 0.001,
    ("email_events", "malformed_email"): 0.002,
    ("email_events", "duplicate_delivery"): 0.005,
}
# Order defects that staging quarantines, so it quarantines the order's lines too.
QUARANTINED_ORDER_DEFECTS = (
    "null_key", "negative_total", "future_timestamp", "malformed_email", "missing_identifier",
)
FUTURE_YEARS = (5, 15)  # future timestamps lie this many years after the end date
LATE_TABLES = ("web_events", "app_events", "email_events")
TABLE_NAMES = tuple(table.name for table in TABLES)

FIRST_NAMES = (
    "ana", "ben", "chloe", "david", "emma", "felix", "grace", "hugo", "iris", "jack",
    "kate", "leo", "maya", "noah", "olga", "paul", "quinn", "rosa", "sam", "tara",
)
LAST_NAMES = (
    "smith", "jones", "garcia", "muller", "rossi", "dubois", "silva", "novak", "kim", "ito",
    "brown", "martin", "lopez", "weber", "costa", "berg", "nowak", "lee", "sato", "khan",
)
DOMAINS = ("example.org", "mail.test", "inbox.test", "post.test")
CITIES = ("London", "Paris", "Berlin", "Madrid", "Rome", "Lisbon", "Vienna", "Prague")
COUNTRIES = ("GB", "FR", "DE", "ES", "IT", "PT", "AT", "CZ")
CATEGORIES = ("home", "garden", "toys", "fashion", "beauty", "books", "electronics", "sports")
STAGES = ("people", "crm", "orders", "shift", "web", "app", "email", "erasure", "defects")
SECONDS_PER_DAY = 86_400
DUCKDB_MEMORY_LIMIT = "6GB"
PARQUET_OPTIONS = "(format parquet, compression zstd, row_group_size 1000000)"
CSV_OPTIONS = "(format csv, header true)"


@dataclass(frozen=True)
class Settings:
    """What to generate: people, seed, the history window and the optional purchase shift."""

    customers: int
    seed: int
    end_date: date = date(2026, 6, 30)
    days: int = 730
    shift_date: date | None = None
    shift_purchase_factor: float = 1.0

    @property
    def start_date(self) -> date:
        return self.end_date - timedelta(days=self.days - 1)

    @property
    def start_epoch(self) -> int:
        """Unix seconds of the first moment of history (UTC)."""
        start = self.start_date
        return int(datetime(start.year, start.month, start.day, tzinfo=timezone.utc).timestamp())

    def rng(self, stage: str, part: int = 0) -> np.random.Generator:
        """The independent random generator of one stage (and part of it)."""
        return np.random.default_rng([self.seed, STAGES.index(stage), part])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--customers", type=int, required=True, help="number of people")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--end-date", type=date.fromisoformat, default=date(2026, 6, 30),
        help="last day of history (default 2026-06-30)",
    )
    parser.add_argument("--days", type=int, default=730, help="days of history (default 730)")
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet",
                        help="file format (default parquet)")
    parser.add_argument(
        "--shift-date", type=date.fromisoformat, default=None,
        help="from this date on, multiply every person's purchase rate by --shift-purchase-factor",
    )
    parser.add_argument("--shift-purchase-factor", type=float, default=1.0,
                        help="purchase-rate factor from --shift-date on (default 1: no shift)")


def run(args: argparse.Namespace) -> int:
    if args.customers < 1:
        raise CommandError("--customers must be at least 1")
    if args.seed < 0:
        raise CommandError("--seed must not be negative")
    if args.days < 30:
        raise CommandError("--days must be at least 30")
    if args.shift_purchase_factor < 0:
        raise CommandError("--shift-purchase-factor must not be negative")
    settings = Settings(
        args.customers, args.seed, args.end_date, args.days, args.shift_date,
        args.shift_purchase_factor,
    )
    counts = generate(settings, args.out, args.format)
    for table_name, rows in counts.items():
        print(f"{table_name}: {rows:,} rows")
    return 0


class Progress:
    """One line per stage on stderr with the elapsed seconds."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:7.1f}s] {message}", file=sys.stderr, flush=True)


# --- vectorised helpers --------------------------------------------------------------------


def choice_codes(rng: np.random.Generator, shares: dict[str, float], size: int) -> np.ndarray:
    """A category code (index into ``shares``) per row, drawn with the given shares."""
    probabilities = np.array(list(shares.values()))
    cumulative = np.cumsum(probabilities / probabilities.sum())
    return np.minimum(np.searchsorted(cumulative, rng.random(size), side="right"),
                      len(shares) - 1).astype(np.int8)


def group_starts(counts: np.ndarray) -> np.ndarray:
    """Start offset of each group when groups of ``counts`` rows are laid out one after another."""
    return np.cumsum(counts) - counts


def index_within(counts: np.ndarray) -> np.ndarray:
    """0, 1, ... within each group of ``counts`` rows."""
    return np.arange(int(counts.sum())) - np.repeat(group_starts(counts), counts)


def grouped_cumsum(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Running sum of ``values`` that restarts at every group of ``counts`` rows."""
    running = np.concatenate([[0], np.cumsum(values)])
    return running[1:] - np.repeat(running[group_starts(counts)], counts)


def day_weights(settings: Settings) -> np.ndarray:
    """Relative activity weight of each day of history: weekends and the peak season."""
    days = np.arange(settings.days)
    start = settings.start_date
    weekday = (start.weekday() + days) % 7
    month = np.array(
        [(start + timedelta(days=int(offset))).month for offset in range(settings.days)]
    )
    return np.where(weekday >= 5, WEEKEND_WEIGHT, 1.0) * np.where(
        np.isin(month, (11, 12)), PEAK_SEASON_WEIGHT, 1.0
    )


def weight_between(cumulative: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Total day weight of the days first..last (inclusive); 0 where last < first."""
    before = np.where(first > 0, cumulative[np.maximum(first - 1, 0)], 0.0)
    return np.where(last >= first, cumulative[np.maximum(last, 0)] - before, 0.0)


def sample_days(
    rng: np.random.Generator, cumulative: np.ndarray, first: np.ndarray, last: np.ndarray
) -> np.ndarray:
    """A day in [first, last] per row, drawn in proportion to the seasonal day weights."""
    low = np.where(first > 0, cumulative[np.maximum(first - 1, 0)], 0.0)
    high = cumulative[last]
    targets = low + rng.random(len(first)) * (high - low)
    return np.clip(np.searchsorted(cumulative, targets, side="right"), first, last)


def chronological(seconds: np.ndarray) -> np.ndarray:
    """The permutation that sorts rows by time, ties kept in their simulated order."""
    return np.argsort(seconds, kind="stable")


# --- simulation ----------------------------------------------------------------------------


def simulate_people(settings: Settings, cumulative: np.ndarray) -> Columns:
    """One row per person: who has an account, when they sign up and churn, their traits."""
    rng = settings.rng("people")
    n, horizon = settings.customers, settings.days
    has_account = rng.random(n) < ACCOUNT_SHARE
    signup_day = rng.integers(0, horizon, n)
    churn_day = np.minimum(signup_day + rng.exponential(MEAN_ACTIVE_DAYS, n).astype(np.int64),
                           horizon - 1)
    return {
        "person": np.arange(n, dtype=np.int64),
        "has_account": has_account,
        "is_guest_buyer": ~has_account & (rng.random(n) < GUEST_BUYER_SHARE),
        "signup_day": signup_day,
        "churn_day": churn_day,
        "has_phone": has_account & (rng.random(n) < PHONE_SHARE),
        "has_duplicate": has_account & (rng.random(n) < DUPLICATE_ACCOUNT_SHARE),
        "is_opted_in": has_account & (rng.random(n) < OPT_IN_SHARE),
        "first_name": rng.integers(0, len(FIRST_NAMES), n).astype(np.int8),
        "last_name": rng.integers(0, len(LAST_NAMES), n).astype(np.int8),
        "domain": rng.integers(0, len(DOMAINS), n).astype(np.int8),
        "gender": choice_codes(rng, GENDER_SHARES, n),
        "age_days": rng.integers(AGE_YEARS[0] * 365, AGE_YEARS[1] * 365, n),
        # repeat orders per day while active: a gamma rate, so counts are negative binomial
        "purchase_rate": rng.gamma(PURCHASE_RATE_SHAPE, PURCHASE_RATE_MEAN / PURCHASE_RATE_SHAPE, n)
        / 365.0,
    }


def simulate_accounts(settings: Settings, people: Columns) -> tuple[Columns, Columns]:
    """CRM accounts (numbered by creation time) and their versions (one row per update)."""
    rng = settings.rng("crm")
    horizon = settings.days
    main_person = np.flatnonzero(people["has_account"])
    duplicate_person = np.flatnonzero(people["has_duplicate"])
    person = np.concatenate([main_person, duplicate_person])
    is_duplicate = np.arange(len(person)) >= len(main_person)
    created_day = people["signup_day"][person] + np.where(
        is_duplicate, rng.integers(*DUPLICATE_ACCOUNT_DELAY_DAYS, len(person)), 0
    )
    created_second = rng.integers(0, SECONDS_PER_DAY, len(person))
    keep = created_day < horizon  # a second account planned after the end never opens
    order = np.lexsort((np.arange(len(person)), created_second, created_day))
    order = order[keep[order]]
    accounts: Columns = {
        "account_number": np.arange(len(order), dtype=np.int64),
        "person": person[order],
        "is_duplicate_account": is_duplicate[order],
        "created_day": created_day[order],
        "created_second": created_second[order],
    }
    count = len(order)
    accounts["has_phone"] = people["has_phone"][accounts["person"]]
    accounts["placeholder_phone"] = ~accounts["has_phone"] & (rng.random(count) < PLACEHOLDER_PHONE_SHARE)
    # phones are written in one of three formats; a duplicate account uses another one
    accounts["phone_format"] = ((accounts["person"] + accounts["is_duplicate_account"]) % 3).astype(np.int8)

    planned = 1 + rng.poisson(MEAN_EXTRA_VERSIONS, count)
    account = np.repeat(accounts["account_number"], planned)
    version_index = index_within(planned)
    gaps = np.where(version_index == 0, 0, rng.integers(*VERSION_GAP_DAYS, len(account)))
    version_day = accounts["created_day"][account] + grouped_cumsum(gaps, planned)
    kept = version_day < horizon  # updated_at strictly increases and stays in history
    account, version_index, version_day = account[kept], version_index[kept], version_day[kept]
    versions_per_account = np.bincount(account, minlength=count)
    last_index = versions_per_account[account] - 1

    def changes_at(share: float) -> np.ndarray:
        """Per version: whether a one-off change (drawn per account) has happened by then."""
        changing = rng.random(count) < share
        at = 1 + (rng.random(count) * np.maximum(versions_per_account - 1, 0)).astype(np.int64)
        return changing[account] & (versions_per_account[account] > 1) & (version_index >= at[account])

    upgrades = (version_index > 0) & (rng.random(len(account)) < TIER_UPGRADE_SHARE)
    base_tier = choice_codes(rng, TIER_SHARES, count)
    moved, new_city = changes_at(MOVE_SHARE), rng.integers(0, len(CITIES), count)
    base_city = rng.integers(0, len(CITIES), count)
    opt_in_flipped = changes_at(OPT_IN_CHANGE_SHARE)
    email_changed = ~accounts["is_duplicate_account"][account] & (last_index > 0) & (
        version_index == last_index
    ) & (rng.random(count) < EMAIL_CHANGE_SHARE)[account]
    versions: Columns = {
        "account_number": account,
        "person": accounts["person"][account],
        "version_index": version_index,
        "version_day": version_day,
        "version_second": np.where(version_index == 0, accounts["created_second"][account],
                                   rng.integers(0, SECONDS_PER_DAY, len(account))),
        "tier": np.minimum(base_tier[account] + grouped_cumsum(upgrades, versions_per_account),
                           len(TIER_SHARES) - 1).astype(np.int8),
        "city": np.where(moved, new_city[account], base_city[account]).astype(np.int8),
        "opted_in": people["is_opted_in"][accounts["person"][account]] != opt_in_flipped,
        "uses_new_email": email_changed,
    }
    return accounts, versions


def order_attributes(
    rng: np.random.Generator, people: Columns, accounts: Columns, person: np.ndarray,
    day: np.ndarray,
) -> tuple[Columns, Columns]:
    """Attributes and lines of the given orders (a person and a day each)."""
    size = len(person)
    main_account = np.full(len(people["person"]), -1)
    duplicate_account = np.full(len(people["person"]), -1)
    duplicate_created = np.full(len(people["person"]), np.iinfo(np.int64).max)
    is_dup = accounts["is_duplicate_account"]
    main_account[accounts["person"][~is_dup]] = accounts["account_number"][~is_dup]
    duplicate_account[accounts["person"][is_dup]] = accounts["account_number"][is_dup]
    duplicate_created[accounts["person"][is_dup]] = accounts["created_day"][is_dup]

    is_guest = (main_account[person] < 0) | (rng.random(size) < GUEST_CHECKOUT_SHARE)
    uses_duplicate = (day >= duplicate_created[person]) & (rng.random(size) < DUPLICATE_ACCOUNT_ORDER_SHARE)
    account = np.where(is_guest, -1, np.where(uses_duplicate, duplicate_account[person], main_account[person]))
    has_email = is_guest | (rng.random(size) < ORDER_EMAIL_SHARE)
    orders: Columns = {
        "person": person,
        "day": day,
        "second": rng.integers(6 * 3600, 23 * 3600, size),
        "status": choice_codes(rng, STATUS_SHARES, size),
        "channel": choice_codes(rng, CHANNEL_SHARES, size),
        "account": account,
        "has_email": has_email,
        "placeholder_email": is_guest & (rng.random(size) < PLACEHOLDER_GUEST_EMAIL_SHARE),
    }
    line_counts = rng.integers(1, MAX_LINES + 1, size)
    line_order = np.repeat(np.arange(size), line_counts)
    cents = np.maximum(np.round(rng.lognormal(LINE_PRICE_LOG_MEAN, LINE_PRICE_LOG_SIGMA,
                                              len(line_order)) * 100), 1).astype(np.int64)
    quantity = rng.integers(1, MAX_QUANTITY + 1, len(line_order))
    lines: Columns = {
        "order_row": line_order,
        "line_number": index_within(line_counts) + 1,
        "product": rng.integers(1, PRODUCTS + 1, len(line_order)),
        "category": rng.integers(0, len(CATEGORIES), len(line_order)).astype(np.int8),
        "quantity": quantity,
        "cents": cents,
    }
    orders["total_cents"] = np.bincount(line_order, weights=cents * quantity, minlength=size).astype(np.int64)
    return orders, lines


def simulate_orders(
    settings: Settings, people: Columns, accounts: Columns, cumulative: np.ndarray
) -> tuple[Columns, Columns, np.ndarray]:
    """Orders (chronological) and their lines, plus every person's unshifted order count.

    A buyer orders once soon after signup, then repeats as a Poisson process with the
    person's gamma rate, scaled by the seasonal day weights, until churn. The shift thins
    later orders (factor < 1) or adds more from a separate generator (factor > 1), so the
    orders before the shift date are the same as without a shift.
    """
    rng = settings.rng("orders")
    signup, churn = people["signup_day"], people["churn_day"]
    is_buyer = (people["has_account"] & (rng.random(len(signup)) >= PROSPECT_SHARE)) | people["is_guest_buyer"]
    first_day = np.minimum(signup + rng.exponential(FIRST_ORDER_MEAN_DAYS, len(signup)).astype(np.int64), churn)
    repeats = rng.poisson(people["purchase_rate"] * weight_between(cumulative, signup, churn))
    counts = np.where(is_buyer, 1 + repeats, 0)
    person = np.repeat(people["person"], counts)
    day = np.where(index_within(counts) == 0, first_day[person],
                   sample_days(rng, cumulative, signup[person], churn[person]))
    orders, lines = order_attributes(rng, people, accounts, person, day)

    factor = settings.shift_purchase_factor
    if settings.shift_date is not None and factor != 1.0:
        shift_rng = settings.rng("shift")
        shift_day = (settings.shift_date - settings.start_date).days
        after = orders["day"] >= shift_day
        kept = ~after | (shift_rng.random(len(after)) < min(factor, 1.0))
        orders = {name: values[kept] for name, values in orders.items()}
        row_map = np.cumsum(kept) - 1
        line_kept = kept[lines["order_row"]]
        lines = {name: values[line_kept] for name, values in lines.items()}
        lines["order_row"] = row_map[lines["order_row"]]
        if factor > 1.0:
            first = np.maximum(signup, max(shift_day, 0))
            extra_counts = np.where(is_buyer, shift_rng.poisson(
                (factor - 1.0) * people["purchase_rate"] * weight_between(cumulative, first, churn)
            ), 0)
            extra_person = np.repeat(people["person"], extra_counts)
            extra_day = sample_days(shift_rng, cumulative, first[extra_person], churn[extra_person])
            extra_orders, extra_lines = order_attributes(shift_rng, people, accounts, extra_person, extra_day)
            extra_lines["order_row"] = extra_lines["order_row"] + len(orders["day"])
            orders = {name: np.concatenate([orders[name], extra_orders[name]]) for name in orders}
            lines = {name: np.concatenate([lines[name], extra_lines[name]]) for name in lines}

    # number the orders chronologically and lay the lines out in that order
    order = chronological(orders["day"] * SECONDS_PER_DAY + orders["second"])
    orders = {name: values[order] for name, values in orders.items()}
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    lines["order_row"] = rank[lines["order_row"]]
    line_order = np.lexsort((lines["line_number"], lines["order_row"]))
    lines = {name: values[line_order] for name, values in lines.items()}
    return orders, lines, counts


def simulate_web(settings: Settings, people: Columns, order_counts: np.ndarray,
                 cumulative: np.ndarray) -> tuple[Columns, Columns]:
    """Web sessions (cookie, true user) and events, chronological.

    A visitor uses one cookie (browser) after another over their active window. Sessions
    before signup are anonymous; after signup a share log in part-way, so the first events
    of a session carry only the cookie. A few cookies are shared: another account holder
    logs in on them.
    """
    rng = settings.rng("web")
    n = len(people["person"])
    signup, churn = people["signup_day"], people["churn_day"]
    visits = rng.random(n) < WEB_SHARE
    cookie_counts = np.where(visits, 1 + rng.poisson(MEAN_EXTRA_COOKIES, n), 0)
    cookie_first = group_starts(cookie_counts)
    cookie_owner = np.repeat(people["person"], cookie_counts)
    cookie_device = choice_codes(rng, DEVICE_TYPE_SHARES, len(cookie_owner))

    session_counts = np.where(visits, rng.poisson(MEAN_WEB_SESSIONS, n) + order_counts, 0)
    user = np.repeat(people["person"], session_counts)
    first = np.maximum(signup[user] - PRE_SIGNUP_BROWSING_DAYS, 0)
    day = sample_days(rng, cumulative, first, churn[user])
    # browsers follow one another: the cookie is chosen by the session's place in the window
    place = (day - first) / (churn[user] - first + 1)
    cookie = cookie_first[user] + (place * cookie_counts[user]).astype(np.int64)
    logged_in = (people["has_account"][user] & (day >= signup[user])
                 & (rng.random(len(user)) < LOGGED_IN_SESSION_SHARE))

    account_holders = np.flatnonzero(people["has_account"])
    shared = rng.choice(len(cookie_owner), size=int(len(cookie_owner) * SHARED_COOKIE_SHARE), replace=False)
    guest = (rng.choice(account_holders, size=len(shared)) if len(account_holders)
             else np.zeros(0, np.int64))
    distinct = guest != cookie_owner[shared]
    shared, guest = np.repeat(shared[distinct], 2), np.repeat(guest[distinct], 2)
    guest_day = sample_days(rng, cumulative, signup[guest], np.maximum(churn[guest], signup[guest]))
    sessions: Columns = {
        "cookie": np.concatenate([cookie, shared]),
        "user": np.concatenate([user, guest]),
        "day": np.concatenate([day, guest_day]),
        "logged_in": np.concatenate([logged_in, np.ones(len(guest), bool)]),
    }
    sessions["cookie_owner"] = cookie_owner[sessions["cookie"]]
    sessions["device"] = cookie_device[sessions["cookie"]]
    count = len(sessions["cookie"])
    start = sessions["day"] * SECONDS_PER_DAY + rng.integers(0, SECONDS_PER_DAY - 3600, count)
    event_counts = 1 + rng.poisson(MEAN_EXTRA_EVENTS, count)
    login_index = (rng.random(count) * event_counts).astype(np.int64)
    session = np.repeat(np.arange(count), event_counts)
    index = index_within(event_counts)
    gap = np.where(index == 0, 0, rng.exponential(MEAN_SECONDS_BETWEEN_EVENTS, len(session)).astype(np.int64))
    events: Columns = {
        "session": session,
        "second": start[session] + grouped_cumsum(gap, event_counts),
        "event_type": np.where(index == 0, 0, choice_codes(rng, WEB_EVENT_SHARES, len(session))).astype(np.int8),
        "product": rng.integers(1, PRODUCTS + 1, len(session)),
        "is_logged_in": sessions["logged_in"][session] & (index >= login_index[session]),
    }
    order = chronological(events["second"])
    return sessions, {name: values[order] for name, values in events.items()}


def simulate_app(settings: Settings, people: Columns, cumulative: np.ndarray) -> tuple[Columns, Columns]:
    """App sessions (device, true user) and events, chronological; a few devices are shared."""
    rng = settings.rng("app")
    signup, churn = people["signup_day"], people["churn_day"]
    app_people = np.flatnonzero(people["has_account"] & (rng.random(len(signup)) < APP_SHARE))
    device_owner = np.repeat(app_people, 1 + (rng.random(len(app_people)) < SECOND_DEVICE_SHARE))
    device_platform = choice_codes(rng, PLATFORM_SHARES, len(device_owner))
    session_counts = 1 + rng.poisson(MEAN_APP_SESSIONS - 1, len(device_owner))
    device = np.repeat(np.arange(len(device_owner)), session_counts)
    user = device_owner[device]
    shared = rng.choice(len(device_owner), size=int(len(device_owner) * SHARED_DEVICE_SHARE), replace=False)
    guest = device_owner[(shared + 1) % max(len(device_owner), 1)]
    distinct = guest != device_owner[shared]
    shared, guest = np.repeat(shared[distinct], 3), np.repeat(guest[distinct], 3)
    sessions: Columns = {
        "device": np.concatenate([device, shared]),
        "user": np.concatenate([user, guest]),
    }
    sessions["device_owner"] = device_owner[sessions["device"]]
    sessions["platform"] = device_platform[sessions["device"]]
    count = len(sessions["device"])
    session_user = sessions["user"]
    day = sample_days(rng, cumulative, signup[session_user], churn[session_user])
    sessions["logged_in"] = np.concatenate([
        rng.random(len(device)) < APP_LOGGED_IN_SHARE, np.ones(len(guest), bool),
    ])
    start = day * SECONDS_PER_DAY + rng.integers(0, SECONDS_PER_DAY - 3600, count)
    event_counts = 1 + rng.poisson(MEAN_EXTRA_EVENTS, count)
    session = np.repeat(np.arange(count), event_counts)
    index = index_within(event_counts)
    gap = np.where(index == 0, 0, rng.integers(*APP_SECONDS_BETWEEN_EVENTS, len(session)))
    events: Columns = {
        "session": session,
        "second": start[session] + grouped_cumsum(gap, event_counts),
        "event_name": np.where(index == 0, 0, 1 + choice_codes(rng, APP_EVENT_SHARES, len(session))).astype(np.int8),
    }
    order = chronological(events["second"])
    return sessions, {name: values[order] for name, values in events.items()}


EMAIL_STAGES = ("sent", "delivered", "open", "click", "bounce", "unsubscribe")


def simulate_email(settings: Settings, people: Columns) -> Columns:
    """Campaign events to opted-in account holders, chronological.

    Each campaign reaches a random share of the people opted in and signed up by then. A
    send is delivered or bounces; delivered mail may be opened, then clicked or lead to an
    unsubscribe. After a bounce or an unsubscribe a person gets no further campaign.
    """
    rng = settings.rng("email")
    campaign_day = np.arange(0, settings.days, CAMPAIGN_EVERY_DAYS)
    opted = np.flatnonzero(people["is_opted_in"])
    reached = (rng.random((len(opted), len(campaign_day))) < CAMPAIGN_REACH) & (
        campaign_day[None, :] >= people["signup_day"][opted][:, None]
    )
    row, campaign = np.nonzero(reached)  # by person, then campaign
    sends_per_person = np.bincount(row, minlength=len(opted))
    bounced = rng.random(len(row)) < EMAIL_BOUNCE_RATE
    opened = ~bounced & (rng.random(len(row)) < EMAIL_OPEN_RATE)
    clicked = opened & (rng.random(len(row)) < EMAIL_CLICK_RATE)
    unsubscribed = opened & (rng.random(len(row)) < EMAIL_UNSUBSCRIBE_RATE)
    stopping = (bounced | unsubscribed).astype(np.int64)
    still_subscribed = grouped_cumsum(stopping, sends_per_person) - stopping == 0
    masks = [
        mask[still_subscribed]
        for mask in (np.ones(len(row), bool), ~bounced, opened, clicked, bounced, unsubscribed)
    ]
    row, campaign = row[still_subscribed], campaign[still_subscribed]
    sent_second = campaign_day[campaign] * SECONDS_PER_DAY + 9 * 3600 + rng.integers(0, 3600, len(row))
    open_delay = rng.exponential(6 * 3600, len(row)).astype(np.int64) + 300
    delays = [0, 60, open_delay, open_delay + 90, 120, open_delay + 150]
    send = np.concatenate([np.flatnonzero(mask) for mask in masks])
    stage = np.concatenate([np.full(int(mask.sum()), index, np.int8) for index, mask in enumerate(masks)])
    delay = np.concatenate([np.broadcast_to(value, len(row))[mask] for value, mask in zip(delays, masks)])
    second = sent_second[send] + delay
    order = np.lexsort((stage, send, second))
    return {
        "person": opted[row[send[order]]],
        "campaign": campaign[send[order]],
        "stage": stage[order],
        "second": second[order],
    }


def simulate_erasures(settings: Settings, accounts: Columns) -> Columns:
    """Erasure requests for a share of main accounts, by customer_id, email or both."""
    rng = settings.rng("erasure")
    main = np.flatnonzero(~accounts["is_duplicate_account"])
    chosen = np.sort(rng.choice(main, size=int(len(main) * ERASURE_SHARE), replace=False))
    day = rng.integers(accounts["created_day"][chosen], settings.days)
    second = day * SECONDS_PER_DAY + rng.integers(0, SECONDS_PER_DAY, len(chosen))
    order = chronological(second)
    return {
        "account": chosen[order],
        "person": accounts["person"][chosen[order]],
        "kind": rng.integers(0, 3, len(chosen)).astype(np.int8)[order],  # 0 id, 1 email, 2 both
        "second": second[order],
    }


# --- defects and file order ----------------------------------------------------------------


def draw_defects(settings: Settings, table_name: str, rows: int) -> np.ndarray:
    """A defect code per simulated row (0 = clean), at most one per row, at the documented rates."""
    rng = settings.rng("defects", TABLE_NAMES.index(table_name))
    codes = np.zeros(rows, np.int8)
    draws = rng.random(rows)
    threshold = 0.0
    for (name, defect), rate in DEFECT_RATES.items():
        if name == table_name:
            codes[(draws >= threshold) & (draws < threshold + rate)] = DEFECTS.index(defect) + 1
            threshold += rate
    return codes


def file_layout(settings: Settings, table_name: str, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The simulated row behind each file row, and each file row's defect code.

    Rows keep their simulated (chronological) order, except late event rows, which are
    appended after the others, and re-delivered rows, appended as exact copies after those.
    Only the copy counts as a duplicate_delivery defect: the first delivery is clean.
    """
    rows = len(codes)
    if table_name in LATE_TABLES:
        is_late = settings.rng("defects", len(TABLE_NAMES) + TABLE_NAMES.index(table_name)).random(rows) < LATE_EVENT_SHARE
        layout = np.argsort(is_late, kind="stable")
    else:
        layout = np.arange(rows)
    duplicate = DEFECTS.index("duplicate_delivery") + 1
    source = np.concatenate([layout, np.flatnonzero(codes == duplicate)])
    file_codes = codes[source]
    file_codes[:rows][file_codes[:rows] == duplicate] = 0
    return source, file_codes


def sql_list(values: tuple[str, ...] | list[str]) -> str:
    """A DuckDB list literal, indexed 1-based by a code + 1."""
    return "[" + ", ".join("'" + value + "'" for value in values) + "]"


def is_defect(defect: str) -> str:
    """SQL condition: the row carries this defect."""
    return f"defect = {DEFECTS.index(defect) + 1}"


NAME_SQL = f"{sql_list(FIRST_NAMES)}[first_name + 1]"
SURNAME_SQL = f"{sql_list(LAST_NAMES)}[last_name + 1]"
NUMBER_SQL = "cast(person + 1 as varchar)"
EMAIL_SQL = f"{NAME_SQL} || '.' || {SURNAME_SQL} || '.' || {NUMBER_SQL} || '@' || {sql_list(DOMAINS)}[domain + 1]"
NEW_EMAIL_SQL = (
    f"'new.' || {NAME_SQL} || '.' || {NUMBER_SQL} || '@' || {sql_list(DOMAINS)}[(domain + 1) % {len(DOMAINS)} + 1]"
)
# a duplicate account's email: the same address with other case and stray blanks
VARIANT_EMAIL_SQL = f"""case when person % 2 = 0
    then '  ' || upper({NAME_SQL}[1]) || {NAME_SQL}[2:] || '.' || upper({SURNAME_SQL}[1])
        || {SURNAME_SQL}[2:] || '.' || {NUMBER_SQL} || '@' || upper({sql_list(DOMAINS)}[domain + 1]) || ' '
    else upper({EMAIL_SQL}) end"""
PHONE_DIGITS_SQL = "'44' || printf('%08d', person + 1)"


def malformed_email_sql(email: str) -> str:
    """Three ways an email is mistyped; none passes the warehouse's email check."""
    return (f"case person % 3 when 0 then replace({email}, '@', '(at)') "
            f"when 1 then replace({email}, '@', '') else replace({email}, '.', '') end")


def timestamp_sql(day: str, second: str) -> str:
    """The timestamp at a day of history and a second of that day, or a future one for the defect."""
    future = f"at_second((future_day + {day}) * {SECONDS_PER_DAY} + {second})"
    return f"case when {is_defect('future_timestamp')} then {future} else at_second({day} * {SECONDS_PER_DAY} + {second}) end"


def customer_id_sql(column: str) -> str:
    return f"case when {column} >= 0 then printf('C%08d', {column} + 1) end"


def projections(settings: Settings, order_count: int) -> dict[str, dict[str, str]]:
    """Per table: the SQL expression of every contract column over the numeric file rows."""
    end = settings.end_date.isoformat()
    phone_formats = f"""case phone_format
        when 0 then {PHONE_DIGITS_SQL}
        when 1 then '+' || substr({PHONE_DIGITS_SQL}, 1, 2) || ' ' || substr({PHONE_DIGITS_SQL}, 3, 4)
            || ' ' || substr({PHONE_DIGITS_SQL}, 7)
        else '(' || substr({PHONE_DIGITS_SQL}, 1, 2) || ') ' || substr({PHONE_DIGITS_SQL}, 3, 3)
            || '-' || substr({PHONE_DIGITS_SQL}, 6) end"""
    web_types = sql_list(list(WEB_EVENT_SHARES))
    sku = "'SKU' || printf('%05d', product)"
    return {
        "customers": {
            "customer_id": f"case when {is_defect('null_key')} then null else printf('C%08d', account + 1) end",
            "email": f"""case when {is_defect('malformed_email')} then {malformed_email_sql(EMAIL_SQL)}
                when uses_new_email then {NEW_EMAIL_SQL}
                when is_duplicate_account then {VARIANT_EMAIL_SQL} else {EMAIL_SQL} end""",
            "phone": f"""case when placeholder_phone then '{PLACEHOLDER_PHONE}'
                when has_phone then {phone_formats} end""",
            "first_name": f"upper({NAME_SQL}[1]) || {NAME_SQL}[2:]",
            "last_name": f"upper({SURNAME_SQL}[1]) || {SURNAME_SQL}[2:]",
            "birth_date": f"date '{end}' - cast(age_days as integer)",
            "gender": f"{sql_list(list(GENDER_SHARES))}[gender + 1]",
            "city": f"{sql_list(CITIES)}[city + 1]",
            "country": f"{sql_list(COUNTRIES)}[city + 1]",
            "loyalty_tier": f"{sql_list(list(TIER_SHARES))}[tier + 1]",
            "marketing_opt_in": "opted_in",
            "created_at": f"at_second(created_day * {SECONDS_PER_DAY} + created_second)",
            "updated_at": f"at_second(day * {SECONDS_PER_DAY} + second)",
        },
        "orders": {
            "order_id": f"case when {is_defect('null_key')} then null else printf('O%09d', row + 1) end",
            "customer_id": f"case when {is_defect('missing_identifier')} then null else {customer_id_sql('account')} end",
            "email": f"""case when {is_defect('malformed_email')} then {malformed_email_sql(EMAIL_SQL)}
                when {is_defect('missing_identifier')} then null
                when placeholder_email then '{PLACEHOLDER_EMAIL}' when has_email then {EMAIL_SQL} end""",
            "ordered_at": timestamp_sql("day", "second"),
            "status": f"{sql_list(list(STATUS_SHARES))}[status + 1]",
            "order_total": f"""cast(case when {is_defect('zero_total')} then 0
                when {is_defect('negative_total')} then -total_cents else total_cents end / 100
                as decimal(18, 2))""",
            "channel": f"{sql_list(list(CHANNEL_SHARES))}[channel + 1]",
        },
        "order_items": {
            "order_id": f"""case when {is_defect('null_key')} then null
                when {is_defect('orphan_order_item')} then printf('O%09d', {order_count} + row + 1)
                else printf('O%09d', order_row + 1) end""",
            "line_number": "line_number",
            "product_id": sku,
            "category": f"{sql_list(CATEGORIES)}[category + 1]",
            "quantity": "quantity",
            "unit_price": "cast(cents / 100 as decimal(18, 4))",
        },
        "web_events": {
            "event_id": f"case when {is_defect('null_key')} then null else printf('W%010d', row + 1) end",
            "anonymous_id": f"case when {is_defect('missing_identifier')} then null else printf('anon-%09d', cookie + 1) end",
            "user_id": f"case when {is_defect('missing_identifier')} then null else {customer_id_sql('account')} end",
            "session_id": "printf('ws-%d', session + 1)",
            "event_type": f"{web_types}[event_type + 1]",
            "page_path": f"""case {web_types}[event_type + 1]
                when 'page_view' then case when product % 4 = 0 then '/'
                    else '/category/' || {sql_list(CATEGORIES)}[product % {len(CATEGORIES)} + 1] end
                when 'checkout' then '/checkout'
                when 'purchase' then '/checkout/complete'
                else '/products/' || {sku} end""",
            "product_id": f"case when event_type in (1, 2) then {sku} end",
            "occurred_at": timestamp_sql("0", "second"),
            "device_type": f"{sql_list(list(DEVICE_TYPE_SHARES))}[device + 1]",
        },
        "app_events": {
            "event_id": f"case when {is_defect('null_key')} then null else printf('A%010d', row + 1) end",
            "device_id": f"case when {is_defect('missing_identifier')} then null else printf('dev-%08d', device + 1) end",
            "user_id": f"case when {is_defect('missing_identifier')} then null else {customer_id_sql('account')} end",
            "session_id": "printf('as-%d', session + 1)",
            "event_name": f"{sql_list(['app_open', *APP_EVENT_SHARES])}[event_name + 1]",
            "occurred_at": timestamp_sql("0", "second"),
            "platform": f"{sql_list(list(PLATFORM_SHARES))}[platform + 1]",
        },
        "email_events": {
            "event_id": f"case when {is_defect('null_key')} then null else printf('E%010d', row + 1) end",
            "email": f"case when {is_defect('malformed_email')} then {malformed_email_sql(EMAIL_SQL)} else {EMAIL_SQL} end",
            "campaign_id": "printf('CMP%04d', campaign + 1)",
            "event_type": f"{sql_list(EMAIL_STAGES)}[stage + 1]",
            "occurred_at": timestamp_sql("0", "second"),
        },
        "erasure_requests": {
            "request_id": "printf('R%07d', row + 1)",
            "customer_id": "case when kind in (0, 2) then printf('C%08d', account + 1) end",
            "email": f"case when kind in (1, 2) then {EMAIL_SQL} end",
            "requested_at": "at_second(second)",
        },
    }


# --- orchestration -------------------------------------------------------------------------


def person_columns(people: Columns, person: np.ndarray) -> Columns:
    """The person-level columns the text of a row is built from (names, email domain)."""
    return {
        "person": person,
        "first_name": people["first_name"][person],
        "last_name": people["last_name"][person],
        "domain": people["domain"][person],
    }


def numeric_tables(settings: Settings, progress: Progress) -> tuple[dict[str, Columns], dict[str, Columns]]:
    """Simulate everything: the numeric rows of every table, and the truth-side tables."""
    cumulative = np.cumsum(day_weights(settings))
    people = simulate_people(settings, cumulative)
    accounts, versions = simulate_accounts(settings, people)
    progress(f"people: {settings.customers:,}, accounts: {len(accounts['person']):,}, "
             f"CRM versions: {len(versions['person']):,}")
    main_account = np.full(settings.customers, -1)
    is_main = ~accounts["is_duplicate_account"]
    main_account[accounts["person"][is_main]] = accounts["account_number"][is_main]

    orders, lines, order_counts = simulate_orders(settings, people, accounts, cumulative)
    progress(f"orders: {len(orders['day']):,}, order items: {len(lines['order_row']):,}")
    web_sessions, web = simulate_web(settings, people, order_counts, cumulative)
    progress(f"web sessions: {len(web_sessions['cookie']):,}, web events: {len(web['second']):,}")
    app_sessions, app = simulate_app(settings, people, cumulative)
    progress(f"app sessions: {len(app_sessions['device']):,}, app events: {len(app['second']):,}")
    email = simulate_email(settings, people)
    progress(f"email events: {len(email['second']):,}")
    erasures = simulate_erasures(settings, accounts)

    version_account = versions["account_number"]
    web_session = web["session"]
    app_session = app["session"]
    tables: dict[str, Columns] = {
        "customers": {
            **person_columns(people, versions["person"]),
            "account": version_account,
            "is_duplicate_account": accounts["is_duplicate_account"][version_account],
            "uses_new_email": versions["uses_new_email"],
            "has_phone": accounts["has_phone"][version_account],
            "placeholder_phone": accounts["placeholder_phone"][version_account],
            "phone_format": accounts["phone_format"][version_account],
            "age_days": people["age_days"][versions["person"]],
            "gender": people["gender"][versions["person"]],
            "city": versions["city"],
            "tier": versions["tier"],
            "opted_in": versions["opted_in"],
            "created_day": accounts["created_day"][version_account],
            "created_second": accounts["created_second"][version_account],
            "day": versions["version_day"],
            "second": versions["version_second"],
        },
        "orders": {
            **person_columns(people, orders["person"]),
            **{name: orders[name] for name in (
                "account", "has_email", "placeholder_email", "day", "second", "status",
                "channel", "total_cents")},
        },
        "order_items": {name: lines[name] for name in (
            "order_row", "line_number", "product", "category", "quantity", "cents")},
        "web_events": {
            "cookie": web_sessions["cookie"][web_session],
            "account": np.where(web["is_logged_in"], main_account[web_sessions["user"][web_session]], -1),
            "session": web_session,
            "event_type": web["event_type"],
            "product": web["product"],
            "second": web["second"],
            "device": web_sessions["device"][web_session],
        },
        "app_events": {
            "device": app_sessions["device"][app_session],
            "account": np.where(app_sessions["logged_in"][app_session],
                                main_account[app_sessions["user"][app_session]], -1),
            "session": app_session,
            "event_name": app["event_name"],
            "second": app["second"],
            "platform": app_sessions["platform"][app_session],
        },
        "email_events": {
            **person_columns(people, email["person"]),
            "campaign": email["campaign"],
            "stage": email["stage"],
            "second": email["second"],
        },
        "erasure_requests": {
            **person_columns(people, erasures["person"]),
            "account": erasures["account"],
            "kind": erasures["kind"],
            "second": erasures["second"],
        },
    }
    truth_sources: dict[str, Columns] = {
        "truth_accounts": {
            "account": accounts["account_number"], "person": accounts["person"],
            "has_phone": accounts["has_phone"], "placeholder_phone": accounts["placeholder_phone"],
        },
        "truth_new_emails": person_columns(people, np.unique(versions["person"][versions["uses_new_email"]])),
        "truth_order_emails": {
            **person_columns(people, orders["person"]), "has_email": orders["has_email"],
            "placeholder_email": orders["placeholder_email"],
        },
        "truth_cookies": {
            "cookie": np.concatenate([web_sessions["cookie"], web_sessions["cookie"][web_sessions["logged_in"]]]),
            "person": np.concatenate([web_sessions["cookie_owner"], web_sessions["user"][web_sessions["logged_in"]]]),
        },
        "truth_devices": {
            "device": np.concatenate([app_sessions["device"], app_sessions["device"]]),
            "person": np.concatenate([app_sessions["device_owner"], app_sessions["user"]]),
        },
    }
    truth_sources["truth_accounts"].update(person_columns(people, accounts["person"]))
    return tables, truth_sources


def generate(settings: Settings, out: Path, file_format: str = "parquet") -> dict[str, int]:
    """Write the raw folder and its ground truth; return the row count of every table."""
    progress = Progress()
    tables, truth_sources = numeric_tables(settings, progress)
    out.mkdir(parents=True, exist_ok=True)
    (out / "_truth").mkdir(exist_ok=True)
    spill_directory = tempfile.mkdtemp(prefix="segments_generate_")
    connection = duckdb.connect(":memory:")
    try:
        connection.execute("set TimeZone = 'UTC'")
        connection.execute("set preserve_insertion_order = true")
        # bounded memory: DuckDB spills to disk beyond this
        connection.execute(f"set memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
        connection.execute(f"set temp_directory = '{spill_directory}'")
        connection.execute(
            f"create macro at_second(seconds) as "
            f"make_timestamp(({settings.start_epoch} + seconds) * 1000000::bigint)"
        )
        counts = write_tables(connection, settings, tables, out, file_format, progress)
        write_truth(connection, truth_sources, out)
        progress(f"ground truth written to {out / '_truth'}")
    finally:
        connection.close()
        shutil.rmtree(spill_directory, ignore_errors=True)
    return counts


def write_tables(
    connection: duckdb.DuckDBPyConnection, settings: Settings, tables: dict[str, Columns],
    out: Path, file_format: str, progress: Progress,
) -> dict[str, int]:
    """Draw the defects, lay every table out in file order, write it, then defects.parquet."""
    order_count = len(tables["orders"]["day"])
    expressions = projections(settings, order_count)
    quarantined = np.array([DEFECTS.index(name) + 1 for name in QUARANTINED_ORDER_DEFECTS])
    counts: dict[str, int] = {}
    defect_parts: list[pa.Table] = []
    order_codes = np.zeros(0, np.int8)
    for table in TABLES:
        name = table.name
        columns = tables.pop(name)
        rows = len(next(iter(columns.values())))
        codes = draw_defects(settings, name, rows)
        if name == "orders":
            order_codes = codes
        if name == "order_items":  # lines of a quarantined order are quarantined with it
            cascade = (codes == 0) & np.isin(order_codes[columns["order_row"]], quarantined)
            codes[cascade] = DEFECTS.index("line_of_bad_order") + 1
        source, file_codes = file_layout(settings, name, codes)
        future_day = np.zeros(rows, np.int32)
        is_future = codes == DEFECTS.index("future_timestamp") + 1
        future_day[is_future] = settings.days + settings.rng(
            "defects", 2 * len(TABLE_NAMES) + TABLE_NAMES.index(name)
        ).integers(FUTURE_YEARS[0] * 365, FUTURE_YEARS[1] * 365, int(is_future.sum()))
        numeric = {column: values[source] for column, values in columns.items()}
        numeric.update({"row": source, "defect": file_codes, "future_day": future_day[source]})
        del columns
        connection.register("numeric_rows", pa.table(numeric))
        select = ",\n".join(f"{expressions[name][column]} as {column}" for column in table.column_names)
        target = out / f"{name}.{file_format}"
        options = PARQUET_OPTIONS if file_format == "parquet" else CSV_OPTIONS
        connection.execute(f"copy (select {select} from numeric_rows) to '{target}' {options}")
        connection.unregister("numeric_rows")
        for other in ("parquet", "csv"):  # a file of the other format would load twice
            stale = out / f"{name}.{other}"
            if other != file_format and stale.exists():
                stale.unlink()
        counts[name] = len(source)
        bad = np.flatnonzero(file_codes)
        defect_parts.append(pa.table({
            "table_name": pa.array([name] * len(bad), pa.string()),
            "raw_row_id": bad + 1,
            "defect": pa.array(np.array(DEFECTS)[file_codes[bad] - 1], pa.string()),
        }))
        progress(f"{name}: {counts[name]:,} rows written")
    connection.register("defect_rows", pa.concat_tables(defect_parts))
    connection.execute(
        f"copy (select * from defect_rows order by table_name, raw_row_id) "
        f"to '{out / '_truth' / 'defects.parquet'}' (format parquet)"
    )
    return counts


def write_truth(connection: duckdb.DuckDBPyConnection, sources: dict[str, Columns], out: Path) -> None:
    """identifiers.parquet: every identifier, normalised, with its true person(s)."""
    for name, columns in sources.items():
        connection.register(name, pa.table(columns))
    connection.execute(
        f"""copy (
        with pairs as (
            select 'customer_id' as identifier_type, printf('C%08d', account + 1) as identifier_value,
                person
            from truth_accounts
            union
            select 'email', {EMAIL_SQL}, person from truth_accounts
            union
            select 'email', {NEW_EMAIL_SQL}, person from truth_new_emails
            union
            select 'email', case when placeholder_email then '{PLACEHOLDER_EMAIL}' else {EMAIL_SQL} end,
                person
            from truth_order_emails where has_email
            union
            select 'phone', case when placeholder_phone then '{PLACEHOLDER_PHONE}' else {PHONE_DIGITS_SQL} end,
                person
            from truth_accounts where has_phone or placeholder_phone
            union
            select 'anonymous_id', printf('anon-%09d', cookie + 1), person from truth_cookies
            union
            select 'device_id', printf('dev-%08d', device + 1), person from truth_devices
        )
        select
            identifier_type,
            identifier_value,
            printf('P%08d', person + 1) as person_id,
            count(*) over (partition by identifier_type, identifier_value) > 1 as is_shared,
            identifier_value in ('{PLACEHOLDER_EMAIL}', '{PLACEHOLDER_PHONE}') as is_placeholder
        from pairs
        order by identifier_type, identifier_value, person_id
        ) to '{out / '_truth' / 'identifiers.parquet'}' (format parquet)"""
    )
