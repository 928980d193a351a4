{#-
    The customer_key that each erased customer_id or email would carry, so that history kept
    by incremental marts (built before the erasure request arrived) can be purged of it.
    A customer's key is the identifier_key of its earliest-seen account, email or phone; an
    erased customer's accounts and emails are all in stg_privacy__erased_identifiers, so its
    key is among these.
-#}
with

erased_identifiers as (
    select * from {{ ref('stg_privacy__erased_identifiers') }}
),

erased_customer_keys as (
    select distinct
        {{ identifier_key('identifier_type', 'identifier_value') }} as customer_key
    from erased_identifiers
)

select * from erased_customer_keys
