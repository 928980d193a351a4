{#-
    Email events with the unified customer of their recipient email (null if excluded),
    and that email (int_email_messages counts messages per address). Restricted use: holds
    raw emails.
-#}
with

email_events as (
    select * from {{ ref('stg_email__events') }}
),

identifier_keys as (
    select * from {{ ref('int_identity__identifier_keys') }}
),

attributed_email_events as (
    select
        email_events.event_id,
        email_keys.customer_key,
        email_events.email,
        email_events.campaign_id,
        email_events.event_type,
        email_events.occurred_at
    from email_events
    left join identifier_keys as email_keys
        on email_keys.identifier_type = 'email'
            and email_events.email = email_keys.identifier_value
)

select * from attributed_email_events
