{#- Days since each kind of activity, and the lifecycle stage, as of the as-of date. -#}
with

customer_rfm as (
    select * from {{ ref('customer_rfm') }}
),

daily_activity as (
    select * from {{ ref('int_customer_daily_activity') }}
),

as_of_dates as (
    select * from {{ ref('int_as_of_date') }}
),

last_activity_dates as (
    select
        daily_activity.customer_key,
        max(daily_activity.activity_date) filter (
            where daily_activity.web_events > 0
        ) as last_web_visit_date,
        max(daily_activity.activity_date) filter (
            where daily_activity.app_opens > 0
        ) as last_app_open_date,
        max(daily_activity.activity_date) filter (
            where daily_activity.email_opens > 0
        ) as last_email_open_date,
        max(daily_activity.activity_date) filter (
            where daily_activity.web_events + daily_activity.app_events
            + daily_activity.email_opens + daily_activity.email_clicks > 0
        ) as last_event_date
    from daily_activity
    cross join as_of_dates
    where daily_activity.activity_date <= as_of_dates.as_of_date
    group by daily_activity.customer_key
),

customer_recency as (
    select
        customer_rfm.as_of_date,
        customer_rfm.customer_key,
        customer_rfm.recency_days as days_since_last_order,
        {{ days_before_as_of('last_activity_dates.last_web_visit_date') }}
            as days_since_last_web_visit,
        {{ days_before_as_of('last_activity_dates.last_app_open_date') }}
            as days_since_last_app_open,
        {{ days_before_as_of('last_activity_dates.last_email_open_date') }}
            as days_since_last_email_open,
        least(
            customer_rfm.recency_days,
            {{ days_before_as_of('last_activity_dates.last_event_date') }}
        ) as days_since_last_activity,
        case
            when customer_rfm.frequency = 0 then 'prospect'
            when customer_rfm.tenure_days < {{ var('lifecycle_new_days') }} then 'new'
            when customer_rfm.recency_days < {{ var('lifecycle_active_days') }} then 'active'
            when customer_rfm.recency_days < {{ var('lifecycle_dormant_days') }} then 'dormant'
            when customer_rfm.recency_days < {{ var('lifecycle_lapsed_days') }} then 'lapsed'
            else 'churned'
        end as lifecycle_stage
    from customer_rfm
    cross join as_of_dates
    left join last_activity_dates
        on customer_rfm.customer_key = last_activity_dates.customer_key
)

select * from customer_recency
