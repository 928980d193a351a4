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

    The erased CRM rows are the rows base_crm__customers rejected as 'erased' (the same
    test on the same normalised customer_id and email); only their raw phones are
    normalised here (base_crm__customers nulls an erased row's phone), so the cost
    follows the erased rows, not every CRM row.
-#}
with

erased_identifiers as (
    select * from {{ ref('stg_privacy__erased_identifiers') }}
),

source_customers as (
    select * from {{ source('crm', 'customers') }}
),

checked_customers as (
    select * from {{ ref('base_crm__customers') }}
),

identifier_keys as (
    select * from {{ ref('int_identity__identifier_keys') }}
),

erased_crm_rows as (
    select checked_customers.raw_row_id
    from checked_customers
    where checked_customers.rejection_reason = 'erased'
),

erased_crm_raw_phones as (
    select source_customers.phone
    from source_customers
    where
        source_customers.phone is not null
        and source_customers._raw_row_id in (select erased_crm_rows.raw_row_id from erased_crm_rows)
),

erased_crm_phones as (
    select distinct {{ normalize_phone('erased_crm_raw_phones.phone') }} as phone
    from erased_crm_raw_phones
),

candidate_keys as (
    select identifier_key as customer_key
    from erased_identifiers
    union
    select {{ identifier_key("'phone'", 'phone') }} as customer_key
    from erased_crm_phones
    where phone is not null
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
