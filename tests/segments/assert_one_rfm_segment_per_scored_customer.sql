-- Each customer of each as-of date is in exactly one RFM segment in segment_memberships,
-- the one customer_segments gives; it is prospects exactly when the customer has no
-- qualifying order (customer_rfm.frequency = 0, checked on the dates customer_rfm holds),
-- and only scored customers have scores.
with

segment_memberships as (
    select * from {{ ref('segment_memberships') }}
),

customer_segments as (
    select * from {{ ref('customer_segments') }}
),

customer_rfm as (
    select * from {{ ref('customer_rfm') }}
),

rfm_memberships as (
    select
        as_of_date,
        customer_key,
        count(*) as segments,
        min(segment_name) as segment_name
    from segment_memberships
    where segment_family = 'rfm'
    group by as_of_date, customer_key
),

failures as (
    select
        customer_segments.as_of_date,
        customer_segments.customer_key,
        customer_segments.rfm_segment,
        rfm_memberships.segment_name as membership_segment,
        coalesce(rfm_memberships.segments, 0) as segments,
        customer_rfm.frequency
    from customer_segments
    left join rfm_memberships
        on customer_segments.as_of_date = rfm_memberships.as_of_date
            and customer_segments.customer_key = rfm_memberships.customer_key
    left join customer_rfm
        on customer_segments.as_of_date = customer_rfm.as_of_date
            and customer_segments.customer_key = customer_rfm.customer_key
    where
        coalesce(rfm_memberships.segments, 0) != 1
        or rfm_memberships.segment_name != customer_segments.rfm_segment
        or (customer_segments.rfm_segment = 'prospects') != (customer_segments.r_score is null)
        or (customer_segments.rfm_segment = 'prospects') != (customer_segments.f_score is null)
        or (customer_segments.rfm_segment = 'prospects') != (customer_segments.m_score is null)
        or (
            customer_rfm.customer_key is not null
            and (customer_segments.rfm_segment = 'prospects') != (customer_rfm.frequency = 0)
        )
)

select * from failures
