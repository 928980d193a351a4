{{
    config(
        materialized=row_replacing_materialization(),
        incremental_strategy=replace_rows_strategy(),
        unique_key=['merged_customer_key', 'surviving_customer_key', 'delivery_id'],
        on_schema_change='fail',
        post_hook="{{ delete_erased_customers(['merged_customer_key', 'surviving_customer_key']) }}",
    )
}}
-- depends_on: {{ ref('int_identity__erased_customer_keys') }}
{#-
    The log of customer keys that identity moved between builds: each build compares the
    identifiers' keys now (int_identity__identifier_keys) with the keys the previous build
    stored (restricted.customer_identifiers, which this model builds before: it declares
    the dependency), and appends one row per old key and new key its identifiers moved
    between, with the latest delivery loaded (the one that caused the change). A merge
    keeps the older key, so the merged key is the one that disappears; a split keeps the
    key on the part that holds the earliest identifier. A first build records nothing (no
    earlier keys). Keys of erased customers are deleted from it (post-hook).
-#}
{%- set previous_identifiers = adapter.get_relation(
    database=target.database, schema='restricted', identifier='customer_identifiers',
) %}
with

identifier_keys as (
    select * from {{ ref('int_identity__identifier_keys') }}
),

deliveries as (
    select * from {{ source('deliveries', 'deliveries') }}
),

latest_delivery as (
    select
        delivery_id,
        loaded_at
    from deliveries
    order by delivery_number desc
    limit 1
),

previous_keys as (
    {% if previous_identifiers is not none -%}
        select
            identifier_type,
            identifier_value,
            customer_key
        from {{ previous_identifiers }}
    {%- else -%}
        select
            cast(null as string) as identifier_type,
            cast(null as string) as identifier_value,
            cast(null as string) as customer_key
        where false
    {%- endif %}
),

moved_identifiers as (
    select
        previous_keys.customer_key as merged_customer_key,
        identifier_keys.customer_key as surviving_customer_key,
        count(*) as moved_identifiers
    from previous_keys
    inner join identifier_keys
        on previous_keys.identifier_type = identifier_keys.identifier_type
            and previous_keys.identifier_value = identifier_keys.identifier_value
    where previous_keys.customer_key != identifier_keys.customer_key
    group by previous_keys.customer_key, identifier_keys.customer_key
),

key_merges as (
    select
        moved_identifiers.merged_customer_key,
        moved_identifiers.surviving_customer_key,
        not exists (
            select 1
            from identifier_keys
            where identifier_keys.customer_key = moved_identifiers.merged_customer_key
        ) as is_merge,
        moved_identifiers.moved_identifiers,
        latest_delivery.delivery_id,
        latest_delivery.loaded_at as merged_at
    from moved_identifiers
    cross join latest_delivery
)

select * from key_merges
