-- Each customer of each as-of date is in exactly one RFM segment, and it is Prospects
-- exactly when the customer has no scores.
with

segment_memberships as (
    select * from {{ ref('segment_memberships') }}
),

customer_segments as (
    select * from {{ ref('customer_segments') }}
),

rfm_memberships as (
    select
        as_of_date,
        customer_key,
        count(*) as segments
    from segment_memberships
    where segment_family = 'rfm'
    group by as_of_date, customer_key
),

failures as (
    select
        customer_segments.as_of_date,
        customer_segments.customer_key,
        coalesce(rfm_memberships.segments, 0) as segments
    from customer_segments
    left join rfm_memberships
        on customer_segments.as_of_date = rfm_memberships.as_of_date
            and customer_segments.customer_key = rfm_memberships.customer_key
    where
        coalesce(rfm_memberships.segments, 0) != 1
        or (customer_segments.rfm_segment = 'Prospects') != (customer_segments.r_score is null)
)

select * from failures
