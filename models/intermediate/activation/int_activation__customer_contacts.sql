{#-
    Restricted: holds each customer's raw contact data (normalised email, E.164 phone).
    Never published; only int_activation__match_keys (hashes) and the audiences read it.
-#}
with

identifier_keys as (
    select * from {{ ref('int_identity__identifier_keys') }}
),

crm_customers as (
    select * from {{ ref('stg_crm__customers') }}
),

erased_customer_keys as (
    select * from {{ ref('int_identity__erased_customer_keys') }}
),

customer_accounts as (
    select
        identifier_keys.customer_key,
        crm_customers.customer_id,
        crm_customers.email,
        crm_customers.phone,
        crm_customers.is_marketing_opted_in,
        crm_customers.created_at,
        crm_customers.updated_at
    from identifier_keys
    inner join crm_customers
        on identifier_keys.identifier_type = 'customer_id'
            and identifier_keys.identifier_value = crm_customers.customer_id
    where
        not exists (
            select 1
            from erased_customer_keys
            where erased_customer_keys.customer_key = identifier_keys.customer_key
        )
),

anchor_accounts as (
    select
        customer_key,
        customer_id as anchor_customer_id
    from customer_accounts
    qualify row_number() over (
            partition by customer_key
            order by created_at asc, customer_id asc
        ) = 1
),

latest_versions as (
    select
        customer_key,
        email,
        phone,
        coalesce(is_marketing_opted_in, false) as is_marketing_opted_in,
        updated_at as profile_updated_at
    from customer_accounts
    qualify row_number() over (
            partition by customer_key
            order by updated_at desc, customer_id asc
        ) = 1
),

contacts as (
    select
        latest_versions.customer_key,
        anchor_accounts.anchor_customer_id,
        latest_versions.email,
        {{ e164_phone('latest_versions.phone') }} as phone_e164,
        latest_versions.is_marketing_opted_in,
        latest_versions.profile_updated_at
    from latest_versions
    inner join anchor_accounts
        on latest_versions.customer_key = anchor_accounts.customer_key
)

select * from contacts
