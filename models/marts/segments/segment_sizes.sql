{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='as_of_date',
        on_schema_change='fail',
    )
}}
{#-
    Segment sizes over time. share is the segment's customers over all customers of the
    as-of date, so the shares of the rfm and lifecycle families each sum to 1 (0 on a date
    without customers); behavioural segments overlap and their shares do not.
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

as_of_dates as (
    select * from {{ ref('int_as_of_date') }}
),

current_customers as (
    select customer_segments.*
    from customer_segments
    inner join as_of_dates
        on customer_segments.as_of_date = as_of_dates.as_of_date
),

population as (
    select count(*) as customers from current_customers
),

members as (
    select
        segment_memberships.segment_family,
        segment_memberships.segment_name,
        count(*) as customers,
        avg(current_customers.monetary) as average_monetary
    from segment_memberships
    inner join as_of_dates
        on segment_memberships.as_of_date = as_of_dates.as_of_date
    inner join current_customers
        on segment_memberships.customer_key = current_customers.customer_key
    group by segment_memberships.segment_family, segment_memberships.segment_name
),

segment_sizes as (
    select
        as_of_dates.as_of_date,
        segment_catalog.segment_family,
        segment_catalog.segment_name,
        coalesce(members.customers, 0) as customers,
        -- a date without any customer has share 0 everywhere (not null)
        coalesce(
            cast(members.customers as double) / nullif(population.customers, 0), 0
        ) as share,  -- noqa: RF04
        cast(members.average_monetary as decimal(18, 2)) as average_monetary
    from segment_catalog
    cross join as_of_dates
    cross join population
    left join members
        on segment_catalog.segment_family = members.segment_family
            and segment_catalog.segment_name = members.segment_name
)

select * from segment_sizes
