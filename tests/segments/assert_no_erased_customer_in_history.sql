-- No customer erased by a privacy request keeps a row in any mart or history keyed by
-- customer_key, whatever as-of date the row belongs to: the feature marts, the daily
-- activity, and the customer_segments and segment_memberships history (a post-hook purges
-- dates built before the request). One row per leak, naming the model.
with

erased_customer_keys as (
    select * from {{ ref('int_identity__erased_customer_keys') }}
),

customer_daily_activity as (
    select * from {{ ref('int_customer_daily_activity') }}
),

customer_rfm as (
    select * from {{ ref('customer_rfm') }}
),

customer_engagement as (
    select * from {{ ref('customer_engagement') }}
),

customer_recency as (
    select * from {{ ref('customer_recency') }}
),

customer_segments as (
    select * from {{ ref('customer_segments') }}
),

segment_memberships as (
    select * from {{ ref('segment_memberships') }}
),

keyed_rows as (
    select distinct
        'int_customer_daily_activity' as model_name,
        customer_key
    from customer_daily_activity
    union all
    select
        'customer_rfm' as model_name,
        customer_key
    from customer_rfm
    union all
    select
        'customer_engagement' as model_name,
        customer_key
    from customer_engagement
    union all
    select
        'customer_recency' as model_name,
        customer_key
    from customer_recency
    union all
    select distinct
        'customer_segments' as model_name,
        customer_key
    from customer_segments
    union all
    select distinct
        'segment_memberships' as model_name,
        customer_key
    from segment_memberships
),

leaked_customers as (
    select keyed_rows.*
    from keyed_rows
    inner join erased_customer_keys
        on keyed_rows.customer_key = erased_customer_keys.customer_key
)

select * from leaked_customers
