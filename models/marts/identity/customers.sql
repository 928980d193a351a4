{#-
    The customer dimension BI reads: nothing personal. Names, birth date, city, the CRM id,
    emails and phones stay in schema restricted (restricted_customer_profiles,
    restricted_customer_contacts, customer_identifiers); this model keeps only coarse
    attributes: an age band instead of the birth date, the country instead of the city,
    and dates instead of timestamps.
-#}
with

customer_identifiers as (
    select * from {{ ref('customer_identifiers') }}
),

customer_profiles as (
    select * from {{ ref('restricted_customer_profiles') }}
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

reference_dates as (
    select cast(max(last_seen_at) as date) as reference_date
    from identifier_counts
),

customer_ages as (
    select
        customer_profiles.customer_key,
        {{ full_years_between('customer_profiles.birth_date', 'reference_dates.reference_date') }}
            as age_years
    from customer_profiles
    cross join reference_dates
),

customers as (
    select
        identifier_counts.customer_key,
        customer_profiles.customer_key is not null as has_crm_account,
        {{ age_band('customer_ages.age_years') }} as age_band,
        customer_profiles.gender,
        customer_profiles.country,
        customer_profiles.loyalty_tier,
        coalesce(customer_profiles.is_marketing_opted_in, false) as is_marketing_opted_in,
        identifier_counts.customer_id_count,
        identifier_counts.email_count,
        identifier_counts.phone_count,
        identifier_counts.anonymous_id_count,
        identifier_counts.device_id_count,
        cast(identifier_counts.first_seen_at as date) as first_seen_date,
        cast(identifier_counts.last_seen_at as date) as last_seen_date
    from identifier_counts
    left join customer_profiles
        on identifier_counts.customer_key = customer_profiles.customer_key
    left join customer_ages
        on identifier_counts.customer_key = customer_ages.customer_key
)

select * from customers
