"""Every enumeration and word list the generator writes, in one place.

The enumerations are the values staging accepts (vars ``order_statuses``, ``order_channels``,
``web_event_types``, ``app_event_names`` and ``email_event_types`` in dbt_project.yml; a test
checks they agree). The generator stores a value as its index in these tuples and turns the
index into text in SQL with :func:`sql_list`, so no value is typed twice.
"""

from __future__ import annotations

ORDER_STATUSES = ("completed", "cancelled", "returned")
ORDER_CHANNELS = ("web", "app", "store")
WEB_EVENT_TYPES = ("page_view", "product_view", "add_to_cart", "checkout", "purchase")
APP_EVENT_NAMES = ("app_open", "screen_view", "product_view", "add_to_cart", "purchase")
EMAIL_EVENT_TYPES = ("sent", "delivered", "open", "click", "bounce", "unsubscribe")

DEVICE_TYPES = ("desktop", "mobile", "tablet")
PLATFORMS = ("ios", "android")
GENDERS = ("female", "male", "other")
FIRST_NAMES = (
    "ana",
    "ben",
    "chloe",
    "david",
    "emma",
    "felix",
    "grace",
    "hugo",
    "iris",
    "jack",
    "kate",
    "leo",
    "maya",
    "noah",
    "olga",
    "paul",
    "quinn",
    "rosa",
    "sam",
    "tara",
)
LAST_NAMES = (
    "smith",
    "jones",
    "garcia",
    "muller",
    "rossi",
    "dubois",
    "silva",
    "novak",
    "kim",
    "ito",
    "brown",
    "martin",
    "lopez",
    "weber",
    "costa",
    "berg",
    "nowak",
    "lee",
    "sato",
    "khan",
)
DOMAINS = ("example.org", "mail.test", "inbox.test", "post.test")
CITIES = ("london", "paris", "berlin", "madrid", "rome", "lisbon", "vienna", "prague")
COUNTRIES = ("GB", "FR", "DE", "ES", "IT", "PT", "AT", "CZ")  # one per city, same position
LOYALTY_TIERS = ("bronze", "silver", "gold", "platinum")
CATEGORIES = ("home", "garden", "toys", "fashion", "beauty", "books", "electronics", "sports")
PLACEHOLDER_EMAIL = "test@example.com"
PLACEHOLDER_PHONE = "0000000000"

# web page paths by event type; the other event types show a product page
WEB_PAGE_PATHS = {"page_view": "/", "checkout": "/checkout", "purchase": "/checkout/complete"}
WEB_PRODUCT_EVENTS = ("product_view", "add_to_cart")  # web events that carry a product_id


def sql_list(values: tuple[str, ...] | list[str]) -> str:
    """A DuckDB list literal; ``sql_list(values)[code + 1]`` is the text of a 0-based code."""
    return "[" + ", ".join("'" + value + "'" for value in values) + "]"


def code_of(values: tuple[str, ...], value: str) -> int:
    """The 0-based code the generator stores for ``value``."""
    return values.index(value)
