{#- The latest accepted version of every CRM account. -#}
with

checked_customers as (
    select * from {{ ref('base_crm__customers') }}
),

latest_versions as (
    select
        customer_id,
        email,
        phone,
        first_name,
        last_name,
        birth_date,
        gender,
        city,
        country,
        loyalty_tier,
        is_marketing_opted_in,
        created_at,
        updated_at
    from checked_customers
    where rejection_reason is null and not is_duplicate
)

select * from latest_versions
