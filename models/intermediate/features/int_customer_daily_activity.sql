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
    the run then rebuilds the whole history of every customer with no rows left. Each
    source CTE applies that scope (events on or after refresh_from_date, or of a customer
    to rebuild) before aggregating, so a run reads and aggregates only those events; a
    full refresh has no refresh_from_date and reads everything.
-#}
{#- an event is read when the run is a full refresh, it falls on or after the refresh date,
    or its customer is being rebuilt (identity changed) -#}
{%- set in_refresh_scope -%}
(select refresh_bounds.refresh_from_date from refresh_bounds) is null
            or occurred_at >= (select refresh_bounds.refresh_from_date from refresh_bounds)
            or customer_key in (select customers_to_rebuild.customer_key from customers_to_rebuild)
{%- endset %}

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
    existing_daily_activity as (
        select * from {{ this }}
    ),

    refresh_bounds as (
        select
            max(activity_date) - {{ var('daily_activity_lookback_days') }} as refresh_from_date
        from existing_daily_activity
    ),

    customers_to_rebuild as (
        select fingerprints.customer_key
        from fingerprints
        anti join existing_daily_activity
            on fingerprints.customer_key = existing_daily_activity.customer_key
    ),
{% else %}
    refresh_bounds as (
        select cast(null as date) as refresh_from_date
    ),

    customers_to_rebuild as (
        select fingerprints.customer_key
        from fingerprints
        where false
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
    where
        customer_key is not null
        and (
            {{ in_refresh_scope }}
        )
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
    where
        customer_key is not null
        and (
            {{ in_refresh_scope }}
        )
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
    where
        customer_key is not null
        and (
            {{ in_refresh_scope }}
        )
    group by customer_key, cast(occurred_at as date)
),

source_days as (
    select * from web_days
    union all
    select * from app_days
    union all
    select * from email_days
),

daily_activity as (
    select
        source_days.customer_key,
        source_days.activity_date,
        fingerprints.identity_fingerprint,
        cast(sum(source_days.web_events) as bigint) as web_events,
        cast(sum(source_days.page_views) as bigint) as page_views,
        cast(sum(source_days.web_product_views) as bigint) as web_product_views,
        cast(sum(source_days.web_add_to_carts) as bigint) as web_add_to_carts,
        cast(sum(source_days.web_purchases) as bigint) as web_purchases,
        cast(sum(source_days.app_events) as bigint) as app_events,
        cast(sum(source_days.app_opens) as bigint) as app_opens,
        cast(sum(source_days.app_product_views) as bigint) as app_product_views,
        cast(sum(source_days.app_add_to_carts) as bigint) as app_add_to_carts,
        cast(sum(source_days.app_purchases) as bigint) as app_purchases,
        cast(sum(source_days.emails_sent) as bigint) as emails_sent,
        cast(sum(source_days.emails_delivered) as bigint) as emails_delivered,
        cast(sum(source_days.email_opens) as bigint) as email_opens,
        cast(sum(source_days.email_clicks) as bigint) as email_clicks
    from source_days
    inner join fingerprints
        on source_days.customer_key = fingerprints.customer_key
    group by
        source_days.customer_key,
        source_days.activity_date,
        fingerprints.identity_fingerprint
)

select * from daily_activity
