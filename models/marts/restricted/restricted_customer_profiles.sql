{#-
    Restricted use: the CRM profile of each customer with its personal data (names, birth
    date, city, the CRM id). marts.customers publishes a coarsened copy (age band, country).
-#}
with

customer_identifiers as (
    select * from {{ ref('customer_identifiers') }}
),

crm_customers as (
    select * from {{ ref('stg_crm__customers') }}
),

latest_crm_profiles as (
    select
        customer_identifiers.customer_key,
        crm_customers.customer_id as primary_customer_id,
        crm_customers.email,
        crm_customers.phone,
        crm_customers.first_name,
        crm_customers.last_name,
        crm_customers.birth_date,
        crm_customers.gender,
        crm_customers.city,
        crm_customers.country,
        crm_customers.loyalty_tier,
        coalesce(crm_customers.is_marketing_opted_in, false) as is_marketing_opted_in,
        crm_customers.updated_at as profile_updated_at
    from customer_identifiers
    inner join crm_customers
        on customer_identifiers.identifier_type = 'customer_id'
            and customer_identifiers.identifier_value = crm_customers.customer_id
    qualify row_number() over (
            partition by customer_identifiers.customer_key
            order by crm_customers.updated_at desc, crm_customers.customer_id asc
        ) = 1
)

select * from latest_crm_profiles
