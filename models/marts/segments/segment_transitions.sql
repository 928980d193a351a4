{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='to_as_of_date',
    )
}}
{#-
    Customers moving between RFM segments from the previous as-of date in the history to
    the current one. A customer new at the current date comes from '(new)'.
-#}
with

customer_segments as (
    select * from {{ ref('customer_segments') }}
),

as_of_dates as (
    select * from {{ ref('int_as_of_date') }}
),

previous_dates as (
    select max(customer_segments.as_of_date) as previous_as_of_date
    from customer_segments
    cross join as_of_dates
    where customer_segments.as_of_date < as_of_dates.as_of_date
),

current_segments as (
    select customer_segments.*
    from customer_segments
    inner join as_of_dates
        on customer_segments.as_of_date = as_of_dates.as_of_date
),

previous_segments as (
    select customer_segments.*
    from customer_segments
    inner join previous_dates
        on customer_segments.as_of_date = previous_dates.previous_as_of_date
),

transitions as (
    select
        previous_dates.previous_as_of_date as from_as_of_date,
        current_segments.as_of_date as to_as_of_date,
        coalesce(previous_segments.rfm_segment, '(new)') as from_segment,
        current_segments.rfm_segment as to_segment,
        count(*) as customers
    from current_segments
    cross join previous_dates
    left join previous_segments
        on current_segments.customer_key = previous_segments.customer_key
    where previous_dates.previous_as_of_date is not null
    group by all
)

select * from transitions
