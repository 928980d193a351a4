"""--plant-lift: a known campaign effect, for testing segment_lift (docs/generator.md).

``--plant-lift FAMILY/SEGMENT:DATE:UPLIFT`` gives each treated person, with probability
UPLIFT, one extra completed web order on a day drawn uniformly from the
PLANT_WINDOW_DAYS days after DATE (days past the end of history are dropped). Treated:
every account holder whose holdout draw for that segment is at or above the holdout share,
the draw being the warehouse's own (macro unit_interval_hash in
macros/activation/hashing.sql: SHA-256 of ``salt:family:segment:customer_id`` of the
person's first account, which is the customer's anchor account). The generator does not
evaluate segment rules: within the segment on DATE the treated people are exactly the
exported customers, and its holdout group is untreated; outside it the extra orders fall
on the exported and the holdout groups of other segments alike (their draws are
independent), so no other segment shows a lift.

A treated person who would have ordered in the window anyway converts either way, so the
expected conversion uplift in the window is UPLIFT times the share of treated people who
would not have converted: UPLIFT * (1 - the holdout group's conversion rate).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import date

import numpy as np

from segments.generation import parameters as p
from segments.generation.accounts import Accounts
from segments.generation.orders import Orders
from segments.generation.settings import Bools, Ints, Settings
from segments.generation.vocabulary import ORDER_CHANNELS, ORDER_STATUSES

PLANT_WINDOW_DAYS = 30  # the extra order falls within this many days after DATE
PLANT_STREAM = 7_071_111  # the random stream of the plant, apart from every stage's
# the defaults of vars activation_holdout_salt and activation_holdout_share
DEFAULT_HOLDOUT_SALT = "segments-holdout-v1"
DEFAULT_HOLDOUT_SHARE = 0.10


@dataclass(frozen=True)
class PlantedLift:
    segment_family: str
    segment_name: str
    start_date: date
    uplift: float
    holdout_share: float = DEFAULT_HOLDOUT_SHARE
    holdout_salt: str = DEFAULT_HOLDOUT_SALT


def parse_plant(text: str, holdout_share: float, holdout_salt: str) -> PlantedLift:
    """FAMILY/SEGMENT:DATE:UPLIFT; ValueError naming the problem."""
    segment, separator, rest = text.partition(":")
    family, slash, name = segment.partition("/")
    day, colon, uplift = rest.partition(":")
    if not (separator and slash and colon and family and name):
        raise ValueError(f"--plant-lift {text!r} is not FAMILY/SEGMENT:DATE:UPLIFT")
    try:
        value, start = float(uplift), date.fromisoformat(day)
    except ValueError as error:
        raise ValueError(f"--plant-lift {text!r}: {error}") from error
    if not 0 < value <= 1:
        raise ValueError("--plant-lift UPLIFT must lie in (0, 1]")
    if not 0 <= holdout_share < 1:
        raise ValueError("--plant-holdout-share must lie in [0, 1)")
    return PlantedLift(family, name, start, value, holdout_share, holdout_salt)


def holdout_draw(salt: str, family: str, segment_name: str, customer_id: str) -> float:
    """The warehouse's holdout draw (macro unit_interval_hash) in [0, 1)."""
    text = f"{salt}:{family}:{segment_name}:{customer_id}"
    return int(hashlib.sha256(text.encode()).hexdigest()[:13], 16) / 2**52


def treated_people(plant: PlantedLift, account_person: Ints, is_duplicate: Bools, first_account: int = 0) -> Ints:
    """People whose first account's draw is at or above the holdout share; the accounts are
    numbered from ``first_account`` (customer_id C00000001 is account 0)."""
    first_accounts = np.flatnonzero(~is_duplicate)
    draws = np.array(
        [
            holdout_draw(
                plant.holdout_salt, plant.segment_family, plant.segment_name, f"C{first_account + number + 1:08d}"
            )
            for number in first_accounts
        ],
        dtype=np.float64,
    )
    treated: Ints = account_person[first_accounts[draws >= plant.holdout_share]]
    return treated


def plant_orders(settings: Settings, accounts: Accounts, orders: Orders, block: int, first_account: int) -> Orders:
    """One block's orders with the planted extra orders of settings.plant_lift appended
    (completed, web, logged in); orders unchanged without one. The block's accounts are
    numbered from ``first_account`` (the accounts of the blocks before it), its people from 0;
    the plant draws from its own stream per block, so the files do not depend on the chunk size."""
    plant = settings.plant_lift
    if plant is None:
        return orders
    rng = np.random.default_rng([settings.seed, PLANT_STREAM, block])
    treated = treated_people(plant, accounts.account_person, accounts.is_duplicate, first_account)
    converted = treated[rng.random(len(treated)) < plant.uplift]
    first_day = (plant.start_date - settings.start_date).days + 1
    day = first_day + rng.integers(0, PLANT_WINDOW_DAYS, len(converted))
    second = rng.integers(p.ORDER_HOURS[0] * 3600, p.ORDER_HOURS[1] * 3600, len(converted))
    kept = (day >= 0) & (day < settings.days)
    size = int(kept.sum())
    no = np.zeros(size, bool)
    return replace(
        orders,
        person=np.concatenate([orders.person, converted[kept]]),
        day=np.concatenate([orders.day, day[kept]]),
        second=np.concatenate([orders.second, second[kept]]),
        status=np.concatenate([orders.status, np.full(size, ORDER_STATUSES.index("completed"), np.int8)]),
        channel=np.concatenate([orders.channel, np.full(size, ORDER_CHANNELS.index("web"), np.int8)]),
        is_guest=np.concatenate([orders.is_guest, no]),
        uses_duplicate=np.concatenate([orders.uses_duplicate, no]),
        has_email=np.concatenate([orders.has_email, no]),
        placeholder=np.concatenate([orders.placeholder, no]),
        cents=np.concatenate([orders.cents, np.zeros(size, np.int64)]),
    )
