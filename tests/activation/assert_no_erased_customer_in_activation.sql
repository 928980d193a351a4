-- No customer erased by a privacy request keeps a row in the activation models: the
-- restricted contacts, the match keys, the audience history (a post-hook purges dates built
-- before the request) and the holdout groups. One row per leak, naming the model.
with

erased_customer_keys as (
    select * from {{ ref('int_identity__erased_customer_keys') }}
),

customer_contacts as (
    select * from {{ ref('int_activation__customer_contacts') }}
),

match_keys as (
    select * from {{ ref('int_activation__match_keys') }}
),

segment_audiences as (
    select * from {{ ref('int_activation__segment_audiences') }}
),

segment_holdouts as (
    select * from {{ ref('segment_holdouts') }}
),

keyed_rows as (
    select
        'int_activation__customer_contacts' as model_name,
        customer_key
    from customer_contacts
    union all
    select
        'int_activation__match_keys' as model_name,
        customer_key
    from match_keys
    union all
    select distinct
        'int_activation__segment_audiences' as model_name,
        customer_key
    from segment_audiences
    union all
    select distinct
        'segment_holdouts' as model_name,
        customer_key
    from segment_holdouts
),

leaked_customers as (
    select keyed_rows.*
    from keyed_rows
    inner join erased_customer_keys
        on keyed_rows.customer_key = erased_customer_keys.customer_key
)

select * from leaked_customers
