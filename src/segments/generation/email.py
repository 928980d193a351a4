"""Email: campaigns sent to opted-in account holders from signup to churn, and their funnel."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np

from segments.generation import parameters as p
from segments.generation.duck import register
from segments.generation.people import People
from segments.generation.settings import Bools, Codes, Ints
from segments.generation.vocabulary import EMAIL_EVENT_TYPES, sql_list


@dataclass(frozen=True)
class Email:
    person: Ints  # per email event
    campaign: Ints
    event_type: Codes
    second: Ints


def funnel_stages(rng: np.random.Generator, sends: int) -> dict[str, Bools]:
    """Which sends reach each event type (a bounce is never delivered)."""
    draws = {name: rng.random(sends) for name in p.EMAIL_FUNNEL}
    rates = p.EMAIL_FUNNEL
    bounced = draws["bounce"] < rates["bounce"]
    delivered = ~bounced & (draws["delivered"] < rates["delivered"] / (1 - rates["bounce"]))
    opened = delivered & (draws["open"] < rates["open"])
    stages = {
        "sent": np.ones(sends, bool),
        "delivered": delivered,
        "open": opened,
        "click": opened & (draws["click"] < rates["click"] / rates["open"]),
        "bounce": bounced,
        "unsubscribe": opened & (draws["unsubscribe"] < rates["unsubscribe"] / rates["open"]),
    }
    return {name: stages[name] for name in EMAIL_EVENT_TYPES}


def simulate_email(rng: np.random.Generator, people: People, horizon: int) -> Email:
    campaign_days = np.arange(0, horizon, p.CAMPAIGN_EVERY_DAYS)
    opted = people.person[people.is_opted_in]
    reach = rng.binomial(len(campaign_days), p.CAMPAIGN_REACH, len(opted))
    send_person = np.repeat(opted, reach)
    send_campaign = rng.integers(0, len(campaign_days), len(send_person))
    sent_on = campaign_days[send_campaign]
    active = (sent_on >= people.signup_day[send_person]) & (sent_on <= people.churn_day[send_person])
    send_person, send_campaign = send_person[active], send_campaign[active]
    sends = len(send_person)
    send_second = (
        campaign_days[send_campaign] * p.SECONDS_PER_DAY + p.CAMPAIGN_SEND_HOUR * 3600 + rng.integers(0, 3600, sends)
    )
    stages = funnel_stages(rng, sends)
    send = np.concatenate([np.flatnonzero(mask) for mask in stages.values()])
    event_type = np.concatenate([np.full(mask.sum(), code, np.int8) for code, mask in enumerate(stages.values())])
    delays = np.array([p.EMAIL_DELAYS[name] for name in EMAIL_EVENT_TYPES])
    second = send_second[send] + delays[event_type] + rng.integers(0, p.EMAIL_JITTER_SECONDS, len(send))
    return Email(person=send_person[send], campaign=send_campaign[send], event_type=event_type, second=second)


def create_email_tables(connection: duckdb.DuckDBPyConnection, email: Email, first_event: int) -> None:
    """email_events_clean (needs person_identity), numbered from ``first_event``."""
    register(
        connection,
        "email_numeric",
        {
            "event_number": first_event + np.arange(len(email.person)),
            "person": email.person,
            "campaign": email.campaign,
            "stage": email.event_type,
            "second": email.second,
        },
    )
    connection.execute(
        f"""create table email_events_clean as
        select
            'E' || lpad(cast(events.event_number + 1 as varchar), 10, '0') as event_id,
            identity.email,
            'CMP' || lpad(cast(events.campaign + 1 as varchar), 4, '0') as campaign_id,
            {sql_list(EMAIL_EVENT_TYPES)}[events.stage + 1] as event_type,
            at_second(events.second) as occurred_at,
            events.event_number + 1 as position
        from email_numeric as events
        inner join person_identity as identity on events.person = identity.person"""
    )
