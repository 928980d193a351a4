"""Point-in-time customer summaries computed from the order and daily-activity models at any cut-off.

The feature marts hold one as-of date per build; training needs the features at an earlier date
(the as-of date minus the horizon). These queries compute, from int_orders_attributed and
int_customer_daily_activity, the same definitions as customer_rfm and customer_engagement at any
date (python_tests/test_predictive_warehouse.py checks them against the marts at the as-of date):
a qualifying order is completed, has a positive total and was placed by the end of the date; an
activity day counts when it is on or before the date. Nothing dated after the cut-off is read
(the where clauses below; python_tests/test_predictive.py changes everything after a cut-off and
checks the summaries do not move).

For the BG/NBD model a purchase is a day with a qualifying order: repeat_purchases (x) is the
number of such days after the first, recency_time (t_x) the days from the first to the last, and
age (T) the days from the first to the date; purchase_days_<n>d the purchase days in the window of
n days ending on the date (the naive forecast of the next n days); repeat_mean_spend is the mean spend of the repeat
days (the first day excluded, as in Fader, Hardie and Lee's Gamma-Gamma fit).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import duckdb
import pandas as pd

# the columns of int_customer_daily_activity each engagement weight multiplies
_WEIGHTED_COLUMNS = {
    "page_view": "page_views",
    "product_view": "(web_product_views + app_product_views)",
    "add_to_cart": "(web_add_to_carts + app_add_to_carts)",
    "purchase": "(web_purchases + app_purchases)",
    "app_open": "app_opens",
    "email_open": "email_opens",
    "email_click": "email_clicks",
}


def order_summaries_sql(orders: str, window_days: int) -> str:
    """Per customer with a qualifying order by the end of $as_of: RFM and BG/NBD inputs."""
    window = int(window_days)
    return f"""
with qualifying as (
    select customer_key, ordered_at, cast(ordered_at as date) as ordered_date, order_total
    from {orders}
    where customer_key is not null
        and order_status = 'completed'
        and order_total > 0
        and ordered_at < cast($as_of as date) + interval 1 day
),
purchase_days as (
    select customer_key, ordered_date, sum(order_total) as day_spend,
        row_number() over (partition by customer_key order by ordered_date) as day_number
    from qualifying
    group by customer_key, ordered_date
),
days as (
    select customer_key,
        count(*) - 1 as repeat_purchases,
        date_diff('day', min(ordered_date), max(ordered_date)) as recency_time,
        date_diff('day', min(ordered_date), cast($as_of as date)) as age,
        avg(day_spend) filter (where day_number > 1) as repeat_mean_spend,
        count(*) filter (where ordered_date > cast($as_of as date) - {window}) as purchase_days_{window}d
    from purchase_days
    group by customer_key
),
orders_summary as (
    select customer_key,
        count(*) as frequency,
        sum(order_total) as monetary,
        date_diff('day', cast(max(ordered_at) as date), cast($as_of as date)) as recency_days,
        date_diff('day', cast(min(ordered_at) as date), cast($as_of as date)) as tenure_days,
        count(*) filter (where ordered_date > cast($as_of as date) - {window}) as frequency_{window}d
    from qualifying
    group by customer_key
)
select orders_summary.customer_key,
    orders_summary.frequency,
    cast(orders_summary.monetary as double) as monetary,
    -- to the cent, half away from zero, exactly as customer_rfm (macro money_ratio)
    cast(
        (2 * cast(orders_summary.monetary * 100 as hugeint) + orders_summary.frequency)
        // (2 * cast(orders_summary.frequency as hugeint)) as double
    ) / 100 as avg_order_value,
    orders_summary.recency_days,
    orders_summary.tenure_days,
    orders_summary.frequency_{window}d,
    days.repeat_purchases,
    days.recency_time,
    days.age,
    cast(days.repeat_mean_spend as double) as repeat_mean_spend,
    days.purchase_days_{window}d
from orders_summary
inner join days on orders_summary.customer_key = days.customer_key
"""


def engagement_sql(activity: str, weights: Mapping[str, float], half_life_days: float) -> str:
    """Per customer with activity on or before $as_of: the decayed engagement score."""
    unknown = sorted(set(weights) - set(_WEIGHTED_COLUMNS))
    if unknown:
        raise ValueError(f"unknown engagement weights: {', '.join(unknown)}")
    weighted = " + ".join(f"{float(weight)} * {_WEIGHTED_COLUMNS[name]}" for name, weight in sorted(weights.items()))
    return f"""
select customer_key,
    sum(({weighted}) * power(0.5, date_diff('day', activity_date, cast($as_of as date)) / {float(half_life_days)}))
        as engagement_score
from {activity}
where activity_date <= cast($as_of as date)
group by customer_key
"""


def customer_summaries(
    connection: duckdb.DuckDBPyConnection,
    orders: str,
    activity: str,
    as_of: dt.date,
    weights: Mapping[str, float],
    half_life_days: float,
    window_days: int,
) -> pd.DataFrame:
    """Buyers as of the date with their order summary and engagement score, ordered by customer_key."""
    query = f"""
with order_summaries as ({order_summaries_sql(orders, window_days)}),
engagement as ({engagement_sql(activity, weights, half_life_days)})
select order_summaries.*, coalesce(engagement.engagement_score, 0) as engagement_score
from order_summaries
left join engagement on order_summaries.customer_key = engagement.customer_key
order by order_summaries.customer_key
"""
    frame: pd.DataFrame = connection.execute(query, {"as_of": as_of}).df()
    return frame


def future_purchases(
    connection: duckdb.DuckDBPyConnection, orders: str, after: dt.date, horizon_days: int
) -> pd.DataFrame:
    """Per customer: qualifying orders and purchase days in (after, after + horizon_days], by date."""
    query = f"""
select customer_key,
    count(*) as future_orders,
    count(distinct cast(ordered_at as date)) as future_purchase_days
from {orders}
where customer_key is not null
    and order_status = 'completed'
    and order_total > 0
    and ordered_at >= cast($after as date) + interval 1 day
    and ordered_at < cast($after as date) + interval 1 day + to_days(cast($horizon as integer))
group by customer_key
order by customer_key
"""
    frame: pd.DataFrame = connection.execute(query, {"after": after, "horizon": horizon_days}).df()
    return frame
