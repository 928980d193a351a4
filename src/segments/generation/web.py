"""Web: each visitor's cookies, their browsing sessions and the events of each session."""

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
    choice_codes,
    sample_days,
    weighted_days,
)
from segments.generation.vocabulary import (
    DEVICE_TYPES,
    WEB_EVENT_TYPES,
    WEB_PAGE_PATHS,
    WEB_PRODUCT_EVENTS,
    code_of,
    sql_list,
)


@dataclass(frozen=True)
class Web:
    cookie_person: Ints  # per cookie
    cookie_device: Ints
    session_cookie: Ints  # per session
    session_user: Ints
    session_logged_in: Bools
    event_session: Ints  # per event
    event_second: Ints
    event_type: Codes
    event_product: Ints

    @property
    def sessions(self) -> int:
        return len(self.session_cookie)


def shared_cookie_sessions(rng: np.random.Generator, people: People, cookie_person: Ints) -> tuple[Ints, Ints]:
    """(cookie, user) of the sessions in which another account holder logs in on a cookie."""
    account_holders = people.person[people.has_account]
    cookies = np.flatnonzero(rng.random(len(cookie_person)) < p.SHARED_COOKIE_SHARE)
    guests = rng.choice(account_holders, size=len(cookies)) if len(account_holders) else np.zeros(0, np.int64)
    distinct = guests != cookie_person[cookies]
    cookies, guests = cookies[distinct], guests[distinct]
    return np.repeat(cookies, p.SHARED_COOKIE_SESSIONS), np.repeat(guests, p.SHARED_COOKIE_SESSIONS)


def session_events(rng: np.random.Generator, session_start: Ints) -> tuple[Ints, Ints]:
    """(session, second) of every event: 1 + Poisson events, exponential gaps between them."""
    sessions = len(session_start)
    event_counts = 1 + rng.poisson(p.MEAN_EVENTS_PER_SESSION, sessions)
    event_session = np.repeat(np.arange(sessions), event_counts)
    offset = rng.exponential(p.MEAN_SECONDS_BETWEEN_WEB_EVENTS, len(event_session)).astype(np.int64)
    per_session = np.bincount(event_session, weights=offset, minlength=sessions)
    before_session = np.repeat(np.cumsum(per_session) - per_session, event_counts).astype(np.int64)
    second: Ints = session_start[event_session] + np.cumsum(offset) - before_session
    return event_session, second


def simulate_web(rng: np.random.Generator, people: People, person_orders: Ints, cumulative: Floats) -> Web:
    web_people = people.person[rng.random(people.count) < p.WEB_SHARE]
    cookie_counts = 1 + rng.poisson(p.MEAN_EXTRA_COOKIES, len(web_people))
    cookie_person = np.repeat(web_people, cookie_counts)
    cookie_device = rng.integers(0, len(DEVICE_TYPES), len(cookie_person))
    person_cookie_first = np.full(people.count, -1)
    person_cookie_first[web_people] = np.cumsum(cookie_counts) - cookie_counts
    person_cookie_count = np.zeros(people.count, np.int64)
    person_cookie_count[web_people] = cookie_counts
    # browsing sessions in proportion to the days from a month before signup to churn, one more per order
    first_day = np.maximum(people.signup_day - p.PRE_SIGNUP_BROWSING_DAYS, 0)
    browsing = weighted_days(cumulative, first_day, people.churn_day) * p.WEB_SESSIONS_PER_ACTIVE_YEAR / 365
    session_counts = rng.poisson(browsing) + person_orders
    session_counts[person_cookie_count == 0] = 0
    session_person = np.repeat(people.person, session_counts)
    session_cookie = person_cookie_first[session_person] + (
        rng.random(len(session_person)) * person_cookie_count[session_person]
    ).astype(np.int64)
    signup = people.signup_day[session_person]
    session_day = sample_days(rng, cumulative, first_day[session_person], people.churn_day[session_person])
    session_logged_in = (
        people.has_account[session_person]
        & (session_day >= signup)
        & (rng.random(len(session_person)) < p.LOGGED_IN_SESSION_SHARE)
    )
    extra_cookie, extra_user = shared_cookie_sessions(rng, people, cookie_person)
    session_cookie = np.concatenate([session_cookie, extra_cookie])
    session_user = np.concatenate([session_person, extra_user])
    session_day = np.concatenate([session_day, np.maximum(people.signup_day[extra_user], 0)])
    session_logged_in = np.concatenate([session_logged_in, np.ones(len(extra_user), bool)])
    sessions = len(session_cookie)
    session_start = session_day * p.SECONDS_PER_DAY + rng.integers(0, p.SECONDS_PER_DAY - 3600, sessions)
    event_session, event_second = session_events(rng, session_start)
    return Web(
        cookie_person=cookie_person,
        cookie_device=cookie_device,
        session_cookie=session_cookie,
        session_user=session_user,
        session_logged_in=session_logged_in,
        event_session=event_session,
        event_second=event_second,
        event_type=choice_codes(rng, p.WEB_EVENT_SHARES, len(event_session)),
        event_product=rng.integers(1, p.PRODUCTS, len(event_session)),
    )


