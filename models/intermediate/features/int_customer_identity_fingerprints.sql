{#-
    One row per customer: an md5 over its sorted identifiers. When identity resolution
    gives a customer new identifiers, merges it or splits it, the fingerprint changes and
    the incremental daily activity model rebuilds that customer's whole history.
-#}
with

customer_identifiers as (
    select * from {{ ref('customer_identifiers') }}
),

fingerprints as (
    select
        customer_key,
        {#- any fixed order of a customer's identifiers gives a stable fingerprint -#}
        md5({{ sorted_string_agg("identifier_type || ':' || identifier_value", "'|'") }})
            as identity_fingerprint
    from customer_identifiers
    group by customer_key
)

select * from fingerprints
