{#-
    One row per app event. An event delivered more than once counts once (the first
    delivery in file order is kept). user_id is renamed customer_id.
-#}
with

checked_app_events as (
    select * from {{ ref('base_app__events') }}
),

accepted_app_events as (
    select
        event_id,
        device_id,
        customer_id,
        session_id,
        event_name,
        occurred_at,
        platform
    from checked_app_events
    where rejection_reason is null and not is_duplicate
)

select * from accepted_app_events
