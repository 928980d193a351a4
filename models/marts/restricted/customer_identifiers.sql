{#- Restricted use: holds raw emails and phones. -#}
-- built after customer_key_merges, which reads the keys this table held before
-- depends_on: {{ ref('customer_key_merges') }}
with

identifier_keys as (
    select * from {{ ref('int_identity__identifier_keys') }}
),

sightings as (
    select * from {{ ref('int_identity__sightings') }}
),

identifier_history as (
    select
        identifier_type,
        identifier_value,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        {{ sorted_string_agg('source_system', "','", distinct=true) }} as source_systems
    from sightings
    group by identifier_type, identifier_value
),

customer_identifiers as (
    select
        identifier_keys.customer_key,
        identifier_keys.identifier_type,
        identifier_keys.identifier_value,
        identifier_history.first_seen_at,
        identifier_history.last_seen_at,
        identifier_history.source_systems
    from identifier_keys
    inner join identifier_history
        on identifier_keys.identifier_type = identifier_history.identifier_type
            and identifier_keys.identifier_value = identifier_history.identifier_value
)

select * from customer_identifiers
