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

email_events as (
    select * from {{ ref('stg_email__events') }}
),

message_events as (
    select
        attributed_email_events.customer_key,
        email_events.email,
        attributed_email_events.campaign_id,
        attributed_email_events.event_type,
        attributed_email_events.occurred_at
    from attributed_email_events
    inner join email_events
        on attributed_email_events.event_id = email_events.event_id
    where attributed_email_events.customer_key is not null
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
