"""Every rate, share and shape of the generator; docs/generator.md explains them."""

from __future__ import annotations

from segments.generation.vocabulary import (
    APP_EVENT_NAMES,
    EMAIL_EVENT_TYPES,
    ORDER_CHANNELS,
    ORDER_STATUSES,
    WEB_EVENT_TYPES,
)

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
# People arrive at a steady (seasonal) rate and churn after an exponential lifetime, so the
# number of active people is level over the window: a share MEAN_ACTIVE_DAYS / (MEAN_ACTIVE_DAYS
# + --days) of everyone active in the window signed up before it starts (see people.py).
DUPLICATE_ACCOUNT_DELAY_DAYS = (30, 200)  # a second account opens this many days after the first (high exclusive)
VERSION_GAP_DAYS = (20, 120)  # days between successive CRM versions of an account (high exclusive)
OPT_IN_FLIP_SHARE = 0.1  # CRM versions whose marketing consent differs from the person's
AGE_YEARS = (18, 80)  # age range at the birth-date anchor (high exclusive)
BIRTH_ANCHOR_DAYS_BEFORE_END = 180  # ages are counted at this many days before --end-date
# --- orders --------------------------------------------------------------------------------
PROSPECT_SHARE = 0.12  # account holders who never order
# A buyer who signs up in the window places a first order on the signup day; every buyer then
# repeats at a personal rate drawn from a gamma distribution, as a Poisson process over their
# active days in the window (seasonally weighted): the negative binomial distribution (NBD) of
# repeat purchases. Fitted so that buyers in the window average about 2.84 orders and 43% of
# them order once, as the earlier 1 + negative binomial (0.6, 0.25) count per buyer did.
REPEAT_RATE_SHAPE = 1.29  # gamma shape of the personal repeat rate
REPEAT_ORDERS_PER_YEAR = 2.48  # mean repeat orders per active year (365 days of average weight)
GUEST_CHECKOUT_SHARE = 0.15  # orders by account holders placed as guest (email only)
SECOND_ACCOUNT_ORDER_SHARE = 0.5  # orders of a person with two accounts placed from the second
ORDER_EMAIL_SHARE = 0.70  # logged-in orders that also carry the checkout email
ORDER_HOURS = (6, 23)  # orders are placed between these hours of the day (high exclusive)
LINE_PRICE_LOG_MEAN = 3.0  # log-normal unit price: median about 20
LINE_PRICE_LOG_SIGMA = 0.8
MAX_LINES = 5
MAX_QUANTITY = 3
PRODUCTS = 5000  # product numbers 1 to PRODUCTS - 1
STATUS_SHARES = dict(zip(ORDER_STATUSES, (0.90, 0.05, 0.05), strict=True))
CHANNEL_SHARES = dict(zip(ORDER_CHANNELS, (0.60, 0.25, 0.15), strict=True))
WEEKEND_WEIGHT = 1.3  # weekly seasonality: Saturday and Sunday
PEAK_SEASON_WEIGHT = 1.8  # yearly seasonality: November and December
PEAK_SEASON_MONTHS = (11, 12)
# --- web -----------------------------------------------------------------------------------
WEB_SHARE = 0.85
MEAN_EXTRA_COOKIES = 0.7
WEB_SESSIONS_PER_ACTIVE_YEAR = 5.5  # browsing sessions (Poisson over the active days), plus one per order
MEAN_EVENTS_PER_SESSION = 3.0
MEAN_SECONDS_BETWEEN_WEB_EVENTS = 60.0  # exponential gap between two events of a session
LOGGED_IN_SESSION_SHARE = 0.60
WEB_EVENT_SHARES = dict(zip(WEB_EVENT_TYPES, (0.50, 0.30, 0.12, 0.04, 0.04), strict=True))
SHARED_COOKIE_SHARE = 0.005  # cookies on which a second person logs in
SHARED_COOKIE_SESSIONS = 2  # sessions of the second person on a shared cookie
# --- app -----------------------------------------------------------------------------------
APP_SHARE = 0.30  # account holders with the app
SECOND_DEVICE_SHARE = 0.30
LOGGED_IN_APP_SESSION_SHARE = 0.9  # app sessions with a logged-in user
APP_SESSIONS_PER_ACTIVE_YEAR = 6.8  # sessions per device, Poisson over the active days
APP_OPEN = APP_EVENT_NAMES[0]  # every app session starts with it
# the events after the app_open
APP_EVENT_SHARES = dict(zip(APP_EVENT_NAMES[1:], (0.55, 0.30, 0.10, 0.05), strict=True))
APP_SECONDS_BETWEEN_EVENTS = (5, 120)  # uniform gap between two app events (high exclusive)
SHARED_DEVICE_SHARE = 0.01  # app devices (tablets) on which a second person logs in
SHARED_DEVICE_SESSIONS = 3  # sessions of the second person on a shared device
# --- email ---------------------------------------------------------------------------------
CAMPAIGN_EVERY_DAYS = 14
CAMPAIGN_REACH = 0.5  # share of opted-in accounts each campaign is sent to (from signup to churn)
CAMPAIGN_SEND_HOUR = 9  # campaigns go out over the hour from 9:00
# share of sends reaching each stage (each drawn in this order)
EMAIL_FUNNEL = {"delivered": 0.97, "open": 0.25, "click": 0.04, "bounce": 0.03, "unsubscribe": 0.003}
# seconds after the send at which each event type happens (plus up to EMAIL_JITTER_SECONDS)
EMAIL_DELAYS = dict(zip(EMAIL_EVENT_TYPES, (0, 60, 7200, 7500, 120, 7600), strict=True))
EMAIL_JITTER_SECONDS = 600
# --- late rows, placeholders and privacy ---------------------------------------------------
LATE_EVENT_SHARE = 0.01  # event rows appended at the end of the file, out of time order
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
SECONDS_PER_DAY = 86_400
# --- chunks and blocks (docs/generator.md, "Bounded memory") -------------------------------
# Randomness is drawn per block of customers from a stream seeded by (seed, stage, block), so a
# customer's rows depend on the seed and the number of customers, never on the chunk size.
CUSTOMERS_PER_BLOCK = 1000
DEFAULT_CHUNK_CUSTOMERS = 100_000  # customers simulated, assembled and written at a time
ROW_GROUP_ROWS = 250_000  # every Parquet file is written in row groups of exactly this many rows
DUCKDB_MEMORY_LIMIT = "1536MB"  # per chunk, and for the final sort of the ground truth
