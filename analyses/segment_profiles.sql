-- Profile of each RFM segment on the latest as-of date: size and average features.
-- Compile with `dbt compile --select segment_profiles` and run the SQL in target/.
with

customer_segments as (
    select * from {{ ref('customer_segments') }}
),

customer_rfm as (
    select * from {{ ref('customer_rfm') }}
),

latest_segments as (
    select * from customer_segments
    where as_of_date = (
            select max(all_dates.as_of_date) from customer_segments as all_dates
        )
),

segment_profiles as (
    select
        latest_segments.rfm_segment,
        count(*) as customers,
        avg(customer_rfm.recency_days) as average_recency_days,
        avg(customer_rfm.frequency) as average_frequency,
        avg(customer_rfm.monetary) as average_monetary
    from latest_segments
    inner join customer_rfm
        on latest_segments.customer_key = customer_rfm.customer_key
    group by latest_segments.rfm_segment
)

select * from segment_profiles
