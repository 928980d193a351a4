{#- Web, app and email engagement per customer as of the as-of date. -#}
{%- set weights = var('engagement_weights') %}
with

known_customers as (
    select * from {{ ref('int_known_customers') }}
),

daily_activity as (
    select * from {{ ref('int_customer_daily_activity') }}
),

web_sessions as (
    select * from {{ ref('int_web_sessions') }}
),

email_messages as (
    select * from {{ ref('int_email_messages') }}
),

as_of_dates as (
    select * from {{ ref('int_as_of_date') }}
),

activity_summaries as (
    select
        daily_activity.customer_key,
        {% for days in var('event_windows_days') %}
            sum(daily_activity.page_views) filter (
                where {{ in_window('daily_activity.activity_date', days) }}
            ) as page_views_{{ days }}d,
            sum(daily_activity.web_product_views + daily_activity.app_product_views) filter (
                where {{ in_window('daily_activity.activity_date', days) }}
            ) as product_views_{{ days }}d,
            sum(daily_activity.web_add_to_carts + daily_activity.app_add_to_carts) filter (
                where {{ in_window('daily_activity.activity_date', days) }}
            ) as add_to_carts_{{ days }}d,
        {% endfor %}
        sum(daily_activity.emails_sent) filter (
            where {{ in_window('daily_activity.activity_date', var('rate_window_days')) }}
        ) as emails_sent,
        sum(daily_activity.email_opens) filter (
            where {{ in_window('daily_activity.activity_date', var('rate_window_days')) }}
        ) as email_opens,
        sum(daily_activity.email_clicks) filter (
            where {{ in_window('daily_activity.activity_date', var('rate_window_days')) }}
        ) as email_clicks,
        count(*) filter (
            where daily_activity.app_events > 0
            and {{ in_window('daily_activity.activity_date', var('app_active_window_days')) }}
        ) as app_active_days,
        sum(
            (
                {{ weights['page_view'] }} * daily_activity.page_views
                + {{ weights['product_view'] }}
                * (daily_activity.web_product_views + daily_activity.app_product_views)
                + {{ weights['add_to_cart'] }}
                * (daily_activity.web_add_to_carts + daily_activity.app_add_to_carts)
                + {{ weights['purchase'] }}
                * (daily_activity.web_purchases + daily_activity.app_purchases)
                + {{ weights['app_open'] }} * daily_activity.app_opens
                + {{ weights['email_open'] }} * daily_activity.email_opens
                + {{ weights['email_click'] }} * daily_activity.email_clicks
            )
            * power(
                0.5,
                {{ days_before_as_of('daily_activity.activity_date') }}
                / {{ var('engagement_half_life_days') }}
            )
        ) as engagement_score
    from daily_activity
    cross join as_of_dates
    where daily_activity.activity_date <= as_of_dates.as_of_date
    group by daily_activity.customer_key
),

email_message_summaries as (
    select
        email_messages.customer_key,
        count(*) as emails_delivered,
        count(*) filter (
            where email_messages.first_opened_at < {{ as_of_end() }}
        ) as emails_opened,
        count(*) filter (
            where email_messages.first_clicked_at < {{ as_of_end() }}
        ) as emails_clicked
    from email_messages
    cross join as_of_dates
    where {{ in_window(
        'cast(email_messages.first_delivered_at as date)', var('rate_window_days')
    ) }}
    group by email_messages.customer_key
),

session_summaries as (
    select
        web_sessions.customer_key,
        {% for days in var('event_windows_days') %}
            count(*) filter (
                where {{ in_window('cast(web_sessions.started_at as date)', days) }}
            ) as sessions_{{ days }}d,
        {% endfor %}
        avg(web_sessions.duration_seconds) filter (
            where {{ in_window(
                'cast(web_sessions.started_at as date)', var('session_duration_window_days')
            ) }}
        ) as avg_session_duration_seconds
    from web_sessions
    cross join as_of_dates
    where web_sessions.started_at < {{ as_of_end() }}
    group by web_sessions.customer_key
),

abandoned_sessions as (
    {#- The cart-abandonment rule, written once: a session started by the end of the as-of
        date whose last add-to-cart had no purchase within cart_abandonment_hours, that
        window having ended by then. -#}
    select web_sessions.*
    from web_sessions
    cross join as_of_dates
    where
        web_sessions.started_at < {{ as_of_end() }}
        and web_sessions.last_add_to_cart_at
        + {{ hours_interval(var('cart_abandonment_hours')) }} <= {{ as_of_end() }}
        and (
            web_sessions.next_purchase_at is null
            or web_sessions.next_purchase_at > web_sessions.last_add_to_cart_at
            + {{ hours_interval(var('cart_abandonment_hours')) }}
        )
),

abandonment_counts as (
    select
        abandoned_sessions.customer_key,
        {% for days in var('event_windows_days') %}
            count(*) filter (
                where {{ in_window('cast(abandoned_sessions.last_add_to_cart_at as date)', days) }}
            ) as abandoned_carts_{{ days }}d,
        {% endfor %}
        count(*) as abandoned_carts,
        max(abandoned_sessions.last_add_to_cart_at) as last_abandoned_cart_at
    from abandoned_sessions
    cross join as_of_dates
    group by abandoned_sessions.customer_key
),

purchases_after_abandonment as (
    select
        abandonment_counts.customer_key,
        max(web_sessions.next_purchase_at) as purchase_after_abandonment_at
    from abandonment_counts
    inner join web_sessions
        on abandonment_counts.customer_key = web_sessions.customer_key
    cross join as_of_dates
    where
        web_sessions.next_purchase_at > abandonment_counts.last_abandoned_cart_at
        and web_sessions.next_purchase_at < {{ as_of_end() }}
    group by abandonment_counts.customer_key
),

customer_engagement as (
    select
        as_of_dates.as_of_date,
        known_customers.customer_key,
        {% for days in var('event_windows_days') %}
            coalesce(session_summaries.sessions_{{ days }}d, 0) as sessions_{{ days }}d,
            cast(coalesce(activity_summaries.page_views_{{ days }}d, 0) as bigint)
                as page_views_{{ days }}d,
            cast(coalesce(activity_summaries.product_views_{{ days }}d, 0) as bigint)
                as product_views_{{ days }}d,
            cast(coalesce(activity_summaries.add_to_carts_{{ days }}d, 0) as bigint)
                as add_to_carts_{{ days }}d,
            coalesce(abandonment_counts.abandoned_carts_{{ days }}d, 0)
                as abandoned_carts_{{ days }}d,
        {% endfor %}
        session_summaries.avg_session_duration_seconds,
        abandonment_counts.last_abandoned_cart_at,
        purchases_after_abandonment.purchase_after_abandonment_at is not null
            as has_purchased_since_abandonment,
        cast(coalesce(activity_summaries.emails_sent, 0) as bigint) as emails_sent,
        cast(coalesce(email_message_summaries.emails_delivered, 0) as bigint)
            as emails_delivered,
        cast(coalesce(email_message_summaries.emails_opened, 0) as bigint) as emails_opened,
        cast(coalesce(email_message_summaries.emails_clicked, 0) as bigint) as emails_clicked,
        cast(coalesce(activity_summaries.email_opens, 0) as bigint) as email_opens,
        cast(coalesce(activity_summaries.email_clicks, 0) as bigint) as email_clicks,
        cast(email_message_summaries.emails_opened as double)
        / nullif(email_message_summaries.emails_delivered, 0) as email_open_rate,
        cast(email_message_summaries.emails_clicked as double)
        / nullif(email_message_summaries.emails_delivered, 0) as email_click_rate,
        cast(coalesce(activity_summaries.app_active_days, 0) as bigint) as app_active_days,
        coalesce(activity_summaries.engagement_score, 0) as engagement_score
    from known_customers
    cross join as_of_dates
    left join activity_summaries
        on known_customers.customer_key = activity_summaries.customer_key
    left join email_message_summaries
        on known_customers.customer_key = email_message_summaries.customer_key
    left join session_summaries
        on known_customers.customer_key = session_summaries.customer_key
    left join abandonment_counts
        on known_customers.customer_key = abandonment_counts.customer_key
    left join purchases_after_abandonment
        on known_customers.customer_key = purchases_after_abandonment.customer_key
)

select * from customer_engagement
