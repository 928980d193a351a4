-- The shares of each partition family (rfm, lifecycle and the predictive clv_band, churn_risk,
-- cluster) sum to 1 on every as-of date that has customers (a date without any has share 0
-- everywhere).
with

segment_sizes as (
    select * from {{ ref('segment_sizes') }}
),

family_totals as (
    select
        as_of_date,
        segment_family,
        sum(share) as total_share,
        sum(customers) as customers
    from segment_sizes
    where segment_family in ('rfm', 'lifecycle', 'clv_band', 'churn_risk', 'cluster')
    group by as_of_date, segment_family
)

select * from family_totals
where customers > 0 and abs(total_share - 1) > 1e-9
