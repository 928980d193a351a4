{#-
    Web events with their unified customer: by the logged-in user's customer_id, else by
    the cookie when it is attached to one customer. Events of anonymous visitors who never
    logged in, and anonymous events on shared cookies, stay unattributed (null key).
-#}
with

web_events as (
    select * from {{ ref('stg_web__events') }}
),

identifier_keys as (
    select * from {{ ref('int_identity__identifier_keys') }}
),

attributed_web_events as (
    select
        web_events.event_id,
        coalesce(account_keys.customer_key, cookie_keys.customer_key) as customer_key,
        web_events.session_id,
        web_events.event_type,
        web_events.page_path,
        web_events.product_id,
        web_events.occurred_at,
        web_events.device_type
    from web_events
    left join identifier_keys as account_keys
        on account_keys.identifier_type = 'customer_id'
            and web_events.customer_id = account_keys.identifier_value
    left join identifier_keys as cookie_keys
        on cookie_keys.identifier_type = 'anonymous_id'
            and web_events.anonymous_id = cookie_keys.identifier_value
)

select * from attributed_web_events
