{#-
    One row per web event. An event delivered more than once counts once (the first
    delivery in file order is kept). user_id is renamed customer_id: it is the CRM account
    of a logged-in visitor.
-#}
with

checked_web_events as (
    select * from {{ ref('base_web__events') }}
),

accepted_web_events as (
    select
        event_id,
        anonymous_id,
        customer_id,
        session_id,
        event_type,
        page_path,
        product_id,
        occurred_at,
        device_type
    from checked_web_events
    where rejection_reason is null and not is_duplicate
)

select * from accepted_web_events
