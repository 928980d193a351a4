{#- The only form in which contact data leaves the warehouse: SHA-256 match keys. -#}
with

contacts as (
    select * from {{ ref('int_activation__customer_contacts') }}
),

match_keys as (
    select
        customer_key,
        {{ sha256_hex('email') }} as email_sha256,
        {{ sha256_hex('phone_e164') }} as phone_sha256
    from contacts
    where email is not null or phone_e164 is not null
)

select * from match_keys
