{#- One row per email event; an event delivered more than once counts once. -#}
with

checked_email_events as (
    select * from {{ ref('base_email__events') }}
),

accepted_email_events as (
    select
        event_id,
        email,
        campaign_id,
        event_type,
        occurred_at
    from checked_email_events
    where rejection_reason is null and not is_duplicate
)

select * from accepted_email_events
