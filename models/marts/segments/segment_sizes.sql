{#-
    Segment sizes over time, rebuilt on every run from the whole customer_segments and
    segment_memberships history, so they always agree with the rows kept there (a date built
    out of order, or a customer erased after a date was built, is reflected everywhere).
    share is the segment's customers over all customers of the as-of date, so the shares of
    the rfm and lifecycle families each sum to 1 (0 on a date without customers); behavioural
    segments overlap and their shares do not.
-#}
with

segment_memberships as (
    select * from {{ ref('segment_memberships') }}
),

customer_segments as (
    select * from {{ ref('customer_segments') }}
),

segment_catalog as (
    select * from {{ ref('segment_catalog') }}
),

current_as_of_date as (
    select * from {{ ref('int_as_of_date') }}
),

history_dates as (
    select distinct as_of_date from customer_segments
    union
    select as_of_date from current_as_of_date
),

populations as (
    select
        history_dates.as_of_date,
        count(customer_segments.customer_key) as customers
    from history_dates
    left join customer_segments
        on history_dates.as_of_date = customer_segments.as_of_date
    group by history_dates.as_of_date
),

members as (
    select
        segment_memberships.as_of_date,
        segment_memberships.segment_family,
        segment_memberships.segment_name,
        count(*) as customers,
        {{ money_ratio(money_sum('customer_segments.monetary'), 'count(*)') }}
            as average_monetary
    from segment_memberships
    inner join customer_segments
        on segment_memberships.as_of_date = customer_segments.as_of_date
            and segment_memberships.customer_key = customer_segments.customer_key
    group by
        segment_memberships.as_of_date,
        segment_memberships.segment_family,
        segment_memberships.segment_name
),

segment_sizes as (
    select
        populations.as_of_date,
        segment_catalog.segment_family,
        segment_catalog.segment_name,
        coalesce(members.customers, 0) as customers,
        -- a date without any customer has share 0 everywhere (not null)
        coalesce(
            cast(members.customers as double) / nullif(populations.customers, 0), 0
        ) as share,  -- noqa: RF04
        members.average_monetary
    from segment_catalog
    cross join populations
    left join members
        on populations.as_of_date = members.as_of_date
            and segment_catalog.segment_family = members.segment_family
            and segment_catalog.segment_name = members.segment_name
)

select * from segment_sizes
