{{
    config(
        materialized=row_replacing_materialization(),
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
    the run then rebuilds the whole history of every customer with no rows left. The
    source_events CTE applies that scope (events on or after refresh_from_date, or of a
    customer to rebuild) before aggregating, so a run reads and aggregates only those
    events; a full refresh reads everything.
-#}
{#- an incremental run reads an event when it falls on or after the refresh date or its
    customer is being rebuilt (identity changed); a full refresh reads every event -#}
{%- set in_refresh_scope -%}
    {%- if is_incremental() -%}
        (
            occurred_at >= (select refresh_bounds.refresh_from_date from refresh_bounds)
            or customer_key in (select customers_to_rebuild.customer_key from customers_to_rebuild)
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endset %}

{#- the counted columns: (column, event source, event kind; none counts every event of the
    source), in the model's column order -#}
{%- set event_counts = [
    ('web_events', 'web', none),
    ('page_views', 'web', 'page_view'),
    ('web_product_views', 'web', 'product_view'),
    ('web_add_to_carts', 'web', 'add_to_cart'),
    ('web_purchases', 'web', 'purchase'),
    ('app_events', 'app', none),
    ('app_opens', 'app', 'app_open'),
    ('app_product_views', 'app', 'product_view'),
    ('app_add_to_carts', 'app', 'add_to_cart'),
    ('app_purchases', 'app', 'purchase'),
    ('emails_sent', 'email', 'sent'),
    ('emails_delivered', 'email', 'delivered'),
    ('email_opens', 'email', 'open'),
    ('email_clicks', 'email', 'click'),
] %}

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
{% endif %}

source_events as (
    {#- every attributed event as one narrow row (source, kind), so one aggregate counts
        them all: aggregating each source apart and summing the three per (customer, day)
        costs two extra passes over about as many groups as there are rows -#}
    select
        customer_key,
        cast(occurred_at as date) as activity_date,
        'web' as event_source,
        event_type as event_kind
    from web_events
    where
        customer_key is not null
        and {{ in_refresh_scope }}
    union all
    select
        customer_key,
        cast(occurred_at as date) as activity_date,
        'app' as event_source,
        event_name as event_kind
    from app_events
    where
        customer_key is not null
        and {{ in_refresh_scope }}
    union all
    select
        customer_key,
        cast(occurred_at as date) as activity_date,
        'email' as event_source,
        event_type as event_kind
    from email_events
    where
        customer_key is not null
        and {{ in_refresh_scope }}
),

days as (
    select
        customer_key,
        activity_date
        {%- for column, event_source, event_kind in event_counts %}
            {%- set kind = " and event_kind = '" ~ event_kind ~ "'" if event_kind else "" %},
            count(*) filter (
                where event_source = '{{ event_source }}'{{ kind }}
            ) as {{ column }}
        {%- endfor %}
    from source_events
    group by customer_key, activity_date
),

daily_activity as (
    select
        days.customer_key,
        days.activity_date,
        fingerprints.identity_fingerprint
        {%- for column, _, _ in event_counts %}
            {{- ',' }}
            days.{{ column }}
        {%- endfor %}
    from days
    inner join fingerprints
        on days.customer_key = fingerprints.customer_key
)

select * from daily_activity
