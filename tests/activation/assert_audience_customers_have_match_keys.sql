-- Relationships customer_key -> int_activation__match_keys for int_activation__segment_audiences,
-- on the as-of date just built: older dates of the history were built from older data and may
-- hold customers since erased or merged into another customer (a daily delivery that merges two
-- customers leaves the merged key on the dates before it until segments backfill --restate).
with

segment_audiences as (
    select * from {{ ref('int_activation__segment_audiences') }}
),

match_keys as (
    select * from {{ ref('int_activation__match_keys') }}
),

as_of_dates as (
    select * from {{ ref('int_as_of_date') }}
),

audience_customer_keys as (
    select distinct segment_audiences.customer_key
    from segment_audiences
    inner join as_of_dates
        on segment_audiences.as_of_date = as_of_dates.as_of_date
),

failures as (
    select audience_customer_keys.customer_key
    from audience_customer_keys
    left join match_keys
        on audience_customer_keys.customer_key = match_keys.customer_key
    where match_keys.customer_key is null
)

select * from failures
