-- Relationships customer_key -> marts.customers for customer_segments and segment_memberships,
-- on the as-of date just built: older dates of the history were built from older data and may
-- hold customers since erased or merged into another customer.
with

customer_segments as (
    select * from {{ ref('customer_segments') }}
),

segment_memberships as (
    select * from {{ ref('segment_memberships') }}
),

customers as (
    select * from {{ ref('customers') }}
),

as_of_dates as (
    select * from {{ ref('int_as_of_date') }}
),

segment_customer_keys as (
    select
        'customer_segments' as model_name,
        customer_segments.customer_key
    from customer_segments
    inner join as_of_dates
        on customer_segments.as_of_date = as_of_dates.as_of_date
    union all
    select
        'segment_memberships' as model_name,
        segment_memberships.customer_key
    from segment_memberships
    inner join as_of_dates
        on segment_memberships.as_of_date = as_of_dates.as_of_date
),

failures as (
    select distinct
        segment_customer_keys.model_name,
        segment_customer_keys.customer_key
    from segment_customer_keys
    left join customers
        on segment_customer_keys.customer_key = customers.customer_key
    where customers.customer_key is null
)

select * from failures