def page_path_sql(event_type: str, product: str) -> str:
    """The page of an event: a fixed path by event type, else the product's page."""
    cases = " ".join(f"when {code_of(WEB_EVENT_TYPES, name)} then '{path}'" for name, path in WEB_PAGE_PATHS.items())
    return f"case {event_type} {cases} else '/products/' || {product} end"


def create_web_tables(connection: duckdb.DuckDBPyConnection, web: Web, first: tuple[int, int, int]) -> None:
    """cookies, web_sessions (ground truth reads them) and web_events_clean; ``first`` is the
    number of the first cookie, session and event (their references are already global)."""
    first_cookie, first_session, first_event = first
    register(
        connection,
        "cookies",
        {
            "cookie_number": first_cookie + np.arange(len(web.cookie_person)),
            "person": web.cookie_person,
            "device": web.cookie_device,
        },
    )
    register(
        connection,
        "web_sessions",
        {
            "session_number": first_session + np.arange(web.sessions),
            "cookie_number": web.session_cookie,
            "user_person": web.session_user,
            "logged_in": web.session_logged_in,
        },
    )
    register(
        connection,
        "web_numeric",
        {
            "event_number": first_event + np.arange(len(web.event_session)),
            "session_number": web.event_session,
            "second": web.event_second,
            "event_type": web.event_type,
            "product": web.event_product,
        },
    )
    product = "'SKU' || lpad(cast(events.product as varchar), 5, '0')"
    product_codes = ", ".join(str(code_of(WEB_EVENT_TYPES, name)) for name in WEB_PRODUCT_EVENTS)
    connection.execute(
        f"""create table web_events_clean as
        select
            'W' || lpad(cast(events.event_number + 1 as varchar), 10, '0') as event_id,
            'anon-' || lpad(cast(sessions.cookie_number + 1 as varchar), 9, '0') as anonymous_id,
            case when sessions.logged_in then account_ids.customer_id end as user_id,
            'ws-' || cast(sessions.session_number + 1 as varchar) as session_id,
            {sql_list(WEB_EVENT_TYPES)}[events.event_type + 1] as event_type,
            {page_path_sql("events.event_type", product)} as page_path,
            case when events.event_type in ({product_codes}) then {product} end as product_id,
            at_second(events.second) as occurred_at,
            {sql_list(DEVICE_TYPES)}[cookies.device + 1] as device_type,
            events.event_number + 1 as position
        from web_numeric as events
        inner join web_sessions as sessions on events.session_number = sessions.session_number
        inner join cookies on sessions.cookie_number = cookies.cookie_number
        left join account_ids
            on sessions.user_person = account_ids.person and not account_ids.is_duplicate_account"""
    )
