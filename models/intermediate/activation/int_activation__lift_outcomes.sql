{#-
    One row per exported segment, as-of date (its export) and complete period after it:
    customers, converted customers (a qualifying order in the period) and revenue, of the
    exported customers and of the holdout group. segment_lift adds the statistics.
-#}
with

segment_audiences as (
    select * from {{ ref('int_activation__segment_audiences') }}
),

orders as (
    select * from {{ ref('int_orders_attributed') }}
),

qualifying_orders as (
    select
        customer_key,
        cast(ordered_at as date) as ordered_date,
        order_total
    from orders
    where
        customer_key is not null
        and order_status = 'completed'
        and order_total > 0
),

data_end_dates as (
    select max(cast(ordered_at as date)) as data_end_date
    from orders
),

period_numbers as (
    {% for period_number in range(1, var('activation_lift_periods') + 1) %}
        select {{ period_number }} as period_number
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

exported_segment_dates as (
    select distinct
        as_of_date,
        segment_family,
        segment_name
    from segment_audiences
    where is_segment_exported
),

complete_periods as (
    select
        exported_segment_dates.as_of_date,
        exported_segment_dates.segment_family,
        exported_segment_dates.segment_name,
        period_numbers.period_number,
        exported_segment_dates.as_of_date
        + (period_numbers.period_number - 1) * {{ var('activation_lift_period_days') }} + 1
            as period_start_date,
        exported_segment_dates.as_of_date
        + period_numbers.period_number * {{ var('activation_lift_period_days') }}
            as period_end_date
    from exported_segment_dates
    cross join period_numbers
    cross join data_end_dates
    where
        exported_segment_dates.as_of_date
        + period_numbers.period_number * {{ var('activation_lift_period_days') }}
        <= data_end_dates.data_end_date
),

customer_periods as (
    select
        complete_periods.as_of_date,
        complete_periods.segment_family,
        complete_periods.segment_name,
        complete_periods.period_number,
        complete_periods.period_start_date,
        complete_periods.period_end_date,
        segment_audiences.customer_key,
        segment_audiences.is_holdout
    from complete_periods
    inner join segment_audiences
        on complete_periods.as_of_date = segment_audiences.as_of_date
            and complete_periods.segment_family = segment_audiences.segment_family
            and complete_periods.segment_name = segment_audiences.segment_name
),

customer_outcomes as (
    select
        customer_periods.as_of_date,
        customer_periods.segment_family,
        customer_periods.segment_name,
        customer_periods.period_number,
        customer_periods.period_start_date,
        customer_periods.period_end_date,
        customer_periods.customer_key,
        customer_periods.is_holdout,
        count(qualifying_orders.customer_key) > 0 as has_converted,
        coalesce({{ money_sum('qualifying_orders.order_total') }}, 0) as revenue
    from customer_periods
    left join qualifying_orders
        on customer_periods.customer_key = qualifying_orders.customer_key
            and customer_periods.period_start_date <= qualifying_orders.ordered_date
            and customer_periods.period_end_date >= qualifying_orders.ordered_date
    group by
        customer_periods.as_of_date,
        customer_periods.segment_family,
        customer_periods.segment_name,
        customer_periods.period_number,
        customer_periods.period_start_date,
        customer_periods.period_end_date,
        customer_periods.customer_key,
        customer_periods.is_holdout
),

lift_outcomes as (
    select
        as_of_date,
        segment_family,
        segment_name,
        period_number,
        period_start_date,
        period_end_date,
        count(*) filter (where not is_holdout) as exported_customers,
        count(*) filter (where not is_holdout and has_converted) as exported_converted_customers,
        coalesce({{ money_sum('revenue') }} filter (where not is_holdout), 0) as exported_revenue,
        count(*) filter (where is_holdout) as holdout_customers,
        count(*) filter (where is_holdout and has_converted) as holdout_converted_customers,
        coalesce({{ money_sum('revenue') }} filter (where is_holdout), 0) as holdout_revenue
    from customer_outcomes
    group by
        as_of_date,
        segment_family,
        segment_name,
        period_number,
        period_start_date,
        period_end_date
)

select * from lift_outcomes
