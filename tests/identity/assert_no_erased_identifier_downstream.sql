-- No identifier named by an erasure request (or closed over by it) reaches identity.
with

erased_identifiers as (
    select * from {{ ref('stg_privacy__erased_identifiers') }}
),

customer_identifiers as (
    select * from {{ ref('customer_identifiers') }}
),

leaked_identifiers as (
    select customer_identifiers.*
    from customer_identifiers
    inner join erased_identifiers
        on customer_identifiers.identifier_type = erased_identifiers.identifier_type
            and customer_identifiers.identifier_value = erased_identifiers.identifier_value
)

select * from leaked_identifiers
