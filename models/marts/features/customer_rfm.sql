{#-
    Recency, frequency and monetary value per customer as of the as-of date. Money is
    summed and averaged exactly in money_type() (decimal(38, 2)): a sum of decimal(18, 2)
    totals does not fit decimal(18, 2).
    A qualifying order is completed, has a positive total and was placed by the end of
    the as-of date.
-#}
with

known_customers as (
    select * from {{ ref('int_known_customers') }}
),

orders as (
    select * from {{ ref('int_orders_attributed') }}
),

as_of_dates as (
    select * from {{ ref('int_as_of_date') }}
),

known_orders as (
    select
        orders.customer_key,
        orders.ordered_at,
        cast(orders.ordered_at as date) as ordered_date,
        orders.order_status,
        orders.order_total,
        orders.order_status = 'completed' and orders.order_total > 0 as is_qualifying
    from orders
    cross join as_of_dates
    where orders.customer_key is not null and orders.ordered_at < {{ as_of_end() }}
),

order_summaries as (
    select
        known_orders.customer_key,
        min(known_orders.ordered_at) filter (where known_orders.is_qualifying) as first_order_at,
        max(known_orders.ordered_at) filter (where known_orders.is_qualifying) as last_order_at,
        count(*) filter (where known_orders.is_qualifying) as frequency,
        coalesce(
            {{ money_sum('known_orders.order_total') }} filter (where known_orders.is_qualifying),
            0
        ) as monetary,
        {% for days in var('order_windows_days') %}
            count(*) filter (
                where known_orders.is_qualifying
                and {{ in_window('known_orders.ordered_date', days) }}
            ) as frequency_{{ days }}d,
            coalesce({{ money_sum('known_orders.order_total') }} filter (
                where known_orders.is_qualifying
                and {{ in_window('known_orders.ordered_date', days) }}
            ), 0) as monetary_{{ days }}d,
        {% endfor %}
        count(*) filter (where known_orders.order_status = 'returned') as returned_orders,
        count(*) filter (where known_orders.order_status = 'cancelled') as cancelled_orders
    from known_orders
    cross join as_of_dates
    group by known_orders.customer_key
),

customer_rfm as (
    select
        as_of_dates.as_of_date,
        known_customers.customer_key,
        order_summaries.first_order_at,
        order_summaries.last_order_at,
        {{ days_before_as_of('order_summaries.last_order_at') }} as recency_days,
        coalesce(order_summaries.frequency, 0) as frequency,
        cast(coalesce(order_summaries.monetary, 0) as {{ money_type() }}) as monetary,
        {{ money_ratio('order_summaries.monetary', 'order_summaries.frequency') }}
            as avg_order_value,
        {% for days in var('order_windows_days') %}
            coalesce(order_summaries.frequency_{{ days }}d, 0) as frequency_{{ days }}d,
            cast(coalesce(order_summaries.monetary_{{ days }}d, 0) as {{ money_type() }})
                as monetary_{{ days }}d,
            {{ money_ratio(
                'order_summaries.monetary_' ~ days ~ 'd',
                'order_summaries.frequency_' ~ days ~ 'd',
            ) }} as avg_order_value_{{ days }}d,
        {% endfor %}
        coalesce(order_summaries.returned_orders, 0) as returned_orders,
        coalesce(order_summaries.cancelled_orders, 0) as cancelled_orders,
        cast(
            order_summaries.returned_orders
            / nullif(order_summaries.frequency + order_summaries.returned_orders, 0)
            as double
        ) as return_rate,
        {{ days_before_as_of('order_summaries.first_order_at') }} as tenure_days
    from known_customers
    cross join as_of_dates
    left join order_summaries
        on known_customers.customer_key = order_summaries.customer_key
)

select * from customer_rfm
