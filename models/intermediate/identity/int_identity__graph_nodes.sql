{#-
    One row per linkable (not excluded) account, email or phone: the nodes of the identity
    graph, numbered by (identifier_type, identifier_value).
-#}
with

sightings as (
    select * from {{ ref('int_identity__sightings') }}
),

excluded_identifiers as (
    select * from {{ ref('int_identity__excluded_identifiers') }}
),

linkable_identifiers as (
    select distinct
        sightings.identifier_type,
        sightings.identifier_value
    from sightings
    left join excluded_identifiers
        on sightings.identifier_type = excluded_identifiers.identifier_type
            and sightings.identifier_value = excluded_identifiers.identifier_value
    where
        sightings.identifier_type in ('customer_id', 'email', 'phone')
        and excluded_identifiers.identifier_value is null
),

nodes as (
    select
        identifier_type,
        identifier_value,
        dense_rank() over (order by identifier_type, identifier_value) as node_id
    from linkable_identifiers
)

select * from nodes
