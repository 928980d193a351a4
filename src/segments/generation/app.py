"""App: account holders' devices, their sessions and the events of each session."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np

from segments.generation import parameters as p
from segments.generation.duck import register
from segments.generation.people import People
from segments.generation.settings import (
    Bools,
    Floats,
    Ints,
    choice_codes,
    sample_days,
    weighted_days,
    within,
)
from segments.generation.vocabulary import APP_EVENT_NAMES, PLATFORMS, code_of, sql_list


@dataclass(frozen=True)
class App:
    device_person: Ints  # per device
    device_platform: Ints
    session_device: Ints  # per session
    session_user: Ints
    session_logged_in: Bools
    event_session: Ints  # per event
    event_second: Ints
    event_name: Ints

    @property
    def sessions(self) -> int:
        return len(self.session_device)


def shared_device_sessions(rng: np.random.Generator, device_person: Ints) -> tuple[Ints, Ints]:
    """(device, user) of the sessions in which another app user logs in on a device."""
    if len(device_person) <= 1:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    devices = np.flatnonzero(rng.random(len(device_person)) < p.SHARED_DEVICE_SHARE)
    guests = device_person[(devices + 1) % len(device_person)]
    keep = guests != device_person[devices]
    devices, guests = devices[keep], guests[keep]
    return np.repeat(devices, p.SHARED_DEVICE_SESSIONS), np.repeat(guests, p.SHARED_DEVICE_SESSIONS)


def simulate_app(rng: np.random.Generator, people: People, cumulative: Floats) -> App:
    app_people = people.person[people.has_account & (rng.random(people.count) < p.APP_SHARE)]
    device_counts = 1 + (rng.random(len(app_people)) < p.SECOND_DEVICE_SHARE)
    device_person = np.repeat(app_people, device_counts)
    device_platform = rng.integers(0, len(PLATFORMS), len(device_person))
    signup_day = np.maximum(people.signup_day[device_person], 0)
    active = weighted_days(cumulative, signup_day, people.churn_day[device_person])
    session_counts = rng.poisson(active * p.APP_SESSIONS_PER_ACTIVE_YEAR / 365)
    session_device = np.repeat(np.arange(len(device_person)), session_counts)
    session_user = device_person[session_device]
    extra_device, extra_user = shared_device_sessions(rng, device_person)
    session_device = np.concatenate([session_device, extra_device])
    session_user = np.concatenate([session_user, extra_user])
    sessions = len(session_device)
    signup = people.signup_day[session_user]
    session_day = sample_days(rng, cumulative, signup, np.maximum(people.churn_day[session_user], signup))
    session_logged_in = rng.random(sessions) < p.LOGGED_IN_APP_SESSION_SHARE
    session_start = session_day * p.SECONDS_PER_DAY + rng.integers(0, p.SECONDS_PER_DAY - 3600, sessions)
    event_counts = 1 + rng.poisson(p.MEAN_EVENTS_PER_SESSION, sessions)
    event_session = np.repeat(np.arange(sessions), event_counts)
    event_index = np.arange(len(event_session)) - np.repeat(np.cumsum(event_counts) - event_counts, event_counts)
    gap = within(rng, p.APP_SECONDS_BETWEEN_EVENTS, len(event_session))
    event_second = session_start[event_session] + event_index * gap
    # the first event of a session is the app_open, the others are drawn after it
    app_open = code_of(APP_EVENT_NAMES, p.APP_OPEN)
    event_name = np.where(event_index == 0, app_open, 1 + choice_codes(rng, p.APP_EVENT_SHARES, len(event_session)))
    return App(
        device_person=device_person,
        device_platform=device_platform,
        session_device=session_device,
        session_user=session_user,
        session_logged_in=session_logged_in,
        event_session=event_session,
        event_second=event_second,
        event_name=event_name,
    )


def create_app_tables(connection: duckdb.DuckDBPyConnection, app: App, first: tuple[int, int, int]) -> None:
    """devices, app_sessions (ground truth reads them) and app_events_clean; ``first`` is the
    number of the first device, session and event (their references are already global)."""
    first_device, first_session, first_event = first
    register(
        connection,
        "devices",
        {
            "device_number": first_device + np.arange(len(app.device_person)),
            "person": app.device_person,
            "platform": app.device_platform,
        },
    )
    register(
        connection,
        "app_sessions",
        {
            "session_number": first_session + np.arange(app.sessions),
            "device_number": app.session_device,
            "user_person": app.session_user,
            "logged_in": app.session_logged_in,
        },
    )
    register(
        connection,
        "app_numeric",
        {
            "event_number": first_event + np.arange(len(app.event_session)),
            "session_number": app.event_session,
            "second": app.event_second,
            "event_name": app.event_name,
        },
    )
    connection.execute(
        f"""create table app_events_clean as
        select
            'A' || lpad(cast(events.event_number + 1 as varchar), 10, '0') as event_id,
            'dev-' || lpad(cast(sessions.device_number + 1 as varchar), 8, '0') as device_id,
            case when sessions.logged_in then account_ids.customer_id end as user_id,
            'as-' || cast(sessions.session_number + 1 as varchar) as session_id,
            {sql_list(APP_EVENT_NAMES)}[events.event_name + 1] as event_name,
            at_second(events.second) as occurred_at,
            {sql_list(PLATFORMS)}[devices.platform + 1] as platform,
            events.event_number + 1 as position
        from app_numeric as events
        inner join app_sessions as sessions on events.session_number = sessions.session_number
        inner join devices on sessions.device_number = devices.device_number
        left join account_ids
            on sessions.user_person = account_ids.person and not account_ids.is_duplicate_account"""
    )
