{#-
    Every customer_key an erased customer may have carried, so that history kept by
    incremental marts (built before the erasure request arrived) can be purged of it.

    A customer's key is the identifier_key of its earliest-seen account, email or phone,
    so every kind of identifier that can produce a key is covered: the erased customer_ids
    and emails (stg_privacy__erased_identifiers already holds their identifier_key), and
    the phones on the raw CRM rows of an erased account or email (phones are not erasure
    keys, yet an account without email or created_at is keyed by its phone). A key that a
    customer still present in the warehouse carries now (a phone shared with a person
    who was not erased) is kept: it names that person.
-#}
with

erased_identifiers as (
    select * from {{ ref('stg_privacy__erased_identifiers') }}
),

source_customers as (
    select * from {{ source('crm', 'customers') }}
),

identifier_keys as (
    select * from {{ ref('int_identity__identifier_keys') }}
),

crm_identifiers as (
    select
        {{ clean_identifier('customer_id') }} as customer_id,
        {{ normalize_email('email') }} as email,
        {{ normalize_phone('phone') }} as phone
    from source_customers
),

erased_crm_phones as (
    select distinct crm_identifiers.phone
    from crm_identifiers
    where
        crm_identifiers.phone is not null
        and (
            {{ is_erased_identifier("'customer_id'", 'crm_identifiers.customer_id') }}
            or {{ is_erased_identifier("'email'", 'crm_identifiers.email') }}
        )
),

candidate_keys as (
    select identifier_key as customer_key
    from erased_identifiers
    union
    select {{ identifier_key("'phone'", 'phone') }} as customer_key
    from erased_crm_phones
),

erased_customer_keys as (
    select candidate_keys.customer_key
    from candidate_keys
    left join identifier_keys
        on candidate_keys.customer_key = identifier_keys.customer_key
    where identifier_keys.customer_key is null
    group by candidate_keys.customer_key
)

select * from erased_customer_keys
