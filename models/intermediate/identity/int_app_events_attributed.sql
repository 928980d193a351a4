{#-
    App events with their unified customer: by the logged-in user's customer_id, else by
    the device when it is attached to one customer. Anonymous events on a shared device
    stay unattributed (null key).
-#}
with

app_events as (
    select * from {{ ref('stg_app__events') }}
),

identifier_keys as (
    select * from {{ ref('int_identity__identifier_keys') }}
),

attributed_app_events as (
    select
        app_events.event_id,
        coalesce(account_keys.customer_key, device_keys.customer_key) as customer_key,
        app_events.session_id,
        app_events.event_name,
        app_events.occurred_at,
        app_events.platform
    from app_events
    left join identifier_keys as account_keys
        on account_keys.identifier_type = 'customer_id'
            and app_events.customer_id = account_keys.identifier_value
    left join identifier_keys as device_keys
        on device_keys.identifier_type = 'device_id'
            and app_events.device_id = device_keys.identifier_value
)

select * from attributed_app_events
