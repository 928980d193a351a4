{#-
    One row per attributed email message: a campaign (campaign_id) sent to one address
    (email) of a customer, with the first time it was sent, delivered, opened and clicked.
    Email rates count messages, not events, so a repeat open or click counts once and an
    open of a message delivered before a window is never set against deliveries in it.
    Restricted use: holds raw emails.
-#}
with

attributed_email_events as (
    select * from {{ ref('int_email_events_attributed') }}
),

message_events as (
    select
        customer_key,
        email,
        campaign_id,
        event_type,
        occurred_at
    from attributed_email_events
    where customer_key is not null
),

email_messages as (
    select
        customer_key,
        email,
        campaign_id,
        min(occurred_at) filter (where event_type = 'sent') as first_sent_at,
        min(occurred_at) filter (where event_type = 'delivered') as first_delivered_at,
        min(occurred_at) filter (where event_type = 'open') as first_opened_at,
        min(occurred_at) filter (where event_type = 'click') as first_clicked_at
    from message_events
    group by customer_key, email, campaign_id
)

select * from email_messages
