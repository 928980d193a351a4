with

customer_identifiers as (
    select * from {{ ref('customer_identifiers') }}
),

crm_customers as (
    select * from {{ ref('stg_crm__customers') }}
),

identifier_counts as (
    select
        customer_key,
        count(*) filter (where identifier_type = 'customer_id') as customer_id_count,
        count(*) filter (where identifier_type = 'email') as email_count,
        count(*) filter (where identifier_type = 'phone') as phone_count,
        count(*) filter (where identifier_type = 'anonymous_id') as anonymous_id_count,
        count(*) filter (where identifier_type = 'device_id') as device_id_count,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at
    from customer_identifiers
    group by customer_key
),

latest_crm_profiles as (
    select
        customer_identifiers.customer_key,
        crm_customers.customer_id as primary_customer_id,
        crm_customers.first_name,
        crm_customers.last_name,
        crm_customers.birth_date,
        crm_customers.gender,
        crm_customers.city,
        crm_customers.country,
        crm_customers.loyalty_tier,
        crm_customers.is_marketing_opted_in,
        crm_customers.updated_at as profile_updated_at
    from customer_identifiers
    inner join crm_customers
        on customer_identifiers.identifier_type = 'customer_id'
            and customer_identifiers.identifier_value = crm_customers.customer_id
    qualify row_number() over (
            partition by customer_identifiers.customer_key
            order by crm_customers.updated_at desc, crm_customers.customer_id asc
        ) = 1
),

customers as (
    select
        identifier_counts.customer_key,
        latest_crm_profiles.primary_customer_id,
        latest_crm_profiles.primary_customer_id is not null as has_crm_account,
        latest_crm_profiles.first_name,
        latest_crm_profiles.last_name,
        latest_crm_profiles.birth_date,
        latest_crm_profiles.gender,
        latest_crm_profiles.city,
        latest_crm_profiles.country,
        latest_crm_profiles.loyalty_tier,
        coalesce(latest_crm_profiles.is_marketing_opted_in, false) as is_marketing_opted_in,
        latest_crm_profiles.profile_updated_at,
        identifier_counts.customer_id_count,
        identifier_counts.email_count,
        identifier_counts.phone_count,
        identifier_counts.anonymous_id_count,
        identifier_counts.device_id_count,
        identifier_counts.first_seen_at,
        identifier_counts.last_seen_at
    from identifier_counts
    left join latest_crm_profiles
        on identifier_counts.customer_key = latest_crm_profiles.customer_key
)

select * from customers
