{{
    config(
        materialized='table',
    )
}}
{#-
    Customers moving between the segments of each transition family (var transition_families:
    rfm and the predictive clv_band, churn_risk and cluster, each one segment per customer),
    for every as-of date in the segment_memberships history of the family and the previous
    distinct as-of date in it. Rebuilt whole from the history on
    every build, so it is right whatever order the dates were built in (a backfill into a
    warehouse that already holds later dates included). A customer absent from one side
    (new since the previous date, or gone: erased or merged into another customer) is
    labelled '(none)' on that side, so the "from" totals of a family's date pair equal the
    previous date's segment sizes of the family and the "to" totals the current date's.
-#}
with

segment_memberships as (
    select * from {{ ref('segment_memberships') }}
),

family_memberships as (
    select
        as_of_date,
        segment_family,
        customer_key,
        segment_name
    from segment_memberships
    where {{ in_var_list('segment_family', 'transition_families') }}
),

history_dates as (
    select distinct
        segment_family,
        as_of_date
    from family_memberships
),

date_pairs as (
    select
        segment_family,
        lag(as_of_date) over (partition by segment_family order by as_of_date) as from_as_of_date,
        as_of_date as to_as_of_date
    from history_dates
),

consecutive_date_pairs as (
    select * from date_pairs
    where from_as_of_date is not null
),

previous_segments as (
    select
        consecutive_date_pairs.segment_family,
        consecutive_date_pairs.from_as_of_date,
        consecutive_date_pairs.to_as_of_date,
        family_memberships.customer_key,
        family_memberships.segment_name
    from consecutive_date_pairs
    inner join family_memberships
        on consecutive_date_pairs.from_as_of_date = family_memberships.as_of_date
            and consecutive_date_pairs.segment_family = family_memberships.segment_family
),

current_segments as (
    select
        consecutive_date_pairs.segment_family,
        consecutive_date_pairs.from_as_of_date,
        consecutive_date_pairs.to_as_of_date,
        family_memberships.customer_key,
        family_memberships.segment_name
    from consecutive_date_pairs
    inner join family_memberships
        on consecutive_date_pairs.to_as_of_date = family_memberships.as_of_date
            and consecutive_date_pairs.segment_family = family_memberships.segment_family
),

customer_moves as (
    select
        coalesce(previous_segments.segment_family, current_segments.segment_family)
            as segment_family,
        coalesce(previous_segments.from_as_of_date, current_segments.from_as_of_date)
            as from_as_of_date,
        coalesce(previous_segments.to_as_of_date, current_segments.to_as_of_date)
            as to_as_of_date,
        coalesce(previous_segments.segment_name, '(none)') as from_segment,
        coalesce(current_segments.segment_name, '(none)') as to_segment
    from previous_segments
    full outer join current_segments
        on previous_segments.segment_family = current_segments.segment_family
            and previous_segments.to_as_of_date = current_segments.to_as_of_date
            and previous_segments.customer_key = current_segments.customer_key
),

transitions as (
    select
        segment_family,
        from_as_of_date,
        to_as_of_date,
        from_segment,
        to_segment,
        count(*) as customers
    from customer_moves
    group by segment_family, from_as_of_date, to_as_of_date, from_segment, to_segment
)

select * from transitions
