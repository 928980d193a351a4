{{
    config(
        materialized='table',
    )
}}
{#-
    Customers moving between RFM segments, for every as-of date in the customer_segments
    history and the previous distinct as-of date in it. Rebuilt whole from the history on
    every build, so it is right whatever order the dates were built in (a backfill into a
    warehouse that already holds later dates included). A customer absent from one side
    (new since the previous date, or gone: erased or merged into another customer) is
    labelled '(none)' on that side, so the "from" totals of a date pair equal the previous
    date's RFM segment sizes and the "to" totals the current date's.
-#}
with

customer_segments as (
    select * from {{ ref('customer_segments') }}
),

history_dates as (
    select distinct as_of_date from customer_segments
),

date_pairs as (
    select
        lag(as_of_date) over (order by as_of_date) as from_as_of_date,
        as_of_date as to_as_of_date
    from history_dates
),

consecutive_date_pairs as (
    select * from date_pairs
    where from_as_of_date is not null
),

previous_segments as (
    select
        consecutive_date_pairs.from_as_of_date,
        consecutive_date_pairs.to_as_of_date,
        customer_segments.customer_key,
        customer_segments.rfm_segment
    from consecutive_date_pairs
    inner join customer_segments
        on consecutive_date_pairs.from_as_of_date = customer_segments.as_of_date
),

current_segments as (
    select
        consecutive_date_pairs.from_as_of_date,
        consecutive_date_pairs.to_as_of_date,
        customer_segments.customer_key,
        customer_segments.rfm_segment
    from consecutive_date_pairs
    inner join customer_segments
        on consecutive_date_pairs.to_as_of_date = customer_segments.as_of_date
),

customer_moves as (
    select
        coalesce(previous_segments.from_as_of_date, current_segments.from_as_of_date)
            as from_as_of_date,
        coalesce(previous_segments.to_as_of_date, current_segments.to_as_of_date)
            as to_as_of_date,
        coalesce(previous_segments.rfm_segment, '(none)') as from_segment,
        coalesce(current_segments.rfm_segment, '(none)') as to_segment
    from previous_segments
    full outer join current_segments
        on previous_segments.to_as_of_date = current_segments.to_as_of_date
            and previous_segments.customer_key = current_segments.customer_key
),

transitions as (
    select
        from_as_of_date,
        to_as_of_date,
        from_segment,
        to_segment,
        count(*) as customers
    from customer_moves
    group by from_as_of_date, to_as_of_date, from_segment, to_segment
)

select * from transitions
