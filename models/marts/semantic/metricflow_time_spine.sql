{#-
    The time spine MetricFlow needs: one row per day from the earliest as-of date of the
    segment history to the latest (the current build's date included).
-#}
with

customer_segments as (
    select * from {{ ref('customer_segments') }}
),

current_as_of_date as (
    select * from {{ ref('int_as_of_date') }}
),

history_dates as (
    select as_of_date from customer_segments
    union all
    select as_of_date from current_as_of_date
),

date_range as (
    select
        min(as_of_date) as first_date,
        max(as_of_date) as last_date
    from history_dates
),

days as (
    select cast(spine.day_start as date) as date_day
    from date_range
    {{ join_day_series('date_range.first_date', 'date_range.last_date', 'spine', 'day_start') }}
)

select * from days
