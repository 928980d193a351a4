{#-
    What the semantic layer measures: every segment membership of the history with the
    customer's qualifying orders and spend up to that date, and the weight that makes the
    share of customers additive (1 over the customers of the date, so a segment's weights sum
    to its share). Rebuilt on every run from the history, like segment_sizes, so an erasure
    purged from old dates is reflected here too.
-#}
with

segment_memberships as (
    select * from {{ ref('segment_memberships') }}
),

customer_segments as (
    select * from {{ ref('customer_segments') }}
),

populations as (
    select
        as_of_date,
        count(*) as date_customers
    from customer_segments
    group by as_of_date
),

segment_customer_facts as (
    select
        segment_memberships.as_of_date,
        segment_memberships.customer_key,
        segment_memberships.segment_family,
        segment_memberships.segment_name,
        customer_segments.frequency,
        customer_segments.monetary,
        populations.date_customers,
        cast(1 as double) / populations.date_customers as customer_share
    from segment_memberships
    inner join customer_segments
        on segment_memberships.as_of_date = customer_segments.as_of_date
            and segment_memberships.customer_key = customer_segments.customer_key
    inner join populations
        on segment_memberships.as_of_date = populations.as_of_date
)

select * from segment_customer_facts
