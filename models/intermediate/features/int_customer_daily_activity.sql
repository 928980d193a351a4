{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['customer_key', 'activity_date'],
        pre_hook="
            {% if is_incremental() %}
            delete from {{ this }}
            where not exists (
                select 1
                from {{ ref('int_customer_identity_fingerprints') }} as fingerprints
                where fingerprints.customer_key = {{ this }}.customer_key
                    and fingerprints.identity_fingerprint = {{ this }}.identity_fingerprint
            )
            {% endif %}
        ",
    )
}}
{#-
    Web, app and email events aggregated once per customer and day; every windowed
    engagement feature reads this model instead of the event tables.

    Incremental: a run re-aggregates the days from (latest day already here minus
    daily_activity_lookback_days) on, so late-arriving events are picked up. Identity can
    re-key customers between runs (merges, new identifiers, splits): a pre-hook deletes
    every row whose customer no longer exists or whose identity fingerprint changed, and
    the run then rebuilds the whole history of every customer with no rows left.
-#}
with

web_events as (
    select * from {{ ref('int_web_events_attributed') }}
),

app_events as (
    select * from {{ ref('int_app_events_attributed') }}
),

email_events as (
    select * from {{ ref('int_email_events_attributed') }}
),

fingerprints as (
    select * from {{ ref('int_customer_identity_fingerprints') }}
),

{% if is_incremental() %}
    refresh_bounds as (
        select max(activity_date) - {{ var('daily_activity_lookback_days') }} as refresh_from_date
        from {{ this }}
    ),

    customers_already_aggregated as (
        select distinct customer_key from {{ this }}
    ),
{% endif %}

web_days as (
    select
        customer_key,
        cast(occurred_at as date) as activity_date,
        count(*) as web_events,
        count(*) filter (where event_type = 'page_view') as page_views,
        count(*) filter (where event_type = 'product_view') as web_product_views,
        count(*) filter (where event_type = 'add_to_cart') as web_add_to_carts,
        count(*) filter (where event_type = 'purchase') as web_purchases,
        0 as app_events,
        0 as app_opens,
        0 as app_product_views,
        0 as app_add_to_carts,
        0 as app_purchases,
        0 as emails_sent,
        0 as emails_delivered,
        0 as email_opens,
        0 as email_clicks
    from web_events
    where customer_key is not null
    group by customer_key, cast(occurred_at as date)
),

app_days as (
    select
        customer_key,
        cast(occurred_at as date) as activity_date,
        0 as web_events,
        0 as page_views,
        0 as web_product_views,
        0 as web_add_to_carts,
        0 as web_purchases,
        count(*) as app_events,
        count(*) filter (where event_name = 'app_open') as app_opens,
        count(*) filter (where event_name = 'product_view') as app_product_views,
        count(*) filter (where event_name = 'add_to_cart') as app_add_to_carts,
        count(*) filter (where event_name = 'purchase') as app_purchases,
        0 as emails_sent,
        0 as emails_delivered,
        0 as email_opens,
        0 as email_clicks
    from app_events
    where customer_key is not null
    group by customer_key, cast(occurred_at as date)
),

email_days as (
    select
        customer_key,
        cast(occurred_at as date) as activity_date,
        0 as web_events,
        0 as page_views,
        0 as web_product_views,
        0 as web_add_to_carts,
        0 as web_purchases,
        0 as app_events,
        0 as app_opens,
        0 as app_product_views,
        0 as app_add_to_carts,
        0 as app_purchases,
        count(*) filter (where event_type = 'sent') as emails_sent,
        count(*) filter (where event_type = 'delivered') as emails_delivered,
        count(*) filter (where event_type = 'open') as email_opens,
        count(*) filter (where event_type = 'click') as email_clicks
    from email_events
    where customer_key is not null
    group by customer_key, cast(occurred_at as date)
),

source_days as (
    select * from web_days
    union all
    select * from app_days
    union all
    select * from email_days
),

{% if is_incremental() %}
    days_to_refresh as (
        select source_days.*
        from source_days
        cross join refresh_bounds
        where
            source_days.activity_date >= refresh_bounds.refresh_from_date
            or refresh_bounds.refresh_from_date is null
            or source_days.customer_key not in (
                select customers_already_aggregated.customer_key from customers_already_aggregated
            )
    ),
{% else %}
days_to_refresh as (
    select * from source_days
),
{% endif %}

daily_activity as (
    select
        days_to_refresh.customer_key,
        days_to_refresh.activity_date,
        fingerprints.identity_fingerprint,
        cast(sum(days_to_refresh.web_events) as bigint) as web_events,
        cast(sum(days_to_refresh.page_views) as bigint) as page_views,
        cast(sum(days_to_refresh.web_product_views) as bigint) as web_product_views,
        cast(sum(days_to_refresh.web_add_to_carts) as bigint) as web_add_to_carts,
        cast(sum(days_to_refresh.web_purchases) as bigint) as web_purchases,
        cast(sum(days_to_refresh.app_events) as bigint) as app_events,
        cast(sum(days_to_refresh.app_opens) as bigint) as app_opens,
        cast(sum(days_to_refresh.app_product_views) as bigint) as app_product_views,
        cast(sum(days_to_refresh.app_add_to_carts) as bigint) as app_add_to_carts,
        cast(sum(days_to_refresh.app_purchases) as bigint) as app_purchases,
        cast(sum(days_to_refresh.emails_sent) as bigint) as emails_sent,
        cast(sum(days_to_refresh.emails_delivered) as bigint) as emails_delivered,
        cast(sum(days_to_refresh.email_opens) as bigint) as email_opens,
        cast(sum(days_to_refresh.email_clicks) as bigint) as email_clicks
    from days_to_refresh
    inner join fingerprints
        on days_to_refresh.customer_key = fingerprints.customer_key
    group by
        days_to_refresh.customer_key,
        days_to_refresh.activity_date,
        fingerprints.identity_fingerprint
)

select * from daily_activity
