{#-
    Every co-occurrence of a CRM customer_id with another identifier in one record:
    one row per (customer_id, linked identifier, source system). A CRM version links its
    customer_id to its email and phone, an order its customer_id to its checkout email, a
    web event its user to its cookie, an app event its user to its device.
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

crm_links as (
    select distinct
        customer_id,
        'email' as linked_type,
        email as linked_value
    from customer_versions
    where email is not null
    union
    select distinct
        customer_id,
        'phone' as linked_type,
        phone as linked_value
    from customer_versions
    where phone is not null
),

shop_links as (
    select distinct
        customer_id,
        'email' as linked_type,
        email as linked_value
    from orders
    where customer_id is not null and email is not null
),

web_links as (
    select distinct
        customer_id,
        'anonymous_id' as linked_type,
        anonymous_id as linked_value
    from web_events
    where customer_id is not null and anonymous_id is not null
),

app_links as (
    select distinct
        customer_id,
        'device_id' as linked_type,
        device_id as linked_value
    from app_events
    where customer_id is not null and device_id is not null
),

all_links as (
    select
        'crm' as source_system,
        *
    from crm_links
    union all
    select
        'shop' as source_system,
        *
    from shop_links
    union all
    select
        'web' as source_system,
        *
    from web_links
    union all
    select
        'app' as source_system,
        *
    from app_links
)

select * from all_links
