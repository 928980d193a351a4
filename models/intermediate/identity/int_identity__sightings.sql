{#-
    Where and when every identifier was seen: one row per identifier per source system.
    Event tables are aggregated once here, so later identity models never rescan them.
    A CRM account is seen from its created_at; an email or phone from the time it appears
    on the account: created_at if the account's earliest version carries it, otherwise the
    updated_at of the first version that does (an email that replaced another is new).
-#}
with

customer_versions as (
    select * from {{ ref('stg_crm__customer_versions') }}
),

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

web_events as (
    select * from {{ ref('stg_web__events') }}
),

app_events as (
    select * from {{ ref('stg_app__events') }}
),

email_events as (
    select * from {{ ref('stg_email__events') }}
),

crm_version_times as (
    select
        customer_id,
        email,
        phone,
        created_at,
        updated_at,
        case
            when
                row_number() over (
                    partition by customer_id
                    order by updated_at, customer_version_id
                ) = 1
                then coalesce(created_at, updated_at)
            else updated_at
        end as values_seen_at
    from customer_versions
),

crm_sightings as (
    select
        'customer_id' as identifier_type,
        customer_id as identifier_value,
        min(created_at) as first_seen_at,
        max(updated_at) as last_seen_at
    from customer_versions
    group by customer_id
    union all
    select
        'email' as identifier_type,
        email as identifier_value,
        min(values_seen_at) as first_seen_at,
        max(updated_at) as last_seen_at
    from crm_version_times
    where email is not null
    group by email
    union all
    select
        'phone' as identifier_type,
        phone as identifier_value,
        min(values_seen_at) as first_seen_at,
        max(updated_at) as last_seen_at
    from crm_version_times
    where phone is not null
    group by phone
),

shop_sightings as (
    select
        'customer_id' as identifier_type,
        customer_id as identifier_value,
        min(ordered_at) as first_seen_at,
        max(ordered_at) as last_seen_at
    from orders
    where customer_id is not null
    group by customer_id
    union all
    select
        'email' as identifier_type,
        email as identifier_value,
        min(ordered_at) as first_seen_at,
        max(ordered_at) as last_seen_at
    from orders
    where email is not null
    group by email
),

web_sightings as (
    select
        'anonymous_id' as identifier_type,
        anonymous_id as identifier_value,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at
    from web_events
    where anonymous_id is not null
    group by anonymous_id
    union all
    select
        'customer_id' as identifier_type,
        customer_id as identifier_value,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at
    from web_events
    where customer_id is not null
    group by customer_id
),

app_sightings as (
    select
        'device_id' as identifier_type,
        device_id as identifier_value,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at
    from app_events
    where device_id is not null
    group by device_id
    union all
    select
        'customer_id' as identifier_type,
        customer_id as identifier_value,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at
    from app_events
    where customer_id is not null
    group by customer_id
),

email_sightings as (
    select
        'email' as identifier_type,
        email as identifier_value,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at
    from email_events
    group by email
),

all_sightings as (
    select
        'crm' as source_system,
        *
    from crm_sightings
    union all
    select
        'shop' as source_system,
        *
    from shop_sightings
    union all
    select
        'web' as source_system,
        *
    from web_sightings
    union all
    select
        'app' as source_system,
        *
    from app_sightings
    union all
    select
        'email' as source_system,
        *
    from email_sightings
)

select * from all_sightings
